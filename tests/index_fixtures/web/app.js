// Fixture: JavaScript symbols.
import { helper } from "./util.js";

const API_URL = "https://example.invalid";
let mutable = 1;

export const fetchUser = async (id) => {
  return helper(API_URL, id);
};

function render(target) {
  const inner = () => 1;
  return inner() + target;
}

export class Widget {
  #count = 0;
  onClick = () => {
    this.#count += 1;
  };

  constructor(el) {
    this.el = el;
  }

  mount() {
    render(this.el);
  }
}

export default function main() {
  return new Widget(null);
}
