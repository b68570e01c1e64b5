// Schema evolution under workerd: the Durable Object restarts with new code and keeps its data.
//
// A Worker built from the current mapping.yaml (build/, schema version 2) migrates the v1 dump
// into PERSISTENT Durable Object and KV storage (a temporary folder); then a Worker built from the
// next schema release (tests/evolution/v3_add_priority.yaml, built by
// scripts/build-worker-variant.sh with the shared cargo target folder, ≈ 45 s) starts on the same
// storage, applies migration 0003 when the object starts and serves every row; then the old build
// is started on it again and must refuse (the database is newer than the code) without touching
// anything.
//
// Environment:
//   KV2SQL_SKIP_VARIANT=1        skip this file (the variant build); CI runs it
//   KV2SQL_VARIANT_V3_BUILD=dir  use that already built variant instead of building one
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
const V3_MAPPING = join(ROOT, "tests", "evolution", "v3_add_priority.yaml");
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
  "schema evolution: a persisted Durable Object restarts with the v3 build and keeps its data",
  { skip: SKIP ? "KV2SQL_SKIP_VARIANT=1: the variant Worker build is skipped" : false },
  () => {
    let dir; // persistent storage (do/, kv/) and the variant build
    let v3Build;
    let expected; // the upgraded v1 dump: what export must equal
    let exportCurrent; // the export of the current build after its migration
    let kvBefore;
    before(() => {
      dir = tempDir("kv2sql-evolution-");
      v3Build = process.env.KV2SQL_VARIANT_V3_BUILD || join(dir, "build-v3");
      if (!process.env.KV2SQL_VARIANT_V3_BUILD) buildVariant(V3_MAPPING, v3Build);
    });
    after(() => dir && removeDir(dir));

    const start = (buildDir) => startWorker({ persistDir: join(dir, "state"), ...(buildDir ? { buildDir } : {}) });

    test("the variant build carries migration 0003_add_priority, which only adds columns", () => {
      const migrations = readdirSync(join(v3Build, "migrations")).filter((f) => f.endsWith(".sql"));
      assert.deepEqual(migrations, ["0001_initial.sql", "0002_null_safe_checks.sql", "0003_add_priority.sql"]);
      // The fixture's releases 1 and 2 are this repository's: the copies are identical.
      for (const f of ["0001_initial.sql", "0001_initial.json", "0002_null_safe_checks.sql", "0002_null_safe_checks.json"]) {
        assert.equal(
          readFileSync(join(v3Build, "migrations", f), "utf8"),
          readFileSync(join(ROOT, "generated", "migrations", f), "utf8"),
          `${f}: tests/evolution/v3_add_priority.yaml must extend the released schema 2`,
        );
      }
      const sql = readFileSync(join(v3Build, "migrations", "0003_add_priority.sql"), "utf8");
      assert.match(sql, /ALTER TABLE "items" ADD COLUMN "priority" INTEGER DEFAULT 0;/);
      assert.doesNotMatch(sql, /DROP|kv2sql_old_/, "no rebuild, nothing dropped");
    });

    test("current build: migrate the v1 dump into persistent storage; schema version 2", async () => {
      const w = await start();
      try {
        await seedKv(w.kv, loadDump());
        kvBefore = await kvState(w.kv);
        expected = (await upgraded(w.mf)).text;
        const r = await migrate(w.mf);
        assert.equal(r.status, 200, r.text);
        assert.ok(r.json.rows_written > 0);
        const s = await status(w.mf);
        assert.equal(s.json.schema_version, 2, s.text);
        const e = await exportDump(w.mf);
        assertSameDump(e.text, expected);
        exportCurrent = e.text;
      } finally {
        await w.mf.dispose();
      }
    });

    test("v3 build on the same storage: migration 0003 applied at start, every row kept", async () => {
      const w = await start(v3Build);
      try {
        assert.deepEqual(await kvState(w.kv), kvBefore, "KV persisted too");
        const s = await status(w.mf);
        assert.equal(s.status, 200, s.text);
        assert.equal(s.json.schema_version, 3, s.text);
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
        assertSameDump(JSON.stringify(parsed), expected, "v3 export without the backfilled priority");
        assertSameDump(JSON.stringify(parsed), exportCurrent, "v3 export vs the current build's export");

        const api = await call(w.mf, "/api/items", { key: null });
        assert.equal(api.status, 200, api.text);
      } finally {
        await w.mf.dispose();
      }
    });

    test("v3 build: the next migration only resets the backfilled priority; then export = upgraded dump, and a third writes 0", async () => {
      const w = await start(v3Build);
      try {
        // The KV items have no `priority`; a sync binds every column, so it writes NULL
        // (absent) over the backfilled 0: exactly one update per item, nothing else.
        const n = items(expected).length;
        const r = await migrate(w.mf);
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.json.schema_migrations_applied, [], "0003 was applied when the object started");
        for (const t of r.json.tables) {
          const want = t.table === "items" ? { inserted: 0, updated: n, deleted: 0 } : { inserted: 0, updated: 0, deleted: 0 };
          assert.deepEqual({ inserted: t.inserted, updated: t.updated, deleted: t.deleted }, want, t.table);
        }
        assert.ok(r.json.rows_written > 0 && r.json.rows_written <= 2 * n, r.text);
        const e = await exportDump(w.mf);
        assertSameDump(e.text, expected);
        assert.equal(e.text, exportCurrent, "byte for byte the current build's export");

        const again = await migrate(w.mf);
        assert.equal(again.status, 200, again.text);
        assert.equal(rowsChanged(again.json), 0, again.text);
        assert.equal(again.json.rows_written, 0, again.text);
        assert.equal((await status(w.mf)).json.schema_version, 3);
      } finally {
        await w.mf.dispose();
      }
    });

    test("v3 build: the divergence guard still sees writes after the schema upgrade", async () => {
      const w = await start(v3Build);
      try {
        assert.equal((await status(w.mf)).json.phase, "migrated");
        const v2 = await call(w.mf, "/api/_v2write?op=edit", { method: "POST" });
        assert.equal(v2.status, 200, v2.text);
        const r = await migrate(w.mf);
        assert.equal(r.status, 409, r.text);
        assert.deepEqual(r.json.tables, [{ table: "items", rows: 1 }]);
        const forced = await migrate(w.mf, "?force=1");
        assert.equal(forced.status, 200, forced.text);
        assert.equal((await exportDump(w.mf)).text, exportCurrent, "the forced run restored the KV data");
      } finally {
        await w.mf.dispose();
      }
    });

    test("the old (current) build on the v3 database refuses every route with a clear error", async () => {
      const w = await start();
      try {
        const want = /the database is at schema version 3 \(add_priority\), newer than this build's 2/;
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

    test("v3 build again: nothing was corrupted by the refused old build", async () => {
      const w = await start(v3Build);
      try {
        const s = await status(w.mf);
        assert.equal(s.status, 200, s.text);
        assert.equal(s.json.schema_version, 3);
        const e = await exportDump(w.mf);
        assert.equal(e.text, exportCurrent, "export byte for byte unchanged");
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

if (!SKIP && !existsSync(V3_MAPPING)) throw new Error(`${V3_MAPPING} is missing`);

// ------------------------------------------------------------------------------------------
// Release 1 → 2 inside the Durable Object. A Durable Object's storage written by release 1 is
// reconstructed from one written by this build: its SQLite file (persisted by Miniflare) gets
// release 1's table definitions back through the distribution's sqlite3 (`PRAGMA
// writable_schema`: only the CHECK text differs, and the test asserts that the result is exactly
// 0001_initial.sql's) and loses its row for migration 2. This build then starts on it.

const SQLITE3 = process.env.SQLITE3 || "sqlite3";
const sqlite3Version = (() => {
  const r = spawnSync(SQLITE3, ["--version"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
})();
if (!sqlite3Version && process.env.CI === "true") {
  throw new Error(`${SQLITE3} is missing: CI needs the distribution's sqlite3 (scripts/setup.sh installs it)`);
}

/** Runs `sqlite3 db` with `sql` on standard input; fails on any error output. */
function sqlite3(db, sql) {
  const r = spawnSync(SQLITE3, ["-batch", db], { input: sql, encoding: "utf8" });
  if (r.status !== 0 || r.stderr) throw new Error(`sqlite3 ${db} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** The Durable Object's SQLite file under the persisted storage folder. */
function doDatabase(root) {
  const found = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".sqlite") && e.name !== "metadata.sqlite") found.push(p);
    }
  };
  walk(root);
  assert.equal(found.length, 1, `one Durable Object database: ${found.join(", ")}`);
  return found[0];
}

/** Every table's CREATE statement, by name. */
function tableSql(db) {
  const rows = JSON.parse(sqlite3(db, ".mode json\nSELECT name, sql FROM sqlite_schema WHERE type = 'table';\n") || "[]");
  return new Map(rows.map((r) => [r.name, r.sql]));
}

/** Release 1's CREATE TABLE statements (0001_initial.sql), by table name. */
function release1Tables() {
  const text = readFileSync(join(ROOT, "generated", "migrations", "0001_initial.sql"), "utf8");
  return new Map([...text.matchAll(/^CREATE TABLE "([a-z0-9_]+)" \([\s\S]*?\n\) STRICT;/gm)].map((m) => [m[1], m[0].slice(0, -1)]));
}

const quote = (s) => `'${s.replaceAll("'", "''")}'`;

describe(
  "schema evolution: a Durable Object written by release 1 upgrades to schema 2 at start and keeps every row",
  { skip: sqlite3Version ? false : `${SQLITE3} is missing: install it (scripts/setup.sh) to run this` },
  () => {
    let dir;
    let exportBefore;
    let schema2;
    let db;
    before(() => {
      dir = tempDir("kv2sql-release1-");
    });
    after(() => dir && removeDir(dir));
    const start = () => startWorker({ persistDir: join(dir, "state") });

    test("this build migrates the v1 dump into persistent storage (schema 2)", async () => {
      const w = await start();
      try {
        await seedKv(w.kv, loadDump());
        const r = await migrate(w.mf);
        assert.equal(r.status, 200, r.text);
        assert.equal((await status(w.mf)).json.schema_version, 2);
        exportBefore = (await exportDump(w.mf)).text;
        assertSameDump(exportBefore, (await upgraded(w.mf)).text);
      } finally {
        await w.mf.dispose();
      }
      db = doDatabase(join(dir, "state", "do"));
      schema2 = tableSql(db);
    });

    test("the storage is turned into release 1's: 0001's tables exactly, migration 2 not applied", () => {
      const release1 = release1Tables();
      assert.equal(release1.size, 20);
      let script = "PRAGMA writable_schema = ON;\n";
      let changed = 0;
      for (const [name, want] of release1) {
        const now = schema2.get(name);
        assert.ok(now, `table ${name}`);
        const old = now.replace(/"([a-z0-9_]+)" IS NULL OR json_valid\("\1"\)/g, 'json_valid("$1")');
        assert.equal(old, want, `${name}: schema 2 differs from release 1 only in the NULL-safe CHECKs`);
        if (old !== now) {
          changed += 1;
          script += `UPDATE sqlite_schema SET sql = ${quote(old)} WHERE type = 'table' AND name = ${quote(name)};\n`;
        }
      }
      assert.equal(changed, 16, "the tables with a nullable json column");
      const cookie = Number(sqlite3(db, "PRAGMA schema_version;\n").trim());
      script += `PRAGMA schema_version = ${cookie + 1};\nPRAGMA writable_schema = OFF;\nDELETE FROM kv2sql_migrations WHERE version = 2;\n`;
      sqlite3(db, script);
      assert.equal(sqlite3(db, "SELECT group_concat(version) FROM kv2sql_migrations;\n").trim(), "1");
      for (const [name, want] of release1) assert.equal(tableSql(db).get(name), want, name);
      // What release 1's databases look like to SQLite before 3.45: json_valid(NULL) is 0.
      const check = sqlite3(db, "PRAGMA integrity_check;\n");
      if (/^3\.(\d+)\./.test(sqlite3Version) && Number(sqlite3Version.split(".")[1]) < 45) {
        assert.match(check, /CHECK constraint failed/, `release 1 on ${sqlite3Version}`);
      }
    });

    test("this build starts on it: 0002 applied at start, every row and the export unchanged, nothing rewritten", async () => {
      const w = await start();
      try {
        const s = await status(w.mf);
        assert.equal(s.status, 200, s.text);
        assert.equal(s.json.schema_version, 2, s.text);
        const e = await exportDump(w.mf);
        assert.equal(e.status, 200, e.text);
        assert.equal(e.text, exportBefore, "export byte for byte unchanged");
        const r = await migrate(w.mf);
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.json.schema_migrations_applied, [], "0002 was applied when the object started");
        assert.equal(rowsChanged(r.json), 0, r.text);
        assert.equal(r.json.rows_written, 0, r.text);
      } finally {
        await w.mf.dispose();
      }
      assert.deepEqual(tableSql(db), schema2, "schema 2's tables, as a new object has them");
      assert.equal(sqlite3(db, "SELECT group_concat(version) FROM kv2sql_migrations;\n").trim(), "1,2");
      assert.equal(sqlite3(db, "PRAGMA integrity_check;\n").trim(), "ok", `sqlite3 ${sqlite3Version}`);
    });
  },
);

