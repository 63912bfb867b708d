#include <stdio.h>

#include "app.h"
#include "log.h"

int ce_app_plan(struct ce_config *cfg)
{
    (void)cfg;
    ce_err("plan: not available yet");
    return CE_EXIT_USAGE;
}

int ce_app_lookup(struct ce_config *cfg)
{
    (void)cfg;
    ce_err("lookup: not available yet");
    return CE_EXIT_USAGE;
}

int ce_app_cache(struct ce_config *cfg)
{
    (void)cfg;
    ce_err("cache: not available yet");
    return CE_EXIT_USAGE;
}

int ce_app_quota(struct ce_config *cfg)
{
    (void)cfg;
    ce_err("quota: not available yet");
    return CE_EXIT_USAGE;
}
