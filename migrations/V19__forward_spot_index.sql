-- The hourly spot token price index (docs/index-methodology.md): one provisional and one final value per
-- model and UTC hour, each written once and never changed.

create table forward_index_values (
    model                       text        not null,
    hour_start                  timestamptz not null check (date_trunc('hour', hour_start) = hour_start),
    status                      text        not null check (status in ('provisional', 'final')),
    rule                        text        not null check (rule in ('spot', 'trailing_24h', 'list_price', 'previous', 'none')),
    -- Nano-USD per million standard tokens; null only when no rule of the fallback chain produced a price.
    price_nano_usd_per_mst      bigint      check (price_nano_usd_per_mst >= 0),
    methodology_version         text        not null,
    inputs_sha256               bytea       not null check (length(inputs_sha256) = 32),
    -- The value as published on the API and on Kafka, with its inputs: kept as text (json, not jsonb), so that it
    -- reads back byte for byte as it was published.
    value                       json        not null,
    computed_at                 timestamptz not null,
    -- When Kafka acknowledged the value; null until then, and the publisher retries.
    published_at                timestamptz,
    primary key (model, hour_start, status),
    check ((price_nano_usd_per_mst is null) = (rule = 'none'))
);
create index forward_index_values_unpublished on forward_index_values (computed_at) where published_at is null;

-- A published value never changes: only the Kafka acknowledgement may be stamped, once.
create function forward_index_values_check_change() returns trigger language plpgsql as $$
begin
    if tg_op = 'DELETE' or old.published_at is not null
       or (new.model, new.hour_start, new.status, new.rule, new.price_nano_usd_per_mst, new.methodology_version,
           new.inputs_sha256, new.value::text, new.computed_at)
          is distinct from (old.model, old.hour_start, old.status, old.rule, old.price_nano_usd_per_mst,
           old.methodology_version, old.inputs_sha256, old.value::text, old.computed_at) then
        raise exception 'index value % % % is published and cannot change', old.model, old.hour_start, old.status
            using errcode = '42501';
    end if;
    return new;
end $$;
create trigger forward_index_values_immutable before update or delete on forward_index_values
    for each row execute function forward_index_values_check_change();
create trigger forward_index_values_no_truncate before truncate on forward_index_values
    for each statement execute function ledger_forbid_change();

-- The index reads an hour of generations at a time. Rows arrive in created_at order, so a BRIN index finds
-- an hour's pages for almost nothing on the gateway's insert path (a B-tree would add an entry per request).
create index generations_created_brin on generations using brin (created_at) with (pages_per_range = 32, autosummarize = on);
