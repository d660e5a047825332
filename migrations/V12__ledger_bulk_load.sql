-- The ledger's tables load in bulk: settlement writes thousands of entries per transaction with COPY.
--
-- PostgreSQL's COPY inserts rows a page at a time (one WAL record per page) only into a table without
-- BEFORE row triggers; V4's reversal check was one, so every entry was inserted alone. The same check is
-- now an AFTER row trigger, which still fires only for reversals (its WHEN clause is evaluated per row and
-- queues nothing for other entries) and still fails the statement. The foreign key on reverses_entry_id
-- queued a referential check for every inserted entry, null or not; the trigger now checks that the
-- reversed entry exists instead (entries are never deleted, so that check cannot go stale).

create or replace function journal_entries_check_reversal() returns trigger language plpgsql as $$
declare
    reversed_code text;
begin
    if new.reverses_entry_id is null then
        if new.code = 'reversal' then
            raise exception 'reversal entry % must name the entry it reverses', new.id using errcode = '23514';
        end if;
        return null;
    end if;
    if new.code <> 'reversal' then
        raise exception 'entry % reverses another entry but its code is %', new.id, new.code using errcode = '23514';
    end if;
    select code into reversed_code from journal_entries where id = new.reverses_entry_id;
    if not found then
        raise exception 'entry % reverses entry % which does not exist', new.id, new.reverses_entry_id
            using errcode = '23503';
    end if;
    if reversed_code = 'reversal' then
        raise exception 'entry % is itself a reversal and cannot be reversed', new.reverses_entry_id
            using errcode = '23514';
    end if;
    return null;
end $$;

drop trigger journal_entries_reversal on journal_entries;
create trigger journal_entries_reversal after insert on journal_entries
    for each row when (new.reverses_entry_id is not null or new.code = 'reversal')
    execute function journal_entries_check_reversal();

alter table journal_entries drop constraint journal_entries_reverses_entry_id_fkey;

-- The metadata is stored as the JSON text it was written as (validated, not decomposed): jsonb parsed
-- every entry into its binary form, a sixth of the entries' COPY, and nothing queries inside it. The API
-- shows it as a JSON text, which now keeps the order its writer gave the keys.
alter table journal_entries alter column metadata type json using metadata::json,
                            alter column metadata set default '{}'::json;

-- The index of postings by account serves an account's statement: its few postings among all the others.
-- The platform revenue account (seeded second by V2) has a posting in every usage entry, a third of all
-- postings, so a third of the index, and every settled event paid for its insertion (6% of a settlement
-- batch's database time). Its statement reads the journal of the period instead, which is no more than
-- the index gave it: the index has its postings in id order, not by date, so every one was read anyway.
do $$
begin
    if (select id from ledger_accounts where code = 'platform:revenue') is distinct from 2 then
        raise exception 'expected platform:revenue to be ledger account 2, as V2 seeds it';
    end if;
end $$;
drop index postings_account_entry;
create index postings_account_entry on postings (account_id, entry_id) where account_id <> 2;
