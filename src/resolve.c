#include "resolve.h"

#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cti_json.h"
#include "log.h"
#include "util.h"

/* How often an IP that another process is asking for is looked for again in
 * the cache, and when that other process's claim is taken to be dead. */
#define WAIT_POLL_MS 200
#define CLAIM_TTL_S 120
/* Detailed messages about failed lookups; the rest only count. */
#define MAX_ERROR_MESSAGES 5

struct entry {
    struct ce_annot a; /* first member: handed out as the annotation */
    struct ce_addr addr;
    struct entry *next_wait; /* in the list of IPs another process is asking */
    bool waiting;
    bool preloaded_unused; /* from --cti-data, not yet counted in the stats */
    bool started;          /* its lookup was asked for (or it needs none) */
    bool allowed;          /* within the budget of a restricted run */
    uint64_t lines;        /* lines counted by a first pass */
    bool in_store;         /* the cache database holds its answer */
    bool dried;            /* annotation dropped by ce_resolver_trim */
    bool used;             /* asked for since the last trim */
    bool bad_row;          /* the cache holds an unreadable answer for it */
};

struct ce_resolver {
    struct ce_resolver_opts o;
    struct ce_client *client;
    struct slot *slots;
    size_t nslots, count;
    struct entry *waiting;
    size_t nwaiting;
    int64_t next_wait_check;
    size_t error_messages;
    bool store_failed_logged;
    bool restricted;    /* only entries marked allowed may be looked up */
    size_t annot_bytes; /* rendered annotation text held in memory */
    size_t hand;        /* where ce_resolver_trim's sweep goes on */
    size_t futile;      /* annot_bytes when a sweep last freed nothing */
    int64_t sig;        /* output settings, for renderings kept in the cache */
    bool abandoned;     /* no more lookups: the run is ending */
    struct ce_resolver_stats st;
};

/* The table's slots hold the key inline, so a probe touches one cache line
 * and no entry unless the key matches: this lookup runs once per address
 * on every line. */
struct slot {
    uint64_t k0, k1;
    unsigned char family; /* 0: empty */
    struct entry *e;
};

static void key_of(const struct ce_addr *a, uint64_t *k0, uint64_t *k1)
{
    memcpy(k0, a->bytes, 8);
    memcpy(k1, a->bytes + 8, 8);
}

static size_t hash_key(uint64_t k0, uint64_t k1, unsigned char family)
{
    uint64_t h = (k0 ^ family) * 0x9E3779B97F4A7C15ULL;
    h ^= (k1 + (h >> 31)) * 0xC2B2AE3D27D4EB4FULL;
    return (size_t)(h ^ (h >> 29));
}

static struct slot *find_slot(struct slot *slots, size_t nslots, const struct ce_addr *a)
{
    uint64_t k0, k1;
    key_of(a, &k0, &k1);
    size_t mask = nslots - 1, i = hash_key(k0, k1, a->family) & mask;
    while (slots[i].family &&
           !(slots[i].k0 == k0 && slots[i].k1 == k1 && slots[i].family == a->family))
        i = (i + 1) & mask;
    return &slots[i];
}

static void grow(struct ce_resolver *r)
{
    size_t n = r->nslots ? r->nslots * 2 : 1024;
    struct slot *s = ce_xcalloc(n, sizeof *s);
    for (size_t i = 0; i < r->nslots; i++)
        if (r->slots[i].family)
            *find_slot(s, n, &r->slots[i].e->addr) = r->slots[i];
    free(r->slots);
    r->slots = s;
    r->nslots = n;
}

static struct entry *lookup_entry(struct ce_resolver *r, const struct ce_addr *a)
{
    return find_slot(r->slots, r->nslots, a)->e;
}

static struct entry *add_entry(struct ce_resolver *r, const struct ce_addr *a)
{
    if ((r->count + 1) * 2 > r->nslots)
        grow(r);
    struct slot *slot = find_slot(r->slots, r->nslots, a);
    struct entry *e = ce_xcalloc(1, sizeof *e);
    e->addr = *a;
    ce_addr_format(a, e->a.ip);
    key_of(a, &slot->k0, &slot->k1);
    slot->family = a->family;
    slot->e = e;
    r->count++;
    r->st.unique++;
    return e;
}

static void finish_simple(struct ce_resolver *r, struct entry *e, enum ce_lookup status)
{
    ce_annot_render_simple(&e->a, status, r->o.fmt);
    e->a.status = status;
    r->st.by_status[status]++;
}

static size_t annot_size(const struct ce_annot *a)
{
    return a->kv1 ? a->kv1_len + (a->kv_count + 2) * sizeof *a->kv1_marks : a->json_len;
}

static bool finish_answer(struct ce_resolver *r, struct entry *e, const struct ce_cti *c)
{
    struct ce_buf b = {0};
    ce_annot_clear(&e->a);
    if (r->o.fmt == CE_FMT_KV) {
        size_t count = 0;
        ce_cti_render_kv(c, r->o.fields, &b, &count);
        e->a.kv = b.data;
        e->a.kv_len = b.len;
        e->a.kv_count = count;
        e->a.status = CE_LK_OK;
        ce_annot_finish_kv(&e->a);
        r->annot_bytes += annot_size(&e->a);
    } else {
        ce_cti_render_json(c, e->a.ip, "ok", &b);
        e->a.json = b.data;
        e->a.json_len = b.len;
        r->annot_bytes += annot_size(&e->a);
    }
    e->a.status = CE_LK_OK;
    r->st.by_status[CE_LK_OK]++;
    return true;
}

/* A rendering kept in the cache: for kv, the mark count, the marks and the
 * text; for json, the text. */
static void save_rendering(struct ce_resolver *r, const struct entry *e, int64_t fetched_at)
{
    struct ce_buf b = {0};
    if (e->a.kv1) {
        uint32_t n = (uint32_t)e->a.kv_count;
        ce_buf_add(&b, &n, sizeof n);
        ce_buf_add(&b, e->a.kv1_marks, (e->a.kv_count + 2) * sizeof *e->a.kv1_marks);
        ce_buf_add(&b, e->a.kv1, e->a.kv1_len);
    } else if (e->a.json) {
        ce_buf_add(&b, e->a.json, e->a.json_len);
    }
    if (b.len)
        ce_store_put_rendered(r->o.store, e->a.ip, r->sig, fetched_at, b.data, b.len);
    ce_buf_free(&b);
}

static bool load_rendering(struct ce_resolver *r, struct entry *e, bool any_age)
{
    char *t = NULL;
    size_t len = 0;
    if (!ce_store_get_rendered(r->o.store, e->a.ip, r->sig, (int64_t)time(NULL),
                               any_age ? -1 : r->o.ttl, &t, &len))
        return false;
    ce_annot_clear(&e->a);
    if (r->o.fmt == CE_FMT_JSON) {
        e->a.json = t;
        e->a.json_len = len;
    } else {
        uint32_t n;
        if (len < sizeof n) {
            free(t);
            return false;
        }
        memcpy(&n, t, sizeof n);
        size_t mlen = ((size_t)n + 2) * sizeof *e->a.kv1_marks;
        if (len - sizeof n < mlen) {
            free(t);
            return false;
        }
        size_t tlen = len - sizeof n - mlen;
        e->a.kv_count = n;
        e->a.kv1_marks = ce_xmalloc(mlen);
        memcpy(e->a.kv1_marks, t + sizeof n, mlen);
        for (size_t i = 0; i < (size_t)n + 2; i++)
            if (e->a.kv1_marks[i] > tlen) {
                free(t);
                ce_annot_clear(&e->a);
                return false; /* damaged: render again */
            }
        e->a.kv1 = ce_xmalloc(tlen ? tlen : 1);
        memcpy(e->a.kv1, t + sizeof n + mlen, tlen);
        e->a.kv1_len = tlen;
        free(t);
    }
    e->a.status = CE_LK_OK;
    r->st.by_status[CE_LK_OK]++;
    r->annot_bytes += annot_size(&e->a);
    return true;
}

static void store_failed(struct ce_resolver *r, const char *what)
{
    r->st.cache_failed = true;
    if (!r->store_failed_logged) {
        ce_warn("cache: %s: %s; answers of this run are kept in memory only", what,
                ce_store_error(r->o.store));
        r->store_failed_logged = true;
    }
}

static int64_t wall_now(void)
{
    return (int64_t)time(NULL);
}

static void on_done(void *ud, const char *ip, enum ce_cti_result res, long http_status,
                    const char *body, size_t len, const char *err)
{
    (void)http_status;
    struct ce_resolver *r = ud;
    struct ce_addr a;
    if (!ce_addr_parse(ip, strlen(ip), &a))
        return;
    struct entry *e = lookup_entry(r, &a);
    if (!e || e->a.status != CE_LK_PENDING)
        return;
    struct ce_store *s = r->o.store;
    char perr[256];

    switch (res) {
    case CE_CR_OK: {
        struct ce_cti *c = ce_cti_parse(body, len, perr, sizeof perr);
        if (!c) {
            if (r->error_messages++ < MAX_ERROR_MESSAGES)
                ce_warn("lookup of %s: invalid answer from the API: %s", ip, perr);
            if (s)
                ce_store_release(s, ip);
            finish_simple(r, e, CE_LK_ERROR);
            return;
        }
        /* Write-through: the answer is durable before it is used. */
        int64_t now = wall_now();
        if (s && !ce_store_put(s, ip, true, body, len, now))
            store_failed(r, "cannot store an answer");
        else if (s)
            e->in_store = true;
        finish_answer(r, e, c);
        if (e->in_store)
            save_rendering(r, e, now);
        ce_cti_free(c);
        return;
    }
    case CE_CR_NOT_FOUND:
        if (s && !ce_store_put(s, ip, false, NULL, 0, wall_now()))
            store_failed(r, "cannot store an answer");
        finish_simple(r, e, CE_LK_NOT_FOUND);
        return;
    case CE_CR_LIMIT:
        if (!r->st.limit_exceeded) {
            r->st.limit_exceeded = true;
            int64_t start, end;
            int64_t now = wall_now();
            if (r->o.quota.period != CE_PERIOD_NONE)
                ce_quota_window(r->o.quota.period, now, &start, &end);
            else
                end = now + 3600;
            ce_warn("the CTI API says the key's quota is spent (429 Limit Exceeded); no more "
                    "lookups until the quota window resets");
            if (s && !ce_store_block(s, r->o.key_fp, end))
                store_failed(r, "cannot record the quota block");
        }
        if (s)
            ce_store_release(s, ip);
        finish_simple(r, e, CE_LK_QUOTA);
        return;
    case CE_CR_FORBIDDEN:
        if (!r->st.forbidden) {
            r->st.forbidden = true;
            ce_err("the CTI API rejected the key (HTTP 403 Forbidden): check CTI_API_KEY or "
                   "--key-file; no more lookups in this run");
        }
        if (s)
            ce_store_release(s, ip);
        finish_simple(r, e, CE_LK_ERROR);
        return;
    case CE_CR_ERROR:
    case CE_CR_CANCELLED:
        if (res == CE_CR_ERROR && r->error_messages++ < MAX_ERROR_MESSAGES)
            ce_warn("lookup of %s failed: %s", ip, err ? err : "error");
        if (s)
            ce_store_release(s, ip);
        finish_simple(r, e, CE_LK_ERROR);
        return;
    }
}

struct ce_resolver *ce_resolver_create(const struct ce_resolver_opts *o, char *err, size_t errlen)
{
    struct ce_resolver *r = ce_xcalloc(1, sizeof *r);
    r->o = *o;
    /* Renderings depend on the format, the fields and this version's code. */
    uint64_t sig = 1469598103934665603ULL;
    const char *v = CE_VERSION;
    for (; *v; v++)
        sig = (sig ^ (unsigned char)*v) * 1099511628211ULL;
    sig = (sig ^ (uint64_t)o->fmt) * 1099511628211ULL;
    sig = (sig ^ o->fields) * 1099511628211ULL;
    r->sig = (int64_t)(sig >> 1);
    if (!o->offline) {
        r->client = ce_client_create(&o->client, on_done, r, err, errlen);
        if (!r->client) {
            free(r);
            return NULL;
        }
    }
    grow(r);
    return r;
}

void ce_resolver_destroy(struct ce_resolver *r)
{
    if (!r)
        return;
    ce_client_destroy(r->client);
    for (size_t i = 0; i < r->nslots; i++)
        if (r->slots[i].family) {
            ce_annot_clear(&r->slots[i].e->a);
            free(r->slots[i].e);
        }
    free(r->slots);
    free(r);
}

void ce_resolver_preload(struct ce_resolver *r, const char *ip, bool found, struct json_object *obj)
{
    struct ce_addr a;
    if (!ce_addr_parse(ip, strlen(ip), &a))
        return;
    struct entry *e = lookup_entry(r, &a);
    if (!e) {
        e = add_entry(r, &a);
        r->st.unique--; /* counted when a line uses it */
    } else if (!e->preloaded_unused) {
        return; /* already used by a line: keep what the line saw */
    }
    if (found && obj) {
        struct ce_cti *c = ce_cti_from_object(obj);
        finish_answer(r, e, c);
        ce_cti_free(c);
    } else {
        finish_simple(r, e, CE_LK_NOT_FOUND);
    }
    r->st.by_status[e->a.status]--; /* counted when a line uses it */
    e->preloaded_unused = true;
}

/* Tries the cache; true when it answered. any_age reads back an answer this
 * run already used, however old it has become since. */
static bool from_store_aged(struct ce_resolver *r, struct entry *e, bool any_age)
{
    if (load_rendering(r, e, any_age)) {
        e->in_store = true;
        return true;
    }
    char *body = NULL;
    size_t len = 0;
    int64_t fetched = 0;
    enum ce_store_hit h = ce_store_get(r->o.store, e->a.ip, wall_now(), any_age ? -1 : r->o.ttl,
                                       any_age ? -1 : r->o.neg_ttl, &body, &len, &fetched);
    if (h == CE_STORE_ERROR) {
        store_failed(r, "cannot read the cache");
        return false;
    }
    if (h == CE_STORE_NOT_FOUND) {
        finish_simple(r, e, CE_LK_NOT_FOUND);
        return true;
    }
    if (h != CE_STORE_FOUND)
        return false;
    char perr[128];
    struct ce_cti *c = ce_cti_parse(body, len, perr, sizeof perr);
    free(body);
    if (!c) {
        /* A damaged row: ask again, without waiting for it to change. */
        e->bad_row = true;
        return false;
    }
    finish_answer(r, e, c);
    ce_cti_free(c);
    e->in_store = true;
    save_rendering(r, e, fetched);
    return true;
}

static bool from_store(struct ce_resolver *r, struct entry *e)
{
    return from_store_aged(r, e, false);
}

enum start_res {
    ST_SUBMITTED, /* asked of the API */
    ST_WAITING,   /* another process is asking: wait for its answer */
    ST_DONE,      /* resolved without asking (quota, error, cache) */
};

/* Starts the lookup of e if the budget, the ledger and the service allow. */
static enum start_res start_lookup(struct ce_resolver *r, struct entry *e)
{
    enum ce_cti_result stopped = r->client ? ce_client_stopped(r->client) : CE_CR_OK;
    if (stopped == CE_CR_FORBIDDEN || r->abandoned) {
        finish_simple(r, e, CE_LK_ERROR);
        return ST_DONE;
    }
    if (stopped == CE_CR_LIMIT) {
        finish_simple(r, e, CE_LK_QUOTA);
        return ST_DONE;
    }
    if (r->restricted && !e->allowed) {
        r->st.deprioritized++;
        r->st.budget_spent = true;
        finish_simple(r, e, CE_LK_QUOTA);
        return ST_DONE;
    }
    if (r->o.max_queries >= 0 && (long)r->st.lookups >= r->o.max_queries) {
        r->st.budget_spent = true;
        finish_simple(r, e, CE_LK_QUOTA);
        return ST_DONE;
    }
    if (r->o.store) {
        enum ce_reserve rv =
            e->bad_row ? ce_store_reserve(r->o.store, r->o.key_fp, &r->o.quota, e->a.ip, wall_now(),
                                          CLAIM_TTL_S)
                       : ce_store_reserve_uncached(r->o.store, r->o.key_fp, &r->o.quota, e->a.ip,
                                                   wall_now(), CLAIM_TTL_S, r->o.ttl, r->o.neg_ttl);
        switch (rv) {
        case CE_RESERVE_GRANTED:
            break;
        case CE_RESERVE_CLAIMED:
            /* Another process asked, or has just stored the answer. */
            if (from_store(r, e)) {
                r->st.from_cache++;
                return ST_DONE;
            }
            return ST_WAITING;
        case CE_RESERVE_EXHAUSTED:
            r->st.budget_spent = true;
            finish_simple(r, e, CE_LK_QUOTA);
            return ST_DONE;
        case CE_RESERVE_BLOCKED:
            r->st.limit_exceeded = true;
            finish_simple(r, e, CE_LK_QUOTA);
            return ST_DONE;
        case CE_RESERVE_ERROR:
            store_failed(r, "cannot reserve a lookup");
            if (r->o.quota.limit >= 0) {
                /* The budget cannot be checked: spending blind could pass it. */
                finish_simple(r, e, CE_LK_ERROR);
                return ST_DONE;
            }
            break;
        }
    }
    r->st.lookups++;
    ce_client_submit(r->client, e->a.ip);
    return ST_SUBMITTED;
}

/* The entry of a, from memory or the cache; a new entry that needs a
 * lookup is left PENDING and not started. */
static struct entry *known_entry(struct ce_resolver *r, const struct ce_addr *a)
{
    struct entry *e = lookup_entry(r, a);
    if (e) {
        if (e->preloaded_unused) {
            e->preloaded_unused = false;
            r->st.unique++;
            r->st.from_memory++;
            r->st.by_status[e->a.status]++;
        }
        return e;
    }
    e = add_entry(r, a);
    if (r->o.store && from_store(r, e)) {
        r->st.from_cache++;
        e->started = true;
    }
    return e;
}

/* Reads back an annotation that ce_resolver_trim dropped. */
static void rehydrate(struct ce_resolver *r, struct entry *e)
{
    e->dried = false;
    r->st.reread++;
    r->st.by_status[CE_LK_OK]--; /* counted again by finish_answer */
    if (from_store_aged(r, e, true))
        return;
    /* Gone from the cache meanwhile (purged by another process): the answer
     * this run had is lost, so this is an error rather than a second ask. */
    ce_warn("%s: its answer left the cache during the run", e->a.ip);
    finish_simple(r, e, CE_LK_ERROR);
}

const struct ce_annot *ce_resolver_get(struct ce_resolver *r, const struct ce_addr *a)
{
    struct entry *e = known_entry(r, a);
    e->used = true;
    if (e->dried)
        rehydrate(r, e);
    if (e->a.status == CE_LK_PENDING && !e->started) {
        e->started = true;
        if (r->o.offline) {
            finish_simple(r, e, CE_LK_OFFLINE);
        } else if (start_lookup(r, e) == ST_WAITING) {
            e->waiting = true;
            e->next_wait = r->waiting;
            r->waiting = e;
            r->nwaiting++;
        }
    }
    return &e->a;
}

void ce_resolver_count(struct ce_resolver *r, const struct ce_addr *a)
{
    known_entry(r, a)->lines++;
}

long ce_resolver_budget_left(struct ce_resolver *r)
{
    long left = -1;
    if (r->o.max_queries >= 0)
        left = r->o.max_queries - (long)r->st.lookups;
    if (r->client && ce_client_stopped(r->client) != CE_CR_OK)
        return 0;
    if (r->o.store) {
        long spent = 0;
        int64_t blocked = 0, now = wall_now();
        if (ce_store_quota_status(r->o.store, r->o.key_fp, &r->o.quota, now, &spent, &blocked)) {
            if (blocked > now)
                return 0;
            if (r->o.quota.limit >= 0) {
                long q = r->o.quota.limit - spent;
                if (q < 0)
                    q = 0;
                if (left < 0 || q < left)
                    left = q;
            }
        }
    }
    return left < 0 ? -1 : left;
}

static int by_lines_desc(const void *pa, const void *pb)
{
    const struct entry *a = *(struct entry *const *)pa, *b = *(struct entry *const *)pb;
    if (a->lines != b->lines)
        return a->lines > b->lines ? -1 : 1;
    return memcmp(&a->addr, &b->addr, sizeof a->addr);
}

void ce_resolver_plan(struct ce_resolver *r, bool restrict_budget, struct ce_plan *out)
{
    memset(out, 0, sizeof *out);
    out->budget_left = ce_resolver_budget_left(r);
    struct entry **todo = ce_xmalloc((r->count ? r->count : 1) * sizeof *todo);
    size_t n = 0;
    for (size_t i = 0; i < r->nslots; i++) {
        struct entry *e = r->slots[i].e;
        if (!e || !e->lines)
            continue;
        out->unique++;
        if (e->a.status != CE_LK_PENDING || e->started) {
            out->cached++;
            continue;
        }
        todo[n++] = e;
        out->lines_to_lookup += e->lines;
    }
    out->to_lookup = n;
    qsort(todo, n, sizeof *todo, by_lines_desc);
    size_t fit =
        out->budget_left < 0 || (size_t)out->budget_left >= n ? n : (size_t)out->budget_left;
    for (size_t i = 0; i < n; i++) {
        if (i < fit) {
            todo[i]->allowed = true;
        } else {
            out->wont_fit++;
            out->wont_fit_lines += todo[i]->lines;
        }
    }
    if (restrict_budget && fit < n)
        r->restricted = true;
    free(todo);
}

/* IPs that another process is asking for: take its answer from the cache
 * when it lands, or ask ourselves when its claim goes stale. */
static void check_waiting(struct ce_resolver *r)
{
    struct entry **pp = &r->waiting;
    while (*pp) {
        struct entry *e = *pp;
        if (from_store(r, e))
            r->st.from_cache++;
        else if (start_lookup(r, e) == ST_WAITING) {
            pp = &e->next_wait; /* still claimed by the other process */
            continue;
        }
        e->waiting = false;
        *pp = e->next_wait;
        r->nwaiting--;
    }
}

bool ce_resolver_run(struct ce_resolver *r, int extra_fd, int timeout_ms)
{
    if (r->nwaiting) {
        int64_t now = ce_now_ms();
        if (now >= r->next_wait_check) {
            r->next_wait_check = now + WAIT_POLL_MS;
            check_waiting(r);
        }
        if (r->nwaiting && timeout_ms > WAIT_POLL_MS)
            timeout_ms = WAIT_POLL_MS;
    }
    if (r->client)
        return ce_client_run(r->client, extra_fd, timeout_ms);
    if (extra_fd < 0) {
        if (timeout_ms > 0)
            poll(NULL, 0, timeout_ms);
        return false;
    }
    struct pollfd p = {.fd = extra_fd, .events = POLLIN};
    return poll(&p, 1, timeout_ms) > 0;
}

void ce_resolver_trim(struct ce_resolver *r)
{
    if (!r->o.memory_limit || r->annot_bytes <= r->o.memory_limit)
        return;
    /* Nothing could be dropped last time (answers not in the cache): sweep
     * again only once an eighth of the limit more has accumulated. */
    if (r->futile && r->annot_bytes < r->futile + r->o.memory_limit / 8)
        return;
    size_t before = r->annot_bytes;
    /* CLOCK, an approximation of least-recently-used: the hand sweeps the
     * table, clearing "used" bits and dropping what the cache can give back
     * and no line asked for since the hand last passed. It stops a quarter
     * below the limit, so trims are rare and what is in use stays. */
    size_t target = r->o.memory_limit / 4 * 3;
    for (size_t scanned = 0; scanned < 2 * r->nslots && r->annot_bytes > target; scanned++) {
        struct entry *e = r->slots[r->hand].e;
        r->hand = (r->hand + 1) & (r->nslots - 1);
        if (!e || !e->in_store || e->dried || e->a.status != CE_LK_OK)
            continue;
        if (e->used) {
            e->used = false;
            continue;
        }
        r->annot_bytes -= annot_size(&e->a);
        ce_annot_clear(&e->a);
        e->a.status = CE_LK_OK;
        e->dried = true;
    }
    r->futile = r->annot_bytes == before ? r->annot_bytes : 0;
}

size_t ce_resolver_pending(const struct ce_resolver *r)
{
    return (r->client ? ce_client_outstanding(r->client) : 0) + r->nwaiting;
}

void ce_resolver_abandon(struct ce_resolver *r)
{
    r->abandoned = true;
    if (r->client)
        ce_client_cancel_all(r->client, CE_CR_CANCELLED, NULL);
    while (r->waiting) {
        struct entry *e = r->waiting;
        r->waiting = e->next_wait;
        e->waiting = false;
        finish_simple(r, e, CE_LK_ERROR);
    }
    r->nwaiting = 0;
}

void ce_resolver_get_stats(const struct ce_resolver *r, struct ce_resolver_stats *out)
{
    *out = r->st;
}
