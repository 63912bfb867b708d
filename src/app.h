/* app.h: the sub-commands, each taking the loaded configuration and
 * returning the process exit status (see README "Exit status"). */
#ifndef CE_APP_H
#define CE_APP_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "cli.h"
#include "extract.h"
#include "format.h"
#include "parser.h"
#include "resolve.h"
#include "store.h"

enum ce_exit {
    CE_EXIT_OK = 0,
    CE_EXIT_USAGE = 1,
    CE_EXIT_INPUT = 2,
    CE_EXIT_OUTPUT = 3,
    CE_EXIT_KEY = 4,
};

/* What every sub-command that resolves IPs sets up (app.c). */
struct ce_app {
    enum ce_format fmt;
    uint64_t fields;
    struct ce_cidr_list *ignore;
    struct ce_extractor *x;
    struct ce_parser *parser; /* NULL: every address */
    struct ce_store *store;
    struct ce_resolver *r;
    struct ce_quota_spec quota;
    char key_fp[17];
};

/* Builds the extractor, cache, resolver and preloaded data from cfg;
 * fields_all selects every kv field. Returns an exit status; call
 * ce_app_free either way. */
int ce_app_setup(struct ce_app *a, struct ce_config *cfg, bool fields_all);
void ce_app_free(struct ce_app *a);
/* Opens the cache database. Not required (enrichment), a cache that cannot
 * be used is a warning and the stream goes on in memory; required (the cache
 * and quota commands), it is an error. NULL when there is none. */
struct ce_store *ce_app_open_store(const struct ce_config *cfg, bool required);
/* True when the inputs include standard input. */
bool ce_app_reads_stdin(const struct ce_config *cfg);
/* A ce_scan_fn that counts the line's IPs in the resolver (ud: ce_app). */
void ce_app_count_line(void *ud, const char *line, size_t len);

int ce_app_enrich(struct ce_config *cfg);
int ce_app_plan(struct ce_config *cfg);
int ce_app_lookup(struct ce_config *cfg);
int ce_app_cache(struct ce_config *cfg);
int ce_app_quota(struct ce_config *cfg);

#endif
