-- Fewer indexes on the ledger's hottest table: every usage event inserts a journal entry.

-- (code, created_at) serves every period query (statements join postings by entry id, reports filter by code).
drop index journal_entries_created;

-- Only reversals carry reverses_entry_id; indexing the null of every other entry bought nothing.
alter table journal_entries drop constraint journal_entries_reverses_entry_id_key;
create unique index journal_entries_reverses_once on journal_entries (reverses_entry_id)
    where reverses_entry_id is not null;
