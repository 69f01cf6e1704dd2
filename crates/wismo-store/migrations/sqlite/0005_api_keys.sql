-- API keys for admin and server-to-server calls (sqlite dialect; keep in step
-- with the other folder). Only a SHA-256 of each key is kept; the key itself
-- is shown once, when it is created.
CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    key_hash      TEXT NOT NULL UNIQUE,
    scopes        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_used_at  TEXT,
    revoked_at    TEXT
);
