-- The store workspace's versions (postgres dialect; keep in step with the
-- other folder). Each row is a whole workspace (the serialized
-- WorkspaceFiles: policy pages, store.toml, flows, templates, training data;
-- no personal data), who made it and what changed; `store_active` is a
-- single row naming the version every server must serve. Publishing inserts
-- the version and moves the pointer in one transaction.
CREATE TABLE store_versions (
    id               BIGINT PRIMARY KEY,
    hash             TEXT NOT NULL,
    training_hash    TEXT NOT NULL,
    files            TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    created_by       TEXT NOT NULL,
    created_by_kind  TEXT NOT NULL,
    message          TEXT,
    changes          TEXT NOT NULL,
    warnings         TEXT NOT NULL,
    languages        TEXT NOT NULL
);
CREATE INDEX store_versions_hash ON store_versions (hash);

CREATE TABLE store_active (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    version_id    BIGINT REFERENCES store_versions (id),
    activated_at  TIMESTAMPTZ
);
INSERT INTO store_active (id, version_id, activated_at) VALUES (1, NULL, NULL);
