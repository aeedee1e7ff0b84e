/* tensor.c — shape helpers (see tensor.h). */
#include "locus/tensor.h"

#include <stdio.h>

int shape_equal(const Shape *a, const Shape *b) {
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->d[i] != b->d[i]) return 0;
    return 1;
}

const char *shape_format(const Shape *s, char *buf, size_t bufsize) {
    size_t n = 0;
    n += (size_t)snprintf(buf + n, bufsize - n, "[");
    for (int i = 0; i < s->ndim && n < bufsize; i++)
        n += (size_t)snprintf(buf + n, bufsize - n, i ? ", %d" : "%d", s->d[i]);
    if (n < bufsize) snprintf(buf + n, bufsize - n, "]");
    return buf;
}
