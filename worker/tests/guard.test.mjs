// The divergence guard and the lifecycle under workerd: a migration never overwrites what was
// written to the Durable Object's SQLite outside a migration (here through the test-only route
// POST /api/_v2write, which writes as the v2 app would), a cut-over database refuses every
// migration, and GET /api/migrate/status shows each phase. Each `describe` starts its own
// Worker; tests inside one run in order and build on each other.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { call, exportDump, loadDump, migrate, seedKv, startWorker, status } from "./harness.mjs";

const v2write = (mf, op) => call(mf, `/api/_v2write?op=${op}`, { method: "POST" });
const cutover = (mf, method = "POST") => call(mf, "/api/cutover", { method });
const itemsOf = (dumpText) =>
  JSON.parse(JSON.parse(dumpText).find((e) => e.key === "roadmap:items").value).items;

async function started() {
  const w = await startWorker();
  await seedKv(w.kv, loadDump());
  return w;
}

async function v2Writes(mf, ops) {
  for (const op of ops) {
    const r = await v2write(mf, op);
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.rows_written > 0, r.text);
  }
}

describe("the divergence guard: a re-run after v2 wrote refuses and changes nothing", () => {
  let w;
  before(async () => {
    w = await started();
  });
  after(() => w.mf.dispose());

  test("status before any migration: never migrated", async () => {
    const s = await status(w.mf);
    assert.equal(s.status, 200, s.text);
    assert.equal(s.json.phase, "never_migrated");
    assert.equal(s.json.diverged, false);
    assert.equal(s.json.last_migrated_at, null);
  });

  test("first migration, then an unchanged re-run writes 0 data rows", async () => {
    const first = await migrate(w.mf);
    assert.equal(first.status, 200, first.text);
    assert.ok(first.json.rows_written > 0);
    const again = await migrate(w.mf);
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.rows_written, 0, again.text);
    assert.ok(again.json.bookkeeping_writes > 0, again.text);
    assert.equal(again.json.diverged, undefined);
    const s = await status(w.mf);
    assert.equal(s.json.phase, "migrated");
    assert.match(s.json.kv_digest, /^[0-9a-f]{64}$/);
    assert.match(s.json.last_migrated_at, /^\d{4}-\d\d-\d\dT/);
    assert.equal(s.json.diverged, false);
  });

  let exportAfterV2;
  test("v2 edits an item and creates one: the migration answers 409 and changes nothing", async () => {
    await v2Writes(w.mf, ["edit", "insert"]);
    exportAfterV2 = (await exportDump(w.mf)).text;
    const items = itemsOf(exportAfterV2);
    assert.equal(items[0].title, "edited in v2");
    assert.ok(items.some((i) => i.id === "created-in-v2"));
    for (let i = 0; i < 2; i++) {
      const r = await migrate(w.mf);
      assert.equal(r.status, 409, r.text);
      assert.equal(r.json.kind, "diverged");
      assert.deepEqual(r.json.tables, [{ table: "items", rows: 2 }]);
      assert.match(r.json.message, /--force/);
      assert.equal((await exportDump(w.mf)).text, exportAfterV2, "a refused migration changed the data");
    }
    const s = await status(w.mf);
    assert.equal(s.json.diverged, true);
    assert.deepEqual(s.json.diverged_tables, [{ table: "items", rows: 2 }]);
    assert.equal(s.json.last_error.kind, "diverged");
  });

  test("a delete is counted in its own table", async () => {
    await v2Writes(w.mf, ["delete"]);
    const r = await migrate(w.mf);
    assert.equal(r.status, 409, r.text);
    assert.deepEqual(r.json.tables, [
      { table: "items", rows: 2 },
      { table: "search_terms", rows: 1 },
    ]);
    exportAfterV2 = (await exportDump(w.mf)).text;
  });

  test("a dry run shows the divergence and writes nothing", async () => {
    const r = await migrate(w.mf, "?dry_run=1");
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.dry_run, true);
    assert.equal(r.json.rows_written, 0);
    assert.deepEqual(r.json.diverged, [
      { table: "items", rows: 2 },
      { table: "search_terms", rows: 1 },
    ]);
    assert.equal((await exportDump(w.mf)).text, exportAfterV2);
  });

  test("?force=1 overwrites, says what it overwrote, and re-runs are repeatable again", async () => {
    const r = await migrate(w.mf, "?force=1");
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.forced, true);
    assert.deepEqual(r.json.diverged, [
      { table: "items", rows: 2 },
      { table: "search_terms", rows: 1 },
    ]);
    assert.ok(r.json.rows_written > 0);
    const items = itemsOf((await exportDump(w.mf)).text);
    assert.notEqual(items[0].title, "edited in v2");
    assert.ok(!items.some((i) => i.id === "created-in-v2"));
    const again = await migrate(w.mf);
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.rows_written, 0);
    assert.equal((await status(w.mf)).json.diverged, false);
  });
});

describe("the cutover: every migration refused, even forced, until undone", () => {
  let w;
  before(async () => {
    w = await started();
  });
  after(() => w.mf.dispose());

  test("a database never migrated cannot be cut over", async () => {
    const r = await cutover(w.mf);
    assert.equal(r.status, 409, r.text);
    assert.equal(r.json.kind, "lifecycle");
  });

  test("cutover is an admin route, POST or DELETE only", async () => {
    assert.equal((await call(w.mf, "/api/cutover", { method: "POST", key: null })).status, 401);
    const r = await call(w.mf, "/api/cutover");
    assert.equal(r.status, 405);
    assert.equal(r.headers.get("Allow"), "POST, DELETE");
  });

  let exported;
  test("after the cutover v2 writes, and migrate refuses with and without force", async () => {
    assert.equal((await migrate(w.mf)).status, 200);
    const c = await cutover(w.mf);
    assert.equal(c.status, 200, c.text);
    assert.equal(c.json.state.phase, "cut_over");
    let s = await status(w.mf);
    assert.equal(s.json.phase, "cut_over");
    assert.match(s.json.cut_over_at, /^\d{4}-/);
    await v2Writes(w.mf, ["edit"]);
    exported = (await exportDump(w.mf)).text;
    for (const q of ["", "?force=1", "?dry_run=1", "?force=1&dry_run=1"]) {
      const r = await migrate(w.mf, q);
      assert.equal(r.status, 409, `${q}: ${r.text}`);
      assert.equal(r.json.kind, "cut_over");
      assert.match(r.json.message, /DELETE \/api\/cutover/);
    }
    assert.equal((await exportDump(w.mf)).text, exported);
    s = await status(w.mf);
    assert.deepEqual(s.json.diverged_tables, [{ table: "items", rows: 1 }]);
  });

  test("DELETE /api/cutover undoes it; v2's writes stay guarded", async () => {
    const u = await cutover(w.mf, "DELETE");
    assert.equal(u.status, 200, u.text);
    assert.equal(u.json.state.phase, "migrated");
    assert.equal((await status(w.mf)).json.phase, "migrated");
    const again = await cutover(w.mf, "DELETE");
    assert.equal(again.status, 409, again.text);
    const r = await migrate(w.mf);
    assert.equal(r.status, 409, r.text);
    assert.equal(r.json.kind, "diverged");
    assert.equal((await exportDump(w.mf)).text, exported);
    assert.equal((await migrate(w.mf, "?force=1")).status, 200);
    assert.equal((await migrate(w.mf)).json.rows_written, 0);
  });
});
