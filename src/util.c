#define _POSIX_C_SOURCE 200809L
#include "util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void oom(size_t n)
{
    fprintf(stderr, "cti-enrich: out of memory (%zu bytes)\n", n);
    abort();
}

void *ce_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *ce_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *ce_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *ce_xstrdup(const char *s)
{
    return ce_xstrndup(s, strlen(s));
}

char *ce_xstrndup(const char *s, size_t n)
{
    char *p = ce_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void ce_buf_reserve(struct ce_buf *b, size_t extra)
{
    if (b->cap - b->len > extra)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len <= extra)
        cap *= 2;
    b->data = ce_xrealloc(b->data, cap);
    b->cap = cap;
}

void ce_buf_add(struct ce_buf *b, const void *p, size_t n)
{
    ce_buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
}

void ce_buf_addc(struct ce_buf *b, char c)
{
    ce_buf_reserve(b, 1);
    b->data[b->len++] = c;
}

void ce_buf_adds(struct ce_buf *b, const char *s)
{
    ce_buf_add(b, s, strlen(s));
}

void ce_buf_printf(struct ce_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(ap2);
        return;
    }
    if ((size_t)n < sizeof tmp) {
        ce_buf_add(b, tmp, (size_t)n);
    } else {
        ce_buf_reserve(b, (size_t)n + 1);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

const char *ce_buf_cstr(struct ce_buf *b)
{
    ce_buf_reserve(b, 1);
    b->data[b->len] = '\0';
    return b->data;
}

void ce_buf_reset(struct ce_buf *b)
{
    b->len = 0;
}

void ce_buf_free(struct ce_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *ce_str_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int64_t ce_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
