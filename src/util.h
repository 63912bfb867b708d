/* util.h: allocation that cannot fail and a growable byte buffer.
 *
 * Ownership: a struct ce_buf owns its bytes; ce_buf_free releases them.
 * Out-of-memory aborts the process here, in one place, so that no caller has
 * to handle it. */
#ifndef CE_UTIL_H
#define CE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define CE_VERSION "0.1.0"

void *ce_xmalloc(size_t n);
void *ce_xcalloc(size_t n, size_t size);
void *ce_xrealloc(void *p, size_t n);
char *ce_xstrdup(const char *s);
char *ce_xstrndup(const char *s, size_t n);

struct ce_buf {
    char *data;
    size_t len;
    size_t cap;
};

/* Makes room for at least `extra` more bytes. */
void ce_buf_reserve(struct ce_buf *b, size_t extra);
void ce_buf_add(struct ce_buf *b, const void *p, size_t n);
void ce_buf_addc(struct ce_buf *b, char c);
void ce_buf_adds(struct ce_buf *b, const char *s);
/* printf-style append. */
void ce_buf_printf(struct ce_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends a NUL without counting it in len, so data can be used as a C string. */
const char *ce_buf_cstr(struct ce_buf *b);
void ce_buf_reset(struct ce_buf *b);
void ce_buf_free(struct ce_buf *b);

/* Strips leading and trailing whitespace in place; returns the start. */
char *ce_str_trim(char *s);

/* Monotonic clock in milliseconds. */
int64_t ce_now_ms(void);

#endif
