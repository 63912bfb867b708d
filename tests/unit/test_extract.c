/* test_extract.c: which addresses a log line yields, exactly and in order. */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "check.h"
#include "extract.h"

/* A line with its exact length, so lines may hold NUL bytes. */
#define L(s) s, sizeof(s) - 1

struct xcase {
    const char *line;
    size_t len;
    const char *want; /* canonical addresses, space-separated, in order */
};

static const struct xcase cases[] = {
    /* plain, at start, at end, alone */
    {L("8.8.8.8"), "8.8.8.8"},
    {L("8.8.8.8 - - GET /"), "8.8.8.8"},
    {L("connect from 8.8.8.8"), "8.8.8.8"},
    {L("connect from 8.8.8.8."), "8.8.8.8"},
    {L("connect from 8.8.8.8\n"), "8.8.8.8"},
    {L("(8.8.8.8)"), "8.8.8.8"},
    {L("\"8.8.8.8\""), "8.8.8.8"},
    {L("...8.8.8.8"), "8.8.8.8"},
    {L("2a01:4f8::1"), "2a01:4f8::1"},
    {L("peer 2a01:4f8::1"), "2a01:4f8::1"},
    {L("peer 2a01:4f8::1."), "2a01:4f8::1"},
    /* ports */
    {L("1.2.3.4:8080"), "1.2.3.4"},
    {L("dst=9.9.9.9:53 proto=udp"), "9.9.9.9"},
    {L("[2a01:4f8::1]:443"), "2a01:4f8::1"},
    {L("peer [2606:4700::1111]:80 closed"), "2606:4700::1111"},
    /* URLs */
    {L("GET http://8.8.8.8/path HTTP/1.1"), "8.8.8.8"},
    {L("GET http://[2606:4700::1111]:80/ HTTP/1.1"), "2606:4700::1111"},
    {L("https://1.1.1.1:8443/x?ip=9.9.9.9&y=1"), "1.1.1.1 9.9.9.9"},
    {L("GET /8.8.8.8 HTTP/1.1"), "8.8.8.8"},
    /* key=value and punctuation */
    {L("client=8.8.8.8;"), "8.8.8.8"},
    {L("src=8.8.8.8,dst=1.1.1.1"), "8.8.8.8 1.1.1.1"},
    {L("{\"ip\":\"8.8.8.8\",\"v6\":\"2a01:4f8::1\"}"), "8.8.8.8 2a01:4f8::1"},
    {L("ip:8.8.8.8"), "8.8.8.8"},
    {L("addr:2a01:4f8::1 SRC:2606:4700::1111"), "2a01:4f8::1 2606:4700::1111"},
    {L("range 8.8.8.0-8.8.8.255"), "8.8.8.0 8.8.8.255"},
    /* CIDR notation is a range, not a host: nothing to look up. */
    {L("net 8.8.8.0/24"), ""},
    {L("allow 2a01:4f8::/32, deny 9.9.9.9/16."), ""},
    {L("url http://8.8.8.8/24/x and 8.8.4.4/2400"), "8.8.8.8 8.8.4.4"},
    {L("host 8.8.8.8/ and 9.9.9.9/16.5"), "8.8.8.8 9.9.9.9"},
    {L("from 2a01:4f8::1: bad key"), "2a01:4f8::1"},
    /* X-Forwarded-For */
    {L("X-Forwarded-For: 8.8.8.8, 9.9.9.9"), "8.8.8.8 9.9.9.9"},
    {L("X-Forwarded-For: 8.8.8.8,10.0.0.1,2a01:4f8::1,9.9.9.9"), "8.8.8.8 2a01:4f8::1 9.9.9.9"},
    /* zone IDs */
    {L("fe80::1%eth0"), ""},
    {L("2a01:4f8::1%eth0 up"), "2a01:4f8::1"},
    {L("[2a01:4f8::1%25en0]:22"), "2a01:4f8::1"},
    {L("2a01:4f8::1%"), ""},
    /* IPv4-mapped and embedded IPv4 */
    {L("::ffff:8.8.8.8"), "8.8.8.8"},
    {L("from ::FFFF:808:808 port 22"), "8.8.8.8"},
    {L("[::ffff:1.1.1.1]:443"), "1.1.1.1"},
    {L("::ffff:10.0.0.1"), ""},
    {L("::8.8.8.8"), ""},
    {L("64:ff9b::8.8.8.8"), ""},
    {L("::ffff:8.8.8.8.5"), ""},
    /* normalisation and dedup (first appearance order) */
    {L("2A01:04F8:0000:0000:0000:0000:0000:0001"), "2a01:4f8::1"},
    {L("2001:4860:4860:0:0:0:0:8888 and 2001:4860:4860::8888"), "2001:4860:4860::8888"},
    {L("9.9.9.9 8.8.8.8 ::ffff:8.8.8.8 9.9.9.9"), "9.9.9.9 8.8.8.8"},
    {L("2A01:4F8::1 2a01:4f8::1"), "2a01:4f8::1"},
    /* not an address: dotted runs, bad octets, glued */
    {L("1.2.3.4567"), ""},
    {L("999.1.1.1"), ""},
    {L("1.2.3.256"), ""},
    {L("1.2.3.4.5"), ""},
    {L("oid 1.3.6.1.4.1.311"), ""},
    {L("v1.2.3.4"), ""},
    {L("8.8.8.8a"), ""},
    {L("x8.8.8.8"), ""},
    {L("_8.8.8.8"), ""},
    {L("01.2.3.4"), ""},
    {L("8.8.8.08"), ""},
    {L("4.4.8.8.in-addr.arpa"), ""},
    {L("host.8.8.8.8"), ""},
    {L("tcpdump 8.8.8.8.53 > 1.1.1.1.41000"), ""},
    /* version strings */
    {L("Server: nginx/1.25.3.1"), ""},
    {L("Mozilla/5.0 Chrome/120.0.0.0 Safari/537.36"), ""},
    {L("Installing libfoo-1.2.3.4"), ""},
    {L("up -8.8.8.8 ~9.9.9.9"), "8.8.8.8 9.9.9.9"},
    /* MACs and timestamps */
    {L("ether 00:1a:2b:3c:4d:5e"), ""},
    {L("ether 00-1a-2b-3c-4d-5e"), ""},
    {L("eui64 02:1a:2b:ff:fe:3c:4d:5e"), ""},
    {L("at 12:34:56 ok"), ""},
    {L("12:34:56.789 start"), ""},
    {L("8.8.8.8 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200"), "8.8.8.8"},
    {L("2024-01-02T03:04:05.123Z 1.1.1.1"), "1.1.1.1"},
    /* C++ and friends */
    {L("std::string s"), ""},
    {L("Foo::Bar::baz()"), ""},
    {L("a::b"), ""},
    {L("dead::beef"), ""},
    {L("ns::2a01:4f8::1"), ""},
    {L("cafe:2a01:4f8::1"), ""},
    {L("x2a01:4f8::1"), ""},
    {L("2a01:4f8::1x"), ""},
    {L("2a01:4f8::1.443"), ""},
    {L("1:2:3:4:5:6:7:8:9"), ""},
    {L("2a01:4f8:1:2:3:4:5:6:7:8:9:a:b:c:d:e:f:10:11:12"), ""},
    /* ranges that are never looked up */
    {L("10.1.2.3 172.16.0.1 192.168.1.1 127.0.0.1"), ""},
    {L("cgnat 100.64.0.1 100.127.255.255"), ""},
    {L("doc 192.0.2.1 198.51.100.1 203.0.113.1 2001:db8::1 3fff::1"), ""},
    {L("bench 198.18.0.1 198.19.255.255 2001:2::1"), ""},
    {L("mcast 224.0.0.1 239.1.1.1 ff02::1 240.0.0.1 255.255.255.255"), ""},
    {L("0.0.0.0 169.254.1.1 192.0.0.8 192.88.99.1"), ""},
    {L("6to4 2002:808:808::1 teredo 2001:0:4136:e378:8000:63bf:3fff:fdd2"), ""},
    {L("ula fd00::1 ll fe80::1 site fec0::1 :: ::1 100::1 5f00::1"), ""},
    {L("edge 100.63.255.255 100.128.0.0 172.32.0.0 2001:200::1"),
     "100.63.255.255 100.128.0.0 172.32.0.0 2001:200::1"},
    /* NUL bytes and invalid UTF-8 around an address */
    {L("\0"
       "8.8.8.8\0"),
     "8.8.8.8"},
    {L("a\0b 8.8.8.8\0 9.9.9.9"), "8.8.8.8 9.9.9.9"},
    {L("\xff\xfe"
       "8.8.8.8\xc3"),
     "8.8.8.8"},
    {L("\xc3\xa9"
       "2a01:4f8::1\xe2\x82"),
     "2a01:4f8::1"},
    {L("8.8.\0"
       "8.8"),
     ""},
    {L("2a01:4f8:\0:1"), ""},
    /* where a match can start: "key:" prefixes, glued runs, a timestamp
     * before an address, and how far a run that is no address reaches */
    {L("2026:10:00:35 8.8.8.8"), "8.8.8.8"},
    {L("Dec  4 19:56:01 host sshd[123]: Failed password from 8.8.8.8 port 22"), "8.8.8.8"},
    {L("[01/Mar/2024:00:00:00 +0000] 1.2.3.4"), "1.2.3.4"},
    {L("1.2.3.4 at 2026:10:00:35, then 5.6.7.8"), "1.2.3.4 5.6.7.8"},
    {L("Mozilla/5.0 (Windows NT 10.0; Win64; x64) rv:121.0 Gecko/20100101"), ""},
    {L("key:2a01:4f8::1"), "2a01:4f8::1"},
    {L("g123:2a01:4f8::1"), "2a01:4f8::1"},
    {L("_:2a01:4f8::1"), "2a01:4f8::1"},
    {L("g1234:2a01:4f8::1"), ""},
    {L("abc:2a01:4f8::1"), ""},
    {L("deadbeef:2a01:4f8::1"), ""},
    {L(".2a01:4f8::1"), ""},
    {L(":2a01:4f8::1"), ""},
    {L("2a01:4f8::1::"), ""},
    {L("ab:cd 2a01:4f8::1"), "2a01:4f8::1"},
    {L(":8.8.8.8"), "8.8.8.8"},
    {L("a:8.8.8.8"), ""},
    {L("1-8.8.8.8"), "8.8.8.8"},
    {L("a-8.8.8.8"), ""},
    {L("/8.8.8.8"), "8.8.8.8"},
    {L("//8.8.8.8"), "8.8.8.8"},
    {L("x/8.8.8.8"), ""},
    {L("1.2.3.4:5.6.7.8"), "1.2.3.4 5.6.7.8"},
    {L("8.8.8.8:8.8.4.4"), "8.8.8.8 8.8.4.4"},
    {L("8.8.8.8::"), "8.8.8.8"},
    {L("::ffff:8.8.8.8:443"), "8.8.8.8"},
    {L("2a01:4f8::1:8.8.8.8"), "2a01:4f8::1:808:808"},
    /* nothing to find */
    {L(""), ""},
    {L("no address here"), ""},
    {L("..."), ""},
    {L(":::"), ""},
    {L("1.2.3."), ""},
};

static void join(const struct ce_addr *a, size_t n, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char t[CE_ADDR_STRLEN];
        ce_addr_format(&a[i], t);
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? " " : "", t);
        if (used >= cap)
            break;
    }
}

static void show(const char *line, size_t len)
{
    fputs("line [", stderr);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c >= 0x20 && c < 0x7f)
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fputs("]\n", stderr);
}

static void run(struct ce_extractor *x, const char *line, size_t len, const char *want)
{
    struct ce_addr out[CE_EXTRACT_MAX];
    char got[CE_EXTRACT_MAX * CE_ADDR_STRLEN];
    size_t n = ce_extract_line(x, line, len, out, CE_EXTRACT_MAX);
    join(out, n, got, sizeof got);
    if (strcmp(got, want) != 0)
        show(line, len);
    CHECK_STR(got, want);
}

static void test_table(void)
{
    char err[200];
    struct ce_extractor *x = ce_extract_create(NULL, err, sizeof err);
    CHECK(x != NULL);
    if (!x)
        return;
    size_t ncases = sizeof cases / sizeof cases[0];
    CHECK(ncases >= 60);
    for (size_t i = 0; i < ncases; i++)
        run(x, cases[i].line, cases[i].len, cases[i].want);
    ce_extract_destroy(x);
}

static void test_ignore(void)
{
    char err[200];
    struct ce_cidr_list *ign =
        ce_cidr_list_parse("9.9.9.0/24,2606:4700::/32,1.1.1.1", err, sizeof err);
    CHECK(ign != NULL);
    struct ce_extractor *x = ce_extract_create(ign, err, sizeof err);
    CHECK(x != NULL);
    if (!x || !ign)
        return;
    run(x, L("8.8.8.8 9.9.9.9 1.1.1.1 1.1.1.2"), "8.8.8.8 1.1.1.2");
    run(x, L("[2606:4700::1111]:443 [2a01:4f8::1]:443"), "2a01:4f8::1");
    run(x, L("::ffff:9.9.9.9 ::ffff:8.8.4.4"), "8.8.4.4");
    run(x, L("9.9.8.255 9.9.10.0"), "9.9.8.255 9.9.10.0");
    ce_extract_destroy(x);
    ce_cidr_list_destroy(ign);
}

static void test_max(void)
{
    char err[200];
    struct ce_extractor *x = ce_extract_create(NULL, err, sizeof err);
    CHECK(x != NULL);
    if (!x)
        return;
    /* 20 distinct global addresses, with repeats in between */
    char line[1024];
    size_t len = 0;
    for (int i = 1; i <= 20; i++)
        len += (size_t)snprintf(line + len, sizeof line - len, "11.0.0.%d 11.0.0.1 ", i);
    struct ce_addr out[CE_EXTRACT_MAX + 4];
    size_t n = ce_extract_line(x, line, len, out, CE_EXTRACT_MAX);
    CHECK(n == CE_EXTRACT_MAX);
    for (size_t i = 0; i < n; i++)
        CHECK(out[i].family == 4 && out[i].bytes[3] == i + 1);
    /* a smaller max is honoured, and out is not written past it */
    memset(out, 0xaa, sizeof out);
    n = ce_extract_line(x, line, len, out, 3);
    CHECK(n == 3);
    CHECK(out[2].bytes[3] == 3);
    CHECK(out[3].family == 0xaa);
    CHECK(ce_extract_line(x, line, len, out, 0) == 0);
    /* a larger one finds all 20 */
    struct ce_addr big[32];
    CHECK(ce_extract_line(x, line, len, big, 32) == 20);
    /* a line of only repeats gives one */
    CHECK(ce_extract_line(x, L("8.8.8.8 8.8.8.8 8.8.8.8 8.8.8.8"), out, CE_EXTRACT_MAX) == 1);
    ce_extract_destroy(x);
    ce_extract_destroy(NULL);
}

/* A long line with an address at each end, and a long run of address
 * characters that must neither match nor take long. */
static void test_long(void)
{
    char err[200];
    struct ce_extractor *x = ce_extract_create(NULL, err, sizeof err);
    CHECK(x != NULL);
    if (!x)
        return;
    static char line[200000];
    memset(line, 'a', sizeof line);
    memcpy(line, "8.8.8.8 ", 8);
    memcpy(line + sizeof line - 8, " 9.9.9.9", 8);
    for (size_t i = 100; i < 100000; i += 2)
        line[i] = ':';
    for (size_t i = 100001; i < 150000; i += 2)
        line[i] = '.';
    line[150000] = ' ';
    line[99] = ' ';
    struct ce_addr out[CE_EXTRACT_MAX];
    char got[CE_EXTRACT_MAX * CE_ADDR_STRLEN];
    size_t n = ce_extract_line(x, line, sizeof line, out, CE_EXTRACT_MAX);
    join(out, n, got, sizeof got);
    CHECK_STR(got, "8.8.8.8 9.9.9.9");
    ce_extract_destroy(x);
}

/* The same addresses at every offset around the 64-byte blocks the line is
 * scanned in, after fillers that do and do not look like addresses. */
static void test_offsets(void)
{
    char err[200];
    struct ce_extractor *x = ce_extract_create(NULL, err, sizeof err);
    CHECK(x != NULL);
    if (!x)
        return;
    static const char *const fillers[] = {" ", "a", ".", ":", "0.", "1:", "ab:", "v1.2 "};
    static const char tail[] = " 8.8.8.8 [2a01:4f8::1]:443 v1.2.3.4 2a01:4f8::1";
    for (size_t f = 0; f < sizeof fillers / sizeof fillers[0]; f++) {
        size_t flen = strlen(fillers[f]);
        for (size_t pad = 0; pad <= 140; pad++) {
            char line[256];
            for (size_t i = 0; i < pad; i++)
                line[i] = fillers[f][i % flen];
            memcpy(line + pad, tail, sizeof tail - 1);
            run(x, line, pad + sizeof tail - 1, "8.8.8.8 2a01:4f8::1");
            /* and cut right after the first one, so that it ends the line */
            run(x, line, pad + 8, "8.8.8.8");
        }
    }
    ce_extract_destroy(x);
}

int main(void)
{
    test_table();
    test_ignore();
    test_max();
    test_long();
    test_offsets();
    return check_summary("test_extract");
}
