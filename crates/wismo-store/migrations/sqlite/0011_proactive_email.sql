-- Proactive emails (sqlite dialect; keep in step with ../postgres).

-- Everyone wismo may email, by the keyed hash of the address (never the
-- address itself): the random token of their unsubscribe link, and when
-- they used it. Kept after an erasure, so an unsubscribed shopper stays so.
CREATE TABLE email_recipients (
    recipient        TEXT PRIMARY KEY,
    token            TEXT NOT NULL UNIQUE,
    created_at       TEXT NOT NULL,
    unsubscribed_at  TEXT
);

-- One email per notice and recipient, however many conversations watch
-- the order and however many servers send: the insert claims it.
CREATE TABLE email_notices (
    notice_key  TEXT NOT NULL,
    recipient   TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (notice_key, recipient)
);
CREATE INDEX email_notices_recipient ON email_notices (recipient, created_at);

-- When the platform last told wismo about each order (a webhook, a live
-- lookup, a sync), for "as of N minutes ago" while the platform is down.
ALTER TABLE orders ADD COLUMN mirrored_at TEXT;
