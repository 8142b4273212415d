// Fixture: Java symbols.
package fixture;

import java.util.List;

public class Library {
    public static final int MAX_BOOKS = 100;
    private int count;

    public Library() {
        this.count = 0;
    }

    public void addBook(String title) {
        Runnable r = new Runnable() {
            public void run() {}
        };
        count++;
    }

    public interface Catalog {
        List<String> titles();
    }

    enum Genre {
        FICTION,
        SCIENCE;

        String label() {
            return name().toLowerCase();
        }
    }
}

record Book(String title, int year) {}
