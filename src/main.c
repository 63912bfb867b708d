/* main.c: parse the options, run the sub-command, map the result to an exit
 * status. Everything else lives in the library. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "cli.h"
#include "cti_json.h"
#include "log.h"
#include "parser.h"
#include "pipeline.h"
#include "util.h"

static void on_stop_signal(int sig)
{
    (void)sig;
    ce_pipeline_request_stop();
}

int main(int argc, char **argv)
{
    /* A closed output pipe is an EPIPE to handle, not a signal that kills. */
    signal(SIGPIPE, SIG_IGN);
    /* Past a file-size limit a write fails with EFBIG, and the cache or the
     * output reports it, instead of the process being killed. */
    signal(SIGXFSZ, SIG_IGN);
    /* SIGINT and SIGTERM end the run cleanly: every line read is written. A
     * second signal kills at once (SA_RESETHAND). */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    struct ce_config cfg;
    int rc = ce_config_load(&cfg, argc, argv);
    if (rc) {
        ce_config_free(&cfg);
        return CE_EXIT_USAGE;
    }
    if (cfg.help) {
        ce_config_usage(stdout);
        ce_config_free(&cfg);
        return fflush(stdout) ? CE_EXIT_OUTPUT : CE_EXIT_OK;
    }
    if (cfg.version) {
        printf("cti-enrich %s\n", CE_VERSION);
        ce_config_free(&cfg);
        return fflush(stdout) ? CE_EXIT_OUTPUT : CE_EXIT_OK;
    }
    if (cfg.list_fields) {
        for (unsigned i = 0; ce_fields_name(i); i++)
            printf("crowdsec_%s\n", ce_fields_name(i));
        ce_config_free(&cfg);
        return fflush(stdout) ? CE_EXIT_OUTPUT : CE_EXIT_OK;
    }
    if (cfg.list_parsers) {
        ce_parser_list(stdout);
        ce_config_free(&cfg);
        return fflush(stdout) ? CE_EXIT_OUTPUT : CE_EXIT_OK;
    }
    if (cfg.quiet)
        ce_log_set_level(CE_LOG_ERROR);
    else if (cfg.verbose)
        ce_log_set_level(CE_LOG_INFO);

    switch (cfg.command) {
    case CE_CMD_ENRICH:
        rc = ce_app_enrich(&cfg);
        break;
    case CE_CMD_PLAN:
        rc = ce_app_plan(&cfg);
        break;
    case CE_CMD_LOOKUP:
        rc = ce_app_lookup(&cfg);
        break;
    case CE_CMD_CACHE:
        rc = ce_app_cache(&cfg);
        break;
    case CE_CMD_QUOTA:
        rc = ce_app_quota(&cfg);
        break;
    }
    ce_config_free(&cfg);
    return rc;
}
