// Admin-key handling, methods and body size of every admin route.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ADMIN_KEY, call, kvState, loadDump, migrate, seedKv, startWorker } from "./harness.mjs";

const ADMIN_ROUTES = [
  ["POST", "/api/migrate"],
  ["GET", "/api/migrate/status"],
  ["GET", "/api/export"],
];

describe("without an ADMIN_KEY (fail closed)", () => {
  for (const [label, adminKey] of [["unset", null], ["empty", ""]]) {
    describe(`ADMIN_KEY ${label}`, () => {
      let w;
      before(async () => {
        w = await startWorker({ adminKey });
        await seedKv(w.kv, loadDump());
      });
      after(() => w.mf.dispose());

      for (const [method, path] of ADMIN_ROUTES) {
        test(`${method} ${path} → 503, nothing read or written`, async () => {
          const kvBefore = await kvState(w.kv);
          for (const opts of [{ key: "" }, { key: "anything" }, { key: null }]) {
            const r = await call(w.mf, path, { method, ...opts });
            assert.equal(r.status, 503, r.text);
            assert.equal(r.json.kind, "auth");
          }
          assert.deepEqual(await kvState(w.kv), kvBefore);
        });
      }
    });
  }
});

describe("with an ADMIN_KEY", () => {
  let w;
  before(async () => {
    w = await startWorker();
    await seedKv(w.kv, loadDump());
  });
  after(() => w.mf.dispose());

  const bad = [
    ["missing header", { key: null }],
    ["empty header", { auth: "" }],
    ["wrong key", { key: "wrong" }],
    ["key with a suffix", { key: ADMIN_KEY + "x" }],
    ["key prefix", { key: ADMIN_KEY.slice(0, -1) }],
    ["wrong scheme", { auth: `Basic ${ADMIN_KEY}` }],
    ["no scheme", { auth: ADMIN_KEY }],
    ["scheme only", { auth: "Bearer" }],
  ];
  for (const [method, path] of ADMIN_ROUTES) {
    for (const [label, opts] of bad) {
      test(`${method} ${path}: ${label} → 401`, async () => {
        const r = await call(w.mf, path, { method, ...opts });
        assert.equal(r.status, 401, r.text);
        assert.equal(r.json.kind, "auth");
        assert.equal(r.headers.get("www-authenticate"), "Bearer");
        assert.ok(!r.text.includes(ADMIN_KEY), "the key is never echoed");
      });
    }
  }

  test("401 before any read: a rejected migrate leaves no status", async () => {
    const r = await call(w.mf, "/api/migrate/status");
    assert.equal(r.status, 200);
    assert.equal(r.json.last_report, null);
  });

  test("right key → 200 (scheme is case-insensitive)", async () => {
    assert.equal((await call(w.mf, "/api/migrate/status")).status, 200);
    assert.equal((await call(w.mf, "/api/migrate/status", { auth: `bearer ${ADMIN_KEY}` })).status, 200);
    const r = await migrate(w.mf);
    assert.equal(r.status, 200, r.text);
  });

  test("wrong methods → 405 with Allow", async () => {
    for (const method of ["GET", "PUT", "DELETE", "PATCH"]) {
      const r = await call(w.mf, "/api/migrate", { method });
      assert.equal(r.status, 405, `${method}: ${r.text}`);
      assert.equal(r.headers.get("allow"), "POST");
    }
    for (const path of ["/api/export", "/api/migrate/status", "/api/feed"]) {
      const r = await call(w.mf, path, { method: "POST" });
      assert.equal(r.status, 405, `${path}: ${r.text}`);
      assert.equal(r.headers.get("allow"), "GET");
    }
    const items = await call(w.mf, "/api/items", { method: "PATCH" });
    assert.equal(items.status, 405, items.text);
    assert.equal(items.headers.get("allow"), "GET, POST, PUT, DELETE");
  });

  test("unknown route → 404", async () => {
    assert.equal((await call(w.mf, "/api/nope")).status, 404);
    assert.equal((await call(w.mf, "/")).status, 404);
  });

  test("request body over 1 KiB → 413; a small one is ignored", async () => {
    const big = "x".repeat(1025);
    const r = await migrate(w.mf, "", { body: big });
    assert.equal(r.status, 413, r.text);
    const chunked = new ReadableStream({
      start(c) {
        for (let i = 0; i < 4; i++) c.enqueue(new TextEncoder().encode("y".repeat(400)));
        c.close();
      },
    });
    const r2 = await migrate(w.mf, "", { body: chunked });
    assert.equal(r2.status, 413, r2.text);
    const r3 = await migrate(w.mf, "", { body: "{}" });
    assert.equal(r3.status, 200, r3.text);
  });

  test("an unauthenticated big body is refused as 401, not read", async () => {
    const r = await migrate(w.mf, "", { key: "wrong", body: "x".repeat(5000) });
    assert.equal(r.status, 401);
  });
});
