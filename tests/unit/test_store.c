/* test_store.c: the cache and quota ledger, including several processes
 * sharing one database (fork). */
#define _DEFAULT_SOURCE /* timegm */

#include "check.h"
#include "store.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Not in store.h (an addition of store.c). */
enum ce_reserve ce_store_reserve_uncached(struct ce_store *s, const char *fp,
                                          const struct ce_quota_spec *spec, const char *ip,
                                          int64_t now, long claim_ttl, long ttl, long neg_ttl);

#define NOW 1796410800 /* 2026-12-04T19:00:00Z, a Friday */
#define DAY 86400

static char tmpdir[64];

static const char *path_of(const char *name)
{
    static char buf[4][256];
    static int n;
    char *p = buf[n++ % 4];

    snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
    return p;
}

static struct ce_store *open_ok(const char *name)
{
    char err[512] = "";
    struct ce_store *s = ce_store_open(path_of(name), err, sizeof err);

    if (!s)
        fprintf(stderr, "open %s: %s\n", name, err);
    return s;
}

static int64_t utc(int y, int mo, int d, int h, int mi, int sec)
{
    struct tm tm = {0};

    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    return (int64_t)timegm(&tm);
}

/* Direct SQL on the file, as another program would do it. */
static long long sql_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 10000);
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return v;
}

static bool sql_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    bool ok = false;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 10000);
        ok = sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
    }
    sqlite3_close(db);
    return ok;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void remove_tree(const char *path)
{
    struct stat sb;

    if (lstat(path, &sb) != 0)
        return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d;
        struct dirent *e;

        chmod(path, 0700);
        d = opendir(path);
        while (d && (e = readdir(d))) {
            char sub[512];

            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            remove_tree(sub);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Exit status of a child, -1 if it did not exit normally (a crash). */
static int wait_child(pid_t pid)
{
    int status;

    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_fingerprint(void)
{
    char fp[17], *big;
    static const struct {
        size_t n;
        const char *want;
    } runs[] = {
        {55, "9f4390f8d30c2dd9"},  {56, "b35439a4ac6f0948"},      {63, "7d3e74a05d7db15b"},
        {64, "ffe054fe7ae0cb6d"},  {65, "635361c48bb9eab1"},      {119, "31eba51c313a5c08"},
        {128, "6836cf13bac400e9"}, {1000000, "cdc76e5c9914fb92"},
    };

    ce_key_fingerprint("abc", fp);
    CHECK_STR(fp, "ba7816bf8f01cfea");
    ce_key_fingerprint("", fp);
    CHECK_STR(fp, "e3b0c44298fc1c14");
    ce_key_fingerprint("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", fp);
    CHECK_STR(fp, "248d6a61d20638b8");
    /* Runs of 'a' across the one- and two-block padding boundaries. */
    big = ce_xmalloc(1000001);
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        memset(big, 'a', runs[i].n);
        big[runs[i].n] = '\0';
        ce_key_fingerprint(big, fp);
        CHECK_STR(fp, runs[i].want);
    }
    free(big);
    CHECK(strlen(fp) == 16);
}

static void test_quota_parse(void)
{
    struct ce_quota_spec q = {-1, CE_PERIOD_NONE};

    CHECK(ce_quota_parse("50/day", &q) && q.limit == 50 && q.period == CE_PERIOD_DAY);
    CHECK(ce_quota_parse("30/w", &q) && q.limit == 30 && q.period == CE_PERIOD_WEEK);
    CHECK(ce_quota_parse("120/month", &q) && q.limit == 120 && q.period == CE_PERIOD_MONTH);
    CHECK(ce_quota_parse("7/d", &q) && q.limit == 7 && q.period == CE_PERIOD_DAY);
    CHECK(ce_quota_parse("1500/m", &q) && q.limit == 1500 && q.period == CE_PERIOD_MONTH);
    CHECK(ce_quota_parse("2/week", &q) && q.limit == 2 && q.period == CE_PERIOD_WEEK);
    CHECK(ce_quota_parse("5/Day", &q) && q.limit == 5 && q.period == CE_PERIOD_DAY);
    /* A zero budget is valid: it forbids every lookup. */
    CHECK(ce_quota_parse("0/day", &q) && q.limit == 0 && q.period == CE_PERIOD_DAY);

    q.limit = 99;
    q.period = CE_PERIOD_WEEK;
    CHECK(!ce_quota_parse("10", &q));
    CHECK(!ce_quota_parse("10/year", &q));
    CHECK(!ce_quota_parse("-1/day", &q));
    CHECK(!ce_quota_parse("+1/day", &q));
    CHECK(!ce_quota_parse("abc/day", &q));
    CHECK(!ce_quota_parse("/day", &q));
    CHECK(!ce_quota_parse("10/", &q));
    CHECK(!ce_quota_parse(" 10/day", &q));
    CHECK(!ce_quota_parse("10/day ", &q));
    CHECK(!ce_quota_parse("10 /day", &q));
    CHECK(!ce_quota_parse("1.5/day", &q));
    CHECK(!ce_quota_parse("99999999999999999999999/day", &q));
    CHECK(!ce_quota_parse("", &q));
    CHECK(!ce_quota_parse(NULL, &q));
    /* A failed parse leaves the output alone. */
    CHECK(q.limit == 99 && q.period == CE_PERIOD_WEEK);
}

static void check_window(enum ce_period p, int64_t now, int64_t want_start, int64_t want_end)
{
    int64_t a = -1, b = -1;

    ce_quota_window(p, now, &a, &b);
    CHECK(a == want_start);
    CHECK(b == want_end);
    if (a != want_start || b != want_end)
        fprintf(stderr, "  window(%d, %lld) = [%lld, %lld), want [%lld, %lld)\n", (int)p,
                (long long)now, (long long)a, (long long)b, (long long)want_start,
                (long long)want_end);
}

static void test_windows(void)
{
    /* Hard-coded once, so the test does not only compare timegm with itself. */
    CHECK(utc(2026, 12, 4, 19, 0, 0) == 1796410800);
    CHECK(utc(2026, 12, 4, 0, 0, 0) == 1796342400);
    CHECK(utc(2026, 11, 30, 0, 0, 0) == 1795996800);
    CHECK(utc(2027, 1, 1, 0, 0, 0) == 1798761600);

    check_window(CE_PERIOD_DAY, NOW, 1796342400, 1796428800);
    check_window(CE_PERIOD_WEEK, NOW, 1795996800, utc(2026, 12, 7, 0, 0, 0));
    check_window(CE_PERIOD_MONTH, NOW, utc(2026, 12, 1, 0, 0, 0), 1798761600);
    check_window(CE_PERIOD_NONE, NOW, 0, INT64_MAX);

    /* Edges: the first and last second of a window. */
    check_window(CE_PERIOD_DAY, 1796342400, 1796342400, 1796428800);
    check_window(CE_PERIOD_DAY, 1796428799, 1796342400, 1796428800);
    check_window(CE_PERIOD_WEEK, 1795996800, 1795996800, 1795996800 + 7 * DAY);
    check_window(CE_PERIOD_WEEK, 1795996799, 1795996800 - 7 * DAY, 1795996800);

    /* Year end: Thursday 2026-12-31, the week runs into 2027. */
    int64_t last = utc(2026, 12, 31, 23, 59, 59);
    check_window(CE_PERIOD_DAY, last, utc(2026, 12, 31, 0, 0, 0), utc(2027, 1, 1, 0, 0, 0));
    check_window(CE_PERIOD_WEEK, last, utc(2026, 12, 28, 0, 0, 0), utc(2027, 1, 4, 0, 0, 0));
    check_window(CE_PERIOD_MONTH, last, utc(2026, 12, 1, 0, 0, 0), utc(2027, 1, 1, 0, 0, 0));
    check_window(CE_PERIOD_MONTH, last + 1, utc(2027, 1, 1, 0, 0, 0), utc(2027, 2, 1, 0, 0, 0));
    check_window(CE_PERIOD_WEEK, last + 1, utc(2026, 12, 28, 0, 0, 0), utc(2027, 1, 4, 0, 0, 0));

    /* February, leap and not. */
    check_window(CE_PERIOD_MONTH, utc(2028, 2, 29, 12, 0, 0), 1832976000, 1835481600);
    CHECK(1835481600 - 1832976000 == 29 * DAY);
    check_window(CE_PERIOD_DAY, utc(2028, 2, 29, 12, 0, 0), 1835395200, 1835481600);
    check_window(CE_PERIOD_MONTH, utc(2027, 2, 14, 0, 0, 0), 1801440000, 1803859200);
    CHECK(1803859200 - 1801440000 == 28 * DAY);

    /* A Sunday belongs to the week that began the Monday before. */
    check_window(CE_PERIOD_WEEK, utc(2026, 12, 6, 23, 0, 0), 1795996800, 1795996800 + 7 * DAY);
    /* The epoch was a Thursday. */
    check_window(CE_PERIOD_WEEK, 0, -3 * DAY, 4 * DAY);
}

struct collected {
    char ips[16][48];
    int n;
    int stop_after;
};

static bool collect(void *ud, const char *ip, bool found, const char *body, size_t len,
                    int64_t fetched_at)
{
    struct collected *c = ud;

    (void)fetched_at;
    if (c->n < 16)
        snprintf(c->ips[c->n], sizeof c->ips[0], "%s", ip);
    c->n++;
    CHECK(found ? body != NULL : body == NULL);
    CHECK(found || len == 0);
    return c->stop_after == 0 || c->n < c->stop_after;
}

static void test_put_get(void)
{
    struct ce_store *s = open_ok("answers.db");
    char *body = NULL;
    size_t len = 0;
    int64_t at = 0;
    static const char bin[] = {'{', 0, '}', 1};

    if (!s) {
        CHECK(0);
        return;
    }
    CHECK(ce_store_get(s, "1.2.3.4", NOW, 3600, 600, &body, &len, &at) == CE_STORE_MISS);
    CHECK(body == NULL && len == 0 && at == 0);

    CHECK(ce_store_put(s, "1.2.3.4", true, "{\"ip\":\"1.2.3.4\"}", 16, NOW - 100));
    CHECK(ce_store_put(s, "2001:db8::1", false, NULL, 0, NOW - 100));
    CHECK(ce_store_put(s, "5.6.7.8", true, bin, sizeof bin, NOW - 100));

    CHECK(ce_store_get(s, "1.2.3.4", NOW, 3600, 600, &body, &len, &at) == CE_STORE_FOUND);
    CHECK_MEM(body, len, "{\"ip\":\"1.2.3.4\"}", (size_t)16);
    CHECK(body && body[len] == '\0');
    CHECK(at == NOW - 100);
    free(body);

    CHECK(ce_store_get(s, "5.6.7.8", NOW, 3600, 600, &body, &len, NULL) == CE_STORE_FOUND);
    CHECK_MEM(body, len, bin, sizeof bin);
    free(body);

    body = (char *)1;
    CHECK(ce_store_get(s, "2001:db8::1", NOW, 3600, 600, &body, &len, &at) == CE_STORE_NOT_FOUND);
    CHECK(body == NULL && len == 0 && at == NOW - 100);
    /* All out-parameters are optional. */
    CHECK(ce_store_get(s, "1.2.3.4", NOW, 3600, 600, NULL, NULL, NULL) == CE_STORE_FOUND);

    /* ttl: age == ttl is still fresh, one second more is a miss. */
    CHECK(ce_store_get(s, "1.2.3.4", NOW, 100, 600, NULL, NULL, NULL) == CE_STORE_FOUND);
    CHECK(ce_store_get(s, "1.2.3.4", NOW + 1, 100, 600, NULL, NULL, NULL) == CE_STORE_MISS);
    CHECK(ce_store_get(s, "2001:db8::1", NOW, 3600, 100, NULL, NULL, NULL) == CE_STORE_NOT_FOUND);
    CHECK(ce_store_get(s, "2001:db8::1", NOW + 1, 3600, 100, NULL, NULL, NULL) == CE_STORE_MISS);
    /* The two ttls apply to their own kind only. */
    CHECK(ce_store_get(s, "1.2.3.4", NOW + 1000, 3600, 1, NULL, NULL, NULL) == CE_STORE_FOUND);
    CHECK(ce_store_get(s, "2001:db8::1", NOW + 1000, 1, 3600, NULL, NULL, NULL) ==
          CE_STORE_NOT_FOUND);
    /* A negative ttl never expires. */
    CHECK(ce_store_get(s, "1.2.3.4", INT64_MAX, -1, 1, NULL, NULL, NULL) == CE_STORE_FOUND);

    /* Overwrite with a newer answer: a 404 becomes data. */
    CHECK(ce_store_put(s, "2001:db8::1", true, "new", 3, NOW));
    CHECK(ce_store_get(s, "2001:db8::1", NOW, 3600, 600, &body, &len, &at) == CE_STORE_FOUND);
    CHECK_MEM(body, len, "new", (size_t)3);
    CHECK(at == NOW);
    free(body);
    /* An older answer (an import) does not replace a newer one. */
    CHECK(ce_store_put(s, "2001:db8::1", false, NULL, 0, NOW - 5000));
    CHECK(ce_store_get(s, "2001:db8::1", NOW, -1, -1, NULL, NULL, &at) == CE_STORE_FOUND);
    CHECK(at == NOW);
    /* An empty 200 body is still found, with an empty string. */
    CHECK(ce_store_put(s, "9.9.9.9", true, NULL, 0, NOW));
    CHECK(ce_store_get(s, "9.9.9.9", NOW, 3600, 600, &body, &len, NULL) == CE_STORE_FOUND);
    CHECK(body && len == 0 && body[0] == '\0');
    free(body);

    CHECK(ce_store_get(s, NULL, NOW, 1, 1, NULL, NULL, NULL) == CE_STORE_ERROR);
    CHECK(ce_store_get(NULL, "1.2.3.4", NOW, 1, 1, NULL, NULL, NULL) == CE_STORE_ERROR);
    CHECK(!ce_store_put(NULL, "1.2.3.4", true, "", 0, NOW));
    CHECK(strcmp(ce_store_error(s), "no error") != 0); /* the NULL ip above */

    ce_store_close(s);

    /* Write-through: another handle (a new process) sees it at once. */
    s = open_ok("answers.db");
    CHECK(s && ce_store_get(s, "5.6.7.8", NOW, 3600, 600, NULL, NULL, NULL) == CE_STORE_FOUND);
    ce_store_close(s);
    ce_store_close(NULL);
}

static void test_each_purge_stats(void)
{
    struct ce_store *s = open_ok("maint.db");
    struct ce_store_stats st;
    struct collected c = {0};

    if (!s) {
        CHECK(0);
        return;
    }
    CHECK(ce_store_stats(s, NOW, 3600, 600, &st));
    CHECK(st.found == 0 && st.not_found == 0 && st.expired_found == 0 &&
          st.expired_not_found == 0 && st.claims == 0 && st.oldest == 0 && st.newest == 0);
    CHECK(st.bytes > 0);

    CHECK(ce_store_put(s, "9.9.9.9", true, "a", 1, NOW - 10));        /* fresh */
    CHECK(ce_store_put(s, "10.0.0.1", true, "b", 1, NOW - 7200));     /* expired */
    CHECK(ce_store_put(s, "1.1.1.1", false, NULL, 0, NOW - 10));      /* fresh 404 */
    CHECK(ce_store_put(s, "2001:db8::2", false, NULL, 0, NOW - 700)); /* expired 404 */
    CHECK(ce_store_put(s, "8.8.8.8", true, "c", 1, NOW - 5));         /* fresh */

    CHECK(ce_store_each(s, collect, &c));
    CHECK(c.n == 5);
    /* ip (text) order. */
    CHECK_STR(c.ips[0], "1.1.1.1");
    CHECK_STR(c.ips[1], "10.0.0.1");
    CHECK_STR(c.ips[2], "2001:db8::2");
    CHECK_STR(c.ips[3], "8.8.8.8");
    CHECK_STR(c.ips[4], "9.9.9.9");
    memset(&c, 0, sizeof c);
    c.stop_after = 2;
    CHECK(ce_store_each(s, collect, &c));
    CHECK(c.n == 2);

    CHECK(ce_store_reserve(s, "fp", NULL, "7.7.7.7", NOW, 60) == CE_RESERVE_GRANTED);
    CHECK(ce_store_stats(s, NOW, 3600, 600, &st));
    CHECK(st.found == 2);
    CHECK(st.not_found == 1);
    CHECK(st.expired_found == 1);
    CHECK(st.expired_not_found == 1);
    CHECK(st.claims == 1);
    CHECK(st.oldest == NOW - 7200);
    CHECK(st.newest == NOW - 5);

    CHECK(ce_store_purge(s, true, NOW, 3600, 600) == 2);
    CHECK(ce_store_get(s, "10.0.0.1", NOW, -1, -1, NULL, NULL, NULL) == CE_STORE_MISS);
    CHECK(ce_store_get(s, "9.9.9.9", NOW, -1, -1, NULL, NULL, NULL) == CE_STORE_FOUND);
    CHECK(ce_store_purge(s, true, NOW, 3600, 600) == 0);
    /* Our own live claim survives a purge. */
    CHECK(ce_store_stats(s, NOW, 3600, 600, &st) && st.claims == 1);
    CHECK(ce_store_purge(s, false, NOW, 3600, 600) == 3);
    CHECK(ce_store_stats(s, NOW, 3600, 600, &st));
    CHECK(st.found == 0 && st.not_found == 0 && st.oldest == 0);
    ce_store_release(s, "7.7.7.7");
    CHECK(ce_store_stats(s, NOW, 3600, 600, &st) && st.claims == 0);
    ce_store_close(s);

    /* A claim of a process that is gone is removed by a purge. */
    CHECK(sql_exec(path_of("maint.db"), "INSERT INTO claims VALUES('6.6.6.6', 2147483647, 0)"));
    s = open_ok("maint.db");
    CHECK(s && ce_store_purge(s, false, NOW, 1, 1) == 0);
    CHECK(s && ce_store_stats(s, NOW, 1, 1, &st) && st.claims == 0);
    ce_store_close(s);
}

static void test_reserve_budget(void)
{
    struct ce_store *s = open_ok("quota.db");
    struct ce_quota_spec day = {3, CE_PERIOD_DAY}, week = {5, CE_PERIOD_WEEK};
    struct ce_quota_spec month = {7, CE_PERIOD_MONTH}, life = {2, CE_PERIOD_NONE};
    struct ce_quota_spec zero = {0, CE_PERIOD_DAY}, unlimited = {-1, CE_PERIOD_NONE};
    char ip[32];
    long spent = -1;
    int64_t until = -1;

    if (!s) {
        CHECK(0);
        return;
    }
    /* N/day grants exactly N, then EXHAUSTED until the next day. */
    for (int i = 0; i < 3; i++) {
        snprintf(ip, sizeof ip, "10.0.0.%d", i);
        CHECK(ce_store_reserve(s, "k1", &day, ip, NOW + i, 60) == CE_RESERVE_GRANTED);
        CHECK(ce_store_put(s, ip, true, "x", 1, NOW + i));
    }
    CHECK(ce_store_reserve(s, "k1", &day, "10.0.1.1", NOW, 60) == CE_RESERVE_EXHAUSTED);
    CHECK(ce_store_reserve(s, "k1", &day, "10.0.1.1", 1796428799, 60) == CE_RESERVE_EXHAUSTED);
    CHECK(ce_store_quota_status(s, "k1", &day, NOW, &spent, &until));
    CHECK(spent == 3 && until == 0);
    /* An exhausted reserve spends nothing and claims nothing. */
    CHECK(sql_int(path_of("quota.db"), "SELECT COUNT(*) FROM claims") == 0);
    CHECK(ce_store_reserve(s, "k1", &day, "10.0.1.1", 1796428800, 60) == CE_RESERVE_GRANTED);
    CHECK(ce_store_quota_status(s, "k1", &day, 1796428800, &spent, NULL) && spent == 1);
    ce_store_release(s, "10.0.1.1");
    /* Another key has its own ledger. */
    CHECK(ce_store_reserve(s, "k2", &day, "10.0.2.1", NOW, 60) == CE_RESERVE_GRANTED);
    ce_store_release(s, "10.0.2.1");
    /* The same spends seen through a wider window (the --quota changed). */
    CHECK(ce_store_quota_status(s, "k1", &week, NOW + DAY, &spent, NULL) && spent == 4);
    CHECK(ce_store_quota_status(s, "k1", &month, NOW, &spent, NULL) && spent == 4);
    CHECK(ce_store_quota_status(s, "k1", NULL, NOW, &spent, NULL) && spent == 4);

    /* Week: k3 spends 5 across the week (Mon..Sun), the next Monday resets. */
    int64_t monday = 1795996800;
    for (int i = 0; i < 5; i++) {
        snprintf(ip, sizeof ip, "10.3.0.%d", i);
        CHECK(ce_store_reserve(s, "k3", &week, ip, monday + i * DAY + 3600, 60) ==
              CE_RESERVE_GRANTED);
        ce_store_release(s, ip);
    }
    CHECK(ce_store_reserve(s, "k3", &week, "10.3.1.1", monday + 7 * DAY - 1, 60) ==
          CE_RESERVE_EXHAUSTED);
    CHECK(ce_store_reserve(s, "k3", &week, "10.3.1.1", monday + 7 * DAY, 60) == CE_RESERVE_GRANTED);
    ce_store_release(s, "10.3.1.1");

    /* Month: 7 in December, January is new. */
    for (int i = 0; i < 7; i++) {
        snprintf(ip, sizeof ip, "10.4.0.%d", i);
        CHECK(ce_store_reserve(s, "k4", &month, ip, utc(2026, 12, 1 + 4 * i, 0, 0, 0), 60) ==
              CE_RESERVE_GRANTED);
        ce_store_release(s, ip);
    }
    CHECK(ce_store_reserve(s, "k4", &month, "10.4.1.1", utc(2026, 12, 31, 23, 59, 59), 60) ==
          CE_RESERVE_EXHAUSTED);
    CHECK(ce_store_reserve(s, "k4", &month, "10.4.1.1", utc(2027, 1, 1, 0, 0, 0), 60) ==
          CE_RESERVE_GRANTED);
    ce_store_release(s, "10.4.1.1");

    /* Lifetime budget: never resets. */
    CHECK(ce_store_reserve(s, "k5", &life, "10.5.0.1", 0, 60) == CE_RESERVE_GRANTED);
    CHECK(ce_store_reserve(s, "k5", &life, "10.5.0.2", NOW, 60) == CE_RESERVE_GRANTED);
    CHECK(ce_store_reserve(s, "k5", &life, "10.5.0.3", NOW + 400 * DAY, 60) ==
          CE_RESERVE_EXHAUSTED);
    ce_store_release(s, "10.5.0.1");
    ce_store_release(s, "10.5.0.2");

    /* A zero budget grants nothing; no budget grants and still counts. */
    CHECK(ce_store_reserve(s, "k6", &zero, "10.6.0.1", NOW, 60) == CE_RESERVE_EXHAUSTED);
    for (int i = 0; i < 10; i++) {
        snprintf(ip, sizeof ip, "10.7.0.%d", i);
        CHECK(ce_store_reserve(s, "k7", &unlimited, ip, NOW, 60) == CE_RESERVE_GRANTED);
        CHECK(ce_store_reserve(s, "k8", NULL, ip, NOW, 60) == CE_RESERVE_GRANTED);
        ce_store_release(s, ip);
    }
    CHECK(ce_store_quota_status(s, "k7", &unlimited, NOW, &spent, NULL) && spent == 10);
    CHECK(ce_store_quota_status(s, "k8", &day, NOW, &spent, NULL) && spent == 10);

    CHECK(ce_store_reserve(s, NULL, &day, "1.1.1.1", NOW, 60) == CE_RESERVE_ERROR);
    CHECK(ce_store_reserve(s, "k1", &day, NULL, NOW, 60) == CE_RESERVE_ERROR);
    CHECK(ce_store_reserve(NULL, "k1", &day, "1.1.1.1", NOW, 60) == CE_RESERVE_ERROR);
    CHECK(sql_int(path_of("quota.db"), "SELECT COUNT(*) FROM claims") == 0);
    ce_store_close(s);
}

static void test_block(void)
{
    struct ce_store *s = open_ok("block.db");
    struct ce_quota_spec day = {100, CE_PERIOD_DAY};
    long spent = -1;
    int64_t until = -1;

    if (!s) {
        CHECK(0);
        return;
    }
    CHECK(ce_store_block(s, "kb", NOW + 3600));
    CHECK(ce_store_reserve(s, "kb", &day, "1.1.1.1", NOW, 60) == CE_RESERVE_BLOCKED);
    CHECK(ce_store_reserve(s, "kb", NULL, "1.1.1.1", NOW + 3599, 60) == CE_RESERVE_BLOCKED);
    CHECK(ce_store_quota_status(s, "kb", &day, NOW, &spent, &until));
    CHECK(spent == 0 && until == NOW + 3600);
    /* A shorter block does not shorten the existing one; a longer one wins. */
    CHECK(ce_store_block(s, "kb", NOW + 60));
    CHECK(ce_store_reserve(s, "kb", &day, "1.1.1.1", NOW + 120, 60) == CE_RESERVE_BLOCKED);
    CHECK(ce_store_block(s, "kb", NOW + 7200));
    CHECK(ce_store_reserve(s, "kb", &day, "1.1.1.1", NOW + 3600, 60) == CE_RESERVE_BLOCKED);
    /* Other keys are not blocked. */
    CHECK(ce_store_reserve(s, "kc", &day, "1.1.1.1", NOW, 60) == CE_RESERVE_GRANTED);
    ce_store_release(s, "1.1.1.1");
    /* Blocked wins over a claim. */
    CHECK(ce_store_reserve(s, "kb", &day, "1.1.1.1", NOW + 7200, 60) == CE_RESERVE_GRANTED);
    CHECK(ce_store_quota_status(s, "kb", &day, NOW + 7200, &spent, &until));
    CHECK(spent == 1 && until == 0);
    CHECK(!ce_store_block(s, NULL, NOW));
    ce_store_close(s);

    /* The block is remembered for the next run. */
    s = open_ok("block.db");
    CHECK(s && ce_store_reserve(s, "kb", &day, "2.2.2.2", NOW + 7199, 60) == CE_RESERVE_BLOCKED);
    ce_store_close(s);
}

/* A child that claims ip through its own handle, tells the parent, and holds
 * on (alive) until the parent closes *hold. */
static pid_t spawn_claimer(const char *db, const char *ip, int64_t now, int *hold_fd)
{
    int ready[2], hold[2];
    pid_t pid;
    char c = 0;

    if (pipe(ready) != 0)
        return -1;
    if (pipe(hold) != 0) {
        close(ready[0]);
        close(ready[1]);
        return -1;
    }
    pid = fork();
    if (pid == 0) {
        char err[512];
        struct ce_store *s = ce_store_open(path_of(db), err, sizeof err);
        int rc = 1;

        close(ready[0]);
        close(hold[1]);
        if (s && ce_store_reserve(s, "kc", NULL, ip, now, 3600) == CE_RESERVE_GRANTED)
            rc = 0;
        c = rc ? 'n' : 'y';
        if (write(ready[1], &c, 1) != 1)
            rc = 1;
        if (read(hold[0], &c, 1) < 0)
            rc = 1;
        ce_store_close(s);
        _exit(rc);
    }
    close(ready[1]);
    close(hold[0]);
    if (pid < 0 || read(ready[0], &c, 1) != 1 || c != 'y') {
        close(ready[0]);
        close(hold[1]);
        return -1;
    }
    close(ready[0]);
    *hold_fd = hold[1];
    return pid;
}

static void test_claims(void)
{
    struct ce_store *s = open_ok("claims.db");
    struct ce_quota_spec day = {100, CE_PERIOD_DAY};
    const char *db = path_of("claims.db");
    pid_t child;
    int hold = -1;
    long spent;

    if (!s) {
        CHECK(0);
        return;
    }
    /* Our own claim is no claim (and a second reserve spends again). */
    CHECK(ce_store_reserve(s, "kc", &day, "3.3.3.3", NOW, 60) == CE_RESERVE_GRANTED);
    CHECK(ce_store_reserve(s, "kc", &day, "3.3.3.3", NOW, 60) == CE_RESERVE_GRANTED);
    CHECK(ce_store_quota_status(s, "kc", &day, NOW, &spent, NULL) && spent == 2);
    /* release drops it; put drops it in the same transaction. */
    ce_store_release(s, "3.3.3.3");
    CHECK(sql_int(db, "SELECT COUNT(*) FROM claims") == 0);
    CHECK(ce_store_reserve(s, "kc", &day, "3.3.3.3", NOW, 60) == CE_RESERVE_GRANTED);
    CHECK(sql_int(db, "SELECT pid FROM claims WHERE ip = '3.3.3.3'") == (long long)getpid());
    CHECK(ce_store_put(s, "3.3.3.3", true, "{}", 2, NOW));
    CHECK(sql_int(db, "SELECT COUNT(*) FROM claims") == 0);

    /* A live other process holds a claim: CLAIMED, and nothing is spent. */
    child = spawn_claimer("claims.db", "4.4.4.4", NOW, &hold);
    CHECK(child > 0);
    CHECK(sql_int(db, "SELECT pid FROM claims WHERE ip = '4.4.4.4'") == (long long)child);
    CHECK(ce_store_quota_status(s, "kc", &day, NOW, &spent, NULL) && spent == 4);
    CHECK(ce_store_reserve(s, "kc", &day, "4.4.4.4", NOW + 10, 3600) == CE_RESERVE_CLAIMED);
    CHECK(ce_store_reserve(s, "kc", &day, "4.4.4.4", NOW + 3600, 3600) == CE_RESERVE_CLAIMED);
    CHECK(ce_store_quota_status(s, "kc", &day, NOW, &spent, NULL) && spent == 4);
    /* Our put and release never drop another process's claim. */
    ce_store_release(s, "4.4.4.4");
    CHECK(ce_store_put(s, "4.4.4.4", true, "{}", 2, NOW));
    CHECK(ce_store_reserve(s, "kc", &day, "4.4.4.4", NOW + 10, 3600) == CE_RESERVE_CLAIMED);
    /* Older than claim_ttl: stale although the process lives. */
    CHECK(ce_store_reserve(s, "kc", &day, "4.4.4.4", NOW + 3601, 3600) == CE_RESERVE_GRANTED);
    CHECK(sql_int(db, "SELECT pid FROM claims WHERE ip = '4.4.4.4'") == (long long)getpid());
    ce_store_release(s, "4.4.4.4");
    close(hold);
    CHECK(wait_child(child) == 0);

    /* The process is gone: its claim is stale at once. */
    child = spawn_claimer("claims.db", "5.5.5.5", NOW, &hold);
    CHECK(child > 0);
    CHECK(ce_store_reserve(s, "kc", &day, "5.5.5.5", NOW, 3600) == CE_RESERVE_CLAIMED);
    close(hold);
    CHECK(wait_child(child) == 0);
    CHECK(ce_store_reserve(s, "kc", &day, "5.5.5.5", NOW, 3600) == CE_RESERVE_GRANTED);
    CHECK(ce_store_put(s, "5.5.5.5", false, NULL, 0, NOW));
    CHECK(sql_int(db, "SELECT COUNT(*) FROM claims") == 0);

    /* pid 1 always lives (EPERM for non-root still means alive); a claim
     * from a clock set back by more than the ttl is stale. */
    CHECK(sql_exec(db, "INSERT INTO claims VALUES('6.6.6.6', 1, 1796410800)"));
    CHECK(ce_store_reserve(s, "kc", NULL, "6.6.6.6", NOW, 600) == CE_RESERVE_CLAIMED);
    CHECK(ce_store_reserve(s, "kc", NULL, "6.6.6.6", NOW - 599, 600) == CE_RESERVE_CLAIMED);
    CHECK(ce_store_reserve(s, "kc", NULL, "6.6.6.6", NOW - 601, 600) == CE_RESERVE_GRANTED);
    /* Nonsense pids in the table (0 would mean our process group) are gone. */
    CHECK(sql_exec(db, "INSERT OR REPLACE INTO claims VALUES('7.7.7.7', 0, 1796410800);"
                       "INSERT OR REPLACE INTO claims VALUES('8.8.8.8', -1, 1796410800);"
                       "INSERT OR REPLACE INTO claims VALUES('9.9.9.9', 99999999999, 1796410800)"));
    CHECK(ce_store_reserve(s, "kc", NULL, "7.7.7.7", NOW, 600) == CE_RESERVE_GRANTED);
    CHECK(ce_store_reserve(s, "kc", NULL, "8.8.8.8", NOW, 600) == CE_RESERVE_GRANTED);
    CHECK(ce_store_reserve(s, "kc", NULL, "9.9.9.9", NOW, 600) == CE_RESERVE_GRANTED);
    ce_store_close(s);
}

static void test_reserve_uncached(void)
{
    struct ce_store *s = open_ok("uncached.db");
    long spent = -1;

    if (!s) {
        CHECK(0);
        return;
    }
    /* Another process stored the answer after our miss: nothing to spend. */
    CHECK(ce_store_put(s, "1.2.3.4", true, "{}", 2, NOW - 10));
    CHECK(ce_store_reserve_uncached(s, "ku", NULL, "1.2.3.4", NOW, 60, 3600, 600) ==
          CE_RESERVE_CLAIMED);
    CHECK(ce_store_quota_status(s, "ku", NULL, NOW, &spent, NULL) && spent == 0);
    /* Expired, or absent: an ordinary reserve. */
    CHECK(ce_store_reserve_uncached(s, "ku", NULL, "1.2.3.4", NOW, 60, 5, 600) ==
          CE_RESERVE_GRANTED);
    CHECK(ce_store_reserve_uncached(s, "ku", NULL, "4.3.2.1", NOW, 60, 5, 600) ==
          CE_RESERVE_GRANTED);
    CHECK(ce_store_quota_status(s, "ku", NULL, NOW, &spent, NULL) && spent == 2);
    ce_store_close(s);
}

static void test_transactions(void)
{
    struct ce_store *s = open_ok("tx.db");
    struct ce_store_stats st;
    char ip[32];

    if (!s) {
        CHECK(0);
        return;
    }
    CHECK(!ce_store_commit(s));
    CHECK(ce_store_begin(s));
    CHECK(!ce_store_begin(s));
    for (int i = 0; i < 500; i++) {
        snprintf(ip, sizeof ip, "10.1.%d.%d", i / 256, i % 256);
        CHECK(ce_store_put(s, ip, i % 2, "{}", 2, NOW));
    }
    /* Inside the transaction, other connections do not see it yet. */
    CHECK(sql_int(path_of("tx.db"), "SELECT COUNT(*) FROM answers") == 0);
    /* A token must be durable before the lookup: no reserve in a batch. */
    CHECK(ce_store_reserve(s, "kt", NULL, "1.2.3.4", NOW, 60) == CE_RESERVE_ERROR);
    CHECK(strstr(ce_store_error(s), "ce_store_begin") != NULL);
    CHECK(ce_store_commit(s));
    CHECK(sql_int(path_of("tx.db"), "SELECT COUNT(*) FROM answers") == 500);
    CHECK(ce_store_stats(s, NOW, 10, 10, &st) && st.found == 250 && st.not_found == 250);

    /* Closing with an open transaction rolls it back. */
    CHECK(ce_store_begin(s));
    CHECK(ce_store_put(s, "99.0.0.1", true, "{}", 2, NOW));
    ce_store_close(s);
    CHECK(sql_int(path_of("tx.db"), "SELECT COUNT(*) FROM answers") == 500);
}

static void test_open_errors(void)
{
    char err[512];
    struct ce_store *s;
    const char *p;
    char want[600];
    struct stat sb;

    /* A garbage file. */
    p = path_of("garbage.db");
    write_file(p, "this is not a database, only some text that is long enough\n"
                  "to fill more than the one hundred bytes of an SQLite header,\n"
                  "so that SQLite reads it and rejects it.\n");
    err[0] = '\0';
    s = ce_store_open(p, err, sizeof err);
    CHECK(s == NULL);
    snprintf(want, sizeof want, "cache '%s' is not a cti-enrich database (file is not a database)",
             p);
    CHECK_STR(err, want);
    ce_store_close(s);
    /* ... and it was not modified. */
    CHECK(stat(p, &sb) == 0 && sb.st_size == 160);

    /* Somebody else's SQLite database. */
    p = path_of("foreign.db");
    CHECK(sql_exec(p, "CREATE TABLE notes(x); INSERT INTO notes VALUES(1)"));
    s = ce_store_open(p, err, sizeof err);
    CHECK(s == NULL);
    CHECK(strstr(err, "is not a cti-enrich database") != NULL);
    CHECK(sql_int(p, "SELECT COUNT(*) FROM notes") == 1);
    p = path_of("foreign2.db");
    CHECK(sql_exec(p, "PRAGMA application_id = 42"));
    CHECK(ce_store_open(p, err, sizeof err) == NULL);
    CHECK(strstr(err, "another application") != NULL);

    /* A newer schema. */
    s = open_ok("newer.db");
    CHECK(s != NULL);
    ce_store_close(s);
    p = path_of("newer.db");
    CHECK(sql_int(p, "PRAGMA user_version") == 2);
    CHECK(sql_exec(p, "PRAGMA user_version = 99"));
    err[0] = '\0';
    CHECK(ce_store_open(p, err, sizeof err) == NULL);
    CHECK(strstr(err, "schema version 99, newer") != NULL);
    CHECK(strstr(err, p) != NULL);

    /* Parent directories are created, 0700. */
    s = open_ok("a/b/c/cache.db");
    CHECK(s != NULL);
    ce_store_close(s);
    CHECK(stat(path_of("a/b"), &sb) == 0 && S_ISDIR(sb.st_mode) && (sb.st_mode & 0777) == 0700);
    {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;

        sqlite3_open(path_of("a/b/c/cache.db"), &db);
        sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
        CHECK(sqlite3_step(st) == SQLITE_ROW);
        CHECK_STR((const char *)sqlite3_column_text(st, 0), "wal");
        sqlite3_finalize(st);
        sqlite3_close(db);
    }

    /* A regular file where a directory should be: ENOTDIR for everyone. */
    write_file(path_of("plain"), "x");
    p = path_of("plain/sub/cache.db");
    err[0] = '\0';
    CHECK(ce_store_open(p, err, sizeof err) == NULL);
    CHECK(strstr(err, p) != NULL);
    CHECK(strstr(err, strerror(ENOTDIR)) != NULL);
    p = path_of("plain/cache.db");
    err[0] = '\0';
    CHECK(ce_store_open(p, err, sizeof err) == NULL);
    CHECK(strstr(err, p) != NULL);
    CHECK(strstr(err, strerror(ENOTDIR)) != NULL);

    CHECK(ce_store_open("", err, sizeof err) == NULL);

    /* Permissions: root bypasses them, so only for others. */
    if (geteuid() != 0) {
        mkdir(path_of("ro"), 0700);
        chmod(path_of("ro"), 0500);
        p = path_of("ro/cache.db");
        err[0] = '\0';
        CHECK(ce_store_open(p, err, sizeof err) == NULL);
        CHECK(strstr(err, p) != NULL);
        CHECK(strstr(err, strerror(EACCES)) != NULL);
        p = path_of("ro/sub/cache.db");
        err[0] = '\0';
        CHECK(ce_store_open(p, err, sizeof err) == NULL);
        CHECK(strstr(err, "cannot create directory") != NULL);
        CHECK(strstr(err, strerror(EACCES)) != NULL);

        /* An existing database in a directory that became read-only: WAL
         * needs to create files beside it. */
        s = open_ok("ro2/cache.db");
        ce_store_close(s);
        chmod(path_of("ro2"), 0500);
        p = path_of("ro2/cache.db");
        err[0] = '\0';
        CHECK(ce_store_open(p, err, sizeof err) == NULL);
        CHECK(strstr(err, p) != NULL);
        CHECK(strstr(err, strerror(EACCES)) != NULL);
        fprintf(stderr, "  (message: %s)\n", err);

        /* A write-protected database file. */
        s = open_ok("rofile.db");
        ce_store_close(s);
        chmod(path_of("rofile.db"), 0400);
        p = path_of("rofile.db");
        err[0] = '\0';
        CHECK(ce_store_open(p, err, sizeof err) == NULL);
        CHECK(strstr(err, "not writable") != NULL);
        CHECK(strstr(err, p) != NULL);
        fprintf(stderr, "  (message: %s)\n", err);
    } else {
        fprintf(stderr, "  (running as root: permission checks skipped)\n");
    }
}

static void test_rows_deleted_elsewhere(void)
{
    struct ce_store *s = open_ok("shared.db");
    struct collected c = {0};

    if (!s) {
        CHECK(0);
        return;
    }
    CHECK(ce_store_put(s, "1.1.1.1", true, "{}", 2, NOW));
    CHECK(ce_store_put(s, "2.2.2.2", true, "{}", 2, NOW));
    CHECK(ce_store_get(s, "1.1.1.1", NOW, 60, 60, NULL, NULL, NULL) == CE_STORE_FOUND);
    CHECK(sql_exec(path_of("shared.db"), "DELETE FROM answers; DELETE FROM ledger;"
                                         "DELETE FROM claims; DELETE FROM blocks"));
    CHECK(ce_store_get(s, "1.1.1.1", NOW, 60, 60, NULL, NULL, NULL) == CE_STORE_MISS);
    CHECK(ce_store_each(s, collect, &c) && c.n == 0);
    CHECK(ce_store_purge(s, false, NOW, 60, 60) == 0);
    CHECK(ce_store_put(s, "1.1.1.1", true, "{}", 2, NOW));
    CHECK(ce_store_get(s, "1.1.1.1", NOW, 60, 60, NULL, NULL, NULL) == CE_STORE_FOUND);
    ce_store_close(s);
}

/* Several processes spend one budget: exactly the budget is granted. */
static void test_mp_budget(void)
{
    enum { KIDS = 4, BUDGET = 50 };
    pid_t kids[KIDS];
    int total = 0;
    long spent = -1;
    struct ce_quota_spec day = {BUDGET, CE_PERIOD_DAY};
    struct ce_store *s;

    /* Created first so the children race on the budget, not the schema. */
    s = open_ok("mp.db");
    ce_store_close(s);
    for (int k = 0; k < KIDS; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            char err[512], ip[32];
            struct ce_store *cs = ce_store_open(path_of("mp.db"), err, sizeof err);
            int granted = 0;

            if (!cs)
                _exit(255);
            for (int i = 0;; i++) {
                enum ce_reserve r;

                snprintf(ip, sizeof ip, "10.%d.%d.%d", k, i / 256, i % 256);
                r = ce_store_reserve(cs, "mpkey", &day, ip, NOW, 3600);
                if (r == CE_RESERVE_EXHAUSTED)
                    break;
                if (r != CE_RESERVE_GRANTED) {
                    fprintf(stderr, "child %d: %d %s\n", k, (int)r, ce_store_error(cs));
                    _exit(254);
                }
                granted++;
                if (i % 2 && !ce_store_put(cs, ip, true, "{}", 2, NOW))
                    _exit(253);
            }
            ce_store_close(cs);
            _exit(granted);
        }
    }
    for (int k = 0; k < KIDS; k++) {
        int rc = wait_child(kids[k]);

        CHECK(rc >= 0 && rc <= BUDGET);
        if (rc >= 0 && rc <= BUDGET)
            total += rc;
    }
    CHECK(total == BUDGET);
    s = open_ok("mp.db");
    CHECK(s && ce_store_quota_status(s, "mpkey", &day, NOW, &spent, NULL));
    CHECK(spent == BUDGET);
    ce_store_close(s);
    fprintf(stderr, "  (%d processes: %d granted of %d)\n", KIDS, total, BUDGET);
}

/* Several processes ask for the same ips: each is granted to one only while
 * the claim holder lives. */
static void test_mp_same_ips(void)
{
    enum { KIDS = 4, IPS = 40 };
    pid_t kids[KIDS];
    int go[2], done[2], total = 0;
    long spent = -1;
    struct ce_store *s;
    char c;

    s = open_ok("mp2.db");
    ce_store_close(s);
    if (pipe(go) != 0) {
        CHECK(0);
        return;
    }
    if (pipe(done) != 0) {
        close(go[0]);
        close(go[1]);
        CHECK(0);
        return;
    }
    for (int k = 0; k < KIDS; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            char err[512], ip[32];
            struct ce_store *cs = ce_store_open(path_of("mp2.db"), err, sizeof err);
            int granted = 0;

            close(go[1]);
            close(done[0]);
            if (!cs)
                _exit(255);
            for (int i = 0; i < IPS; i++) {
                enum ce_reserve r;

                snprintf(ip, sizeof ip, "192.0.2.%d", i);
                r = ce_store_reserve(cs, "mpkey2", NULL, ip, NOW, 3600);
                if (r == CE_RESERVE_GRANTED)
                    granted++;
                else if (r != CE_RESERVE_CLAIMED)
                    _exit(254);
            }
            /* Hold the claims (stay alive) until every child is done. */
            if (write(done[1], "d", 1) != 1 || read(go[0], &c, 1) < 0)
                _exit(252);
            ce_store_close(cs);
            _exit(granted);
        }
    }
    close(go[0]);
    close(done[1]);
    /* Every child has been through every ip: let them go. A child that died
     * early closes its end too, so this never hangs. */
    for (int k = 0; k < KIDS; k++)
        if (read(done[0], &c, 1) != 1)
            break;
    close(done[0]);
    CHECK(sql_int(path_of("mp2.db"), "SELECT COUNT(*) FROM claims") == IPS);
    close(go[1]);
    for (int k = 0; k < KIDS; k++) {
        int rc = wait_child(kids[k]);

        CHECK(rc >= 0 && rc <= IPS);
        if (rc >= 0 && rc <= IPS)
            total += rc;
    }
    CHECK(total == IPS);
    s = open_ok("mp2.db");
    CHECK(s && ce_store_quota_status(s, "mpkey2", NULL, NOW, &spent, NULL) && spent == IPS);
    ce_store_close(s);
}

static void test_mp_puts(void)
{
    enum { KIDS = 4, PUTS = 200 };
    pid_t kids[KIDS];
    struct ce_store *s;
    struct collected c = {0};

    /* No open before the fork: the children also race to create the schema. */
    for (int k = 0; k < KIDS; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            char err[512], ip[32], body[64];
            struct ce_store *cs = ce_store_open(path_of("mp3.db"), err, sizeof err);

            if (!cs) {
                fprintf(stderr, "child %d: %s\n", k, err);
                _exit(255);
            }
            for (int i = 0; i < PUTS; i++) {
                snprintf(ip, sizeof ip, "10.%d.%d.%d", k, i / 256, i % 256);
                snprintf(body, sizeof body, "{\"k\":%d,\"i\":%d}", k, i);
                if (!ce_store_put(cs, ip, true, body, strlen(body), NOW)) {
                    fprintf(stderr, "child %d: %s\n", k, ce_store_error(cs));
                    _exit(254);
                }
            }
            ce_store_close(cs);
            _exit(0);
        }
    }
    for (int k = 0; k < KIDS; k++)
        CHECK(wait_child(kids[k]) == 0);
    s = open_ok("mp3.db");
    CHECK(s && ce_store_each(s, collect, &c));
    CHECK(c.n == KIDS * PUTS);
    for (int k = 0; k < KIDS && s; k++) {
        char ip[32], *body = NULL, want[64];
        size_t len = 0;

        snprintf(ip, sizeof ip, "10.%d.0.%d", k, PUTS - 1);
        snprintf(want, sizeof want, "{\"k\":%d,\"i\":%d}", k, PUTS - 1);
        CHECK(ce_store_get(s, ip, NOW, 60, 60, &body, &len, NULL) == CE_STORE_FOUND);
        CHECK(body && strcmp(body, want) == 0);
        free(body);
    }
    ce_store_close(s);
}

/* An answer acknowledged by put survives a SIGKILL right after. */
static void test_kill_durability(void)
{
    int acks[2];
    pid_t pid;
    int got = 0;
    char c;
    struct ce_store *s;

    if (pipe(acks) != 0) {
        CHECK(0);
        return;
    }
    pid = fork();
    if (pid == 0) {
        char err[512], ip[32];
        struct ce_store *cs = ce_store_open(path_of("kill.db"), err, sizeof err);

        close(acks[0]);
        if (!cs)
            _exit(255);
        for (int i = 0;; i++) {
            snprintf(ip, sizeof ip, "10.9.%d.%d", (i / 256) % 256, i % 256);
            if (!ce_store_put(cs, ip, true, "{\"x\":1}", 7, NOW))
                _exit(254);
            if (write(acks[1], "a", 1) != 1)
                _exit(253);
        }
    }
    close(acks[1]);
    while (got < 300 && read(acks[0], &c, 1) == 1)
        got++;
    kill(pid, SIGKILL);
    CHECK(wait_child(pid) == -1);
    close(acks[0]);
    s = open_ok("kill.db");
    for (int i = 0; i < got && s; i++) {
        char ip[32];

        snprintf(ip, sizeof ip, "10.9.%d.%d", (i / 256) % 256, i % 256);
        CHECK(ce_store_get(s, ip, NOW, 60, 60, NULL, NULL, NULL) == CE_STORE_FOUND);
    }
    CHECK(got == 300);
    ce_store_close(s);
}

/* A full disk (here: a file size limit) gives errors, not a crash, and loses
 * nothing that was acknowledged. */
static void test_disk_full(void)
{
    pid_t pid;
    int st;
    struct ce_store *s;
    long long n;

    s = open_ok("full.db");
    ce_store_close(s);
    pid = fork();
    if (pid == 0) {
        char err[512], ip[32], *body = ce_xmalloc(8192);
        struct ce_store *cs = ce_store_open(path_of("full.db"), err, sizeof err);
        struct rlimit rl = {256 * 1024, 256 * 1024};
        int ok = 0;

        signal(SIGXFSZ, SIG_IGN);
        if (!cs || setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(255);
        memset(body, 'x', 8192);
        for (int i = 0; i < 1000; i++) {
            snprintf(ip, sizeof ip, "10.8.%d.%d", i / 256, i % 256);
            if (!ce_store_put(cs, ip, true, body, 8192, NOW)) {
                /* Errors are reported, and the handle stays usable. */
                bool msg = strstr(ce_store_error(cs), "storing an answer") != NULL;
                enum ce_store_hit h = ce_store_get(cs, "10.8.0.0", NOW, 60, 60, NULL, NULL, NULL);

                fprintf(stderr, "  (after %d puts: %s)\n", ok, ce_store_error(cs));
                ce_store_close(cs);
                free(body);
                _exit(msg && h == CE_STORE_FOUND && ok > 0 ? (ok > 250 ? 250 : ok) : 254);
            }
            ok++;
        }
        _exit(253);
    }
    st = wait_child(pid);
    CHECK(st > 0 && st <= 250);
    s = open_ok("full.db");
    CHECK(s != NULL);
    n = sql_int(path_of("full.db"), "SELECT COUNT(*) FROM answers");
    CHECK(n >= st);
    {
        sqlite3 *db = NULL;
        sqlite3_stmt *q = NULL;

        sqlite3_open(path_of("full.db"), &db);
        sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL);
        CHECK(sqlite3_step(q) == SQLITE_ROW);
        CHECK_STR((const char *)sqlite3_column_text(q, 0), "ok");
        sqlite3_finalize(q);
        sqlite3_close(db);
    }
    ce_store_close(s);
}

/* Renderings: valid only while their answer is the stored one and fresh. */
static void test_rendered(void)
{
    struct ce_store *s = open_ok("rendered.db");
    char *t = NULL;
    size_t n = 0;
    CHECK(s != NULL);
    CHECK(ce_store_put(s, "8.8.8.8", true, "{}", 2, 1000));
    CHECK(!ce_store_get_rendered(s, "8.8.8.8", 7, 1000, 3600, &t, &n));
    ce_store_put_rendered(s, "8.8.8.8", 7, 1000, "kv text", 7);
    CHECK(ce_store_get_rendered(s, "8.8.8.8", 7, 1000, 3600, &t, &n));
    CHECK(t && n == 7 && !memcmp(t, "kv text", 7));
    free(t);
    t = NULL;
    /* other settings, expired answer */
    CHECK(!ce_store_get_rendered(s, "8.8.8.8", 8, 1000, 3600, &t, &n));
    CHECK(!ce_store_get_rendered(s, "8.8.8.8", 7, 1000 + 3601, 3600, &t, &n));
    /* a newer answer makes the rendering stale */
    CHECK(ce_store_put(s, "8.8.8.8", true, "{\"a\":1}", 7, 2000));
    CHECK(!ce_store_get_rendered(s, "8.8.8.8", 7, 2000, 3600, &t, &n));
    /* purge drops renderings whose answer is gone */
    ce_store_put_rendered(s, "8.8.8.8", 9, 2000, "x", 1);
    CHECK(ce_store_purge(s, false, 2000, 3600, 3600) == 1);
    ce_store_close(s);
    CHECK(sql_int(path_of("rendered.db"), "SELECT COUNT(*) FROM rendered") == 0);

    /* A version 1 file gains the table on open. */
    s = open_ok("v1.db");
    ce_store_close(s);
    CHECK(sql_exec(path_of("v1.db"), "DROP TABLE rendered; PRAGMA user_version = 1"));
    s = open_ok("v1.db");
    CHECK(s != NULL);
    ce_store_close(s);
    CHECK(sql_int(path_of("v1.db"), "PRAGMA user_version") == 2);
    CHECK(sql_int(path_of("v1.db"), "SELECT COUNT(*) FROM rendered") == 0);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_store.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_fingerprint();
    test_quota_parse();
    test_windows();
    test_put_get();
    test_each_purge_stats();
    test_reserve_budget();
    test_block();
    test_claims();
    test_reserve_uncached();
    test_transactions();
    test_open_errors();
    test_rendered();
    test_rows_deleted_elsewhere();
    test_mp_budget();
    test_mp_same_ips();
    test_mp_puts();
    test_kill_durability();
    test_disk_full();
    remove_tree(tmpdir);
    return check_summary("test_store");
}
