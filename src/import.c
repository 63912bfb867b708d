#include "import.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"

/* Delivers one value; returns false when it is not a CTI value at all. */
static bool deliver(struct json_object *v, ce_import_fn fn, void *ud, long *count, bool *stop)
{
    if (!json_object_is_type(v, json_type_object))
        return false;
    struct json_object *items, *ipo, *data, *st, *fa;
    if (json_object_object_get_ex(v, "items", &items) &&
        json_object_is_type(items, json_type_array)) {
        size_t n = json_object_array_length(items);
        for (size_t i = 0; i < n && !*stop; i++)
            if (!deliver(json_object_array_get_idx(items, i), fn, ud, count, stop))
                return false;
        return true;
    }
    if (!json_object_object_get_ex(v, "ip", &ipo) || !json_object_is_type(ipo, json_type_string))
        return false;
    const char *ip = json_object_get_string(ipo);
    struct ce_addr a;
    char canon[CE_ADDR_STRLEN];
    /* Anonymised fixtures carry an "ip" that is no IP: such answers can
     * never match a log line, so they are skipped, not refused. */
    if (!ce_addr_parse(ip, strlen(ip), &a))
        return true;
    ce_addr_format(&a, canon);
    int64_t fetched_at = 0;
    if (json_object_object_get_ex(v, "fetched_at", &fa) && json_object_is_type(fa, json_type_int))
        fetched_at = json_object_get_int64(fa);
    bool found = true;
    struct json_object *obj = v;
    if (json_object_object_get_ex(v, "status", &st) && json_object_is_type(st, json_type_string)) {
        /* An export record. */
        found = !strcmp(json_object_get_string(st), "ok");
        if (found) {
            if (!json_object_object_get_ex(v, "data", &data) ||
                !json_object_is_type(data, json_type_object))
                return false;
            obj = data;
        } else {
            obj = NULL;
        }
    }
    (*count)++;
    if (!fn(ud, canon, found, obj, fetched_at))
        *stop = true;
    return true;
}

long ce_import_file(const char *path, ce_import_fn fn, void *ud, char *err, size_t errlen)
{
    bool is_stdin = !strcmp(path, "-");
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
        return -1;
    }
    struct json_tokener *tok = json_tokener_new_ex(64);
    json_tokener_set_flags(tok, JSON_TOKENER_VALIDATE_UTF8);
    char buf[65536];
    long count = 0;
    long long offset = 0;
    bool stop = false, failed = false, in_value = false;
    size_t n;
    while (!stop && !failed && (n = fread(buf, 1, sizeof buf, f)) > 0) {
        size_t pos = 0;
        while (pos < n && !stop) {
            /* Skip whitespace between values. */
            if (!in_value &&
                (buf[pos] == ' ' || buf[pos] == '\n' || buf[pos] == '\r' || buf[pos] == '\t')) {
                pos++;
                continue;
            }
            struct json_object *v = json_tokener_parse_ex(tok, buf + pos, (int)(n - pos));
            enum json_tokener_error je = json_tokener_get_error(tok);
            size_t used = json_tokener_get_parse_end(tok);
            if (je == json_tokener_continue) {
                in_value = true;
                pos = n;
                break;
            }
            if (je != json_tokener_success) {
                snprintf(err, errlen, "%s: invalid JSON near byte %lld: %s", path,
                         offset + (long long)pos + (long long)used, json_tokener_error_desc(je));
                failed = true;
                break;
            }
            bool ok = deliver(v, fn, ud, &count, &stop);
            json_object_put(v);
            if (!ok) {
                snprintf(err, errlen,
                         "%s: a value near byte %lld is neither a CTI answer, a page with "
                         "\"items\", nor a cache record",
                         path, offset + (long long)pos);
                failed = true;
                break;
            }
            pos += used;
            in_value = false;
            json_tokener_reset(tok);
        }
        offset += (long long)n;
    }
    if (!failed && ferror(f)) {
        snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
        failed = true;
    }
    if (!failed && !stop && in_value) {
        snprintf(err, errlen, "%s: truncated JSON at the end of the file", path);
        failed = true;
    }
    json_tokener_free(tok);
    if (!is_stdin)
        fclose(f);
    return failed ? -1 : count;
}
