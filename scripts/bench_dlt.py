#!/usr/bin/env python3
"""Peer benchmark: load the same v1 KV dump into SQLite with dlt (https://dlthub.com).

    python3 scripts/bench_dlt.py DUMP.json [--runs K] [--keep DIR]

DUMP.json is a `wrangler kv bulk` dump, e.g. from
`cargo run --release -p kv2sql-datagen -- --seed 1 --size large > /tmp/dump.json`.

Each run loads into a fresh SQLite file through dlt's `sqlalchemy` destination, with a fresh
pipeline directory: nested arrays become child tables (dlt's normalizer), every resource has
`write_disposition="merge"` on its natural id. The median of K runs is printed, with the rows
dlt wrote (every table except dlt's own `_dlt_*` bookkeeping tables).

What differs from kv2sql (see BENCHMARKS.md):
- dlt does not replay v1's upgrade-on-read (`kv2sql_roadmap::v1::upgrade_items`): it loads the
  stored JSON as is. On version-10 data (the datagen default) the upgrade changes nothing, so
  the rows are comparable, but a legacy blob would load un-upgraded.
- dlt infers the schema: nested objects are flattened into `a__b` columns, free-form objects
  (`githubData`, event `data`) become many sparse columns, and values that do not fit the
  inferred type go to variant columns. kv2sql keeps them as JSON text with shape columns.
- Object-keyed maps (`github-map` mappings, `github-scan` repos) are turned into lists of
  {key, ...} records here, so that dlt makes rows rather than one column per key.
- The last line is machine-readable: `DLT_RESULT rows=<n> median_s=<s>`.
"""

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
# SQLite has one writer: dlt's default parallel load jobs only meet "database is locked" and retry.
os.environ.setdefault("LOAD__WORKERS", "1")

try:
    import dlt
except ImportError:  # pragma: no cover - reported to the user
    sys.exit('bench_dlt.py: dlt is not installed: pip install -r scripts/requirements-bench.txt ("dlt[sqlalchemy]")')


def load_dump(path):
    with open(path, encoding="utf-8") as f:
        entries = json.load(f)
    return {e["key"]: (e["value"], e.get("expiration")) for e in entries}


def resources(raw):
    # The values are parsed here, inside the timed run, as kv2sql parses them inside migrate().
    kv = {k: (json.loads(v), exp) for k, (v, exp) in raw.items()}
    items_doc = kv.get("roadmap:items", ({}, None))[0]
    events = kv.get("roadmap:events", ({}, None))[0]
    archive = kv.get("roadmap:message-archive", ({}, None))[0]
    scan = kv.get("roadmap:mention-scan", ({}, None))[0]
    gmap = kv.get("roadmap:github-map", ({}, None))[0]
    gscan = kv.get("roadmap:github-scan", ({}, None))[0]
    cache = [
        dict(v, address=k[len("roadmap:agent-cache:") :], expiration=exp)
        for k, (v, exp) in kv.items()
        if k.startswith("roadmap:agent-cache:")
    ]

    @dlt.resource(name="items", primary_key="id", write_disposition="merge")
    def items():
        yield items_doc.get("items", [])

    @dlt.resource(name="items_doc", primary_key="kv_key", write_disposition="merge")
    def items_envelope():
        yield {k: v for k, v in items_doc.items() if k != "items"} | {"kv_key": "roadmap:items"}

    @dlt.resource(name="events", primary_key="id", write_disposition="merge")
    def event_rows():
        yield events.get("events", [])

    @dlt.resource(name="message_archive", primary_key="timestamp", write_disposition="merge")
    def messages():
        yield archive.get("messages", [])

    @dlt.resource(name="mention_scan", primary_key="kv_key", write_disposition="merge")
    def mention_scan():
        yield dict(scan, kv_key="roadmap:mention-scan")

    @dlt.resource(name="github_mappings", primary_key="login", write_disposition="merge")
    def mappings():
        yield [{"login": k, "btc_address": v} for k, v in gmap.get("mappings", {}).items()]

    @dlt.resource(name="scan_repos", primary_key="repo", write_disposition="merge")
    def repos():
        yield [dict(v, repo=k) for k, v in gscan.get("repos", {}).items()]

    @dlt.resource(name="agent_cache", primary_key="address", write_disposition="merge")
    def agent_cache():
        yield cache

    return [items_envelope, items, event_rows, messages, mention_scan, mappings, repos, agent_cache]


def count_rows(db_path):
    con = sqlite3.connect(db_path)
    try:
        tables = {}
        for (schema,) in con.execute("SELECT name FROM pragma_database_list"):
            for (t,) in con.execute(f"SELECT name FROM \"{schema}\".sqlite_master WHERE type='table'"):
                if t.startswith("_dlt_") or t.startswith("sqlite_"):
                    continue
                (n,) = con.execute(f'SELECT count(*) FROM "{schema}"."{t}"').fetchone()
                tables[f"{schema}.{t}"] = n
        return tables
    finally:
        con.close()


def one_run(kv, work, i):
    db = os.path.join(work, f"dlt-{i}.sqlite")
    pipelines = os.path.join(work, f"pipelines-{i}")
    pipeline = dlt.pipeline(
        pipeline_name=f"kv2sql_bench_{i}",
        pipelines_dir=pipelines,
        destination=dlt.destinations.sqlalchemy(f"sqlite:///{db}"),
        dataset_name="main",
    )
    t = time.perf_counter()
    pipeline.run(resources(kv))
    first = time.perf_counter() - t
    return db, pipeline, first


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dump")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", help="keep the databases in this directory")
    args = ap.parse_args()

    t = time.perf_counter()
    kv = load_dump(args.dump)
    print(f"dump: {len(kv)} keys, {os.path.getsize(args.dump)} bytes, read in {time.perf_counter() - t:.2f} s")
    print(f"dlt {dlt.__version__}, destination sqlalchemy + SQLite {sqlite3.sqlite_version}")

    work = args.keep or tempfile.mkdtemp(prefix="kv2sql-bench-dlt-")
    os.makedirs(work, exist_ok=True)
    times, rows, tables = [], 0, {}
    last = None
    for i in range(args.runs):
        db, pipeline, secs = one_run(kv, work, i)
        times.append(secs)
        tables = count_rows(db)
        rows = sum(tables.values())
        last = (db, pipeline)
        print(f"run {i + 1}: {secs:.2f} s, {rows} rows in {len(tables)} tables")
    print("tables: " + ", ".join(f"{t} {n}" for t, n in sorted(tables.items())))

    # Idempotent re-run (merge on the ids) into the last database.
    db, pipeline = last
    t = time.perf_counter()
    pipeline.run(resources(kv))
    rerun = time.perf_counter() - t
    after = sum(count_rows(db).values())
    print(f"re-run (merge) on the filled database: {rerun:.2f} s, rows after {after} (before {rows})")

    med = statistics.median(times)
    print(f"dlt: median {med:.2f} s of {args.runs}, {rows} rows, {rows / med:.0f} rows/s")
    print(f"DLT_RESULT rows={rows} median_s={med:.4f} rerun_s={rerun:.4f}")
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
