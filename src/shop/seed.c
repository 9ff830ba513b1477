/* seed.c — demo data with a structure worth learning from.
 *
 * A run creates, in one write transaction: the category tree of
 * seed_catalog.c (reusing categories that already exist, by slug), then
 * products, customers and orders in multi-row batches (db_insert_rows), so
 * 100,000 products and a million order lines take seconds, not minutes.
 *
 * Reproducibility: every random choice comes from xoshiro256** seeded by
 * splitmix64 from --random-seed, one independent stream per phase, so the
 * catalogue does not change when only the number of orders does. Ids are
 * explicit (max(id) + 1 onwards), which lets orders reference products and
 * users without reading anything back; on PostgreSQL the identity sequences
 * are then moved past them.
 *
 * Orders are not uniform noise; what they hold, who places them and when
 * is seed_model.c's business. Bundles are concrete groups of complementary
 * products (this phone + this case + this charger): three orders in four
 * with room for two lines start from one, so bundle pairs co-occur far
 * above chance, while best-sellers stay best-sellers. Customers have
 * lasting tastes (1-3 bundle families, a favourite brand) that 70-85 % of
 * their picks follow, order at heavy-tailed rates, and come back for the
 * rest of a bundle they bought in part: a customer's past orders say what
 * the next one holds. Orders are generated in date order (over the last
 * 365 days, after each customer's sign-up), so ids grow with dates;
 * statuses follow the age of the order (recent orders are pending or paid,
 * old ones delivered or cancelled); totals are the sum of their lines.
 *
 * Customers share one password (SEED_DEMO_PASSWORD), hashed once: argon2id
 * is deliberately slow and 100,000 hashes would take hours. */
#include "shop/seed.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/arena.h"
#include "core/clock.h"
#include "shop/seed_catalog.h"
#include "shop/seed_model.h"
#include "shop/seed_random.h"

#define DAY_MS 86400000LL
#define PRODUCT_BATCH 500
#define USER_BATCH 1000
#define ORDER_BATCH 1000
/* Rows per INSERT statement. SQLite binds each "?N" placeholder with a
 * linear search over the statement's parameter names, so a statement's
 * cost grows with the square of its placeholders: small statements, run
 * often, are fastest there. PostgreSQL pays a round trip per statement:
 * larger ones are better. Batch sizes above are multiples of both. */
#define CHUNK_ROWS_SQLITE 20
#define SEED_SQLITE_CACHE_KIB 524288LL /* 512 MiB of page cache during the run */
#define CHUNK_ROWS_POSTGRES 500
#define LINES_MAX 24 /* lines in one order, whatever the average */

/* ---- the run ---- */

typedef struct seed_product {
    int64_t id;
    int64_t price_cents;
    const char *name; /* in ctx->a */
    int32_t sub;      /* index in ctx->subs, -1 when unknown */
    int32_t brand;    /* index in its category's brands, -1 when unknown */
} seed_product;

typedef struct seed_sub_ref {
    const seed_category *cat;
    const seed_subcategory *sub;
    int64_t category_id;
} seed_sub_ref;

typedef struct seed_ctx {
    db *d;
    const seed_options *o;
    seed_stats *stats;
    sm_error *err;
    arena *a;     /* lives for the run */
    arena *batch; /* reset after each batch */
    int64_t now;
    seed_sub_ref *subs;
    int nsubs;
    seed_product *products;
    int64_t nproducts;
    int64_t *user_ids;
    int64_t *user_created; /* sign-up time of each customer (ms) */
    int64_t nusers;
    int chunk;            /* rows per INSERT statement */
    int64_t sqlite_cache; /* PRAGMA cache_size before the run, 0 = untouched */
    char password_hash[crypto_pwhash_STRBYTES];
} seed_ctx;

void seed_options_init(seed_options *o)
{
    memset(o, 0, sizeof *o);
    o->random_seed = SEED_DEFAULT_RANDOM_SEED;
    o->lines_per_order = SEED_DEFAULT_LINES_PER_ORDER;
    o->currency = "EUR";
}

static void progress(seed_ctx *c, const char *phase, int64_t done, int64_t total)
{
    if (c->o->progress)
        c->o->progress(phase, done, total, c->o->progress_ctx);
}

static int query_int(db *d, const char *sql, const db_value *p, int np, int64_t *out, sm_error *err)
{
    db_result *r = NULL;
    int rc = db_query(d, sql, p, np, &r, err);
    if (rc < 0)
        return rc;
    *out = db_result_rows(r) > 0 ? db_result_int(r, 0, 0) : 0;
    db_result_free(r);
    return 0;
}

int seed_database_is_empty(db *d, bool *empty, sm_error *err)
{
    int64_t any = 0;
    int rc = query_int(d,
                       "SELECT CASE WHEN EXISTS (SELECT 1 FROM categories) "
                       "OR EXISTS (SELECT 1 FROM products) OR EXISTS (SELECT 1 FROM orders) "
                       "OR EXISTS (SELECT 1 FROM users WHERE role = 'customer') "
                       "THEN 1 ELSE 0 END",
                       NULL, 0, &any, err);
    if (rc == 0)
        *empty = any == 0;
    return rc;
}

/* Finds the category by slug or creates it; counts creations. */
static int ensure_category(seed_ctx *c, const char *name, const char *slug, int64_t parent,
                           int64_t *id)
{
    db_value key[] = {DB_T(slug)};
    int64_t found = 0;
    int rc = query_int(c->d, "SELECT id FROM categories WHERE slug = $1", key, 1, &found, c->err);
    if (rc < 0)
        return rc;
    if (found) {
        *id = found;
        return 0;
    }
    db_value p[] = {DB_T(name), DB_T(slug), parent ? DB_I(parent) : DB_NULLV, DB_I(c->now)};
    rc = query_int(c->d,
                   "INSERT INTO categories (name, slug, parent_id, created_at) "
                   "VALUES ($1, $2, $3, $4) RETURNING id",
                   p, 4, id, c->err);
    if (rc == 0)
        c->stats->categories++;
    return rc;
}

static int seed_categories_all(seed_ctx *c)
{
    int n = 0, rc;
    for (int i = 0; i < seed_category_count; i++)
        n += seed_categories[i].nsubs;
    c->subs = arena_calloc(c->a, (size_t)n, sizeof *c->subs);
    if (!c->subs)
        return sm_error_set(c->err, SM_ENOMEM, "out of memory");
    for (int i = 0; i < seed_category_count; i++) {
        const seed_category *cat = &seed_categories[i];
        int64_t parent;
        if ((rc = ensure_category(c, cat->name, cat->slug, 0, &parent)) < 0)
            return rc;
        for (int j = 0; j < cat->nsubs; j++) {
            seed_sub_ref *s = &c->subs[c->nsubs++];
            s->cat = cat;
            s->sub = &cat->subs[j];
            if ((rc = ensure_category(c, s->sub->name, s->sub->slug, parent, &s->category_id)) < 0)
                return rc;
        }
    }
    return 0;
}

/* Inserts `nrows` rows in statements of c->chunk rows: a few statement
 * sizes only, each prepared once and reused from the driver's cache. */
static int insert_rows(seed_ctx *c, const char *sql, int ncols, const db_value *rows, int nrows)
{
    for (int done = 0; done < nrows; done += c->chunk) {
        int k = nrows - done < c->chunk ? nrows - done : c->chunk;
        int rc = db_insert_rows(c->d, sql, ncols, rows + (size_t)done * (size_t)ncols, k, c->err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int64_t price_draw(seed_rng *r, int64_t median)
{
    double x = (double)median * exp(0.45 * seed_rng_normal(r));
    int64_t euros = (int64_t)(x / 100.0 + 0.5);
    if (euros < 1)
        euros = 1;
    if (euros > 100000)
        euros = 100000;
    return euros * 100 - 1; /* prices end in ,99 */
}

/* The attributes object of one product, as compact JSON in the batch arena. */
static const char *attributes_make(seed_ctx *c, seed_rng *r, const seed_subcategory *s,
                                   const char *variant)
{
    static const char *const sizes[] = {"XS", "S", "M", "L", "XL", "XXL", NULL};
    static const char *const formats[] = {"broché", "relié", "poche", "ebook", NULL};
    json_t *o = NULL;
    switch (s->attr) {
    case SEED_ATTR_NONE:
        o = json_pack("{s:s}", "material", seed_rng_pick(r, seed_materials));
        break;
    case SEED_ATTR_COLOR: o = json_pack("{s:s}", "color", seed_rng_pick(r, seed_colors)); break;
    case SEED_ATTR_COLOR_SIZE:
        o = json_pack("{s:s, s:s}", "color", seed_rng_pick(r, seed_colors), "size",
                      seed_rng_pick(r, sizes));
        break;
    case SEED_ATTR_SHOE:
        o = json_pack("{s:s, s:I}", "color", seed_rng_pick(r, seed_colors), "size",
                      (json_int_t)(36 + seed_rng_below(r, 11)));
        break;
    case SEED_ATTR_STORAGE:
        o = json_pack("{s:s, s:s}", "color", seed_rng_pick(r, seed_colors), "storage",
                      variant ? variant : "128 Go");
        break;
    case SEED_ATTR_CAPACITY: o = json_pack("{s:s}", "capacity", variant ? variant : "1 L"); break;
    case SEED_ATTR_PAGES:
        o = json_pack("{s:I, s:s, s:s}", "pages", (json_int_t)(120 + seed_rng_below(r, 600)),
                      "language", seed_rng_unit(r) < 0.75 ? "fr" : "en", "format",
                      seed_rng_pick(r, formats));
        break;
    case SEED_ATTR_VOLUME:
        o = json_pack("{s:I}", "volume_ml", (json_int_t)(30 + 10 * seed_rng_below(r, 48)));
        break;
    case SEED_ATTR_WEIGHT:
        o = json_pack("{s:I}", "weight_g", (json_int_t)(100 + 50 * seed_rng_below(r, 60)));
        break;
    case SEED_ATTR_AGE:
        o = json_pack("{s:I, s:s}", "age_min", (json_int_t)(seed_rng_below(r, 12)), "players",
                      seed_rng_unit(r) < 0.5 ? "2-4" : "1-6");
        break;
    }
    if (!o)
        return NULL;
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text)
        return NULL;
    char *copy = arena_strdup(c->batch, text);
    free(text);
    return copy;
}

/* Generates product `i` into `p` and its 13 column values into `row`. */
static int product_make(seed_ctx *c, seed_rng *r, int64_t i, seed_product *p, db_value *row)
{
    int32_t si = (int32_t)seed_rng_below(r, c->nsubs);
    const seed_sub_ref *ref = &c->subs[si];
    const seed_subcategory *s = ref->sub;
    const char *noun = seed_rng_pick(r, s->nouns);
    const char *variant = s->variants ? seed_rng_pick(r, s->variants) : NULL;
    int32_t bi = (int32_t)seed_rng_below(r, seed_count_strings(ref->cat->brands));
    const char *brand = ref->cat->brands[bi];
    const char *model = seed_rng_pick(r, seed_models);
    bool book = s->attr == SEED_ATTR_PAGES;

    if (book)
        p->name = arena_sprintf(c->a, "%s%s%s", noun, variant ? " " : "", variant ? variant : "");
    else
        p->name = arena_sprintf(c->a, "%s%s%s %s %s", noun, variant ? " " : "",
                                variant ? variant : "", brand, model);
    const char *pitch1 = seed_rng_pick(r, ref->cat->pitches);
    const char *pitch2 = seed_rng_pick(r, ref->cat->pitches);
    const char *desc = arena_sprintf(c->batch, "%s, %s %s. %s%s%s %s", p->name,
                                     book ? "publié par" : "de la marque", brand, pitch1,
                                     pitch2 != pitch1 ? " " : "", pitch2 != pitch1 ? pitch2 : "",
                                     seed_rng_pick(r, seed_generic_sentences));
    const char *attrs = attributes_make(c, r, s, variant);
    if (!p->name || !desc || !attrs)
        return sm_error_set(c->err, SM_ENOMEM, "out of memory");

    p->price_cents = price_draw(r, s->median_cents);
    p->sub = si;
    p->brand = bi;
    int64_t stock = seed_rng_unit(r) < 0.05 ? 0 : (int64_t)(1 + 40.0 * exp(seed_rng_normal(r)));
    if (stock > 5000)
        stock = 5000;
    int active = seed_rng_unit(r) < 0.97;
    int64_t created = c->now - seed_rng_below(r, 730 * DAY_MS);

    (void)i;
    row[0] = DB_I(p->id);
    row[1] = DB_T(p->name);
    row[2] = DB_T(desc);
    row[3] = DB_I(p->price_cents);
    row[4] = DB_T(c->o->currency);
    row[5] = DB_I(stock);
    row[6] = DB_I(ref->category_id);
    row[7] = DB_T(brand);
    row[8] = DB_T(attrs);
    row[9] = DB_T("/static/img/placeholder.svg");
    row[10] = DB_I(active);
    row[11] = DB_I(created);
    row[12] = DB_I(created);
    return 0;
}

static int seed_products_all(seed_ctx *c)
{
    enum { NCOL = 13 };
    static const char insert[] =
        "INSERT INTO products (id, name, description, price_cents, currency, stock, "
        "category_id, brand, attributes, image_url, active, created_at, updated_at) VALUES";
    int64_t n = c->o->products, base;
    int rc = query_int(c->d, "SELECT COALESCE(MAX(id), 0) FROM products", NULL, 0, &base, c->err);
    if (rc < 0)
        return rc;
    c->products = arena_alloc(c->a, (size_t)(n ? n : 1) * sizeof *c->products);
    db_value *rows = arena_alloc(c->a, (size_t)PRODUCT_BATCH * NCOL * sizeof *rows);
    if (!c->products || !rows)
        return sm_error_set(c->err, SM_ENOMEM, "out of memory");
    seed_rng r;
    seed_rng_seed(&r, c->o->random_seed, 1);
    for (int64_t done = 0; done < n;) {
        int k = (int)(n - done < PRODUCT_BATCH ? n - done : PRODUCT_BATCH);
        for (int j = 0; j < k; j++) {
            seed_product *p = &c->products[done + j];
            p->id = base + 1 + done + j;
            if ((rc = product_make(c, &r, done + j, p, rows + (size_t)j * NCOL)) < 0)
                return rc;
        }
        if ((rc = insert_rows(c, insert, NCOL, rows, k)) < 0)
            return rc;
        arena_reset(c->batch);
        done += k;
        c->nproducts = done;
        progress(c, "products", done, n);
    }
    c->stats->products = n;
    return 0;
}

static int seed_users_all(seed_ctx *c)
{
    enum { NCOL = 8 };
    static const char insert[] = "INSERT INTO users (id, email, name, password_hash, role, "
                                 "is_active, created_at, updated_at) VALUES";
    int64_t n = c->o->users, base;
    int rc = query_int(c->d, "SELECT COALESCE(MAX(id), 0) FROM users", NULL, 0, &base, c->err);
    if (rc < 0)
        return rc;
    c->user_ids = arena_alloc(c->a, (size_t)(n ? n : 1) * sizeof *c->user_ids);
    c->user_created = arena_alloc(c->a, (size_t)(n ? n : 1) * sizeof *c->user_created);
    db_value *rows = arena_alloc(c->a, (size_t)USER_BATCH * NCOL * sizeof *rows);
    if (!c->user_ids || !c->user_created || !rows)
        return sm_error_set(c->err, SM_ENOMEM, "out of memory");
    seed_rng r;
    seed_rng_seed(&r, c->o->random_seed, 2);
    for (int64_t done = 0; done < n;) {
        int k = (int)(n - done < USER_BATCH ? n - done : USER_BATCH);
        for (int j = 0; j < k; j++) {
            int64_t id = base + 1 + done + j;
            const seed_name *first = &seed_first_names[seed_rng_below(&r, seed_first_name_count)];
            const seed_name *last = &seed_last_names[seed_rng_below(&r, seed_last_name_count)];
            const char *email = arena_sprintf(c->batch, "%s.%s.%lld@example.com", first->ascii,
                                              last->ascii, (long long)id);
            const char *name = arena_sprintf(c->batch, "%s %s", first->display, last->display);
            if (!email || !name)
                return sm_error_set(c->err, SM_ENOMEM, "out of memory");
            int64_t created = c->now - seed_rng_below(&r, 400 * DAY_MS);
            db_value *row = rows + (size_t)j * NCOL;
            row[0] = DB_I(id);
            row[1] = DB_T(email);
            row[2] = DB_T(name);
            row[3] = DB_T(c->password_hash);
            row[4] = DB_T("customer");
            row[5] = DB_I(1);
            row[6] = DB_I(created);
            row[7] = DB_I(created);
            c->user_ids[done + j] = id;
            c->user_created[done + j] = created;
        }
        if ((rc = insert_rows(c, insert, NCOL, rows, k)) < 0)
            return rc;
        arena_reset(c->batch);
        done += k;
        c->nusers = done;
        progress(c, "users", done, n);
    }
    c->stats->users = n;
    return 0;
}

/* With --append and orders but no new products or users, orders draw from
 * what the database already holds. */
static int load_existing(seed_ctx *c)
{
    db_result *r = NULL;
    int rc;
    db_value lim[] = {DB_I(SEED_MAX_PRODUCTS)};
    if (c->nproducts == 0) {
        rc = db_query(c->d,
                      "SELECT id, price_cents, name, category_id, brand FROM products "
                      "WHERE active = 1 "
                      "ORDER BY id LIMIT $1",
                      lim, 1, &r, c->err);
        if (rc < 0)
            return rc;
        int n = db_result_rows(r);
        c->products = arena_alloc(c->a, (size_t)(n ? n : 1) * sizeof *c->products);
        if (!c->products) {
            db_result_free(r);
            return sm_error_set(c->err, SM_ENOMEM, "out of memory");
        }
        for (int i = 0; i < n; i++) {
            seed_product *p = &c->products[i];
            p->id = db_result_int(r, i, 0);
            p->price_cents = db_result_int(r, i, 1);
            p->name = arena_strdup(c->a, db_result_text(r, i, 2));
            p->sub = -1;
            p->brand = -1;
            for (int s = 0; s < c->nsubs; s++)
                if (c->subs[s].category_id == db_result_int(r, i, 3))
                    p->sub = s;
            const char *brand = db_result_text(r, i, 4);
            for (int b = 0; p->sub >= 0 && brand && c->subs[p->sub].cat->brands[b]; b++)
                if (!strcmp(c->subs[p->sub].cat->brands[b], brand))
                    p->brand = b;
            if (!p->name) {
                db_result_free(r);
                return sm_error_set(c->err, SM_ENOMEM, "out of memory");
            }
        }
        c->nproducts = n;
        db_result_free(r);
    }
    if (c->nusers == 0) {
        db_value ulim[] = {DB_I(SEED_MAX_USERS)};
        rc = db_query(c->d,
                      "SELECT id, created_at FROM users WHERE role = 'customer' "
                      "ORDER BY id LIMIT $1",
                      ulim, 1, &r, c->err);
        if (rc < 0)
            return rc;
        int n = db_result_rows(r);
        c->user_ids = arena_alloc(c->a, (size_t)(n ? n : 1) * sizeof *c->user_ids);
        c->user_created = arena_alloc(c->a, (size_t)(n ? n : 1) * sizeof *c->user_created);
        if (!c->user_ids || !c->user_created) {
            db_result_free(r);
            return sm_error_set(c->err, SM_ENOMEM, "out of memory");
        }
        for (int i = 0; i < n; i++) {
            c->user_ids[i] = db_result_int(r, i, 0);
            c->user_created[i] = db_result_int(r, i, 1);
        }
        c->nusers = n;
        db_result_free(r);
    }
    return 0;
}

/* ---- orders ---- */

/* Status and last update of an order placed `age_ms` ago. */
static const char *status_for_age(seed_rng *r, int64_t age_ms, int64_t *since_ms)
{
    double u = seed_rng_unit(r);
    const char *status;
    if (u < 0.08)
        status = "cancelled";
    else if (age_ms < DAY_MS)
        status = u < 0.55 ? "pending" : "paid";
    else if (age_ms < 4 * DAY_MS)
        status = u < 0.45 ? "paid" : "shipped";
    else if (age_ms < 10 * DAY_MS)
        status = u < 0.60 ? "shipped" : "delivered";
    else
        status = "delivered";
    int64_t delay =
        strcmp(status, "pending") ? (int64_t)(seed_rng_unit(r) * (double)age_ms * 0.5) : 0;
    if (delay > 8 * DAY_MS)
        delay = 8 * DAY_MS;
    *since_ms = delay;
    return status;
}

enum { OCOL = 7, ICOL = 7 };

/* Inserts the pending order lines in statements of exactly c->chunk rows
 * (the very last one excepted), keeping the remainder for the next call:
 * one statement size means one prepared statement, reused. */
static int flush_items(seed_ctx *c, db_value *rows, int *nitems, bool all)
{
    static const char item_insert[] =
        "INSERT INTO order_items (id, order_id, product_id, name, unit_price_cents, quantity, "
        "line_total_cents) VALUES";
    int sent = 0, rc;
    while (*nitems - sent >= c->chunk || (all && *nitems > sent)) {
        int k = *nitems - sent < c->chunk ? *nitems - sent : c->chunk;
        if ((rc = db_insert_rows(c->d, item_insert, ICOL, rows + (size_t)sent * ICOL, k, c->err)) <
            0)
            return rc;
        sent += k;
    }
    memmove(rows, rows + (size_t)sent * ICOL, (size_t)(*nitems - sent) * ICOL * sizeof *rows);
    *nitems -= sent;
    return 0;
}

/* The model's view of the run: products' subcategory and brand, the
 * subcategories' slugs and brand counts, customers' sign-up times. */
static int model_input_make(seed_ctx *c, seed_model_input *in)
{
    seed_item *items = arena_alloc(c->a, (size_t)c->nproducts * sizeof *items);
    const char **slugs = arena_alloc(c->a, (size_t)(c->nsubs + 1) * sizeof *slugs);
    int *brands = arena_alloc(c->a, (size_t)(c->nsubs + 1) * sizeof *brands);
    if (!items || !slugs || !brands)
        return sm_error_set(c->err, SM_ENOMEM, "out of memory");
    for (int64_t i = 0; i < c->nproducts; i++)
        items[i] = (seed_item){c->products[i].sub, c->products[i].brand};
    for (int s = 0; s < c->nsubs; s++) {
        slugs[s] = c->subs[s].sub->slug;
        brands[s] = seed_count_strings(c->subs[s].cat->brands);
    }
    *in = (seed_model_input){.items = items,
                             .nitems = c->nproducts,
                             .sub_slugs = slugs,
                             .sub_brands = brands,
                             .nsubs = c->nsubs,
                             .customer_since = c->user_created,
                             .ncustomers = c->nusers,
                             .now_ms = c->now,
                             .random_seed = c->o->random_seed};
    return 0;
}

static int seed_orders_all(seed_ctx *c)
{
    static const char order_insert[] = "INSERT INTO orders (id, user_id, status, total_cents, "
                                       "currency, created_at, updated_at) VALUES";
    int64_t n = c->o->orders, order_base, item_base;
    int rc;
    if ((rc = query_int(c->d, "SELECT COALESCE(MAX(id), 0) FROM orders", NULL, 0, &order_base,
                        c->err)) < 0 ||
        (rc = query_int(c->d, "SELECT COALESCE(MAX(id), 0) FROM order_items", NULL, 0, &item_base,
                        c->err)) < 0)
        return rc;

    seed_model_input in;
    seed_model *m = NULL;
    uint64_t *keys = NULL;
    if ((rc = model_input_make(c, &in)) < 0)
        return rc;
    db_value *orows = arena_alloc(c->a, (size_t)ORDER_BATCH * OCOL * sizeof *orows);
    db_value *irows =
        arena_alloc(c->a, (size_t)(c->chunk + ORDER_BATCH * LINES_MAX) * ICOL * sizeof *irows);
    if (!orows || !irows)
        return sm_error_set(c->err, SM_ENOMEM, "out of memory");
    if ((rc = seed_model_new(c->a, &in, &m)) < 0 ||
        (rc = seed_model_schedule(m, c->a, n, &keys)) < 0)
        return sm_error_set(c->err, rc, "cannot model the orders: %s", sm_strerror(rc));

    seed_rng r;
    seed_rng_seed(&r, c->o->random_seed, 6);
    int64_t item_id = item_base;
    int nitems = 0; /* lines generated but not inserted yet */
    for (int64_t done = 0; done < n;) {
        int k = (int)(n - done < ORDER_BATCH ? n - done : ORDER_BATCH);
        for (int j = 0; j < k; j++) {
            int64_t order_id = order_base + 1 + done + j, u, at, lines[LINES_MAX];
            seed_model_order(m, keys[done + j], &u, &at);
            int want = 1 + seed_rng_poisson(&r, c->o->lines_per_order - 1.0);
            int have = seed_model_basket(m, u, &r, want < LINES_MAX ? want : LINES_MAX, lines);
            int64_t total = 0;
            for (int q = 0; q < have; q++) {
                const seed_product *p = &c->products[lines[q]];
                double x = seed_rng_unit(&r);
                int64_t qty = x < 0.8 ? 1 : x < 0.95 ? 2 : 3;
                db_value *row = irows + (size_t)nitems++ * ICOL;
                c->stats->order_items++;
                row[0] = DB_I(++item_id);
                row[1] = DB_I(order_id);
                row[2] = DB_I(p->id);
                row[3] = DB_T(p->name);
                row[4] = DB_I(p->price_cents);
                row[5] = DB_I(qty);
                row[6] = DB_I(p->price_cents * qty);
                total += p->price_cents * qty;
            }
            int64_t since;
            const char *status = status_for_age(&r, c->now - at, &since);
            db_value *row = orows + (size_t)j * OCOL;
            row[0] = DB_I(order_id);
            row[1] = DB_I(c->user_ids[u]);
            row[2] = DB_T(status);
            row[3] = DB_I(total);
            row[4] = DB_T(c->o->currency);
            row[5] = DB_I(at);
            row[6] = DB_I(at + since);
        }
        if ((rc = insert_rows(c, order_insert, OCOL, orows, k)) < 0)
            return rc;
        done += k;
        if ((rc = flush_items(c, irows, &nitems, done == n)) < 0)
            return rc;
        c->stats->orders = done;
        progress(c, "orders", done, n);
    }
    return 0;
}

static int seed_sequences_reset(seed_ctx *c)
{
    static const char *const tables[] = {"users", "products", "orders", "order_items"};
    if (db_get_kind(c->d) != DB_POSTGRES)
        return 0;
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        char sql[256];
        int64_t ignored;
        snprintf(sql, sizeof sql,
                 "SELECT setval(pg_get_serial_sequence('%s', 'id'), "
                 "(SELECT COALESCE(MAX(id), 0) + 1 FROM %s), false)",
                 tables[i], tables[i]);
        int rc = query_int(c->d, sql, NULL, 0, &ignored, c->err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* One transaction writes hundreds of megabytes: with SQLite's default page
 * cache (2 MiB) the pages spill to disk and are read back many times over.
 * The cache grows for the run and is put back after (the connection may
 * be the caller's). */
static int sqlite_cache_grow(seed_ctx *c, bool grow)
{
    char sql[64];
    if (db_get_kind(c->d) != DB_SQLITE)
        return 0;
    if (grow && query_int(c->d, "PRAGMA cache_size", NULL, 0, &c->sqlite_cache, c->err) < 0)
        return SM_EDB;
    snprintf(sql, sizeof sql, "PRAGMA cache_size = %lld",
             grow ? -SEED_SQLITE_CACHE_KIB : (long long)c->sqlite_cache);
    if (!grow && c->sqlite_cache == 0)
        return 0;
    return db_exec(c->d, sql, NULL, 0, NULL, grow ? c->err : NULL);
}

static int options_check(const seed_options *o, sm_error *err)
{
    if (o->products < 0 || o->products > SEED_MAX_PRODUCTS)
        return sm_error_set(err, SM_EINVAL, "products must be 0 to %d", SEED_MAX_PRODUCTS);
    if (o->users < 0 || o->users > SEED_MAX_USERS)
        return sm_error_set(err, SM_EINVAL, "users must be 0 to %d", SEED_MAX_USERS);
    if (o->orders < 0 || o->orders > SEED_MAX_ORDERS)
        return sm_error_set(err, SM_EINVAL, "orders must be 0 to %d", SEED_MAX_ORDERS);
    if (!(o->lines_per_order >= 1.0 && o->lines_per_order <= SEED_MAX_LINES_PER_ORDER))
        return sm_error_set(err, SM_EINVAL, "lines per order must be 1 to %g",
                            SEED_MAX_LINES_PER_ORDER);
    if (!o->currency || strlen(o->currency) != 3)
        return sm_error_set(err, SM_EINVAL, "currency must be an ISO 4217 code");
    return 0;
}

int seed_run(db *d, const seed_options *o, seed_stats *stats, sm_error *err)
{
    seed_stats local;
    seed_ctx c = {.d = d, .o = o, .stats = stats ? stats : &local, .err = err};
    uint64_t start = clock_mono_ns();
    int rc = options_check(o, err);
    if (rc < 0)
        return rc;
    memset(c.stats, 0, sizeof *c.stats);
    c.now = clock_now_ms();
    c.chunk = db_get_kind(d) == DB_SQLITE ? CHUNK_ROWS_SQLITE : CHUNK_ROWS_POSTGRES;

    if (o->password_hash) {
        if (strlen(o->password_hash) >= sizeof c.password_hash)
            return sm_error_set(err, SM_EINVAL, "password hash is too long");
        strcpy(c.password_hash, o->password_hash);
    } else if (o->users > 0) {
        if (sodium_init() < 0 ||
            crypto_pwhash_str(c.password_hash, SEED_DEMO_PASSWORD, strlen(SEED_DEMO_PASSWORD),
                              crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
            return sm_error_set(err, SM_ENOMEM, "cannot hash the demo password");
    }

    c.a = arena_new(1 << 20);
    c.batch = arena_new(1 << 20);
    if (!c.a || !c.batch) {
        rc = sm_error_set(err, SM_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = db_begin(d, true, err)) < 0 || (rc = sqlite_cache_grow(&c, true)) < 0)
        goto fail;
    if (!o->append) {
        bool empty = false;
        if ((rc = seed_database_is_empty(d, &empty, err)) < 0)
            goto fail;
        if (!empty) {
            rc = sm_error_set(err, SM_ECONFLICT,
                              "the database already has data (use --append to add to it)");
            goto fail;
        }
    }
    if ((rc = seed_categories_all(&c)) < 0 || (rc = seed_products_all(&c)) < 0 ||
        (rc = seed_users_all(&c)) < 0)
        goto fail;
    if (o->orders > 0) {
        if ((rc = load_existing(&c)) < 0)
            goto fail;
        if (c.nproducts == 0 || c.nusers == 0) {
            rc = sm_error_set(err, SM_EINVAL, "orders need products and customers");
            goto fail;
        }
        if ((rc = seed_orders_all(&c)) < 0)
            goto fail;
    }
    if ((rc = seed_sequences_reset(&c)) < 0 || (rc = db_commit(d, err)) < 0)
        goto fail;
    sqlite_cache_grow(&c, false);
    sodium_memzero(c.password_hash, sizeof c.password_hash);
    arena_free(c.a);
    arena_free(c.batch);
    c.stats->seconds = (double)(clock_mono_ns() - start) / 1e9;
    return 0;

fail:
    db_rollback(d);
    sqlite_cache_grow(&c, false);
    sodium_memzero(c.password_hash, sizeof c.password_hash);
    arena_free(c.a);
    arena_free(c.batch);
    return rc;
}
