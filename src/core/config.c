/* config.c — reads and validates the environment.
 *
 * Each variable has one line in the table-like body of config_load(): its
 * default, its parser and its bounds. Parsers fail with a message that names
 * the variable, so `SMARTMARKET_WORKERS=lots smartmarket serve` says
 * exactly what to fix. */
#include "core/config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

static sm_config *g_config;

const sm_config *config_get(void)
{
    return g_config;
}

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return (v && *v) ? v : def;
}

static int env_str(const char *name, const char *def, char *out, size_t len, sm_error *err)
{
    const char *v = env_or(name, def);
    if (strlen(v) >= len)
        return sm_error_set(err, SM_ECONFIG, "%s: value too long (max %zu bytes)", name, len - 1);
    memcpy(out, v, strlen(v) + 1);
    return 0;
}

static int env_int(const char *name, long def, long min, long max, long *out, sm_error *err)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || end == v)
        return sm_error_set(err, SM_ECONFIG, "%s: '%s' is not an integer", name, v);
    if (n < min || n > max)
        return sm_error_set(err, SM_ECONFIG, "%s: %ld is out of range [%ld, %ld]", name, n, min,
                            max);
    *out = n;
    return 0;
}

static int env_bool(const char *name, int def, int *out, sm_error *err)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        *out = def;
        return 0;
    }
    if (!strcasecmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
        !strcasecmp(v, "on"))
        *out = 1;
    else if (!strcasecmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") ||
             !strcasecmp(v, "off"))
        *out = 0;
    else
        return sm_error_set(err, SM_ECONFIG, "%s: '%s' is not a boolean (use 1/0)", name, v);
    return 0;
}

int config_parse_listen(const char *value, char *host, size_t host_len, int *port)
{
    const char *colon;
    const char *h = value;
    size_t hl;
    if (value[0] == '[') {
        const char *close = strchr(value, ']');
        if (!close || close[1] != ':')
            return SM_EINVAL;
        h = value + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(value, ':');
        if (!colon)
            return SM_EINVAL;
        hl = (size_t)(colon - value);
    }
    if (hl == 0 || hl >= host_len)
        return SM_EINVAL;
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || p < 0 || p > 65535)
        return SM_EINVAL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int)p;
    return 0;
}

static int parse_database_url(sm_config *cfg, sm_error *err)
{
    const char *u = cfg->database_url;
    if (strncmp(u, "sqlite:///", 10) == 0) {
        cfg->db_kind = CONFIG_DB_SQLITE;
        /* sqlite:///rel/path is relative, sqlite:////abs/path absolute. */
        const char *path = u + 10;
        if (!*path)
            return sm_error_set(err, SM_ECONFIG, "DATABASE_URL: sqlite URL has no path");
        snprintf(cfg->sqlite_path, sizeof cfg->sqlite_path, "%s", path);
        return 0;
    }
    if (strncmp(u, "postgres://", 11) == 0 || strncmp(u, "postgresql://", 13) == 0) {
        cfg->db_kind = CONFIG_DB_POSTGRES;
        return 0;
    }
    return sm_error_set(err, SM_ECONFIG,
                        "DATABASE_URL: '%s' is not sqlite:///PATH or postgres://...", u);
}

/* Without SECRET_KEY, the embedded default keeps a random key in
 * DATA_DIR/secret_key (mode 0600) so sessions survive restarts. */
static int load_or_make_secret(sm_config *cfg, sm_error *err)
{
    char path[CONFIG_STR_MAX + 32];
    snprintf(path, sizeof path, "%s/secret_key", cfg->data_dir);
    FILE *f = fopen(path, "r");
    if (f) {
        char buf[256] = {0};
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            buf[--n] = '\0';
        if (n >= 32) {
            memcpy(cfg->secret_key, buf, n + 1);
            cfg->secret_key_generated = 1;
            return 0;
        }
    }
    if (sodium_init() < 0)
        return sm_error_set(err, SM_EINTERNAL, "libsodium failed to initialise");
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(cfg->secret_key, sizeof cfg->secret_key, raw, sizeof raw);
    mkdir(cfg->data_dir, 0750);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return sm_error_set(err, SM_ECONFIG, "SECRET_KEY: unset, and %s cannot be written: %s",
                            path, strerror(errno));
    size_t len = strlen(cfg->secret_key);
    ssize_t w = write(fd, cfg->secret_key, len);
    close(fd);
    if (w != (ssize_t)len)
        return sm_error_set(err, SM_ECONFIG, "SECRET_KEY: cannot write %s", path);
    cfg->secret_key_generated = 1;
    return 0;
}

int config_load(sm_config *cfg, sm_error *err)
{
    int rc;
    long n;
    memset(cfg, 0, sizeof *cfg);

#define STR(name, def, field)                                                                      \
    if ((rc = env_str(name, def, cfg->field, sizeof cfg->field, err)) < 0)                         \
        return rc;
#define INT(name, def, min, max, field)                                                            \
    if ((rc = env_int(name, def, min, max, &n, err)) < 0)                                          \
        return rc;                                                                                 \
    cfg->field = (__typeof__(cfg->field))n;

    STR("DATABASE_URL", "sqlite:///var/smartmarket.db", database_url);
    if ((rc = parse_database_url(cfg, err)) < 0)
        return rc;
    INT("DB_TIMEOUT_MS", 5000, 100, 600000, db_timeout_ms);
    STR("REDIS_URL", "", redis_url);
    if (cfg->redis_url[0] && strncmp(cfg->redis_url, "redis://", 8) != 0)
        return sm_error_set(err, SM_ECONFIG, "REDIS_URL: '%s' is not redis://...", cfg->redis_url);
    STR("SMARTMARKET_DATA_DIR", "var", data_dir);
    STR("SMARTMARKET_STATIC_DIR", "web", static_dir);

    char listen[300];
    if ((rc = env_str("SMARTMARKET_LISTEN", "127.0.0.1:8000", listen, sizeof listen, err)) < 0)
        return rc;
    if (config_parse_listen(listen, cfg->listen_host, sizeof cfg->listen_host, &cfg->listen_port) <
        0)
        return sm_error_set(err, SM_ECONFIG, "SMARTMARKET_LISTEN: '%s' is not HOST:PORT", listen);

    const char *w = env_or("SMARTMARKET_WORKERS", "auto");
    if (strcmp(w, "auto") == 0) {
        cfg->workers = 0;
    } else {
        INT("SMARTMARKET_WORKERS", 0, 1, 256, workers);
    }
    INT("SMARTMARKET_BLOCKING_THREADS", 8, 1, 128, blocking_threads);
    INT("HTTP_MAX_BODY_BYTES", 1048576, 1024, 1073741824L, max_body_bytes);
    INT("HTTP_MAX_HEADER_BYTES", 16384, 1024, 1048576, max_header_bytes);
    INT("HTTP_MAX_HEADERS", 64, 8, 1024, max_headers);
    INT("HTTP_MAX_CONNECTIONS", 10000, 1, 1000000, max_connections);
    INT("HTTP_IDLE_TIMEOUT_MS", 60000, 100, 3600000, idle_timeout_ms);
    INT("HTTP_READ_TIMEOUT_MS", 10000, 100, 3600000, read_timeout_ms);
    INT("HTTP_WRITE_TIMEOUT_MS", 10000, 100, 3600000, write_timeout_ms);
    INT("SHUTDOWN_TIMEOUT_MS", 10000, 0, 600000, shutdown_timeout_ms);
    if ((rc = env_bool("TRUST_PROXY", 0, &cfg->trust_proxy, err)) < 0)
        return rc;

    if (log_level_parse(env_or("LOG_LEVEL", "INFO"), &cfg->log_level) < 0)
        return sm_error_set(err, SM_ECONFIG, "LOG_LEVEL: '%s' is not DEBUG, INFO, WARNING or ERROR",
                            env_or("LOG_LEVEL", ""));
    STR("LOG_FILE", "", log_file);
    INT("LOG_FILE_MAX_MB", 100, 0, 1048576, log_file_max_mb);
    INT("LOG_FILE_KEEP", 5, 1, 1000, log_file_keep);

    INT("TOKEN_TTL_SECONDS", 86400, 60, 31536000, token_ttl_s);
    INT("SESSION_TTL_SECONDS", 28800, 60, 31536000, session_ttl_s);
    INT("LOGIN_MAX_FAILURES", 5, 1, 1000, login_max_failures);
    INT("LOGIN_MAX_PER_IP", 30, 1, 100000, login_max_per_ip);
    INT("LOGIN_WINDOW_SECONDS", 900, 1, 86400, login_window_s);

    INT("REALTIME_HISTORY_SIZE", 1000, 1, 1000000, realtime_history_size);
    INT("REALTIME_HISTORY_SECONDS", 3600, 1, 2592000, realtime_history_s);
    INT("WS_MAX_CONNECTIONS_PER_USER", 20, 1, 1000000, ws_max_per_user);
    INT("WS_MAX_CONNECTIONS_PER_IP", 1000, 1, 1000000, ws_max_per_ip);
    INT("WS_MAX_INBOUND_PER_SECOND", 20, 1, 100000, ws_max_inbound_per_second);
    INT("JOBS_LEASE_MS", 30000, 300, 3600000, jobs_lease_ms);
    INT("JOBS_TIME_LIMIT_MS", 300000, 10, 86400000, jobs_time_limit_ms);
    INT("JOBS_POLL_MS", 1000, 10, 60000, jobs_poll_ms);
    INT("JOBS_BACKOFF_BASE_MS", 1000, 1, 3600000, jobs_backoff_base_ms);
    INT("WS_AUTH_RECHECK_SECONDS", 30, 1, 3600, ws_auth_recheck_s);

    STR("SHOP_CURRENCY", "EUR", currency);
    if (strlen(cfg->currency) != 3 || cfg->currency[0] < 'A' || cfg->currency[0] > 'Z' ||
        cfg->currency[1] < 'A' || cfg->currency[1] > 'Z' || cfg->currency[2] < 'A' ||
        cfg->currency[2] > 'Z')
        return sm_error_set(err, SM_ECONFIG, "SHOP_CURRENCY: '%s' is not an ISO 4217 code",
                            cfg->currency);

    /* tasks (docs/TASKS.md) */
    STR("SMTP_URL", "", smtp_url);
    if (cfg->smtp_url[0] && strncmp(cfg->smtp_url, "smtp://", 7) != 0 &&
        strncmp(cfg->smtp_url, "smtps://", 8) != 0)
        return sm_error_set(err, SM_ECONFIG,
                            "SMTP_URL: '%s' is not smtp://HOST:PORT or smtps://...", cfg->smtp_url);
    STR("SMTP_USER", "", smtp_user);
    STR("SMTP_PASSWORD", "", smtp_password);
    if ((rc = env_bool("SMTP_REQUIRE_TLS", 0, &cfg->smtp_require_tls, err)) < 0)
        return rc;
    INT("SMTP_TIMEOUT_MS", 30000, 1000, 600000, smtp_timeout_ms);
    STR("SMTP_FROM", "SmartMarket <no-reply@localhost>", smtp_from);
    if (strpbrk(cfg->smtp_from, "\r\n") || !strchr(cfg->smtp_from, '@'))
        return sm_error_set(err, SM_ECONFIG, "SMTP_FROM: '%s' is not an address (Name <a@b>)",
                            cfg->smtp_from);
    char def_dir[CONFIG_STR_MAX + 16];
    snprintf(def_dir, sizeof def_dir, "%s/outbox", cfg->data_dir);
    STR("MAIL_OUTBOX_DIR", def_dir, mail_outbox_dir);
    snprintf(def_dir, sizeof def_dir, "%s/reports", cfg->data_dir);
    STR("REPORTS_DIR", def_dir, reports_dir);
    INT("EMAIL_RATE_LIMIT", 50, 0, 100000, email_rate_limit);
    INT("JOBS_RETENTION_DAYS", 7, 1, 3650, jobs_retention_days);
    INT("LOGIN_ATTEMPTS_RETENTION_DAYS", 30, 1, 3650, login_attempts_retention_days);
    INT("NOTIFICATIONS_HISTORY", 1000, 1, 1000000, notifications_history);

    /* beat (docs/BEAT.md): the zone and the schedule are checked where they
     * are parsed (jobs/cron.c, jobs/beat.c), with messages naming them. */
    STR("BEAT_TIMEZONE", "UTC", beat_timezone);
    STR("BEAT_SCHEDULE", "", beat_schedule);
    INT("BEAT_LEASE_SECONDS", 30, 3, 3600, beat_lease_s);

    /* ML embeddings (docs/ML.md "External embeddings") */
    STR("EMBEDDINGS_URL", "", embeddings_url);
    if (cfg->embeddings_url[0] && strncmp(cfg->embeddings_url, "http://", 7) != 0 &&
        strncmp(cfg->embeddings_url, "https://", 8) != 0)
        return sm_error_set(err, SM_ECONFIG, "EMBEDDINGS_URL: '%s' is not http(s)://...",
                            cfg->embeddings_url);
    STR("EMBEDDINGS_MODEL", "text-embedding-3-small", embeddings_model);
    STR("EMBEDDINGS_API_KEY", "", embeddings_api_key);
    INT("EMBEDDINGS_TIMEOUT_MS", 30000, 100, 600000, embeddings_timeout_ms);
    INT("EMBEDDINGS_BATCH", 64, 1, 256, embeddings_batch);
    /* ML approximate vector index (docs/ML.md "Approximate index") */
    INT("ML_ANN_MIN_DOCS", 20000, 1, 100000000, ml_ann_min_docs);
    INT("ML_ANN_NPROBE", 16, 1, 65536, ml_ann_nprobe);

    const char *secret = getenv("SECRET_KEY");
    if (secret && *secret) {
        if (strlen(secret) < 32 || strlen(secret) >= sizeof cfg->secret_key)
            return sm_error_set(err, SM_ECONFIG, "SECRET_KEY: must be 32 to 255 characters long");
        strcpy(cfg->secret_key, secret);
    } else if ((rc = load_or_make_secret(cfg, err)) < 0) {
        return rc;
    }
#undef STR
#undef INT
    g_config = cfg;
    return 0;
}
