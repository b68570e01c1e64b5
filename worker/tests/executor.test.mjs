// The Durable Object SQL executor (DoSql) against workerd's SQLite: exact INTEGER/REAL/TEXT/NULL
// round trips including integers beyond 2^53, query wrapping, scripts, rollback. The checks run
// inside the Worker (POST /api/_selftest, enabled by KV2SQL_SELFTEST=1) in a transaction that is
// always rolled back.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { call, startWorker } from "./harness.mjs";

let w;
before(async () => {
  w = await startWorker();
});
after(() => w.mf.dispose());

test("every executor check passes, and the self-test leaves nothing behind", async () => {
  const r = await call(w.mf, "/api/_selftest", { method: "POST" });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.error, undefined, r.text);
  const failed = r.json.checks.filter((c) => !c.ok);
  assert.deepEqual(failed, [], JSON.stringify(failed, null, 2));
  assert.ok(r.json.checks.length >= 20);
  assert.equal(r.json.rolled_back, true);
});

test("the self-test route is off unless KV2SQL_SELFTEST=1", async () => {
  const off = await startWorker({ selftest: false });
  try {
    const r = await call(off.mf, "/api/_selftest", { method: "POST" });
    assert.equal(r.status, 404, r.text);
    const u = await call(off.mf, "/api/_upgraded", { method: "POST" });
    assert.equal(u.status, 404, u.text);
  } finally {
    await off.mf.dispose();
  }
});
