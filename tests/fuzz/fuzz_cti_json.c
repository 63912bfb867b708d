/* fuzz_cti_json.c: the CTI answer parser and both renderers, and the json
 * line formatter, on arbitrary bytes. Beyond "no crash", it checks what the
 * output contract promises: every JSON text written is valid JSON. */
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "annot.h"
#include "cti_json.h"
#include "format.h"

/* Aborts unless s[0..len) is one complete JSON value. json-c is laxer than
 * RFC 8259, so raw control bytes are checked by hand (the formatter escapes
 * them all; json whitespace in a kept object line is the exception). */
static void must_be_json(const char *s, size_t len, int allow_ws)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 && !(allow_ws && (c == '\t' || c == '\r' || c == '\n')))
            abort();
    }
    struct json_tokener *tok = json_tokener_new_ex(4096);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    struct json_object *o = json_tokener_parse_ex(tok, s, (int)len);
    if (!o || json_tokener_get_parse_end(tok) != len)
        abort();
    json_object_put(o);
    json_tokener_free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    char err[256];
    struct ce_buf kv = {0}, js = {0}, line = {0};
    struct ce_annot a = {.ip = "192.0.2.1", .status = CE_LK_OK};

    struct ce_cti *c = ce_cti_parse(body, size, err, sizeof err);
    if (c) {
        ce_cti_render_kv(c, ce_fields_all(), &kv, &a.kv_count);
        ce_cti_render_json(c, "192.0.2.1", "ok", &js);
        must_be_json(js.data, js.len, 0);
        a.kv = kv.data;
        a.kv_len = kv.len;
        a.json = js.data;
        a.json_len = js.len;
    } else if (!err[0]) {
        abort(); /* a rejection always says why */
    }

    const struct ce_annot *annots[2] = {&a, &a};
    ce_format_line(&line, CE_FMT_JSON, body, size, "\n", 1, annots, c ? 2 : 0);
    must_be_json(line.data, line.len - 1, 1);
    ce_buf_reset(&line);
    ce_format_line(&line, CE_FMT_KV, body, size, "", 0, annots, c ? 2 : 0);
    if (line.len < size || memcmp(line.data, body, size) != 0)
        abort();

    ce_buf_free(&line);
    ce_buf_free(&kv);
    ce_buf_free(&js);
    ce_cti_free(c);
    return 0;
}
