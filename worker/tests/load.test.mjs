// Load (bounded, in-process: Miniflare's dispatchFetch, no ports): 50 concurrent requests mixing
// POST /api/migrate, GET /api/items and GET /api/feed against one Durable Object; and the admin
// key never leaving the Worker (responses and workerd's captured log output).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  ADMIN_KEY,
  assertSameDump,
  call,
  exportDump,
  loadDump,
  migrate,
  rowsChanged,
  seedKv,
  startWorker,
  upgraded,
} from "./harness.mjs";

const N = 50;

describe("50 concurrent requests against one Durable Object", () => {
  let w;
  const logs = [];
  const bodies = [];
  let expected;
  let single; // the export after one migration, from another Worker
  before(async () => {
    const one = await startWorker();
    try {
      await seedKv(one.kv, loadDump());
      assert.equal((await migrate(one.mf)).status, 200);
      single = (await exportDump(one.mf)).text;
    } finally {
      await one.mf.dispose();
    }
    w = await startWorker({ logs });
    await seedKv(w.kv, loadDump());
    expected = (await upgraded(w.mf)).text;
  });
  after(() => w.mf.dispose());

  test(`${N} mixed requests at once: all 2xx, one migration's worth of writes, final export = one migration`, { timeout: 120_000 }, async () => {
    const started = Date.now();
    const kinds = Array.from({ length: N }, (_, i) => ["migrate", "items", "feed"][i % 3]);
    const rs = await Promise.all(
      kinds.map((k, i) => {
        if (k === "migrate") return migrate(w.mf);
        if (k === "items") return call(w.mf, "/api/items", { key: null });
        return call(w.mf, `/api/feed?limit=${1 + (i % 200)}`, { key: null });
      }),
    );
    const ms = Date.now() - started;
    rs.forEach((r, i) => {
      bodies.push(r.text);
      assert.ok(r.status >= 200 && r.status < 300, `#${i} ${kinds[i]}: ${r.status} ${r.text.slice(0, 300)}`);
      assert.ok(r.json !== undefined, `#${i} ${kinds[i]}: JSON body`);
    });
    const migrations = rs.filter((_, i) => kinds[i] === "migrate");
    const writers = migrations.filter((r) => r.json.rows_written > 0);
    assert.equal(writers.length, 1, "serialised: only the first migration finds work");
    for (const r of migrations) if (r !== writers[0]) assert.equal(rowsChanged(r.json), 0, r.text);
    const e = await exportDump(w.mf);
    assertSameDump(e.text, expected);
    assert.equal(e.text, single, "byte for byte the export of a single migration");
    console.log(`# ${N} concurrent requests in ${ms} ms`);
    assert.ok(ms < 60_000, `${ms} ms`);
  });

  test("after the load: items and feed as after one migration", async () => {
    const one = await startWorker();
    try {
      await seedKv(one.kv, loadDump());
      await migrate(one.mf);
      for (const p of ["/api/items", "/api/feed", "/api/feed?limit=200"]) {
        const a = await call(w.mf, p, { key: null });
        const b = await call(one.mf, p, { key: null });
        assert.equal(a.status, 200);
        assert.equal(a.text, b.text, p);
      }
    } finally {
      await one.mf.dispose();
    }
  });

  test("bodies over the bound get 413 on every route, and change nothing", async () => {
    const before = (await exportDump(w.mf)).text;
    for (const size of [1025, 64 * 1024, 1024 * 1024]) {
      const r = await migrate(w.mf, "", { body: "x".repeat(size) });
      assert.equal(r.status, 413, `${size}: ${r.text}`);
      bodies.push(r.text);
    }
    // Wrong methods are refused before the body is looked at (405).
    const r = await call(w.mf, "/api/items", { method: "PATCH", key: null, body: "x".repeat(4096) });
    assert.equal(r.status, 405, r.text);
    bodies.push(r.text);
    assert.equal((await exportDump(w.mf)).text, before);
  });

  test("the admin key never appears in a response body or in workerd's log output", async () => {
    // Wrong keys built from the real one too: none of them may be echoed either.
    for (const auth of [`Bearer ${ADMIN_KEY}x`, `Bearer ${ADMIN_KEY.slice(0, -1)}`, `Basic ${ADMIN_KEY}`, ADMIN_KEY]) {
      const r = await call(w.mf, "/api/migrate/status", { auth });
      assert.equal(r.status, 401, `${auth}: ${r.text}`);
      bodies.push(r.text);
      for (const [k, v] of r.headers) assert.ok(!v.includes(ADMIN_KEY.slice(0, 12)), `header ${k}`);
    }
    for (const p of ["/api/migrate/status", "/api/export"]) bodies.push((await call(w.mf, p)).text);
    bodies.push((await migrate(w.mf)).text);
    // Let workerd flush its output.
    await new Promise((r) => setTimeout(r, 200));
    const logText = logs.join("");
    assert.ok(logText.includes("kv2sql: migrate ok"), "the Worker's log output is captured");
    const needle = ADMIN_KEY.slice(0, 12);
    assert.ok(bodies.length > N);
    bodies.forEach((b, i) => assert.ok(!b.includes(needle), `response #${i} echoes the admin key`));
    assert.ok(!logText.includes(needle), "workerd's log output contains the admin key");
  });
});
