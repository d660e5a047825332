-- The ledger's statement-level checks read the rows they check by key, whatever the planner thinks of the
-- tables' sizes.
--
-- PL/pgSQL plans each query of a function once per connection and keeps the plan until the tables' statistics
-- change. A connection that first checked a few postings while the journal was small kept a plan that hashes
-- the new postings and reads the whole journal (a sequential scan), and used it for every settlement batch
-- afterwards: in the ledger benchmark the balance check of a 5,000-event batch took 73 ms, growing to 280 ms as
-- the journal grew, against 25-55 ms by key, until autovacuum's next ANALYZE of the journal replaced the plan.
-- A fresh plan for a large batch can be as bad the other way: a merge join that reads the whole primary key
-- index of the journal. Each check only ever needs the rows its statement names (a nested loop over the
-- transition table, one index probe per row), so the functions plan with scans and joins that read whole
-- tables switched off: their cost follows the size of the statement, never the size of the ledger.
alter function postings_check_balanced()
    set enable_seqscan = off set enable_hashjoin = off set enable_mergejoin = off;
alter function hold_captures_check()
    set enable_seqscan = off set enable_hashjoin = off set enable_mergejoin = off;
alter function holds_check_transitions()
    set enable_seqscan = off set enable_hashjoin = off set enable_mergejoin = off;
alter function holds_check_not_captured()
    set enable_seqscan = off set enable_hashjoin = off set enable_mergejoin = off;
alter function journal_entries_check_reversal()
    set enable_seqscan = off set enable_hashjoin = off set enable_mergejoin = off;
