/* commands.c: the sub-commands beside enrichment: plan, lookup, cache and
 * quota. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "cti_json.h"
#include "import.h"
#include "log.h"
#include "pipeline.h"
#include "scan.h"
#include "util.h"

static void iso_time(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *period_name(enum ce_period p)
{
    switch (p) {
    case CE_PERIOD_DAY:
        return "day";
    case CE_PERIOD_WEEK:
        return "week";
    case CE_PERIOD_MONTH:
        return "month";
    case CE_PERIOD_NONE:
        break;
    }
    return "";
}

static int finish_stdout(int rc)
{
    errno = 0;
    if (fflush(stdout) || ferror(stdout)) {
        if (errno == EPIPE)
            return rc; /* the reader went away: end quietly, as the filter does */
        ce_err("cannot write the output: %s", errno ? strerror(errno) : "error");
        return CE_EXIT_OUTPUT;
    }
    return rc;
}

/* Describes the budget: "unlimited", or "N (quota 120/month: 37 spent...)". */
static void print_budget(struct ce_app *a, const struct ce_config *cfg, long left)
{
    if (left < 0) {
        printf("budget left:         unlimited (no --quota, no --max-queries)\n");
        return;
    }
    printf("budget left:         %ld", left);
    if (a->quota.limit >= 0) {
        long spent = 0;
        int64_t blocked = 0, now = (int64_t)time(NULL), start, end;
        if (a->store)
            ce_store_quota_status(a->store, a->key_fp, &a->quota, now, &spent, &blocked);
        ce_quota_window(a->quota.period, now, &start, &end);
        printf(" (quota %ld%s%s: %ld spent", a->quota.limit,
               a->quota.period != CE_PERIOD_NONE ? "/" : "", period_name(a->quota.period), spent);
        if (a->quota.period != CE_PERIOD_NONE) {
            char when[32];
            iso_time(end, when);
            printf(", resets %s", when);
        }
        if (blocked > now) {
            char when[32];
            iso_time(blocked, when);
            printf("; Limit Exceeded until %s", when);
        }
        printf(")");
    }
    if (cfg->max_queries >= 0)
        printf(" (--max-queries %ld)", cfg->max_queries);
    printf("\n");
}

int ce_app_plan(struct ce_config *cfg)
{
    struct ce_app a;
    /* plan spends nothing: it never needs the key. */
    bool offline = cfg->offline;
    cfg->offline = cfg->key == NULL;
    int rc = ce_app_setup(&a, cfg, false);
    cfg->offline = offline;
    if (rc) {
        ce_app_free(&a);
        return rc;
    }
    struct ce_scan_result sr;
    ce_scan_files(cfg->args, cfg->nargs, (size_t)cfg->max_line, ce_app_count_line, &a, true, &sr);
    struct ce_plan p;
    ce_resolver_plan(a.r, false, &p);
    printf("lines:               %zu\n", sr.lines);
    printf("unique public IPs:   %zu\n", p.unique);
    printf("cached:              %zu\n", p.cached);
    printf("to look up:          %zu (on %zu lines)\n", p.to_lookup, p.lines_to_lookup);
    print_budget(&a, cfg, p.budget_left);
    if (p.wont_fit)
        printf("would not fit:       %zu IPs on %zu lines (%s)\n", p.wont_fit, p.wont_fit_lines,
               ce_app_reads_stdin(cfg) ? "standard input: first come, first served"
                                       : "the least frequent; they would get status=quota");
    else
        printf("would not fit:       0\n");
    ce_app_free(&a);
    return finish_stdout(sr.input_failed ? CE_EXIT_INPUT : CE_EXIT_OK);
}

int ce_app_lookup(struct ce_config *cfg)
{
    if (cfg->nargs == 0) {
        ce_err("lookup: give one or more IP addresses");
        return CE_EXIT_USAGE;
    }
    struct ce_app a;
    int rc = ce_app_setup(&a, cfg, true);
    if (rc) {
        ce_app_free(&a);
        return rc;
    }
    const struct ce_annot **ann = ce_xcalloc(cfg->nargs, sizeof *ann);
    for (size_t i = 0; i < cfg->nargs; i++) {
        struct ce_addr addr;
        const char *s = cfg->args[i];
        if (!ce_addr_parse(s, strlen(s), &addr)) {
            ce_err("lookup: '%s' is not an IP address", s);
            rc = CE_EXIT_USAGE;
            continue;
        }
        if (!ce_addr_is_global(&addr)) {
            ce_warn("lookup: %s is not a public address: not looked up", s);
            continue;
        }
        ann[i] = ce_resolver_get(a.r, &addr);
    }
    while (ce_resolver_pending(a.r)) {
        if (ce_pipeline_stop_requested()) {
            ce_resolver_abandon(a.r);
            break;
        }
        ce_resolver_run(a.r, -1, 1000);
    }
    struct ce_buf out = {0};
    for (size_t i = 0; i < cfg->nargs; i++) {
        if (!ann[i])
            continue;
        ce_buf_reset(&out);
        if (a.fmt == CE_FMT_JSON) {
            ce_buf_add(&out, ann[i]->json, ann[i]->json_len);
            ce_buf_addc(&out, '\n');
            fwrite(out.data, 1, out.len, stdout);
        } else {
            ce_format_line(&out, CE_FMT_KV, "", 0, "\n", 1, &ann[i], 1);
            fwrite(out.data + 1, 1, out.len - 1, stdout); /* no leading space */
        }
    }
    ce_buf_free(&out);
    free(ann);
    struct ce_resolver_stats st;
    ce_resolver_get_stats(a.r, &st);
    ce_app_free(&a);
    if (st.forbidden)
        rc = CE_EXIT_KEY;
    return finish_stdout(rc);
}

/* One JSON line per answer; stored bodies are the API's own text, possibly
 * pretty-printed, so they are re-serialised on one line. */
static bool export_one(void *ud, const char *ip, bool found, const char *body, size_t len,
                       int64_t fetched_at)
{
    long *count = ud;
    struct json_object *data = NULL;
    if (found) {
        struct json_tokener *tok = json_tokener_new();
        data = json_tokener_parse_ex(tok, body, (int)len);
        json_tokener_free(tok);
        if (!data || !json_object_is_type(data, json_type_object)) {
            ce_warn("cache export: the stored answer of %s is damaged; skipped", ip);
            json_object_put(data);
            return true;
        }
    }
    printf("{\"ip\":\"%s\",\"status\":\"%s\",\"fetched_at\":%lld", ip, found ? "ok" : "not_found",
           (long long)fetched_at);
    if (data)
        printf(",\"data\":%s", json_object_to_json_string_ext(
                                   data, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    printf("}\n");
    json_object_put(data);
    (*count)++;
    return !ferror(stdout);
}

struct import_ctx {
    struct ce_store *store;
    long stored, failed;
    int64_t now;
};

static bool import_one(void *ud, const char *ip, bool found, struct json_object *obj,
                       int64_t fetched_at)
{
    struct import_ctx *c = ud;
    const char *body = NULL;
    size_t len = 0;
    if (found) {
        body = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
                                                       JSON_C_TO_STRING_NOSLASHESCAPE);
        len = strlen(body);
    }
    if (ce_store_put(c->store, ip, found, body, len, fetched_at ? fetched_at : c->now))
        c->stored++;
    else
        c->failed++;
    return c->failed == 0;
}

int ce_app_cache(struct ce_config *cfg)
{
    const char *sub = cfg->nargs ? cfg->args[0] : "";
    if (strcmp(sub, "stats") && strcmp(sub, "purge") && strcmp(sub, "export") &&
        strcmp(sub, "import")) {
        ce_err("cache: expected stats, purge [--expired], export or import FILE");
        return CE_EXIT_USAGE;
    }
    if (!strcmp(sub, "import") && cfg->nargs != 2) {
        ce_err("cache import: give one FILE (- for standard input)");
        return CE_EXIT_USAGE;
    }
    struct ce_store *s = ce_app_open_store(cfg, true);
    if (!s)
        return CE_EXIT_USAGE;
    char err[512];
    int rc = CE_EXIT_OK;
    int64_t now = (int64_t)time(NULL);
    if (!strcmp(sub, "stats")) {
        struct ce_store_stats st;
        if (!ce_store_stats(s, now, cfg->ttl, cfg->negative_ttl, &st)) {
            ce_err("cache stats: %s", ce_store_error(s));
            rc = CE_EXIT_USAGE;
        } else {
            char o[32] = "-", n[32] = "-";
            if (st.oldest)
                iso_time(st.oldest, o);
            if (st.newest)
                iso_time(st.newest, n);
            printf("path:         %s\n", cfg->cache_path);
            printf("answers:      %ld (%ld found, %ld not found)\n", st.found + st.not_found,
                   st.found, st.not_found);
            printf("expired:      %ld (%ld found older than --ttl, %ld not found older than "
                   "--negative-ttl)\n",
                   st.expired_found + st.expired_not_found, st.expired_found, st.expired_not_found);
            printf("in flight:    %ld (lookups claimed by running processes)\n", st.claims);
            printf("oldest:       %s\nnewest:       %s\n", o, n);
            printf("size:         %lld bytes\n", (long long)st.bytes);
        }
    } else if (!strcmp(sub, "purge")) {
        long n = ce_store_purge(s, cfg->expired, now, cfg->ttl, cfg->negative_ttl);
        if (n < 0) {
            ce_err("cache purge: %s", ce_store_error(s));
            rc = CE_EXIT_USAGE;
        } else {
            printf("purged %ld %sanswers\n", n, cfg->expired ? "expired " : "");
        }
    } else if (!strcmp(sub, "export")) {
        long count = 0;
        if (!ce_store_each(s, export_one, &count) && !ferror(stdout)) {
            ce_err("cache export: %s", ce_store_error(s));
            rc = CE_EXIT_USAGE;
        }
    } else {
        struct import_ctx c = {.store = s, .now = now};
        ce_store_begin(s);
        long n = ce_import_file(cfg->args[1], import_one, &c, err, sizeof err);
        if (n < 0 || c.failed) {
            if (n < 0)
                ce_err("cache import: %s", err);
            else
                ce_err("cache import: %s", ce_store_error(s));
            rc = n < 0 ? CE_EXIT_INPUT : CE_EXIT_USAGE;
        }
        if (!ce_store_commit(s)) {
            ce_err("cache import: %s", ce_store_error(s));
            rc = CE_EXIT_USAGE;
        } else if (rc == CE_EXIT_OK) {
            printf("imported %ld answers\n", c.stored);
        }
    }
    ce_store_close(s);
    return finish_stdout(rc);
}

int ce_app_quota(struct ce_config *cfg)
{
    if (!cfg->key) {
        ce_err("quota: no CTI API key (CTI_API_KEY, --key-file or the config file): the "
               "ledger is kept per key");
        return CE_EXIT_USAGE;
    }
    struct ce_quota_spec spec = {.limit = -1, .period = CE_PERIOD_NONE};
    if (cfg->quota && !ce_quota_parse(cfg->quota, &spec)) {
        ce_err("--quota: '%s' is not N/day, N/week or N/month", cfg->quota);
        return CE_EXIT_USAGE;
    }
    struct ce_store *s = ce_app_open_store(cfg, true);
    if (!s)
        return CE_EXIT_USAGE;
    char fp[17];
    ce_key_fingerprint(cfg->key, fp);
    int64_t now = (int64_t)time(NULL), start, end;
    long spent = 0;
    int64_t blocked = 0;
    int rc = CE_EXIT_OK;
    if (!ce_store_quota_status(s, fp, &spec, now, &spent, &blocked)) {
        ce_err("quota: %s", ce_store_error(s));
        rc = CE_EXIT_USAGE;
    } else {
        ce_quota_window(spec.period, now, &start, &end);
        printf("key:      fingerprint %s\n", fp);
        if (spec.limit < 0) {
            printf("budget:   none set (--quota N/day|N/week|N/month)\n");
            printf("spent:    %ld lookups recorded\n", spent);
        } else {
            char s1[32], s2[32];
            iso_time(start, s1);
            iso_time(end, s2);
            printf("budget:   %ld%s%s\n", spec.limit, spec.period ? "/" : "",
                   period_name(spec.period));
            if (spec.period != CE_PERIOD_NONE)
                printf("spent:    %ld since %s\n", spent, s1);
            else
                printf("spent:    %ld\n", spent);
            printf("left:     %ld\n", spent >= spec.limit ? 0 : spec.limit - spent);
            if (spec.period != CE_PERIOD_NONE)
                printf("resets:   %s\n", s2);
        }
        if (blocked > now) {
            char b[32];
            iso_time(blocked, b);
            printf("blocked:  until %s (the service said Limit Exceeded)\n", b);
        } else {
            printf("blocked:  no\n");
        }
    }
    ce_store_close(s);
    return finish_stdout(rc);
}
