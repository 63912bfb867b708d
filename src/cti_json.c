#include "cti_json.h"

#include <assert.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"

enum kind {
    K_STR,   /* string */
    K_INT,   /* integer */
    K_DBL,   /* number */
    K_BOOL,  /* boolean, written true/false */
    K_NAMES, /* array of objects: their "name" members */
    K_STRS,  /* array of strings */
    K_KEYS,  /* object: its keys, in the answer's order */
};

struct field {
    const char *name;
    enum kind kind;
    bool def; /* in the default selection */
    const char *path[3];
};

/* The order is the kv output order and the bit order of a field mask. */
static const struct field fields[] = {
    {"reputation", K_STR, true, {"reputation"}},
    {"confidence", K_STR, true, {"confidence"}},
    {"background_noise", K_STR, true, {"background_noise"}},
    {"background_noise_score", K_INT, true, {"background_noise_score"}},
    {"ip_range", K_STR, true, {"ip_range"}},
    {"ip_range_score", K_INT, true, {"ip_range_score"}},
    {"ip_range_24", K_STR, false, {"ip_range_24"}},
    {"ip_range_24_reputation", K_STR, false, {"ip_range_24_reputation"}},
    {"ip_range_24_score", K_INT, false, {"ip_range_24_score"}},
    {"as_name", K_STR, true, {"as_name"}},
    {"as_num", K_INT, true, {"as_num"}},
    {"country", K_STR, true, {"location", "country"}},
    {"city", K_STR, false, {"location", "city"}},
    {"latitude", K_DBL, false, {"location", "latitude"}},
    {"longitude", K_DBL, false, {"location", "longitude"}},
    {"reverse_dns", K_STR, false, {"reverse_dns"}},
    {"behaviors", K_NAMES, true, {"behaviors"}},
    {"classifications", K_NAMES, true, {"classifications", "classifications"}},
    {"false_positives", K_NAMES, true, {"classifications", "false_positives"}},
    {"attack_details", K_NAMES, false, {"attack_details"}},
    {"mitre_techniques", K_NAMES, true, {"mitre_techniques"}},
    {"cves", K_STRS, true, {"cves"}},
    {"target_countries", K_KEYS, true, {"target_countries"}},
    {"references", K_NAMES, true, {"references"}},
    {"first_seen", K_STR, true, {"history", "first_seen"}},
    {"last_seen", K_STR, true, {"history", "last_seen"}},
    {"full_age", K_INT, false, {"history", "full_age"}},
    {"days_age", K_INT, false, {"history", "days_age"}},
    {"overall_aggressiveness", K_INT, true, {"scores", "overall", "aggressiveness"}},
    {"overall_threat", K_INT, false, {"scores", "overall", "threat"}},
    {"overall_trust", K_INT, false, {"scores", "overall", "trust"}},
    {"overall_anomaly", K_INT, false, {"scores", "overall", "anomaly"}},
    {"overall_total", K_INT, true, {"scores", "overall", "total"}},
    {"last_day_aggressiveness", K_INT, true, {"scores", "last_day", "aggressiveness"}},
    {"last_day_threat", K_INT, false, {"scores", "last_day", "threat"}},
    {"last_day_trust", K_INT, false, {"scores", "last_day", "trust"}},
    {"last_day_anomaly", K_INT, false, {"scores", "last_day", "anomaly"}},
    {"last_day_total", K_INT, true, {"scores", "last_day", "total"}},
    {"last_week_aggressiveness", K_INT, true, {"scores", "last_week", "aggressiveness"}},
    {"last_week_threat", K_INT, false, {"scores", "last_week", "threat"}},
    {"last_week_trust", K_INT, false, {"scores", "last_week", "trust"}},
    {"last_week_anomaly", K_INT, false, {"scores", "last_week", "anomaly"}},
    {"last_week_total", K_INT, true, {"scores", "last_week", "total"}},
    {"last_month_aggressiveness", K_INT, true, {"scores", "last_month", "aggressiveness"}},
    {"last_month_threat", K_INT, false, {"scores", "last_month", "threat"}},
    {"last_month_trust", K_INT, false, {"scores", "last_month", "trust"}},
    {"last_month_anomaly", K_INT, false, {"scores", "last_month", "anomaly"}},
    {"last_month_total", K_INT, true, {"scores", "last_month", "total"}},
    {"proxy_or_vpn", K_BOOL, false, {"proxy_or_vpn"}},
    {"state", K_STR, false, {"state"}},
    {"expiration", K_STR, false, {"expiration"}},
};

enum { NFIELDS = sizeof fields / sizeof fields[0] };
_Static_assert(NFIELDS <= 64, "a field mask is a uint64_t");

/* Strings point into the JSON tree, which the struct keeps alive. */
struct str {
    const char *p;
    size_t len;
};

struct value {
    bool present; /* the key exists with a value of the expected type */
    union {
        struct str s;
        int64_t i;
        double d;
        bool b;
        struct {
            struct str *v;
            size_t n;
        } list;
    } u;
};

struct ce_cti {
    struct json_object *root;
    const char *ip;
    struct value v[NFIELDS];
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static bool json_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The member at path, or NULL when a step is missing, null or not an object. */
static struct json_object *lookup(struct json_object *o, const char *const path[3])
{
    for (int i = 0; i < 3 && path[i]; i++) {
        if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, path[i], &o))
            return NULL;
    }
    return o;
}

static struct str str_of(struct json_object *o)
{
    struct str s = {json_object_get_string(o), (size_t)json_object_get_string_len(o)};
    return s;
}

static void extract_list(struct value *v, struct json_object *o, enum kind kind)
{
    size_t max;
    if (kind == K_KEYS) {
        if (!json_object_is_type(o, json_type_object))
            return;
        max = (size_t)json_object_object_length(o);
    } else {
        if (!json_object_is_type(o, json_type_array))
            return;
        max = json_object_array_length(o);
    }
    v->present = true;
    if (!max)
        return;
    v->u.list.v = ce_xcalloc(max, sizeof *v->u.list.v);
    size_t n = 0;
    if (kind == K_KEYS) {
        struct json_object_iterator it = json_object_iter_begin(o);
        struct json_object_iterator end = json_object_iter_end(o);
        for (; !json_object_iter_equal(&it, &end) && n < max; json_object_iter_next(&it)) {
            const char *k = json_object_iter_peek_name(&it);
            v->u.list.v[n].p = k;
            v->u.list.v[n++].len = strlen(k);
        }
    } else {
        for (size_t i = 0; i < max; i++) {
            struct json_object *e = json_object_array_get_idx(o, i);
            /* Items of the wrong shape are skipped, not fatal: the rest of
             * the list still tells the analyst something. */
            if (kind == K_NAMES && !json_object_object_get_ex(e, "name", &e))
                continue;
            if (!json_object_is_type(e, json_type_string) || json_object_get_string_len(e) == 0)
                continue;
            v->u.list.v[n++] = str_of(e);
        }
    }
    v->u.list.n = n;
}

static void extract(struct value *v, const struct field *f, struct json_object *root)
{
    struct json_object *o = lookup(root, f->path);
    switch (f->kind) {
    case K_STR:
        if (json_object_is_type(o, json_type_string)) {
            v->u.s = str_of(o);
            v->present = true;
        }
        break;
    case K_INT:
        if (json_object_is_type(o, json_type_int)) {
            v->u.i = json_object_get_int64(o);
            /* json-c clamps numbers past INT64_MAX; a clamped value would
             * be a lie, so it counts as absent. */
            v->present = v->u.i != INT64_MAX || json_object_get_uint64(o) == (uint64_t)INT64_MAX;
        }
        break;
    case K_DBL:
        if (json_object_is_type(o, json_type_double) || json_object_is_type(o, json_type_int)) {
            v->u.d = json_object_get_double(o);
            v->present = isfinite(v->u.d);
        }
        break;
    case K_BOOL:
        if (json_object_is_type(o, json_type_boolean)) {
            v->u.b = json_object_get_boolean(o);
            v->present = true;
        }
        break;
    case K_NAMES:
    case K_STRS:
    case K_KEYS:
        extract_list(v, o, f->kind);
        break;
    }
}

struct ce_cti *ce_cti_from_object(struct json_object *obj)
{
    if (!json_object_is_type(obj, json_type_object))
        return NULL;
    struct ce_cti *c = ce_xcalloc(1, sizeof *c);
    c->root = json_object_get(obj);
    struct json_object *ip;
    if (json_object_object_get_ex(obj, "ip", &ip) && json_object_is_type(ip, json_type_string))
        c->ip = json_object_get_string(ip);
    for (size_t i = 0; i < NFIELDS; i++)
        extract(&c->v[i], &fields[i], obj);
    return c;
}

struct ce_cti *ce_cti_parse(const char *body, size_t len, char *err, size_t errlen)
{
    size_t i = 0;
    while (i < len && json_ws(body[i]))
        i++;
    if (i == len) {
        set_err(err, errlen, "empty body");
        return NULL;
    }
    if (body[i] == '<') {
        set_err(err, errlen, "HTML instead of JSON");
        return NULL;
    }
    if (body[i] != '{') {
        set_err(err, errlen, "not a JSON object");
        return NULL;
    }
    if (len > INT_MAX) {
        set_err(err, errlen, "body too large");
        return NULL;
    }
    struct json_tokener *tok = json_tokener_new();
    if (!tok) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    struct json_object *obj = json_tokener_parse_ex(tok, body, (int)len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);

    struct ce_cti *c = NULL;
    if (e == json_tokener_continue) {
        set_err(err, errlen, "truncated JSON");
    } else if (!obj) {
        set_err(err, errlen, "invalid JSON at offset %zu: %s", end, json_tokener_error_desc(e));
    } else {
        while (end < len && json_ws(body[end]))
            end++;
        if (end < len)
            set_err(err, errlen, "trailing data after the JSON object at offset %zu", end);
        else if (!(c = ce_cti_from_object(obj)))
            set_err(err, errlen, "not a JSON object");
    }
    json_object_put(obj);
    return c;
}

void ce_cti_free(struct ce_cti *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < NFIELDS; i++) {
        enum kind k = fields[i].kind;
        if (k == K_NAMES || k == K_STRS || k == K_KEYS)
            free(c->v[i].u.list.v);
    }
    json_object_put(c->root);
    free(c);
}

const char *ce_cti_ip(const struct ce_cti *c)
{
    return c ? c->ip : NULL;
}

const char *ce_cti_reputation(const struct ce_cti *c)
{
    /* reputation is field 0 of the table */
    return c && c->v[0].present ? c->v[0].u.s.p : NULL;
}

struct json_object *ce_cti_object(const struct ce_cti *c)
{
    return c ? c->root : NULL;
}

uint64_t ce_fields_default(void)
{
    uint64_t m = 0;
    for (unsigned i = 0; i < NFIELDS; i++)
        if (fields[i].def)
            m |= UINT64_C(1) << i;
    return m;
}

uint64_t ce_fields_all(void)
{
    return NFIELDS == 64 ? UINT64_MAX : (UINT64_C(1) << NFIELDS) - 1;
}

const char *ce_fields_name(unsigned i)
{
    return i < NFIELDS ? fields[i].name : NULL;
}

static bool word_is(const char *s, size_t n, const char *w)
{
    return strlen(w) == n && memcmp(s, w, n) == 0;
}

bool ce_fields_parse(const char *spec, uint64_t *mask, char *err, size_t errlen)
{
    uint64_t m = 0;
    const char *p = spec;
    for (;;) {
        const char *comma = strchr(p, ',');
        const char *e = comma ? comma : p + strlen(p);
        const char *b = p;
        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        size_t n = (size_t)(e - b);
        if (n == 0) {
            /* "a,,b" and a trailing comma are harmless */
        } else if (word_is(b, n, "default")) {
            m |= ce_fields_default();
        } else if (word_is(b, n, "all")) {
            m |= ce_fields_all();
        } else {
            const char *name = b;
            size_t nlen = n;
            if (nlen > 9 && memcmp(name, "crowdsec_", 9) == 0) {
                name += 9;
                nlen -= 9;
            }
            unsigned i = 0;
            while (i < NFIELDS && !word_is(name, nlen, fields[i].name))
                i++;
            if (i < NFIELDS) {
                m |= UINT64_C(1) << i;
            } else if (!word_is(name, nlen, "ip") && !word_is(name, nlen, "status")) {
                /* ip and status are always written; naming them is no error */
                set_err(err, errlen, "unknown field '%.*s'", n > 64 ? 64 : (int)n, b);
                return false;
            }
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    *mask = m;
    return true;
}

/* Shortest "%.Ng" text that reads back as the same double: 55.7386 stays
 * 55.7386 instead of 55.738599999999998. */
static void format_double(char *buf, size_t n, double d)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            return;
    }
}

void ce_cti_render_kv(const struct ce_cti *c, uint64_t mask, struct ce_buf *out, size_t *count)
{
    if (!c)
        return;
    struct ce_buf tmp = {0};
    size_t added = 0;
    for (unsigned i = 0; i < NFIELDS; i++) {
        const struct value *v = &c->v[i];
        if (!(mask & (UINT64_C(1) << i)) || !v->present)
            continue;
        char num[40];
        const char *s = num;
        size_t len;
        switch (fields[i].kind) {
        case K_STR:
            s = v->u.s.p;
            len = v->u.s.len;
            break;
        case K_INT:
            len = (size_t)snprintf(num, sizeof num, "%lld", (long long)v->u.i);
            break;
        case K_DBL:
            format_double(num, sizeof num, v->u.d);
            len = strlen(num);
            break;
        case K_BOOL:
            s = v->u.b ? "true" : "false";
            len = strlen(s);
            break;
        default:
            if (!v->u.list.n)
                continue;
            ce_buf_reset(&tmp);
            for (size_t k = 0; k < v->u.list.n; k++) {
                if (k)
                    ce_buf_addc(&tmp, ',');
                ce_buf_add(&tmp, v->u.list.v[k].p, v->u.list.v[k].len);
            }
            s = tmp.data;
            len = tmp.len;
        }
        ce_buf_add(out, fields[i].name, strlen(fields[i].name) + 1);
        ce_kv_value(out, s, len);
        ce_buf_addc(out, '\0');
        added++;
    }
    ce_buf_free(&tmp);
    if (count)
        *count += added;
}

/* True when s is a JSON number (RFC 8259 grammar). */
static bool json_number(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        while (*s >= '0' && *s <= '9')
            s++;
    else
        return false;
    if (*s == '.') {
        if (!(*++s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

/* Serialises like json_object_to_json_string_ext(PLAIN | NOSLASHESCAPE), but
 * strings go through ce_json_string and numbers are checked: json-c accepts
 * (and would write back) invalid UTF-8, NaN and "1.", and the output must
 * always be valid JSON in valid UTF-8. */
static void put_json(struct ce_buf *out, struct json_object *o)
{
    const int flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;
    switch (json_object_get_type(o)) {
    case json_type_null:
        ce_buf_adds(out, "null");
        break;
    case json_type_boolean:
        ce_buf_adds(out, json_object_get_boolean(o) ? "true" : "false");
        break;
    case json_type_int:
        ce_buf_adds(out, json_object_to_json_string_ext(o, flags));
        break;
    case json_type_double: {
        /* json-c keeps the answer's own spelling of a parsed number */
        const char *s = json_object_to_json_string_ext(o, flags);
        double d = json_object_get_double(o);
        if (!isfinite(d)) {
            ce_buf_adds(out, "null"); /* NaN, or 1e999 read as infinity */
        } else if (s && json_number(s)) {
            ce_buf_adds(out, s);
        } else {
            char num[40];
            format_double(num, sizeof num, d);
            ce_buf_adds(out, num);
        }
        break;
    }
    case json_type_string:
        ce_json_string(out, json_object_get_string(o), (size_t)json_object_get_string_len(o));
        break;
    case json_type_array: {
        size_t n = json_object_array_length(o);
        ce_buf_addc(out, '[');
        for (size_t i = 0; i < n; i++) {
            if (i)
                ce_buf_addc(out, ',');
            put_json(out, json_object_array_get_idx(o, i));
        }
        ce_buf_addc(out, ']');
        break;
    }
    case json_type_object: {
        struct json_object_iterator it = json_object_iter_begin(o);
        struct json_object_iterator end = json_object_iter_end(o);
        ce_buf_addc(out, '{');
        for (bool first = true; !json_object_iter_equal(&it, &end);
             json_object_iter_next(&it), first = false) {
            const char *k = json_object_iter_peek_name(&it);
            if (!first)
                ce_buf_addc(out, ',');
            ce_json_string(out, k, strlen(k));
            ce_buf_addc(out, ':');
            put_json(out, json_object_iter_peek_value(&it));
        }
        ce_buf_addc(out, '}');
        break;
    }
    }
}

void ce_cti_render_json(const struct ce_cti *c, const char *ip, const char *status,
                        struct ce_buf *out)
{
    assert(c && status);
    if (!ip)
        ip = c->ip ? c->ip : "";
    ce_buf_adds(out, "{\"ip\":");
    ce_json_string(out, ip, strlen(ip));
    ce_buf_adds(out, ",\"status\":");
    ce_json_string(out, status, strlen(status));
    struct json_object_iterator it = json_object_iter_begin(c->root);
    struct json_object_iterator end = json_object_iter_end(c->root);
    for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
        const char *k = json_object_iter_peek_name(&it);
        /* the element's "ip" is the address looked up, already written */
        if (strcmp(k, "ip") == 0)
            continue;
        ce_buf_addc(out, ',');
        ce_json_string(out, k, strlen(k));
        ce_buf_addc(out, ':');
        put_json(out, json_object_iter_peek_value(&it));
    }
    ce_buf_addc(out, '}');
}
