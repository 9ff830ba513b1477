/* auth_api.c — /api/auth/... and /api/users/...: registration, login, logout,
 * the caller's own account, and the admin's user management.
 *
 * Login issues two tokens at once: an api token returned in the body (for
 * `Authorization: Bearer`, WebSockets and scripts) and a session token set
 * as the HttpOnly sm_session cookie (for the dashboard), with its CSRF
 * companion sm_csrf readable by the page's script. Each is revoked on its
 * own: logout revokes the credential the request used.
 *
 * Rate limiting runs before the password is checked, so a locked account
 * answers 429 even to the right password, and the argon2id cost is not paid
 * for refused attempts. Unknown emails and wrong passwords get the same
 * 401 after the same work (users_verify_password). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_util.h"
#include "api/routes.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "shop/auth.h"
#include "shop/users.h"

#define PASSWORD_MIN 8   /* code points, docs/API.md */
#define PASSWORD_MAX 128 /* code points */
#define PAGE_MAX 1000000
#define PAGE_SIZE_MAX 100
#define PAGE_SIZE_DEFAULT 20

/* Answers `status` with {"user": …} for user `id`, freshly read. */
static void respond_user(http_response *res, db *d, int status, int64_t id)
{
    users_record u;
    sm_error err = {0};
    int rc = users_get(d, id, &u, &err);
    if (rc < 0) {
        api_error_from_code(res, rc, &err);
        return;
    }
    json_t *user = users_to_json(&u);
    json_t *body = user ? json_pack("{s:o}", "user", user) : NULL;
    if (!body) {
        api_error_from_code(res, SM_ENOMEM, NULL);
        return;
    }
    http_response_json(res, status, body);
}

/* A new details object, or NULL after answering 500. */
static json_t *details_new(http_response *res)
{
    json_t *details = json_object();
    if (!details)
        api_error_from_code(res, SM_ENOMEM, NULL);
    return details;
}

static void detail_set(json_t *details, const char *key, const char *msg)
{
    if (!json_object_get(details, key))
        json_object_set_new(details, key, json_string(msg));
}

static void handle_register(http_request *req, http_response *res, const api_principal *who)
{
    (void)who;
    json_t *body = api_parse_body(req, res);
    if (!body)
        return;
    json_t *details = details_new(res);
    if (!details)
        goto done;

    const char *email = NULL, *password = NULL, *name = "";
    sm_error err = {0};
    api_field_string(body, "email", true, 3, USERS_EMAIL_MAX, &email, details);
    api_field_string(body, "password", true, PASSWORD_MIN, PASSWORD_MAX, &password, details);
    api_field_string(body, "name", false, 0, USERS_NAME_MAX, &name, details);
    if (email && users_validate_email(email, &err) < 0)
        detail_set(details, "email", err.message);
    if (api_fail_validation(res, details))
        goto done;

    db *d = api_db(res);
    if (!d)
        goto done;
    int64_t id = 0;
    int rc = users_create(d, email, password, name, "customer", &id, &err);
    if (rc == SM_ECONFLICT)
        http_response_error(res, 409, "conflict", NULL, "this email is already registered");
    else if (rc < 0)
        api_error_from_code(res, rc, &err);
    else
        respond_user(res, d, 201, id);
done:
    json_decref(body);
}

/* Adds the Set-Cookie headers for a session, or for clearing it when
 * `session` is NULL. */
static int set_session_cookies(http_request *req, http_response *res, const sm_config *cfg,
                               const char *session)
{
    char csrf[AUTH_HASH_HEX_LEN + 1] = "";
    long max_age = session ? cfg->session_ttl_s : 0;
    const char *secure = req->secure ? "; Secure" : "";
    if (session)
        auth_csrf_value(cfg->secret_key, session, csrf);

    char *c1 = arena_sprintf(req->arena,
                             "sm_session=%s; HttpOnly; SameSite=Lax; Path=/; "
                             "Max-Age=%ld%s",
                             session ? session : "", max_age, secure);
    char *c2 = arena_sprintf(req->arena, "sm_csrf=%s; SameSite=Lax; Path=/; Max-Age=%ld%s", csrf,
                             max_age, secure);
    if (!c1 || !c2 || http_response_add_header(res, "Set-Cookie", c1) < 0 ||
        http_response_add_header(res, "Set-Cookie", c2) < 0)
        return SM_ENOMEM;
    return 0;
}

/* Issues both tokens and answers 200 {token, expires_at, user} with the
 * session cookies. */
static void login_succeed(http_request *req, http_response *res, db *d, const sm_config *cfg,
                          const users_record *u)
{
    char api_token[AUTH_TOKEN_LEN + 1], session[AUTH_TOKEN_LEN + 1];
    int64_t now = clock_now_ms(), expires_at = 0;
    sm_error err = {0};
    int rc = auth_token_issue(d, u->id, AUTH_TOKEN_API, cfg->token_ttl_s, now, api_token,
                              &expires_at, &err);
    if (rc == 0)
        rc = auth_token_issue(d, u->id, AUTH_TOKEN_SESSION, cfg->session_ttl_s, now, session, NULL,
                              &err);
    if (rc < 0) {
        api_error_from_code(res, rc, &err);
        return;
    }
    json_t *user = users_to_json(u);
    json_t *body = user ? json_pack("{s:s, s:o, s:o}", "token", api_token, "expires_at",
                                    api_json_time(expires_at), "user", user)
                        : NULL;
    if (!body || set_session_cookies(req, res, cfg, session) < 0) {
        json_decref(body);
        api_error_from_code(res, SM_ENOMEM, NULL);
        return;
    }
    http_response_json(res, 200, body);
}

static void handle_login(http_request *req, http_response *res, const api_principal *who)
{
    (void)who;
    const sm_config *cfg = config_get();
    json_t *body = api_parse_body(req, res);
    if (!body)
        return;
    json_t *details = details_new(res);
    if (!details)
        goto done;

    const char *email = NULL, *password = NULL;
    api_field_string(body, "email", true, 1, USERS_EMAIL_MAX, &email, details);
    api_field_string(body, "password", true, 1, PASSWORD_MAX, &password, details);
    if (api_fail_validation(res, details))
        goto done;
    if (!cfg) {
        api_error_from_code(res, SM_EINTERNAL, NULL);
        goto done;
    }
    db *d = api_db(res);
    if (!d)
        goto done;

    auth_limits lim;
    auth_limits_from_config(&lim);
    int64_t retry_after = 0;
    sm_error err = {0};
    auth_attempt attempt;
    int rc = auth_login_begin(d, &lim, email, req->remote_addr, clock_now_ms(), &attempt,
                              &retry_after, &err);
    if (rc == SM_ERATELIMIT) {
        char secs[24];
        snprintf(secs, sizeof secs, "%lld", (long long)retry_after);
        http_response_add_header(res, "Retry-After", secs);
        http_response_error(res, 429, "rate_limited", NULL,
                            "too many login attempts; retry in %lld s", (long long)retry_after);
        goto done;
    }
    if (rc < 0) {
        api_error_from_code(res, rc, &err);
        goto done;
    }

    users_record u;
    rc = users_verify_password(d, email, password, &u, &err);
    if (rc < 0 && rc != SM_EUNAUTHORIZED) {
        api_error_from_code(res, rc, &err);
        goto done;
    }
    if (rc == SM_EUNAUTHORIZED) { /* already recorded as a failure */
        http_response_error(res, 401, "unauthorized", NULL, "invalid email or password");
        goto done;
    }
    /* Unrecorded, the success would leave the account's failures counting:
     * fail closed. */
    if ((rc = auth_login_succeeded(d, &attempt, &err)) < 0) {
        api_error_from_code(res, rc, &err);
        goto done;
    }
    login_succeed(req, res, d, cfg, &u);
done:
    json_decref(body);
}

static void handle_logout(http_request *req, http_response *res, const api_principal *who)
{
    const sm_config *cfg = config_get();
    db *d = api_db(res);
    if (!d)
        return;
    sm_error err = {0};
    int rc = auth_token_revoke(d, who->token_hash, clock_now_ms(), &err);
    if (rc < 0) {
        api_error_from_code(res, rc, &err);
        return;
    }
    if (cfg && set_session_cookies(req, res, cfg, NULL) < 0) {
        api_error_from_code(res, SM_ENOMEM, NULL);
        return;
    }
    http_response_set_status(res, 204);
}

static void handle_me(http_request *req, http_response *res, const api_principal *who)
{
    (void)req;
    db *d = api_db(res);
    if (d)
        respond_user(res, d, 200, who->user_id);
}

static void handle_users_list(http_request *req, http_response *res, const api_principal *who)
{
    (void)who;
    int64_t page, page_size;
    if (api_query_int(req, res, "page", 1, 1, PAGE_MAX, &page) < 0 ||
        api_query_int(req, res, "page_size", PAGE_SIZE_DEFAULT, 1, PAGE_SIZE_MAX, &page_size) < 0)
        return;
    const char *role = http_request_query(req, "role");
    if (role && !users_role_valid(role)) {
        http_response_error(res, 400, "validation_error",
                            json_pack("{s:s}", "role", "must be admin, staff or customer"),
                            "invalid query parameter role");
        return;
    }
    db *d = api_db(res);
    if (!d)
        return;

    json_t *items = NULL;
    int64_t total = 0;
    sm_error err = {0};
    int rc = users_list(d, role, (page - 1) * page_size, page_size, &items, &total, &err);
    if (rc < 0) {
        api_error_from_code(res, rc, &err);
        return;
    }
    json_t *body = json_pack("{s:o, s:I, s:I, s:I, s:I}", "items", items, "page", (json_int_t)page,
                             "page_size", (json_int_t)page_size, "total", (json_int_t)total,
                             "pages", (json_int_t)((total + page_size - 1) / page_size));
    if (!body) {
        api_error_from_code(res, SM_ENOMEM, NULL);
        return;
    }
    http_response_json(res, 200, body);
}

/* Applies a validated change set; deactivation also revokes the user's
 * tokens, in the same transaction. */
static int apply_user_changes(db *d, int64_t id, const users_changes *c, sm_error *err)
{
    int rc = db_begin(d, true, err);
    if (rc < 0)
        return rc;
    rc = users_update(d, id, c, NULL, err);
    if (rc == 0 && c->is_active == 0)
        rc = auth_token_revoke_user(d, id, clock_now_ms(), err);
    if (rc == 0)
        rc = db_commit(d, err);
    if (rc < 0)
        db_rollback(d);
    return rc;
}

static void handle_users_patch(http_request *req, http_response *res, const api_principal *who)
{
    int64_t id;
    if (!api_path_id(req, "id", &id)) {
        http_response_error(res, 404, "not_found", NULL, "no such user");
        return;
    }
    json_t *body = api_parse_body(req, res);
    if (!body)
        return;
    json_t *details = details_new(res);
    if (!details)
        goto done;

    users_changes c = {.role = NULL, .is_active = -1, .name = NULL};
    bool active = true;
    api_field_string(body, "role", false, 1, USERS_ROLE_MAX, &c.role, details);
    if (api_field_bool(body, "is_active", false, &active, details) == 1)
        c.is_active = active;
    api_field_string(body, "name", false, 0, USERS_NAME_MAX, &c.name, details);
    if (c.role && !users_role_valid(c.role))
        detail_set(details, "role", "must be admin, staff or customer");
    if (api_fail_validation(res, details))
        goto done;

    if (id == who->user_id && ((c.role && strcmp(c.role, "admin") != 0) || c.is_active == 0)) {
        http_response_error(res, 409, "conflict", NULL,
                            "an admin cannot demote or deactivate themselves");
        goto done;
    }
    db *d = api_db(res);
    if (!d)
        goto done;
    sm_error err = {0};
    int rc = apply_user_changes(d, id, &c, &err);
    if (rc < 0)
        api_error_from_code(res, rc, &err);
    else
        respond_user(res, d, 200, id);
done:
    json_decref(body);
}

int api_auth_routes(http_router *r)
{
    int rc;
    if ((rc = api_route(r, "POST", "/api/auth/register/", handle_register, API_PUBLIC)) < 0 ||
        (rc = api_route(r, "POST", "/api/auth/login/", handle_login, API_PUBLIC)) < 0 ||
        (rc = api_route(r, "POST", "/api/auth/logout/", handle_logout, API_AUTHENTICATED)) < 0 ||
        (rc = api_route(r, "GET", "/api/auth/me/", handle_me, API_AUTHENTICATED)) < 0 ||
        (rc = api_route(r, "GET", "/api/users/", handle_users_list, API_ADMIN)) < 0 ||
        (rc = api_route(r, "PATCH", "/api/users/{id}/", handle_users_patch, API_ADMIN)) < 0)
        return rc;
    return 0;
}
