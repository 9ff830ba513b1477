/* beat.c — the leader-elected scheduler.
 *
 * Each tick does two things, in this order:
 *
 *   1. The lease. A standby reads the 'beat' row of beat_leases (a plain
 *      SELECT, so polling never takes SQLite's write lock) and, when it is
 *      missing, expired or already its own, takes it with one conditional
 *      statement that works on both engines:
 *        UPDATE beat_leases SET holder = me, expires_at = now + lease …
 *          WHERE name = 'beat' AND (holder = me OR expires_at < now)
 *      falling back to INSERT … ON CONFLICT DO NOTHING for the first beat
 *      ever. One row changed means we lead. The leader renews the same way
 *      every third of the lease; if it cannot (lost to another, database
 *      down) past its own expiry, it stops enqueueing at once.
 *   2. The slots, as leader. For each entry whose next slot is due, the
 *      slot claimed is the LATEST due one (cron_prev(now)): a beat that
 *      slept, or starts after downtime, runs a task once, not once per
 *      missed slot. The claim is one write transaction (db_write_tx):
 *        lease still ours at now → beat_slots[task] advances to the slot
 *        (an upsert whose WHERE refuses to go backwards or stay put) →
 *        jobs_enqueue with unique key "beat:TASK:SLOT".
 *      If the upsert changed nothing, another beat (or this one before a
 *      restart) already handled the slot and nothing is enqueued; the
 *      unique key is a second fence for the window where the job is active.
 *
 * Times: the lease compares the beats' own clocks (ms), so the lease must be
 * much longer than the clock skew between machines (NTP keeps it to
 * milliseconds; the lease is seconds). Slots are cron instants in the zone
 * of cron_tz_set(), stored as ms. The first time a task is seen, its
 * record starts at "now": a fresh install does not run every task at once.
 *
 * The thread (beat_start) sleeps on a condition variable until the next
 * due step, at most BEAT_POLL_MAX_MS, so beat_stop() is prompt. */
#include "jobs/beat.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "db/db.h"
#include "jobs/jobs.h"

#define BEAT_LEASE_NAME "beat"
#define BEAT_KEY_MAX 128

struct beat {
    beat_schedule schedule;
    int64_t next_slot[BEAT_ENTRIES_MAX]; /* ms, valid when loaded */
    bool loaded;
    int64_t lease_ms;
    char holder[BEAT_HOLDER_MAX + 1];
    beat_clock_fn clock;
    void *clock_ctx;
    db *d; /* NULL after a failure: reopened by the next tick */

    _Atomic bool leader; /* written by the ticking thread, read by anyone */
    int64_t lease_until; /* our lease's expiry as last written */
    int64_t lease_next;  /* when to renew (leader) or poll (standby) */
    int64_t retry_at;    /* after a failed claim, not before */

    pthread_t thread;
    bool started;
    pthread_mutex_t mu; /* guards stop, for the thread's wait */
    pthread_cond_t cv;
    bool stop;
};

/* ---- the schedule ------------------------------------------------------- */

static const struct {
    const char *task, *cron;
} default_schedule[] = {
    {"rebuild_ml_indexes", "0 * * * *"},
    {"purge_cache", "*/30 * * * *"},
    {"generate_daily_report", "0 0 * * *"},
    {"cleanup_old_data", "30 3 * * *"},
};

void beat_schedule_defaults(beat_schedule *s)
{
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < sizeof default_schedule / sizeof default_schedule[0]; i++) {
        beat_entry *e = &s->entries[s->n++];
        snprintf(e->task, sizeof e->task, "%s", default_schedule[i].task);
        snprintf(e->cron, sizeof e->cron, "%s", default_schedule[i].cron);
        /* Constant and covered by the tests: cannot fail. */
        (void)cron_parse(e->cron, &e->expr, NULL);
    }
}

static bool task_name_valid(const char *s, size_t len)
{
    if (len == 0 || len > BEAT_TASK_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '_' &&
            s[i] != '.' && s[i] != '-')
            return false;
    return true;
}

/* [p, end) without the whitespace at either end. */
static void trim(const char **p, const char **end)
{
    while (*p < *end && isspace((unsigned char)**p))
        (*p)++;
    while (*end > *p && isspace((unsigned char)(*end)[-1]))
        (*end)--;
}

int beat_schedule_parse(const char *text, beat_schedule *s, sm_error *err)
{
    beat_schedule out = {0};
    const char *p = text ? text : "";
    for (int index = 1; *p; index++) {
        const char *end = strchr(p, ';');
        if (!end)
            end = p + strlen(p);
        const char *next = *end ? end + 1 : end;
        const char *a = p, *b = end;
        trim(&a, &b);
        p = next;
        if (a == b) {
            if (*next || index == 1)
                return sm_error_set(err, SM_EINVAL, "entry %d is empty", index);
            break; /* a trailing ';' */
        }
        const char *eq = memchr(a, '=', (size_t)(b - a));
        if (!eq)
            return sm_error_set(err, SM_EINVAL, "entry %d '%.40s' is not task=cron", index, a);
        const char *ta = a, *tb = eq, *ca = eq + 1, *cb = b;
        trim(&ta, &tb);
        trim(&ca, &cb);
        if (!task_name_valid(ta, (size_t)(tb - ta)))
            return sm_error_set(err, SM_EINVAL,
                                "entry %d: '%.*s' is not a task name ([a-z0-9_.-], 1-%d bytes)",
                                index, (int)(tb - ta > 64 ? 64 : tb - ta), ta, BEAT_TASK_MAX);
        if (out.n == BEAT_ENTRIES_MAX)
            return sm_error_set(err, SM_EINVAL, "more than %d entries", BEAT_ENTRIES_MAX);
        if (cb - ca > CRON_EXPR_MAX)
            return sm_error_set(err, SM_EINVAL, "entry %d: cron expression too long", index);
        beat_entry *e = &out.entries[out.n];
        memcpy(e->task, ta, (size_t)(tb - ta));
        memcpy(e->cron, ca, (size_t)(cb - ca));
        for (int i = 0; i < out.n; i++)
            if (strcmp(out.entries[i].task, e->task) == 0)
                return sm_error_set(err, SM_EINVAL, "entry %d: task '%s' is scheduled twice", index,
                                    e->task);
        sm_error cerr = {0};
        if (cron_parse(e->cron, &e->expr, &cerr) < 0)
            return sm_error_set(err, SM_EINVAL, "entry %d (%s): %s", index, e->task, cerr.message);
        out.n++;
    }
    if (out.n == 0)
        return sm_error_set(err, SM_EINVAL, "no entries (expected task=cron;task=cron)");
    *s = out;
    return 0;
}

int beat_schedule_check(const beat_schedule *s, sm_error *err)
{
    for (int i = 0; i < s->n; i++)
        if (!jobs_task_find(s->entries[i].task))
            return sm_error_set(err, SM_EINVAL, "task '%s' is not a registered task",
                                s->entries[i].task);
    return 0;
}

/* ---- lifecycle ---------------------------------------------------------- */

static int64_t default_clock(void *ctx)
{
    (void)ctx;
    return clock_now_ms();
}

static int64_t beat_now(const beat *b)
{
    return b->clock(b->clock_ctx);
}

static void make_holder(char *out, size_t len)
{
    char host[64] = "unknown";
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = '\0';
    snprintf(out, len, "%s:%ld:%08x", host, (long)getpid(), (unsigned)randombytes_random());
}

static int beat_connect(beat *b, sm_error *err)
{
    const sm_config *cfg = config_get();
    if (b->d)
        return 0;
    if (!cfg)
        return sm_error_set(err, SM_ECONFIG, "beat: configuration not loaded");
    return db_open(cfg->database_url, cfg->db_timeout_ms, &b->d, err);
}

int beat_new(const beat_options *o, beat **out, sm_error *err)
{
    if (!o || !o->schedule || o->schedule->n < 1 || o->schedule->n > BEAT_ENTRIES_MAX ||
        o->lease_ms < 1000 || (o->holder && (!*o->holder || strlen(o->holder) > BEAT_HOLDER_MAX)))
        return sm_error_set(err, SM_EINVAL, "beat: invalid options");
    beat *b = calloc(1, sizeof *b);
    if (!b)
        return sm_error_set(err, SM_ENOMEM, "out of memory");
    b->schedule = *o->schedule;
    b->lease_ms = o->lease_ms;
    b->clock = o->clock ? o->clock : default_clock;
    b->clock_ctx = o->clock_ctx;
    if (o->holder)
        snprintf(b->holder, sizeof b->holder, "%s", o->holder);
    else
        make_holder(b->holder, sizeof b->holder);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&b->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0) {
        free(b);
        return sm_error_set(err, SM_ENOMEM, "beat: cannot create a condition variable");
    }
    pthread_mutex_init(&b->mu, NULL);
    if ((rc = beat_connect(b, err)) < 0) {
        pthread_cond_destroy(&b->cv);
        pthread_mutex_destroy(&b->mu);
        free(b);
        return rc;
    }
    *out = b;
    return 0;
}

void beat_free(beat *b)
{
    if (!b)
        return;
    if (b->leader)
        (void)beat_resign(b, NULL);
    db_close(b->d);
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

bool beat_is_leader(const beat *b)
{
    return b->leader;
}

const char *beat_holder(const beat *b)
{
    return b->holder;
}

/* A failed statement may mean a broken connection: drop it, so the next
 * tick reconnects (PostgreSQL restarts, network blips). */
static void beat_disconnect(beat *b)
{
    db_close(b->d);
    b->d = NULL;
}

/* ---- the lease ---------------------------------------------------------- */

static void set_leader(beat *b, bool leader, const char *why)
{
    if (leader == b->leader)
        return;
    b->leader = leader;
    b->loaded = false; /* a new term reloads beat_slots */
    log_emit(leader ? LOG_INFO : LOG_WARNING,
             leader ? "beat: leader acquired" : "beat: leader lost",
             json_pack("{s:s,s:s,s:I}", "holder", b->holder, "reason", why, "lease_ms",
                       (json_int_t)b->lease_ms));
}

/* Whether another holder's unexpired lease stands (a read, no lock). */
static int lease_taken(beat *b, int64_t now, bool *taken, sm_error *err)
{
    db_result *r = NULL;
    db_value p[] = {DB_T(BEAT_LEASE_NAME)};
    int rc =
        db_query(b->d, "SELECT holder, expires_at FROM beat_leases WHERE name = $1", p, 1, &r, err);
    if (rc < 0)
        return rc;
    *taken = db_result_rows(r) == 1 && strcmp(db_result_text(r, 0, 0), b->holder) != 0 &&
             db_result_int(r, 0, 1) >= now;
    db_result_free(r);
    return 0;
}

/* Takes or renews the lease at `now`. *held: whether we hold it after. */
static int lease_acquire(beat *b, int64_t now, bool *held, sm_error *err)
{
    int64_t n = 0;
    bool taken = false;
    int rc;
    *held = false;
    if (!b->leader) {
        if ((rc = lease_taken(b, now, &taken, err)) < 0)
            return rc;
        if (taken)
            return 0;
    }
    db_value p[] = {DB_T(BEAT_LEASE_NAME), DB_T(b->holder), DB_I(now + b->lease_ms), DB_I(now)};
    rc = db_exec(b->d,
                 "UPDATE beat_leases SET holder = $2, expires_at = $3, "
                 "acquired_at = CASE WHEN holder = $2 THEN acquired_at ELSE $4 END "
                 "WHERE name = $1 AND (holder = $2 OR expires_at < $4)",
                 p, 4, &n, err);
    if (rc == 0 && n == 0)
        rc = db_exec(b->d,
                     "INSERT INTO beat_leases (name, holder, expires_at, acquired_at) "
                     "VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
                     p, 4, &n, err);
    if (rc < 0)
        return rc;
    *held = n == 1;
    return 0;
}

int beat_resign(beat *b, sm_error *err)
{
    if (!b->leader)
        return 0;
    b->leader = false;
    int rc = beat_connect(b, err);
    if (rc == 0) {
        db_value p[] = {DB_T(BEAT_LEASE_NAME), DB_T(b->holder)};
        rc = db_exec(b->d, "UPDATE beat_leases SET expires_at = 0 WHERE name = $1 AND holder = $2",
                     p, 2, NULL, err);
    }
    log_emit(LOG_INFO, "beat: leader released",
             json_pack("{s:s,s:b}", "holder", b->holder, "released", rc == 0));
    return rc;
}

/* ---- the slots ---------------------------------------------------------- */

/* Where each entry resumes: after its recorded slot, or after now for a
 * task never seen (recorded now, so downtime from here on counts). */
static int slots_load(beat *b, int64_t now, sm_error *err)
{
    db_result *r = NULL;
    int rc = db_query(b->d, "SELECT task, last_slot FROM beat_slots", NULL, 0, &r, err);
    if (rc < 0)
        return rc;
    for (int i = 0; i < b->schedule.n; i++) {
        const beat_entry *e = &b->schedule.entries[i];
        int64_t last = -1;
        for (int row = 0; row < db_result_rows(r); row++)
            if (strcmp(db_result_text(r, row, 0), e->task) == 0)
                last = db_result_int(r, row, 1);
        if (last < 0) {
            last = now;
            db_value p[] = {DB_T(e->task), DB_I(now)};
            rc = db_exec(b->d,
                         "INSERT INTO beat_slots (task, last_slot, updated_at) "
                         "VALUES ($1, $2, $2) ON CONFLICT (task) DO NOTHING",
                         p, 2, NULL, err);
            if (rc < 0)
                break;
        }
        int64_t next;
        if (cron_next(&e->expr, last / 1000, &next) < 0) {
            rc = sm_error_set(err, SM_EINTERNAL, "beat: '%s' has no next slot", e->cron);
            break;
        }
        b->next_slot[i] = next * 1000;
    }
    db_result_free(r);
    b->loaded = rc == 0;
    return rc;
}

/* "2026-11-29T05:00:00Z": slots are whole minutes, in UTC. */
static void format_slot(int64_t slot_ms, char *out, size_t len)
{
    time_t t = (time_t)(slot_ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, len, "%lld", (long long)slot_ms);
}

typedef struct claim {
    const beat *b;
    const char *task;
    int64_t slot;
    int64_t now;
    const char *key;
    const char *args;
    bool lost;      /* out: the lease was no longer ours */
    bool enqueued;  /* out: this claim enqueued (or found active) the job */
    bool existed;   /* out: the unique key was already active */
    int64_t job_id; /* out */
} claim;

static int claim_tx(db *d, void *arg, sm_error *err)
{
    claim *c = arg;
    db_result *r = NULL;
    db_value lp[] = {DB_T(BEAT_LEASE_NAME), DB_T(c->b->holder), DB_I(c->now)};
    int rc = db_query(d,
                      "SELECT 1 FROM beat_leases WHERE name = $1 AND holder = $2 "
                      "AND expires_at > $3",
                      lp, 3, &r, err);
    if (rc < 0)
        return rc;
    c->lost = db_result_rows(r) == 0;
    db_result_free(r);
    if (c->lost)
        return 0;
    int64_t n = 0;
    db_value sp[] = {DB_T(c->task), DB_I(c->slot), DB_I(c->now)};
    rc = db_exec(d,
                 "INSERT INTO beat_slots (task, last_slot, updated_at) VALUES ($1, $2, $3) "
                 "ON CONFLICT (task) DO UPDATE SET last_slot = excluded.last_slot, "
                 "updated_at = excluded.updated_at, job_id = NULL "
                 "WHERE beat_slots.last_slot < excluded.last_slot",
                 sp, 3, &n, err);
    if (rc < 0 || n == 0)
        return rc; /* handled already: by another beat, or before a restart */
    jobs_new spec = {.task = c->task, .args_json = c->args, .unique_key = c->key};
    if (strlen(c->key) <= 64)
        spec.correlation_id = c->key;
    if ((rc = jobs_enqueue(d, &spec, &c->job_id, &c->existed, err)) < 0)
        return rc;
    db_value jp[] = {DB_I(c->job_id), DB_T(c->task)};
    if ((rc = db_exec(d, "UPDATE beat_slots SET job_id = $1 WHERE task = $2", jp, 2, NULL, err)) <
        0)
        return rc;
    c->enqueued = true;
    return 0;
}

/* Task-specific arguments of a slot: the daily report gets the local day
 * before its slot (the day that just ended at midnight). */
static int slot_args(const char *task, int64_t slot_ms, char *out, size_t len)
{
    if (strcmp(task, "generate_daily_report") != 0) {
        snprintf(out, len, "{}");
        return 0;
    }
    char day[11];
    if (cron_local_date(slot_ms / 1000, -1, day) < 0)
        return SM_EINVAL;
    snprintf(out, len, "{\"date\":\"%s\"}", day);
    return 0;
}

/* Claims the latest due slot of entry i. */
static int slot_fire(beat *b, int i, int64_t now, sm_error *err)
{
    const beat_entry *e = &b->schedule.entries[i];
    int64_t slot_s, next_s;
    if (cron_prev(&e->expr, now / 1000, &slot_s) < 0 || slot_s * 1000 < b->next_slot[i])
        slot_s = b->next_slot[i] / 1000; /* cannot happen: next_slot ≤ now */
    char iso[CLOCK_ISO_LEN], key[BEAT_KEY_MAX], args[64];
    format_slot(slot_s * 1000, iso, sizeof iso);
    snprintf(key, sizeof key, "beat:%s:%s", e->task, iso);
    int rc = slot_args(e->task, slot_s * 1000, args, sizeof args);
    if (rc < 0)
        return sm_error_set(err, rc, "beat: no arguments for %s at %s", e->task, iso);

    claim c = {
        .b = b, .task = e->task, .slot = slot_s * 1000, .now = now, .key = key, .args = args};
    char saved[80];
    snprintf(saved, sizeof saved, "%s", log_correlation_id());
    log_set_correlation_id(strlen(key) <= 64 ? key : NULL);
    rc = db_write_tx(b->d, claim_tx, &c, err);
    if (rc == 0 && c.lost)
        set_leader(b, false, "lease not ours at claim");
    else if (rc == 0 && c.enqueued) {
        char msg[BEAT_KEY_MAX + 32];
        snprintf(msg, sizeof msg, "beat: enqueued %s for %s", e->task, iso);
        log_emit(LOG_INFO, msg,
                 json_pack("{s:s,s:s,s:s,s:I,s:b}", "task", e->task, "slot", iso, "cron", e->cron,
                           "job_id", (json_int_t)c.job_id, "existed", c.existed));
    } else if (rc == 0)
        log_emit(LOG_DEBUG, "beat: slot already handled",
                 json_pack("{s:s,s:s}", "task", e->task, "slot", iso));
    log_set_correlation_id(saved);
    if (rc < 0 || c.lost)
        return rc;
    if (cron_next(&e->expr, slot_s, &next_s) < 0)
        return sm_error_set(err, SM_EINTERNAL, "beat: '%s' has no next slot", e->cron);
    b->next_slot[i] = next_s * 1000;
    return 0;
}

/* ---- the step ----------------------------------------------------------- */

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

int beat_tick(beat *b, int64_t *wake_ms, sm_error *err)
{
    sm_error local = {0};
    if (!err)
        err = &local;
    int64_t now = beat_now(b);
    int64_t poll = min64(b->lease_ms / 3, BEAT_POLL_MAX_MS);
    int rc = 0;
    if (b->leader && now >= b->lease_until)
        set_leader(b, false, "lease expired before renewal");
    if ((rc = beat_connect(b, err)) < 0)
        goto fail;
    if (now >= b->lease_next) {
        bool held = false;
        if ((rc = lease_acquire(b, now, &held, err)) < 0)
            goto fail;
        if (held) {
            b->lease_until = now + b->lease_ms;
            b->lease_next = now + b->lease_ms / 3;
            set_leader(b, true, "lease was free");
        } else {
            set_leader(b, false, "held by another beat");
            b->lease_next = now + poll;
        }
    }
    int64_t wake = b->lease_next;
    if (b->leader && !b->loaded && (rc = slots_load(b, now, err)) < 0)
        goto fail;
    for (int i = 0; b->leader && i < b->schedule.n; i++) {
        if (b->next_slot[i] <= now && now >= b->retry_at) {
            if ((rc = slot_fire(b, i, now, err)) < 0)
                goto fail;
        }
        if (b->leader)
            wake = min64(wake, b->next_slot[i]);
    }
    if (wake_ms)
        *wake_ms = wake;
    return 0;
fail:
    log_emit(LOG_ERROR, "beat: database step failed",
             json_pack("{s:s,s:s}", "holder", b->holder, "error", err->message));
    beat_disconnect(b);
    b->retry_at = now + BEAT_RETRY_MS;
    b->lease_next = min64(b->lease_next, now + BEAT_RETRY_MS);
    b->loaded = false;
    if (wake_ms)
        *wake_ms = now + BEAT_RETRY_MS;
    return rc;
}

/* ---- the thread --------------------------------------------------------- */

static void *beat_main(void *arg)
{
    beat *b = arg;
    pthread_mutex_lock(&b->mu);
    while (!b->stop) {
        pthread_mutex_unlock(&b->mu);
        int64_t wake = 0;
        sm_error err = {0};
        (void)beat_tick(b, &wake, &err); /* logged there; retried */
        int64_t delay = wake - beat_now(b);
        if (delay < 1)
            delay = 1;
        if (delay > BEAT_POLL_MAX_MS)
            delay = BEAT_POLL_MAX_MS;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += delay / 1000;
        ts.tv_nsec += (delay % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L)
            ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_mutex_lock(&b->mu);
        while (!b->stop) {
            int w = pthread_cond_timedwait(&b->cv, &b->mu, &ts);
            if (w == ETIMEDOUT)
                break;
        }
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

int beat_start(beat *b, sm_error *err)
{
    if (b->started)
        return sm_error_set(err, SM_EINVAL, "beat: already started");
    /* The thread inherits a mask with every signal blocked: SIGTERM is the
     * main thread's to handle. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    b->stop = false;
    int rc = pthread_create(&b->thread, NULL, beat_main, b);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return sm_error_set(err, SM_EINTERNAL, "beat: cannot start a thread: %s", strerror(rc));
    b->started = true;
    log_emit(LOG_INFO, "beat: started",
             json_pack("{s:s,s:i,s:I,s:s}", "holder", b->holder, "entries", b->schedule.n,
                       "lease_ms", (json_int_t)b->lease_ms, "timezone", cron_tz_name()));
    return 0;
}

void beat_stop(beat *b)
{
    if (!b)
        return;
    if (b->started) {
        pthread_mutex_lock(&b->mu);
        b->stop = true;
        pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->mu);
        pthread_join(b->thread, NULL);
        b->started = false;
    }
    sm_error err = {0};
    if (beat_resign(b, &err) < 0)
        log_emit(LOG_WARNING, "beat: could not release the lease",
                 json_pack("{s:s}", "error", err.message));
    log_emit(LOG_INFO, "beat: stopped", json_pack("{s:s}", "holder", b->holder));
}
