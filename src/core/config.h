/* config.h — configuration from the environment only (12-factor).
 *
 * config_load() reads every variable listed in env.example, applies the
 * defaults, validates each value and fails naming the variable. After a
 * successful load the configuration is read-only and shared by all threads
 * through config_get(). */
#ifndef SM_CORE_CONFIG_H
#define SM_CORE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/log.h"

#define CONFIG_STR_MAX 1024

typedef enum config_db_kind { CONFIG_DB_SQLITE, CONFIG_DB_POSTGRES } config_db_kind;

typedef struct sm_config {
    /* storage */
    char database_url[CONFIG_STR_MAX]; /* DATABASE_URL */
    config_db_kind db_kind;            /* derived from the URL scheme */
    char sqlite_path[CONFIG_STR_MAX];  /* path part of a sqlite:/// URL */
    int db_timeout_ms;                 /* DB_TIMEOUT_MS: busy/statement/connect timeout */
    char redis_url[CONFIG_STR_MAX];    /* REDIS_URL, "" = embedded */
    char data_dir[CONFIG_STR_MAX];     /* SMARTMARKET_DATA_DIR */
    char static_dir[CONFIG_STR_MAX];   /* SMARTMARKET_STATIC_DIR: web/ assets */

    /* server */
    char listen_host[256];   /* SMARTMARKET_LISTEN host part */
    int listen_port;         /* SMARTMARKET_LISTEN port part */
    int workers;             /* SMARTMARKET_WORKERS: event loops, 0 = auto (one per core) */
    int blocking_threads;    /* SMARTMARKET_BLOCKING_THREADS: worker pool for blocking work */
    size_t max_body_bytes;   /* HTTP_MAX_BODY_BYTES */
    size_t max_header_bytes; /* HTTP_MAX_HEADER_BYTES: request line + headers */
    int max_headers;         /* HTTP_MAX_HEADERS */
    int max_connections;     /* HTTP_MAX_CONNECTIONS, per process */
    int idle_timeout_ms;     /* HTTP_IDLE_TIMEOUT_MS: keep-alive idle */
    int read_timeout_ms;     /* HTTP_READ_TIMEOUT_MS: whole request must arrive within */
    int write_timeout_ms;    /* HTTP_WRITE_TIMEOUT_MS */
    int shutdown_timeout_ms; /* SHUTDOWN_TIMEOUT_MS: graceful drain deadline */
    int trust_proxy;         /* TRUST_PROXY: honour X-Forwarded-For/-Proto (behind nginx) */

    /* logging */
    log_level log_level;           /* LOG_LEVEL */
    char log_file[CONFIG_STR_MAX]; /* LOG_FILE, "" = stdout only */
    int log_file_max_mb;           /* LOG_FILE_MAX_MB, 0 = never rotate */
    int log_file_keep;             /* LOG_FILE_KEEP */

    /* security */
    char secret_key[256];     /* SECRET_KEY (≥ 32 chars); generated in data_dir if unset */
    int secret_key_generated; /* 1 when taken from data_dir/secret_key */
    int token_ttl_s;          /* TOKEN_TTL_SECONDS: API token lifetime */
    int session_ttl_s;        /* SESSION_TTL_SECONDS: dashboard cookie lifetime */
    int login_max_failures;   /* LOGIN_MAX_FAILURES: per account per window */
    int login_max_per_ip;     /* LOGIN_MAX_PER_IP: attempts per IP per window */
    int login_window_s;       /* LOGIN_WINDOW_SECONDS */

    /* shop */
    char currency[4]; /* SHOP_CURRENCY, ISO 4217, default EUR */

    /* tasks: mail, reports, retention (src/jobs/tasks, docs/TASKS.md) */
    char smtp_url[CONFIG_STR_MAX]; /* SMTP_URL: smtp://host:port or smtps://, "" = outbox */
    char smtp_user[256];           /* SMTP_USER (or user:pass in the URL) */
    char smtp_password[256];       /* SMTP_PASSWORD */
    int smtp_require_tls;          /* SMTP_REQUIRE_TLS: STARTTLS mandatory, not opportunistic */
    int smtp_timeout_ms;           /* SMTP_TIMEOUT_MS: connect + whole transfer */
    char smtp_from[512];           /* SMTP_FROM: the From header */
    char mail_outbox_dir[CONFIG_STR_MAX]; /* MAIL_OUTBOX_DIR, default DATA_DIR/outbox */
    char reports_dir[CONFIG_STR_MAX];     /* REPORTS_DIR, default DATA_DIR/reports */
    int email_rate_limit;                 /* EMAIL_RATE_LIMIT: send_order_email starts/s, global */
    int jobs_retention_days;              /* JOBS_RETENTION_DAYS: finished jobs kept */
    int login_attempts_retention_days;    /* LOGIN_ATTEMPTS_RETENTION_DAYS (≥ 1 day > window) */
    int notifications_history;            /* NOTIFICATIONS_HISTORY: kept per channel */

    /* realtime (channels, WebSocket/SSE/long-poll limits) */
    int realtime_history_size;     /* REALTIME_HISTORY_SIZE: events kept per channel */
    int realtime_history_s;        /* REALTIME_HISTORY_SECONDS: oldest event kept */
    int ws_max_per_user;           /* WS_MAX_CONNECTIONS_PER_USER: per process */
    int ws_max_per_ip;             /* WS_MAX_CONNECTIONS_PER_IP: per process */
    int ws_max_inbound_per_second; /* WS_MAX_INBOUND_PER_SECOND: client messages */
    int jobs_lease_ms;        /* JOBS_LEASE_MS: a running job's lease (heartbeat every third) */
    int jobs_time_limit_ms;   /* JOBS_TIME_LIMIT_MS: default per-attempt limit */
    int jobs_poll_ms;         /* JOBS_POLL_MS: polling safety net */
    int jobs_backoff_base_ms; /* JOBS_BACKOFF_BASE_MS: retry backoff unit */
    int ws_auth_recheck_s;    /* WS_AUTH_RECHECK_SECONDS: token re-validation period */

    /* beat: the scheduler (src/jobs/beat.c, docs/BEAT.md) */
    char beat_timezone[64];   /* BEAT_TIMEZONE: IANA zone of the schedule, default UTC */
    char beat_schedule[4096]; /* BEAT_SCHEDULE: "task=cron;…", "" = the built-in schedule */
    int beat_lease_s;         /* BEAT_LEASE_SECONDS: leader lease, renewed every third */

    /* ML: an OpenAI-compatible embeddings service (ml/embed.h, docs/ML.md) */
    char embeddings_url[CONFIG_STR_MAX]; /* EMBEDDINGS_URL, "" = LSI vectors */
    char embeddings_model[128];          /* EMBEDDINGS_MODEL */
    char embeddings_api_key[512];        /* EMBEDDINGS_API_KEY, "" = no Authorization */
    int embeddings_timeout_ms;           /* EMBEDDINGS_TIMEOUT_MS: one build request */
    int embeddings_batch;                /* EMBEDDINGS_BATCH: texts per request */
    int ml_ann_min_docs; /* ML_ANN_MIN_DOCS: documents from which search builds an ANN index */
    int ml_ann_nprobe;   /* ML_ANN_NPROBE: IVF cells probed per vector query */
} sm_config;

/* Loads the configuration from the environment into `cfg` and makes it the
 * one config_get() returns. On an invalid value returns SM_ECONFIG with a
 * message naming the variable. Not thread-safe: call once from main. */
int config_load(sm_config *cfg, sm_error *err);

/* The loaded configuration (borrowed, read-only), or NULL before load. */
const sm_config *config_get(void);

/* Parses "HOST:PORT" (IPv6 as "[::1]:8000") into the given buffers. */
int config_parse_listen(const char *value, char *host, size_t host_len, int *port);

#endif
