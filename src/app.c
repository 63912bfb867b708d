#include "app.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "cti_json.h"
#include "extract.h"
#include "import.h"
#include "log.h"
#include "pipeline.h"
#include "resolve.h"
#include "scan.h"
#include "store.h"
#include "util.h"

void ce_app_free(struct ce_app *a)
{
    ce_resolver_destroy(a->r);
    ce_store_close(a->store);
    ce_extract_destroy(a->x);
    ce_parser_destroy(a->parser);
    ce_cidr_list_destroy(a->ignore);
}

static bool preload_one(void *ud, const char *ip, bool found, struct json_object *obj,
                        int64_t fetched_at)
{
    (void)fetched_at;
    ce_resolver_preload(ud, ip, found, obj);
    return true;
}

struct ce_store *ce_app_open_store(const struct ce_config *cfg, bool required)
{
    if (cfg->no_cache || !cfg->cache_path) {
        if (required)
            ce_err("no cache database (--no-cache, or no HOME and no --cache)");
        return NULL;
    }
    char err[512];
    struct ce_store *s = ce_store_open(cfg->cache_path, err, sizeof err);
    if (!s) {
        if (required)
            ce_err("%s", err);
        else
            ce_warn("%s; continuing without the cache (answers are kept in memory only)", err);
    }
    return s;
}

int ce_app_setup(struct ce_app *a, struct ce_config *cfg, bool fields_all)
{
    char err[512];
    memset(a, 0, sizeof *a);
    a->fmt = strcmp(cfg->format, "json") ? CE_FMT_KV : CE_FMT_JSON;
    if (fields_all) {
        a->fields = ce_fields_all();
    } else if (!ce_fields_parse(cfg->fields, &a->fields, err, sizeof err)) {
        ce_err("--fields: %s", err);
        return CE_EXIT_USAGE;
    }
    a->ignore = ce_cidr_list_parse(cfg->ignore ? cfg->ignore : "", err, sizeof err);
    if (!a->ignore) {
        ce_err("--ignore: %s", err);
        return CE_EXIT_USAGE;
    }
    a->quota.limit = -1;
    a->quota.period = CE_PERIOD_NONE;
    if (cfg->quota && !ce_quota_parse(cfg->quota, &a->quota)) {
        ce_err("--quota: '%s' is not N/day, N/week or N/month", cfg->quota);
        return CE_EXIT_USAGE;
    }
    if (!cfg->offline && !cfg->key) {
        ce_err("no CTI API key: set CTI_API_KEY (export CTI_API_KEY=...), use --key-file "
               "PATH, or put 'key = ...' in the config file; --offline works from the cache "
               "and --cti-data alone");
        return CE_EXIT_USAGE;
    }
    if (!cfg->offline && !strncmp(cfg->api_url, "http://", 7)) {
        const char *host = cfg->api_url + 7;
        if (strncmp(host, "127.", 4) && strncmp(host, "localhost", 9) && strncmp(host, "[::1]", 5))
            ce_warn("--api-url is plain http: the API key would travel unencrypted");
    }
    a->x = ce_extract_create(a->ignore, err, sizeof err);
    if (!a->x) {
        ce_err("%s", err);
        return CE_EXIT_USAGE;
    }
    a->parser = ce_parser_load(cfg->parser, err, sizeof err);
    if (!a->parser && err[0]) {
        ce_err("--parser: %s", err);
        return CE_EXIT_USAGE;
    }
    a->store = ce_app_open_store(cfg, false);
    if (a->quota.limit >= 0 && !a->store && !cfg->offline)
        ce_warn("--quota cannot be kept across runs without the cache; only this run's "
                "lookups count against it");
    ce_key_fingerprint(cfg->key ? cfg->key : "", a->key_fp);

    struct ce_resolver_opts ro = {
        .fmt = a->fmt,
        .fields = a->fields,
        .offline = cfg->offline,
        .max_queries = cfg->max_queries,
        .quota = a->quota,
        .ttl = cfg->ttl,
        .neg_ttl = cfg->negative_ttl,
        .store = a->store,
        .memory_limit = (size_t)cfg->table_memory,
        .client = {.base_url = cfg->api_url,
                   .key = cfg->key,
                   .concurrency = cfg->concurrency,
                   .timeout_s = cfg->timeout,
                   .connect_timeout_s = cfg->connect_timeout,
                   .retries = cfg->retries,
                   .retry_base_ms = cfg->retry_base_ms,
                   .max_body = cfg->max_body,
                   .batch_size = cfg->batch_size},
    };
    memcpy(ro.key_fp, a->key_fp, sizeof ro.key_fp);
    if (!a->store && a->quota.limit >= 0 && (ro.max_queries < 0 || ro.max_queries > a->quota.limit))
        ro.max_queries = a->quota.limit; /* at least this run stays within it */
    a->r = ce_resolver_create(&ro, err, sizeof err);
    if (!a->r) {
        ce_err("%s", err);
        return CE_EXIT_USAGE;
    }
    if (cfg->cti_data) {
        long n = ce_import_file(cfg->cti_data, preload_one, a->r, err, sizeof err);
        if (n < 0) {
            ce_err("--cti-data: %s", err);
            return CE_EXIT_USAGE;
        }
        ce_info("loaded %ld CTI answers from %s", n, cfg->cti_data);
    }
    return CE_EXIT_OK;
}

static void summary(const struct ce_config *cfg, const struct ce_resolver_stats *st,
                    const struct ce_pipeline_result *pr)
{
    bool trouble = st->by_status[CE_LK_QUOTA] || st->by_status[CE_LK_ERROR];
    if (cfg->quiet || (!cfg->verbose && !trouble))
        return;
    ce_log(trouble ? CE_LOG_WARN : CE_LOG_INFO,
           "%zu lines, %zu annotated; %zu unique public IPs: %zu from memory, %zu from the "
           "cache, %zu looked up; ok %zu, not_found %zu, quota %zu, offline %zu, error %zu",
           pr->lines, pr->lines_annotated, st->unique, st->from_memory, st->from_cache, st->lookups,
           st->by_status[CE_LK_OK], st->by_status[CE_LK_NOT_FOUND], st->by_status[CE_LK_QUOTA],
           st->by_status[CE_LK_OFFLINE], st->by_status[CE_LK_ERROR]);
    if (st->reread)
        ce_info("%zu answers were read back from the cache after --table-memory trims", st->reread);
    if (st->by_status[CE_LK_QUOTA]) {
        const char *why = st->limit_exceeded ? "the service said Limit Exceeded"
                          : cfg->max_queries >= 0 && st->lookups >= (size_t)cfg->max_queries
                              ? "--max-queries was reached"
                              : "the --quota budget is spent";
        ce_warn("%zu IPs were not looked up (status=quota): %s", st->by_status[CE_LK_QUOTA], why);
    }
}

void ce_app_count_line(void *ud, const char *line, size_t len)
{
    struct ce_app *a = ud;
    struct ce_addr addrs[CE_EXTRACT_MAX];
    size_t n = ce_parser_extract(a->parser, a->x, line, len, addrs, CE_EXTRACT_MAX);
    for (size_t i = 0; i < n; i++)
        ce_resolver_count(a->r, &addrs[i]);
}

bool ce_app_reads_stdin(const struct ce_config *cfg)
{
    if (cfg->nargs == 0)
        return true;
    for (size_t i = 0; i < cfg->nargs; i++) {
        /* A pipe, a FIFO or /dev/stdin can be read only once: a first pass
         * would eat the data, so such inputs count as a stream. */
        struct stat sb;
        if (!strcmp(cfg->args[i], "-") || (stat(cfg->args[i], &sb) == 0 && !S_ISREG(sb.st_mode)))
            return true;
    }
    return false;
}

/* With files and a budget that cannot cover every uncached IP, a first pass
 * counts lines per IP so that the budget goes to the IPs with most lines. */
static void prioritize(struct ce_app *a, struct ce_config *cfg)
{
    bool want = cfg->prioritize ? !strcmp(cfg->prioritize, "frequency") : true;
    if (!want || cfg->offline)
        return;
    if (ce_app_reads_stdin(cfg)) {
        if (cfg->prioritize)
            ce_warn("--prioritize frequency needs files; standard input is served first come, "
                    "first served");
        return;
    }
    if (ce_resolver_budget_left(a->r) < 0)
        return;
    struct ce_scan_result sr;
    ce_scan_files(cfg->args, cfg->nargs, (size_t)cfg->max_line, ce_app_count_line, a, false, &sr);
    struct ce_plan p;
    ce_resolver_plan(a->r, true, &p);
    if (p.wont_fit)
        ce_warn("the budget (%ld lookups) covers %zu of %zu uncached IPs: the most frequent "
                "ones; %zu IPs on %zu lines will get status=quota",
                p.budget_left, p.to_lookup - p.wont_fit, p.to_lookup, p.wont_fit, p.wont_fit_lines);
}

int ce_app_enrich(struct ce_config *cfg)
{
    struct ce_app a;
    int rc = ce_app_setup(&a, cfg, false);
    if (rc) {
        ce_app_free(&a);
        return rc;
    }
    prioritize(&a, cfg);
    struct ce_pipeline_opts po = {
        .fmt = a.fmt,
        .max_line = (size_t)cfg->max_line,
        .window_lines = (size_t)cfg->window_lines,
        .window_bytes = (size_t)cfg->window_bytes,
        .out_fd = STDOUT_FILENO,
    };
    struct ce_pipeline_result pr;
    ce_pipeline_run(&po, a.x, a.parser, a.r, cfg->args, cfg->nargs, &pr);

    struct ce_resolver_stats st;
    ce_resolver_get_stats(a.r, &st);
    if (pr.stopped)
        ce_warn("stopped by a signal: the %zu lines read were written; lookups still in "
                "flight got status=error",
                pr.lines);
    if (!pr.output_closed)
        summary(cfg, &st, &pr);
    ce_app_free(&a);

    if (st.forbidden)
        return CE_EXIT_KEY;
    if (pr.output_failed)
        return CE_EXIT_OUTPUT;
    if (pr.input_failed)
        return CE_EXIT_INPUT;
    return CE_EXIT_OK;
}
