/* Fixture: C symbols. */
#include <stdlib.h>

#define VECTOR_INITIAL 16
#define MAX(a, b) ((a) > (b) ? (a) : (b))

struct vector {
    int *data;
    size_t len;
};

typedef struct {
    double x, y;
} point;

enum color { RED, GREEN };

static int grow(struct vector *v) {
    v->data = realloc(v->data, v->len * 2);
    return v->data != NULL;
}

struct vector *vector_new(void) {
    return calloc(1, sizeof(struct vector));
}

int main(void) {
    struct vector *v = vector_new();
    return grow(v);
}
