-- Proactive emails (postgres dialect; keep in step with ../sqlite).

-- Everyone wismo may email, by the keyed hash of the address (never the
-- address itself): the random token of their unsubscribe link, and when
-- they used it. Kept after an erasure, so an unsubscribed shopper stays so.
CREATE TABLE email_recipients (
    recipient        TEXT PRIMARY KEY,
    token            TEXT NOT NULL UNIQUE,
    created_at       TIMESTAMPTZ NOT NULL,
    unsubscribed_at  TIMESTAMPTZ
);

-- One email per notice and recipient, however many conversations watch
-- the order and however many servers send: the insert claims it.
CREATE TABLE email_notices (
    notice_key  TEXT NOT NULL,
    recipient   TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (notice_key, recipient)
);
CREATE INDEX email_notices_recipient ON email_notices (recipient, created_at);

-- When the platform last told wismo about each order (a webhook, a live
-- lookup, a sync), for "as of N minutes ago" while the platform is down.
ALTER TABLE orders ADD COLUMN mirrored_at TIMESTAMPTZ;

-- Trackers at the carrier-tracking service (AfterShip or EasyPost), one per
-- tracking number the platform gave: queued in the transaction that wrote
-- the fulfilment, made by whichever server claims the row (lease), retried
-- with back-off; times in microseconds since 1970 (compared as numbers).
CREATE TABLE carrier_trackers (
    tracking_number  TEXT PRIMARY KEY,
    carrier          TEXT,
    order_number     TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending',
    provider         TEXT,
    tracker_id       TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_at          BIGINT NOT NULL,
    lease_until      BIGINT,
    error            TEXT,
    created_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX carrier_trackers_due ON carrier_trackers (next_at) WHERE status = 'pending';

-- A pace shared by every server for calls to one rate-limited service:
-- each call takes the next slot (next_at, microseconds since 1970).
CREATE TABLE rate_gates (
    name     TEXT PRIMARY KEY,
    next_at  BIGINT NOT NULL
);

-- A refund's progress at the payment provider (succeeded, pending, failed);
-- NULL: reported done by the platform.
ALTER TABLE refunds ADD COLUMN status TEXT;
