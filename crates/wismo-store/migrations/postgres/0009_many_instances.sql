-- Many instances (PostgreSQL dialect; keep in step with ../sqlite).
--
-- Webhook and stream deliveries keep each conversation's order: a row is
-- only claimed when no earlier row of the same target and conversation is
-- still pending, so the conversation is stored beside the (sealed) body.
ALTER TABLE outbox ADD COLUMN conversation_id TEXT;
CREATE INDEX outbox_conversation_pending ON outbox (target, conversation_id, id)
    WHERE delivered_at IS NULL AND NOT dead;

-- The durable event stream's cursor (NATS JetStream, subjects
-- wismo.events.>): a turn's transaction raises wanted_seq to the
-- conversation's new last seq (only when the stream is on); the relay claims
-- conversations behind (wanted_seq > streamed_seq) with a lease, publishes
-- their events in seq order and then raises streamed_seq. Both only grow.
CREATE TABLE event_stream (
    conversation_id  TEXT PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
    wanted_seq       BIGINT NOT NULL,
    streamed_seq     BIGINT NOT NULL DEFAULT 0,
    lease_until      TIMESTAMPTZ
);
CREATE INDEX event_stream_behind ON event_stream (conversation_id)
    WHERE wanted_seq > streamed_seq;

-- Single sign-on attempts in flight (agent OIDC): the state's SHA-256, the
-- nonce and the PKCE verifier (sealed), until the provider sends the browser
-- back. Taken with DELETE … RETURNING, so each is used once, by whichever
-- server the callback reaches.
CREATE TABLE sso_pending (
    state_hash  TEXT PRIMARY KEY,
    nonce       TEXT NOT NULL,
    verifier    TEXT NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX sso_pending_expires ON sso_pending (expires_at);

-- This installation's id: random, made once, the same for every server on
-- the database. Names the installation's keys in shared services (Redis),
-- so two installations sharing one Redis never mix.
CREATE TABLE installation (
    id  TEXT NOT NULL
);
INSERT INTO installation (id) VALUES (md5(random()::text || clock_timestamp()::text));
