#!/usr/bin/env bash
# Where a settlement batch's database time goes, statement by statement, and what a schema change saves.
#
#   load-tests/ledger-batch-profile/run.sh [--batches 70] [--prefill 40] [--size 5000] [VARIANT.sql ...]
#
# Starts a PostgreSQL 17 of its own (the embedded server's binaries, with its settings: synchronous commit,
# fsync, shared_buffers 512MB), creates a database with the migrations ("base") and one per VARIANT.sql (the
# migrations, then that file), loads --prefill batches into each untimed, then settles the remaining batches
# in every database in turn, the way UsageSettlement does (COPY of the entries and of the postings, the
# holds read by id, COPY of the captures, the account updates, commit), and prints each statement's mean time per
# database. Taking the databases in turn keeps the machine's drift out of the comparison.
# Needs python3 and psql; run as root it starts the server as the postgres user (PostgreSQL refuses root).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
batches=70 prefill=40 size=5000 variants=()
while [ $# -gt 0 ]; do
  case "$1" in
    --batches) batches=$2; shift 2 ;;
    --prefill) prefill=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    *) variants+=("$(realpath "$1")"); shift ;;
  esac
done

bin="${PG_BIN:-$(ls -d /tmp/embedded-pg/PG-*/bin 2>/dev/null | head -1)}"
if [ ! -x "$bin/postgres" ]; then
  echo "PostgreSQL binaries not found: set PG_BIN, or run the tests once (the embedded server unpacks its binaries to /tmp/embedded-pg)" >&2
  exit 1
fi
export LD_LIBRARY_PATH="$(dirname "$bin")/lib"
work="$(mktemp -d /tmp/ledger-batch-profile-XXXXXX)"
chmod 777 "$work"
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- env LD_LIBRARY_PATH="$LD_LIBRARY_PATH" "$@"; else "$@"; fi; }
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
stop() { as_owner "$bin/pg_ctl" -D "$work/data" -m fast stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap stop EXIT

as_owner "$bin/initdb" -D "$work/data" -U postgres -A trust >/dev/null
cat >> "$work/data/postgresql.conf" <<EOF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$work'
synchronous_commit = on
fsync = on
shared_buffers = 512MB
max_wal_size = 4GB
checkpoint_timeout = 15min
EOF
as_owner "$bin/pg_ctl" -D "$work/data" -l "$work/server.log" -w start >/dev/null
psql() { command psql -X -q -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 "$@"; }

mkdir "$work/batches"
python3 "$here/generate-batches.py" "$batches" "$size" "$work/batches"
cd "$work/batches"

databases=(base)
for i in "${!variants[@]}"; do databases+=("variant$((i + 1))"); done
for i in "${!databases[@]}"; do
  db=${databases[$i]}
  psql -c "create database $db"
  for migration in $(ls "$here"/../../migrations/V*.sql | sort -V); do psql -d "$db" -f "$migration" >/dev/null; done
  [ "$i" -gt 0 ] && psql -d "$db" -f "${variants[$((i - 1))]}" >/dev/null
  psql -d "$db" >/dev/null <<'SQL'
insert into organizations (id, name, roles) select gen_random_uuid(), 'buyer ' || lpad(i::text, 2, '0'), '{buyer}' from generate_series(1, 64) i;
insert into organizations (id, name, roles) select gen_random_uuid(), 'provider ' || lpad(i::text, 2, '0'), '{provider}' from generate_series(1, 16) i;
insert into ledger_accounts (code, org_id, kind, type, normal_side, no_overdraft, credits_posted_nano_usd)
  select 'wallet:' || id, id, 'buyer_wallet', 'liability', 'credit', true, 10000000000000000 from organizations where name like 'buyer %' order by name;
insert into ledger_accounts (code, org_id, kind, type, normal_side, no_overdraft)
  select 'payable:' || id, id, 'provider_payable', 'liability', 'credit', false from organizations where name like 'provider %' order by name;
update ledger_accounts set debits_posted_nano_usd = 64 * 10000000000000000 where code = 'platform:cash';
SQL
  psql -d "$db" -c "\copy holds (id, account_id, amount_nano_usd, status, reference, expires_at) from 'holds.tsv'"
  psql -d "$db" -f held.sql >/dev/null
  psql -d "$db" -c "vacuum analyze" 2>/dev/null
  if [ "$i" -eq 0 ]; then echo "$db: the migrations"; else echo "$db: the migrations, then ${variants[$((i - 1))]}"; fi
done

# One batch as UsageSettlement writes it; prints the statements' times in milliseconds.
settle() {
  psql -d "$1" <<SQL 2>&1 | awk '/^Time:/ {printf "%s ", $2} /ERROR/ {print; exit 1} END {print ""}'
create temp table capture (hold_id uuid, captured bigint, entry_id uuid);
\copy capture from 'c$2.tsv'
select array_agg(hold_id)::text as holds from capture \gset
\timing on
begin;
set local enable_seqscan = off;
\copy journal_entries (id, code, description, metadata, request_sha256, posting_count, reverses_entry_id) from 'e$2.tsv'
\copy postings (entry_id, seq, account_id, amount_nano_usd) from 'p$2.tsv'
select id, account_id, amount_nano_usd, status from holds where id = any(:'holds'::uuid[]) \g /dev/null
\copy hold_captures (hold_id, captured_nano_usd, entry_id) from 'c$2.tsv'
\i u$2.sql
commit;
SQL
}

for b in $(seq 0 $((prefill - 1))); do for db in "${databases[@]}"; do settle "$db" "$b" >/dev/null; done; done
for b in $(seq "$prefill" $((batches - 1))); do for db in "${databases[@]}"; do echo "$db $(settle "$db" "$b")"; done; done > times
echo "mean ms per batch of $size over batches $prefill-$((batches - 1)):"
echo "database    entries  postings     holds  captures  lock  update  commit  total"
for db in "${databases[@]}"; do
  # Fields: the database, then begin, set local, and the seven statements of the header.
  awk -v db="$db" '$1 == db {n++; for (i = 4; i <= NF; i++) s[i] += $i}
    END {t = 0; for (i = 4; i <= 10; i++) t += s[i]; printf "%-10s %8.1f %8.1f %9.1f %9.1f %5.1f %7.1f %7.1f %6.1f\n", db,
         s[4]/n, s[5]/n, s[6]/n, s[7]/n, s[8]/n, s[9]/n, s[10]/n, t/n}' times
done
