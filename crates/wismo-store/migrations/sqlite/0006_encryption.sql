-- Personal data encrypted at rest (sqlite dialect; keep in step with the other
-- folder). The personal columns keep their names and types but hold
-- "enc:1:<key id>:<base64>" values (see wismo-store/src/crypto.rs). Lookups
-- by email go through keyed hashes (HMAC-SHA256 under the lookup key) in new
-- columns; the plaintext email indexes go. Rows written before this
-- migration stay readable and are encrypted (and their hashes filled) by the
-- re-encryption sweep the server runs at start.
DROP INDEX customers_email;
ALTER TABLE customers ADD COLUMN email_hash TEXT;
CREATE INDEX customers_email_hash ON customers (email_hash);

DROP INDEX orders_email;
ALTER TABLE orders ADD COLUMN email_hash TEXT;
CREATE INDEX orders_email_hash ON orders (email_hash);

ALTER TABLE conversations ADD COLUMN customer_hash TEXT;
CREATE INDEX conversations_customer_hash ON conversations (customer_hash);

ALTER TABLE handoffs ADD COLUMN contact_email_hash TEXT;
CREATE INDEX handoffs_contact_email_hash ON handoffs (contact_email_hash);

-- The event's type, kept in plaintext for the events GDPR requests look for
-- ("verified", "customer_signed_in"; NULL for the others), since the event itself is encrypted.
ALTER TABLE conversation_events ADD COLUMN kind TEXT;
UPDATE conversation_events SET kind = 'verified' WHERE event LIKE '%"event":"verified"%';
UPDATE conversation_events SET kind = 'customer_signed_in' WHERE event LIKE '%"event":"customer_signed_in"%';
CREATE INDEX conversation_events_kind ON conversation_events (kind) WHERE kind IS NOT NULL;
