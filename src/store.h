/* store.h: the persistent cache of CTI answers and the quota ledger, in one
 * SQLite database (WAL, busy timeout) shared by every process on the machine.
 *
 * Ownership: ce_store_open returns a handle freed by ce_store_close (accepts
 * NULL). Bodies returned by ce_store_get are malloc'd and owned by the caller.
 * A handle is used by one thread. */
#ifndef CE_STORE_H
#define CE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ce_store;

/* Opens (creating it and its parent directories, mode 0700, if needed) the
 * database at path. Sets WAL, a busy timeout, and creates or checks the schema.
 * A file that is not a database, a database from an incompatible schema
 * version, or an unwritable location gives NULL and a clear message. */
struct ce_store *ce_store_open(const char *path, char *err, size_t errlen);
void ce_store_close(struct ce_store *s);

enum ce_store_hit {
    CE_STORE_MISS,      /* absent or expired */
    CE_STORE_FOUND,     /* a 200 answer: *body set */
    CE_STORE_NOT_FOUND, /* a 404 answer */
    CE_STORE_ERROR,     /* the database failed: treat as a miss */
};

/* Looks ip (canonical text) up. A found answer older than ttl seconds, or a
 * not-found one older than neg_ttl, is a miss. now is Unix seconds. */
enum ce_store_hit ce_store_get(struct ce_store *s, const char *ip, int64_t now, long ttl,
                               long neg_ttl, char **body, size_t *len, int64_t *fetched_at);

/* Stores an answer (replacing an older one) and releases this process's claim
 * on ip, in one transaction, durable before it returns (write-through).
 * Returns false on a database error (message via ce_store_error). */
bool ce_store_put(struct ce_store *s, const char *ip, bool found, const char *body, size_t len,
                  int64_t fetched_at);

/* Renderings of found answers for one set of output settings (sig): a warm
 * run reads annotations back without parsing the answer again. A rendering
 * counts only while its answer (fetched at fetched_at) is the stored one and
 * is fresh by ttl. get returns false on a miss (or an error: a miss costs
 * only time); put is best effort. *text is malloc'd, NUL-terminated. */
bool ce_store_get_rendered(struct ce_store *s, const char *ip, int64_t sig, int64_t now, long ttl,
                           char **text, size_t *len);
void ce_store_put_rendered(struct ce_store *s, const char *ip, int64_t sig, int64_t fetched_at,
                           const char *text, size_t len);

/* Quota budget of a key. */
enum ce_period { CE_PERIOD_NONE, CE_PERIOD_DAY, CE_PERIOD_WEEK, CE_PERIOD_MONTH };
struct ce_quota_spec {
    long limit; /* -1: no budget set */
    enum ce_period period;
};
/* Parses "N/day", "N/week", "N/month" (also "N/d", "N/w", "N/m"). */
bool ce_quota_parse(const char *s, struct ce_quota_spec *out);
/* Start and end (Unix seconds, UTC) of the period window holding now: days
 * start at 00:00 UTC, weeks on Monday, months on the 1st. */
void ce_quota_window(enum ce_period p, int64_t now, int64_t *start, int64_t *end);

enum ce_reserve {
    CE_RESERVE_GRANTED,   /* ask the API: one token is spent and ip is claimed */
    CE_RESERVE_CLAIMED,   /* another live process is asking for ip right now */
    CE_RESERVE_EXHAUSTED, /* the budget of the window is spent */
    CE_RESERVE_BLOCKED,   /* the service said Limit Exceeded; window not reset */
    CE_RESERVE_ERROR,     /* the database failed */
};

/* In one IMMEDIATE transaction: if the key (fp: a fingerprint, never the key)
 * is blocked, BLOCKED; if another live process holds a fresh claim on ip,
 * CLAIMED; if spec has a limit and the tokens spent in the current window
 * reach it, EXHAUSTED; otherwise count one token and claim ip for this
 * process (pid), GRANTED. A claim older than claim_ttl seconds, or whose
 * process is gone, is stale and ignored. */
enum ce_reserve ce_store_reserve(struct ce_store *s, const char *fp,
                                 const struct ce_quota_spec *spec, const char *ip, int64_t now,
                                 long claim_ttl);
/* As ce_store_reserve, but when a fresh answer for ip (by ttl / neg_ttl) is
 * already in the cache it spends nothing and returns CE_RESERVE_CLAIMED:
 * "read the cache again". Closes the gap between a cache miss and the
 * reservation, during which another process may have stored the answer. */
enum ce_reserve ce_store_reserve_uncached(struct ce_store *s, const char *fp,
                                          const struct ce_quota_spec *spec, const char *ip,
                                          int64_t now, long claim_ttl, long ttl, long neg_ttl);
/* Drops this process's claim on ip without an answer (the lookup failed). */
void ce_store_release(struct ce_store *s, const char *ip);
/* Records that the service said Limit Exceeded: no process asks before until. */
bool ce_store_block(struct ce_store *s, const char *fp, int64_t until);
/* Tokens spent in the window holding now, and the block time (0 if none). */
bool ce_store_quota_status(struct ce_store *s, const char *fp, const struct ce_quota_spec *spec,
                           int64_t now, long *spent, int64_t *blocked_until);

/* Cache maintenance. */
struct ce_store_stats {
    long found, not_found, expired_found, expired_not_found, claims;
    int64_t oldest, newest; /* fetched_at, 0 when empty */
    int64_t bytes;          /* database file size */
};
bool ce_store_stats(struct ce_store *s, int64_t now, long ttl, long neg_ttl,
                    struct ce_store_stats *out);
/* Deletes every answer, or only the expired ones. Returns the count, -1 on error. */
long ce_store_purge(struct ce_store *s, bool expired_only, int64_t now, long ttl, long neg_ttl);
/* Calls fn for every answer in ip order; stops when fn returns false. */
typedef bool (*ce_store_each_fn)(void *ud, const char *ip, bool found, const char *body, size_t len,
                                 int64_t fetched_at);
bool ce_store_each(struct ce_store *s, ce_store_each_fn fn, void *ud);
/* Groups many puts into one transaction (import): begin/commit. */
bool ce_store_begin(struct ce_store *s);
bool ce_store_commit(struct ce_store *s);

/* The last error, for messages. */
const char *ce_store_error(const struct ce_store *s);

/* Writes a hex fingerprint of key (SHA-256 truncated to 16 hex digits) into
 * out (17 bytes). Never stores or prints the key itself. */
void ce_key_fingerprint(const char *key, char out[17]);

#endif
