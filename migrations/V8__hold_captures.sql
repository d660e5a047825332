-- Captures are recorded by inserting a row, not by updating the hold.
--
-- Settlement captures a hold per usage event. As an UPDATE of holds that meant a new row version, two
-- index entries and a dead tuple per event, the largest single cost of a settlement batch. A capture is
-- now one immutable row here; the hold keeps the status it had when its usage was metered ('settling'),
-- and hold_states gives each hold's status with captures applied. Holds captured before this migration
-- keep status 'captured' in holds and read the same through the view.

create table hold_captures (
    hold_id             uuid        primary key,
    entry_id            uuid        not null,
    captured_nano_usd   bigint      not null check (captured_nano_usd >= 0),
    created_at          timestamptz not null default now()
);

create trigger hold_captures_immutable before update or delete on hold_captures
    for each row execute function ledger_forbid_change();
create trigger hold_captures_no_truncate before truncate on hold_captures
    for each statement execute function ledger_forbid_change();

-- A capture names a hold waiting for settlement ('settling': its usage is recorded, so it no longer
-- expires and is never voided), takes at most the hold's amount, and names an entry that exists. One
-- lookup by primary key per capture, set-based per statement.
create function hold_captures_check() returns trigger language plpgsql as $$
declare
    bad record;
begin
    select n.hold_id, h.status, h.amount_nano_usd, n.captured_nano_usd into bad
    from new_captures n
    left join lateral (select status, amount_nano_usd from holds where id = n.hold_id) h on true
    where h.status is distinct from 'settling' or n.captured_nano_usd > h.amount_nano_usd
    limit 1;
    if found then
        if bad.status is distinct from 'settling' then
            raise exception 'hold % cannot be captured: it is %', bad.hold_id, coalesce(bad.status, 'not placed')
                using errcode = '23514';
        end if;
        raise exception 'hold % cannot be captured for % nano-USD: it holds %', bad.hold_id,
            bad.captured_nano_usd, bad.amount_nano_usd using errcode = '23514';
    end if;
    select n.hold_id into bad
    from new_captures n
    where not exists (select 1 from journal_entries e where e.id = n.entry_id)
    limit 1;
    if found then
        raise exception 'capture of hold % names an entry that does not exist', bad.hold_id using errcode = '23503';
    end if;
    return null;
end $$;

create trigger hold_captures_checked after insert on hold_captures
    referencing new table as new_captures
    for each statement execute function hold_captures_check();

-- A captured hold is final: it can no longer be voided or expired. A trigger of its own beside V7's
-- holds_transitions, which keeps checking the rest of a hold's transitions.
create function holds_check_not_captured() returns trigger language plpgsql as $$
declare
    captured uuid;
begin
    select n.id into captured
    from new_holds n
    where exists (select 1 from hold_captures c where c.hold_id = n.id)
    limit 1;
    if found then
        raise exception 'hold % is already captured', captured using errcode = '42501';
    end if;
    return null;
end $$;

create trigger holds_not_captured after update on holds
    referencing new table as new_holds
    for each statement execute function holds_check_not_captured();

-- Every hold with its status as finance sees it: captured once a capture row exists.
create view hold_states as
select h.id, h.account_id, h.amount_nano_usd,
       case when c.hold_id is not null then 'captured' else h.status end as status,
       coalesce(c.captured_nano_usd, h.captured_nano_usd) as captured_nano_usd,
       coalesce(c.entry_id, h.capture_entry_id) as capture_entry_id,
       h.reference, h.expires_at, h.created_at,
       coalesce(c.created_at, h.resolved_at) as resolved_at
from holds h
left join hold_captures c on c.hold_id = h.id;
