/* rec_data.c — turning products and order lines into dense, grouped arrays.
 *
 * Building sorts the lines by (user, time, order, product) once; one walk
 * over the sorted lines then assigns user indices, cuts orders, drops
 * repeated products inside an order and lines whose product is unknown.
 * Product ids map to item indices by binary search over the sorted ids,
 * which costs less than a hash table at these sizes and needs no memory.
 *
 * Loading from the database reads lines in keyset pages (order_items.id >
 * last) so that a million lines never sit in one materialised result; the
 * growing array of rec_line is the only copy. */
#include "ml/rec_data.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define LOAD_PAGE 100000

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_product(const void *a, const void *b)
{
    return cmp_i64(&((const rec_product *)a)->id, &((const rec_product *)b)->id);
}

static int cmp_line(const void *a, const void *b)
{
    const rec_line *x = a, *y = b;
    if (x->user_id != y->user_id)
        return (x->user_id > y->user_id) - (x->user_id < y->user_id);
    if (x->time_ms != y->time_ms)
        return (x->time_ms > y->time_ms) - (x->time_ms < y->time_ms);
    if (x->order_id != y->order_id)
        return (x->order_id > y->order_id) - (x->order_id < y->order_id);
    return (x->product_id > y->product_id) - (x->product_id < y->product_id);
}

static int32_t find_id(const int64_t *ids, int32_t n, int64_t id)
{
    int32_t lo = 0, hi = n;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && ids[lo] == id ? lo : -1;
}

int32_t rec_data_item(const rec_data *rd, int64_t id)
{
    return find_id(rd->item_ids, rd->n_items, id);
}

int32_t rec_data_user(const rec_data *rd, int64_t id)
{
    return find_id(rd->user_ids, rd->n_users, id);
}

void rec_data_free(rec_data *rd)
{
    if (!rd)
        return;
    free(rd->item_ids);
    free(rd->item_category);
    free(rd->item_active);
    free(rd->user_ids);
    free(rd->user_orders);
    free(rd->order_time);
    free(rd->order_user);
    free(rd->order_lines);
    free(rd->line_item);
    free(rd);
}

/* Counts users and orders among sorted lines with a known product. */
static void count_groups(const rec_data *rd, const rec_line *lines, size_t n, int64_t *users,
                         int64_t *orders)
{
    int64_t nu = 0, no = 0;
    const rec_line *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        if (rec_data_item(rd, lines[i].product_id) < 0)
            continue;
        if (!prev || prev->user_id != lines[i].user_id)
            nu++;
        if (!prev || prev->order_id != lines[i].order_id || prev->user_id != lines[i].user_id)
            no++;
        prev = &lines[i];
    }
    *users = nu;
    *orders = no;
}

int rec_data_build(const rec_product *products, size_t n_products, rec_line *lines, size_t n_lines,
                   rec_data **out, sm_error *err)
{
    *out = NULL;
    if (n_products > REC_ITEMS_MAX || n_lines > REC_LINES_MAX)
        return sm_error_set(err, SM_ETOOLARGE, "too many products or order lines");
    rec_data *rd = calloc(1, sizeof *rd);
    rec_product *sorted = malloc((n_products ? n_products : 1) * sizeof *sorted);
    if (!rd || !sorted)
        goto nomem;
    memcpy(sorted, products, n_products * sizeof *sorted);
    qsort(sorted, n_products, sizeof *sorted, cmp_product);
    size_t np = n_products ? n_products : 1;
    rd->item_ids = malloc(np * sizeof *rd->item_ids);
    rd->item_category = malloc(np * sizeof *rd->item_category);
    rd->item_active = malloc(np);
    if (!rd->item_ids || !rd->item_category || !rd->item_active)
        goto nomem;
    for (size_t i = 0; i < n_products; i++) {
        if (i > 0 && sorted[i].id == sorted[i - 1].id) {
            long long dup = (long long)sorted[i].id;
            free(sorted);
            rec_data_free(rd);
            return sm_error_set(err, SM_EINVAL, "duplicate product id %lld", dup);
        }
        rd->item_ids[i] = sorted[i].id;
        rd->item_category[i] = sorted[i].category_id;
        rd->item_active[i] = sorted[i].active ? 1 : 0;
    }
    rd->n_items = (int32_t)n_products;
    free(sorted);
    sorted = NULL;

    qsort(lines, n_lines, sizeof *lines, cmp_line);
    int64_t nu, no;
    count_groups(rd, lines, n_lines, &nu, &no);
    rd->user_ids = malloc((size_t)(nu + 1) * sizeof *rd->user_ids);
    rd->user_orders = malloc((size_t)(nu + 1) * sizeof *rd->user_orders);
    rd->order_time = malloc((size_t)(no + 1) * sizeof *rd->order_time);
    rd->order_user = malloc((size_t)(no + 1) * sizeof *rd->order_user);
    rd->order_lines = malloc((size_t)(no + 1) * sizeof *rd->order_lines);
    rd->line_item = malloc((n_lines + 1) * sizeof *rd->line_item);
    if (!rd->user_ids || !rd->user_orders || !rd->order_time || !rd->order_user ||
        !rd->order_lines || !rd->line_item)
        goto nomem;

    int64_t u = -1, o = -1, nl = 0;
    const rec_line *prev = NULL;
    for (size_t i = 0; i < n_lines; i++) {
        const rec_line *l = &lines[i];
        int32_t item = rec_data_item(rd, l->product_id);
        if (item < 0)
            continue;
        bool new_user = !prev || prev->user_id != l->user_id;
        if (new_user) {
            rd->user_ids[++u] = l->user_id;
            rd->user_orders[u] = o + 1;
        }
        if (new_user || prev->order_id != l->order_id) {
            rd->order_lines[++o] = nl;
            rd->order_time[o] = l->time_ms;
            rd->order_user[o] = (int32_t)u;
            if (l->time_ms > rd->newest_ms)
                rd->newest_ms = l->time_ms;
        } else if (prev->product_id == l->product_id) {
            continue; /* the same product twice in one order counts once */
        }
        rd->line_item[nl++] = item;
        prev = l;
    }
    rd->n_users = (int32_t)(u + 1);
    rd->user_orders[rd->n_users] = o + 1;
    rd->n_orders = o + 1;
    rd->order_lines[rd->n_orders] = nl;
    rd->n_lines = nl;
    *out = rd;
    return 0;
nomem:
    free(sorted);
    rec_data_free(rd);
    return sm_error_set(err, SM_ENOMEM, "out of memory building the purchase history");
}

static int load_products(db *d, rec_product **out, size_t *n, sm_error *err)
{
    db_result *r = NULL;
    int rc = db_query(d, "SELECT id, COALESCE(category_id, 0), active FROM products ORDER BY id",
                      NULL, 0, &r, err);
    if (rc)
        return rc;
    int rows = db_result_rows(r);
    if (rows > REC_ITEMS_MAX) {
        db_result_free(r);
        return sm_error_set(err, SM_ETOOLARGE, "more than %d products", REC_ITEMS_MAX);
    }
    rec_product *p = malloc((size_t)(rows ? rows : 1) * sizeof *p);
    if (!p) {
        db_result_free(r);
        return sm_error_set(err, SM_ENOMEM, "out of memory");
    }
    for (int i = 0; i < rows; i++) {
        p[i].id = db_result_int(r, i, 0);
        p[i].category_id = db_result_int(r, i, 1);
        p[i].active = db_result_int(r, i, 2) != 0;
    }
    db_result_free(r);
    *out = p;
    *n = (size_t)rows;
    return 0;
}

/* Pages walk orders by id; a page cut inside an order drops that order's
 * lines and the next page starts at it again (an order has at most a few
 * hundred lines, far below a page). */
static int load_lines(db *d, rec_line **out, size_t *n, sm_error *err)
{
    static const char sql[] = "SELECT o.id, o.user_id, o.created_at, i.product_id "
                              "FROM orders o JOIN order_items i ON i.order_id = o.id "
                              "WHERE o.id > $1 AND o.status <> 'cancelled' ORDER BY o.id LIMIT $2";
    size_t cap = LOAD_PAGE, len = 0;
    rec_line *lines = malloc(cap * sizeof *lines);
    int64_t after = INT64_MIN;
    if (!lines)
        return sm_error_set(err, SM_ENOMEM, "out of memory");
    for (;;) {
        db_result *r = NULL;
        db_value p[] = {DB_I(after), DB_I(LOAD_PAGE)};
        int rc = db_query(d, sql, p, 2, &r, err);
        if (rc) {
            free(lines);
            return rc;
        }
        int rows = db_result_rows(r), keep = rows;
        if (rows == LOAD_PAGE) {
            int64_t cut = db_result_int(r, rows - 1, 0);
            while (keep > 0 && db_result_int(r, keep - 1, 0) == cut)
                keep--;
            if (keep == 0) { /* one order over a page: cannot happen with bounded orders */
                db_result_free(r);
                free(lines);
                return sm_error_set(err, SM_ETOOLARGE, "order %lld has too many lines",
                                    (long long)cut);
            }
        }
        if (len + (size_t)keep > REC_LINES_MAX) {
            db_result_free(r);
            free(lines);
            return sm_error_set(err, SM_ETOOLARGE, "more than %d order lines", REC_LINES_MAX);
        }
        if (len + (size_t)keep > cap) {
            size_t ncap = cap * 2 > len + (size_t)keep ? cap * 2 : len + (size_t)keep;
            rec_line *grown = realloc(lines, ncap * sizeof *lines);
            if (!grown) {
                db_result_free(r);
                free(lines);
                return sm_error_set(err, SM_ENOMEM, "out of memory");
            }
            lines = grown;
            cap = ncap;
        }
        for (int i = 0; i < keep; i++) {
            after = db_result_int(r, i, 0);
            lines[len++] = (rec_line){.order_id = after,
                                      .user_id = db_result_int(r, i, 1),
                                      .time_ms = db_result_int(r, i, 2),
                                      .product_id = db_result_int(r, i, 3)};
        }
        db_result_free(r);
        if (rows < LOAD_PAGE)
            break;
    }
    *out = lines;
    *n = len;
    return 0;
}

int rec_data_load(db *d, rec_data **out, sm_error *err)
{
    rec_product *products = NULL;
    rec_line *lines = NULL;
    size_t np = 0, nl = 0;
    int rc = load_products(d, &products, &np, err);
    if (rc == 0)
        rc = load_lines(d, &lines, &nl, err);
    if (rc == 0)
        rc = rec_data_build(products, np, lines, nl, out, err);
    free(products);
    free(lines);
    return rc;
}
