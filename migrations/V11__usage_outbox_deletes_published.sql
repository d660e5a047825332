-- The outbox is a queue, not a record: the relay now deletes a row once Kafka has acknowledged its event
-- (the generations table is the record of metered usage, and the ledger of what was billed). Stamping rows
-- instead kept a second copy of every event forever and cost each event a second row version and index
-- entries in the gateway's write path. Rows already published are such copies.
delete from usage_outbox where published_at is not null;
-- Only the relay's "oldest unpublished first" scan reads the outbox by time; its partial index serves it.
drop index usage_outbox_created;
