// Fixture: Rust symbols.
pub const MAX_ITEMS: usize = 64;
static GREETING: &str = "hi";

pub struct Stack<T> {
    items: Vec<T>,
}

pub enum Op {
    Push(i32),
    Pop,
}

pub trait Summary {
    fn summarize(&self) -> String;
    fn title(&self) -> String {
        String::from("untitled")
    }
}

impl<T> Stack<T> {
    pub fn new() -> Self {
        Stack { items: Vec::new() }
    }

    pub fn push(&mut self, item: T) {
        fn local_helper() {}
        self.items.push(item);
    }
}

impl Summary for Op {
    fn summarize(&self) -> String {
        String::from("op")
    }
}

pub mod util {
    pub fn clamp(x: i32) -> i32 {
        x.max(0)
    }
}

type Result2 = Result<(), String>;

macro_rules! square {
    ($x:expr) => {
        $x * $x
    };
}

pub fn run() {}
