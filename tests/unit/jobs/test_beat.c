/* test_beat.c — the leader-elected beat against a real database (SQLite,
 * and PostgreSQL when SM_TEST_POSTGRES_URL is set), with an injected clock:
 * one of two beats leads, the other takes over after the lease expires or
 * at once after a release; a beat that lost the lease enqueues nothing; two
 * beats ticking concurrently in threads over many slots (with a leader
 * crash in between) enqueue each slot exactly once; a restart mid-slot
 * enqueues nothing again; missed slots run once on start; a fresh install
 * runs nothing at once. Plus BEAT_SCHEDULE parsing. */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "db/db_fixture.h"
#include "db/migrations.h"
#include "jobs/beat.h"
#include "jobs/jobs.h"

#define LEASE_MS 9000

static _Atomic int64_t g_now; /* the injected clock, ms */

static int64_t fake_clock(void *ctx)
{
    (void)ctx;
    return atomic_load(&g_now);
}

static int64_t utc_ms(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s};
    return (int64_t)timegm(&tm) * 1000;
}

static int noop_task(jobs_ctx *ctx, db *d, json_t *args, json_t **result, sm_error *err)
{
    (void)ctx, (void)d, (void)args, (void)result, (void)err;
    return 0;
}

static const jobs_task test_tasks[] = {
    {.name = "beat_t_minutely", .queue = JOBS_QUEUE_MAINTENANCE, .fn = noop_task},
    {.name = "beat_t_five", .queue = JOBS_QUEUE_MAINTENANCE, .fn = noop_task},
    {.name = "beat_t_hourly", .queue = JOBS_QUEUE_ML, .fn = noop_task},
    {.name = "generate_daily_report", .queue = JOBS_QUEUE_REPORTS, .fn = noop_task},
};

static int beat_setup(void **state)
{
    if (fixture_setup(state) != 0)
        return -1;
    fixture *f = *state;
    sm_error err = {0};
    if (db_migrate(f->d, NULL, &err) != 0) {
        print_error("migrate: %s\n", err.message);
        return -1;
    }
    atomic_store(&g_now, utc_ms(2026, 1, 10, 12, 0, 30));
    return cron_tz_set("UTC", NULL);
}

#define BEAT_TEST(fn) cmocka_unit_test_setup_teardown(fn, beat_setup, fixture_teardown)

static beat *beat_make(const char *holder, const char *schedule)
{
    beat_schedule s;
    OK(beat_schedule_parse(schedule, &s, &g_err));
    beat_options o = {.schedule = &s, .lease_ms = LEASE_MS, .holder = holder, .clock = fake_clock};
    beat *b = NULL;
    OK(beat_new(&o, &b, &g_err));
    return b;
}

static void tick(beat *b)
{
    OK(beat_tick(b, NULL, &g_err));
}

static int64_t count(fixture *f, const char *sql, const char *param)
{
    db_result *r = NULL;
    db_value p[] = {DB_T(param)};
    OK(db_query(f->d, sql, p, param ? 1 : 0, &r, &g_err));
    int64_t n = db_result_int(r, 0, 0);
    db_result_free(r);
    return n;
}

static int64_t jobs_of(fixture *f, const char *task)
{
    return count(f, "SELECT COUNT(*) FROM jobs WHERE task = $1", task);
}

/* Fails when any unique key was enqueued twice. */
static void assert_no_duplicate_slots(fixture *f)
{
    db_result *r = NULL;
    OK(db_query(f->d,
                "SELECT unique_key, COUNT(*) FROM jobs GROUP BY unique_key HAVING COUNT(*) > 1",
                NULL, 0, &r, &g_err));
    if (db_result_rows(r) > 0)
        fail_msg("slot %s enqueued %lld times", db_result_text(r, 0, 0),
                 (long long)db_result_int(r, 0, 1));
    db_result_free(r);
}

static void advance(int64_t ms)
{
    atomic_fetch_add(&g_now, ms);
}

static void beat_one_of_two_leads_and_the_other_takes_over_after_expiry(void **state)
{
    (void)state;
    beat *a = beat_make("beat-a", "beat_t_hourly=0 * * * *");
    beat *b = beat_make("beat-b", "beat_t_hourly=0 * * * *");
    tick(a);
    tick(b);
    assert_true(beat_is_leader(a));
    assert_false(beat_is_leader(b));
    for (int i = 0; i < 6; i++) { /* renewals keep it */
        advance(LEASE_MS / 3);
        tick(a);
        tick(b);
        assert_true(beat_is_leader(a));
        assert_false(beat_is_leader(b));
    }
    /* a dies without a word: b waits for the lease to run out, then leads */
    advance(LEASE_MS - 1000);
    tick(b);
    assert_false(beat_is_leader(b));
    advance(1001);
    tick(b);
    assert_true(beat_is_leader(b));
    /* a comes back: its lease is gone, it stands by */
    tick(a);
    assert_false(beat_is_leader(a));
    beat_free(a);
    beat_free(b);
}

static void beat_resign_hands_the_lease_over_at_once(void **state)
{
    fixture *f = *state;
    beat *a = beat_make("beat-a", "beat_t_hourly=@hourly");
    beat *b = beat_make("beat-b", "beat_t_hourly=@hourly");
    tick(a);
    tick(b);
    assert_true(beat_is_leader(a));
    OK(beat_resign(a, &g_err));
    assert_false(beat_is_leader(a));
    assert_int_equal(count(f, "SELECT expires_at FROM beat_leases WHERE name = 'beat'", NULL), 0);
    advance(BEAT_POLL_MAX_MS); /* b's next poll */
    tick(b);
    assert_true(beat_is_leader(b));
    beat_free(a);
    beat_free(b);
}

static void beat_that_lost_its_lease_enqueues_nothing(void **state)
{
    fixture *f = *state;
    atomic_store(&g_now, utc_ms(2026, 1, 10, 12, 0, 58));
    beat *a = beat_make("beat-a", "beat_t_minutely=* * * * *");
    tick(a);
    assert_true(beat_is_leader(a));
    /* paused leader: meanwhile another holder took the lease */
    OK(db_exec(f->d, "UPDATE beat_leases SET holder = 'intruder', expires_at = $1",
               (db_value[]){DB_I(atomic_load(&g_now) + 3600000)}, 1, NULL, &g_err));
    advance(2500); /* the 12:01 slot is due, the renewal not yet: the claim sees it */
    tick(a);
    assert_false(beat_is_leader(a));
    assert_int_equal(jobs_of(f, "beat_t_minutely"), 0);
    beat_free(a);
}

static void beat_fresh_install_runs_nothing_at_once(void **state)
{
    fixture *f = *state;
    beat *a = beat_make("beat-a", "beat_t_hourly=0 * * * *;generate_daily_report=0 0 * * *");
    tick(a);
    assert_true(beat_is_leader(a));
    assert_int_equal(count(f, "SELECT COUNT(*) FROM jobs", NULL), 0);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM beat_slots", NULL), 2);
    /* the next hour comes: one job, for that slot */
    atomic_store(&g_now, utc_ms(2026, 1, 10, 13, 0, 2));
    tick(a);
    assert_int_equal(jobs_of(f, "beat_t_hourly"), 1);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM jobs WHERE unique_key = $1",
                           "beat:beat_t_hourly:2026-01-10T13:00:00Z"),
                     1);
    assert_int_equal(jobs_of(f, "generate_daily_report"), 0);
    beat_free(a);
}

static void beat_runs_missed_slots_once_on_start(void **state)
{
    fixture *f = *state;
    /* Everything was down for three days after these slots were handled. */
    int64_t long_ago = utc_ms(2026, 1, 7, 9, 0, 0);
    db_value p[] = {DB_I(long_ago)};
    OK(db_exec(f->d,
               "INSERT INTO beat_slots (task, last_slot, updated_at) VALUES "
               "('beat_t_hourly', $1, $1), ('generate_daily_report', $1, $1)",
               p, 1, NULL, &g_err));
    OK(cron_tz_set("Europe/Paris", &g_err));
    beat *a = beat_make("beat-a", "beat_t_hourly=0 * * * *;generate_daily_report=@midnight");
    tick(a);
    tick(a);
    assert_int_equal(jobs_of(f, "beat_t_hourly"), 1);
    assert_int_equal(jobs_of(f, "generate_daily_report"), 1);
    /* the latest slots: 12:00 UTC, and midnight Paris = 23:00 UTC the 9th */
    db_result *r = NULL;
    OK(db_query(f->d, "SELECT unique_key, args FROM jobs ORDER BY task", NULL, 0, &r, &g_err));
    assert_string_equal(db_result_text(r, 0, 0), "beat:beat_t_hourly:2026-01-10T12:00:00Z");
    assert_string_equal(db_result_text(r, 1, 0), "beat:generate_daily_report:2026-01-09T23:00:00Z");
    json_t *args = json_loads(db_result_text(r, 1, 1), 0, NULL);
    assert_non_null(args);
    assert_string_equal(json_string_value(json_object_get(args, "date")), "2026-01-09");
    json_decref(args);
    db_result_free(r);
    assert_int_equal(count(f, "SELECT last_slot FROM beat_slots WHERE task = $1", "beat_t_hourly"),
                     utc_ms(2026, 1, 10, 12, 0, 0));
    beat_free(a);
    OK(cron_tz_set("UTC", &g_err));
}

static void beat_restart_mid_slot_enqueues_nothing_again(void **state)
{
    fixture *f = *state;
    atomic_store(&g_now, utc_ms(2026, 1, 10, 12, 59, 50));
    beat *a = beat_make("beat-a", "beat_t_hourly=0 * * * *");
    tick(a);
    atomic_store(&g_now, utc_ms(2026, 1, 10, 13, 0, 1));
    tick(a);
    assert_int_equal(jobs_of(f, "beat_t_hourly"), 1);
    /* the job already ran (so its unique key is free again), then a restarts */
    OK(db_exec(f->d, "UPDATE jobs SET state = 'succeeded'", NULL, 0, NULL, &g_err));
    OK(beat_resign(a, &g_err));
    beat_free(a);
    advance(10000);
    beat *again = beat_make("beat-a2", "beat_t_hourly=0 * * * *");
    tick(again);
    assert_true(beat_is_leader(again));
    tick(again);
    assert_int_equal(jobs_of(f, "beat_t_hourly"), 1);
    beat_free(again);
}

/* ---- two beats in threads over many slots ---- */

typedef struct racer {
    beat *b;
    pthread_barrier_t *start, *done;
    _Atomic bool *alive; /* false: this beat is "crashed" (stops ticking) */
    int steps;
    int failures;
} racer;

static void *racer_main(void *arg)
{
    racer *r = arg;
    for (int i = 0; i < r->steps; i++) {
        pthread_barrier_wait(r->start);
        sm_error err = {0};
        if (atomic_load(r->alive) && beat_tick(r->b, NULL, &err) != 0)
            r->failures++;
        pthread_barrier_wait(r->done);
    }
    return NULL;
}

/* Runs two beats over 37.5 minutes of 2.5 s steps, both ticking at once
 * at each step; at `crash_step` (-1: never) the leader stops ticking
 * without releasing. Returns which beat crashed (-1: none). */
static int race(const char *holder_a, const char *holder_b, int crash_step, beat *out[2])
{
    const char *sched = "beat_t_minutely=* * * * *;beat_t_five=*/5 * * * *";
    atomic_store(&g_now, utc_ms(2026, 1, 10, 12, 0, 30));
    enum { STEPS = 900, STEP_MS = 2500 };
    pthread_barrier_t start, done;
    pthread_barrier_init(&start, NULL, 3);
    pthread_barrier_init(&done, NULL, 3);
    _Atomic bool alive[2] = {true, true};
    racer rs[2] = {
        {beat_make(holder_a, sched), &start, &done, &alive[0], STEPS, 0},
        {beat_make(holder_b, sched), &start, &done, &alive[1], STEPS, 0},
    };
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, racer_main, &rs[i]), 0);
    int crashed = -1;
    for (int step = 0; step < STEPS; step++) {
        if (step == crash_step) {
            crashed = beat_is_leader(rs[0].b) ? 0 : 1;
            atomic_store(&alive[crashed], false);
        }
        pthread_barrier_wait(&start); /* both tick concurrently at this time */
        pthread_barrier_wait(&done);
        advance(STEP_MS);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(rs[0].failures + rs[1].failures, 0);
    pthread_barrier_destroy(&start);
    pthread_barrier_destroy(&done);
    out[0] = rs[0].b;
    out[1] = rs[1].b;
    return crashed;
}

static void beat_two_beats_enqueue_each_slot_exactly_once(void **state)
{
    fixture *f = *state;
    beat *b[2];
    int crashed = race("beat-a", "beat-b", 400, b);
    assert_true(beat_is_leader(b[1 - crashed]));
    assert_no_duplicate_slots(f);
    /* Minutes 12:01 … 12:37 are slots; the lease gap after the crash is
     * collapsed into one run, so a minute may be skipped, none is doubled. */
    int64_t n = jobs_of(f, "beat_t_minutely");
    assert_true(n >= 36 && n <= 37);
    assert_int_equal(jobs_of(f, "beat_t_five"), 7);
    assert_int_equal(
        count(f, "SELECT last_slot FROM beat_slots WHERE task = $1", "beat_t_minutely"),
        utc_ms(2026, 1, 10, 12, 37, 0));
    beat_free(b[0]);
    beat_free(b[1]);
}

/* Two beats that BOTH hold the lease (a cloned holder identity: the worst
 * case the lease cannot prevent) claim every slot concurrently; the slot
 * record in the claim's transaction still lets exactly one enqueue. */
static void beat_two_leaders_still_enqueue_each_slot_once(void **state)
{
    fixture *f = *state;
    beat *b[2];
    race("beat-clone", "beat-clone", -1, b);
    assert_true(beat_is_leader(b[0]) && beat_is_leader(b[1]));
    assert_no_duplicate_slots(f);
    assert_int_equal(jobs_of(f, "beat_t_minutely"), 37);
    assert_int_equal(jobs_of(f, "beat_t_five"), 7);
    beat_free(b[0]);
    beat_free(b[1]);
}

/* The real thread and clock: it leads, and stopping it releases the lease. */
static void beat_thread_leads_and_releases_on_stop(void **state)
{
    fixture *f = *state;
    beat_schedule s;
    OK(beat_schedule_parse("beat_t_hourly=@hourly", &s, &g_err));
    beat_options o = {.schedule = &s, .lease_ms = 3000};
    beat *b = NULL;
    OK(beat_new(&o, &b, &g_err));
    OK(beat_start(b, &g_err));
    for (int i = 0; i < 200 && !beat_is_leader(b); i++)
        usleep(10000);
    assert_true(beat_is_leader(b));
    assert_true(count(f, "SELECT expires_at FROM beat_leases", NULL) > 0);
    beat_stop(b);
    assert_false(beat_is_leader(b));
    assert_int_equal(count(f, "SELECT expires_at FROM beat_leases", NULL), 0);
    beat_free(b);
}

/* ---- the schedule (no database needed, but cheap to share) ---- */

static void beat_schedule_parses_and_rejects(void **state)
{
    (void)state;
    beat_schedule s;
    beat_schedule_defaults(&s);
    assert_int_equal(s.n, 4);
    assert_string_equal(s.entries[0].task, "rebuild_ml_indexes");
    assert_string_equal(s.entries[0].cron, "0 * * * *");
    assert_string_equal(s.entries[1].cron, "*/30 * * * *");
    assert_string_equal(s.entries[2].task, "generate_daily_report");
    assert_string_equal(s.entries[2].cron, "0 0 * * *");

    OK(beat_schedule_parse(" purge_cache = */10 * * * * ; beat_t_hourly=@hourly; ", &s, &g_err));
    assert_int_equal(s.n, 2);
    assert_string_equal(s.entries[0].task, "purge_cache");
    assert_string_equal(s.entries[0].cron, "*/10 * * * *");
    assert_string_equal(s.entries[1].cron, "@hourly");

    static const char *const bad[] = {
        "",
        ";",
        "purge_cache",
        "=* * * * *",
        "Purge=* * * * *",
        "a=* * *",
        "a=@reboot",
        "a=* * * * *;a=0 * * * *",
        "a=* * * * *;;b=* * * * *",
        "a b=* * * * *",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sm_error err = {0};
        if (beat_schedule_parse(bad[i], &s, &err) != SM_EINVAL)
            fail_msg("beat_schedule_parse('%s') accepted", bad[i]);
        assert_true(err.message[0] != '\0');
    }
    sm_error err = {0};
    OK(beat_schedule_parse("no_such_task=* * * * *", &s, &g_err));
    assert_int_equal(beat_schedule_check(&s, &err), SM_EINVAL);
    assert_non_null(strstr(err.message, "no_such_task"));
}

int main(void)
{
    for (size_t i = 0; i < sizeof test_tasks / sizeof test_tasks[0]; i++)
        if (jobs_task_register(&test_tasks[i]) != 0)
            return 1;
    const struct CMUnitTest tests[] = {
        BEAT_TEST(beat_schedule_parses_and_rejects),
        BEAT_TEST(beat_one_of_two_leads_and_the_other_takes_over_after_expiry),
        BEAT_TEST(beat_resign_hands_the_lease_over_at_once),
        BEAT_TEST(beat_that_lost_its_lease_enqueues_nothing),
        BEAT_TEST(beat_fresh_install_runs_nothing_at_once),
        BEAT_TEST(beat_runs_missed_slots_once_on_start),
        BEAT_TEST(beat_restart_mid_slot_enqueues_nothing_again),
        BEAT_TEST(beat_two_beats_enqueue_each_slot_exactly_once),
        BEAT_TEST(beat_two_leaders_still_enqueue_each_slot_once),
        BEAT_TEST(beat_thread_leads_and_releases_on_stop),
    };
    return fixture_run_both("beat", tests, sizeof tests / sizeof tests[0]);
}
