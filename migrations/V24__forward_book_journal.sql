-- The forward books' durable state. Every accepted command is journaled here before it is acknowledged, and a
-- book is rebuilt by replaying its journal. One process owns an instrument at a time: it holds the lease, and
-- every journal row carries the lease's fencing token, which the database checks, so a process that lost its
-- lease (a paused replica, a failover) can never write again.

-- Each organization's number in the books, which work in longs.
create table forward_members (
    org_id      uuid   primary key references organizations (id),
    number      bigint generated always as identity unique
);

create table forward_leases (
    instrument_id   bigint      primary key references forward_instruments (id),
    owner           text        not null,
    -- Raised by one on every change of owner: the fencing token.
    token           bigint      not null check (token > 0),
    expires_at      timestamptz not null
);

create table forward_journal (
    instrument_id   bigint      not null references forward_instruments (id),
    seq             bigint      not null check (seq > 0),
    fencing_token   bigint      not null,
    command         text        not null,
    created_at      timestamptz not null default now(),
    primary key (instrument_id, seq)
);

-- A row whose token is not its instrument's current lease token comes from a process that lost the lease.
-- The lease rows are locked (for share) first, so that a change of owner waits for a journal write in flight
-- and a write waits for a change of owner, which it then sees.
create function forward_journal_check_fencing() returns trigger language plpgsql as $$
declare
    stale bigint;
begin
    perform 1 from forward_leases where instrument_id in (select distinct instrument_id from new_rows) for share;
    select n.instrument_id into stale
    from new_rows n left join forward_leases l on l.instrument_id = n.instrument_id
    where l.token is distinct from n.fencing_token
    limit 1;
    if stale is not null then
        raise exception 'journal write for instrument % carries a stale fencing token', stale using errcode = '40001';
    end if;
    return null;
end $$;
create trigger forward_journal_fenced after insert on forward_journal
    referencing new table as new_rows
    for each statement execute function forward_journal_check_fencing();
create trigger forward_journal_immutable before update or delete on forward_journal
    for each row execute function ledger_forbid_change();

-- Orders as their owners read them: written by the book's owner in the transaction that journals the commands.
create table forward_orders (
    id                  bigint      primary key,
    instrument_id       bigint      not null references forward_instruments (id),
    org_id              uuid        not null references organizations (id),
    client_order_id     text        not null check (length(client_order_id) between 1 and 64),
    -- Digest of the request: a retry with the same client order id and another body is a conflict.
    request_sha256      bytea       not null,
    side                text        not null check (side in ('buy', 'sell')),
    price_nano_usd      bigint      not null check (price_nano_usd > 0),
    quantity            bigint      not null check (quantity > 0),
    open_quantity       bigint      not null check (open_quantity >= 0),
    filled_quantity     bigint      not null check (filled_quantity >= 0),
    time_in_force       text        not null check (time_in_force in ('gtc', 'gtd', 'ioc', 'fok')),
    expires_at          timestamptz,
    post_only           boolean     not null,
    reduce_only         boolean     not null,
    self_trade_prevention text      not null,
    status              text        not null check (status in ('open', 'filled', 'cancelled', 'rejected')),
    reason              text,
    -- The answer the order's placement got, given again to a retry.
    first_response      text        not null,
    created_at          timestamptz not null default now(),
    updated_at          timestamptz not null default now(),
    unique (org_id, client_order_id),
    check ((status = 'open') = (open_quantity > 0))
);
create index forward_orders_open on forward_orders (instrument_id, side, price_nano_usd) where status = 'open';
create index forward_orders_org on forward_orders (org_id, created_at desc, id desc);

create table forward_trades (
    id                  bigint      primary key,
    instrument_id       bigint      not null references forward_instruments (id),
    taker_order_id      bigint      not null references forward_orders (id),
    maker_order_id      bigint      not null references forward_orders (id),
    buyer_org_id        uuid        not null references organizations (id),
    seller_org_id       uuid        not null references organizations (id),
    taker_side          text        not null check (taker_side in ('buy', 'sell')),
    price_nano_usd      bigint      not null check (price_nano_usd > 0),
    quantity            bigint      not null check (quantity > 0),
    created_at          timestamptz not null default now()
);
create index forward_trades_instrument on forward_trades (instrument_id, id desc);
create index forward_trades_buyer on forward_trades (buyer_org_id, id desc);
create index forward_trades_seller on forward_trades (seller_org_id, id desc);
