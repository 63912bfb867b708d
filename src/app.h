/* app.h: the sub-commands, each taking the loaded configuration and
 * returning the process exit status (see README "Exit status"). */
#ifndef CE_APP_H
#define CE_APP_H

#include "cli.h"

enum ce_exit {
    CE_EXIT_OK = 0,
    CE_EXIT_USAGE = 1,
    CE_EXIT_INPUT = 2,
    CE_EXIT_OUTPUT = 3,
    CE_EXIT_KEY = 4,
};

int ce_app_enrich(struct ce_config *cfg);
int ce_app_plan(struct ce_config *cfg);
int ce_app_lookup(struct ce_config *cfg);
int ce_app_cache(struct ce_config *cfg);
int ce_app_quota(struct ce_config *cfg);

#endif
