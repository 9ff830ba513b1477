/* openapi.c — the OpenAPI 3.0.3 document of the whole HTTP API, built once
 * with jansson when the routes are registered.
 *
 * The document is code rather than a JSON file so that it needs no build
 * step and no file at run time, and so that it reads like docs/API.md: one
 * table row per route (method, path, tag, who may call it, parameters,
 * request body, success response, error statuses) and one small builder per
 * schema. Keep both in step with docs/API.md; the unit tests check that
 * every route of the contract appears here.
 *
 * Builders may meet an allocation failure anywhere; instead of checking
 * each call, the helpers note it in `oom` and openapi_build() fails at the
 * end. */
#include "api/openapi.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "version.h"

static bool oom;

static json_t *chk(json_t *v)
{
    if (!v)
        oom = true;
    return v;
}

static void set(json_t *obj, const char *key, json_t *v)
{
    if (!obj || !v || json_object_set_new(obj, key, v) != 0)
        oom = true;
}

static json_t *t_type(const char *type, const char *format)
{
    json_t *s = chk(json_pack("{ss}", "type", type));
    if (format)
        set(s, "format", json_string(format));
    return s;
}

static json_t *t_int(void)
{
    return t_type("integer", "int64");
}
static json_t *t_str(void)
{
    return t_type("string", NULL);
}
static json_t *t_bool(void)
{
    return t_type("boolean", NULL);
}
static json_t *t_time(void)
{
    return t_type("string", "date-time");
}

static json_t *t_ref(const char *kind, const char *name)
{
    char buf[128];
    snprintf(buf, sizeof buf, "#/components/%s/%s", kind, name);
    return chk(json_pack("{ss}", "$ref", buf));
}

static json_t *t_schema(const char *name)
{
    return t_ref("schemas", name);
}

/* Adds "key": value to schema `s` and returns it (for chaining). */
static json_t *with(json_t *s, const char *key, json_t *v)
{
    set(s, key, v);
    return s;
}

static json_t *t_nullable(json_t *s)
{
    return with(s, "nullable", json_true());
}

static json_t *t_bounded(json_t *s, const char *min_key, json_int_t min, const char *max_key,
                         json_int_t max)
{
    if (min_key)
        set(s, min_key, json_integer(min));
    if (max_key)
        set(s, max_key, json_integer(max));
    return s;
}

static json_t *t_array(json_t *items)
{
    json_t *s = t_type("array", NULL);
    set(s, "items", items);
    return s;
}

/* A string enum from a comma-separated list. */
static json_t *t_enum(const char *csv)
{
    json_t *s = t_str(), *values = chk(json_array());
    char buf[256];
    snprintf(buf, sizeof buf, "%s", csv);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        if (json_array_append_new(values, json_string(tok)) != 0)
            oom = true;
    set(s, "enum", values);
    return s;
}

/* An object schema: `required` is a comma-separated list (or NULL), then
 * (name, schema) pairs ending with NULL. */
static json_t *t_object(const char *required, ...)
{
    json_t *s = t_type("object", NULL), *props = chk(json_object());
    va_list ap;
    va_start(ap, required);
    for (const char *name; (name = va_arg(ap, const char *));)
        set(props, name, va_arg(ap, json_t *));
    va_end(ap);
    set(s, "properties", props);
    if (required && *required) {
        json_t *req = chk(json_array());
        char buf[256];
        snprintf(buf, sizeof buf, "%s", required);
        for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save))
            if (json_array_append_new(req, json_string(tok)) != 0)
                oom = true;
        set(s, "required", req);
    }
    return s;
}

static json_t *t_desc(json_t *s, const char *d)
{
    return with(s, "description", json_string(d));
}

static json_t *page_of(const char *item)
{
    return t_object("items,page,page_size,total,pages", "items", t_array(t_schema(item)), "page",
                    t_int(), "page_size", t_int(), "total", t_int(), "pages", t_int(), NULL);
}

static json_t *product_fields(const char *required)
{
    return t_object(required, "name", t_bounded(t_str(), "minLength", 1, "maxLength", 200),
                    "description", t_bounded(t_str(), NULL, 0, "maxLength", 10000), "price_cents",
                    t_bounded(t_int(), "minimum", 0, "maximum", 10000000000LL), "currency",
                    t_desc(t_bounded(t_str(), "minLength", 3, "maxLength", 3),
                           "ISO 4217; must equal SHOP_CURRENCY"),
                    "stock", t_bounded(t_int(), "minimum", 0, "maximum", 1000000000), "category_id",
                    t_nullable(t_bounded(t_int(), "minimum", 1, NULL, 0)), "brand",
                    t_bounded(t_str(), NULL, 0, "maxLength", 100), "attributes",
                    t_desc(t_type("object", NULL), "free-form, at most 8 KiB serialised"),
                    "image_url",
                    t_desc(t_bounded(t_str(), NULL, 0, "maxLength", 2048),
                           "starts with http://, https:// or /"),
                    "active", t_bool(), NULL);
}

static json_t *build_schemas(void)
{
    json_t *s = chk(json_object());
    set(s, "Error",
        t_object("error", "error",
                 t_object("code,message", "code",
                          t_enum("bad_request,invalid_json,validation_error,unauthorized,"
                                 "forbidden,csrf_failed,not_found,method_not_allowed,"
                                 "request_timeout,conflict,insufficient_stock,"
                                 "invalid_transition,payload_too_large,"
                                 "unsupported_media_type,rate_limited,headers_too_large,"
                                 "internal_error,unavailable"),
                          "message", t_str(), "details",
                          t_desc(t_type("object", NULL),
                                 "validation_error: field → message; insufficient_stock: "
                                 "{product_id, name, requested, available}"),
                          NULL),
                 NULL));
    set(s, "User",
        t_object("id,email,name,role,is_active,created_at", "id", t_int(), "email", t_str(), "name",
                 t_str(), "role", t_enum("admin,staff,customer"), "is_active", t_bool(),
                 "created_at", t_time(), NULL));
    set(s, "UserEnvelope", t_object("user", "user", t_schema("User"), NULL));
    set(s, "UserList", page_of("User"));
    set(s, "RegisterRequest",
        t_object("email,password", "email", t_bounded(t_str(), NULL, 0, "maxLength", 254),
                 "password", t_bounded(t_str(), "minLength", 8, "maxLength", 128), "name", t_str(),
                 NULL));
    set(s, "LoginRequest", t_object("email,password", "email", t_str(), "password", t_str(), NULL));
    set(s, "LoginResponse",
        t_object("token,expires_at,user", "token", t_desc(t_str(), "43-char base64url bearer"),
                 "expires_at", t_time(), "user", t_schema("User"), NULL));
    set(s, "UserPatch",
        t_object(NULL, "role", t_enum("admin,staff,customer"), "is_active", t_bool(), "name",
                 t_str(), NULL));
    set(s, "Category",
        t_object("id,name,slug,parent_id", "id", t_int(), "name", t_str(), "slug", t_str(),
                 "parent_id", t_nullable(t_int()), NULL));
    set(s, "CategoryList", t_object("items", "items", t_array(t_schema("Category")), NULL));
    set(s, "CategoryCreate",
        t_object("name", "name", t_bounded(t_str(), "minLength", 1, "maxLength", 200), "slug",
                 with(t_bounded(t_str(), "minLength", 1, "maxLength", 100), "pattern",
                      json_string("^[a-z0-9-]{1,100}$")),
                 "parent_id", t_nullable(t_int()), NULL));
    set(s, "Product",
        t_object("id,name,description,price_cents,currency,stock,category_id,category,brand,"
                 "attributes,image_url,active,created_at,updated_at",
                 "id", t_int(), "name", t_str(), "description", t_str(), "price_cents", t_int(),
                 "currency", t_str(), "stock", t_int(), "category_id", t_nullable(t_int()),
                 "category", t_desc(t_nullable(t_str()), "the category's slug"), "brand", t_str(),
                 "attributes", t_type("object", NULL), "image_url", t_str(), "active", t_bool(),
                 "created_at", t_time(), "updated_at", t_time(), NULL));
    set(s, "ProductCreate", product_fields("name,price_cents"));
    set(s, "ProductPatch", product_fields(NULL));
    set(s, "ProductList", page_of("Product"));
    set(s, "SearchHit",
        t_object("id,name,highlight,brand,price_cents,currency,stock,in_stock,category,score", "id",
                 t_int(), "name", t_str(), "highlight",
                 t_desc(t_str(), "the name, HTML-escaped, matched words in <em>"), "brand", t_str(),
                 "price_cents", t_int(), "currency", t_str(), "stock", t_int(), "in_stock",
                 t_bool(), "category", t_type("object", NULL), "score", t_type("number", NULL),
                 NULL));
    set(s, "SearchResult",
        t_object("items,page,page_size,total,pages,facets,suggestions,engine", "items",
                 t_array(t_schema("SearchHit")), "page", t_int(), "page_size", t_int(), "total",
                 t_int(), "pages", t_int(), "facets",
                 t_desc(t_type("object", NULL),
                        "category [{id,name,count}], brand [{name,count}], price "
                        "[{min,max,count}] over the filtered result; {} from the SQL fallback"),
                 "suggestions",
                 t_desc(t_array(t_str()), "closest vocabulary words when nothing matched"),
                 "engine", t_desc(t_enum("index,sql"), "sql: cold start, no index built yet"),
                 NULL));
    set(s, "RecommendationList",
        t_object("items,sources,model_version", "items", t_array(t_schema("Product")), "sources",
                 t_desc(t_array(t_enum("copurchase,content,als,popular,category")),
                        "models that contributed"),
                 "model_version",
                 t_desc(t_nullable(t_str()), "artefact version; null before the first build"),
                 NULL));
    set(s, "OrderItem",
        t_object("product_id,name,unit_price_cents,quantity,line_total_cents", "product_id",
                 t_int(), "name", t_str(), "unit_price_cents", t_int(), "quantity", t_int(),
                 "line_total_cents", t_int(), NULL));
    set(s, "OrderStatus", t_enum("pending,paid,shipped,delivered,cancelled"));
    set(s, "Order",
        t_object("id,user_id,status,total_cents,currency,items,created_at,updated_at", "id",
                 t_int(), "user_id", t_int(), "status", t_schema("OrderStatus"), "total_cents",
                 t_int(), "currency", t_str(), "items", t_array(t_schema("OrderItem")),
                 "created_at", t_time(), "updated_at", t_time(), NULL));
    set(s, "OrderList", page_of("Order"));
    set(s, "OrderCreate",
        t_object(
            "items", "items",
            t_bounded(t_array(t_object("product_id,quantity", "product_id",
                                       t_bounded(t_int(), "minimum", 1, NULL, 0), "quantity",
                                       t_bounded(t_int(), "minimum", 1, "maximum", 1000), NULL)),
                      "minItems", 1, "maxItems", 100),
            NULL));
    set(s, "OrderStatusChange", t_object("status", "status", t_schema("OrderStatus"), NULL));
    set(s, "Job",
        t_object("id,queue,task,state,attempt,max_attempts", "id", t_int(), "queue", t_str(),
                 "task", t_str(), "state",
                 t_enum("scheduled,available,running,succeeded,retryable,discarded,cancelled"),
                 "priority", t_int(), "attempt", t_int(), "max_attempts", t_int(), "run_at",
                 t_time(), "inserted_at", t_time(), "attempted_at", t_nullable(t_time()),
                 "finished_at", t_nullable(t_time()), "unique_key", t_nullable(t_str()),
                 "correlation_id", t_nullable(t_str()), "last_error", t_nullable(t_str()), "worker",
                 t_nullable(t_str()), "args", t_type("object", NULL), "errors",
                 t_array(t_object("attempt,at,error", "attempt", t_int(), "at", t_int(), "error",
                                  t_str(), NULL)),
                 NULL));
    set(s, "JobPage",
        t_object("items,page,page_size,has_more", "items", t_array(t_schema("Job")), "page",
                 t_int(), "page_size", t_int(), "has_more", t_bool(), NULL));
    set(s, "JobCreate", t_object("task", "task", t_str(), "args", t_type("object", NULL), NULL));
    set(s, "JobQueues",
        t_object("queues", "queues",
                 t_array(t_object("queue", "queue", t_str(), "available", t_int(), "scheduled",
                                  t_int(), "running", t_int(), "retryable", t_int(), "discarded",
                                  t_int(), "succeeded_last_hour", t_int(), NULL)),
                 NULL));
    set(s, "JobPurge", t_object("queue,deleted", "queue", t_str(), "deleted", t_int(), NULL));
    set(s, "Workers",
        t_object("workers", "workers",
                 t_array(t_object("id,alive", "id", t_str(), "host", t_str(), "pid", t_int(),
                                  "queues", t_str(), "alive", t_bool(), "last_seen", t_time(),
                                  "running", t_array(t_type("object", NULL)), NULL)),
                 NULL));
    set(s, "ProductStats",
        t_object(
            "version,built_at,sort,items", "version", t_int(), "built_at", t_nullable(t_time()),
            "sort", t_enum("revenue,units,orders,recent"), "items",
            t_array(t_object("product_id,name,units_sold,order_count,revenue_cents,bought_with",
                             "product_id", t_int(), "name", t_str(), "currency", t_str(), "active",
                             t_bool(), "units_sold", t_int(), "order_count", t_int(),
                             "revenue_cents", t_int(), "last_sold_at", t_time(), "bought_with",
                             t_array(t_object("product_id,name,together", "product_id", t_int(),
                                              "name", t_str(), "together", t_int(), NULL)),
                             NULL)),
            NULL));
    json_t *check = t_object("status", "status", t_enum("ok,fail"), "latency_ms", t_int(), "error",
                             t_str(), NULL);
    set(s, "HealthCheck", check);
    set(s, "HealthLive", t_object("status", "status", t_enum("ok"), NULL));
    set(s, "HealthReady",
        t_object("status,checks", "status", t_enum("ok,fail"), "checks",
                 with(t_type("object", NULL), "additionalProperties", t_schema("HealthCheck")),
                 NULL));
    set(s, "HealthDetailed",
        t_object(
            "status,version", "status", t_enum("ok,fail"), "version", t_str(), "uptime_s", t_int(),
            "started_at", t_time(), "database",
            t_object("kind", "kind", t_enum("sqlite,postgres"), "size_bytes", t_int(),
                     "connections", t_int(), NULL),
            "checks", with(t_type("object", NULL), "additionalProperties", t_schema("HealthCheck")),
            "counts",
            t_object(NULL, "users", t_int(), "products", t_int(), "orders", t_int(), NULL), "jobs",
            t_object(NULL, "queues", t_array(t_type("object", NULL)), "workers_alive", t_int(),
                     NULL),
            "process",
            t_object(NULL, "pid", t_int(), "rss_bytes", t_int(), "cpu_user_s",
                     t_type("number", NULL), "cpu_system_s", t_type("number", NULL), "threads",
                     t_int(), "open_fds", t_int(), NULL),
            "disk",
            t_object(NULL, "path", t_str(), "free_bytes", t_int(), "total_bytes", t_int(), NULL),
            NULL));
    return s;
}

static json_t *param(const char *name, const char *in, json_t *schema, const char *desc)
{
    json_t *p =
        chk(json_pack("{ss ss sb}", "name", name, "in", in, "required", strcmp(in, "path") == 0));
    set(p, "schema", schema);
    set(p, "description", json_string(desc));
    return p;
}

static json_t *build_parameters(void)
{
    json_t *p = chk(json_object());
    set(p, "id", param("id", "path", t_bounded(t_int(), "minimum", 1, NULL, 0), "record id"));
    set(p, "page",
        param("page", "query", t_bounded(t_int(), "minimum", 1, NULL, 0),
              "page number, from 1 (default 1)"));
    set(p, "limit",
        param("limit", "query", t_bounded(t_int(), "minimum", 1, "maximum", 50),
              "number of products (default 10)"));
    set(p, "page_size",
        param("page_size", "query", t_bounded(t_int(), "minimum", 1, "maximum", 100),
              "items per page (default 20)"));
    set(p, "category",
        param("category", "query", t_str(),
              "category id or slug; includes its direct subcategories"));
    set(p, "min_price",
        param("min_price", "query", t_bounded(t_int(), "minimum", 0, NULL, 0),
              "minimum price in cents"));
    set(p, "max_price",
        param("max_price", "query", t_bounded(t_int(), "minimum", 0, NULL, 0),
              "maximum price in cents"));
    set(p, "in_stock", param("in_stock", "query", t_enum("true,false"), "stock > 0, or = 0"));
    set(p, "brand", param("brand", "query", t_str(), "exact brand"));
    set(p, "q",
        param("q", "query", t_str(),
              "case-insensitive substring of the name (ASCII case folding on SQLite)"));
    set(p, "sort",
        param("sort", "query", t_enum("price,-price,name,-name,created,-created"),
              "order (default -created; id breaks ties)"));
    set(p, "search_q",
        param("q", "query", t_str(), "search words (≤ 512 bytes); typos tolerated from 5 letters"));
    set(p, "search_sort",
        param("sort", "query", t_enum("relevance,price,-price,newest"),
              "order (default relevance; newest when q is empty)"));
    set(p, "search_mode",
        param("mode", "query", t_enum("hybrid,bm25"), "ranking (default hybrid)"));
    set(p, "active",
        param("active", "query", t_enum("all,true"),
              "staff/admin: `all` includes inactive products"));
    set(p, "role", param("role", "query", t_enum("admin,staff,customer"), "filter by role"));
    set(p, "job_state",
        param("state", "query", t_str(),
              "job state, comma list, or active/pending/failed (jobs API)"));
    set(p, "job_queue", param("queue", "query", t_str(), "queue name (jobs API)"));
    set(p, "stats_sort",
        param("sort", "query", t_enum("revenue,units,orders,recent"),
              "best first by revenue, units sold, orders or last sale (default revenue)"));
    set(p, "stats_limit",
        param("limit", "query", t_bounded(t_int(), "minimum", 1, "maximum", 100),
              "number of products (default 20)"));
    set(p, "stats_with",
        param("with", "query", t_bounded(t_int(), "minimum", 0, "maximum", 10),
              "co-purchased products listed per product (default 3)"));
    set(p, "queue_name", param("queue", "path", t_str(), "queue name"));
    set(p, "user_id",
        param("user_id", "query", t_bounded(t_int(), "minimum", 1, NULL, 0),
              "staff/admin: orders of this user"));
    set(p, "status", param("status", "query", t_schema("OrderStatus"), "filter by status"));
    return p;
}

static const struct {
    int status;
    const char *name, *description;
} error_responses[] = {
    {400, "BadRequest", "invalid_json, validation_error (details: field → message) or bad_request"},
    {401, "Unauthorized", "unauthorized: no credentials, or an invalid, expired or revoked token"},
    {403, "Forbidden", "forbidden (role or owner not allowed) or csrf_failed"},
    {404, "NotFound", "not_found: unknown route or record"},
    {409, "Conflict",
     "conflict (unique violation), insufficient_stock (details: product_id, name, requested, "
     "available) or invalid_transition"},
    {413, "PayloadTooLarge", "payload_too_large: body over HTTP_MAX_BODY_BYTES"},
    {415, "UnsupportedMediaType", "unsupported_media_type: the body must be application/json"},
    {429, "RateLimited", "rate_limited; the Retry-After header gives the seconds to wait"},
    {500, "InternalError", "internal_error: a bug, logged with the request id"},
    {503, "Unavailable", "unavailable: a dependency (the database) is down"},
};

static json_t *build_responses(void)
{
    json_t *r = chk(json_object());
    for (size_t i = 0; i < sizeof error_responses / sizeof error_responses[0]; i++) {
        json_t *resp = chk(json_pack("{ss s{s{s{ss}}}}", "description",
                                     error_responses[i].description, "content", "application/json",
                                     "schema", "$ref", "#/components/schemas/Error"));
        set(r, error_responses[i].name, resp);
    }
    return r;
}

enum { WHO_PUBLIC, WHO_AUTH, WHO_STAFF, WHO_ADMIN };

/* One row per route of docs/API.md. `params` and `errors` are comma lists;
 * `result` NULL means no body (204), "html" an HTML page. */
static const struct route_doc {
    const char *method, *path, *tag, *summary;
    int who;
    const char *params, *body;
    int status;
    const char *result, *errors;
} routes[] = {
    {"post", "/api/auth/register/", "auth", "Create a customer account", WHO_PUBLIC, NULL,
     "RegisterRequest", 201, "UserEnvelope", "400,409,413,415"},
    {"post", "/api/auth/login/", "auth", "Log in: a bearer token and the session cookies",
     WHO_PUBLIC, NULL, "LoginRequest", 200, "LoginResponse", "400,401,413,415,429"},
    {"post", "/api/auth/logout/", "auth", "Revoke the token or session used", WHO_AUTH, NULL, NULL,
     204, NULL, "401,403"},
    {"get", "/api/auth/me/", "auth", "The authenticated user", WHO_AUTH, NULL, NULL, 200,
     "UserEnvelope", "401"},
    {"get", "/api/users/", "users", "List users", WHO_ADMIN, "page,page_size,role", NULL, 200,
     "UserList", "400,401,403"},
    {"patch", "/api/users/{id}/", "users", "Change a user's role, activity or name", WHO_ADMIN,
     "id", "UserPatch", 200, "UserEnvelope", "400,401,403,404,413,415"},
    {"get", "/api/categories/", "catalogue", "List categories", WHO_PUBLIC, NULL, NULL, 200,
     "CategoryList", ""},
    {"post", "/api/categories/", "catalogue", "Create a category (slug derived from the name)",
     WHO_STAFF, NULL, "CategoryCreate", 201, "Category", "400,401,403,409,413,415"},
    {"get", "/api/products/", "catalogue", "List products with filters, sorting and pages",
     WHO_PUBLIC, "page,page_size,category,min_price,max_price,in_stock,brand,q,sort,active", NULL,
     200, "ProductList", "400"},
    {"post", "/api/products/", "catalogue", "Create a product", WHO_STAFF, NULL, "ProductCreate",
     201, "Product", "400,401,403,413,415"},
    {"get", "/api/products/{id}/", "catalogue", "A product (inactive ones only for staff/admin)",
     WHO_PUBLIC, "id", NULL, 200, "Product", "404"},
    {"patch", "/api/products/{id}/", "catalogue", "Change any subset of a product's fields",
     WHO_STAFF, "id", "ProductPatch", 200, "Product", "400,401,403,404,413,415"},
    {"delete", "/api/products/{id}/", "catalogue", "Deactivate a product (never deleted)",
     WHO_STAFF, "id", NULL, 204, NULL, "401,403,404"},
    {"get", "/api/search/", "search",
     "Product search: BM25 and LSI vectors fused, typos, facets, highlights", WHO_PUBLIC,
     "search_q,category,min_price,max_price,in_stock,search_sort,page,page_size,search_mode", NULL,
     200, "SearchResult", "400"},
    {"get", "/api/products/{id}/similar/", "recommendations",
     "Similar products: co-purchase and content blended, category/popular fallback", WHO_PUBLIC,
     "id,limit", NULL, 200, "RecommendationList", "400,404"},
    {"get", "/api/products/{id}/also-bought/", "recommendations",
     "Products bought together with this one (co-purchase)", WHO_PUBLIC, "id,limit", NULL, 200,
     "RecommendationList", "400,404"},
    {"get", "/api/recommendations/", "recommendations",
     "For the logged-in customer (history); popular for anonymous or new callers", WHO_PUBLIC,
     "limit", NULL, 200, "RecommendationList", "400"},
    {"post", "/api/orders/", "orders", "Place an order (one transaction, stock decremented)",
     WHO_AUTH, NULL, "OrderCreate", 201, "Order", "400,401,403,409,413,415"},
    {"get", "/api/orders/", "orders", "Own orders (customers) or all orders (staff/admin)",
     WHO_AUTH, "page,page_size,user_id,status", NULL, 200, "OrderList", "400,401"},
    {"get", "/api/orders/{id}/", "orders", "An order (owner, staff, admin)", WHO_AUTH, "id", NULL,
     200, "Order", "401,404"},
    {"post", "/api/orders/{id}/status/", "orders",
     "Change an order's status (owner: cancel a pending order only)", WHO_AUTH, "id",
     "OrderStatusChange", 200, "Order", "400,401,403,404,409,413,415"},
    {"get", "/api/admin/jobs/queues/", "jobs", "Per-queue counts and last-hour throughput",
     WHO_STAFF, NULL, NULL, 200, "JobQueues", "401,403"},
    {"delete", "/api/admin/jobs/queues/{queue}/", "jobs",
     "Purge a queue's waiting jobs (available, scheduled, retryable)", WHO_ADMIN, "queue_name",
     NULL, 200, "JobPurge", "401,403,404"},
    {"get", "/api/admin/jobs/", "jobs", "Jobs, newest first", WHO_STAFF,
     "job_state,job_queue,page,page_size", NULL, 200, "JobPage", "400,401,403"},
    {"post", "/api/admin/jobs/", "jobs", "Enqueue a registered task", WHO_ADMIN, NULL, "JobCreate",
     201, "Job", "400,401,403,413,415"},
    {"get", "/api/admin/jobs/{id}/", "jobs", "A job with its arguments and error history",
     WHO_STAFF, "id", NULL, 200, "Job", "401,403,404"},
    {"post", "/api/admin/jobs/{id}/retry/", "jobs",
     "Run a discarded, cancelled, retryable or scheduled job again now", WHO_ADMIN, "id", NULL, 200,
     "Job", "401,403,404,409"},
    {"post", "/api/admin/jobs/{id}/cancel/", "jobs", "Cancel an unfinished job", WHO_ADMIN, "id",
     NULL, 200, "Job", "401,403,404,409"},
    {"get", "/api/admin/workers/", "jobs", "Workers by heartbeat, with what they run", WHO_STAFF,
     NULL, NULL, 200, "Workers", "401,403"},
    {"get", "/api/admin/stats/products/", "stats",
     "Best-sellers with what is bought with them, as of the last index build", WHO_STAFF,
     "stats_sort,stats_limit,stats_with", NULL, 200, "ProductStats", "400,401,403"},
    {"get", "/health/live/", "health", "Liveness: touches nothing", WHO_PUBLIC, NULL, NULL, 200,
     "HealthLive", ""},
    {"get", "/health/ready/", "health", "Readiness: database and migrations", WHO_PUBLIC, NULL,
     NULL, 200, "HealthReady", "503"},
    {"get", "/health/detailed/", "health",
     "Version, uptime, checks, counts, database size, job queues, process and disk", WHO_ADMIN,
     NULL, NULL, 200, "HealthDetailed", "401,403"},
    {"get", "/ws/admin/orders/", "realtime",
     "admin.orders channel: WebSocket (upgrade; docs/REALTIME.md)", WHO_STAFF, NULL, NULL, 101,
     NULL, "400,401,403,429"},
    {"get", "/ws/admin/notifications/", "realtime",
     "admin.notifications channel: WebSocket (upgrade; docs/REALTIME.md)", WHO_ADMIN, NULL, NULL,
     101, NULL, "400,401,403,429"},
    {"get", "/ws/user/{id}/notifications/", "realtime",
     "user.<id> channel (that user or an admin): WebSocket (upgrade; docs/REALTIME.md)", WHO_AUTH,
     "id", NULL, 101, NULL, "400,401,403,404,429"},
    {"get", "/sse/admin/orders/", "realtime",
     "admin.orders channel: Server-Sent Events stream, Last-Event-ID resume", WHO_STAFF, NULL, NULL,
     200, "", "400,401,403,429"},
    {"get", "/sse/admin/notifications/", "realtime",
     "admin.notifications channel: Server-Sent Events stream, Last-Event-ID resume", WHO_ADMIN,
     NULL, NULL, 200, "", "400,401,403,429"},
    {"get", "/sse/user/{id}/notifications/", "realtime",
     "user.<id> channel (that user or an admin): Server-Sent Events stream, Last-Event-ID resume",
     WHO_AUTH, "id", NULL, 200, "", "400,401,403,404,429"},
    {"get", "/poll/admin/orders/", "realtime",
     "admin.orders channel: Long-poll: missed events, or waits up to 25 s", WHO_STAFF, NULL, NULL,
     200, "", "400,401,403,429"},
    {"get", "/poll/admin/notifications/", "realtime",
     "admin.notifications channel: Long-poll: missed events, or waits up to 25 s", WHO_ADMIN, NULL,
     NULL, 200, "", "400,401,403,429"},
    {"get", "/poll/user/{id}/notifications/", "realtime",
     "user.<id> channel (that user or an admin): Long-poll: missed events, or waits up to 25 s",
     WHO_AUTH, "id", NULL, 200, "", "400,401,403,404,429"},
    {"get", "/api/openapi.json", "docs", "This document", WHO_PUBLIC, NULL, NULL, 200, "", ""},
    {"get", "/api/docs/", "docs", "A readable page rendering this document", WHO_PUBLIC, NULL, NULL,
     200, "html", ""},
};

static const char *const who_text[] = {"anyone", "any authenticated user", "staff, admin", "admin"};

static json_t *json_content(json_t *schema)
{
    json_t *c = chk(json_object()), *mt = chk(json_object());
    set(mt, "schema", schema);
    set(c, "application/json", mt);
    return c;
}

static json_t *build_operation(const struct route_doc *rd)
{
    json_t *op = chk(json_object()), *responses = chk(json_object());
    char buf[256];
    set(op, "tags", json_pack("[s]", rd->tag));
    set(op, "summary", json_string(rd->summary));
    snprintf(buf, sizeof buf, "Who: %s.", who_text[rd->who]);
    set(op, "description", json_string(buf));
    set(op, "x-roles", json_string(who_text[rd->who]));
    snprintf(buf, sizeof buf, "%s %s", rd->method, rd->path);
    set(op, "operationId", json_string(buf));
    set(op, "security",
        rd->who == WHO_PUBLIC ? json_pack("[{} {s[]} {s[]}]", "bearerAuth", "cookieAuth")
                              : json_pack("[{s[]} {s[]}]", "bearerAuth", "cookieAuth"));
    if (rd->params) {
        json_t *ps = chk(json_array());
        snprintf(buf, sizeof buf, "%s", rd->params);
        for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save))
            if (json_array_append_new(ps, t_ref("parameters", tok)) != 0)
                oom = true;
        set(op, "parameters", ps);
    }
    if (rd->body) {
        json_t *rb = chk(json_pack("{sb}", "required", 1));
        set(rb, "content", json_content(t_schema(rd->body)));
        set(op, "requestBody", rb);
    }
    json_t *ok = chk(json_object());
    set(ok, "description", json_string(rd->result ? "success" : "done, no content"));
    if (rd->result && strcmp(rd->result, "html") == 0)
        set(ok, "content", json_pack("{s{s{ss}}}", "text/html", "schema", "type", "string"));
    else if (rd->result && *rd->result)
        set(ok, "content", json_content(t_schema(rd->result)));
    else if (rd->result)
        set(ok, "content", json_content(t_type("object", NULL)));
    snprintf(buf, sizeof buf, "%d", rd->status);
    set(responses, buf, ok);
    char errs[128];
    snprintf(errs, sizeof errs, "%s%s500", rd->errors, *rd->errors ? "," : "");
    for (char *save = NULL, *tok = strtok_r(errs, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        int code = (int)strtol(tok, NULL, 10);
        for (size_t i = 0; i < sizeof error_responses / sizeof error_responses[0]; i++)
            if (error_responses[i].status == code)
                set(responses, tok, t_ref("responses", error_responses[i].name));
    }
    set(op, "responses", responses);
    return op;
}

json_t *openapi_build(void)
{
    oom = false;
    json_t *doc = chk(json_pack(
        "{ss s{ss ss ss} s[{ss ss}] s[{ss ss} {ss ss} {ss ss} {ss ss} {ss ss} {ss ss}]}", "openapi",
        "3.0.3", "info", "title", "SmartMarket API", "version", SM_VERSION, "description",
        "Marketplace backend. Money is integer cents with an ISO 4217 currency; times are "
        "ISO 8601 UTC; every error body is {\"error\":{\"code\",\"message\",\"details\"?}}.",
        "servers", "url", "/", "description", "this server", "tags", "name", "auth", "description",
        "Accounts and sessions", "name", "users", "description", "User administration", "name",
        "catalogue", "description", "Categories and products", "name", "orders", "description",
        "Orders and their status machine", "name", "health", "description",
        "Liveness and readiness", "name", "docs", "description", "This documentation"));
    if (doc)
        json_array_append_new(json_object_get(doc, "tags"),
                              chk(json_pack("{ss ss}", "name", "recommendations", "description",
                                            "Similar products, bought together, for you")));
    if (doc)
        json_array_append_new(json_object_get(doc, "tags"),
                              chk(json_pack("{ss ss}", "name", "jobs", "description",
                                            "Background job queues and workers (admin)")));
    if (doc)
        json_array_append_new(json_object_get(doc, "tags"),
                              chk(json_pack("{ss ss}", "name", "stats", "description",
                                            "Sales figures for the operator (staff, admin)")));
    json_t *paths = chk(json_object());
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        json_t *item = json_object_get(paths, routes[i].path);
        if (!item) {
            item = chk(json_object());
            set(paths, routes[i].path, item);
        }
        set(item, routes[i].method, build_operation(&routes[i]));
    }
    set(doc, "paths", paths);
    json_t *components = chk(json_object());
    set(components, "schemas", build_schemas());
    set(components, "parameters", build_parameters());
    set(components, "responses", build_responses());
    set(components, "securitySchemes",
        json_pack("{s{ss ss ss} s{ss ss ss ss}}", "bearerAuth", "type", "http", "scheme", "bearer",
                  "description", "the token from POST /api/auth/login/", "cookieAuth", "type",
                  "apiKey", "in", "cookie", "name", "sm_session", "description",
                  "session cookie set by login; unsafe methods also need X-CSRF-Token equal "
                  "to the sm_csrf cookie"));
    set(doc, "components", components);
    if (oom) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}
