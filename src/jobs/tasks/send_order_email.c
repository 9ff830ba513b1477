/* send_order_email.c — the order confirmation, sent once.
 *
 * Exactly-once is impossible across a database and an SMTP server, so the
 * task is at-least-once with the window made as small as it can be and
 * written down:
 *
 *   1. claim: INSERT the email_deliveries row (order, 'confirmation') in
 *      state 'sending' with a fresh Message-ID, ON CONFLICT DO NOTHING.
 *      If the row already exists and is 'sent', the task is a no-op (a
 *      replayed job, a duplicate enqueue). If it exists in 'sending', an
 *      earlier attempt died between claim and mark: this attempt sends
 *      again, with the SAME Message-ID, so receiving systems that
 *      deduplicate on it (most do) show one message.
 *   2. render and deliver (SMTP or outbox), outside any transaction.
 *   3. mark: UPDATE the row to 'sent' with sent_at.
 *
 * The only duplicate possible is a crash (or lost database connection)
 * after the server accepted the message and before step 3 committed; the
 * resend then carries the same Message-ID. A failed delivery leaves the row
 * in 'sending' with last_error and the attempt fails, so the queue retries
 * it with backoff.
 *
 * Money is integer cents formatted by tasks_money_format ("EUR 12.34"); the
 * order's lines are read as stored at order time (names and prices are
 * copied into order_items), never recomputed from the catalogue. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "jobs/tasks/tasks.h"
#include "ops/mail.h"
#include "shop/orders.h"

/* The order as the message needs it. Strings point into `head`/`lines`. */
typedef struct order_view {
    db_result *head;  /* id, status, total_cents, currency, created_at, email, name */
    db_result *lines; /* name, unit_price_cents, quantity, line_total_cents */
} order_view;

static int order_load(db *d, int64_t order_id, order_view *v, sm_error *err)
{
    db_value p[] = {DB_I(order_id)};
    int rc = db_query(d,
                      "SELECT o.id, o.status, o.total_cents, o.currency, o.created_at, u.email, "
                      "u.name FROM orders o JOIN users u ON u.id = o.user_id WHERE o.id = $1",
                      p, 1, &v->head, err);
    if (rc < 0)
        return rc;
    if (db_result_rows(v->head) != 1)
        return sm_error_set(err, SM_ENOTFOUND, "order %lld not found", (long long)order_id);
    db_value pl[] = {DB_I(order_id), DB_I(ORDER_LINES_MAX)};
    return db_query(d,
                    "SELECT name, unit_price_cents, quantity, line_total_cents FROM order_items "
                    "WHERE order_id = $1 ORDER BY id LIMIT $2",
                    pl, 2, &v->lines, err);
}

static void html_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* Builds the subject, the text and the HTML bodies (malloc'ed). */
static int bodies_render(const order_view *v, char **text, char **html, sm_error *err)
{
    const db_result *h = v->head, *l = v->lines;
    const char *cur = db_result_text(h, 0, 3);
    const char *name = db_result_text(h, 0, 6);
    char money[TASKS_MONEY_MAX], unit[TASKS_MONEY_MAX], when[CLOCK_ISO_LEN];
    size_t tl = 0, hl = 0;
    *text = *html = NULL;
    FILE *t = open_memstream(text, &tl);
    FILE *m = t ? open_memstream(html, &hl) : NULL;
    if (!m) {
        if (t)
            fclose(t);
        free(*text);
        *text = NULL;
        return sm_error_set(err, SM_ENOMEM, "out of memory");
    }
    int64_t id = db_result_int(h, 0, 0);
    clock_format_iso(db_result_int(h, 0, 4), when);

    fprintf(t, "Hello %s,\n\nThank you for your order #%lld placed on %s (UTC).\n\n",
            name && *name ? name : "there", (long long)id, when);
    fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n<p>Hello ", m);
    html_escape(m, name && *name ? name : "there");
    fprintf(m,
            ",</p>\n<p>Thank you for your order <strong>#%lld</strong> placed on %s (UTC).</p>\n"
            "<table border=\"1\" cellpadding=\"4\" cellspacing=\"0\">\n"
            "<tr><th>Product</th><th>Quantity</th><th>Unit price</th><th>Total</th></tr>\n",
            (long long)id, when);
    for (int i = 0; i < db_result_rows(l); i++) {
        const char *pname = db_result_text(l, i, 0);
        int64_t qty = db_result_int(l, i, 2);
        tasks_money_format(db_result_int(l, i, 1), cur, unit);
        tasks_money_format(db_result_int(l, i, 3), cur, money);
        fprintf(t, "  %lld x %s @ %s = %s\n", (long long)qty, pname ? pname : "", unit, money);
        fputs("<tr><td>", m);
        html_escape(m, pname ? pname : "");
        fprintf(m, "</td><td>%lld</td><td>%s</td><td>%s</td></tr>\n", (long long)qty, unit, money);
    }
    tasks_money_format(db_result_int(h, 0, 2), cur, money);
    fprintf(t, "\nTotal: %s\n\nSmartMarket\n", money);
    fprintf(m,
            "<tr><td colspan=\"3\"><strong>Total</strong></td><td><strong>%s</strong></td>"
            "</tr>\n</table>\n<p>SmartMarket</p>\n</body></html>\n",
            money);
    bool bad = ferror(t) || ferror(m);
    if (fclose(t) != 0 || fclose(m) != 0 || bad || !*text || !*html) {
        free(*text);
        free(*html);
        *text = *html = NULL;
        return sm_error_set(err, SM_ENOMEM, "out of memory");
    }
    return 0;
}

/* Step 1. Sets *state to "sending" (ours to send, *message_id filled) or
 * "sent" (nothing to do). */
static int delivery_claim(db *d, int64_t order_id, const char *recipient, const char *from_addr,
                          char *message_id, char *state, sm_error *err)
{
    char fresh[MAIL_ID_MAX];
    int rc = mail_make_message_id(from_addr, fresh, err);
    if (rc < 0)
        return rc;
    int64_t now = clock_now_ms();
    db_value p[] = {DB_I(order_id), DB_T(TASKS_EMAIL_KIND), DB_T(recipient), DB_T(fresh),
                    DB_I(now)};
    rc = db_exec(d,
                 "INSERT INTO email_deliveries (order_id, kind, state, recipient, message_id, "
                 "attempts, created_at, updated_at) VALUES ($1, $2, 'sending', $3, $4, 1, $5, $5) "
                 "ON CONFLICT (order_id, kind) DO NOTHING",
                 p, 5, NULL, err);
    if (rc < 0)
        return rc;
    /* Whoever inserted, the row now says what to do; an existing 'sending'
     * row counts one more attempt. */
    db_value q[] = {DB_I(order_id), DB_T(TASKS_EMAIL_KIND), DB_T(fresh), DB_I(now)};
    db_result *r = NULL;
    rc = db_query(d,
                  "UPDATE email_deliveries SET attempts = attempts + (CASE WHEN state = "
                  "'sending' AND message_id <> $3 THEN 1 ELSE 0 END), updated_at = $4 "
                  "WHERE order_id = $1 AND kind = $2 RETURNING state, message_id",
                  q, 4, &r, err);
    if (rc < 0)
        return rc;
    if (db_result_rows(r) != 1) {
        db_result_free(r);
        return sm_error_set(err, SM_EINTERNAL, "delivery row vanished");
    }
    snprintf(state, 16, "%s", db_result_text(r, 0, 0));
    snprintf(message_id, MAIL_ID_MAX, "%s", db_result_text(r, 0, 1));
    db_result_free(r);
    return 0;
}

static int delivery_mark(db *d, int64_t order_id, const char *error, sm_error *err)
{
    int64_t now = clock_now_ms();
    db_value p[] = {DB_I(order_id), DB_T(TASKS_EMAIL_KIND), DB_I(now), DB_T(error)};
    if (error)
        return db_exec(d,
                       "UPDATE email_deliveries SET last_error = $4, updated_at = $3 "
                       "WHERE order_id = $1 AND kind = $2 AND state = 'sending'",
                       p, 4, NULL, err);
    return db_exec(d,
                   "UPDATE email_deliveries SET state = 'sent', sent_at = $3, updated_at = $3, "
                   "last_error = NULL WHERE order_id = $1 AND kind = $2",
                   p, 3, NULL, err);
}

static json_t *result_new(int64_t order_id, const char *message_id, const char *state)
{
    return json_pack("{s:I, s:s?, s:s}", "order_id", (json_int_t)order_id, "message_id", message_id,
                     "state", state);
}

int task_send_order_email(jobs_ctx *ctx, db *d, json_t *args, json_t **result, sm_error *err)
{
    const sm_config *cfg = config_get();
    order_view v = {0};
    char from_addr[MAIL_ADDR_MAX + 1], message_id[MAIL_ID_MAX] = "", state[16] = "";
    char *text = NULL, *html = NULL, *msg = NULL, subject[96];
    size_t len = 0;
    int64_t order_id;
    int rc;

    if (!cfg)
        return sm_error_set(err, SM_ECONFIG, "configuration not loaded");
    if ((rc = tasks_arg_id(args, "order_id", &order_id, err)) < 0 ||
        (rc = mail_address_parse(cfg->smtp_from, from_addr, err)) < 0 ||
        (rc = order_load(d, order_id, &v, err)) < 0)
        goto done;
    const char *to = db_result_text(v.head, 0, 5);
    if (!mail_address_valid(to)) {
        rc = sm_error_set(err, SM_EINVAL, "order %lld: customer address is not deliverable",
                          (long long)order_id);
        goto done;
    }
    if ((rc = delivery_claim(d, order_id, to, from_addr, message_id, state, err)) < 0)
        goto done;
    if (strcmp(state, "sent") == 0) {
        if (result)
            *result = result_new(order_id, message_id, "already_sent");
        goto done;
    }
    if (tasks_should_stop(ctx)) {
        rc = sm_error_set(err, SM_ETIMEOUT, "stopped before sending");
        goto done;
    }
    snprintf(subject, sizeof subject, "Your SmartMarket order #%lld", (long long)order_id);
    mail_message m = {
        .from = cfg->smtp_from,
        .to_name = db_result_text(v.head, 0, 6),
        .to_addr = to,
        .subject = subject,
        .message_id = message_id,
    };
    if ((rc = bodies_render(&v, &text, &html, err)) < 0)
        goto done;
    m.text = text;
    m.html = html;
    if ((rc = mail_render(&m, &msg, &len, err)) < 0)
        goto done;

    mail_transport t;
    mail_transport_from_config(cfg, &t);
    rc = mail_deliver(&t, from_addr, to, message_id, msg, len, err);
    if (rc < 0) {
        /* Best effort: the attempt's error is what the queue records. */
        sm_error e2 = {0};
        if (delivery_mark(d, order_id, err ? err->message : "delivery failed", &e2) < 0)
            log_warning("send_order_email: could not record the failure: %s", e2.message);
        goto done;
    }
    if ((rc = delivery_mark(d, order_id, NULL, err)) < 0)
        goto done;
    log_emit(LOG_INFO, "order email sent",
             json_pack("{s:I, s:s, s:s}", "order_id", (json_int_t)order_id, "message_id",
                       message_id, "transport", t.smtp_url && *t.smtp_url ? "smtp" : "outbox"));
    if (result)
        *result = result_new(order_id, message_id, "sent");
done:
    free(text);
    free(html);
    free(msg);
    db_result_free(v.head);
    db_result_free(v.lines);
    return rc;
}
