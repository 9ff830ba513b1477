/* tasks.h — the five SmartMarket task bodies and the helpers they share.
 * builtin.c registers them (jobs_register_builtin_tasks in jobs.h); tests
 * call the bodies directly. Each body has the jobs_task_fn contract of
 * jobs.h: idempotent, returns 0 with an optional *result object, or a
 * negative SM_E* code with err filled. See docs/TASKS.md. */
#ifndef SM_JOBS_TASKS_TASKS_H
#define SM_JOBS_TASKS_TASKS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "db/db.h"
#include "jobs/jobs.h"

#define TASKS_BATCH_ROWS 1000 /* rows per short transaction */
#define TASKS_NEIGHBOURS 10   /* co-purchase neighbours kept per product */
#define TASKS_TOP_PRODUCTS 10 /* products in a daily report */
#define TASKS_MONEY_MAX 40    /* "EUR -92233720368547758.08" */
#define TASKS_EMAIL_KIND "confirmation"

/* args {"order_id": N}: renders and sends (or writes to the outbox) the
 * confirmation of order N once. Result {"order_id","message_id","state":
 * "sent"|"already_sent"|"skipped"}. */
int task_send_order_email(jobs_ctx *ctx, db *d, json_t *args, json_t **result, sm_error *err);

/* args {}: rebuilds the versioned product_stats / product_neighbours index
 * and switches to it. Result {"version","products","pairs","duration_ms"}. */
int task_rebuild_ml_indexes(jobs_ctx *ctx, db *d, json_t *args, json_t **result, sm_error *err);

/* args {}: evicts expired entries of cache_default(). Result {"evicted"}. */
int task_purge_cache(jobs_ctx *ctx, db *d, json_t *args, json_t **result, sm_error *err);

/* args {"date": "YYYY-MM-DD"} (default: yesterday in the report zone):
 * writes REPORTS_DIR/daily-DATE.json and .csv and upserts daily_reports.
 * Result {"date","orders","json","csv"}. */
int task_generate_daily_report(jobs_ctx *ctx, db *d, json_t *args, json_t **result, sm_error *err);

/* args {}: deletes old tokens, login attempts, finished jobs and
 * notifications in batches. Result {"<table>": deleted, …}. */
int task_cleanup_old_data(jobs_ctx *ctx, db *d, json_t *args, json_t **result, sm_error *err);

/* ---- shared helpers (task_util.c) ---- */

/* Reads a positive integer member `name` of `args` into *out. SM_EINVAL
 * naming the member when it is missing, not an integer, or ≤ 0. */
int tasks_arg_id(const json_t *args, const char *name, int64_t *out, sm_error *err);

/* Formats integer cents as "EUR 1234.56" (ISO code, space, units, '.', two
 * digits; "-" before the units when negative) into `out`
 * (TASKS_MONEY_MAX bytes). Exact for every int64 value: no floating point. */
void tasks_money_format(int64_t cents, const char *currency, char *out);

/* Runs `sql`, a DELETE of at most TASKS_BATCH_ROWS rows chosen by its own
 * subquery, again and again, each in its own short statement, until it
 * deletes fewer than TASKS_BATCH_ROWS or ctx says stop. Adds the rows
 * deleted to *total. Returns 0, SM_ETIMEOUT when stopped, or the db error. */
int tasks_delete_batched(jobs_ctx *ctx, db *d, const char *sql, const db_value *params, int nparams,
                         int64_t *total, sm_error *err);

/* True when `ctx` is not NULL and says stop (tests run bodies without a
 * ctx). */
bool tasks_should_stop(const jobs_ctx *ctx);

/* jobs_ctx_progress() when `ctx` is not NULL. */
void tasks_progress(jobs_ctx *ctx, int percent, const char *note);

#endif
