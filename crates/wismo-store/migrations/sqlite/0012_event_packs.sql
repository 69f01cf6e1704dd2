-- An append's events share one row (a "pack"): `seq` is the first event's
-- seq, `last_seq` the last one's, and `event` the sealed JSON array of the
-- events. A row holding one event keeps `last_seq` NULL and `event` a sealed
-- JSON object, as every row did before. Seqs stay unique per conversation:
-- they are reserved from `conversations.last_seq` under its row lock.
ALTER TABLE conversation_events ADD COLUMN last_seq BIGINT;
