/* test_format.c: kv and json output lines, value quoting and JSON strings,
 * byte for byte. */
#include <stdlib.h>

#include "check.h"
#include "format.h"

static struct ce_buf out;

static void kv_value_is(const char *s, size_t len, const char *want)
{
    ce_buf_reset(&out);
    ce_kv_value(&out, s, len);
    CHECK_MEM(out.data, out.len, want, strlen(want));
}

static void json_string_is(const char *s, size_t len, const char *want)
{
    ce_buf_reset(&out);
    ce_json_string(&out, s, len);
    CHECK_MEM(out.data, out.len, want, strlen(want));
}

#define KV(lit, want) kv_value_is(lit, sizeof lit - 1, want)
#define JS(lit, want) json_string_is(lit, sizeof lit - 1, want)

static void test_kv_value(void)
{
    KV("abc", "abc");
    KV("http:scan,ssh:bruteforce", "http:scan,ssh:bruteforce");
    KV("2022-06-14T20:00:00+00:00", "2022-06-14T20:00:00+00:00");
    KV("caf\xc3\xa9", "caf\xc3\xa9");
    KV("it's", "it's");
    KV("", "\"\"");
    KV("a b", "\"a b\"");
    KV("a\"b", "\"a\\\"b\"");
    KV("a=b", "\"a=b\"");
    KV("a\\b", "\"a\\\\b\"");
    KV("a\nb\rc\td", "\"a\\nb\\rc\\td\"");
    KV("\x01\x1f\x7f", "\"\\x01\\x1f\\x7f\"");
    KV("a\0b", "\"a\\x00b\"");
    KV("\xff", "\xff");
}

static void test_json_string(void)
{
    JS("", "\"\"");
    JS("plain text / 1.2.3.4", "\"plain text / 1.2.3.4\"");
    JS("q\"b\\", "\"q\\\"b\\\\\"");
    JS("\n\r\t\b\f", "\"\\n\\r\\t\\b\\f\"");
    JS("\x01\x1f\x1b", "\"\\u0001\\u001f\\u001b\"");
    JS("a\0b", "\"a\\u0000b\"");
    JS("del\x7f", "\"del\x7f\"");
    /* valid multibyte sequences are copied */
    JS("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf",
       "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"");
    /* each byte of an invalid sequence becomes U+FFFD */
    JS("\xff", "\"\xef\xbf\xbd\"");
    JS("a\x80z", "\"a\xef\xbf\xbdz\"");
    JS("\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\"");                 /* overlong '/' */
    JS("\xe0\x80\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""); /* overlong */
    JS("\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""); /* surrogate */
    JS("\xf4\x90\x80\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""); /* >10FFFF */
    JS("\xf5", "\"\xef\xbf\xbd\"");
    JS("\xe2\x82", "\"\xef\xbf\xbd\xef\xbf\xbd\""); /* truncated */
    JS("\xe2\x82"
       "A",
       "\"\xef\xbf\xbd\xef\xbf\xbd"
       "A\"");
    JS("\xf0\x9f\x98", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    JS("caf\xe9!", "\"caf\xef\xbf\xbd!\"");
}

/* An annotation with stored kv pairs and a json element. */
static struct ce_annot annot(const char *ip, enum ce_lookup st, const char *kv, size_t kv_len,
                             size_t count, const char *json)
{
    struct ce_annot a = {.status = st};
    snprintf(a.ip, sizeof a.ip, "%s", ip);
    if (kv_len) {
        a.kv = ce_xmalloc(kv_len);
        memcpy(a.kv, kv, kv_len);
        a.kv_len = kv_len;
        a.kv_count = count;
    }
    if (json) {
        a.json = ce_xstrdup(json);
        a.json_len = strlen(json);
    }
    return a;
}

static void line_is(enum ce_format fmt, const char *line, size_t len, const char *term,
                    const struct ce_annot *const *annots, size_t n, const char *want,
                    size_t want_len)
{
    ce_buf_reset(&out);
    ce_buf_adds(&out, "prev|"); /* appends, never overwrites */
    ce_format_line(&out, fmt, line, len, term, strlen(term), annots, n);
    CHECK(out.len >= 5 && memcmp(out.data, "prev|", 5) == 0);
    CHECK_MEM(out.data + 5, out.len - 5, want, want_len);
}

#define LINE(fmt, lit, term, annots, n, want)                                                      \
    line_is(fmt, lit, sizeof lit - 1, term, annots, n, want, sizeof want - 1)

static void test_kv_lines(void)
{
    static const char pairs1[] = "reputation\0malicious\0as_name\0\"A B\"";
    struct ce_annot a1 = annot("1.2.3.4", CE_LK_OK, pairs1, sizeof pairs1, 2, NULL);
    struct ce_annot a2 = annot("2001:db8::1", CE_LK_PENDING, NULL, 0, 0, NULL);
    ce_annot_render_simple(&a2, CE_LK_NOT_FOUND, CE_FMT_KV);
    struct ce_annot a3 = annot("5.6.7.8", CE_LK_QUOTA, NULL, 0, 0, NULL);
    const struct ce_annot *as[] = {&a1, &a2, &a3};

    LINE(CE_FMT_KV, "GET / 200", "\n", as, 0, "GET / 200\n");
    LINE(CE_FMT_KV, "GET / 200", "", as, 0, "GET / 200");
    LINE(CE_FMT_KV, "GET / 200", "\r\n", as, 0, "GET / 200\r\n");
    LINE(CE_FMT_KV, "", "\n", as, 0, "\n");
    LINE(CE_FMT_KV, "x 1.2.3.4", "\n", as, 1,
         "x 1.2.3.4 crowdsec_ip=1.2.3.4 crowdsec_status=ok crowdsec_reputation=malicious "
         "crowdsec_as_name=\"A B\"\n");
    LINE(CE_FMT_KV, "x", "\r\n", as, 2,
         "x crowdsec_ip=1.2.3.4 crowdsec_status=ok crowdsec_reputation=malicious "
         "crowdsec_as_name=\"A B\" crowdsec_ip_2=2001:db8::1 crowdsec_status_2=not_found "
         "crowdsec_reputation_2=unknown\r\n");
    LINE(CE_FMT_KV, "x", "", as, 3,
         "x crowdsec_ip=1.2.3.4 crowdsec_status=ok crowdsec_reputation=malicious "
         "crowdsec_as_name=\"A B\" crowdsec_ip_2=2001:db8::1 crowdsec_status_2=not_found "
         "crowdsec_reputation_2=unknown crowdsec_ip_3=5.6.7.8 crowdsec_status_3=quota");
    /* NUL and invalid UTF-8 in the line pass through untouched */
    LINE(CE_FMT_KV, "a\0b\xff", "\n", as, 0, "a\0b\xff\n");
    const struct ce_annot *one[] = {&a3};
    LINE(CE_FMT_KV, "a\0b\xff", "\n", one, 1,
         "a\0b\xff crowdsec_ip=5.6.7.8 crowdsec_status=quota\n");

    /* ten annotations: the suffix has two digits */
    const struct ce_annot *ten[10];
    for (int i = 0; i < 10; i++)
        ten[i] = &a3;
    ce_buf_reset(&out);
    ce_format_line(&out, CE_FMT_KV, "x", 1, "\n", 1, ten, 10);
    CHECK(strstr(ce_buf_cstr(&out), " crowdsec_status_9=quota crowdsec_ip_10=5.6.7.8 "
                                    "crowdsec_status_10=quota\n") != NULL);

    ce_annot_clear(&a1);
    ce_annot_clear(&a2);
    ce_annot_clear(&a3);
}

#define A_OK "{\"ip\":\"1.2.3.4\",\"status\":\"ok\",\"reputation\":\"malicious\"}"
#define A_NF "{\"ip\":\"2001:db8::1\",\"status\":\"not_found\",\"reputation\":\"unknown\"}"
#define A_ER "{\"ip\":\"5.6.7.8\",\"status\":\"error\"}"

static void test_json_lines(void)
{
    struct ce_annot a1 = annot("1.2.3.4", CE_LK_OK, NULL, 0, 0, A_OK);
    struct ce_annot a2 = annot("2001:db8::1", CE_LK_PENDING, NULL, 0, 0, NULL);
    ce_annot_render_simple(&a2, CE_LK_NOT_FOUND, CE_FMT_JSON);
    struct ce_annot a3 = annot("5.6.7.8", CE_LK_ERROR, NULL, 0, 0, NULL); /* no json: made */
    const struct ce_annot *as[] = {&a1, &a2, &a3};

    /* plain lines become a message */
    LINE(CE_FMT_JSON, "hello", "\n", as, 0, "{\"message\":\"hello\",\"crowdsec\":[]}\n");
    LINE(CE_FMT_JSON, "hello", "", as, 0, "{\"message\":\"hello\",\"crowdsec\":[]}\n");
    LINE(CE_FMT_JSON, "hello", "\r\n", as, 1,
         "{\"message\":\"hello\",\"crowdsec\":[" A_OK "]}\r\n");
    LINE(CE_FMT_JSON, "", "\n", as, 0, "{\"message\":\"\",\"crowdsec\":[]}\n");
    LINE(CE_FMT_JSON, "a \"q\" \\ /", "\n", as, 3,
         "{\"message\":\"a \\\"q\\\" \\\\ /\",\"crowdsec\":[" A_OK "," A_NF "," A_ER "]}\n");
    LINE(CE_FMT_JSON, "caf\xe9 \x01\x1b[0m\tend\0", "\n", as, 0,
         "{\"message\":\"caf\xef\xbf\xbd \\u0001\\u001b[0m\\tend\\u0000\",\"crowdsec\":[]}\n");

    /* object lines keep their bytes and gain "crowdsec" */
    LINE(CE_FMT_JSON, "{\"a\":1}", "\n", as, 1, "{\"a\":1,\"crowdsec\":[" A_OK "]}\n");
    LINE(CE_FMT_JSON, "{\"a\":1}", "\n", as, 2, "{\"a\":1,\"crowdsec\":[" A_OK "," A_NF "]}\n");
    LINE(CE_FMT_JSON, "{}", "\n", as, 0, "{\"crowdsec\":[]}\n");
    LINE(CE_FMT_JSON, "{ }", "", as, 0, "{ \"crowdsec\":[]}\n");
    LINE(CE_FMT_JSON, "  { \"a\" : [1, 2.5e-3, -0, true, false, null] }\t ", "\r\n", as, 0,
         "  { \"a\" : [1, 2.5e-3, -0, true, false, null] ,\"crowdsec\":[]}\r\n");
    LINE(CE_FMT_JSON, "{\"m\":\"}{\\\"}\",\"n\":{\"o\":[1,{},[]],\"p\":\"]\"}}", "\n", as, 0,
         "{\"m\":\"}{\\\"}\",\"n\":{\"o\":[1,{},[]],\"p\":\"]\"},\"crowdsec\":[]}\n");
    LINE(CE_FMT_JSON, "{\"u\":\"\\u00e9\\ud83d\\ude00 \xc3\xa9\",\"s\":\"a\\/b\"}", "\n", as, 0,
         "{\"u\":\"\\u00e9\\ud83d\\ude00 \xc3\xa9\",\"s\":\"a\\/b\",\"crowdsec\":[]}\n");

    /* anything else is wrapped, even when it looks like JSON */
    LINE(CE_FMT_JSON, "[1,2]", "\n", as, 0, "{\"message\":\"[1,2]\",\"crowdsec\":[]}\n");
    /* A line enriched before: its top-level "crowdsec" is replaced, with one
     * neighbouring comma; a nested one or a value "crowdsec" stays. */
    LINE(CE_FMT_JSON, "{\"a\":1,\"crowdsec\":[{\"x\":1}],\"b\":2}", "\n", as, 1,
         "{\"a\":1,\"b\":2,\"crowdsec\":[" A_OK "]}\n");
    LINE(CE_FMT_JSON, "{\"crowdsec\":[],\"b\":2}", "\n", as, 0,
         "{\"b\":2,\"crowdsec\":[]}\n");
    LINE(CE_FMT_JSON, "{\"a\":1, \"crowdsec\" : {\"n\":[1,2]} }", "\n", as, 0,
         "{\"a\":1,\"crowdsec\":[]}\n");
    LINE(CE_FMT_JSON, "{\"crowdsec\":null}", "\n", as, 0, "{\"crowdsec\":[]}\n");
    LINE(CE_FMT_JSON, "{ \"crowdsec\":[] , \"z\":{\"crowdsec\":1}}", "\n", as, 0,
         "{  \"z\":{\"crowdsec\":1},\"crowdsec\":[]}\n");
    LINE(CE_FMT_JSON, "{\"a\":\"crowdsec\"}", "\n", as, 0,
         "{\"a\":\"crowdsec\",\"crowdsec\":[]}\n");
    LINE(CE_FMT_JSON, "{\"a\":\"\xff\"}", "\n", as, 0,
         "{\"message\":\"{\\\"a\\\":\\\"\xef\xbf\xbd\\\"}\",\"crowdsec\":[]}\n");
    LINE(CE_FMT_JSON, "{\"a\":\"\xed\xa0\x80\"}", "\n", as, 0,
         "{\"message\":\"{\\\"a\\\":\\\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\\\"}\","
         "\"crowdsec\":[]}\n");
    LINE(CE_FMT_JSON, "{\"a\":\"x\ty\"}", "\n", as, 0,
         "{\"message\":\"{\\\"a\\\":\\\"x\\ty\\\"}\",\"crowdsec\":[]}\n");
    LINE(CE_FMT_JSON, "{'a':1}", "\n", as, 0, "{\"message\":\"{'a':1}\",\"crowdsec\":[]}\n");
    LINE(CE_FMT_JSON, "{\"a\":1,}", "\n", as, 0,
         "{\"message\":\"{\\\"a\\\":1,}\",\"crowdsec\":[]}\n");
    LINE(CE_FMT_JSON, "{\"a\":1} x", "\n", as, 0,
         "{\"message\":\"{\\\"a\\\":1} x\",\"crowdsec\":[]}\n");
    LINE(CE_FMT_JSON, "{\"a\":1", "\n", as, 0, "{\"message\":\"{\\\"a\\\":1\",\"crowdsec\":[]}\n");
    LINE(CE_FMT_JSON, "{\"a\":NaN}", "\n", as, 0,
         "{\"message\":\"{\\\"a\\\":NaN}\",\"crowdsec\":[]}\n");
    LINE(CE_FMT_JSON, "{\"a\":01}", "\n", as, 0,
         "{\"message\":\"{\\\"a\\\":01}\",\"crowdsec\":[]}\n");
    LINE(CE_FMT_JSON, "{\"a\":1.}", "\n", as, 0,
         "{\"message\":\"{\\\"a\\\":1.}\",\"crowdsec\":[]}\n");
    LINE(CE_FMT_JSON, "{\"a\":\"\\x41\"}", "\n", as, 0,
         "{\"message\":\"{\\\"a\\\":\\\"\\\\x41\\\"}\",\"crowdsec\":[]}\n");
    LINE(CE_FMT_JSON, "{\"a\":1}\0", "\n", as, 0,
         "{\"message\":\"{\\\"a\\\":1}\\u0000\",\"crowdsec\":[]}\n");
    LINE(CE_FMT_JSON, "\x0b{}", "\n", as, 0, "{\"message\":\"\\u000b{}\",\"crowdsec\":[]}\n");

    /* nesting: deep but bounded is kept, past the bound wrapped */
    struct ce_buf deep = {0};
    for (int i = 0; i < 600; i++)
        ce_buf_adds(&deep, i ? "[" : "{\"a\":");
    for (int i = 0; i < 599; i++)
        ce_buf_addc(&deep, ']');
    ce_buf_addc(&deep, '}');
    ce_buf_reset(&out);
    ce_format_line(&out, CE_FMT_JSON, deep.data, deep.len, "\n", 1, as, 0);
    CHECK(out.len > 12 && memcmp(out.data, "{\"message\":", 11) == 0);
    ce_buf_reset(&deep);
    ce_buf_adds(&deep, "{\"a\":[[[[[[[[[[]]]]]]]]]]}");
    ce_buf_reset(&out);
    ce_format_line(&out, CE_FMT_JSON, deep.data, deep.len, "\n", 1, as, 0);
    CHECK_STR(ce_buf_cstr(&out), "{\"a\":[[[[[[[[[[]]]]]]]]]],\"crowdsec\":[]}\n");
    ce_buf_free(&deep);

    ce_annot_clear(&a1);
    ce_annot_clear(&a2);
    ce_annot_clear(&a3);
}

static void test_simple(void)
{
    static const enum ce_lookup sts[] = {CE_LK_NOT_FOUND, CE_LK_QUOTA, CE_LK_OFFLINE, CE_LK_ERROR};
    static const char *json[] = {
        "{\"ip\":\"192.0.2.7\",\"status\":\"not_found\",\"reputation\":\"unknown\"}",
        "{\"ip\":\"192.0.2.7\",\"status\":\"quota\"}",
        "{\"ip\":\"192.0.2.7\",\"status\":\"offline\"}",
        "{\"ip\":\"192.0.2.7\",\"status\":\"error\"}",
    };
    static const char *kvline[] = {
        "l crowdsec_ip=192.0.2.7 crowdsec_status=not_found crowdsec_reputation=unknown\n",
        "l crowdsec_ip=192.0.2.7 crowdsec_status=quota\n",
        "l crowdsec_ip=192.0.2.7 crowdsec_status=offline\n",
        "l crowdsec_ip=192.0.2.7 crowdsec_status=error\n",
    };
    struct ce_annot a = {.ip = "192.0.2.7"};
    const struct ce_annot *as[] = {&a};
    for (size_t i = 0; i < 4; i++) {
        /* rendering again over a previous result frees it (leak checkers) */
        ce_annot_render_simple(&a, CE_LK_NOT_FOUND, CE_FMT_JSON);
        ce_annot_render_simple(&a, sts[i], CE_FMT_KV);
        CHECK(a.status == sts[i]);
        CHECK(a.json == NULL);
        /* The pairs are folded into the pre-rendered first-position text. */
        CHECK(a.kv == NULL && a.kv_len == 0);
        CHECK(a.kv_count == (sts[i] == CE_LK_NOT_FOUND ? 1u : 0u));
        CHECK_MEM(a.kv1, a.kv1_len, kvline[i] + 1, strlen(kvline[i]) - 2);
        ce_buf_reset(&out);
        ce_format_line(&out, CE_FMT_KV, "l", 1, "\n", 1, as, 1);
        CHECK_STR(ce_buf_cstr(&out), kvline[i]);

        ce_annot_render_simple(&a, sts[i], CE_FMT_JSON);
        CHECK(a.kv == NULL && a.kv_count == 0);
        CHECK_MEM(a.json, a.json_len, json[i], strlen(json[i]));
        ce_buf_reset(&out);
        ce_format_line(&out, CE_FMT_JSON, "l", 1, "\n", 1, as, 1);
        char want[256];
        snprintf(want, sizeof want, "{\"message\":\"l\",\"crowdsec\":[%s]}\n", json[i]);
        CHECK_STR(ce_buf_cstr(&out), want);
    }
    ce_annot_clear(&a);
}

int main(void)
{
    test_kv_value();
    test_json_string();
    test_kv_lines();
    test_json_lines();
    test_simple();
    ce_buf_free(&out);
    return check_summary("test_format");
}
