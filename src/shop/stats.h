/* stats.h — best-sellers for the operator: per product, units sold, orders,
 * revenue and last sale, with the products most often bought with it. No
 * HTTP here.
 *
 * Reads the versioned product_stats / product_neighbours index that the
 * rebuild_ml_indexes task writes (hourly, docs/TASKS.md), so a read costs
 * one indexed statement whatever the number of orders, and the figures are
 * as of the last build (`built_at`), never a half-built one. */
#ifndef SM_SHOP_STATS_H
#define SM_SHOP_STATS_H

#include <jansson.h>

#include "core/err.h"
#include "db/db.h"

#define STATS_LIMIT_MAX 100
#define STATS_WITH_MAX 10 /* the index keeps 10 neighbours per product */
#define STATS_SORTS "revenue, units, orders or recent" /* for messages */

/* The orders `stats_top_products` accepts; NULL when `name` is none of
 * "revenue", "units", "orders", "recent". */
const char *stats_sort_name(const char *name);

/* The `limit` best products by `sort` (a name stats_sort_name() accepts;
 * ties by product id), each with its `with` (0..STATS_WITH_MAX) most
 * co-purchased products, from the current index version. *out gets
 *   {version (0 before the first build), built_at (ISO 8601 or null), sort,
 *    items: [{product_id, name, currency, active, units_sold, order_count,
 *             revenue_cents, last_sold_at (ISO 8601),
 *             bought_with: [{product_id, name, together}]}]}
 * One statement, so one snapshot on both engines. SM_EINVAL for an unknown
 * sort or an out-of-range limit or with. */
int stats_top_products(db *d, const char *sort, int limit, int with, json_t **out, sm_error *err);

#endif
