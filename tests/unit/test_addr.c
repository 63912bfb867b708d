/* test_addr.c: address parsing, RFC 5952 text, global ranges, CIDR lists. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "check.h"

/* Parses s and returns its canonical text, or "FAIL" when it does not parse.
 * Also checks that the text parses back to the same address. */
static const char *canon(const char *s, char *buf)
{
    struct ce_addr a, b;
    if (!ce_addr_parse(s, strlen(s), &a))
        return "FAIL";
    size_t n = ce_addr_format(&a, buf);
    CHECK(n == strlen(buf));
    CHECK(n < CE_ADDR_STRLEN);
    CHECK(ce_addr_parse(buf, n, &b));
    CHECK(b.family == a.family && memcmp(a.bytes, b.bytes, 16) == 0);
    return buf;
}

static void test_parse_format(void)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        /* IPv4 */
        {"0.0.0.0", "0.0.0.0"},
        {"1.2.3.4", "1.2.3.4"},
        {"255.255.255.255", "255.255.255.255"},
        {"8.8.8.8", "8.8.8.8"},
        {"256.1.1.1", "FAIL"},
        {"1.2.3.256", "FAIL"},
        {"999.1.1.1", "FAIL"},
        {"01.2.3.4", "FAIL"},
        {"1.2.3.04", "FAIL"},
        {"1.2.3.00", "FAIL"},
        {"1.2.3.4567", "FAIL"},
        {"1.2.3", "FAIL"},
        {"1.2.3.4.5", "FAIL"},
        {"1.2.3.", "FAIL"},
        {".1.2.3", "FAIL"},
        {"1..2.3", "FAIL"},
        {"1.2.3.4 ", "FAIL"},
        {" 1.2.3.4", "FAIL"},
        {"+1.2.3.4", "FAIL"},
        {"1.2.3.-4", "FAIL"},
        {"1.2.3.4%eth0", "FAIL"},
        {"0x1.2.3.4", "FAIL"},
        {"", "FAIL"},
        /* RFC 5952 section 4 */
        {"2001:db8:0:0:0:0:2:1", "2001:db8::2:1"},
        {"2001:0db8:0000:0000:0000:0000:0002:0001", "2001:db8::2:1"},
        {"2001:db8::0:1", "2001:db8::1"},
        {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},
        {"2001:db8::1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},
        {"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},
        {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},
        {"2001:DB8::AAAA", "2001:db8::aaaa"},
        {"2001:0DB8:00AB:000C::0001", "2001:db8:ab:c::1"},
        {"::", "::"},
        {"::1", "::1"},
        {"1::", "1::"},
        {"0:0:0:0:0:0:0:0", "::"},
        {"1:0:0:0:0:0:0:0", "1::"},
        {"0:0:0:0:0:0:0:1", "::1"},
        {"1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0"},
        {"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
        {"::1:2:3:4:5:6:7", "0:1:2:3:4:5:6:7"},
        {"1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"},
        {"fe80::1%eth0", "fe80::1"},
        {"fe80::1%25eth0", "fe80::1"},
        {"fe80::1%en0.100_x~y-z", "fe80::1"},
        {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
        /* embedded IPv4 */
        {"::ffff:8.8.8.8", "8.8.8.8"},
        {"::FFFF:8.8.8.8", "8.8.8.8"},
        {"::ffff:808:808", "8.8.8.8"},
        {"0:0:0:0:0:ffff:1.2.3.4", "1.2.3.4"},
        {"::ffff:0:0", "0.0.0.0"},
        {"::1.2.3.4", "::102:304"},
        {"64:ff9b::8.8.8.8", "64:ff9b::808:808"},
        {"1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"},
        {"1:2:3:4:5:6:7:1.2.3.4", "FAIL"},
        {"::ffff:1.2.3.256", "FAIL"},
        {"::ffff:01.2.3.4", "FAIL"},
        {"::1.2.3.4:5", "FAIL"},
        {"::ffff:1.2.3", "FAIL"},
        {"1.2.3.4::", "FAIL"},
        /* malformed IPv6 */
        {":", "FAIL"},
        {":::", "FAIL"},
        {":1::", "FAIL"},
        {"1:", "FAIL"},
        {"1::2:", "FAIL"},
        {":1:2:3:4:5:6:7", "FAIL"},
        {"1::2::3", "FAIL"},
        {"1:2:3:4:5:6:7", "FAIL"},
        {"1:2:3:4:5:6:7:8:9", "FAIL"},
        {"1:2:3:4:5:6:7:8::", "FAIL"},
        {"::1:2:3:4:5:6:7:8", "FAIL"},
        {"12345::", "FAIL"},
        {"g::1", "FAIL"},
        {"12:34:56", "FAIL"},
        {"00:1a:2b:3c:4d:5e", "FAIL"},
        {"fe80::1%", "FAIL"},
        {"fe80::1%eth 0", "FAIL"},
        {"fe80::1%eth0%1", "FAIL"},
        {"fe80::1%eth:0", "FAIL"},
        {"[::1]", "FAIL"},
        {"::1/128", "FAIL"},
        {"std::string", "FAIL"},
    };
    char buf[CE_ADDR_STRLEN];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = canon(cases[i].in, buf);
        if (strcmp(got, cases[i].want) != 0)
            fprintf(stderr, "input [%s]\n", cases[i].in);
        CHECK_STR(got, cases[i].want);
    }

    /* Exact length: nothing after len is read, a NUL inside refuses. */
    struct ce_addr a;
    CHECK(ce_addr_parse("1.2.3.45", 7, &a));
    CHECK(a.family == 4 && a.bytes[3] == 4);
    CHECK(!ce_addr_parse("1.2.3.4\0", 8, &a));
    CHECK(!ce_addr_parse("::1\0", 4, &a));
    CHECK(!ce_addr_parse(NULL, 0, &a));

    /* IPv4 leaves the unused bytes zero, so structs compare with memcmp. */
    CHECK(ce_addr_parse("::ffff:1.2.3.4", 14, &a));
    CHECK(a.family == 4);
    static const unsigned char want[16] = {1, 2, 3, 4};
    CHECK(memcmp(a.bytes, want, 16) == 0);

    /* The longest text fits. */
    struct ce_addr w = {6,
                        {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x11, 0x22, 0x33, 0x44,
                         0x55, 0x66, 0x77, 0x88}};
    CHECK(ce_addr_format(&w, buf) == 39);
    CHECK_STR(buf, "1234:5678:9abc:def0:1122:3344:5566:7788");
}

static bool global(const char *s)
{
    struct ce_addr a;
    if (!ce_addr_parse(s, strlen(s), &a)) {
        fprintf(stderr, "does not parse: %s\n", s);
        check_failures++;
        return false;
    }
    return ce_addr_is_global(&a);
}

static void test_global(void)
{
    /* For each range: just outside below, first, last, just outside above.
     * Neighbours that fall into another special range are checked as such. */
    static const struct {
        const char *addr;
        bool global;
    } cases[] = {
        {"0.0.0.0", false},
        {"0.255.255.255", false},
        {"1.0.0.0", true},
        {"9.255.255.255", true},
        {"10.0.0.0", false},
        {"10.255.255.255", false},
        {"11.0.0.0", true},
        {"100.63.255.255", true},
        {"100.64.0.0", false},
        {"100.127.255.255", false},
        {"100.128.0.0", true},
        {"126.255.255.255", true},
        {"127.0.0.0", false},
        {"127.0.0.1", false},
        {"127.255.255.255", false},
        {"128.0.0.0", true},
        {"169.253.255.255", true},
        {"169.254.0.0", false},
        {"169.254.255.255", false},
        {"169.255.0.0", true},
        {"172.15.255.255", true},
        {"172.16.0.0", false},
        {"172.31.255.255", false},
        {"172.32.0.0", true},
        {"191.255.255.255", true},
        {"192.0.0.0", false},
        {"192.0.0.255", false},
        {"192.0.1.0", true},
        {"192.0.1.255", true},
        {"192.0.2.0", false},
        {"192.0.2.255", false},
        {"192.0.3.0", true},
        {"192.88.98.255", true},
        {"192.88.99.0", false},
        {"192.88.99.255", false},
        {"192.88.100.0", true},
        {"192.167.255.255", true},
        {"192.168.0.0", false},
        {"192.168.255.255", false},
        {"192.169.0.0", true},
        {"198.17.255.255", true},
        {"198.18.0.0", false},
        {"198.19.255.255", false},
        {"198.20.0.0", true},
        {"198.51.99.255", true},
        {"198.51.100.0", false},
        {"198.51.100.255", false},
        {"198.51.101.0", true},
        {"203.0.112.255", true},
        {"203.0.113.0", false},
        {"203.0.113.255", false},
        {"203.0.114.0", true},
        {"223.255.255.255", true},
        {"224.0.0.0", false},
        {"239.255.255.255", false},
        {"240.0.0.0", false},
        {"255.255.255.254", false},
        {"255.255.255.255", false},
        {"8.8.8.8", true},
        {"1.1.1.1", true},
        /* IPv6: ::/96 (unspecified, loopback, IPv4-compatible) */
        {"::", false},
        {"::1", false},
        {"::2", false},
        {"::8.8.8.8", false},
        {"::ffff:ffff", false},
        {"::1:0:0", false},
        /* IPv4-mapped comes out as IPv4 and is judged as such */
        {"::ffff:8.8.8.8", true},
        {"::ffff:10.0.0.1", false},
        /* NAT64 */
        {"64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff", false},
        {"64:ff9b::", false},
        {"64:ff9b::8.8.8.8", false},
        {"64:ff9b::ffff:ffff", false},
        {"64:ff9b:1::", false},
        {"64:ff9b:1:ffff:ffff:ffff:ffff:ffff", false},
        /* discard-only */
        {"100::", false},
        {"100::ffff:ffff:ffff:ffff", false},
        /* 2000::/3 edges */
        {"1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
        {"2000::", true},
        {"3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
        {"4000::", false},
        /* 2001::/23 IETF protocol assignments */
        {"2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
        {"2001::", false},
        {"2001:0:4136:e378:8000:63bf:3fff:fdd2", false}, /* Teredo */
        {"2001:1::1", false},
        {"2001:2::1", false},  /* benchmarking */
        {"2001:10::1", false}, /* ORCHID */
        {"2001:20::1", false}, /* ORCHIDv2 */
        {"2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", false},
        {"2001:200::", true},
        /* documentation 2001:db8::/32 */
        {"2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", true},
        {"2001:db8::", false},
        {"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", false},
        {"2001:db9::", true},
        /* 6to4 */
        {"2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
        {"2002::", false},
        {"2002:808:808::1", false},
        {"2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
        {"2003::", true},
        /* documentation 3fff::/20 */
        {"3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
        {"3fff::", false},
        {"3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", false},
        {"3fff:1000::", true},
        /* outside 2000::/3 anyway, but with their own registry entries */
        {"5f00::", false},
        {"5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
        {"fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
        {"fc00::", false},
        {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
        {"fe80::", false},
        {"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
        {"fec0::", false},
        {"feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
        {"ff00::", false},
        {"ff02::1", false},
        {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
        {"dead::beef", false},
        /* ordinary global unicast */
        {"2a01:4f8::1", true},
        {"2606:4700::1111", true},
        {"2001:4860:4860::8888", true},
        {"2620:fe::fe", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool got = global(cases[i].addr);
        if (got != cases[i].global)
            fprintf(stderr, "is_global(%s) = %d\n", cases[i].addr, got);
        CHECK(got == cases[i].global);
    }

    struct ce_addr bad = {0, {0}};
    CHECK(!ce_addr_is_global(&bad));
    /* A mapped address built by hand (not via parse) is refused too. */
    struct ce_addr mapped = {6, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 8, 8, 8, 8}};
    CHECK(!ce_addr_is_global(&mapped));
}

static bool contains(const struct ce_cidr_list *l, const char *s)
{
    struct ce_addr a;
    if (!ce_addr_parse(s, strlen(s), &a)) {
        fprintf(stderr, "does not parse: %s\n", s);
        check_failures++;
        return false;
    }
    return ce_cidr_list_contains(l, &a);
}

static void test_cidr(void)
{
    char err[200] = "";
    struct ce_cidr_list *l =
        ce_cidr_list_parse("10.0.0.0/8, 8.8.8.8 ,2001:db8::/32,1.2.3.77/24,2a01:4f8::1/64,"
                           "0.0.0.0/0,::ffff:9.9.0.0/112",
                           err, sizeof err);
    CHECK(l != NULL);
    CHECK(contains(l, "10.0.0.0"));
    CHECK(contains(l, "10.255.255.255"));
    CHECK(contains(l, "8.8.8.8"));
    CHECK(contains(l, "::ffff:8.8.8.8"));
    CHECK(contains(l, "1.2.3.0"));
    CHECK(contains(l, "1.2.3.255"));
    CHECK(contains(l, "2001:db8::"));
    CHECK(contains(l, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));
    CHECK(!contains(l, "2001:db9::"));
    CHECK(contains(l, "2a01:4f8::ffff:ffff:ffff:ffff"));
    CHECK(!contains(l, "2a01:4f8:0:1::"));
    CHECK(contains(l, "9.9.255.255"));
    CHECK(contains(l, "200.1.1.1")); /* 0.0.0.0/0 */
    ce_cidr_list_destroy(l);

    l = ce_cidr_list_parse("8.8.8.8,9.9.9.0/24,2606:4700::/32", err, sizeof err);
    CHECK(l != NULL);
    CHECK(contains(l, "8.8.8.8"));
    CHECK(!contains(l, "8.8.8.9"));
    CHECK(!contains(l, "8.8.8.7"));
    CHECK(contains(l, "9.9.9.0"));
    CHECK(contains(l, "9.9.9.255"));
    CHECK(!contains(l, "9.9.10.0"));
    CHECK(!contains(l, "9.9.8.255"));
    CHECK(contains(l, "2606:4700::1111"));
    CHECK(contains(l, "2606:4700:ffff::"));
    CHECK(!contains(l, "2606:4701::"));
    CHECK(!contains(l, "::ffff:8.8.8.9"));

    /* add appends; a failed add leaves the list as it was */
    CHECK(ce_cidr_list_add(l, "1.1.1.1", err, sizeof err));
    CHECK(contains(l, "1.1.1.1"));
    CHECK(!ce_cidr_list_add(l, "4.4.4.4,bogus", err, sizeof err));
    CHECK(strstr(err, "bogus") != NULL);
    CHECK(!contains(l, "4.4.4.4"));
    CHECK(contains(l, "1.1.1.1"));
    /* growth past the initial capacity */
    for (int i = 0; i < 40; i++) {
        char item[32];
        snprintf(item, sizeof item, "11.0.%d.0/24", i);
        CHECK(ce_cidr_list_add(l, item, err, sizeof err));
    }
    CHECK(contains(l, "11.0.39.1"));
    CHECK(!contains(l, "11.0.40.1"));
    CHECK(contains(l, "8.8.8.8"));
    ce_cidr_list_destroy(l);

    /* prefix lengths at the edges */
    l = ce_cidr_list_parse("1.2.3.4/32,::/0", err, sizeof err);
    CHECK(l != NULL);
    CHECK(contains(l, "1.2.3.4"));
    CHECK(!contains(l, "1.2.3.5"));
    CHECK(contains(l, "2a01::1"));
    ce_cidr_list_destroy(l);
    l = ce_cidr_list_parse("2a01:4f8::1/128,fe80::%eth0/10", err, sizeof err);
    CHECK(l != NULL);
    CHECK(contains(l, "2a01:4f8::1"));
    CHECK(!contains(l, "2a01:4f8::2"));
    CHECK(contains(l, "febf::1"));
    ce_cidr_list_destroy(l);

    /* empty specs are empty lists */
    l = ce_cidr_list_parse("", err, sizeof err);
    CHECK(l != NULL);
    CHECK(!contains(l, "8.8.8.8"));
    ce_cidr_list_destroy(l);
    l = ce_cidr_list_parse("  ", err, sizeof err);
    CHECK(l != NULL);
    ce_cidr_list_destroy(l);
    CHECK(!ce_cidr_list_contains(NULL, &(struct ce_addr){4, {8, 8, 8, 8}}));
    ce_cidr_list_destroy(NULL);

    static const char *const bad[] = {
        "1.2.3.4/33",
        "1.2.3.4/",
        "1.2.3.4/-1",
        "1.2.3.4/08",
        "1.2.3.4/1a",
        "1.2.3.4/8/8",
        "::/129",
        "::/1000",
        "01.2.3.4/8",
        "10.0.0.0/8,",
        ",10.0.0.0/8",
        "10.0.0.0/8,,1.1.1.1",
        "example.com",
        "1.2.3.4 5",
        "::ffff:1.2.3.4/95",
        "::ffff:1.2.3.4/129",
        "/8",
        "1.2.3.4/ 8",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        l = ce_cidr_list_parse(bad[i], err, sizeof err);
        if (l)
            fprintf(stderr, "accepted bad spec [%s]\n", bad[i]);
        CHECK(l == NULL);
        CHECK(err[0] != '\0');
        ce_cidr_list_destroy(l);
    }
    /* the message names the item, and a tiny buffer is not overrun */
    l = ce_cidr_list_parse("10.0.0.0/8,1.2.3.4/40", err, sizeof err);
    CHECK(l == NULL);
    CHECK(strstr(err, "1.2.3.4/40") != NULL);
    char tiny[8];
    CHECK(ce_cidr_list_parse("nope", tiny, sizeof tiny) == NULL);
    CHECK(strlen(tiny) < sizeof tiny);
    CHECK(ce_cidr_list_parse("nope", NULL, 0) == NULL);
}

int main(void)
{
    test_parse_format();
    test_global();
    test_cidr();
    return check_summary("test_addr");
}
