"""Settlement batches shaped like the application's, as files for psql: generate-batches.py BATCHES SIZE DIR.

For batch N: eN.tsv (journal entries) and pN.tsv (their three postings each) in the COPY format UsageSettlement
writes, cN.tsv (hold id, cost, entry id: the captures) and uN.sql (the summed account updates); holds.tsv and
held.sql open every batch's holds beforehand, as the gateway does. Ids are UUID version 7, one millisecond
apart, as the gateway's generation ids; 64 buyer wallets (accounts 5-68), 16 provider payables (69-84) and
platform revenue (2) on every entry, as in LedgerBenchmark.
"""
import hashlib
import random
import sys
import time
import uuid

nb, bs = int(sys.argv[1]), int(sys.argv[2])
out = sys.argv[3]
rnd = random.Random(42)
WALLETS = list(range(5, 69))      # 64 buyer wallets
PAYABLES = list(range(69, 85))    # 16 provider payables
REVENUE = 2
ms = int(time.time() * 1000) - 10_000_000
def v7():
    global ms
    ms += 1
    r = rnd.getrandbits(80)
    hi = (ms << 16) | (0x7 << 12) | (r >> 68)
    lo = (0b10 << 62) | (r & ((1 << 62) - 1))
    return uuid.UUID(int=(hi << 64) | lo)
held = {}
with open(f"{out}/holds.tsv", "w") as holds:
    for b in range(nb):
        with open(f"{out}/e{b}.tsv", "w") as e, open(f"{out}/p{b}.tsv", "w") as p, open(f"{out}/c{b}.tsv", "w") as c:
            deltas = {}
            for i in range(bs):
                eid = v7(); hid = v7()
                w = rnd.choice(WALLETS); pay = rnd.choice(PAYABLES)
                pt, ct = rnd.randint(10, 2000), rnd.randint(1, 500)
                cost = pt * 150 + ct * 600
                fee = cost // 20
                amount = cost + 100000
                holds.write(f"{hid}\t{w}\t{amount}\tsettling\tgeneration:{eid}\t2030-01-01T00:00:00Z\n")
                held[w] = held.get(w, 0) + amount
                meta = f'{{"generation_id":"{eid}","hold_id":"{hid}","endpoint_id":"{uuid.UUID(int=rnd.getrandbits(128))}","model":"bench-model","prompt_tokens":{pt},"completion_tokens":{ct}}}'
                dig = hashlib.sha256(meta.encode()).hexdigest()
                e.write(f"{eid}\tusage\tusage of bench-model: {pt} prompt + {ct} completion tokens\t{meta}\t\\\\x{dig}\t3\t\\N\n")
                p.write(f"{eid}\t0\t{w}\t{cost}\n{eid}\t1\t{pay}\t{-(cost-fee)}\n{eid}\t2\t{REVENUE}\t{-fee}\n")
                c.write(f"{hid}\t{cost}\t{eid}\n")
                for acc, d, cr, h in ((w, cost, 0, -amount), (pay, 0, cost - fee, 0), (REVENUE, 0, fee, 0)):
                    x = deltas.setdefault(acc, [0, 0, 0]); x[0] += d; x[1] += cr; x[2] += h
        ids = sorted(deltas)
        arr = lambda k: "'{" + ",".join(str(deltas[a][k]) for a in ids) + "}'"
        with open(f"{out}/u{b}.sql", "w") as u:
            u.write("select id from ledger_accounts where id = any('{" + ",".join(map(str, ids)) + "}'::bigint[]) order by id for no key update;\n")
            u.write("update ledger_accounts a set debits_posted_nano_usd = a.debits_posted_nano_usd + d.debits, "
                    "credits_posted_nano_usd = a.credits_posted_nano_usd + d.credits, held_nano_usd = a.held_nano_usd + d.held "
                    "from unnest('{" + ",".join(map(str, ids)) + "}'::bigint[], " + arr(0) + "::bigint[], " + arr(1) + "::bigint[], " + arr(2) + "::bigint[]) as d(id, debits, credits, held) where a.id = d.id;\n")
with open(f"{out}/held.sql", "w") as f:
    for w, a in held.items():
        f.write(f"update ledger_accounts set held_nano_usd = held_nano_usd + {a} where id = {w};\n")
