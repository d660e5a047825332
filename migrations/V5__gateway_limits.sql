-- Gateway: pacing of reference endpoints and per-key limits with their counters.

-- Caps how fast a reference endpoint delivers tokens, so it can stand in for slower hardware; null is unpaced.
alter table endpoints add column backend_max_tokens_per_second integer
    check (backend_max_tokens_per_second is null or backend_max_tokens_per_second between 1 and 1000000);

-- Limits a buyer sets on one of its keys; a null limit does not apply.
create table api_key_limits (
    api_key_id              uuid primary key references api_keys (id),
    requests_per_minute     integer check (requests_per_minute is null or requests_per_minute > 0),
    tokens_per_minute       bigint  check (tokens_per_minute is null or tokens_per_minute > 0),
    spend_limit_nano_usd    bigint  check (spend_limit_nano_usd is null or spend_limit_nano_usd >= 0),
    spend_reset             text    not null default 'never' check (spend_reset in ('never','daily','weekly','monthly')),
    updated_at              timestamptz not null default now()
);

-- What each key used in a window: 'minute' rows count requests and tokens per calendar minute (UTC),
-- 'spend' rows the cost per reset period. Gateways reserve the most a request can use with one
-- conditional upsert, so the limits hold exactly across any number of replicas, and correct the
-- reservation to the actual usage when the request is metered.
create table api_key_usage_windows (
    api_key_id      uuid        not null references api_keys (id),
    kind            text        not null check (kind in ('minute','spend')),
    window_start    timestamptz not null,
    requests        integer     not null default 0 check (requests >= 0),
    tokens          bigint      not null default 0 check (tokens >= 0),
    spend_nano_usd  bigint      not null default 0 check (spend_nano_usd >= 0),
    primary key (api_key_id, kind, window_start)
);
