-- Agents, their sign-in sessions, hand-off cases, canned replies and
-- shoppers' ratings (SQLite dialect; keep in step with the other folder).
CREATE TABLE agents (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL,
    max_chats      BIGINT NOT NULL,
    languages      TEXT NOT NULL,
    created_at     TEXT NOT NULL
);

CREATE TABLE agent_sessions (
    token_hash  TEXT PRIMARY KEY,
    agent_id    TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX agent_sessions_agent ON agent_sessions (agent_id);

-- One row per hand-off: a projection of the conversation's events that the
-- queue, the console and resolution tracking read.
CREATE TABLE handoffs (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id    TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    status             TEXT NOT NULL,
    reason             TEXT NOT NULL,
    priority           BIGINT NOT NULL,
    locale             TEXT,
    intent             TEXT,
    sentiments         TEXT NOT NULL,
    order_number       TEXT,
    contact_email      TEXT,
    offline            BOOLEAN NOT NULL,
    requested_at       TEXT NOT NULL,
    agent_id           TEXT REFERENCES agents (id) ON DELETE SET NULL,
    assigned_at        TEXT,
    first_response_at  TEXT,
    closed_at          TEXT,
    outcome            TEXT,
    tags               TEXT NOT NULL,
    last_role          TEXT,
    last_text          TEXT,
    last_at            TEXT
);
CREATE INDEX handoffs_status ON handoffs (status);
CREATE INDEX handoffs_conversation ON handoffs (conversation_id);
CREATE INDEX handoffs_agent ON handoffs (agent_id, status);

CREATE TABLE canned_replies (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    shortcut    TEXT NOT NULL UNIQUE,
    title       TEXT NOT NULL,
    text        TEXT NOT NULL
);
INSERT INTO canned_replies (shortcut, title, text) VALUES
    ('/hello', 'Greeting', 'Hi, thanks for waiting! I''m here now and I can see our conversation so far. Let me take a look.'),
    ('/check', 'Checking', 'Thanks, give me a moment while I check this for you.'),
    ('/refund', 'Refund issued', 'I''ve issued a refund to your original payment method. It usually shows up within 3–5 business days.'),
    ('/replace', 'Replacement', 'I''ve arranged a replacement at no cost to you. You''ll get a shipping confirmation by email once it''s on its way.'),
    ('/thanks', 'Closing', 'Is there anything else I can help you with today? Thanks for your patience!');

CREATE TABLE csat (
    conversation_id  TEXT PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
    score            BIGINT NOT NULL,
    comment          TEXT,
    created_at       TEXT NOT NULL
);
