/* test_cti_json.c: parsing CTI answers (real fixtures and damaged bodies),
 * field selection, and the kv and json renderings, byte for byte. */
#include <json-c/json.h>
#include <stdlib.h>

#include "check.h"
#include "cti_json.h"
#include "util.h"

static char *slurp(const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof path, "../fixtures/%s", name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        *len = 0;
        return NULL;
    }
    struct ce_buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        ce_buf_add(&b, chunk, n);
    fclose(f);
    *len = b.len;
    ce_buf_cstr(&b);
    return b.data;
}

static struct ce_cti *parse_file(const char *name)
{
    size_t len;
    char *body = slurp(name, &len);
    char err[256] = "";
    struct ce_cti *c = body ? ce_cti_parse(body, len, err, sizeof err) : NULL;
    if (!c)
        fprintf(stderr, "%s: %s\n", name, err);
    free(body);
    return c;
}

static struct ce_cti *parse(const char *s)
{
    char err[256] = "";
    struct ce_cti *c = ce_cti_parse(s, strlen(s), err, sizeof err);
    if (!c)
        fprintf(stderr, "parse failed: %s\n", err);
    return c;
}

/* The kv pairs as "name=value\n" lines, so that expectations are readable;
 * also checks that the count matches the pairs stored. */
static char text[16384];

static const char *kv_text(const struct ce_cti *c, uint64_t mask)
{
    struct ce_buf b = {0};
    size_t count = 0, pairs = 0, t = 0;
    ce_cti_render_kv(c, mask, &b, &count);
    for (size_t i = 0; i < b.len && t + 2 < sizeof text; i++) {
        if (b.data[i] != '\0') {
            text[t++] = b.data[i];
        } else {
            text[t++] = (pairs++ % 2 == 0) ? '=' : '\n';
        }
    }
    text[t] = '\0';
    CHECK(pairs == 2 * count);
    ce_buf_free(&b);
    return text;
}

static const char *json_text(const struct ce_cti *c, const char *ip, const char *status)
{
    struct ce_buf b = {0};
    ce_cti_render_json(c, ip, status, &b);
    snprintf(text, sizeof text, "%s", ce_buf_cstr(&b));
    ce_buf_free(&b);
    return text;
}

static void test_fixtures(void)
{
    static const char *names[] = {"185.7.214.104.json", "1.1.1.1-older-schema.json",
                                  "404-not-found.json"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct ce_cti *c = parse_file(names[i]);
        CHECK(c != NULL);
        ce_cti_free(c);
    }

    struct ce_cti *c = parse_file("404-not-found.json");
    CHECK(ce_cti_ip(c) == NULL);
    CHECK(ce_cti_reputation(c) == NULL);
    CHECK_STR(kv_text(c, ce_fields_all()), "");
    CHECK_STR(json_text(c, "192.0.2.1", "not_found"),
              "{\"ip\":\"192.0.2.1\",\"status\":\"not_found\","
              "\"message\":\"IP address information not found\"}");
    ce_cti_free(c);

    /* /fire pages: each item is a CTI object of its own */
    static const char *pages[] = {"fire-page1.json", "fire-page2.json"};
    size_t items = 0;
    for (size_t p = 0; p < 2; p++) {
        struct ce_cti *page = parse_file(pages[p]);
        CHECK(page != NULL);
        struct json_object *arr;
        CHECK(json_object_object_get_ex(ce_cti_object(page), "items", &arr));
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
            struct ce_cti *it = ce_cti_from_object(json_object_array_get_idx(arr, i));
            CHECK(it != NULL);
            CHECK(ce_cti_ip(it) != NULL);
            CHECK(strstr(kv_text(it, ce_fields_all()), "\nstate=validated\n") != NULL);
            ce_cti_free(it);
            items++;
        }
        ce_cti_free(page);
    }
    CHECK(items == 6);

    /* from_object holds its own reference */
    struct json_object *o = json_tokener_parse("{\"ip\":\"1.2.3.4\",\"reputation\":\"safe\"}");
    c = ce_cti_from_object(o);
    json_object_put(o);
    CHECK_STR(ce_cti_ip(c), "1.2.3.4");
    CHECK_STR(ce_cti_reputation(c), "safe");
    ce_cti_free(c);
    o = json_tokener_parse("[1]");
    CHECK(ce_cti_from_object(o) == NULL);
    json_object_put(o);
    CHECK(ce_cti_from_object(NULL) == NULL);
    ce_cti_free(NULL);
}

static void test_fire_item(void)
{
    struct ce_cti *page = parse_file("fire-page1.json");
    struct json_object *arr;
    CHECK(json_object_object_get_ex(ce_cti_object(page), "items", &arr));
    struct ce_cti *c = ce_cti_from_object(json_object_array_get_idx(arr, 0));
    uint64_t m;
    CHECK(ce_fields_parse("latitude,longitude,state,expiration,reverse_dns", &m, NULL, 0));
    CHECK_STR(kv_text(c, m), "latitude=37.751\n"
                             "longitude=-97.822\n"
                             "reverse_dns=lsxx.com\n"
                             "state=validated\n"
                             "expiration=2022-12-11T14:15:47.553000\n");
    ce_cti_free(c);
    ce_cti_free(page);
}

static void test_185_kv(void)
{
    struct ce_cti *c = parse_file("185.7.214.104.json");
    CHECK_STR(ce_cti_ip(c), "185.7.214.104");
    CHECK_STR(ce_cti_reputation(c), "known");
    CHECK_STR(kv_text(c, ce_fields_default()),
              "reputation=known\n"
              "confidence=none\n"
              "background_noise=none\n"
              "background_noise_score=0\n"
              "ip_range=185.7.214.0/24\n"
              "ip_range_score=0\n"
              "as_name=\"Chang Way Technologies Co. Limited\"\n"
              "as_num=207566\n"
              "country=RU\n"
              "behaviors=http:exploit,http:bruteforce,generic:exploit,http:scan,http:crawl\n"
              "mitre_techniques=T1190,T1595,T1110\n"
              "cves=CVE-2021-41773,CVE-2018-20062\n"
              "target_countries=DE,GB,UA,US\n"
              "first_seen=2022-06-14T20:00:00+00:00\n"
              "last_seen=2024-03-10T21:00:00+00:00\n"
              "overall_aggressiveness=2\n"
              "overall_total=2\n"
              "last_day_aggressiveness=0\n"
              "last_day_total=0\n"
              "last_week_aggressiveness=0\n"
              "last_week_total=0\n"
              "last_month_aggressiveness=0\n"
              "last_month_total=2\n");
    CHECK_STR(kv_text(c, ce_fields_all()),
              "reputation=known\n"
              "confidence=none\n"
              "background_noise=none\n"
              "background_noise_score=0\n"
              "ip_range=185.7.214.0/24\n"
              "ip_range_score=0\n"
              "as_name=\"Chang Way Technologies Co. Limited\"\n"
              "as_num=207566\n"
              "country=RU\n"
              "latitude=55.7386\n"
              "longitude=37.6068\n"
              "behaviors=http:exploit,http:bruteforce,generic:exploit,http:scan,http:crawl\n"
              "attack_details=crowdsecurity/http-cve-2021-41773,LePresidente/http-generic-401-bf,"
              "crowdsecurity/suricata-major-severity,crowdsecurity/http-probing,"
              "crowdsecurity/modsecurity,crowdsecurity/thinkphp-cve-2018-20062,"
              "crowdsecurity/http-crawl-non_statics,crowdsecurity/nextcloud-bf_domain_error\n"
              "mitre_techniques=T1190,T1595,T1110\n"
              "cves=CVE-2021-41773,CVE-2018-20062\n"
              "target_countries=DE,GB,UA,US\n"
              "first_seen=2022-06-14T20:00:00+00:00\n"
              "last_seen=2024-03-10T21:00:00+00:00\n"
              "full_age=608\n"
              "days_age=607\n"
              "overall_aggressiveness=2\n"
              "overall_threat=5\n"
              "overall_trust=0\n"
              "overall_anomaly=1\n"
              "overall_total=2\n"
              "last_day_aggressiveness=0\n"
              "last_day_threat=0\n"
              "last_day_trust=0\n"
              "last_day_anomaly=1\n"
              "last_day_total=0\n"
              "last_week_aggressiveness=0\n"
              "last_week_threat=0\n"
              "last_week_trust=0\n"
              "last_week_anomaly=1\n"
              "last_week_total=0\n"
              "last_month_aggressiveness=0\n"
              "last_month_threat=5\n"
              "last_month_trust=0\n"
              "last_month_anomaly=1\n"
              "last_month_total=2\n");
    /* the raw pairs, separators and all, and the count added to */
    struct ce_buf b = {0};
    size_t count = 5;
    uint64_t m;
    CHECK(ce_fields_parse("as_name,as_num", &m, NULL, 0));
    ce_cti_render_kv(c, m, &b, &count);
    static const char want[] = "as_name\0\"Chang Way Technologies Co. Limited\"\0as_num\0"
                               "207566";
    CHECK_MEM(b.data, b.len, want, sizeof want);
    CHECK(count == 7);
    ce_buf_free(&b);
    ce_cti_free(c);
}

static void test_185_json(void)
{
    size_t len;
    char *body = slurp("185.7.214.104.json", &len);
    struct ce_cti *c = ce_cti_parse(body, len, NULL, 0);
    /* byte for byte what json-c itself writes for the answer, minus its ip */
    struct json_object *o = json_tokener_parse(body);
    json_object_object_del(o, "ip");
    const char *s =
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    char *want = ce_xmalloc(strlen(s) + 64);
    sprintf(want, "{\"ip\":\"185.7.214.104\",\"status\":\"ok\",%s", s + 1);
    CHECK_STR(json_text(c, "185.7.214.104", "ok"), want);
    const char *pre = "{\"ip\":\"185.7.214.104\",\"status\":\"ok\",\"reputation\":\"known\","
                      "\"ip_range\":\"185.7.214.0/24\",";
    CHECK(strncmp(text, pre, strlen(pre)) == 0);
    CHECK(strstr(text, "\"location\":{\"country\":\"RU\",\"city\":null,\"latitude\":55.7386,"
                       "\"longitude\":37.6068}") != NULL);
    free(want);
    json_object_put(o);
    free(body);
    ce_cti_free(c);

    c = parse("{\"reputation\":\"safe\",\"ip\":\"9.9.9.9\",\"a\":1.50,\"b\":[1,\"\xc3\xa9\","
              "null,true,false,-2,1e2],\"c\":{\"d\":\"a/b\",\"e\":{}},\"f\":[],"
              "\"g\":\"q\\\"\\\\\\n\\u0001\"}");
    CHECK_STR(json_text(c, "9.9.9.9", "ok"),
              "{\"ip\":\"9.9.9.9\",\"status\":\"ok\",\"reputation\":\"safe\",\"a\":1.50,"
              "\"b\":[1,\"\xc3\xa9\",null,true,false,-2,1e2],\"c\":{\"d\":\"a/b\",\"e\":{}},"
              "\"f\":[],\"g\":\"q\\\"\\\\\\n\\u0001\"}");
    ce_cti_free(c);

    /* json-c takes these in, but they must not come out: invalid UTF-8
     * becomes U+FFFD, NaN null, "1." a proper number */
    c = parse("{\"as_name\":\"a\xff"
              "b\",\"x\":NaN,\"y\":1.,\"z\":\"\xed\xa0\x80\"}");
    CHECK_STR(json_text(c, "1.2.3.4", "ok"),
              "{\"ip\":\"1.2.3.4\",\"status\":\"ok\",\"as_name\":\"a\xef\xbf\xbd"
              "b\","
              "\"x\":null,\"y\":1,\"z\":\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"}");
    /* kv keeps the bytes as they are */
    CHECK_STR(kv_text(c, ce_fields_all()), "as_name=a\xff"
                                           "b\n");
    ce_cti_free(c);

    c = parse("{}");
    CHECK_STR(json_text(c, "1.2.3.4", "ok"), "{\"ip\":\"1.2.3.4\",\"status\":\"ok\"}");
    ce_cti_free(c);
}

static void test_older_schema(void)
{
    struct ce_cti *c = parse_file("1.1.1.1-older-schema.json");
    CHECK(ce_cti_reputation(c) == NULL);
    CHECK_STR(kv_text(c, ce_fields_default()),
              "background_noise_score=4\n"
              "ip_range=1.1.1.0/24\n"
              "ip_range_score=0\n"
              "as_name=CLOUDFLARENET\n"
              "as_num=13335\n"
              "behaviors=ssh:bruteforce,tcp:scan,http:scan\n"
              "classifications=profile:insecure_services,profile:many_services\n"
              "target_countries=DE,FR,US,CA,JP,AT,GB,AE\n"
              "first_seen=2021-04-18T18:00:00+00:00\n"
              "last_seen=2022-11-23T13:00:00+00:00\n"
              "overall_aggressiveness=2\n"
              "overall_total=2\n"
              "last_day_aggressiveness=0\n"
              "last_day_total=0\n"
              "last_week_aggressiveness=1\n"
              "last_week_total=1\n"
              "last_month_aggressiveness=3\n"
              "last_month_total=2\n");
    uint64_t m;
    CHECK(ce_fields_parse("reverse_dns,country,city,latitude", &m, NULL, 0));
    CHECK_STR(kv_text(c, m), "reverse_dns=one.one.one.one\n");
    ce_cti_free(c);
}

static void test_nulls(void)
{
    /* every scalar of the schema null */
    struct ce_cti *c = parse(
        "{\"ip\":null,\"reputation\":null,\"confidence\":null,\"background_noise\":null,"
        "\"background_noise_score\":null,\"ip_range\":null,\"ip_range_score\":null,"
        "\"ip_range_24\":null,\"ip_range_24_reputation\":null,\"ip_range_24_score\":null,"
        "\"as_name\":null,\"as_num\":null,\"location\":{\"country\":null,\"city\":null,"
        "\"latitude\":null,\"longitude\":null},\"reverse_dns\":null,\"behaviors\":null,"
        "\"history\":{\"first_seen\":null,\"last_seen\":null,\"full_age\":null,"
        "\"days_age\":null},\"classifications\":{\"false_positives\":null,"
        "\"classifications\":null},\"attack_details\":null,\"target_countries\":null,"
        "\"mitre_techniques\":null,\"cves\":null,\"scores\":{\"overall\":{\"aggressiveness\":"
        "null,\"threat\":null,\"trust\":null,\"anomaly\":null,\"total\":null},\"last_day\":null,"
        "\"last_week\":null,\"last_month\":null},\"references\":null,\"proxy_or_vpn\":null,"
        "\"state\":null,\"expiration\":null}");
    CHECK(c != NULL);
    CHECK(ce_cti_ip(c) == NULL);
    CHECK(ce_cti_reputation(c) == NULL);
    CHECK_STR(kv_text(c, ce_fields_all()), "");
    ce_cti_free(c);

    /* whole nested objects null, next to a value that is there */
    c = parse("{\"location\":null,\"scores\":null,\"history\":null,\"classifications\":null,"
              "\"reputation\":\"malicious\"}");
    CHECK_STR(kv_text(c, ce_fields_all()), "reputation=malicious\n");
    ce_cti_free(c);
    c = parse("{\"scores\":{\"overall\":null,\"last_day\":{\"total\":null,\"aggressiveness\":3}},"
              "\"classifications\":{\"classifications\":[null,{\"name\":null},{\"name\":\"x\"}]}}");
    CHECK_STR(kv_text(c, ce_fields_all()), "classifications=x\nlast_day_aggressiveness=3\n");
    ce_cti_free(c);

    /* keys missing altogether */
    c = parse("{}");
    CHECK_STR(kv_text(c, ce_fields_all()), "");
    ce_cti_free(c);
    c = parse("{\"ip\":\"not-an-ip\",\"history\":{},\"scores\":{\"overall\":{}}}");
    CHECK_STR(ce_cti_ip(c), "not-an-ip");
    CHECK_STR(kv_text(c, ce_fields_all()), "");
    ce_cti_free(c);
}

static void test_wrong_types(void)
{
    struct ce_cti *c = parse(
        "{\"ip\":7,\"reputation\":5,\"confidence\":[\"high\"],\"as_num\":\"123\","
        "\"background_noise_score\":1.5,\"ip_range_score\":true,\"as_name\":{},"
        "\"location\":7,\"behaviors\":{\"name\":\"a\"},\"cves\":[1,\"CVE-1\",null,{\"a\":1},\"\"],"
        "\"target_countries\":[\"DE\"],\"classifications\":[],\"history\":\"x\","
        "\"scores\":{\"overall\":\"high\",\"last_day\":[1],\"last_week\":{\"total\":\"2\"}},"
        "\"proxy_or_vpn\":\"yes\",\"state\":false,"
        "\"mitre_techniques\":[{\"name\":5},{\"label\":\"x\"},\"T1\",{\"name\":\"T2\"},7]}");
    CHECK(c != NULL);
    CHECK(ce_cti_ip(c) == NULL);
    CHECK(ce_cti_reputation(c) == NULL);
    CHECK_STR(kv_text(c, ce_fields_all()), "mitre_techniques=T2\ncves=CVE-1\n");
    ce_cti_free(c);

    /* numbers: integers past int64 are not clamped, doubles take ints */
    c = parse("{\"as_num\":99999999999999999999,\"ip_range_score\":-5,"
              "\"background_noise_score\":9223372036854775807,\"latitude\":1,"
              "\"location\":{\"latitude\":55,\"longitude\":-0.1},\"proxy_or_vpn\":true}");
    CHECK_STR(kv_text(c, ce_fields_all()), "background_noise_score=9223372036854775807\n"
                                           "ip_range_score=-5\n"
                                           "latitude=55\n"
                                           "longitude=-0.1\n"
                                           "proxy_or_vpn=true\n");
    ce_cti_free(c);
    c = parse("{\"proxy_or_vpn\":false,\"location\":{\"latitude\":1e-7,"
              "\"longitude\":0.30000000000000004}}");
    CHECK_STR(kv_text(c, ce_fields_all()),
              "latitude=1e-07\nlongitude=0.30000000000000004\nproxy_or_vpn=false\n");
    ce_cti_free(c);
}

static void test_unknown_keys(void)
{
    struct ce_cti *c = parse("{\"foo\":{\"bar\":[1,{\"baz\":null}]},\"reputation\":\"safe\","
                             "\"zzz\":null,\"behaviors\":[{\"name\":\"a\",\"extra\":[]}]}");
    CHECK_STR(kv_text(c, ce_fields_default()), "reputation=safe\nbehaviors=a\n");
    CHECK_STR(json_text(c, "1.2.3.4", "ok"),
              "{\"ip\":\"1.2.3.4\",\"status\":\"ok\",\"foo\":{\"bar\":[1,{\"baz\":null}]},"
              "\"reputation\":\"safe\",\"zzz\":null,\"behaviors\":[{\"name\":\"a\","
              "\"extra\":[]}]}");
    ce_cti_free(c);
}

static void test_quoting(void)
{
    struct ce_cti *c = parse(
        "{\"as_name\":\"A B\",\"reverse_dns\":\"a\\\"b\",\"location\":{\"city\":\"x=y\"},"
        "\"state\":\"back\\\\slash\",\"expiration\":\"line\\nbreak\",\"ip_range\":\"\","
        "\"confidence\":\"tab\\there\",\"reputation\":\"\\u0001\\r\",\"country\":\"ok\","
        "\"behaviors\":[{\"name\":\"a b\"},{\"name\":\"c\"}],\"cves\":[\"\xc3\xa9t\xc3\xa9\"],"
        "\"ip_range_24\":\"\\u0000x\"}");
    CHECK_STR(kv_text(c, ce_fields_all()), "reputation=\"\\x01\\r\"\n"
                                           "confidence=\"tab\\there\"\n"
                                           "ip_range=\"\"\n"
                                           "ip_range_24=\"\\x00x\"\n"
                                           "as_name=\"A B\"\n"
                                           "city=\"x=y\"\n"
                                           "reverse_dns=\"a\\\"b\"\n"
                                           "behaviors=\"a b,c\"\n"
                                           "cves=\xc3\xa9t\xc3\xa9\n"
                                           "state=\"back\\\\slash\"\n"
                                           "expiration=\"line\\nbreak\"\n");
    ce_cti_free(c);
}

static void reject(const char *body, size_t len, const char *want)
{
    char err[256] = "";
    struct ce_cti *c = ce_cti_parse(body, len, err, sizeof err);
    CHECK(c == NULL);
    CHECK_STR(err, want);
    ce_cti_free(c);
}

#define REJECT(lit, want) reject(lit, sizeof lit - 1, want)

static void test_rejects(void)
{
    REJECT("<html><body><h1>502 Bad Gateway</h1></body></html>", "HTML instead of JSON");
    REJECT("\r\n  <!DOCTYPE html>", "HTML instead of JSON");
    REJECT("", "empty body");
    REJECT(" \n\t", "empty body");
    REJECT("[]", "not a JSON object");
    REJECT("[{\"ip\":\"1.2.3.4\"}]", "not a JSON object");
    REJECT("null", "not a JSON object");
    REJECT("\"x\"", "not a JSON object");
    REJECT("42", "not a JSON object");
    REJECT("{\"ip\":\"1.2.3.4\"", "truncated JSON");
    REJECT("{\"ip\":\"1.2.", "truncated JSON");
    REJECT("{", "truncated JSON");
    REJECT("{\"a\":1} x", "trailing data after the JSON object at offset 8");
    REJECT("{\"a\":1}}", "trailing data after the JSON object at offset 7");
    REJECT("{} {}", "trailing data after the JSON object at offset 3");
    REJECT("{}\0", "trailing data after the JSON object at offset 2");
    REJECT("{\"a\":}", "invalid JSON at offset 5: unexpected character");
    REJECT("{\"a\":\"x\0\"}", "invalid JSON at offset 8: unexpected end of data");
    /* and the error buffer is optional */
    CHECK(ce_cti_parse("[]", 2, NULL, 0) == NULL);
    char small[8];
    CHECK(ce_cti_parse("<", 1, small, sizeof small) == NULL);
    CHECK_STR(small, "HTML in");

    /* whitespace around the object is fine; the length bounds the parse */
    struct ce_cti *c = ce_cti_parse("\n {\"reputation\":\"safe\"} \r\n", 26, NULL, 0);
    CHECK_STR(ce_cti_reputation(c), "safe");
    ce_cti_free(c);
    c = ce_cti_parse("{}garbage", 2, NULL, 0);
    CHECK(c != NULL);
    ce_cti_free(c);
}

static void test_fields(void)
{
    char err[128] = "";
    uint64_t m = 0, def = ce_fields_default(), all = ce_fields_all();
    int bits = 0;
    for (uint64_t d = def; d; d &= d - 1)
        bits++;
    CHECK(bits == 26);
    CHECK(all == (UINT64_C(1) << 51) - 1);
    CHECK_STR(ce_fields_name(0), "reputation");
    CHECK_STR(ce_fields_name(12), "city");
    CHECK_STR(ce_fields_name(28), "overall_aggressiveness");
    CHECK_STR(ce_fields_name(48), "proxy_or_vpn");
    CHECK_STR(ce_fields_name(50), "expiration");
    CHECK(ce_fields_name(51) == NULL);

    CHECK(ce_fields_parse("default", &m, err, sizeof err) && m == def);
    CHECK(ce_fields_parse("all", &m, err, sizeof err) && m == all);
    CHECK(ce_fields_parse("default,all", &m, err, sizeof err) && m == all);
    CHECK(ce_fields_parse("reputation,crowdsec_city", &m, err, sizeof err) &&
          m == ((UINT64_C(1) << 0) | (UINT64_C(1) << 12)));
    CHECK(ce_fields_parse("default,city", &m, err, sizeof err) && m == (def | (UINT64_C(1) << 12)));
    CHECK(ce_fields_parse(" reputation ,\tcity , ,", &m, err, sizeof err) &&
          m == ((UINT64_C(1) << 0) | (UINT64_C(1) << 12)));
    CHECK(ce_fields_parse("", &m, err, sizeof err) && m == 0);
    CHECK(ce_fields_parse("crowdsec_ip,status,expiration", &m, err, sizeof err) &&
          m == (UINT64_C(1) << 50));

    m = 42;
    CHECK(!ce_fields_parse("xyz", &m, err, sizeof err));
    CHECK_STR(err, "unknown field 'xyz'");
    CHECK(m == 42);
    CHECK(!ce_fields_parse("reputation, crowdsec_xyz ,city", &m, err, sizeof err));
    CHECK_STR(err, "unknown field 'crowdsec_xyz'");
    CHECK(!ce_fields_parse("Default", &m, err, sizeof err));
    CHECK_STR(err, "unknown field 'Default'");
    CHECK(!ce_fields_parse("crowdsec_", &m, err, sizeof err));
    CHECK_STR(err, "unknown field 'crowdsec_'");
    CHECK(!ce_fields_parse("reputation city", &m, NULL, 0));

    /* every name round-trips, with and without the prefix */
    for (unsigned i = 0; ce_fields_name(i); i++) {
        char spec[64];
        CHECK(ce_fields_parse(ce_fields_name(i), &m, err, sizeof err) && m == UINT64_C(1) << i);
        snprintf(spec, sizeof spec, "crowdsec_%s", ce_fields_name(i));
        CHECK(ce_fields_parse(spec, &m, err, sizeof err) && m == UINT64_C(1) << i);
    }
}

int main(void)
{
    test_fixtures();
    test_fire_item();
    test_185_kv();
    test_185_json();
    test_older_schema();
    test_nulls();
    test_wrong_types();
    test_unknown_keys();
    test_quoting();
    test_rejects();
    test_fields();
    return check_summary("test_cti_json");
}
