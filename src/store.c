/* store.c: the persistent cache of CTI answers and the quota ledger (SQLite).
 *
 * Every process on the machine shares one database file, so everything that
 * decides whether a token may be spent runs inside one BEGIN IMMEDIATE
 * transaction: SQLite then serialises the processes on its write lock and the
 * budget holds across them. */

/* timegm() is a BSD/GNU extension; glibc declares it only with _DEFAULT_SOURCE. */
#define _DEFAULT_SOURCE

#include "store.h"

#include "log.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* Bumped whenever the schema changes; migrate() upgrades older files. */
#define SCHEMA_VERSION 2
/* 'CTIE': marks the file as ours, so --cache pointing at some other
 * application's SQLite file is refused instead of being written into. */
#define APPLICATION_ID 0x43544945
#define BUSY_TIMEOUT_MS 10000
/* The busy handler covers almost every SQLITE_BUSY, but WAL recovery and a
 * few lock-upgrade paths return it at once; a few spaced retries cover those. */
#define BEGIN_RETRIES 8
#define DAY_SECONDS 86400

enum stmt_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_GET,
    ST_PUT,
    ST_UNCLAIM,
    ST_BLOCK_GET,
    ST_BLOCK_SET,
    ST_CLAIM_GET,
    ST_CLAIM_SET,
    ST_SPENT,
    ST_SPEND,
    ST_STATS,
    ST_CLAIM_COUNT,
    ST_PURGE_ALL,
    ST_PURGE_EXPIRED,
    ST_PURGE_CLAIMS,
    ST_EACH,
    ST_RGET,
    ST_RPUT,
    ST_RPURGE,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_GET] = "SELECT found, body, fetched_at FROM answers WHERE ip = ?1",
    /* An import of old data must not replace a newer answer another process
     * has just paid for. */
    [ST_PUT] = "INSERT INTO answers(ip, found, body, fetched_at) VALUES(?1, ?2, ?3, ?4)"
               " ON CONFLICT(ip) DO UPDATE SET found = excluded.found, body = excluded.body,"
               " fetched_at = excluded.fetched_at WHERE excluded.fetched_at >= answers.fetched_at",
    [ST_UNCLAIM] = "DELETE FROM claims WHERE ip = ?1 AND pid = ?2",
    [ST_BLOCK_GET] = "SELECT until FROM blocks WHERE fp = ?1",
    [ST_BLOCK_SET] = "INSERT INTO blocks(fp, until) VALUES(?1, ?2)"
                     " ON CONFLICT(fp) DO UPDATE SET until = max(until, excluded.until)",
    [ST_CLAIM_GET] = "SELECT pid, claimed_at FROM claims WHERE ip = ?1",
    [ST_CLAIM_SET] = "INSERT OR REPLACE INTO claims(ip, pid, claimed_at) VALUES(?1, ?2, ?3)",
    [ST_SPENT] = "SELECT COALESCE(SUM(spent), 0) FROM ledger WHERE fp = ?1 AND day >= ?2"
                 " AND day < ?3",
    [ST_SPEND] = "INSERT INTO ledger(fp, day, spent) VALUES(?1, ?2, 1)"
                 " ON CONFLICT(fp, day) DO UPDATE SET spent = spent + 1",
    [ST_STATS] = "SELECT COALESCE(SUM(found <> 0 AND fetched_at >= ?1), 0),"
                 " COALESCE(SUM(found = 0 AND fetched_at >= ?2), 0),"
                 " COALESCE(SUM(found <> 0 AND fetched_at < ?1), 0),"
                 " COALESCE(SUM(found = 0 AND fetched_at < ?2), 0),"
                 " COALESCE(MIN(fetched_at), 0), COALESCE(MAX(fetched_at), 0) FROM answers",
    [ST_CLAIM_COUNT] = "SELECT COUNT(*) FROM claims",
    [ST_PURGE_ALL] = "DELETE FROM answers",
    [ST_PURGE_EXPIRED] = "DELETE FROM answers WHERE (found <> 0 AND fetched_at < ?1)"
                         " OR (found = 0 AND fetched_at < ?2)",
    [ST_PURGE_CLAIMS] = "DELETE FROM claims WHERE NOT ce_pid_alive(pid)",
    [ST_EACH] = "SELECT ip, found, body, fetched_at FROM answers ORDER BY ip",
    /* A rendering counts only while the answer it came from is the one
     * stored, and fresh. */
    [ST_RGET] = "SELECT r.text FROM rendered r JOIN answers a ON a.ip = r.ip"
                " WHERE r.ip = ?1 AND r.sig = ?2 AND a.found <> 0"
                " AND a.fetched_at = r.fetched_at AND a.fetched_at >= ?3",
    [ST_RPUT] = "INSERT OR REPLACE INTO rendered(ip, sig, fetched_at, text)"
                " VALUES(?1, ?2, ?3, ?4)",
    [ST_RPURGE] = "DELETE FROM rendered WHERE NOT EXISTS (SELECT 1 FROM answers a"
                  " WHERE a.ip = rendered.ip AND a.fetched_at = rendered.fetched_at)",
};

/* The ledger counts tokens per key and UTC day rather than per window: days,
 * Monday-weeks, months and the lifetime are all unions of whole UTC days, so
 * a budget is summed over at most 31 rows and changing --quota from /day to
 * /month still counts what was really spent. */
static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS answers(ip TEXT PRIMARY KEY, found INTEGER NOT NULL,"
    " body BLOB, fetched_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS claims(ip TEXT PRIMARY KEY, pid INTEGER NOT NULL,"
    " claimed_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS ledger(fp TEXT NOT NULL, day INTEGER NOT NULL,"
    " spent INTEGER NOT NULL, PRIMARY KEY(fp, day));"
    "CREATE TABLE IF NOT EXISTS blocks(fp TEXT PRIMARY KEY, until INTEGER NOT NULL);"
    /* Version 2: answers rendered for one set of output settings (sig), so a
     * warm run reads its annotations back without parsing JSON. */
    "CREATE TABLE IF NOT EXISTS rendered(ip TEXT NOT NULL, sig INTEGER NOT NULL,"
    " fetched_at INTEGER NOT NULL, text BLOB NOT NULL, PRIMARY KEY(ip, sig));";

struct ce_store {
    sqlite3 *db;
    char *path;
    bool in_tx; /* between ce_store_begin and ce_store_commit */
    sqlite3_stmt *st[ST_COUNT];
    char err[1024];
};

static void set_err(struct ce_store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_err(struct ce_store *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
}

/* Records the connection's current error; call it before any other sqlite
 * call (a rollback or reset) can overwrite the message. */
static void db_err(struct ce_store *s, const char *what)
{
    int sys = sqlite3_system_errno(s->db);
    int rc = sqlite3_errcode(s->db) & 0xff;

    /* SQLite sets the system errno only for these two; for others it is stale. */
    if (sys != 0 && (rc == SQLITE_CANTOPEN || rc == SQLITE_IOERR))
        set_err(s, "cache '%s': %s: %s (%s)", s->path, what, sqlite3_errmsg(s->db), strerror(sys));
    else
        set_err(s, "cache '%s': %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

static sqlite3_stmt *use(struct ce_store *s, enum stmt_id id)
{
    sqlite3_stmt *st = s->st[id];

    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

/* Steps a statement that returns no rows and resets it at once, so that no
 * statement keeps a read snapshot (and blocks WAL checkpoints) after use. */
static bool run(struct ce_store *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    bool ok = rc == SQLITE_DONE;

    if (!ok)
        db_err(s, what);
    sqlite3_reset(st);
    return ok;
}

/* SQLite copies nothing with SQLITE_STATIC; every bound string outlives the
 * step that reads it. */
static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static bool is_busy(int rc)
{
    rc &= 0xff;
    return rc == SQLITE_BUSY || rc == SQLITE_LOCKED;
}

static void backoff(int attempt)
{
    /* Spread the retries of competing processes apart. */
    long ms = 10L * (attempt + 1) + (long)(getpid() % 17);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Steps BEGIN IMMEDIATE or COMMIT, retrying while another process holds the
 * lock past the busy handler. Outside WAL (a filesystem without shared
 * memory) COMMIT waits for readers and can be busy too; the transaction
 * stays open, so a retry is safe. */
static bool step_retrying(struct ce_store *s, enum stmt_id id, const char *what)
{
    for (int attempt = 0;; attempt++) {
        sqlite3_stmt *st = use(s, id);
        int rc = sqlite3_step(st);

        if (rc == SQLITE_DONE) {
            sqlite3_reset(st);
            return true;
        }
        if (!is_busy(rc) || attempt + 1 >= BEGIN_RETRIES) {
            db_err(s, what);
            sqlite3_reset(st);
            return false;
        }
        sqlite3_reset(st);
        backoff(attempt);
    }
}

/* Inside ce_store_begin the caller's transaction already holds the write
 * lock; the helpers then join it instead of nesting. */
static bool tx_begin(struct ce_store *s, const char *what)
{
    return s->in_tx || step_retrying(s, ST_BEGIN, what);
}

static void tx_rollback(struct ce_store *s)
{
    /* Some errors (SQLITE_FULL, IOERR, NOMEM) already rolled back. */
    if (s->in_tx || sqlite3_get_autocommit(s->db))
        return;
    sqlite3_stmt *st = use(s, ST_ROLLBACK);
    sqlite3_step(st);
    sqlite3_reset(st);
}

static bool tx_commit(struct ce_store *s, const char *what)
{
    if (s->in_tx)
        return true;
    if (step_retrying(s, ST_COMMIT, what))
        return true;
    tx_rollback(s);
    return false;
}

/* The oldest fetched_at still fresh for ttl at now; a negative ttl never
 * expires. Saturates instead of overflowing on absurd inputs. */
static int64_t cutoff(int64_t now, long ttl)
{
    if (ttl < 0)
        return INT64_MIN;
    if (now < INT64_MIN + ttl)
        return INT64_MIN;
    return now - ttl;
}

static int64_t day_start(int64_t t)
{
    int64_t d = t / DAY_SECONDS;

    if (t % DAY_SECONDS < 0)
        d--;
    return d * DAY_SECONDS;
}

/* kill(pid, 0) probes without signalling: EPERM means the process exists but
 * belongs to someone else. pid <= 0 would address process groups, and a pid
 * this far out of range cannot be live: both count as gone. */
static bool pid_alive(int64_t pid)
{
    if (pid <= 0 || pid > INT_MAX)
        return false;
    return kill((pid_t)pid, 0) == 0 || errno != ESRCH;
}

static void sql_pid_alive(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    sqlite3_result_int(ctx, pid_alive(sqlite3_value_int64(argv[0])));
}

/* ---- opening ---------------------------------------------------------- */

/* mkdir -p of every directory above the database file. */
static bool make_parents(const char *path, char *err, size_t errlen)
{
    char *dir = ce_xstrdup(path);
    bool ok = true;

    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            int e = errno;
            struct stat sb;

            /* Some systems report EACCES/EROFS before EEXIST. */
            if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
                snprintf(err, errlen, "cannot create directory '%s' for cache '%s': %s", dir, path,
                         strerror(e));
                ok = false;
                break;
            }
        }
        *p = '/';
    }
    free(dir);
    return ok;
}

/* One integer from a pragma or query; false with the sqlite code in *rc. */
static bool query_int(sqlite3 *db, const char *sql, int64_t *out, int *rc)
{
    sqlite3_stmt *st = NULL;

    *rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (*rc != SQLITE_OK)
        return false;
    *rc = sqlite3_step(st);
    if (*rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        *rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return *rc == SQLITE_OK;
}

/* Why the file (or the -wal and -shm files beside it) cannot be opened.
 * SQLite's own errno is of its last attempt: after a failed read-write open
 * it retries read-only, and reports ENOENT for an unwritable directory. */
static int open_errno(const char *path, int fallback)
{
    struct stat sb;
    char *dir, *slash;
    int e = 0;

    if (stat(path, &sb) == 0) {
        if (S_ISDIR(sb.st_mode))
            return EISDIR;
        if (access(path, R_OK | W_OK) != 0)
            return errno;
    } else if (errno != ENOENT) {
        return errno;
    }
    /* The directory must take new files: the database itself, its WAL. */
    dir = ce_xstrdup(path);
    slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    if (access(slash ? dir : ".", W_OK | X_OK) != 0)
        e = errno;
    free(dir);
    return e ? e : fallback;
}

/* The three facts that identify our file, read in one statement so that
 * they come from one snapshot: another process creating the schema commits
 * tables, application_id and user_version together. */
static bool read_header(sqlite3 *db, int64_t *app, int64_t *version, int64_t *tables, int *rc)
{
    sqlite3_stmt *st = NULL;

    *rc = sqlite3_prepare_v2(db,
                             "SELECT (SELECT application_id FROM pragma_application_id),"
                             " (SELECT user_version FROM pragma_user_version),"
                             " (SELECT COUNT(*) FROM sqlite_master)",
                             -1, &st, NULL);
    if (*rc != SQLITE_OK)
        return false;
    *rc = sqlite3_step(st);
    if (*rc == SQLITE_ROW) {
        *app = sqlite3_column_int64(st, 0);
        *version = sqlite3_column_int64(st, 1);
        *tables = sqlite3_column_int64(st, 2);
        *rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return *rc == SQLITE_OK;
}

static void open_err(struct ce_store *s, int rc, const char *what, char *err, size_t errlen)
{
    int sys = sqlite3_system_errno(s->db);

    if ((rc & 0xff) == SQLITE_CANTOPEN || (rc & 0xff) == SQLITE_READONLY)
        sys = open_errno(s->path, sys);

    rc &= 0xff;
    if (rc == SQLITE_NOTADB)
        snprintf(err, errlen, "cache '%s' is not a cti-enrich database (file is not a database)",
                 s->path);
    else if (rc == SQLITE_READONLY)
        snprintf(err, errlen, "cache '%s' is not writable: %s", s->path,
                 strerror(sys ? sys : EACCES));
    else if (rc == SQLITE_CORRUPT)
        snprintf(err, errlen, "cache '%s' is corrupt (%s); move it away or use another --cache",
                 s->path, sqlite3_errmsg(s->db));
    else if (sys != 0 && (rc == SQLITE_CANTOPEN || rc == SQLITE_IOERR))
        snprintf(err, errlen, "cannot %s cache '%s': %s (%s)", what, s->path, sqlite3_errmsg(s->db),
                 strerror(sys));
    else
        snprintf(err, errlen, "cannot %s cache '%s': %s", what, s->path, sqlite3_errmsg(s->db));
}

/* Upgrades a file written by an older cti-enrich, inside the caller's
 * transaction. Version 1 is the first, so there is nothing to upgrade yet;
 * later versions add `if (from < N) { ALTER ... }` steps here. */
static int migrate(sqlite3 *db, int64_t from)
{
    (void)from;
    return sqlite3_exec(db, schema_sql, NULL, NULL, NULL);
}

/* Creates, checks or upgrades the schema. The quick check runs without a
 * write lock; only a file that needs work takes one, and re-checks under it
 * because another process may have created the schema meanwhile. */
static bool setup_schema(struct ce_store *s, char *err, size_t errlen)
{
    int rc = SQLITE_OK;
    bool locked = false;

    for (;;) {
        int64_t app = 0, version = 0, tables = 0;

        if (!read_header(s->db, &app, &version, &tables, &rc)) {
            open_err(s, rc, "read", err, errlen);
            goto fail;
        }
        if (app != 0 && app != APPLICATION_ID) {
            snprintf(err, errlen,
                     "cache '%s' is not a cti-enrich database (it belongs to another "
                     "application)",
                     s->path);
            goto fail;
        }
        if (version > SCHEMA_VERSION) {
            snprintf(err, errlen,
                     "cache '%s' has schema version %lld, newer than this cti-enrich "
                     "understands (%d); upgrade cti-enrich or use another --cache",
                     s->path, (long long)version, SCHEMA_VERSION);
            goto fail;
        }
        if (app == 0 && tables > 0) {
            snprintf(err, errlen, "cache '%s' is not a cti-enrich database (it holds other tables)",
                     s->path);
            goto fail;
        }
        if (app == APPLICATION_ID && version == SCHEMA_VERSION)
            break;
        if (locked) {
            char sql[96];

            rc = migrate(s->db, version);
            if (rc == SQLITE_OK) {
                snprintf(sql, sizeof sql, "PRAGMA application_id = %d; PRAGMA user_version = %d",
                         APPLICATION_ID, SCHEMA_VERSION);
                rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
            }
            if (rc != SQLITE_OK) {
                open_err(s, rc, "create the schema in", err, errlen);
                goto fail;
            }
            break;
        }
        for (int attempt = 0;; attempt++) {
            rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
            if (rc == SQLITE_OK || !is_busy(rc) || attempt + 1 >= BEGIN_RETRIES)
                break;
            backoff(attempt);
        }
        if (rc != SQLITE_OK) {
            open_err(s, rc, "lock", err, errlen);
            goto fail;
        }
        locked = true;
    }
    if (locked) {
        rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            open_err(s, rc, "create the schema in", err, errlen);
            goto fail;
        }
    }
    return true;

fail:
    if (locked && !sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return false;
}

/* Switching a new file to WAL needs an exclusive lock, and SQLite returns
 * SQLITE_BUSY at once (no busy handler: it would deadlock) when processes
 * that opened the fresh file together both hold shared locks: retry. */
static int set_wal(struct ce_store *s)
{
    int rc;

    for (int attempt = 0;; attempt++) {
        sqlite3_stmt *st = NULL;

        rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
        if (rc == SQLITE_OK) {
            rc = sqlite3_step(st);
            if (rc == SQLITE_ROW) {
                const char *mode = (const char *)sqlite3_column_text(st, 0);

                /* Some filesystems cannot share memory maps: WAL then stays
                 * off, and the rollback journal is as safe, only slower. */
                if (mode && strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0)
                    ce_debug("cache '%s': journal mode %s, not WAL", s->path, mode);
                rc = SQLITE_OK;
            }
        }
        sqlite3_finalize(st);
        if (rc == SQLITE_OK || !is_busy(rc) || attempt + 1 >= BEGIN_RETRIES)
            return rc;
        backoff(attempt);
    }
}

struct ce_store *ce_store_open(const char *path, char *err, size_t errlen)
{
    struct ce_store *s = NULL;
    int64_t ignored = 0;
    int rc;

    if (!path || !*path) {
        /* SQLite would silently open a private temporary database. */
        snprintf(err, errlen, "empty cache path");
        return NULL;
    }
    if (!make_parents(path, err, errlen))
        return NULL;

    s = ce_xcalloc(1, sizeof *s);
    s->path = ce_xstrdup(path);
    rc = sqlite3_open_v2(path, &s->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        if (!s->db) {
            snprintf(err, errlen, "cannot open cache '%s': out of memory", path);
            goto fail;
        }
        open_err(s, rc, "open", err, errlen);
        goto fail;
    }
    /* SQLite falls back to read-only when the file is write-protected, and
     * would only fail on the first write: say so now. */
    if (sqlite3_db_readonly(s->db, "main") == 1) {
        int e = access(path, W_OK) != 0 ? errno : EACCES;

        snprintf(err, errlen, "cache '%s' is not writable: %s", path, strerror(e));
        goto fail;
    }
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);

    /* The first read of the header: a file that is not SQLite fails here
     * with SQLITE_NOTADB, before the pragmas below try to write it. */
    if (!query_int(s->db, "PRAGMA user_version", &ignored, &rc)) {
        open_err(s, rc, "open", err, errlen);
        goto fail;
    }

    /* WAL with synchronous=NORMAL: a commit has been written (write(2)) into
     * the WAL before COMMIT returns, and only checkpoints fsync. A killed
     * process (SIGKILL, crash) therefore loses no committed answer or token,
     * which is the requirement; a power cut may lose the last commits but
     * never corrupts the file. WAL also lets readers run beside a writer. */
    rc = set_wal(s);
    if (rc != SQLITE_OK) {
        open_err(s, rc, "set up", err, errlen);
        goto fail;
    }
    rc = sqlite3_exec(s->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        open_err(s, rc, "set up", err, errlen);
        goto fail;
    }
    if (!setup_schema(s, err, errlen))
        goto fail;

    rc = sqlite3_create_function(s->db, "ce_pid_alive", 1, SQLITE_UTF8, NULL, sql_pid_alive, NULL,
                                 NULL);
    if (rc != SQLITE_OK) {
        open_err(s, rc, "set up", err, errlen);
        goto fail;
    }
    for (int i = 0; i < ST_COUNT; i++) {
        rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
        if (rc != SQLITE_OK) {
            open_err(s, rc, "prepare statements for", err, errlen);
            goto fail;
        }
    }
    return s;

fail:
    ce_store_close(s);
    return NULL;
}

void ce_store_close(struct ce_store *s)
{
    if (!s)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    /* An open ce_store_begin transaction is rolled back by the close. */
    sqlite3_close_v2(s->db);
    free(s->path);
    free(s);
}

const char *ce_store_error(const struct ce_store *s)
{
    if (!s)
        return "no cache";
    return s->err[0] ? s->err : "no error";
}

/* ---- answers ------------------------------------------------------------ */

enum ce_store_hit ce_store_get(struct ce_store *s, const char *ip, int64_t now, long ttl,
                               long neg_ttl, char **body, size_t *len, int64_t *fetched_at)
{
    enum ce_store_hit hit = CE_STORE_MISS;
    sqlite3_stmt *st;
    int rc;

    if (body)
        *body = NULL;
    if (len)
        *len = 0;
    if (fetched_at)
        *fetched_at = 0;
    if (!s)
        return CE_STORE_ERROR;
    if (!ip) {
        set_err(s, "cache '%s': lookup without an address", s->path);
        return CE_STORE_ERROR;
    }

    st = use(s, ST_GET);
    bind_text(st, 1, ip);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        bool found = sqlite3_column_int(st, 0) != 0;
        int64_t at = sqlite3_column_int64(st, 2);

        if (at >= cutoff(now, found ? ttl : neg_ttl)) {
            hit = found ? CE_STORE_FOUND : CE_STORE_NOT_FOUND;
            if (fetched_at)
                *fetched_at = at;
            if (found && body) {
                const void *b = sqlite3_column_blob(st, 1);
                size_t n = (size_t)sqlite3_column_bytes(st, 1);
                char *copy = ce_xmalloc(n + 1);

                if (n)
                    memcpy(copy, b, n);
                copy[n] = '\0';
                *body = copy;
                if (len)
                    *len = n;
            } else if (found && len) {
                *len = (size_t)sqlite3_column_bytes(st, 1);
            }
        }
    } else if (rc != SQLITE_DONE) {
        db_err(s, "reading an answer");
        hit = CE_STORE_ERROR;
    }
    sqlite3_reset(st);
    return hit;
}

bool ce_store_get_rendered(struct ce_store *s, const char *ip, int64_t sig, int64_t now, long ttl,
                           char **text, size_t *len)
{
    sqlite3_stmt *st = use(s, ST_RGET);
    bool hit = false;

    bind_text(st, 1, ip);
    sqlite3_bind_int64(st, 2, sig);
    sqlite3_bind_int64(st, 3, cutoff(now, ttl));
    if (sqlite3_step(st) == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        const void *b = sqlite3_column_blob(st, 0);
        *text = ce_xmalloc(n + 1);
        if (n)
            memcpy(*text, b, n);
        (*text)[n] = '\0';
        *len = n;
        hit = true;
    }
    sqlite3_reset(st);
    return hit;
}

void ce_store_put_rendered(struct ce_store *s, const char *ip, int64_t sig, int64_t fetched_at,
                           const char *text, size_t len)
{
    sqlite3_stmt *st = use(s, ST_RPUT);

    bind_text(st, 1, ip);
    sqlite3_bind_int64(st, 2, sig);
    sqlite3_bind_int64(st, 3, fetched_at);
    sqlite3_bind_blob64(st, 4, text, len, SQLITE_STATIC);
    sqlite3_step(st); /* best effort: a miss only costs a JSON parse later */
    sqlite3_reset(st);
}

bool ce_store_put(struct ce_store *s, const char *ip, bool found, const char *body, size_t len,
                  int64_t fetched_at)
{
    sqlite3_stmt *st;

    if (!s)
        return false;
    if (!ip) {
        set_err(s, "cache '%s': answer without an address", s->path);
        return false;
    }
    if (!tx_begin(s, "storing an answer"))
        return false;

    st = use(s, ST_PUT);
    bind_text(st, 1, ip);
    sqlite3_bind_int(st, 2, found);
    if (found)
        /* A non-NULL pointer stores an empty blob rather than NULL. */
        sqlite3_bind_blob64(st, 3, body ? body : "", body ? len : 0, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 3);
    sqlite3_bind_int64(st, 4, fetched_at);
    if (!run(s, st, "storing an answer"))
        goto fail;

    st = use(s, ST_UNCLAIM);
    bind_text(st, 1, ip);
    sqlite3_bind_int64(st, 2, getpid());
    if (!run(s, st, "releasing a claim"))
        goto fail;

    return tx_commit(s, "storing an answer");

fail:
    tx_rollback(s);
    return false;
}

/* ---- quota ---------------------------------------------------------------- */

bool ce_quota_parse(const char *s, struct ce_quota_spec *out)
{
    static const struct {
        const char *name;
        enum ce_period period;
    } units[] = {
        {"day", CE_PERIOD_DAY}, {"d", CE_PERIOD_DAY},       {"week", CE_PERIOD_WEEK},
        {"w", CE_PERIOD_WEEK},  {"month", CE_PERIOD_MONTH}, {"m", CE_PERIOD_MONTH},
    };
    char *end;
    long n;

    /* strtol alone would accept " 10", "+10" and "-1". */
    if (!s || !isdigit((unsigned char)s[0]))
        return false;
    errno = 0;
    n = strtol(s, &end, 10);
    if (errno == ERANGE || *end != '/')
        return false;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(end + 1, units[i].name) == 0) {
            if (out) {
                out->limit = n;
                out->period = units[i].period;
            }
            return true;
        }
    }
    return false;
}

void ce_quota_window(enum ce_period p, int64_t now, int64_t *start, int64_t *end)
{
    int64_t a = 0, b = INT64_MAX;
    time_t t = (time_t)now;
    struct tm tm;

    if (p != CE_PERIOD_NONE && gmtime_r(&t, &tm)) {
        tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        tm.tm_isdst = 0;
        /* timegm normalises the fields it is given (day 0, month 12...), and
         * writes the normalised date back, so each step starts clean. */
        switch (p) {
        case CE_PERIOD_DAY:
            a = timegm(&tm);
            tm.tm_mday += 1;
            b = timegm(&tm);
            break;
        case CE_PERIOD_WEEK:
            tm.tm_mday -= (tm.tm_wday + 6) % 7; /* back to Monday */
            a = timegm(&tm);
            tm.tm_mday += 7;
            b = timegm(&tm);
            break;
        case CE_PERIOD_MONTH:
            tm.tm_mday = 1;
            a = timegm(&tm);
            tm.tm_mon += 1;
            b = timegm(&tm);
            break;
        case CE_PERIOD_NONE:
            break;
        }
    }
    if (start)
        *start = a;
    if (end)
        *end = b;
}

static bool spent_in(struct ce_store *s, const char *fp, enum ce_period p, int64_t now, long *spent)
{
    int64_t a, b;
    sqlite3_stmt *st = use(s, ST_SPENT);
    int rc;

    ce_quota_window(p, now, &a, &b);
    bind_text(st, 1, fp);
    sqlite3_bind_int64(st, 2, a);
    sqlite3_bind_int64(st, 3, b);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        db_err(s, "reading the quota ledger");
        sqlite3_reset(st);
        return false;
    }
    int64_t v = sqlite3_column_int64(st, 0);
    *spent = v > LONG_MAX ? LONG_MAX : (long)v;
    sqlite3_reset(st);
    return true;
}

/* The block time of fp, 0 when none. */
static bool block_of(struct ce_store *s, const char *fp, int64_t *until)
{
    sqlite3_stmt *st = use(s, ST_BLOCK_GET);
    int rc;

    bind_text(st, 1, fp);
    rc = sqlite3_step(st);
    *until = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        db_err(s, "reading the quota block");
        sqlite3_reset(st);
        return false;
    }
    sqlite3_reset(st);
    return true;
}

/* Whether another live process holds a fresh claim on ip. Our own pid's
 * claim counts as none: asking twice for one ip is the caller's business. */
static bool claimed_by_other(struct ce_store *s, const char *ip, int64_t now, long claim_ttl,
                             bool *claimed)
{
    sqlite3_stmt *st = use(s, ST_CLAIM_GET);
    int rc;

    *claimed = false;
    bind_text(st, 1, ip);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        int64_t pid = sqlite3_column_int64(st, 0);
        int64_t at = sqlite3_column_int64(st, 1);
        /* A claim from further in the future than its ttl means the clock
         * was set back; let it go rather than wait for the clock. */
        bool fresh =
            at >= cutoff(now, claim_ttl) && (claim_ttl < 0 || at - (int64_t)claim_ttl <= now);

        *claimed = fresh && pid != (int64_t)getpid() && pid_alive(pid);
    } else if (rc != SQLITE_DONE) {
        db_err(s, "reading claims");
        sqlite3_reset(st);
        return false;
    }
    sqlite3_reset(st);
    return true;
}

/* ce_store_reserve, and optionally first a check that no fresh answer for ip
 * has arrived (from another process) since the caller last looked. */
static enum ce_reserve reserve(struct ce_store *s, const char *fp, const struct ce_quota_spec *spec,
                               const char *ip, int64_t now, long claim_ttl, bool check_answer,
                               long ttl, long neg_ttl)
{
    enum ce_reserve r = CE_RESERVE_ERROR;
    int64_t until;
    bool claimed;
    sqlite3_stmt *st;

    if (!s)
        return CE_RESERVE_ERROR;
    if (!fp || !ip) {
        set_err(s, "cache '%s': reserve without a key fingerprint or address", s->path);
        return CE_RESERVE_ERROR;
    }
    if (s->in_tx) {
        /* The token would be recorded only at ce_store_commit: a crash
         * before it forgets a lookup that was paid for. */
        set_err(s, "cache '%s': reserve inside ce_store_begin is not allowed", s->path);
        return CE_RESERVE_ERROR;
    }
    if (!tx_begin(s, "reserving a lookup"))
        return CE_RESERVE_ERROR;

    if (!block_of(s, fp, &until))
        goto fail;
    if (now < until) {
        r = CE_RESERVE_BLOCKED;
        goto done;
    }
    if (check_answer) {
        /* Same snapshot as the write below: nobody can add it in between. */
        enum ce_store_hit hit = ce_store_get(s, ip, now, ttl, neg_ttl, NULL, NULL, NULL);

        if (hit == CE_STORE_ERROR)
            goto fail;
        if (hit != CE_STORE_MISS) {
            r = CE_RESERVE_CLAIMED;
            goto done;
        }
    }
    if (!claimed_by_other(s, ip, now, claim_ttl, &claimed))
        goto fail;
    if (claimed) {
        r = CE_RESERVE_CLAIMED;
        goto done;
    }
    if (spec && spec->limit >= 0) {
        long spent;

        if (!spent_in(s, fp, spec->period, now, &spent))
            goto fail;
        if (spent >= spec->limit) {
            r = CE_RESERVE_EXHAUSTED;
            goto done;
        }
    }

    /* Tokens are counted even without a budget, so `quota` can report them. */
    st = use(s, ST_SPEND);
    bind_text(st, 1, fp);
    sqlite3_bind_int64(st, 2, day_start(now));
    if (!run(s, st, "counting a token"))
        goto fail;
    st = use(s, ST_CLAIM_SET);
    bind_text(st, 1, ip);
    sqlite3_bind_int64(st, 2, getpid());
    sqlite3_bind_int64(st, 3, now);
    if (!run(s, st, "claiming an address"))
        goto fail;
    r = CE_RESERVE_GRANTED;

done:
    /* Only a committed token may be spent: a failed commit is an error. */
    if (!tx_commit(s, "reserving a lookup"))
        return CE_RESERVE_ERROR;
    return r;

fail:
    tx_rollback(s);
    return CE_RESERVE_ERROR;
}

enum ce_reserve ce_store_reserve(struct ce_store *s, const char *fp,
                                 const struct ce_quota_spec *spec, const char *ip, int64_t now,
                                 long claim_ttl)
{
    return reserve(s, fp, spec, ip, now, claim_ttl, false, 0, 0);
}

/* Like ce_store_reserve, but if a fresh answer for ip (per ttl, neg_ttl) is
 * in the cache, spends nothing and returns CE_RESERVE_CLAIMED ("another
 * process has it: read the cache again"). Closes the window between a
 * caller's ce_store_get miss and its reserve, during which another process
 * may have paid for and stored the same ip. */
enum ce_reserve ce_store_reserve_uncached(struct ce_store *s, const char *fp,
                                          const struct ce_quota_spec *spec, const char *ip,
                                          int64_t now, long claim_ttl, long ttl, long neg_ttl);

enum ce_reserve ce_store_reserve_uncached(struct ce_store *s, const char *fp,
                                          const struct ce_quota_spec *spec, const char *ip,
                                          int64_t now, long claim_ttl, long ttl, long neg_ttl)
{
    return reserve(s, fp, spec, ip, now, claim_ttl, true, ttl, neg_ttl);
}

void ce_store_release(struct ce_store *s, const char *ip)
{
    sqlite3_stmt *st;

    if (!s || !ip)
        return;
    /* A single autocommit statement: durable on return like a commit. */
    st = use(s, ST_UNCLAIM);
    bind_text(st, 1, ip);
    sqlite3_bind_int64(st, 2, getpid());
    run(s, st, "releasing a claim");
}

bool ce_store_block(struct ce_store *s, const char *fp, int64_t until)
{
    sqlite3_stmt *st;

    if (!s)
        return false;
    if (!fp) {
        set_err(s, "cache '%s': block without a key fingerprint", s->path);
        return false;
    }
    st = use(s, ST_BLOCK_SET);
    bind_text(st, 1, fp);
    sqlite3_bind_int64(st, 2, until);
    return run(s, st, "recording a quota block");
}

bool ce_store_quota_status(struct ce_store *s, const char *fp, const struct ce_quota_spec *spec,
                           int64_t now, long *spent, int64_t *blocked_until)
{
    long n = 0;
    int64_t until = 0;

    if (!s)
        return false;
    if (!fp) {
        set_err(s, "cache '%s': quota status without a key fingerprint", s->path);
        return false;
    }
    if (!spent_in(s, fp, spec ? spec->period : CE_PERIOD_NONE, now, &n))
        return false;
    if (!block_of(s, fp, &until))
        return false;
    if (spent)
        *spent = n;
    if (blocked_until)
        *blocked_until = until > now ? until : 0;
    return true;
}

/* ---- maintenance -------------------------------------------------------- */

static int64_t file_size(const char *path)
{
    struct stat sb;

    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) ? (int64_t)sb.st_size : 0;
}

bool ce_store_stats(struct ce_store *s, int64_t now, long ttl, long neg_ttl,
                    struct ce_store_stats *out)
{
    struct ce_store_stats r = {0};
    sqlite3_stmt *st;
    int rc;

    if (!s || !out)
        return false;
    st = use(s, ST_STATS);
    sqlite3_bind_int64(st, 1, cutoff(now, ttl));
    sqlite3_bind_int64(st, 2, cutoff(now, neg_ttl));
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        db_err(s, "reading statistics");
        sqlite3_reset(st);
        return false;
    }
    r.found = (long)sqlite3_column_int64(st, 0);
    r.not_found = (long)sqlite3_column_int64(st, 1);
    r.expired_found = (long)sqlite3_column_int64(st, 2);
    r.expired_not_found = (long)sqlite3_column_int64(st, 3);
    r.oldest = sqlite3_column_int64(st, 4);
    r.newest = sqlite3_column_int64(st, 5);
    sqlite3_reset(st);

    st = use(s, ST_CLAIM_COUNT);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        db_err(s, "reading statistics");
        sqlite3_reset(st);
        return false;
    }
    r.claims = (long)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);

    /* What the cache costs on disk: the file and its write-ahead log. */
    {
        struct ce_buf wal = {0};

        ce_buf_printf(&wal, "%s-wal", s->path);
        r.bytes = file_size(s->path) + file_size(ce_buf_cstr(&wal));
        ce_buf_free(&wal);
    }
    *out = r;
    return true;
}

long ce_store_purge(struct ce_store *s, bool expired_only, int64_t now, long ttl, long neg_ttl)
{
    sqlite3_stmt *st;
    long n;

    if (!s)
        return -1;
    if (!tx_begin(s, "purging"))
        return -1;
    if (expired_only) {
        st = use(s, ST_PURGE_EXPIRED);
        sqlite3_bind_int64(st, 1, cutoff(now, ttl));
        sqlite3_bind_int64(st, 2, cutoff(now, neg_ttl));
    } else {
        st = use(s, ST_PURGE_ALL);
    }
    if (!run(s, st, "purging answers"))
        goto fail;
    n = (long)sqlite3_changes(s->db);
    /* Claims left behind by killed processes are dead weight, and so are
     * renderings of answers that are gone. */
    if (!run(s, use(s, ST_PURGE_CLAIMS), "purging claims"))
        goto fail;
    if (!run(s, use(s, ST_RPURGE), "purging renderings"))
        goto fail;
    if (!tx_commit(s, "purging"))
        return -1;
    return n;

fail:
    tx_rollback(s);
    return -1;
}

bool ce_store_each(struct ce_store *s, ce_store_each_fn fn, void *ud)
{
    sqlite3_stmt *st;
    int rc;

    if (!s || !fn)
        return false;
    st = use(s, ST_EACH);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *ip = (const char *)sqlite3_column_text(st, 0);
        bool found = sqlite3_column_int(st, 1) != 0;
        const char *body = (const char *)sqlite3_column_blob(st, 2);
        size_t len = (size_t)sqlite3_column_bytes(st, 2);

        if (!ip)
            continue;
        if (!fn(ud, ip, found, found ? (body ? body : "") : NULL, found ? len : 0,
                sqlite3_column_int64(st, 3))) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE) {
        db_err(s, "reading answers");
        sqlite3_reset(st);
        return false;
    }
    sqlite3_reset(st);
    return true;
}

bool ce_store_begin(struct ce_store *s)
{
    if (!s)
        return false;
    if (s->in_tx) {
        set_err(s, "cache '%s': a transaction is already open", s->path);
        return false;
    }
    if (!tx_begin(s, "starting a transaction"))
        return false;
    s->in_tx = true;
    return true;
}

bool ce_store_commit(struct ce_store *s)
{
    if (!s)
        return false;
    if (!s->in_tx) {
        set_err(s, "cache '%s': no transaction is open", s->path);
        return false;
    }
    s->in_tx = false;
    /* SQLITE_FULL and I/O errors roll a transaction back on their own; what
     * the caller believes stored is then gone, which must be an error. */
    if (sqlite3_get_autocommit(s->db)) {
        set_err(s, "cache '%s': the transaction was rolled back after an earlier error", s->path);
        return false;
    }
    return tx_commit(s, "committing");
}

/* ---- key fingerprint: SHA-256 (FIPS 180-4) ------------------------------- */

static const uint32_t sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror32(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

static void sha256_block(uint32_t h[8], const unsigned char *p)
{
    uint32_t w[64], a, b, c, d, e, f, g, k;

    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10);

        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = k + (ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25)) + ((e & f) ^ (~e & g)) +
                      sha_k[i] + w[i];
        uint32_t t2 = (ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));

        k = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

static void sha256(const void *data, size_t len, unsigned char out[32])
{
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    const unsigned char *p = data;
    unsigned char tail[128] = {0};
    size_t rest = len % 64, tail_len = rest < 56 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;

    for (size_t i = 0; i + 64 <= len; i += 64)
        sha256_block(h, p + i);
    /* The message ends with 0x80, zeros, and its length in bits (big-endian)
     * in the last 8 bytes of one or two final blocks. */
    if (rest)
        memcpy(tail, p + len - rest, rest);
    tail[rest] = 0x80;
    for (int i = 0; i < 8; i++)
        tail[tail_len - 1 - i] = (unsigned char)(bits >> (8 * i));
    for (size_t i = 0; i < tail_len; i += 64)
        sha256_block(h, tail + i);
    for (int i = 0; i < 32; i++)
        out[i] = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
}

void ce_key_fingerprint(const char *key, char out[17])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[32];

    if (!key)
        key = "";
    sha256(key, strlen(key), md);
    for (int i = 0; i < 8; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[16] = '\0';
}
