-- Lets a caller place a hold only when the account keeps at least a given amount available after it: the
-- gateway places holds ahead of demand for busy wallets (dev.tokenmarket.gateway.PrePlacedHolds) and must
-- never let those take what the wallet's own requests, on any replica, may need. keep_available[i] is what
-- hold i must leave available once placed (null or 0: as before, the hold only has to be covered).
--
-- Otherwise the function of V14 unchanged: accounts locked in id order, no more than the update needs; each
-- hold placed, in the given order, when what its account has left after the holds placed before it covers
-- it; plans kept to reads by key.
drop function place_holds(uuid[], bigint[], bigint[], text[], timestamptz[]);

create function place_holds(hold_ids uuid[], account_ids bigint[], amounts bigint[], refs text[],
                            expiries timestamptz[], keep_available bigint[] default null)
    returns boolean[] language plpgsql
    set enable_seqscan = off set enable_hashjoin = off set enable_mergejoin = off as $$
declare
    locked_ids bigint[] := '{}';
    -- What each locked account has left for holds; null when it has no overdraft rule.
    locked_left bigint[] := '{}';
    placed boolean[] := '{}';
    account record;
    k int;
begin
    if cardinality(hold_ids) is distinct from cardinality(account_ids)
            or cardinality(hold_ids) is distinct from cardinality(amounts)
            or cardinality(hold_ids) is distinct from cardinality(refs)
            or cardinality(hold_ids) is distinct from cardinality(expiries)
            or (keep_available is not null and cardinality(hold_ids) is distinct from cardinality(keep_available)) then
        raise exception 'place_holds: the arrays differ in length';
    end if;
    for account in
        select id, no_overdraft,
               credits_posted_nano_usd - debits_posted_nano_usd - held_nano_usd + credit_limit_nano_usd as available
        from ledger_accounts where id = any (account_ids) order by id for no key update
    loop
        locked_ids := locked_ids || account.id;
        locked_left := locked_left || case when account.no_overdraft then account.available end;
    end loop;
    for i in 1 .. coalesce(cardinality(hold_ids), 0) loop
        if amounts[i] is null or amounts[i] <= 0 then
            raise exception 'hold amount must be positive, was %', amounts[i];
        end if;
        k := array_position(locked_ids, account_ids[i]);
        if k is not null and (locked_left[k] is null
                or locked_left[k] - amounts[i] >= greatest(coalesce(keep_available[i], 0), 0)) then
            locked_left[k] := locked_left[k] - amounts[i];
            placed := placed || true;
        else
            placed := placed || false;
        end if;
    end loop;
    update ledger_accounts a set held_nano_usd = a.held_nano_usd + t.amount
    from (select h.account_id, sum(h.amount) as amount
          from unnest(account_ids, amounts, placed) as h (account_id, amount, placed)
          where h.placed group by h.account_id) as t
    where a.id = t.account_id;
    insert into holds (id, account_id, amount_nano_usd, status, reference, expires_at)
    select h.id, h.account_id, h.amount, 'pending', h.reference, h.expires_at
    from unnest(hold_ids, account_ids, amounts, refs, expiries, placed)
        as h (id, account_id, amount, reference, expires_at, placed)
    where h.placed;
    return placed;
end $$;
