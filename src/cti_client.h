/* cti_client.h: the CrowdSec CTI HTTP client, one curl multi handle with a
 * cap on requests in flight, keep-alive connections, bounded retries and the
 * premium batch endpoint. It knows IPs and answers, never lines.
 *
 * Ownership: ce_client_create returns a client freed by ce_client_destroy
 * (accepts NULL). IP strings are copied on submit. The body handed to the
 * callback is only valid during the call. */
#ifndef CE_CTI_CLIENT_H
#define CE_CTI_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

enum ce_cti_result {
    CE_CR_OK,        /* 200 with a body (still to be validated by the caller) */
    CE_CR_NOT_FOUND, /* 404, or absent from a batch answer */
    CE_CR_FORBIDDEN, /* 403 on the single endpoint: the key is rejected */
    CE_CR_LIMIT,     /* 429 Limit Exceeded: the key's quota is spent */
    CE_CR_ERROR,     /* anything else, after the retries */
    CE_CR_CANCELLED, /* withdrawn by ce_client_cancel_all */
};

struct ce_client_opts {
    const char *base_url; /* e.g. https://cti.api.crowdsec.net/v2 */
    const char *key;
    long concurrency; /* requests in flight */
    long timeout_s;   /* whole request */
    long connect_timeout_s;
    long retries;       /* after the first attempt */
    long retry_base_ms; /* first backoff; doubles, with jitter */
    long max_body;      /* larger answers are errors */
    long batch_size;    /* 1: single endpoint; 2..100: batch endpoint */
};

/* Called once per submitted IP with its outcome. http_status is 0 when no
 * HTTP answer was had. err says why for CE_CR_ERROR (else NULL). */
typedef void (*ce_client_done_fn)(void *ud, const char *ip, enum ce_cti_result res,
                                  long http_status, const char *body, size_t len, const char *err);

struct ce_client *ce_client_create(const struct ce_client_opts *o, ce_client_done_fn done, void *ud,
                                   char *err, size_t errlen);
void ce_client_destroy(struct ce_client *c);

/* Queues a lookup. The callback comes from a later ce_client_run. After a 403
 * or a Limit Exceeded (see ce_client_stopped) submissions fail at once, in
 * the next ce_client_run. */
void ce_client_submit(struct ce_client *c, const char *ip);

/* Lookups submitted and not yet reported. */
size_t ce_client_outstanding(const struct ce_client *c);

/* CE_CR_FORBIDDEN or CE_CR_LIMIT once the service said so; CE_CR_OK before. */
enum ce_cti_result ce_client_stopped(const struct ce_client *c);

/* Does the network work that is ready and reports finished lookups. Waits at
 * most timeout_ms for activity, or for extra_fd (if >= 0) to become readable.
 * Returns true when extra_fd is readable. */
bool ce_client_run(struct ce_client *c, int extra_fd, int timeout_ms);

/* Withdraws every lookup not yet answered: each is reported with res. */
void ce_client_cancel_all(struct ce_client *c, enum ce_cti_result res, const char *err);

/* Counters for the summary. */
struct ce_client_stats {
    size_t requests; /* HTTP requests sent, retries included */
    size_t retries;
    size_t batch_calls;
};
void ce_client_get_stats(const struct ce_client *c, struct ce_client_stats *out);

#endif
