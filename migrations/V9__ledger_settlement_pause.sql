-- Settlement of the usage feed can be paused by an operator (database maintenance, an incident, a flood of
-- bad events) and resumed; every replica's ledger consumers follow this one row. Paused consumers keep their
-- partitions and their place in them, so nothing is skipped: on resume they go on from where they stopped.
create table ledger_settlement_control (
    singleton   boolean     primary key default true check (singleton),
    paused      boolean     not null default false,
    reason      text        check (length(reason) <= 500),
    changed_at  timestamptz not null default now(),
    changed_by  uuid
);
insert into ledger_settlement_control (paused) values (false);
