-- Usage events and the transactional outbox that carries them to Kafka.

-- Written in the same transaction that moves the request's hold to 'settling', so a finished request
-- always leaves an event behind, whether or not Kafka is reachable at that moment. The relay publishes
-- it and stamps published_at; the ledger's idempotency on the event id makes a second publish harmless.
create table usage_outbox (
    event_id        uuid primary key,
    buyer_org_id    uuid        not null,
    payload         jsonb       not null,
    created_at      timestamptz not null default now(),
    published_at    timestamptz,
    attempts        integer     not null default 0
);
create index usage_outbox_unpublished on usage_outbox (created_at) where published_at is null;

-- One row per served request, for GET /v1/generation and the usage views.
create table generations (
    id                      uuid primary key,
    buyer_org_id            uuid        not null references organizations (id),
    api_key_id              uuid        not null references api_keys (id),
    endpoint_id             uuid        not null references endpoints (id),
    provider_org_id         uuid        not null references organizations (id),
    model                   text        not null,
    prompt_tokens           integer     not null check (prompt_tokens >= 0),
    completion_tokens       integer     not null check (completion_tokens >= 0),
    prompt_price_nano_usd_per_mtok     bigint not null,
    completion_price_nano_usd_per_mtok bigint not null,
    cost_nano_usd           bigint      not null check (cost_nano_usd >= 0),
    fee_nano_usd            bigint      not null check (fee_nano_usd >= 0),
    hold_id                 uuid        not null references holds (id),
    finish_reason           text        not null,
    streamed                boolean     not null,
    cancelled               boolean     not null,
    latency_ms              integer     not null,
    ttft_ms                 integer     not null,
    generation_ms           integer     not null,
    created_at              timestamptz not null default now()
);
create index generations_buyer_created on generations (buyer_org_id, created_at);
create index generations_endpoint_created on generations (endpoint_id, created_at);

-- Usage events the ledger could not settle (unparseable, unknown account, amounts that do not add up),
-- kept for finance next to the dead-letter topic. One row per source record.
create table usage_dead_letters (
    id              bigint generated always as identity primary key,
    event_id        uuid,
    source_topic    text        not null,
    source_partition integer    not null,
    source_offset   bigint      not null,
    reason          text        not null,
    payload         text        not null,
    created_at      timestamptz not null default now(),
    unique (source_topic, source_partition, source_offset)
);
