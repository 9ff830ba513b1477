/* orders.h — placing orders, reading them, and moving them through their
 * status machine. No HTTP here.
 *
 * Placing an order is one write transaction that decrements each line's
 * stock with a conditional UPDATE (stock >= quantity), so concurrent orders
 * never oversell on either engine. Status machine:
 *   pending → paid → shipped → delivered;  pending|paid → cancelled
 * (cancelling restores the stock of every line in the same transaction).
 * Every function takes the caller's db connection (one per thread); returned
 * json_t references are owned by the caller. */
#ifndef SM_SHOP_ORDERS_H
#define SM_SHOP_ORDERS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "db/db.h"

#define ORDER_LINES_MAX 100
#define ORDER_QUANTITY_MAX 1000
#define ORDER_PAGE_SIZE_MAX 100
#define ORDER_PAGE_MAX 1000000
#define ORDER_NAME_BYTES 1024 /* a product name: ≤ 200 code points of UTF-8 */

typedef struct order_line {
    int64_t product_id;
    int64_t quantity;
} order_line;

/* What went wrong with which line, for the API's error details. */
typedef struct order_failure {
    int line;           /* index into the request's lines, -1 when not about one line */
    const char *field;  /* "product_id", "quantity" or "items" */
    int64_t product_id; /* SM_ESTOCK: the short product */
    char name[ORDER_NAME_BYTES];
    int64_t requested, available;
} order_failure;

/* Places an order for `user_id` with `n` lines in ONE write transaction:
 * validates the lines (1..ORDER_LINES_MAX, quantity 1..ORDER_QUANTITY_MAX,
 * each product once), decrements stock, copies names and prices into the
 * lines, computes the total (overflow-checked int64 cents) and commits.
 * Returns 0 with *order_id and, when `out` is not NULL, *out = the order
 * object. SM_EINVAL: a bad line or an unknown/inactive product (`fail` says
 * which line and field); SM_ESTOCK: a line over stock (`fail` names the
 * product, requested and available); nothing is written on any error.
 * SM_EBUSY/SM_EDB from the database. `fail` may be NULL. */
int order_place(db *d, int64_t user_id, const order_line *items, int n, int64_t *order_id,
                json_t **out, order_failure *fail, sm_error *err);

/* Order `id` with its lines as JSON. When `owner_id` > 0, an order of
 * another user is SM_ENOTFOUND (customers never learn it exists). */
int order_get(db *d, int64_t id, int64_t owner_id, json_t **out, sm_error *err);

typedef struct order_list_params {
    int64_t page;       /* ≥ 1 */
    int64_t page_size;  /* 1..ORDER_PAGE_SIZE_MAX */
    int64_t user_id;    /* 0: every user */
    const char *status; /* NULL: every status; else one of the five statuses */
} order_list_params;

void order_list_params_init(order_list_params *p);

/* {items:[order…], page, page_size, total, pages}, newest first. Two
 * statements: a count, then the page joined with its lines (no N+1).
 * Bad parameters are SM_EINVAL with details. */
int order_list(db *d, const order_list_params *p, json_t **out, json_t *details, sm_error *err);

/* True for "pending", "paid", "shipped", "delivered", "cancelled". */
bool order_status_valid(const char *status);

/* Moves order `id` to `status` on behalf of `actor_id`. Staff (actor_staff)
 * may make any allowed transition; a customer may only cancel their own
 * pending order: another user's order is SM_ENOTFOUND, any status but
 * "cancelled" SM_EFORBIDDEN, cancelling a non-pending one SM_ECONFLICT. A
 * transition not in the machine is SM_ECONFLICT; an unknown status SM_EINVAL. Cancelling
 * restores every line's stock in the same transaction. Returns 0 and, when
 * `out` is not NULL, *out = the updated order. */
int order_set_status(db *d, int64_t id, const char *status, int64_t actor_id, bool actor_staff,
                     json_t **out, sm_error *err);

#endif
