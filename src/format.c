#include "format.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char hex[] = "0123456789abcdef";

/* Length of the well-formed UTF-8 sequence at s[0..n) (1 to 4), or 0 when the
 * first byte does not start one: overlong forms, surrogates, code points past
 * U+10FFFF, stray continuation bytes and truncated sequences are all refused
 * (Unicode table 3-7), so whatever this accepts is valid UTF-8. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (n < need || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return need;
}

static bool kv_special(unsigned char c)
{
    return c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7F;
}

void ce_kv_value(struct ce_buf *out, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len && !kv_special(u[i]))
        i++;
    if (len > 0 && i == len) {
        ce_buf_add(out, s, len);
        return;
    }
    ce_buf_reserve(out, len + 2);
    ce_buf_addc(out, '"');
    for (i = 0; i < len; i++) {
        unsigned char c = u[i];
        char esc[4] = {'\\', 0, 0, 0};
        size_t n = 2;
        switch (c) {
        case '"':
        case '\\':
            esc[1] = (char)c;
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            if (c >= 0x20 && c != 0x7F) {
                ce_buf_addc(out, (char)c);
                continue;
            }
            esc[1] = 'x';
            esc[2] = hex[c >> 4];
            esc[3] = hex[c & 0xF];
            n = 4;
        }
        ce_buf_add(out, esc, n);
    }
    ce_buf_addc(out, '"');
}

void ce_json_string(struct ce_buf *out, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    ce_buf_reserve(out, len + 2);
    ce_buf_addc(out, '"');
    size_t i = 0;
    while (i < len) {
        /* Copy runs of plain ASCII at once: most log text is nothing else. */
        size_t run = i;
        while (run < len && u[run] >= 0x20 && u[run] < 0x80 && u[run] != '"' && u[run] != '\\')
            run++;
        if (run > i) {
            ce_buf_add(out, s + i, run - i);
            i = run;
            if (i == len)
                break;
        }
        unsigned char c = u[i];
        if (c >= 0x80) {
            size_t n = utf8_len(u + i, len - i);
            if (n) {
                ce_buf_add(out, s + i, n);
                i += n;
            } else {
                ce_buf_add(out, "\xEF\xBF\xBD", 3);
                i++;
            }
            continue;
        }
        char esc[6] = {'\\', 0, '0', '0', 0, 0};
        size_t n = 2;
        switch (c) {
        case '"':
        case '\\':
            esc[1] = (char)c;
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            esc[1] = 'u';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xF];
            n = 6;
        }
        ce_buf_add(out, esc, n);
        i++;
    }
    ce_buf_addc(out, '"');
}

/* The element of the "crowdsec" array for an annotation without CTI data. */
static void simple_json(struct ce_buf *out, const char *ip, enum ce_lookup status)
{
    ce_buf_adds(out, "{\"ip\":");
    ce_json_string(out, ip, strlen(ip));
    ce_buf_adds(out, ",\"status\":\"");
    ce_buf_adds(out, ce_lookup_name(status));
    ce_buf_addc(out, '"');
    if (status == CE_LK_NOT_FOUND)
        ce_buf_adds(out, ",\"reputation\":\"unknown\"");
    ce_buf_addc(out, '}');
}

void ce_annot_render_simple(struct ce_annot *a, enum ce_lookup status, enum ce_format fmt)
{
    ce_annot_clear(a);
    a->status = status;
    if (fmt == CE_FMT_KV) {
        if (status == CE_LK_NOT_FOUND) {
            static const char pair[] = "reputation\0unknown";
            a->kv = ce_xmalloc(sizeof pair);
            memcpy(a->kv, pair, sizeof pair);
            a->kv_len = sizeof pair;
            a->kv_count = 1;
        }
        ce_annot_finish_kv(a);
        return;
    }
    struct ce_buf b = {0};
    simple_json(&b, a->ip, status);
    ce_buf_cstr(&b);
    a->json = b.data;
    a->json_len = b.len;
}

/* ---- JSON object lines ------------------------------------------------- */

/* Deeper lines are valid JSON but are wrapped as a message rather than kept. */
#define MAX_DEPTH 512

static bool json_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static const unsigned char *skip_ws(const unsigned char *p, const unsigned char *end)
{
    while (p < end && json_ws(*p))
        p++;
    return p;
}

static bool is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* p is at the opening quote; returns the byte after the closing one, or NULL. */
static const unsigned char *scan_string(const unsigned char *p, const unsigned char *end)
{
    p++;
    while (p < end) {
        unsigned char c = *p;
        if (c == '"')
            return p + 1;
        if (c < 0x20)
            return NULL;
        if (c == '\\') {
            if (end - p < 2)
                return NULL;
            c = p[1];
            if (c == 'u') {
                if (end - p < 6 || !is_hex(p[2]) || !is_hex(p[3]) || !is_hex(p[4]) || !is_hex(p[5]))
                    return NULL;
                p += 6;
            } else if (c && strchr("\"\\/bfnrt", c)) {
                p += 2;
            } else {
                return NULL;
            }
        } else if (c < 0x80) {
            p++;
        } else {
            size_t n = utf8_len(p, (size_t)(end - p));
            if (!n)
                return NULL;
            p += n;
        }
    }
    return NULL;
}

static const unsigned char *scan_digits(const unsigned char *p, const unsigned char *end)
{
    if (p == end || !is_digit(*p))
        return NULL;
    while (p < end && is_digit(*p))
        p++;
    return p;
}

static const unsigned char *scan_number(const unsigned char *p, const unsigned char *end)
{
    if (*p == '-')
        p++;
    if (p < end && *p == '0')
        p++;
    else if (!(p = scan_digits(p, end)))
        return NULL;
    if (p < end && *p == '.' && !(p = scan_digits(p + 1, end)))
        return NULL;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        p = scan_digits(p, end);
    }
    return p;
}

static const unsigned char *scan_word(const unsigned char *p, const unsigned char *end,
                                      const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(end - p) < n || memcmp(p, w, n) != 0)
        return NULL;
    return p + n;
}

/* True when [p, end) is exactly one JSON object by RFC 8259, strings in valid
 * UTF-8 without raw control bytes. The line is written out as is, so json-c's
 * leniency (single quotes, comments, trailing commas, NaN, raw tabs in
 * strings) would let invalid JSON through; checking without building a tree
 * also keeps this hot path free of allocation. */
/* Where a top-level "crowdsec" member already stands in a JSON object line
 * (a line enriched before): it is replaced rather than duplicated. */
struct member_span {
    const unsigned char *comma; /* the ',' before it, NULL for the first member */
    const unsigned char *start; /* its key's opening quote */
    const unsigned char *end;   /* just past its value; NULL when absent */
};

static bool json_object_line(const unsigned char *p, const unsigned char *end,
                             struct member_span *own)
{
    unsigned char is_obj[MAX_DEPTH]; /* per open container: object or array */
    size_t depth = 0;
    enum { VALUE, KEY, AFTER } st = VALUE;
    const unsigned char *comma = NULL;
    bool in_own = false; /* inside the value of a top-level "crowdsec" */

    own->comma = own->start = own->end = NULL;
    if (p == end || *p != '{')
        return false;
    for (;;) {
        p = skip_ws(p, end);
        if (st == AFTER) {
            if (in_own && depth == 1 && !own->end) {
                own->end = p;
                in_own = false;
            }
            if (depth == 0)
                return p == end;
            if (p == end)
                return false;
            bool obj = is_obj[depth - 1];
            if (*p == ',') {
                st = obj ? KEY : VALUE;
                if (depth == 1)
                    comma = p;
                p++;
            } else if (*p == (obj ? '}' : ']')) {
                depth--;
                p++;
            } else {
                return false;
            }
            continue;
        }
        if (p == end)
            return false;
        if (st == KEY) {
            const unsigned char *key = p;
            if (*p != '"' || !(p = scan_string(p, end)))
                return false;
            if (depth == 1 && !own->start && p - key == 10 && !memcmp(key, "\"crowdsec\"", 10)) {
                own->start = key;
                own->comma = comma;
                in_own = true;
            }
            p = skip_ws(p, end);
            if (p == end || *p != ':')
                return false;
            p++;
            st = VALUE;
            continue;
        }
        switch (*p) {
        case '{':
        case '[':
            if (depth == MAX_DEPTH)
                return false;
            is_obj[depth++] = *p == '{';
            p = skip_ws(p + 1, end);
            if (p < end && *p == (is_obj[depth - 1] ? '}' : ']')) {
                depth--;
                p++;
                st = AFTER;
            } else {
                st = is_obj[depth - 1] ? KEY : VALUE;
            }
            continue;
        case '"':
            p = scan_string(p, end);
            break;
        case 't':
            p = scan_word(p, end, "true");
            break;
        case 'f':
            p = scan_word(p, end, "false");
            break;
        case 'n':
            p = scan_word(p, end, "null");
            break;
        default:
            p = (*p == '-' || is_digit(*p)) ? scan_number(p, end) : NULL;
        }
        if (!p)
            return false;
        st = AFTER;
    }
}

static void add_elements(struct ce_buf *out, const struct ce_annot *const *annots, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct ce_annot *a = annots[i];
        assert(a);
        if (i)
            ce_buf_addc(out, ',');
        if (a->json && a->json_len)
            ce_buf_add(out, a->json, a->json_len);
        else
            simple_json(out, a->ip, a->status);
    }
}

static void format_json(struct ce_buf *out, const char *line, size_t len, const char *term,
                        size_t term_len, const struct ce_annot *const *annots, size_t n)
{
    const unsigned char *b = (const unsigned char *)line, *e = b + len;
    b = skip_ws(b, e);
    while (e > b && json_ws(e[-1]))
        e--;
    struct member_span own;
    if (b < e && *b == '{' && json_object_line(b, e, &own)) {
        /* Keep every byte up to the closing brace: the user's member order,
         * spacing and number spelling survive. */
        size_t mark = out->len;
        if (own.end) {
            /* Drop the old "crowdsec" member with one comma next to it. */
            const unsigned char *cut = own.comma ? own.comma : own.start, *resume = own.end;
            if (!own.comma) {
                const unsigned char *q = skip_ws(own.end, e);
                if (q < e && *q == ',')
                    resume = q + 1;
            }
            ce_buf_add(out, line, (size_t)((const char *)cut - line));
            ce_buf_add(out, resume, (size_t)(e - resume) - 1);
        } else {
            ce_buf_add(out, line, (size_t)((const char *)e - line) - 1);
        }
        const unsigned char *kept = (const unsigned char *)out->data + mark;
        const unsigned char *kept_end = (const unsigned char *)out->data + out->len;
        /* The kept text stops before the closing brace: a member follows the
         * opening one unless only whitespace does. */
        if (skip_ws(skip_ws(kept, kept_end) + 1, kept_end) != kept_end)
            ce_buf_addc(out, ',');
    } else {
        ce_buf_adds(out, "{\"message\":");
        ce_json_string(out, line, len);
        ce_buf_addc(out, ',');
    }
    ce_buf_adds(out, "\"crowdsec\":[");
    add_elements(out, annots, n);
    ce_buf_adds(out, "]}");
    if (term_len)
        ce_buf_add(out, term, term_len);
    else
        ce_buf_addc(out, '\n');
}

static void format_kv(struct ce_buf *out, const char *line, size_t len, const char *term,
                      size_t term_len, const struct ce_annot *const *annots, size_t n)
{
    ce_buf_add(out, line, len);
    for (size_t i = 0; i < n; i++) {
        const struct ce_annot *a = annots[i];
        assert(a);
        char sfx[24] = "";
        size_t sl = 0;
        if (i)
            sl = (size_t)snprintf(sfx, sizeof sfx, "_%zu", i + 1);
        if (a->kv1) {
            if (i == 0) {
                ce_buf_add(out, a->kv1, a->kv1_len);
                continue;
            }
            /* Copy the pre-rendered text, the suffix after each key. */
            size_t from = 0, nm = a->kv_count + 2;
            ce_buf_reserve(out, a->kv1_len + nm * sl);
            for (size_t m = 0; m < nm; m++) {
                size_t to = a->kv1_marks[m];
                memcpy(out->data + out->len, a->kv1 + from, to - from);
                out->len += to - from;
                memcpy(out->data + out->len, sfx, sl);
                out->len += sl;
                from = to;
            }
            ce_buf_add(out, a->kv1 + from, a->kv1_len - from);
            continue;
        }
        ce_buf_adds(out, " crowdsec_ip");
        ce_buf_adds(out, sfx);
        ce_buf_addc(out, '=');
        ce_buf_adds(out, a->ip);
        ce_buf_adds(out, " crowdsec_status");
        ce_buf_adds(out, sfx);
        ce_buf_addc(out, '=');
        ce_buf_adds(out, ce_lookup_name(a->status));
        /* Pairs are "name\0value\0"; bounded by kv_len so a short buffer
         * cannot make us read past it. */
        const char *p = a->kv, *end = a->kv ? a->kv + a->kv_len : NULL;
        for (size_t k = 0; k < a->kv_count && p < end; k++) {
            const char *name = p;
            const char *nz = memchr(p, '\0', (size_t)(end - p));
            if (!nz)
                break;
            const char *val = nz + 1;
            const char *vz = memchr(val, '\0', (size_t)(end - val));
            if (!vz)
                break;
            ce_buf_adds(out, " crowdsec_");
            ce_buf_add(out, name, (size_t)(nz - name));
            ce_buf_adds(out, sfx);
            ce_buf_addc(out, '=');
            ce_buf_add(out, val, (size_t)(vz - val));
            p = vz + 1;
        }
    }
    ce_buf_add(out, term, term_len);
}

void ce_annot_finish_kv(struct ce_annot *a)
{
    struct ce_buf b = {0};
    size_t nm = a->kv_count + 2, m = 0;
    uint32_t *marks = ce_xmalloc(nm * sizeof *marks);
    free(a->kv1);
    free(a->kv1_marks);
    ce_buf_adds(&b, " crowdsec_ip");
    marks[m++] = (uint32_t)b.len;
    ce_buf_addc(&b, '=');
    ce_buf_adds(&b, a->ip);
    ce_buf_adds(&b, " crowdsec_status");
    marks[m++] = (uint32_t)b.len;
    ce_buf_addc(&b, '=');
    ce_buf_adds(&b, ce_lookup_name(a->status));
    const char *p = a->kv, *end = a->kv ? a->kv + a->kv_len : NULL;
    for (size_t k = 0; k < a->kv_count && p < end; k++) {
        const char *nz = memchr(p, '\0', (size_t)(end - p));
        const char *vz = nz ? memchr(nz + 1, '\0', (size_t)(end - nz - 1)) : NULL;
        if (!vz)
            break;
        ce_buf_adds(&b, " crowdsec_");
        ce_buf_add(&b, p, (size_t)(nz - p));
        marks[m++] = (uint32_t)b.len;
        ce_buf_addc(&b, '=');
        ce_buf_add(&b, nz + 1, (size_t)(vz - nz - 1));
        p = vz + 1;
    }
    /* The pairs are not needed any more: kv1 and its marks say it all. */
    free(a->kv);
    a->kv = NULL;
    a->kv_len = 0;
    a->kv_count = m - 2;
    a->kv1 = b.data ? ce_xrealloc(b.data, b.len) : NULL;
    a->kv1_len = b.len;
    a->kv1_marks = marks;
}

void ce_format_line(struct ce_buf *out, enum ce_format fmt, const char *line, size_t len,
                    const char *term, size_t term_len, const struct ce_annot *const *annots,
                    size_t n)
{
    /* One reservation covers the line and the usual annotations. */
    ce_buf_reserve(out, len + term_len + 64 + n * 256);
    if (fmt == CE_FMT_JSON)
        format_json(out, line, len, term, term_len, annots, n);
    else
        format_kv(out, line, len, term, term_len, annots, n);
}
