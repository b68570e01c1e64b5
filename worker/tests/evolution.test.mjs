// Schema evolution under workerd: the Durable Object restarts with new code and keeps its data.
//
// A Worker built from the current mapping.yaml (build/) migrates the v1 dump into PERSISTENT
// Durable Object and KV storage (a temporary folder); then a Worker built from the next schema
// release (tests/evolution/v2_add_priority.yaml, built by scripts/build-worker-variant.sh with
// the shared cargo target folder, ≈ 45 s) starts on the same storage, applies migration 0002 when
// the object starts and serves every row; then the old build is started on it again and must
// refuse (the database is newer than the code) without touching anything.
//
// Environment:
//   KV2SQL_SKIP_VARIANT=1        skip this file (the variant build); CI runs it
//   KV2SQL_VARIANT_V2_BUILD=dir  use that already built variant instead of building one
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  WORKER_DIR,
  assertSameDump,
  call,
  exportDump,
  kvState,
  loadDump,
  migrate,
  removeDir,
  rowsChanged,
  seedKv,
  startWorker,
  status,
  tempDir,
  upgraded,
} from "./harness.mjs";

const ROOT = join(WORKER_DIR, "..");
const V2_MAPPING = join(ROOT, "tests", "evolution", "v2_add_priority.yaml");
const SKIP = process.env.KV2SQL_SKIP_VARIANT === "1";

/** Builds the Worker of `mapping` into `out` (scripts/build-worker-variant.sh). */
function buildVariant(mapping, out) {
  const r = spawnSync("bash", [join(ROOT, "scripts", "build-worker-variant.sh"), mapping, out], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 30 * 60 * 1000,
  });
  if (r.status !== 0) {
    throw new Error(`build-worker-variant.sh ${mapping} failed (${r.status ?? r.signal}):\n${(r.stdout + r.stderr).slice(-4000)}`);
  }
  const last = r.stderr.trim().split("\n").pop();
  console.log(`# ${last}`);
}

const items = (dumpText) => JSON.parse(JSON.parse(dumpText).find((e) => e.key === "roadmap:items").value).items;

describe(
  "schema evolution: a persisted Durable Object restarts with the v2 build and keeps its data",
  { skip: SKIP ? "KV2SQL_SKIP_VARIANT=1: the variant Worker build is skipped" : false },
  () => {
    let dir; // persistent storage (do/, kv/) and the variant build
    let v2Build;
    let expected; // the upgraded v1 dump: what export must equal
    let exportV1; // the export of the v1 build after its migration
    let kvBefore;
    before(() => {
      dir = tempDir("kv2sql-evolution-");
      v2Build = process.env.KV2SQL_VARIANT_V2_BUILD || join(dir, "build-v2");
      if (!process.env.KV2SQL_VARIANT_V2_BUILD) buildVariant(V2_MAPPING, v2Build);
    });
    after(() => dir && removeDir(dir));

    const start = (buildDir) => startWorker({ persistDir: join(dir, "state"), ...(buildDir ? { buildDir } : {}) });

    test("the variant build carries migration 0002_add_priority, which only adds columns", () => {
      const migrations = readdirSync(join(v2Build, "migrations")).filter((f) => f.endsWith(".sql"));
      assert.deepEqual(migrations, ["0001_initial.sql", "0002_add_priority.sql"]);
      // The fixture's release 1 is this repository's: the copies of 0001 are identical.
      for (const f of ["0001_initial.sql", "0001_initial.json"]) {
        assert.equal(
          readFileSync(join(v2Build, "migrations", f), "utf8"),
          readFileSync(join(ROOT, "generated", "migrations", f), "utf8"),
          `${f}: tests/evolution/v2_add_priority.yaml must extend the released schema 1`,
        );
      }
      const sql = readFileSync(join(v2Build, "migrations", "0002_add_priority.sql"), "utf8");
      assert.match(sql, /ALTER TABLE "items" ADD COLUMN "priority" INTEGER DEFAULT 0;/);
      assert.doesNotMatch(sql, /DROP|kv2sql_old_/, "no rebuild, nothing dropped");
    });

    test("v1 build: migrate the v1 dump into persistent storage; schema version 1", async () => {
      const w = await start();
      try {
        await seedKv(w.kv, loadDump());
        kvBefore = await kvState(w.kv);
        expected = (await upgraded(w.mf)).text;
        const r = await migrate(w.mf);
        assert.equal(r.status, 200, r.text);
        assert.ok(r.json.rows_written > 0);
        const s = await status(w.mf);
        assert.equal(s.json.schema_version, 1, s.text);
        const e = await exportDump(w.mf);
        assertSameDump(e.text, expected);
        exportV1 = e.text;
      } finally {
        await w.mf.dispose();
      }
    });

    test("v2 build on the same storage: migration 0002 applied at start, every row kept", async () => {
      const w = await start(v2Build);
      try {
        assert.deepEqual(await kvState(w.kv), kvBefore, "KV persisted too");
        const s = await status(w.mf);
        assert.equal(s.status, 200, s.text);
        assert.equal(s.json.schema_version, 2, s.text);
        assert.equal(s.json.last_error, null);
        assert.ok(s.json.last_report, "the Durable Object's own KV storage (last_report) survived");

        // Before the next sync, every existing item has the backfilled `priority` (the SQL
        // DEFAULT 0 of `ADD COLUMN`), and export shows it: the items blob gains "priority": 0 on
        // every item. Nothing else differs: with it removed, export is the upgraded dump.
        const e = await exportDump(w.mf);
        assert.equal(e.status, 200, e.text);
        const got = items(e.text);
        assert.equal(got.length, items(expected).length);
        for (const it of got) assert.equal(it.priority, 0, `item ${it.id}: backfilled priority`);
        const parsed = JSON.parse(e.text).map((entry) => {
          if (entry.key !== "roadmap:items") return entry;
          const v = JSON.parse(entry.value);
          for (const it of v.items) delete it.priority;
          return { ...entry, value: JSON.stringify(v) };
        });
        assertSameDump(JSON.stringify(parsed), expected, "v2 export without the backfilled priority");
        assertSameDump(JSON.stringify(parsed), exportV1, "v2 export vs v1 export");

        const api = await call(w.mf, "/api/items", { key: null });
        assert.equal(api.status, 200, api.text);
      } finally {
        await w.mf.dispose();
      }
    });

    test("v2 build: the next migration only resets the backfilled priority; then export = upgraded dump, and a third writes 0", async () => {
      const w = await start(v2Build);
      try {
        // The KV items have no `priority`; a sync binds every column, so it writes NULL
        // (absent) over the backfilled 0: exactly one update per item, nothing else.
        const n = items(expected).length;
        const r = await migrate(w.mf);
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.json.schema_migrations_applied, [], "0002 was applied when the object started");
        for (const t of r.json.tables) {
          const want = t.table === "items" ? { inserted: 0, updated: n, deleted: 0 } : { inserted: 0, updated: 0, deleted: 0 };
          assert.deepEqual({ inserted: t.inserted, updated: t.updated, deleted: t.deleted }, want, t.table);
        }
        assert.ok(r.json.rows_written > 0 && r.json.rows_written <= 2 * n, r.text);
        const e = await exportDump(w.mf);
        assertSameDump(e.text, expected);
        assert.equal(e.text, exportV1, "byte for byte the v1 export");

        const again = await migrate(w.mf);
        assert.equal(again.status, 200, again.text);
        assert.equal(rowsChanged(again.json), 0, again.text);
        assert.equal(again.json.rows_written, 0, again.text);
        assert.equal((await status(w.mf)).json.schema_version, 2);
      } finally {
        await w.mf.dispose();
      }
    });

    test("v2 build: the divergence guard still sees writes after the schema upgrade", async () => {
      const w = await start(v2Build);
      try {
        assert.equal((await status(w.mf)).json.phase, "migrated");
        const v2 = await call(w.mf, "/api/_v2write?op=edit", { method: "POST" });
        assert.equal(v2.status, 200, v2.text);
        const r = await migrate(w.mf);
        assert.equal(r.status, 409, r.text);
        assert.deepEqual(r.json.tables, [{ table: "items", rows: 1 }]);
        const forced = await migrate(w.mf, "?force=1");
        assert.equal(forced.status, 200, forced.text);
        assert.equal((await exportDump(w.mf)).text, exportV1, "the forced run restored the KV data");
      } finally {
        await w.mf.dispose();
      }
    });

    test("the old (v1) build on the v2 database refuses every route with a clear error", async () => {
      const w = await start();
      try {
        const want = /the database is at schema version 2 \(add_priority\), newer than this build's 1/;
        for (const [path, method, key] of [
          ["/api/migrate/status", "GET", undefined],
          ["/api/export", "GET", undefined],
          ["/api/migrate", "POST", undefined],
          ["/api/migrate?dry_run=1", "POST", undefined],
          ["/api/items", "GET", null],
          ["/api/feed", "GET", null],
        ]) {
          const r = await call(w.mf, path, { method, ...(key === null ? { key: null } : {}) });
          assert.equal(r.status, 500, `${method} ${path}: ${r.text}`);
          assert.equal(r.json.kind, "schema", r.text);
          assert.match(r.json.message, want, r.text);
        }
        assert.deepEqual(await kvState(w.kv), kvBefore);
      } finally {
        await w.mf.dispose();
      }
    });

    test("v2 build again: nothing was corrupted by the refused old build", async () => {
      const w = await start(v2Build);
      try {
        const s = await status(w.mf);
        assert.equal(s.status, 200, s.text);
        assert.equal(s.json.schema_version, 2);
        const e = await exportDump(w.mf);
        assert.equal(e.text, exportV1, "export byte for byte unchanged");
        const r = await migrate(w.mf);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.rows_written, 0, r.text);
        assert.equal((await call(w.mf, "/api/items", { key: null })).status, 200);
      } finally {
        await w.mf.dispose();
      }
    });
  },
);

if (!SKIP && !existsSync(V2_MAPPING)) throw new Error(`${V2_MAPPING} is missing`);
