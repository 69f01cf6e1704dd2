-- One case number per conversation: a hand-off that follows a case the
-- conversation already opened (a damaged-item report's CASE-0001) carries
-- that case's id; NULL means the hand-off's own id (H-<id>). The offline
-- flag now says whether the shopper's case waits for an email follow-up:
-- it is cleared when a person joins.
ALTER TABLE handoffs ADD COLUMN case_ref TEXT;
