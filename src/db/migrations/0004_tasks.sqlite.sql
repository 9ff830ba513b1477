-- 0004 tasks (SQLite): what the five background tasks record.
-- See docs/TASKS.md. Keep in step with 0004_tasks.postgres.sql.

-- send_order_email: one row per (order, kind of message). The task claims
-- the row ('sending') before it sends and marks it 'sent' after, so a
-- replayed job finds 'sent' and sends nothing. The Message-ID is chosen at
-- claim time, so a resend after a crash reuses it.
CREATE TABLE email_deliveries (
    id         INTEGER PRIMARY KEY,
    order_id   BIGINT  NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL,
    state      TEXT    NOT NULL CHECK (state IN ('sending', 'sent')),
    recipient  TEXT    NOT NULL,
    message_id TEXT    NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 1,
    last_error TEXT,
    created_at BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL,
    sent_at    BIGINT,
    UNIQUE (order_id, kind)
);

-- generate_daily_report: one row per day (YYYY-MM-DD in the report zone),
-- upserted, so running the task twice for a day leaves one row.
CREATE TABLE daily_reports (
    day        TEXT    PRIMARY KEY,
    report     TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL
);

-- rebuild_ml_indexes: versioned popularity and co-purchase index. A build
-- writes rows under a new version, then one statement switches
-- current_version; readers join on it, so they never see a half build.
CREATE TABLE ml_index_versions (
    name            TEXT    PRIMARY KEY,
    current_version BIGINT  NOT NULL DEFAULT 0,
    next_version    BIGINT  NOT NULL DEFAULT 0,
    built_at        BIGINT,
    duration_ms     BIGINT,
    products        BIGINT  NOT NULL DEFAULT 0,
    pairs           BIGINT  NOT NULL DEFAULT 0
);
INSERT INTO ml_index_versions (name) VALUES ('product_stats');

CREATE TABLE product_stats (
    version       BIGINT  NOT NULL,
    product_id    BIGINT  NOT NULL,
    units_sold    BIGINT  NOT NULL,
    order_count   BIGINT  NOT NULL,
    revenue_cents BIGINT  NOT NULL,
    last_sold_at  BIGINT  NOT NULL,
    PRIMARY KEY (version, product_id)
);

-- Top co-purchased products per product: rank 1 = bought together most.
CREATE TABLE product_neighbours (
    version      BIGINT  NOT NULL,
    product_id   BIGINT  NOT NULL,
    rank         INTEGER NOT NULL,
    neighbour_id BIGINT  NOT NULL,
    together     BIGINT  NOT NULL,
    PRIMARY KEY (version, product_id, rank)
);

-- cleanup_old_data: expired tokens by time (the revoked ones are few).
CREATE INDEX auth_tokens_revoked ON auth_tokens (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX login_attempts_created ON login_attempts (created_at);
