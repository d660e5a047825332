-- Provider capacity shared by every gateway replica (dev.tokenmarket.routing.CapacityCoordinator): an endpoint's
-- max_concurrency is split into slots leased by the replicas that serve it, and its tokens per minute are
-- counted once for all of them. Owned by routing.

-- The slots a replica holds on an endpoint. A replica renews its leases every heartbeat; a lease not renewed
-- by expires_at (the replica died) no longer counts, so its slots go to the others.
create table capacity_leases (
    endpoint_id uuid not null,
    replica_id  uuid not null,
    slots       int  not null check (slots >= 0),
    expires_at  timestamptz not null,
    primary key (endpoint_id, replica_id)
);
create index capacity_leases_replica on capacity_leases (replica_id);

-- Tokens served on an endpoint per UTC minute (epoch minute), all replicas together; each adds what it served
-- since its last heartbeat.
create table capacity_minutes (
    endpoint_id uuid   not null,
    minute      bigint not null,
    tokens      bigint not null check (tokens >= 0),
    primary key (endpoint_id, minute)
);
create index capacity_minutes_minute on capacity_minutes (minute);

-- Sets a replica's lease on an endpoint to as many of the wanted slots as the live leases of the other
-- replicas leave free of p_slots_max, and never below the slots it uses (p_in_use, which the others must keep
-- counting); answers the slots leased. The endpoint's advisory lock makes the check and the write one step for
-- every replica, so live leases never add up to more than p_slots_max (unless p_in_use alone exceeds it, as
-- after the endpoint's capacity was lowered while requests ran).
create function lease_capacity_slots(p_endpoint_id uuid, p_replica_id uuid, p_in_use int, p_wanted int,
                                     p_slots_max int, p_ttl_ms int) returns int language plpgsql as $$
declare
    others  int;
    granted int;
begin
    perform pg_advisory_xact_lock(hashtextextended('tokenmarket capacity ' || p_endpoint_id::text, 0));
    delete from capacity_leases where endpoint_id = p_endpoint_id and expires_at <= now();
    select coalesce(sum(slots), 0) into others from capacity_leases
    where endpoint_id = p_endpoint_id and replica_id <> p_replica_id;
    granted := greatest(p_in_use, least(p_wanted, p_slots_max - others));
    if granted = 0 then
        delete from capacity_leases where endpoint_id = p_endpoint_id and replica_id = p_replica_id;
    else
        insert into capacity_leases (endpoint_id, replica_id, slots, expires_at)
        values (p_endpoint_id, p_replica_id, granted, now() + p_ttl_ms * interval '1 millisecond')
        on conflict (endpoint_id, replica_id) do update set slots = excluded.slots, expires_at = excluded.expires_at;
    end if;
    return granted;
end $$;

-- A replica's heartbeat: lowers the listed leases to the slots given (idle slots go back to the others; zero
-- removes the lease), then renews its live leases. A lease that has already lapsed is not revived: the others
-- may have taken its slots. Answers the replica's leases as they now stand.
create function renew_capacity_leases(p_replica_id uuid, p_endpoint_ids uuid[], p_slots int[], p_ttl_ms int)
    returns table (endpoint_id uuid, slots int) language plpgsql as $$
#variable_conflict use_column
begin
    update capacity_leases l set slots = t.slots
    from unnest(p_endpoint_ids, p_slots) as t (endpoint_id, slots)
    where l.replica_id = p_replica_id and l.endpoint_id = t.endpoint_id and l.slots > t.slots;
    delete from capacity_leases l where l.replica_id = p_replica_id and (l.slots = 0 or l.expires_at <= now());
    return query
        update capacity_leases l set expires_at = now() + p_ttl_ms * interval '1 millisecond'
        where l.replica_id = p_replica_id
        returning l.endpoint_id, l.slots;
end $$;
