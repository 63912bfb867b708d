#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

enum opt_type { OPT_STR, OPT_LONG, OPT_BOOL, OPT_DURATION, OPT_SIZE };

/* Where an option may be set. The key may only come from a file or the
 * environment, never argv, where `ps` would show it. */
enum { FROM_ARGV = 1, FROM_FILE = 2 };

struct opt_def {
    const char *name;
    char short_name;
    enum opt_type type;
    size_t offset;
    const char *def; /* default as text, NULL for none */
    const char *arg; /* argument name in --help, NULL for flags */
    const char *help;
    int where;
};

#define OFF(f) offsetof(struct ce_config, f)
#define BOTH (FROM_ARGV | FROM_FILE)

static const struct opt_def opts[] = {
    {"format", 0, OPT_STR, OFF(format), "kv", "kv|json", "output format", BOTH},
    {"fields", 0, OPT_STR, OFF(fields), "default", "LIST",
     "kv fields: default, all, a list (--list-fields)", BOTH},
    {"api-url", 0, OPT_STR, OFF(api_url), "https://cti.api.crowdsec.net/v2", "URL",
     "API base URL (also CTI_API_URL)", BOTH},
    {"key-file", 0, OPT_STR, OFF(key_file), NULL, "PATH",
     "read the API key from PATH (else CTI_API_KEY)", BOTH},
    {"key", 0, OPT_STR, OFF(key), NULL, "KEY", "API key (config file only)", FROM_FILE},
    {"config", 0, OPT_STR, OFF(config_path), NULL, "PATH",
     "settings [$XDG_CONFIG_HOME/cti-enrich/config]", FROM_ARGV},
    {"cache", 0, OPT_STR, OFF(cache_path), NULL, "PATH",
     "cache [$XDG_CACHE_HOME/cti-enrich/cache.db]", BOTH},
    {"no-cache", 0, OPT_BOOL, OFF(no_cache), NULL, NULL, "keep answers in memory only", BOTH},
    {"cti-data", 0, OPT_STR, OFF(cti_data), NULL, "FILE",
     "preload answers (CTI objects, /fire, export)", BOTH},
    {"offline", 0, OPT_BOOL, OFF(offline), NULL, NULL, "no network: the cache and --cti-data only",
     BOTH},
    {"parser", 0, OPT_STR, OFF(parser), "default", "NAME",
     "which address to look up (--list-parsers)", BOTH},
    {"ignore", 0, OPT_STR, OFF(ignore), NULL, "CIDR,...", "never look these addresses up", BOTH},
    {"concurrency", 0, OPT_LONG, OFF(concurrency), "4", "N", "lookups in flight (1-64)", BOTH},
    {"batch-size", 0, OPT_LONG, OFF(batch_size), "1", "N",
     "IPs per request (2-100: premium batch endpoint)", BOTH},
    {"max-queries", 0, OPT_LONG, OFF(max_queries), "-1", "N", "at most N lookups in this run",
     BOTH},
    {"quota", 0, OPT_STR, OFF(quota), NULL, "N/day|N/week|N/month",
     "the key's budget, shared by all runs", BOTH},
    {"prioritize", 0, OPT_STR, OFF(prioritize), NULL, "frequency|order",
     "which IPs get a short budget (files: frequency)", BOTH},
    {"ttl", 0, OPT_DURATION, OFF(ttl), "3d", "DURATION", "how long an answer stays fresh", BOTH},
    {"negative-ttl", 0, OPT_DURATION, OFF(negative_ttl), "1d", "DURATION",
     "how long a not-found answer stays fresh", BOTH},
    {"timeout", 0, OPT_DURATION, OFF(timeout), "20s", "DURATION", "limit for one request", BOTH},
    {"connect-timeout", 0, OPT_DURATION, OFF(connect_timeout), "5s", "DURATION",
     "limit for connecting", BOTH},
    {"retries", 0, OPT_LONG, OFF(retries), "3", "N",
     "retries after a throttle, 5xx or network error", BOTH},
    {"retry-delay", 0, OPT_LONG, OFF(retry_base_ms), "1000", "MS",
     "first retry delay, doubled each time", BOTH},
    {"max-line", 0, OPT_SIZE, OFF(max_line), "64k", "BYTES",
     "longer lines pass through unannotated", BOTH},
    {"window-lines", 0, OPT_LONG, OFF(window_lines), "10000", "N",
     "lines held while waiting for lookups", BOTH},
    {"window-bytes", 0, OPT_SIZE, OFF(window_bytes), "16M", "BYTES",
     "bytes held while waiting for lookups", BOTH},
    {"table-memory", 0, OPT_SIZE, OFF(table_memory), NULL, "BYTES",
     "rendered answers in memory [kv 32M, json 128M]", BOTH},
    {"max-body", 0, OPT_SIZE, OFF(max_body), "1M", "BYTES", "largest answer accepted", BOTH},
    {"expired", 0, OPT_BOOL, OFF(expired), NULL, NULL, "with cache purge: only the expired answers",
     FROM_ARGV},
    {"list-parsers", 0, OPT_BOOL, OFF(list_parsers), NULL, NULL, "list the named parsers",
     FROM_ARGV},
    {"list-fields", 0, OPT_BOOL, OFF(list_fields), NULL, NULL, "list the kv field names",
     FROM_ARGV},
    {"quiet", 'q', OPT_BOOL, OFF(quiet), NULL, NULL, "only errors on stderr", BOTH},
    {"verbose", 'v', OPT_BOOL, OFF(verbose), NULL, NULL, "progress and a summary on stderr", BOTH},
    {"help", 'h', OPT_BOOL, OFF(help), NULL, NULL, "this help", FROM_ARGV},
    {"version", 'V', OPT_BOOL, OFF(version), NULL, NULL, "print the version", FROM_ARGV},
};

#define NOPTS (sizeof opts / sizeof opts[0])

bool ce_parse_duration(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || errno || v < 0)
        return false;
    long mul = 1;
    if (*end) {
        switch (*end) {
        case 's':
            mul = 1;
            break;
        case 'm':
            mul = 60;
            break;
        case 'h':
            mul = 3600;
            break;
        case 'd':
            mul = 86400;
            break;
        case 'w':
            mul = 7 * 86400;
            break;
        default:
            return false;
        }
        if (end[1])
            return false;
    }
    if (v > LONG_MAX / mul)
        return false;
    *out = v * mul;
    return true;
}

bool ce_parse_size(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || errno || v < 0)
        return false;
    long mul = 1;
    if (*end) {
        switch (toupper((unsigned char)*end)) {
        case 'K':
            mul = 1024;
            break;
        case 'M':
            mul = 1024L * 1024;
            break;
        case 'G':
            mul = 1024L * 1024 * 1024;
            break;
        default:
            return false;
        }
        if (end[1] && !((end[1] == 'B' || end[1] == 'b') && !end[2]) &&
            !((end[1] == 'i') && (end[2] == 'B') && !end[3]))
            return false;
    }
    if (v > LONG_MAX / mul)
        return false;
    *out = v * mul;
    return true;
}

static int set_opt(struct ce_config *cfg, const struct opt_def *o, const char *val,
                   const char *origin)
{
    char *base = (char *)cfg;
    switch (o->type) {
    case OPT_STR: {
        char **p = (char **)(base + o->offset);
        free(*p);
        *p = ce_xstrdup(val);
        return 0;
    }
    case OPT_BOOL: {
        bool *p = (bool *)(base + o->offset);
        if (!val || !strcmp(val, "true") || !strcmp(val, "yes") || !strcmp(val, "1") ||
            !strcmp(val, "on")) {
            *p = true;
            return 0;
        }
        if (!strcmp(val, "false") || !strcmp(val, "no") || !strcmp(val, "0") ||
            !strcmp(val, "off")) {
            *p = false;
            return 0;
        }
        break;
    }
    case OPT_LONG: {
        char *end;
        errno = 0;
        long v = strtol(val, &end, 10);
        if (end != val && !*end && !errno) {
            *(long *)(base + o->offset) = v;
            return 0;
        }
        break;
    }
    case OPT_DURATION:
        if (ce_parse_duration(val, (long *)(base + o->offset)))
            return 0;
        break;
    case OPT_SIZE:
        if (ce_parse_size(val, (long *)(base + o->offset)))
            return 0;
        break;
    }
    fprintf(stderr, "cti-enrich: %s: invalid value '%s' for %s\n", origin, val ? val : "", o->name);
    return 1;
}

static const struct opt_def *find_long(const char *name, size_t len)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (strlen(opts[i].name) == len && !strncmp(opts[i].name, name, len))
            return &opts[i];
    return NULL;
}

static const struct opt_def *find_short(char c)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (opts[i].short_name == c)
            return &opts[i];
    return NULL;
}

/* name = value lines; '#' starts a comment line. */
static int load_file(struct ce_config *cfg, const char *path, bool must_exist)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (!must_exist && errno == ENOENT)
            return 0;
        fprintf(stderr, "cti-enrich: cannot open config file '%s': %s\n", path, strerror(errno));
        return 1;
    }
    char line[4096];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = ce_str_trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        char origin[512];
        snprintf(origin, sizeof origin, "%s:%d", path, lineno);
        if (!eq) {
            fprintf(stderr, "cti-enrich: %s: expected 'name = value'\n", origin);
            rc = 1;
            break;
        }
        *eq = '\0';
        char *name = ce_str_trim(s), *val = ce_str_trim(eq + 1);
        const struct opt_def *o = find_long(name, strlen(name));
        if (!o || !(o->where & FROM_FILE)) {
            fprintf(stderr, "cti-enrich: %s: unknown setting '%s'\n", origin, name);
            rc = 1;
            break;
        }
        if (set_opt(cfg, o, val, origin)) {
            rc = 1;
            break;
        }
    }
    fclose(f);
    return rc;
}

static int read_key_file(struct ce_config *cfg, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cti-enrich: cannot open key file '%s': %s\n", path, strerror(errno));
        return 1;
    }
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *k = ce_str_trim(buf);
    if (!*k) {
        fprintf(stderr, "cti-enrich: key file '%s' is empty\n", path);
        return 1;
    }
    free(cfg->key);
    cfg->key = ce_xstrdup(k);
    return 0;
}

static int apply_defaults(struct ce_config *cfg)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (opts[i].def && set_opt(cfg, &opts[i], opts[i].def, "default"))
            return 1;
    return 0;
}

static void add_arg(struct ce_config *cfg, char *a)
{
    cfg->args = ce_xrealloc(cfg->args, (cfg->nargs + 1) * sizeof *cfg->args);
    cfg->args[cfg->nargs++] = a;
}

/* Parses argv into cfg; positional arguments are collected. Options may come
 * after positionals; "--" ends options. */
static int parse_argv(struct ce_config *cfg, int argc, char **argv, int start)
{
    bool opts_done = false;
    for (int i = start; i < argc; i++) {
        char *a = argv[i];
        if (opts_done || a[0] != '-' || !strcmp(a, "-")) {
            add_arg(cfg, a);
            continue;
        }
        if (!strcmp(a, "--")) {
            opts_done = true;
            continue;
        }
        const struct opt_def *o;
        const char *val = NULL;
        if (a[1] == '-') {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            o = find_long(name, len);
            if (!o || !(o->where & FROM_ARGV)) {
                if (len == 3 && !strncmp(name, "key", 3))
                    fprintf(stderr, "cti-enrich: the key is not accepted on the command line "
                                    "(it would show in ps): set CTI_API_KEY or use "
                                    "--key-file\n");
                else
                    fprintf(stderr, "cti-enrich: unknown option '--%.*s' (see --help)\n", (int)len,
                            name);
                return 1;
            }
            if (eq)
                val = eq + 1;
        } else {
            if (a[2]) {
                fprintf(stderr, "cti-enrich: unknown option '%s' (see --help)\n", a);
                return 1;
            }
            o = find_short(a[1]);
            if (!o) {
                fprintf(stderr, "cti-enrich: unknown option '%s' (see --help)\n", a);
                return 1;
            }
        }
        if (o->type != OPT_BOOL && !val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "cti-enrich: option '--%s' needs a value\n", o->name);
                return 1;
            }
            val = argv[++i];
        }
        if (set_opt(cfg, o, val, "command line"))
            return 1;
    }
    return 0;
}

static char *default_path(const char *xdg_var, const char *home_sub, const char *leaf)
{
    const char *xdg = getenv(xdg_var);
    struct ce_buf b = {0};
    if (xdg && *xdg) {
        ce_buf_printf(&b, "%s/cti-enrich/%s", xdg, leaf);
    } else {
        const char *home = getenv("HOME");
        if (!home || !*home)
            return NULL;
        ce_buf_printf(&b, "%s/%s/cti-enrich/%s", home, home_sub, leaf);
    }
    ce_buf_cstr(&b);
    return b.data;
}

int ce_config_load(struct ce_config *cfg, int argc, char **argv)
{
    memset(cfg, 0, sizeof *cfg);
    if (apply_defaults(cfg))
        return 1;

    int start = 1;

    /* First pass over argv only to find --config; the file's values are then
     * overridden by the real pass. */
    struct ce_config probe;
    memset(&probe, 0, sizeof probe);
    if (parse_argv(&probe, argc, argv, start)) {
        ce_config_free(&probe);
        return 1;
    }
    if (probe.help || probe.version) {
        cfg->help = probe.help;
        cfg->version = probe.version;
        ce_config_free(&probe);
        return 0;
    }
    char *config_path = probe.config_path ? ce_xstrdup(probe.config_path)
                                          : default_path("XDG_CONFIG_HOME", ".config", "config");
    bool explicit_config = probe.config_path != NULL;
    bool argv_key_file = probe.key_file != NULL;
    ce_config_free(&probe);
    if (config_path && load_file(cfg, config_path, explicit_config)) {
        free(config_path);
        return 1;
    }
    free(cfg->config_path);
    cfg->config_path = config_path;

    const char *env_url = getenv("CTI_API_URL");
    if (env_url && *env_url) {
        free(cfg->api_url);
        cfg->api_url = ce_xstrdup(env_url);
    }
    /* A key file named in the config file counts as the config file's key:
     * the environment, then the command line, come after it. */
    if (cfg->key_file && read_key_file(cfg, cfg->key_file))
        return 1;
    const char *env_key = getenv("CTI_API_KEY");
    if (env_key && *env_key) {
        free(cfg->key);
        cfg->key = ce_xstrdup(env_key);
    }

    if (parse_argv(cfg, argc, argv, start))
        return 1;
    /* The first positional argument names the sub-command, wherever the
     * options stand (a file called "plan" is "./plan"). */
    if (cfg->nargs > 0) {
        static const struct {
            const char *name;
            enum ce_command cmd;
        } cmds[] = {{"plan", CE_CMD_PLAN},
                    {"lookup", CE_CMD_LOOKUP},
                    {"cache", CE_CMD_CACHE},
                    {"quota", CE_CMD_QUOTA}};
        for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
            if (!strcmp(cfg->args[0], cmds[i].name)) {
                cfg->command = cmds[i].cmd;
                memmove(cfg->args, cfg->args + 1, (cfg->nargs - 1) * sizeof *cfg->args);
                cfg->nargs--;
                break;
            }
    }
    if (argv_key_file && read_key_file(cfg, cfg->key_file))
        return 1;
    if (!cfg->cache_path)
        cfg->cache_path = default_path("XDG_CACHE_HOME", ".cache", "cache.db");

    /* A JSON annotation carries the whole answer, about four times a kv one:
     * the same number of IPs needs four times the room. */
    if (cfg->table_memory == 0)
        cfg->table_memory = (!strcmp(cfg->format, "json") ? 128L : 32L) * 1024 * 1024;
    if (strcmp(cfg->format, "kv") && strcmp(cfg->format, "json")) {
        fprintf(stderr, "cti-enrich: --format must be kv or json, not '%s'\n", cfg->format);
        return 1;
    }
    if (cfg->concurrency < 1 || cfg->concurrency > 64) {
        fprintf(stderr, "cti-enrich: --concurrency must be between 1 and 64\n");
        return 1;
    }
    if (cfg->batch_size < 1 || cfg->batch_size > 100) {
        fprintf(stderr, "cti-enrich: --batch-size must be between 1 and 100\n");
        return 1;
    }
    if (cfg->retries < 0 || cfg->retries > 20 || cfg->retry_base_ms < 0) {
        fprintf(stderr, "cti-enrich: --retries must be between 0 and 20\n");
        return 1;
    }
    if (cfg->max_line < 16 || cfg->window_lines < 1 || cfg->window_bytes < 1024 ||
        cfg->max_body < 1024 || cfg->timeout < 1 || cfg->connect_timeout < 1) {
        fprintf(stderr, "cti-enrich: a size, window or timeout option is too small\n");
        return 1;
    }
    if (cfg->prioritize && strcmp(cfg->prioritize, "frequency") &&
        strcmp(cfg->prioritize, "order")) {
        fprintf(stderr, "cti-enrich: --prioritize must be frequency or order\n");
        return 1;
    }
    return 0;
}

void ce_config_free(struct ce_config *cfg)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (opts[i].type == OPT_STR) {
            char **p = (char **)((char *)cfg + opts[i].offset);
            free(*p);
            *p = NULL;
        }
    free(cfg->args);
    cfg->args = NULL;
    cfg->nargs = 0;
}

void ce_config_usage(FILE *out)
{
    fputs("Usage: cti-enrich [OPTIONS] [FILE...]        enrich lines (no FILE or - : stdin)\n"
          "       cti-enrich plan [OPTIONS] [FILE...]   what enriching would cost\n"
          "       cti-enrich lookup [OPTIONS] IP...     the full CTI answer for IPs\n"
          "       cti-enrich cache stats|purge [--expired]|export|import FILE\n"
          "       cti-enrich quota                      budget spent and left\n"
          "\n"
          "Annotates each log line with CrowdSec CTI reputation data for the public IP\n"
          "addresses in it, keeping every line and its order. gzip input is detected.\n"
          "The API key comes from CTI_API_KEY, --key-file or the config file.\n"
          "\nOptions:\n",
          out);
    for (size_t i = 0; i < NOPTS; i++) {
        const struct opt_def *o = &opts[i];
        if (!(o->where & FROM_ARGV))
            continue;
        char lhs[64];
        if (o->short_name)
            snprintf(lhs, sizeof lhs, "-%c, --%s%s%s", o->short_name, o->name, o->arg ? " " : "",
                     o->arg ? o->arg : "");
        else
            snprintf(lhs, sizeof lhs, "    --%s%s%s", o->name, o->arg ? " " : "",
                     o->arg ? o->arg : "");
        if (strlen(lhs) > 30)
            fprintf(out, "  %s\n  %-30s %s", lhs, "", o->help);
        else
            fprintf(out, "  %-30s %s", lhs, o->help);
        if (o->def && o->type != OPT_BOOL && strcmp(o->def, "-1")) {
            /* Keep lines within 80 columns: a long default goes below. */
            if (33 + strlen(o->help) + strlen(o->def) + 3 > 80)
                fprintf(out, "\n  %-30s [%s]", "", o->def);
            else
                fprintf(out, " [%s]", o->def);
        }
        fputc('\n', out);
    }
    fputs("\nExit status: 0 ok (quota exhaustion included), 1 usage or configuration error,\n"
          "2 an input could not be read, 3 output could not be written, 4 key rejected.\n",
          out);
}
