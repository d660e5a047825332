-- The double-entry ledger. Amounts are integers of nano-USD. A posting's amount is signed:
-- positive debits the account, negative credits it, so an entry balances when its postings sum to zero.

create table ledger_accounts (
    id                      bigint generated always as identity primary key,
    code                    text        not null unique,
    org_id                  uuid        references organizations (id),
    kind                    text        not null check (kind in ('buyer_wallet','provider_payable','platform_cash',
                                                                 'platform_revenue','platform_margin','platform_settlement')),
    type                    text        not null check (type in ('asset','liability','revenue','expense','equity')),
    normal_side             text        not null check (normal_side in ('debit','credit')),
    -- Credit-normal accounts flagged here may not be debited past their credits (plus the credit limit).
    no_overdraft            boolean     not null,
    credit_limit_nano_usd   bigint      not null default 0 check (credit_limit_nano_usd >= 0),
    debits_posted_nano_usd  bigint      not null default 0 check (debits_posted_nano_usd >= 0),
    credits_posted_nano_usd bigint      not null default 0 check (credits_posted_nano_usd >= 0),
    -- Amount reserved by open holds (pending debits).
    held_nano_usd           bigint      not null default 0 check (held_nano_usd >= 0),
    created_at              timestamptz not null default now(),
    -- The balance limit, enforced by the database itself under any concurrency: available never below
    -- minus the credit limit.
    constraint no_overdraft_check check (
        not no_overdraft
        or credits_posted_nano_usd - debits_posted_nano_usd - held_nano_usd + credit_limit_nano_usd >= 0)
);
create unique index ledger_accounts_org_kind on ledger_accounts (org_id, kind) where org_id is not null;

insert into ledger_accounts (code, kind, type, normal_side, no_overdraft) values
    ('platform:cash', 'platform_cash', 'asset', 'debit', false),
    ('platform:revenue', 'platform_revenue', 'revenue', 'credit', false),
    ('platform:forward-margin', 'platform_margin', 'liability', 'credit', false),
    ('platform:forward-settlement', 'platform_settlement', 'liability', 'credit', false);

create table journal_entries (
    id                  uuid primary key,
    code                text        not null check (code in ('deposit','payout','usage','reversal','adjustment')),
    description         text        not null,
    metadata            jsonb       not null default '{}'::jsonb,
    -- Digest of the request that created the entry: a retry with the same id and other content is a conflict.
    request_sha256      bytea       not null,
    posting_count       smallint    not null check (posting_count between 2 and 64),
    reverses_entry_id   uuid        unique references journal_entries (id),
    created_at          timestamptz not null default now()
);
create index journal_entries_created on journal_entries (created_at);
create index journal_entries_code_created on journal_entries (code, created_at);

create table postings (
    entry_id        uuid   not null references journal_entries (id),
    seq             smallint not null check (seq >= 0),
    account_id      bigint not null references ledger_accounts (id),
    amount_nano_usd bigint not null,
    primary key (entry_id, seq)
);
create index postings_account_entry on postings (account_id, entry_id);

-- Debits equal credits, checked by the database and not only by the code: every INSERT into postings must
-- carry complete entries (all of their postings) that sum to zero. Checked once per statement over the
-- new rows, so bulk inserts of thousands of entries pay one query.
create function postings_check_balanced() returns trigger language plpgsql as $$
declare
    bad uuid;
begin
    select n.entry_id into bad
    from (select entry_id, count(*) as c, sum(amount_nano_usd) as s, max(seq) as max_seq
          from new_postings group by entry_id) n
    join journal_entries e on e.id = n.entry_id
    where n.s <> 0 or n.c <> e.posting_count or n.max_seq <> e.posting_count - 1
    limit 1;
    if bad is not null then
        raise exception 'journal entry % is not balanced or not complete in one statement', bad
            using errcode = '23514';
    end if;
    return null;
end $$;

create trigger postings_balanced after insert on postings
    referencing new table as new_postings
    for each statement execute function postings_check_balanced();

-- Immutability: entries and postings are never changed or removed; corrections are reversing entries.
create function ledger_forbid_change() returns trigger language plpgsql as $$
begin
    raise exception 'ledger rows in % are immutable: post a reversing entry instead', tg_table_name
        using errcode = '42501';
end $$;

create trigger journal_entries_immutable before update or delete on journal_entries
    for each row execute function ledger_forbid_change();
create trigger postings_immutable before update or delete on postings
    for each row execute function ledger_forbid_change();
create trigger journal_entries_no_truncate before truncate on journal_entries
    for each statement execute function ledger_forbid_change();
create trigger postings_no_truncate before truncate on postings
    for each statement execute function ledger_forbid_change();

-- Holds (pending transfers) on an account: the amount counts in held_nano_usd until the hold is
-- captured (by a usage entry), voided, or expires.
create table holds (
    id                  uuid primary key,
    account_id          bigint      not null references ledger_accounts (id),
    amount_nano_usd     bigint      not null check (amount_nano_usd > 0),
    status              text        not null check (status in ('pending','settling','captured','voided','expired')),
    captured_nano_usd   bigint      check (captured_nano_usd >= 0 and captured_nano_usd <= amount_nano_usd),
    capture_entry_id    uuid        references journal_entries (id),
    reference           text        not null,
    expires_at          timestamptz not null,
    created_at          timestamptz not null default now(),
    resolved_at         timestamptz
);
create index holds_open_expiry on holds (expires_at) where status = 'pending';

-- Holds move only forward, from open (pending, settling) to one final state, and nothing else changes.
create function holds_check_transition() returns trigger language plpgsql as $$
begin
    if old.status in ('captured','voided','expired') then
        raise exception 'hold % is already %', old.id, old.status using errcode = '42501';
    end if;
    if new.id <> old.id or new.account_id <> old.account_id or new.amount_nano_usd <> old.amount_nano_usd
       or new.reference <> old.reference or new.created_at <> old.created_at then
        raise exception 'hold % may only change status' , old.id using errcode = '42501';
    end if;
    return new;
end $$;
create trigger holds_transition before update on holds
    for each row execute function holds_check_transition();
create trigger holds_no_delete before delete on holds
    for each row execute function ledger_forbid_change();
