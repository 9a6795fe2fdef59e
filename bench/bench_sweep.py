"""The sweep benchmark of issue 18: `lethe sweep` (retention) and `lethe sweep --orphans`
against the same effect in one command per rule from pymongo, on freshly seeded data,
with wall time, documents per second, commands and lethe's peak resident memory. Run it
with `scripts/bench-sweep.sh`; docs/benchmarks.md explains every number. The report goes
into BENCHMARKS.md between the SWEEPS markers (scripts/bench.sh keeps that part).
"""
import argparse
import contextlib
import datetime
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

import pymongo
from bson import ObjectId
from pymongo import monitoring

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH_DIR)
DB = "lethe_bench_sweep"
STATE_DB = "lethe_bench_sweep_state"
BEGIN, END = "<!-- SWEEPS: written by scripts/bench-sweep.sh -->", "<!-- /SWEEPS -->"
USERS = 2000
ORPHAN_SHARE = 0.01
DAY = datetime.timedelta(days=1)
TIMEOUT = 3 * 3600

POLICY = f"""version: 1
name: sweep-bench
database: {DB}
subject:
  idType: string
  includeIdentities: false
rules:
  - collection: items
    match: owner_id
    action: delete
retention:
  - collection: sessions
    field: last_seen
    olderThan: 180d
    action: delete
  - collection: events
    field: at
    olderThan: 90d
    action: anonymize
    unset: [ip]
users:
  collection: users
  field: user_id
  grace: 1d
"""


def log(message: str) -> None:
    print(f"--- {message}", file=sys.stderr, flush=True)


class Commands(monitoring.CommandListener):
    def __init__(self):
        self.count = 0
        self.by_name = {}

    def started(self, event):
        self.count += 1
        self.by_name[event.command_name] = self.by_name.get(event.command_name, 0) + 1

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass

    def reset(self):
        self.count, self.by_name = 0, {}


def user_id(i: int) -> str:
    return f"6560f1c2{i:016x}"


def seed_retention(db, n: int, now: datetime.datetime) -> None:
    """n sessions and n events, half past their period, in random _id order against
    their dates (an app writes and touches them in any order)."""
    rng = random.Random(18)
    for name in ("sessions", "events"):
        db[name].drop()
    for name, field, period in (("sessions", "last_seen", 180), ("events", "at", 90)):
        chunk = []
        for i in range(n):
            old = rng.random() < 0.5 if i >= 2 else i == 0
            days = rng.uniform(period + 1, period + 400) if old else rng.uniform(0, period - 1)
            doc = {"_id": ObjectId(), "user_id": user_id(rng.randrange(USERS)), field: now - days * DAY}
            if name == "events":
                doc.update(kind="click", ip=f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}")
            chunk.append(doc)
            if len(chunk) == 5000:
                db[name].insert_many(chunk, ordered=False)
                chunk = []
        if chunk:
            db[name].insert_many(chunk, ordered=False)
        db[name].create_index(field)


def seed_orphans(db, n: int) -> int:
    """USERS users own n items; 1% of them have no users document. Returns the orphans."""
    rng = random.Random(19)
    for name in ("users", "items"):
        db[name].drop()
    orphans = max(1, int(USERS * ORPHAN_SHARE))
    db.users.insert_many([{"_id": ObjectId(), "user_id": user_id(i), "name": f"user {i}"} for i in range(orphans, USERS)])
    chunk = []
    for i in range(n):
        chunk.append({"_id": ObjectId(), "owner_id": user_id(i % USERS if i < USERS else rng.randrange(USERS)), "text": "todo"})
        if len(chunk) == 5000:
            db.items.insert_many(chunk, ordered=False)
            chunk = []
    if chunk:
        db.items.insert_many(chunk, ordered=False)
    db.items.create_index("owner_id")
    db.users.create_index("user_id")
    return orphans


class Lethe:
    def __init__(self, binary: str, uri: str, work: str):
        self.binary, self.uri, self.work = binary, uri, work
        self.policy_dir = os.path.join(work, "policies")
        os.makedirs(self.policy_dir, exist_ok=True)
        with open(os.path.join(self.policy_dir, "sweep-bench.yaml"), "w") as f:
            f.write(POLICY)
        self.time = shutil.which("time", path="/usr/bin")

    def run(self, args: list, tag: str) -> dict:
        rss_file = os.path.join(self.work, f"{tag}.rss")
        stats_file = os.path.join(self.work, f"{tag}.stats.json")
        command = [self.binary, "sweep"] + args + ["--policies", self.policy_dir, "--state-db", STATE_DB, "--stats-file", stats_file]
        if self.time:
            command = [self.time, "-f", "%M", "-o", rss_file] + command
        env = dict(os.environ, LETHE_MONGODB_URI=self.uri, LETHE_HASH_KEY=secrets.token_hex(32))
        started = time.perf_counter()
        proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=TIMEOUT)
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            raise RuntimeError(f"lethe sweep {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
        result = {"seconds": seconds, "stdout": proc.stdout}
        with contextlib.suppress(OSError, ValueError):
            result["rss_kib"] = int(open(rss_file).read().strip().splitlines()[-1])
        with contextlib.suppress(OSError, ValueError):
            stats = json.load(open(stats_file))
            result.update(commands=stats.get("commands"), by_name=stats.get("commandsByName", {}), inside=stats.get("seconds"))
        return result


def timed(listener: Commands, work) -> dict:
    listener.reset()
    started = time.perf_counter()
    value = work()
    return {"seconds": time.perf_counter() - started, "commands": listener.count, "by_name": dict(listener.by_name), "value": value}


def retention_check(db, now) -> bool:
    cut_sessions, cut_events = now - 180 * DAY, now - 90 * DAY
    return (db.sessions.count_documents({"last_seen": {"$lt": cut_sessions}}) == 0
            and db.events.count_documents({"at": {"$lt": cut_events}, "ip": {"$exists": True}}) == 0
            and db.events.count_documents({"at": {"$gte": cut_events}, "ip": {"$exists": False}}) == 0)


def run_size(client, listener, lethe, n: int, results: list) -> None:
    db = client[DB]
    # Retention.
    for who in ("baseline", "lethe"):
        client.drop_database(STATE_DB)
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        log(f"N={n:,}: seeding retention data for {who}")
        seed_retention(db, n, now)
        changed = (db.sessions.count_documents({"last_seen": {"$lt": now - 180 * DAY}})
                   + db.events.count_documents({"at": {"$lt": now - 90 * DAY}}))
        log(f"N={n:,}: retention, {who}")
        if who == "baseline":
            def work():
                cut = datetime.datetime.now(datetime.timezone.utc)
                db.sessions.delete_many({"last_seen": {"$lt": cut - 180 * DAY}})
                db.events.update_many({"at": {"$lt": cut - 90 * DAY}, "ip": {"$exists": True}}, {"$unset": {"ip": ""}})
            r = timed(listener, work)
        else:
            r = lethe.run([], f"retention-{n}")
        r.update(kind="retention", who=who, n=n, changed=changed, ok=retention_check(db, now))
        results.append(r)
    # Orphans.
    for who in ("baseline", "lethe"):
        client.drop_database(STATE_DB)
        log(f"N={n:,}: seeding orphan data for {who}")
        orphans = seed_orphans(db, n)
        orphan_docs = db.items.count_documents({"owner_id": {"$in": [user_id(i) for i in range(orphans)]}})
        log(f"N={n:,}: orphan sweep, {who}")
        if who == "baseline":
            def find_orphans():
                owners = [g["_id"] for g in db.items.aggregate([{"$group": {"_id": "$owner_id"}}], batchSize=5000)]
                existing = set()
                for start in range(0, len(owners), 5000):
                    chunk = owners[start:start + 5000]
                    existing.update(u["user_id"] for u in db.users.find({"user_id": {"$in": chunk}}, {"user_id": 1}, batch_size=5000))
                return [o for o in owners if o not in existing]
            dry = timed(listener, find_orphans)
            ok = len(dry["value"]) == orphans

            def erase():
                found = find_orphans()
                return db.items.delete_many({"owner_id": {"$in": found}}).deleted_count
            real = timed(listener, erase)
            real_ok = real["value"] == orphan_docs
        else:
            dry = lethe.run(["--orphans", "--dry-run"], f"orphans-dry-{n}")
            ok = f"{orphans} orphan id(s)" in dry["stdout"] or f"orphans: {orphans}" in dry["stdout"] or str(orphans) in dry["stdout"]
            # The grace period passed: a first sweep records the orphans as candidates,
            # their first sighting is moved two days back, and the timed sweep requests
            # and erases them.
            lethe.run(["--orphans"], f"orphans-first-{n}")
            client[STATE_DB].orphans.update_many({}, {"$inc": {"firstSeenMilliseconds": -2 * 86_400_000}})
            real = lethe.run(["--orphans"], f"orphans-real-{n}")
            real_ok = db.items.count_documents({"owner_id": {"$in": [user_id(i) for i in range(orphans)]}}) == 0 \
                and db.items.count_documents({}) == n - orphan_docs
        dry.update(kind="orphans-dry", who=who, n=n, changed=n, ok=ok)
        real.update(kind="orphans-real", who=who, n=n, changed=orphan_docs, ok=real_ok)
        results += [dry, real]


def memory_run(client, lethe, n: int) -> dict:
    db = client[DB]
    client.drop_database(STATE_DB)
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    log(f"memory: seeding {n:,} sessions and events")
    seed_retention(db, n, now)
    r = lethe.run([], f"memory-{n}")
    r.update(ok=retention_check(db, now), n=n)
    return r


def mib(kib):
    return f"{kib / 1024:.1f} MiB" if kib else "–"


def report(results, memory, args, load_before, load_after, started) -> str:
    out = [BEGIN, "", "# Sweeps (issue 18)", "",
           f"`{args.command}` on {started:%Y-%m-%d %H:%M} UTC. Server: {args.server_desc}. Lethe: {args.lethe_desc}.",
           f"Load average before {load_before}, after {load_after} (2 cores shared with other engineers: "
           "the figures are noisy; read the ratios of one run).", "",
           "Retention: two rules, delete `sessions` older than 180 d and anonymize `events` older than 90 d "
           "(unset `ip`), N documents each, half past their period, date fields indexed. Orphans: N `items` owned by "
           f"{USERS:,} users, {ORPHAN_SHARE:.0%} of them without a users document. Baseline: the same effect from "
           "pymongo in one command per rule (retention), or one `$group` of the owners and `$in` look-ups of the users "
           "in chunks of 5,000 (orphans; the real sweep adds one `deleteMany`), on a connected client. Lethe: the "
           "`lethe sweep` process, start to exit, release build; commands from its `--stats-file`.", "",
           "| sweep | N | who | wall time | time inside lethe | documents/s | commands | peak RSS | correct |",
           "|---|---:|---|---:|---:|---:|---:|---:|:---:|"]
    names = {"retention": "retention", "orphans-dry": "orphans, dry run", "orphans-real": "orphans, grace passed"}
    for r in results:
        inside = f"{r['inside']:.3f} s" if r.get("inside") is not None else "–"
        out.append(f"| {names[r['kind']]} | {r['n']:,} | {r['who']} | {r['seconds']:.3f} s | {inside} | "
                   f"{r['changed'] / r['seconds']:,.0f} | {r.get('commands', '–')} | {mib(r.get('rss_kib'))} | {'yes' if r['ok'] else 'NO'} |")
    out.append("")
    ratios = {}
    for kind in names:
        for n in sorted({r["n"] for r in results}):
            pair = {r["who"]: r for r in results if r["kind"] == kind and r["n"] == n}
            if "lethe" in pair and "baseline" in pair:
                ratios[(kind, n)] = pair["lethe"]["seconds"] / pair["baseline"]["seconds"]
                inside = pair["lethe"].get("inside")
                extra = f" ({inside / pair['baseline']['seconds']:.2f}× by the time inside lethe)" if inside else ""
                out.append(f"- {names[kind]}, N = {n:,}: Lethe / baseline **{ratios[(kind, n)]:.2f}×**{extra}; "
                           f"Lethe's commands: {', '.join(f'{k} {v}' for k, v in sorted(pair['lethe'].get('by_name', {}).items(), key=lambda x: -x[1]))}")
    out.append("")
    if memory:
        out.append(f"Memory: `lethe sweep` (retention) over N = {memory['n']:,} sessions and {memory['n']:,} events: "
                   f"peak RSS **{mib(memory.get('rss_kib'))}**, {memory['seconds']:.1f} s, correct: {'yes' if memory['ok'] else 'NO'}.")
        out.append("")
    sizes = sorted({r["n"] for r in results})
    out += ["## Targets of issue 18", "", "| target | measured | verdict |", "|---|---|---|"]
    big = 200_000 if 200_000 in sizes else (sizes[-1] if sizes else None)

    def verdict(ok, assessed=True):
        return "not assessed" if not assessed else ("**met**" if ok else "**NOT met**")
    if big is not None and ("retention", big) in ratios:
        ratio = ratios[("retention", big)]
        out.append(f"| retention ≤ 1.5× the baseline at N = 200,000 | {ratio:.2f}× at N = {big:,} | {verdict(ratio <= 1.5, big == 200_000)} |")
        times = {r["n"]: r["seconds"] for r in results if r["kind"] == "retention" and r["who"] == "lethe"}
        base = {r["n"]: r["seconds"] for r in results if r["kind"] == "retention" and r["who"] == "baseline"}
        if len(times) >= 2:
            lo, hi = sizes[0], sizes[-1]
            # Judged against the server's own growth (the baseline's, same run): nx's cost
            # per document grows with the collection, so even one command per rule grows
            # faster than N there (docs/benchmarks.md, "Third series").
            growth = (times[hi] / times[lo]) / (base[hi] / base[lo]) if lo in base and hi in base else (times[hi] / times[lo]) / (hi / lo)
            baseline_growth = f"; the baseline {base[hi] / base[lo]:.1f}×" if lo in base and hi in base else ""
            out.append(f"| retention time grows no faster than N (than the baseline's, on this server) | {times[lo]:.2f} s at {lo:,}, "
                       f"{times[hi]:.2f} s at {hi:,}: {times[hi] / times[lo]:.1f}× for {hi / lo:.0f}× the documents{baseline_growth} | "
                       f"{verdict(growth <= 1.25)} |")
    if big is not None and ("orphans-dry", big) in ratios:
        ratio = ratios[("orphans-dry", big)]
        out.append(f"| orphan dry run ≤ 2× the baseline at N = 200,000 | {ratio:.2f}× at N = {big:,} | {verdict(ratio <= 2, big == 200_000)} |")
    if memory:
        out.append(f"| peak RSS of `lethe sweep` < 64 MiB at N = 1,000,000 | {mib(memory.get('rss_kib'))} at N = {memory['n']:,} | "
                   f"{verdict((memory.get('rss_kib') or 1 << 30) < 64 * 1024, memory['n'] >= 1_000_000)} |")
    orphan_rss = [r.get("rss_kib") for r in results if r["who"] == "lethe" and r["kind"].startswith("orphans") and r.get("rss_kib")]
    if orphan_rss:
        out.append(f"| peak RSS of the orphan sweep < 64 MiB plus its distinct ids | at most {mib(max(orphan_rss))} ({USERS:,} distinct ids) | "
                   f"{verdict(max(orphan_rss) < 64 * 1024)} |")
    out += ["", END, ""]
    return "\n".join(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--uri", required=True)
    p.add_argument("--lethe", required=True)
    p.add_argument("--sizes", default="20000,200000")
    p.add_argument("--memory-size", type=int, default=1_000_000, help="0 skips")
    p.add_argument("--output", default=os.path.join(ROOT, "BENCHMARKS.md"))
    p.add_argument("--command", default="scripts/bench-sweep.sh")
    p.add_argument("--server-desc", default="")
    p.add_argument("--lethe-desc", default="")
    args = p.parse_args()
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    listener = Commands()
    client = pymongo.MongoClient(args.uri, event_listeners=[listener])
    client.admin.command("ping")
    work = tempfile.mkdtemp(prefix="lethe-bench-sweep-")
    lethe = Lethe(args.lethe, args.uri, work)
    results, memory = [], None
    try:
        for n in sizes:
            run_size(client, listener, lethe, n, results)
        if args.memory_size > 0:
            memory = memory_run(client, lethe, args.memory_size)
    finally:
        for name in (DB, STATE_DB):
            with contextlib.suppress(Exception):
                client.drop_database(name)
        shutil.rmtree(work, ignore_errors=True)
    load_after = " ".join(f"{x:.2f}" for x in os.getloadavg())
    text = report(results, memory, args, load_before, load_after, started)
    print(text)
    existing = open(args.output).read() if os.path.exists(args.output) else ""
    if BEGIN in existing and END in existing:
        existing = existing[:existing.index(BEGIN)] + existing[existing.index(END) + len(END):].lstrip("\n")
    with open(args.output, "w") as f:
        f.write(existing.rstrip("\n") + ("\n\n" if existing.strip() else "") + text)
    log(f"written to {os.path.relpath(args.output, os.getcwd())}")
    return 0 if all(r["ok"] for r in results) and (memory is None or memory["ok"]) else 1


if __name__ == "__main__":
    sys.exit(main())
