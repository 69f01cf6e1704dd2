-- Live store data (postgres dialect; keep in step with ../sqlite).
--
-- The local mirror of a store's orders is fed by the platform's webhooks
-- (and backfills). When the platform last changed an order, so that a
-- delivery that arrives late never overwrites a newer one; NULL for orders
-- imported from a file (any change from the platform is newer).
ALTER TABLE orders ADD COLUMN source_updated_at TIMESTAMPTZ;
-- The carrier's latest scan (JSON: at, status in the canonical tracking
-- vocabulary, sub_status, location, message), from a tracking service.
ALTER TABLE fulfillments ADD COLUMN last_checkpoint JSONB;
-- Fulfilment and refund webhooks name the order by the platform's id.
CREATE INDEX orders_platform_id ON orders (id);

-- Every webhook delivery already applied, by the provider's delivery id
-- (Shopify's X-Shopify-Webhook-Id, …): a second delivery of the same one is
-- recognised on every server and changes nothing. Rows older than a week
-- are removed (providers stop retrying long before).
CREATE TABLE integration_deliveries (
    provider     TEXT NOT NULL,
    delivery_id  TEXT NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL,
    outcome      TEXT NOT NULL,
    PRIMARY KEY (provider, delivery_id)
);
CREATE INDEX integration_deliveries_received ON integration_deliveries (received_at);

-- Connections saved by `wismo connect <provider>`: the provider's settings
-- as JSON (credentials included), sealed with the data keys; read by every
-- server at start. Settings in wismo.toml or the environment win.
CREATE TABLE integration_connections (
    provider    TEXT PRIMARY KEY,
    settings    TEXT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

-- Proactive updates. Which conversations asked about (and were shown) an
-- order: a carrier or payment event about the order is told to them.
CREATE TABLE order_watchers (
    order_number     TEXT NOT NULL,
    conversation_id  TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    since            TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (order_number, conversation_id)
);
CREATE INDEX order_watchers_conversation ON order_watchers (conversation_id);

-- One row per notice and conversation: the key names the event (order,
-- kind, shipment or refund), so a notice is queued once however often its
-- webhook arrives, on whichever server. Sent when due (after quiet hours)
-- by whichever server claims it first (lease).
CREATE TABLE notifications (
    notice_key       TEXT NOT NULL,
    conversation_id  TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    order_number     TEXT NOT NULL,
    kind             TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    due_at           TIMESTAMPTZ NOT NULL,
    lease_until      TIMESTAMPTZ,
    sent_at          TIMESTAMPTZ,
    outcome          TEXT,
    PRIMARY KEY (notice_key, conversation_id)
);
CREATE INDEX notifications_due ON notifications (due_at) WHERE sent_at IS NULL;
CREATE INDEX notifications_conversation ON notifications (conversation_id, sent_at);
