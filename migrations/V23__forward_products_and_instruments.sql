-- Capacity forwards: the products an admin lists and the instruments (one per delivery window) listed from
-- them. Prices are nano-USD per contract; one contract is 1,000,000 standard tokens (ST).

create table forward_products (
    id                          bigint generated always as identity primary key,
    -- The product's name in its instruments' symbols (FWD-<code>-<window>).
    code                        text        not null unique check (code ~ '^[A-Za-z0-9._]{1,40}$'),
    model                       text        not null,
    -- Endpoints that may deliver the product besides every active endpoint of the model (a class of models).
    extra_endpoint_ids          uuid[]      not null default '{}',
    tick_nano_usd               bigint      not null check (tick_nano_usd > 0),
    -- Quantities are whole multiples of the lot, in contracts.
    lot_contracts               bigint      not null check (lot_contracts > 0),
    price_min_nano_usd          bigint      not null check (price_min_nano_usd > 0),
    price_max_nano_usd          bigint      not null,
    bond_rate_bps               integer     not null check (bond_rate_bps between 0 and 10000),
    maker_fee_bps               integer     not null check (maker_fee_bps between 0 and 1000),
    taker_fee_bps               integer     not null check (taker_fee_bps between 0 and 1000),
    -- ST = prompt + w_c x cached prompt + w_o x completion tokens, in thousandths, fixed at listing.
    cached_weight_milli         bigint      not null check (cached_weight_milli >= 0),
    completion_weight_milli     bigint      not null check (completion_weight_milli >= 0),
    trader_shorts_allowed       boolean     not null,
    created_at                  timestamptz not null default now(),
    check (price_max_nano_usd >= price_min_nano_usd),
    check (price_min_nano_usd % tick_nano_usd = 0 and price_max_nano_usd % tick_nano_usd = 0)
);

create table forward_instruments (
    id                  bigint generated always as identity primary key,
    symbol              text        not null unique,
    product_id          bigint      not null references forward_products (id),
    window_kind         text        not null check (window_kind in ('hour', 'day')),
    delivery_start      timestamptz not null,
    delivery_end        timestamptz not null,
    trading_stops_at    timestamptz not null,
    state               text        not null check (state in ('listed', 'trading', 'halted', 'delivering', 'settled')),
    last_price_nano_usd bigint,
    settlement_price_nano_usd bigint,
    created_at          timestamptz not null default now(),
    unique (product_id, window_kind, delivery_start),
    check (delivery_end > delivery_start and trading_stops_at <= delivery_start)
);
create index forward_instruments_open on forward_instruments (trading_stops_at) where state in ('listed', 'trading', 'halted');
