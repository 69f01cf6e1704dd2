-- wismo storage schema, SQLite dialect (keep in step with ../postgres).
CREATE TABLE customers (
    id          TEXT PRIMARY KEY,
    email       TEXT,
    first_name  TEXT,
    last_name   TEXT
);
CREATE INDEX customers_email ON customers (email);

CREATE TABLE orders (
    number              TEXT PRIMARY KEY,
    number_key          TEXT NOT NULL,
    id                  TEXT NOT NULL,
    email               TEXT,
    customer_id         TEXT REFERENCES customers (id),
    created_at          TEXT NOT NULL,
    financial_status    TEXT NOT NULL,
    fulfillment_status  TEXT NOT NULL,
    cancelled_at        TEXT,
    cancel_reason       TEXT,
    currency            TEXT NOT NULL,
    total_price         TEXT NOT NULL,
    returned            BOOLEAN NOT NULL,
    ship_name           TEXT,
    ship_address1       TEXT,
    ship_address2       TEXT,
    ship_city           TEXT,
    ship_province       TEXT,
    ship_zip            TEXT,
    ship_country        TEXT,
    ship_country_code   TEXT,
    ship_phone          TEXT
);
CREATE INDEX orders_number_key ON orders (number_key);
CREATE INDEX orders_email ON orders (email);
CREATE INDEX orders_customer ON orders (customer_id);

CREATE TABLE line_items (
    order_number   TEXT NOT NULL REFERENCES orders (number) ON DELETE CASCADE,
    position       BIGINT NOT NULL,
    id             TEXT NOT NULL,
    title          TEXT NOT NULL,
    variant_title  TEXT,
    sku            TEXT,
    quantity       BIGINT NOT NULL,
    price          TEXT NOT NULL,
    PRIMARY KEY (order_number, position)
);

CREATE TABLE fulfillments (
    order_number           TEXT NOT NULL REFERENCES orders (number) ON DELETE CASCADE,
    position               BIGINT NOT NULL,
    id                     TEXT NOT NULL,
    created_at             TEXT NOT NULL,
    updated_at             TEXT,
    tracking_company       TEXT,
    tracking_numbers       TEXT NOT NULL,
    tracking_urls          TEXT NOT NULL,
    shipment_status        TEXT,
    estimated_delivery_at  TEXT,
    delivered_at           TEXT,
    line_items             TEXT NOT NULL,
    PRIMARY KEY (order_number, position)
);

CREATE TABLE refunds (
    order_number  TEXT NOT NULL REFERENCES orders (number) ON DELETE CASCADE,
    position      BIGINT NOT NULL,
    id            TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    amount        TEXT NOT NULL,
    note          TEXT,
    line_items    TEXT NOT NULL,
    PRIMARY KEY (order_number, position)
);

CREATE TABLE cases (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    order_number  TEXT,
    kind          TEXT NOT NULL,
    description   TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE TABLE conversations (
    id              TEXT PRIMARY KEY,
    token_hash      TEXT NOT NULL,
    locale          TEXT,
    channel         TEXT NOT NULL,
    metadata        TEXT NOT NULL,
    customer        TEXT,
    created_at      TEXT NOT NULL,
    last_active_at  TEXT NOT NULL,
    last_seq        BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE conversation_events (
    conversation_id  TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq              BIGINT NOT NULL,
    event            TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);

CREATE TABLE client_message_ids (
    conversation_id    TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    client_message_id  TEXT NOT NULL,
    seq                BIGINT,
    response           TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    PRIMARY KEY (conversation_id, client_message_id)
);
