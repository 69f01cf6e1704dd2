-- Webhook outbox, SQLite dialect (keep in step with ../postgres).
-- One row per (event, target): the exact JSON body that is signed and sent,
-- and its delivery state. A row is due when it is neither delivered nor dead,
-- its next_attempt_at has come and no server holds a lease on it
-- (locked_until in the past or NULL). Times are RFC 3339 text written by
-- wismo (always "+00:00", at most 6 fraction digits), so text order is time
-- order.
CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id         TEXT NOT NULL,
    target           TEXT NOT NULL,
    kind             TEXT NOT NULL,
    body             TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    locked_until     TEXT,
    last_attempt_at  TEXT,
    delivered_at     TEXT,
    last_error       TEXT,
    dead             BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (event_id, target)
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE delivered_at IS NULL AND NOT dead;
