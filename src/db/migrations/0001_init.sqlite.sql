-- 0001 init (SQLite): accounts, catalogue, orders.
-- Times are BIGINT milliseconds since the epoch; booleans INTEGER 0/1;
-- money BIGINT cents. Keep in step with 0001_init.postgres.sql.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL DEFAULT '',
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'staff', 'customer')),
    is_active     INTEGER NOT NULL DEFAULT 1,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);

CREATE TABLE auth_tokens (
    id          INTEGER PRIMARY KEY,
    user_id     BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  TEXT    NOT NULL UNIQUE,
    kind        TEXT    NOT NULL CHECK (kind IN ('api', 'session')),
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX auth_tokens_user ON auth_tokens (user_id);
CREATE INDEX auth_tokens_expires ON auth_tokens (expires_at);

CREATE TABLE login_attempts (
    id         INTEGER PRIMARY KEY,
    scope      TEXT    NOT NULL CHECK (scope IN ('account', 'ip')),
    key        TEXT    NOT NULL,
    success    INTEGER NOT NULL,
    created_at BIGINT  NOT NULL
);
CREATE INDEX login_attempts_key ON login_attempts (scope, key, created_at);

CREATE TABLE categories (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    slug       TEXT    NOT NULL UNIQUE,
    parent_id  BIGINT  REFERENCES categories (id),
    created_at BIGINT  NOT NULL
);

CREATE TABLE products (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    price_cents BIGINT  NOT NULL CHECK (price_cents >= 0),
    currency    TEXT    NOT NULL,
    stock       BIGINT  NOT NULL CHECK (stock >= 0),
    category_id BIGINT  REFERENCES categories (id),
    brand       TEXT    NOT NULL DEFAULT '',
    attributes  TEXT    NOT NULL DEFAULT '{}',
    image_url   TEXT    NOT NULL DEFAULT '',
    active      INTEGER NOT NULL DEFAULT 1,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);
CREATE INDEX products_category ON products (category_id, active);
CREATE INDEX products_price ON products (price_cents);
CREATE INDEX products_created ON products (created_at);

CREATE TABLE orders (
    id          INTEGER PRIMARY KEY,
    user_id     BIGINT  NOT NULL REFERENCES users (id),
    status      TEXT    NOT NULL CHECK (status IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled')),
    total_cents BIGINT  NOT NULL,
    currency    TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);
CREATE INDEX orders_user ON orders (user_id, created_at);
CREATE INDEX orders_created ON orders (created_at);

CREATE TABLE order_items (
    id               INTEGER PRIMARY KEY,
    order_id         BIGINT  NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id       BIGINT  NOT NULL REFERENCES products (id),
    name             TEXT    NOT NULL,
    unit_price_cents BIGINT  NOT NULL,
    quantity         BIGINT  NOT NULL CHECK (quantity > 0),
    line_total_cents BIGINT  NOT NULL
);
CREATE INDEX order_items_order ON order_items (order_id);
CREATE INDEX order_items_product ON order_items (product_id);
