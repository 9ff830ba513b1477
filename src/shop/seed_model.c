/* seed_model.c — who orders what, and when (see seed_model.h).
 *
 * The shop's tastes (stream 3): a shuffle of the products gives their
 * popularity ranks (Zipf 0.9 over the catalogue); each subcategory, and each
 * (subcategory, brand), lists its products best-seller first; bundles are
 * concrete groups of complementary products (Zipf 0.8 over bundles), each
 * from a template of seed_catalog.c, which is its family.
 *
 * Each customer's (stream 5, drawn once, one customer after the other):
 * 1-3 interests among the families (some families more common than
 * others), a favourite brand, a loyalty in [0.70, 0.85) and an order rate,
 * log-normal (most customers order once or twice a year, a few every week)
 * and proportional to how long they have had an account. A pick is made
 * within one of their interests with their loyalty — a subcategory of that
 * family, then its best-sellers (steeper than the whole shop: Zipf 1.1),
 * half of the time in the favourite brand — and from the whole catalogue's
 * popularity otherwise. So a customer's past orders say what the next one
 * holds, as in a real shop, while best-sellers stay best-sellers and
 * bundles stay bundles.
 *
 * Time (stream 4): orders are given to customers by rate, dated within
 * their account's life, and sorted, so ids grow with dates. Baskets are
 * then drawn in date order and carry one piece of state per customer: the
 * part of a bundle their last order left (the case and the charger for
 * last month's phone), which the next order comes back for 70 % of the
 * time — what makes the last order follow from the ones before. */
#include "shop/seed_model.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "shop/seed.h"
#include "shop/seed_catalog.h"

#define INTERESTS_MAX 3    /* bundle families one customer cares about */
#define LOYALTY_MIN 0.70   /* share of a customer's picks made within their */
#define LOYALTY_MAX 0.85   /* interests, drawn once per customer in [MIN, MAX) */
#define BRAND_BIAS 0.5     /* share of those picks made in their favourite brand */
#define BRANDS_MAX 8       /* brands of one category (seed_catalog.c has 4 to 6) */
#define BRAND_CYCLE 60     /* favourite brand = this draw modulo the category's count */
#define INTEREST_SKEW 0.6  /* Zipf exponent of how common each family is */
#define TASTE_SKEW 1.1     /* ... of products and bundles within one family: a few */
                           /* lead each niche, more sharply than the whole shop */
#define ACTIVITY_SIGMA 1.5 /* log-normal spread of how often customers order */
#define ACTIVITY_Z_MAX 2.5 /* the keenest order exp(1.5 × 2.5) ≈ 42× the median */
#define RECENCY_POWER 1.3  /* dates lean towards the present */
#define SPLIT_SHARE 0.30   /* bundle baskets that leave part of the bundle for later */
#define FOLLOW_UP 0.7      /* next orders that come back for the rest of it */
#define DAY_MS 86400000LL
#define ORDER_WINDOW_MS (365 * DAY_MS)
#define PRODUCTS_PER_BUNDLE 4 /* one bundle for this many products */
#define BUNDLES_MAX 500000
#define BUNDLE_SHARE 0.75   /* share of multi-line orders that start from a bundle */
#define BASKET_DRAWS_MAX 96 /* draws to fill one basket before giving up on repeats */
#define USER_BITS 21        /* an order's sort key: (time offset << USER_BITS) | customer */

_Static_assert(SEED_MAX_USERS <= (1 << USER_BITS), "a customer index must fit USER_BITS");
_Static_assert((ORDER_WINDOW_MS >> (63 - USER_BITS)) == 0, "a time offset must fit its bits");

/* Lists grouped CSR-style: group g is items[off[g]..off[g+1]). */
typedef struct seed_groups {
    int64_t *off;
    int64_t *items;
} seed_groups;

/* A customer's lasting tastes, drawn once (stream 5). */
typedef struct seed_customer {
    uint16_t interest[INTERESTS_MAX]; /* bundle templates, the first the strongest */
    uint8_t ninterests;               /* 0: every pick follows global popularity */
    uint8_t brand;                    /* favourite brand, modulo a category's count */
    uint8_t taken;                    /* positions of `pending` already bought (bits) */
    float loyalty;
    int32_t pending; /* bundle bought in part by the last order, -1: none */
} seed_customer;

struct seed_model {
    const seed_model_input *in;
    arena *a;
    int64_t *perm;           /* popularity rank -> product index */
    seed_zipf pop;           /* over product ranks */
    seed_zipf taste;         /* the same, steeper: within one family */
    seed_groups by_sub;      /* products of each subcategory, best-sellers first */
    seed_groups by_brand;    /* the same per (subcategory × BRANDS_MAX + brand) */
    int *sub_brands;         /* brands of each subcategory's category */
    int *tsub, *ntsub;       /* subcategories with products of each template */
    int ntemplates;          /* usable as uint16_t */
    seed_groups bundles;     /* products of each bundle; its index is its rank */
    int32_t *bundle_tmpl;    /* the template each bundle comes from */
    int64_t nbundles;        /* 0: orders are drawn from popularity alone */
    seed_zipf bundle_pop;    /* over bundle ranks */
    seed_groups by_template; /* bundles of each template, best-sellers first */
    seed_customer *cust;     /* per customer index */
    double *activity;        /* cumulative order rate of customers 0..i */
};

/* Groups `n` values (vals[i], or i when vals is NULL) by keys[i] in [0,
 * ngroups) (a negative key leaves the value out), keeping their order. */
static int groups_make(arena *a, seed_groups *g, const int64_t *vals, const int32_t *keys,
                       int64_t n, int64_t ngroups)
{
    g->off = arena_calloc(a, (size_t)ngroups + 1, sizeof *g->off);
    g->items = arena_alloc(a, (size_t)(n ? n : 1) * sizeof *g->items);
    int64_t *fill = malloc((size_t)(ngroups ? ngroups : 1) * sizeof *fill);
    if (!g->off || !g->items || !fill) {
        free(fill);
        return SM_ENOMEM;
    }
    for (int64_t i = 0; i < n; i++)
        if (keys[i] >= 0)
            g->off[keys[i] + 1]++;
    for (int64_t k = 0; k < ngroups; k++)
        g->off[k + 1] += g->off[k];
    memcpy(fill, g->off, (size_t)ngroups * sizeof *fill);
    for (int64_t i = 0; i < n; i++)
        if (keys[i] >= 0)
            g->items[fill[keys[i]]++] = vals ? vals[i] : i;
    free(fill);
    return 0;
}

static int64_t group_len(const seed_groups *g, int64_t k)
{
    return g->off[k + 1] - g->off[k];
}

/* An item of non-empty group k, the first ones (best-sellers) most often. */
static int64_t group_draw(const seed_groups *g, int64_t k, const seed_zipf *z, seed_rng *r)
{
    return g->items[g->off[k] + seed_zipf_draw_first(z, r, group_len(g, k))];
}

/* Products by subcategory and by (subcategory, brand), best-sellers first,
 * and each template's subcategories that have products. */
static int model_lists_make(seed_model *m)
{
    int32_t *keys = malloc((size_t)(m->in->nitems ? m->in->nitems : 1) * sizeof *keys);
    m->sub_brands =
        arena_alloc(m->a, (size_t)(m->in->nsubs ? m->in->nsubs : 1) * sizeof *m->sub_brands);
    m->ntemplates = seed_bundle_template_count < UINT16_MAX ? seed_bundle_template_count : 0;
    m->tsub = arena_alloc(m->a, (size_t)(m->ntemplates + 1) * SEED_BUNDLE_MAX * sizeof *m->tsub);
    m->ntsub = arena_calloc(m->a, (size_t)m->ntemplates + 1, sizeof *m->ntsub);
    int rc = SM_ENOMEM;
    if (!keys || !m->sub_brands || !m->tsub || !m->ntsub)
        goto fail;
    for (int64_t i = 0; i < m->in->nitems; i++)
        keys[i] = m->in->items[m->perm[i]].sub;
    if ((rc = groups_make(m->a, &m->by_sub, m->perm, keys, m->in->nitems, m->in->nsubs)) < 0)
        goto fail;
    for (int64_t i = 0; i < m->in->nitems; i++) {
        const seed_item *p = &m->in->items[m->perm[i]];
        keys[i] = p->sub >= 0 && p->brand >= 0 && p->brand < BRANDS_MAX
                      ? p->sub * BRANDS_MAX + p->brand
                      : -1;
    }
    if ((rc = groups_make(m->a, &m->by_brand, m->perm, keys, m->in->nitems,
                          (int64_t)m->in->nsubs * BRANDS_MAX)) < 0)
        goto fail;
    for (int s = 0; s < m->in->nsubs; s++) {
        int n = m->in->sub_brands[s];
        m->sub_brands[s] = n < 1 ? 1 : n > BRANDS_MAX ? BRANDS_MAX : n;
    }
    for (int t = 0; t < m->ntemplates; t++)
        for (int j = 0; seed_bundle_templates[t].slugs[j]; j++)
            for (int s = 0; s < m->in->nsubs; s++)
                if (!strcmp(m->in->sub_slugs[s], seed_bundle_templates[t].slugs[j]) &&
                    group_len(&m->by_sub, s) > 0) {
                    m->tsub[t * SEED_BUNDLE_MAX + m->ntsub[t]++] = s;
                    break;
                }
    free(keys);
    return 0;
fail:
    free(keys);
    return rc;
}

/* Turns templates into concrete bundles of products (this phone + this
 * case + this charger), drawn uniformly within each subcategory. */
static int bundles_make(seed_model *m, seed_rng *r)
{
    int64_t want = m->in->nitems / PRODUCTS_PER_BUNDLE + 1;
    if (want > BUNDLES_MAX)
        want = BUNDLES_MAX;
    seed_groups *b = &m->bundles;
    b->items = arena_alloc(m->a, (size_t)want * SEED_BUNDLE_MAX * sizeof *b->items);
    b->off = arena_alloc(m->a, (size_t)(want + 1) * sizeof *b->off);
    m->bundle_tmpl = arena_alloc(m->a, (size_t)want * sizeof *m->bundle_tmpl);
    if (!b->items || !b->off || !m->bundle_tmpl)
        return SM_ENOMEM;
    int64_t used = 0;
    m->nbundles = 0;
    b->off[0] = 0;
    for (int64_t k = 0; k < want && m->ntemplates > 0; k++) {
        int t = (int)seed_rng_below(r, m->ntemplates);
        int64_t start = used;
        for (int j = 0; j < m->ntsub[t]; j++) {
            int s = m->tsub[t * SEED_BUNDLE_MAX + j];
            int64_t pick =
                m->by_sub.items[m->by_sub.off[s] + seed_rng_below(r, group_len(&m->by_sub, s))];
            bool dup = false;
            for (int64_t q = start; q < used; q++)
                dup |= b->items[q] == pick;
            if (!dup)
                b->items[used++] = pick;
        }
        if (used - start < 2) {
            used = start; /* a bundle of one teaches nothing */
            continue;
        }
        m->bundle_tmpl[m->nbundles] = t;
        b->off[++m->nbundles] = used;
    }
    return 0;
}

/* Everything the baskets draw from (stream 3): a popularity order of the
 * products (a shuffle, so best-sellers are spread over the catalogue), the
 * per-subcategory lists, the bundles and their popularity. */
static int model_make(seed_model *m)
{
    seed_rng r;
    int rc;
    seed_rng_seed(&r, m->in->random_seed, 3);
    m->perm = arena_alloc(m->a, (size_t)m->in->nitems * sizeof *m->perm);
    if (!m->perm || seed_zipf_init(&m->pop, m->a, m->in->nitems, 0.9) < 0 ||
        seed_zipf_init(&m->taste, m->a, m->in->nitems, TASTE_SKEW) < 0)
        return SM_ENOMEM;
    for (int64_t i = 0; i < m->in->nitems; i++)
        m->perm[i] = i;
    for (int64_t i = m->in->nitems - 1; i > 0; i--) {
        int64_t j = seed_rng_below(&r, i + 1), t = m->perm[i];
        m->perm[i] = m->perm[j];
        m->perm[j] = t;
    }
    if ((rc = model_lists_make(m)) < 0 || (rc = bundles_make(m, &r)) < 0)
        return rc;
    if (seed_zipf_init(&m->bundle_pop, m->a, m->nbundles, 0.8) < 0)
        return SM_ENOMEM;
    return groups_make(m->a, &m->by_template, NULL, m->bundle_tmpl, m->nbundles, m->ntemplates);
}

/* The first moment customer u may have ordered: sign-up, within the window. */
static int64_t customer_since(const seed_model *m, int64_t u)
{
    int64_t since = m->in->customer_since[u], first = m->in->now_ms - ORDER_WINDOW_MS;
    if (since < first)
        since = first;
    return since < m->in->now_ms ? since : m->in->now_ms - 1;
}

/* Each customer's tastes (stream 5, one customer after the other, so they
 * do not depend on the number of orders): 1-3 interests among the bundle
 * families that have products, some families more common than others; a
 * favourite brand; a loyalty; and an order rate, log-normal (most
 * customers order once or twice a year, a few every week) and
 * proportional to the time they have had an account. */
static int customers_make(seed_model *m)
{
    seed_rng r;
    seed_zipf skew;
    seed_rng_seed(&r, m->in->random_seed, 5);
    int nt = 0;
    int *usable = arena_alloc(m->a, (size_t)(m->ntemplates + 1) * sizeof *usable);
    m->cust = arena_alloc(m->a, (size_t)m->in->ncustomers * sizeof *m->cust);
    m->activity = arena_alloc(m->a, (size_t)m->in->ncustomers * sizeof *m->activity);
    if (!usable || !m->cust || !m->activity)
        return SM_ENOMEM;
    for (int t = 0; t < m->ntemplates; t++)
        if (m->ntsub[t] > 0)
            usable[nt++] = t;
    for (int i = nt - 1; i > 0; i--) {
        int j = (int)seed_rng_below(&r, i + 1), t = usable[i];
        usable[i] = usable[j];
        usable[j] = t;
    }
    if (seed_zipf_init(&skew, m->a, nt, INTEREST_SKEW) < 0)
        return SM_ENOMEM;
    double sum = 0;
    for (int64_t u = 0; u < m->in->ncustomers; u++) {
        seed_customer *cu = &m->cust[u];
        double x = seed_rng_unit(&r);
        int want = x < 0.5 ? 1 : x < 0.85 ? 2 : 3;
        cu->ninterests = 0;
        cu->pending = -1;
        for (int tries = 0; nt > 0 && cu->ninterests < want && tries < 8 * INTERESTS_MAX; tries++) {
            int t = usable[seed_zipf_draw(&skew, &r)];
            bool dup = false;
            for (int q = 0; q < cu->ninterests; q++)
                dup |= cu->interest[q] == t;
            if (!dup)
                cu->interest[cu->ninterests++] = (uint16_t)t;
        }
        cu->brand = (uint8_t)seed_rng_below(&r, BRAND_CYCLE);
        cu->loyalty = (float)(LOYALTY_MIN + (LOYALTY_MAX - LOYALTY_MIN) * seed_rng_unit(&r));
        double z = seed_rng_normal(&r);
        z = z > ACTIVITY_Z_MAX ? ACTIVITY_Z_MAX : z < -ACTIVITY_Z_MAX ? -ACTIVITY_Z_MAX : z;
        sum += exp(ACTIVITY_SIGMA * z) * (double)(m->in->now_ms - customer_since(m, u)) /
               (double)ORDER_WINDOW_MS;
        m->activity[u] = sum;
    }
    return 0;
}

int seed_model_new(arena *a, const seed_model_input *in, seed_model **out)
{
    seed_model *m = arena_calloc(a, 1, sizeof *m);
    int rc;
    *out = NULL;
    if (in->nitems < 1 || in->ncustomers < 1 || in->ncustomers > SEED_MAX_USERS)
        return SM_EINVAL;
    if (!m)
        return SM_ENOMEM;
    m->in = in;
    m->a = a;
    if ((rc = model_make(m)) < 0 || (rc = customers_make(m)) < 0)
        return rc;
    *out = m;
    return 0;
}

static int key_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Who orders when (stream 4): each order goes to a customer drawn by order
 * rate, on a date within their account's life leaning towards the
 * present; sorted by date, so order ids grow with time, as in a real shop,
 * and each customer's orders are a history whose last one is the latest. */
int seed_model_schedule(const seed_model *m, arena *a, int64_t n, uint64_t **keys)
{
    seed_rng r;
    int64_t first = m->in->now_ms - ORDER_WINDOW_MS;
    seed_rng_seed(&r, m->in->random_seed, 4);
    *keys = arena_alloc(a, (size_t)(n > 0 ? n : 1) * sizeof **keys);
    if (!*keys)
        return SM_ENOMEM;
    for (int64_t i = 0; i < n; i++) {
        int64_t u = seed_rng_cdf(&r, m->activity, m->in->ncustomers);
        int64_t window = m->in->now_ms - customer_since(m, u);
        int64_t age = (int64_t)((double)window * pow(seed_rng_unit(&r), RECENCY_POWER));
        (*keys)[i] = ((uint64_t)(m->in->now_ms - age - first) << USER_BITS) | (uint64_t)u;
    }
    qsort(*keys, (size_t)(n > 0 ? n : 0), sizeof **keys, key_cmp);
    return 0;
}

void seed_model_order(const seed_model *m, uint64_t key, int64_t *customer, int64_t *at_ms)
{
    *customer = (int64_t)(key & ((1u << USER_BITS) - 1));
    *at_ms = m->in->now_ms - ORDER_WINDOW_MS + (int64_t)(key >> USER_BITS);
}

/* Where one pick comes from: one of the customer's interests with the
 * customer's loyalty (the k-th interest weighs 1/k: the first is the
 * strongest), else -1: global popularity. */
static int interest_draw(const seed_customer *cu, seed_rng *r)
{
    int n = cu->ninterests < INTERESTS_MAX ? cu->ninterests : INTERESTS_MAX;
    if (n == 0 || seed_rng_unit(r) >= cu->loyalty)
        return -1;
    double total = 0;
    for (int k = 0; k < n; k++)
        total += 1.0 / (k + 1);
    double x = seed_rng_unit(r) * total;
    int k = 0;
    while (k < n - 1 && (x -= 1.0 / (k + 1)) >= 0)
        k++;
    return cu->interest[k];
}

/* One product for the customer: within an interest, a subcategory of that
 * family, then its best-sellers (in the favourite brand BRAND_BIAS of the
 * time) most often; otherwise a best-seller of the whole catalogue. */
static int64_t product_draw(const seed_model *m, const seed_customer *cu, seed_rng *r)
{
    int t = interest_draw(cu, r);
    if (t >= 0) {
        int s = m->tsub[t * SEED_BUNDLE_MAX + seed_rng_below(r, m->ntsub[t])];
        if (seed_rng_unit(r) < BRAND_BIAS) {
            int64_t k = (int64_t)s * BRANDS_MAX + cu->brand % m->sub_brands[s];
            if (group_len(&m->by_brand, k) > 0)
                return group_draw(&m->by_brand, k, &m->taste, r);
        }
        return group_draw(&m->by_sub, s, &m->taste, r);
    }
    return m->perm[seed_zipf_draw(&m->pop, r)];
}

/* Fills lines[0..want) with distinct products (returns how many). An order
 * may first come back for the rest of a bundle the customer's previous
 * order bought in part (the case and charger for last month's phone);
 * otherwise three baskets in four with room for two lines start from a
 * bundle — of one of the customer's interests with their loyalty — of
 * which the order may take only a part; single picks fill the rest. */
int seed_model_basket(seed_model *m, int64_t customer, seed_rng *r, int want, int64_t *lines)
{
    seed_customer *cu = &m->cust[customer];
    int have = 0;
    int64_t bi = cu->pending;
    if (bi >= 0 && seed_rng_unit(r) < FOLLOW_UP)
        for (int64_t q = 0; q < group_len(&m->bundles, bi) && have < want; q++)
            if (!(cu->taken & (1u << q)))
                lines[have++] = m->bundles.items[m->bundles.off[bi] + q];
    cu->pending = -1;
    if (have == 0 && want >= 2 && m->nbundles > 0 && seed_rng_unit(r) < BUNDLE_SHARE) {
        int t = interest_draw(cu, r);
        bi = t >= 0 && group_len(&m->by_template, t) > 0
                 ? group_draw(&m->by_template, t, &m->taste, r)
                 : seed_zipf_draw(&m->bundle_pop, r);
        int size = (int)group_len(&m->bundles, bi), pos[SEED_BUNDLE_MAX] = {0};
        int take = seed_rng_unit(r) < SPLIT_SHARE ? 1 + (int)seed_rng_below(r, size - 1) : size;
        for (int q = 0; q < size; q++)
            pos[q] = q;
        cu->taken = 0;
        for (int q = 0; q < take && have < want; q++) {
            int pick = q + (int)seed_rng_below(r, size - q), x = pos[q];
            pos[q] = pos[pick];
            pos[pick] = x;
            lines[have++] = m->bundles.items[m->bundles.off[bi] + pos[q]];
            cu->taken |= (uint8_t)(1u << pos[q]);
        }
        if (have < size)
            cu->pending = (int32_t)bi;
    }
    for (int tries = 0; have < want && tries < BASKET_DRAWS_MAX; tries++) {
        int64_t p = product_draw(m, cu, r);
        bool dup = false;
        for (int q = 0; q < have; q++)
            dup |= lines[q] == p;
        if (!dup)
            lines[have++] = p;
    }
    return have;
}
