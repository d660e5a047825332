-- Finance: statements, reconciliation reports and reversals.

-- Statements and reconciliation select by period; these keep them from scanning whole tables.
create index usage_outbox_created on usage_outbox (created_at);
create index usage_dead_letters_created on usage_dead_letters (created_at);
create index holds_created on holds (created_at);

-- A reversal undoes one entry once (reverses_entry_id is unique since V2). Reversing a reversal would
-- re-post the original under another id, which finance should do as a fresh entry with its own reason,
-- so the database refuses it.
create function journal_entries_check_reversal() returns trigger language plpgsql as $$
declare
    reversed_code text;
begin
    if new.reverses_entry_id is null then
        if new.code = 'reversal' then
            raise exception 'reversal entry % must name the entry it reverses', new.id using errcode = '23514';
        end if;
        return new;
    end if;
    if new.code <> 'reversal' then
        raise exception 'entry % reverses another entry but its code is %', new.id, new.code using errcode = '23514';
    end if;
    select code into reversed_code from journal_entries where id = new.reverses_entry_id;
    if reversed_code = 'reversal' then
        raise exception 'entry % is itself a reversal and cannot be reversed', new.reverses_entry_id
            using errcode = '23514';
    end if;
    return new;
end $$;

create trigger journal_entries_reversal before insert on journal_entries
    for each row when (new.reverses_entry_id is not null or new.code = 'reversal')
    execute function journal_entries_check_reversal();
