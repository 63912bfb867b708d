/* cli.h: the settings of a run, from defaults, the config file, the
 * environment and the command line, in that order of precedence (last wins).
 *
 * One declarative option table drives command-line parsing, config-file
 * parsing and --help, so they cannot drift apart.
 *
 * Ownership: strings in struct ce_config are owned by it and released by
 * ce_config_free. */
#ifndef CE_CLI_H
#define CE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum ce_command {
    CE_CMD_ENRICH,
    CE_CMD_PLAN,
    CE_CMD_LOOKUP,
    CE_CMD_CACHE,
    CE_CMD_QUOTA,
};

struct ce_config {
    enum ce_command command;
    char *format; /* "kv" or "json" */
    char *fields;
    char *api_url;
    char *key_file;
    char *config_path;
    char *cache_path;
    char *cti_data; /* JSON (lines) file of CTI answers to preload */
    char *ignore;
    char *quota;
    char *prioritize;
    char *parser;
    char *key; /* from CTI_API_KEY, --key-file or the config file; never argv */
    long concurrency;
    long max_queries; /* -1: no cap */
    long timeout;     /* seconds, whole request */
    long connect_timeout;
    long retries;
    long retry_base_ms;
    long max_line;
    long window_lines;
    long window_bytes;
    long batch_size;
    long ttl;          /* seconds */
    long negative_ttl; /* seconds */
    long max_body;
    long table_memory;
    bool offline;
    bool no_cache;
    bool quiet;
    bool verbose;
    bool help;
    bool version;
    bool list_fields;
    bool expired; /* cache purge --expired */
    bool list_parsers;
    /* Positional arguments after the options (files, IPs, sub-commands). */
    char **args;
    size_t nargs;
};

/* Fills cfg from defaults, config file, environment and argv. Returns 0 on
 * success, or 1 after printing a usage error to stderr. */
int ce_config_load(struct ce_config *cfg, int argc, char **argv);
void ce_config_free(struct ce_config *cfg);
void ce_config_usage(FILE *out);

/* Parses "30", "30s", "15m", "12h", "7d" into seconds; false when invalid. */
bool ce_parse_duration(const char *s, long *out);
/* Parses "65536", "64k", "16M", "1G" into bytes; false when invalid. */
bool ce_parse_size(const char *s, long *out);

#endif
