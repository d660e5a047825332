-- Organizations, their API keys, and the provider endpoints they list.

create table organizations (
    id          uuid primary key,
    name        text        not null check (length(name) between 1 and 200),
    roles       text[]      not null check (cardinality(roles) between 1 and 5
                                            and roles <@ array['admin','buyer','provider','finance','trader']),
    created_at  timestamptz not null default now()
);

-- Keys are high-entropy random secrets, so a SHA-256 digest is as safe to store as a slow hash and lets
-- the gateway find a key with one index lookup. The secret itself is never stored.
create table api_keys (
    id          uuid primary key,
    org_id      uuid        not null references organizations (id),
    name        text        not null check (length(name) between 1 and 200),
    key_sha256  bytea       not null unique check (length(key_sha256) = 32),
    key_prefix  text        not null,
    created_at  timestamptz not null default now(),
    revoked_at  timestamptz
);
create index api_keys_org on api_keys (org_id);

create table endpoints (
    id                                      uuid primary key,
    provider_org_id                         uuid        not null references organizations (id),
    model                                   text        not null check (length(model) between 1 and 200),
    hardware                                text        not null check (length(hardware) between 1 and 200),
    hardware_class                          text        not null check (hardware_class in ('gpu','lpu','wafer-scale','asic','cpu')),
    region                                  text        not null check (length(region) between 1 and 100),
    prompt_price_nano_usd_per_mtok          bigint      not null check (prompt_price_nano_usd_per_mtok >= 0),
    completion_price_nano_usd_per_mtok      bigint      not null check (completion_price_nano_usd_per_mtok >= 0),
    declared_throughput_tps                 integer     not null check (declared_throughput_tps > 0),
    declared_ttft_ms                        integer     not null check (declared_ttft_ms >= 0),
    capacity_tokens_per_minute              integer     not null check (capacity_tokens_per_minute > 0),
    capacity_max_concurrency                integer     not null check (capacity_max_concurrency > 0),
    backend_type                            text        not null check (backend_type in ('reference','openai')),
    backend_url                             text,
    backend_api_key                         text,
    backend_model                           text,
    status                                  text        not null default 'active' check (status in ('active','paused','deactivated')),
    price_version                           integer     not null default 1,
    created_at                              timestamptz not null default now(),
    updated_at                              timestamptz not null default now(),
    check (backend_type = 'reference' or backend_url is not null)
);
create index endpoints_model_active on endpoints (model) where status = 'active';
create index endpoints_provider on endpoints (provider_org_id);

-- Every price an endpoint ever had; a request is billed at the version it was matched at.
create table endpoint_prices (
    endpoint_id                         uuid        not null references endpoints (id),
    version                             integer     not null,
    prompt_price_nano_usd_per_mtok      bigint      not null check (prompt_price_nano_usd_per_mtok >= 0),
    completion_price_nano_usd_per_mtok  bigint      not null check (completion_price_nano_usd_per_mtok >= 0),
    valid_from                          timestamptz not null default now(),
    primary key (endpoint_id, version)
);
