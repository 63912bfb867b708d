/* resolve.h: what each IP's annotation is. One memory table entry per unique
 * IP in front of the persistent cache, the quota ledger and the CTI client,
 * so that an IP is looked up at most once per run and the database is touched
 * once per unique IP, never per line.
 *
 * Ownership: the resolver owns its entries; the annotation pointers it hands
 * out stay valid until ce_resolver_destroy. It borrows the store. */
#ifndef CE_RESOLVE_H
#define CE_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "annot.h"
#include "cti_client.h"
#include "format.h"
#include "store.h"

struct ce_resolver_opts {
    enum ce_format fmt;
    uint64_t fields;
    bool offline;
    long max_queries; /* -1: no cap */
    struct ce_quota_spec quota;
    char key_fp[17];
    long ttl, neg_ttl;
    struct ce_store *store; /* may be NULL: memory only */
    /* Rendered annotations kept in memory beyond this many bytes are dropped
     * (see ce_resolver_trim) when the cache holds them; 0: no limit. */
    size_t memory_limit;
    /* Network lookups; ignored when offline. */
    struct ce_client_opts client;
};

struct ce_resolver;

struct ce_resolver *ce_resolver_create(const struct ce_resolver_opts *o, char *err, size_t errlen);
void ce_resolver_destroy(struct ce_resolver *r);

/* Adds a known answer (from --cti-data) to the memory table; it wins over
 * the cache and the network. obj NULL means not found. */
struct json_object;
void ce_resolver_preload(struct ce_resolver *r, const char *ip, bool found,
                         struct json_object *obj);

/* The annotation of a, starting its lookup if needed; its status is
 * CE_LK_PENDING until a later ce_resolver_run finishes it. */
const struct ce_annot *ce_resolver_get(struct ce_resolver *r, const struct ce_addr *a);

/* For a first pass (plan, --prioritize): counts one line holding a and
 * finds its answer in memory or the cache, without starting a lookup. */
void ce_resolver_count(struct ce_resolver *r, const struct ce_addr *a);

/* Lookups the budget still allows: the least of --max-queries left and the
 * --quota window's tokens left (0 while the service's Limit Exceeded holds);
 * -1 when nothing limits them. */
long ce_resolver_budget_left(struct ce_resolver *r);

/* What a first pass found. */
struct ce_plan {
    size_t unique;    /* public IPs counted */
    size_t cached;    /* answered from memory or the cache */
    size_t to_lookup; /* would be asked */
    size_t lines_to_lookup;
    long budget_left; /* as ce_resolver_budget_left */
    size_t wont_fit;  /* to_lookup beyond the budget */
    size_t wont_fit_lines;
};
/* Summarises the counted IPs; with restrict_budget, only the budget_left most
 * frequent uncached IPs will be looked up (the others get status quota). */
void ce_resolver_plan(struct ce_resolver *r, bool restrict_budget, struct ce_plan *out);

/* Does ready network and cache work, waiting at most timeout_ms, or until
 * extra_fd (if >= 0) is readable. Returns true when extra_fd is readable. */
bool ce_resolver_run(struct ce_resolver *r, int extra_fd, int timeout_ms);

/* Keeps memory bounded on runs with very many unique IPs: when the rendered
 * annotations pass the memory limit, drops those the cache database holds
 * (they are read back on their next use). Only call it when no line waiting
 * for output refers to an annotation. */
void ce_resolver_trim(struct ce_resolver *r);

/* Lookups started and not finished. */
size_t ce_resolver_pending(const struct ce_resolver *r);

/* Stops every unfinished lookup and refuses new ones (they become errors):
 * the output is gone, or the run was asked to stop. */
void ce_resolver_abandon(struct ce_resolver *r);

/* Counters for the summary and for plan. */
struct ce_resolver_stats {
    size_t unique;      /* IPs seen */
    size_t from_memory; /* preloaded answers used */
    size_t from_cache;  /* answered by the cache database */
    size_t lookups;     /* IPs asked of the API */
    size_t by_status[CE_LK_ERROR + 1];
    bool forbidden;       /* the API rejected the key */
    bool limit_exceeded;  /* the service said Limit Exceeded */
    bool budget_spent;    /* --max-queries or --quota stopped lookups */
    bool cache_failed;    /* the cache database failed during the run */
    size_t deprioritized; /* IPs left out because a short budget went to others */
    size_t reread;        /* annotations read back after a trim */
};
void ce_resolver_get_stats(const struct ce_resolver *r, struct ce_resolver_stats *out);

#endif
