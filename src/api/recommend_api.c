/* recommend_api.c — /api/products/{id}/similar/, /api/products/{id}/also-bought/
 * and /api/recommendations/, on top of ml/recommend.
 *
 * A request takes the active model (rec_serving_acquire), asks it for a few
 * more products than `limit` (some may have been deactivated since the
 * build), renders them with the catalogue's product renderer in one
 * `WHERE id IN (…) AND active = 1` query, and keeps the model's order.
 * Customers' recommendations read the customer's purchases (most recent
 * first, bounded) from the database on a miss, so a new order changes the
 * answer at once rather than at the next build.
 *
 * Similar products blend co-purchase neighbours with content neighbours
 * (ml/rec_content.h: nearest vectors of the active search version), so a
 * product without orders still gets its look-alikes; a product without a
 * vector (built after the last build) gets co-purchase, category and
 * popularity fill-ins as before.
 *
 * Responses are cached in the process cache (ops/cache.h) under
 * "rec:user:<id>:<limit>", "rec:similar:<id>:<limit>", "rec:bought:<id>:<limit>",
 * with the model version in the stored value so a rebuild invalidates them.
 * A customer's entries are deleted when they order
 * (recommend_api_invalidate_user, called by orders_api.c). The X-Cache
 * header says hit or miss. Without any built model the lists are empty and
 * model_version is null: the API never fails for lack of a build. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_util.h"
#include "api/routes.h"
#include "core/config.h"
#include "core/log.h"
#include "ml/artefact.h"
#include "ml/rec_content.h"
#include "ml/recommend.h"
#include "ops/cache.h"
#include "shop/catalog_json.h"

#define REC_API_LIMIT_MAX 50
#define REC_API_LIMIT_DEFAULT 10
#define REC_CACHE_TTL_MS (5 * 60 * 1000)
#define REC_SLACK 10 /* extra candidates asked for, against deactivations */

static const char *data_dir(void)
{
    const sm_config *cfg = config_get();
    return cfg ? cfg->data_dir : "var";
}

/* ---- cache: value = "<version>\n<body>" ---- */

static bool cache_answer(http_response *res, const char *key, const char *version)
{
    cache *c = cache_default();
    char *v = NULL;
    size_t len = 0;
    if (!c || cache_get(c, key, &v, &len, NULL) != 0)
        return false;
    char *nl = memchr(v, '\n', len);
    bool ok =
        nl && (size_t)(nl - v) == strlen(version) && memcmp(v, version, (size_t)(nl - v)) == 0;
    if (ok) {
        http_response_add_header(res, "X-Cache", "hit");
        http_response_set_body(res, nl + 1, len - (size_t)(nl + 1 - v), "application/json");
    }
    free(v);
    return ok;
}

static void cache_store(const char *key, const char *version, const char *body)
{
    cache *c = cache_default();
    char *v = NULL;
    if (!c || asprintf(&v, "%s\n%s", version, body) < 0)
        return;
    sm_error err = {0};
    if (cache_set(c, key, v, strlen(v), REC_CACHE_TTL_MS, &err) < 0)
        log_warning("recommendation cache: %s", err.message);
    free(v);
}

void recommend_api_invalidate_user(int64_t user_id)
{
    cache *c = cache_default();
    char key[64];
    if (!c)
        return;
    for (int limit = 1; limit <= REC_API_LIMIT_MAX; limit++) {
        snprintf(key, sizeof key, "rec:user:%lld:%d", (long long)user_id, limit);
        cache_delete(c, key);
    }
}

/* ---- rendering ---- */

static json_t *sources_json(unsigned src)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{REC_FROM_COPURCHASE, "copurchase"},
                 {REC_FROM_CONTENT, "content"},
                 {REC_FROM_ALS, "als"},
                 {REC_FROM_POPULAR, "popular"},
                 {REC_FROM_CATEGORY, "category"}};
    json_t *a = json_array();
    for (size_t i = 0; a && i < sizeof names / sizeof names[0]; i++)
        if (src & names[i].bit)
            json_array_append_new(a, json_string(names[i].name));
    return a;
}

/* Renders the active products among items[0..n) in order, at most `limit`,
 * as {items, sources, model_version}. Returns 0 or an SM_E* code. */
static int render(db *d, const rec_item *items, int n, int limit, unsigned src, const char *version,
                  json_t **out, sm_error *err)
{
    char sql[2048];
    db_value params[REC_LIMIT_MAX];
    size_t at = (size_t)snprintf(sql, sizeof sql,
                                 "SELECT " CATALOG_PRODUCT_COLUMNS CATALOG_PRODUCT_FROM
                                 " WHERE p.active = 1 AND p.id IN (");
    for (int i = 0; i < n && at < sizeof sql; i++) {
        at += (size_t)snprintf(sql + at, sizeof sql - at, "%s$%d", i ? "," : "", i + 1);
        params[i] = DB_I(items[i].product_id);
    }
    if (at + 2 >= sizeof sql)
        return sm_error_set(err, SM_EINTERNAL, "recommendation query too long");
    memcpy(sql + at, ")", 2);
    json_t *list = json_array(), *body = NULL;
    db_result *r = NULL;
    int rc = SM_ENOMEM;
    if (!list)
        goto fail;
    if (n > 0) {
        if ((rc = db_query(d, sql, params, n, &r, err)) < 0)
            goto fail;
        for (int i = 0; i < n && (int)json_array_size(list) < limit; i++)
            for (int row = 0; row < db_result_rows(r); row++)
                if (db_result_int(r, row, 0) == items[i].product_id) {
                    json_t *p = catjson_product_row(r, row);
                    if (!p || json_array_append_new(list, p) < 0) {
                        rc = SM_ENOMEM;
                        goto fail;
                    }
                    break;
                }
    }
    body = json_pack("{so so ss?}", "items", list, "sources", sources_json(src), "model_version",
                     version[0] ? version : NULL);
    list = NULL;
    if (!body) {
        rc = SM_ENOMEM;
        goto fail;
    }
    db_result_free(r);
    *out = body;
    return 0;
fail:
    db_result_free(r);
    json_decref(list);
    return rc == SM_ENOMEM ? sm_error_set(err, SM_ENOMEM, "out of memory") : rc;
}

/* Sends `body` and stores it under `key`. */
static void reply(http_response *res, const char *key, const char *version, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text) {
        api_error_from_code(res, SM_ENOMEM, NULL);
        return;
    }
    if (version[0])
        cache_store(key, version, text);
    http_response_add_header(res, "X-Cache", "miss");
    http_response_set_body(res, text, strlen(text), "application/json");
    free(text);
}

/* ---- handlers ---- */

typedef enum rec_kind { REC_SIMILAR, REC_ALSO_BOUGHT, REC_USER } rec_kind;

static int user_history(db *d, int64_t user, int64_t *hist, int *n, sm_error *err)
{
    db_result *r = NULL;
    db_value p[] = {DB_I(user), DB_I(REC_HISTORY_MAX)};
    int rc = db_query(d,
                      "SELECT i.product_id FROM orders o JOIN order_items i ON i.order_id = o.id "
                      "WHERE o.user_id = $1 AND o.status <> 'cancelled' "
                      "ORDER BY o.created_at DESC, o.id DESC LIMIT $2",
                      p, 2, &r, err);
    if (rc < 0)
        return rc;
    *n = db_result_rows(r) < REC_HISTORY_MAX ? db_result_rows(r) : REC_HISTORY_MAX;
    for (int i = 0; i < *n; i++)
        hist[i] = db_result_int(r, i, 0);
    db_result_free(r);
    return 0;
}

static bool product_active(db *d, int64_t id, sm_error *err, int *rc)
{
    db_result *r = NULL;
    db_value p[] = {DB_I(id)};
    *rc = db_query(d, "SELECT 1 FROM products WHERE id = $1 AND active = 1", p, 1, &r, err);
    bool ok = *rc == 0 && db_result_rows(r) == 1;
    db_result_free(r);
    return ok;
}

static void serve(http_request *req, http_response *res, const api_principal *who, rec_kind kind)
{
    int64_t id = 0, limit;
    char key[96], version[ARTEFACT_VERSION_MAX] = "";
    sm_error err = {0};
    const rec_model *m = NULL;
    rec_item items[REC_LIMIT_MAX];
    int n = 0, rc;
    unsigned src = 0;
    if (kind != REC_USER && !api_path_id(req, "id", &id)) {
        http_response_error(res, 404, "not_found", NULL, "no such product");
        return;
    }
    if (api_query_int(req, res, "limit", REC_API_LIMIT_DEFAULT, 1, REC_API_LIMIT_MAX, &limit))
        return;
    bool personal = kind == REC_USER && who && who->role == API_ROLE_CUSTOMER;
    if (kind == REC_USER)
        snprintf(key, sizeof key, "rec:user:%lld:%d", personal ? (long long)who->user_id : 0LL,
                 (int)limit);
    else
        snprintf(key, sizeof key, "rec:%s:%lld:%d", kind == REC_SIMILAR ? "similar" : "bought",
                 (long long)id, (int)limit);

    rc = rec_serving_acquire(data_dir(), &m, version, &err);
    if (rc < 0 && rc != SM_ENOTFOUND)
        log_error("recommendations: %s", err.message); /* serve as if unbuilt */
    if (m && cache_answer(res, key, version)) {
        rec_serving_release(m);
        return;
    }
    db *d = api_db(res);
    if (!d)
        goto done;
    if (kind != REC_USER && !product_active(d, id, &err, &rc)) {
        if (rc < 0)
            api_error_from_code(res, rc, &err);
        else
            http_response_error(res, 404, "not_found", NULL, "no such product");
        goto done;
    }
    int want = (int)limit + REC_SLACK;
    if (m && kind == REC_SIMILAR) {
        rec_content content = rec_content_active(data_dir()); /* the search vectors */
        n = rec_similar(m, NULL, &content, id, want, items, &src);
    } else if (m && kind == REC_ALSO_BOUGHT) {
        n = rec_also_bought(m, id, want, items, &src);
    } else if (m) {
        int64_t hist[REC_HISTORY_MAX];
        int nh = 0;
        if (personal && (rc = user_history(d, who->user_id, hist, &nh, &err)) < 0) {
            api_error_from_code(res, rc, &err);
            goto done;
        }
        n = personal ? rec_for_user(m, NULL, who->user_id, hist, nh, want, items, &src)
                     : rec_popular(m, NULL, 0, want, items, &src);
    }
    if (n < 0) {
        api_error_from_code(res, n, NULL);
        goto done;
    }
    json_t *body = NULL;
    if ((rc = render(d, items, n, (int)limit, src, version, &body, &err)) < 0) {
        api_error_from_code(res, rc, &err);
        goto done;
    }
    reply(res, key, version, body);
done:
    rec_serving_release(m);
}

static void similar(http_request *req, http_response *res, const api_principal *who)
{
    serve(req, res, who, REC_SIMILAR);
}

static void also_bought(http_request *req, http_response *res, const api_principal *who)
{
    serve(req, res, who, REC_ALSO_BOUGHT);
}

static void for_user(http_request *req, http_response *res, const api_principal *who)
{
    serve(req, res, who, REC_USER);
}

int api_recommend_routes(http_router *r)
{
    int rc;
    if ((rc = api_route(r, "GET", "/api/products/{id}/similar/", similar, API_PUBLIC)) < 0 ||
        (rc = api_route(r, "GET", "/api/products/{id}/also-bought/", also_bought, API_PUBLIC)) <
            0 ||
        (rc = api_route(r, "GET", "/api/recommendations/", for_user, API_PUBLIC)) < 0)
        return rc;
    return 0;
}
