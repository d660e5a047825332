-- Holds that back resting orders of the forward market, and the accounts and entry codes forward contracts
-- post to.
--
-- A spot hold covers one request: placed, captured once by settlement (hold_captures, V8), voided or expired
-- after a short TTL. A resting hold covers an order that may rest for days: it has no expiry, or one that only
-- moves later; each fill captures a part of it into its own journal entry (hold_capture_parts); a cancel or an
-- amend down reduces it; its owner ends it, releasing what is left. Its amount never changes: what it still
-- holds is amount - captured - reduced, and the database refuses any write that would make that negative.

-- Account kinds for forward contracts. Organizations' accounts (escrow, bond, margin) are liabilities the
-- platform owes them, like wallets; the platform's clearing and insurance fund pay out no more than they were
-- paid in. All of them keep the wallets' rule (no_overdraft_check, V2). Forward fees are revenue, like spot fees.
alter table ledger_accounts drop constraint ledger_accounts_kind_check;
alter table ledger_accounts add constraint ledger_accounts_kind_check check (kind in (
    'buyer_wallet', 'provider_payable', 'platform_cash', 'platform_revenue', 'platform_margin', 'platform_settlement',
    'escrow', 'bond', 'margin', 'clearing', 'insurance_fund', 'forward_fees'));

-- Each kind has one accounting type, normal side and overdraft rule, and belongs to an organization or to the
-- platform: an escrow opened without the no-overdraft rule, or on no organization, is refused.
alter table ledger_accounts add constraint ledger_accounts_kind_rules check (
    (kind, type, normal_side, no_overdraft, org_id is not null) in (
        ('buyer_wallet', 'liability', 'credit', true, true),
        ('provider_payable', 'liability', 'credit', true, true),
        ('escrow', 'liability', 'credit', true, true),
        ('bond', 'liability', 'credit', true, true),
        ('margin', 'liability', 'credit', true, true),
        ('platform_cash', 'asset', 'debit', false, false),
        ('platform_revenue', 'revenue', 'credit', false, false),
        ('platform_margin', 'liability', 'credit', false, false),
        ('platform_settlement', 'liability', 'credit', false, false),
        ('clearing', 'liability', 'credit', true, false),
        ('insurance_fund', 'liability', 'credit', true, false),
        ('forward_fees', 'revenue', 'credit', false, false)));

insert into ledger_accounts (code, kind, type, normal_side, no_overdraft) values
    ('platform:clearing', 'clearing', 'liability', 'credit', true),
    ('platform:insurance-fund', 'insurance_fund', 'liability', 'credit', true),
    ('platform:forward-fees', 'forward_fees', 'revenue', 'credit', false);

-- Entry codes of forward contracts. (Checked without a scan under the table lock, then validated.)
alter table journal_entries drop constraint journal_entries_code_check;
alter table journal_entries add constraint journal_entries_code_check check (code in (
    'deposit', 'payout', 'usage', 'reversal', 'adjustment',
    'escrow', 'clearing', 'bond', 'margin', 'insurance_fund', 'fee')) not valid;
alter table journal_entries validate constraint journal_entries_code_check;

-- Resting holds: status 'resting' while open, then voided (its owner released it) or expired.
alter table holds drop constraint holds_status_check;
alter table holds add constraint holds_status_check
    check (status in ('pending', 'settling', 'resting', 'captured', 'voided', 'expired')) not valid;
alter table holds validate constraint holds_status_check;

alter table holds alter column expires_at drop not null;
alter table holds add constraint holds_spot_expire check (expires_at is not null or status not in ('pending', 'settling'))
    not valid;
alter table holds validate constraint holds_spot_expire;

alter table holds add column reduced_nano_usd bigint not null default 0 check (reduced_nano_usd >= 0);
alter table holds add constraint holds_within_amount
    check (coalesce(captured_nano_usd, 0) + reduced_nano_usd <= amount_nano_usd) not valid;
alter table holds validate constraint holds_within_amount;

create index holds_resting_expiry on holds (expires_at) where status = 'resting' and expires_at is not null;

-- The captures of resting holds: one row per fill, each into its own entry, immutable.
create table hold_capture_parts (
    hold_id             uuid        not null,
    entry_id            uuid        not null,
    captured_nano_usd   bigint      not null check (captured_nano_usd > 0),
    created_at          timestamptz not null default now(),
    primary key (hold_id, entry_id)
);
create index hold_capture_parts_entry on hold_capture_parts (entry_id);

create trigger hold_capture_parts_immutable before update or delete on hold_capture_parts
    for each row execute function ledger_forbid_change();
create trigger hold_capture_parts_no_truncate before truncate on hold_capture_parts
    for each statement execute function ledger_forbid_change();

-- A part names a resting hold, and its entry debits the hold's account by exactly what the entry's parts
-- capture from that account's holds; the hold's captured total grows by the part, which the constraint
-- holds_within_amount keeps within what the hold still holds. Reads by key only, as in V13.
create function hold_capture_parts_apply() returns trigger language plpgsql
    set enable_seqscan = off set enable_hashjoin = off set enable_mergejoin = off as $$
declare
    bad record;
    holds_named int;
    holds_updated int;
begin
    select n.hold_id, h.status into bad
    from new_parts n
    left join lateral (select status from holds where id = n.hold_id) h on true
    where h.status is distinct from 'resting'
    limit 1;
    if found then
        raise exception 'hold % cannot be captured in part: it is %', bad.hold_id, coalesce(bad.status, 'not placed')
            using errcode = '23514';
    end if;
    select x.entry_id, x.account_id, x.parts, q.net into bad
    from (select n.entry_id, h.account_id
          from new_parts n
          join lateral (select account_id from holds where id = n.hold_id) h on true
          group by n.entry_id, h.account_id) k
    join lateral (select k.entry_id, k.account_id, sum(p.captured_nano_usd) as parts
                  from hold_capture_parts p
                  join lateral (select account_id from holds where id = p.hold_id) h on true
                  where p.entry_id = k.entry_id and h.account_id = k.account_id) x on true
    join lateral (select coalesce(sum(amount_nano_usd), 0) as net from postings
                  where entry_id = k.entry_id and account_id = k.account_id) q on true
    where q.net <> x.parts
    limit 1;
    if found then
        raise exception 'entry % debits account % by % nano-USD but captures % from its holds', bad.entry_id,
            bad.account_id, bad.net, bad.parts using errcode = '23514';
    end if;
    update holds h set captured_nano_usd = coalesce(h.captured_nano_usd, 0) + s.amount
    from (select hold_id, sum(captured_nano_usd) as amount from new_parts group by hold_id) s
    where h.id = s.hold_id;
    get diagnostics holds_updated = row_count;
    select count(distinct hold_id) into holds_named from new_parts;
    if holds_updated <> holds_named then
        raise exception 'captured % holds of %', holds_updated, holds_named;
    end if;
    return null;
end $$;

create trigger hold_capture_parts_applied after insert on hold_capture_parts
    referencing new table as new_parts
    for each statement execute function hold_capture_parts_apply();

-- What may change on a resting hold: its captured total only through its parts, its reduced total and its expiry
-- only upwards (an expiry never comes earlier, and a hold without one keeps none), and its status only to
-- voided or expired. A spot hold's totals never change. Per row, and only for rows it concerns (the WHEN
-- clause), so the spot path's updates of holds call nothing.
create function holds_check_resting_change() returns trigger language plpgsql
    set enable_seqscan = off set enable_hashjoin = off set enable_mergejoin = off as $$
begin
    if old.status <> 'resting' then
        raise exception 'hold % is %: only a resting hold is captured in parts, reduced or extended', old.id, old.status
            using errcode = '42501';
    end if;
    if new.status not in ('resting', 'voided', 'expired') then
        raise exception 'a resting hold ends voided or expired, not %', new.status using errcode = '42501';
    end if;
    if coalesce(new.captured_nano_usd, 0) < coalesce(old.captured_nano_usd, 0)
            or new.reduced_nano_usd < old.reduced_nano_usd then
        raise exception 'hold %: captured and reduced amounts only grow', old.id using errcode = '42501';
    end if;
    if new.captured_nano_usd is distinct from old.captured_nano_usd
            and new.captured_nano_usd <> (select coalesce(sum(captured_nano_usd), 0) from hold_capture_parts
                                          where hold_id = new.id) then
        raise exception 'hold %: its captured amount is the sum of its capture parts', old.id using errcode = '42501';
    end if;
    if old.expires_at is distinct from new.expires_at
            and (old.expires_at is null or (new.expires_at is not null and new.expires_at < old.expires_at)) then
        raise exception 'hold %: an expiry only moves later', old.id using errcode = '42501';
    end if;
    return new;
end $$;

create trigger holds_resting_change before update on holds
    for each row when (old.status = 'resting' or new.status = 'resting'
                       or old.reduced_nano_usd <> new.reduced_nano_usd
                       or old.captured_nano_usd is distinct from new.captured_nano_usd)
    execute function holds_check_resting_change();

-- A hold starts with nothing captured or reduced.
create function holds_check_new() returns trigger language plpgsql as $$
begin
    raise exception 'hold % starts with nothing captured or reduced', new.id using errcode = '23514';
end $$;
create trigger holds_new before insert on holds
    for each row when (new.captured_nano_usd is not null or new.reduced_nano_usd <> 0)
    execute function holds_check_new();

-- hold_states (V8) with what each hold still holds: its amount less what was captured and reduced while it was
-- open; nothing once it is final.
create or replace view hold_states as
select h.id, h.account_id, h.amount_nano_usd,
       case when c.hold_id is not null then 'captured' else h.status end as status,
       coalesce(c.captured_nano_usd, h.captured_nano_usd) as captured_nano_usd,
       coalesce(c.entry_id, h.capture_entry_id) as capture_entry_id,
       h.reference, h.expires_at, h.created_at,
       coalesce(c.created_at, h.resolved_at) as resolved_at,
       h.reduced_nano_usd,
       case when c.hold_id is null and h.status in ('pending', 'settling', 'resting')
            then h.amount_nano_usd - coalesce(h.captured_nano_usd, 0) - h.reduced_nano_usd else 0 end as held_nano_usd
from holds h
left join hold_captures c on c.hold_id = h.id;
