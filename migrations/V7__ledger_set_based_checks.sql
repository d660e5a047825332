-- The ledger's integrity checks, set-based: one query per statement instead of one per row.
--
-- Settlement writes thousands of entries per transaction (three postings and one hold capture each). The
-- foreign keys on postings and holds ran a referential check query per row, and the hold transition
-- trigger ran PL/pgSQL per row; together they were most of a batch's database time. The same rules are
-- now checked by statement-level triggers over the statement's transition tables, and the referenced rows
-- can never disappear: entries are immutable (V2) and accounts may not be deleted (below).

alter table postings drop constraint postings_entry_id_fkey;
alter table postings drop constraint postings_account_id_fkey;
alter table holds drop constraint holds_capture_entry_id_fkey;

-- Accounts are never deleted: postings and holds refer to them. (Balances and limits do change.)
create function ledger_accounts_forbid_delete() returns trigger language plpgsql as $$
begin
    raise exception 'ledger accounts are never deleted: postings and holds refer to them' using errcode = '42501';
end $$;
create trigger ledger_accounts_no_delete before delete on ledger_accounts
    for each row execute function ledger_accounts_forbid_delete();
create trigger ledger_accounts_no_truncate before truncate on ledger_accounts
    for each statement execute function ledger_accounts_forbid_delete();

-- Every INSERT into postings carries complete entries that exist, sum to zero, and post to accounts that
-- exist. (A second insert for an entry already complete collides with the primary key (entry_id, seq).)
create or replace function postings_check_balanced() returns trigger language plpgsql as $$
declare
    bad uuid;
    unknown_account bigint;
begin
    -- The entry is looked up by its primary key for each entry of the statement (a lateral join, so
    -- the plan cannot become a scan of the whole journal).
    select n.entry_id into bad
    from (select entry_id, count(*) as c, sum(amount_nano_usd) as s, max(seq) as max_seq
          from new_postings group by entry_id) n
    left join lateral (select posting_count from journal_entries e where e.id = n.entry_id) e on true
    where e.posting_count is null or n.s <> 0 or n.c <> e.posting_count or n.max_seq <> e.posting_count - 1
    limit 1;
    if bad is not null then
        raise exception 'journal entry % does not exist, or is not balanced or not complete in one statement', bad
            using errcode = '23514';
    end if;
    select p.account_id into unknown_account
    from (select distinct account_id from new_postings) p
    left join ledger_accounts a on a.id = p.account_id
    where a.id is null
    limit 1;
    if unknown_account is not null then
        raise exception 'posting to ledger account % which does not exist', unknown_account using errcode = '23503';
    end if;
    return null;
end $$;

-- Holds move only forward, from open (pending, settling) to one final state, nothing but the status
-- fields change, and a capture names an entry that exists. Checked once per UPDATE statement.
drop trigger holds_transition on holds;
drop function holds_check_transition();

-- (Each check is a scan or set operation over the transition tables, never a join of one against the
-- other row by row: they carry no statistics, and the planner's nested loops over them are quadratic.)
create function holds_check_transitions() returns trigger language plpgsql as $$
declare
    bad record;
begin
    select o.id, o.status into bad from old_holds o where o.status in ('captured', 'voided', 'expired') limit 1;
    if found then
        raise exception 'hold % is already %', bad.id, bad.status using errcode = '42501';
    end if;
    select changed.id into bad
    from (select id, account_id, amount_nano_usd, reference, created_at from old_holds
          except all
          select id, account_id, amount_nano_usd, reference, created_at from new_holds) changed
    limit 1;
    if found then
        raise exception 'hold % may only change status', bad.id using errcode = '42501';
    end if;
    select n.id into bad
    from new_holds n
    where n.capture_entry_id is not null
      and not exists (select 1 from journal_entries e where e.id = n.capture_entry_id)
    limit 1;
    if found then
        raise exception 'hold % names a capture entry that does not exist', bad.id using errcode = '23503';
    end if;
    return null;
end $$;

create trigger holds_transitions after update on holds
    referencing old table as old_holds new table as new_holds
    for each statement execute function holds_check_transitions();
