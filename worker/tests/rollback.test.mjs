// Rollback keeps v2's writes: migrate, (cut over,) v2 writes through its write routes, GET
// /api/export, `wrangler kv bulk put` of that export into a fresh local namespace, and the v1 data
// read back from that namespace is v1 plus v2's writes, in v1's format. Also: the write routes'
// authentication and refusals.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import {
  COMPATIBILITY_DATE,
  WORKER_DIR,
  call,
  exportDump,
  kvState,
  loadDump,
  migrate,
  removeDir,
  seedKv,
  startWorker,
  tempDir,
} from "./harness.mjs";

const WRANGLER = join(WORKER_DIR, "node_modules", ".bin", "wrangler");
/** The namespace id of ROADMAP_KV in wrangler.toml: wrangler's local KV files go under it. */
const NAMESPACE_ID = "00000000000000000000000000000000";
const AGENT = { btcAddress: "bc1qv2writer", displayName: "V2 Writer", agentId: 7 };

const write = (mf, method, path, body, opts = {}) =>
  call(mf, path, {
    method,
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: { "Content-Type": "application/json" },
    ...opts,
  });

/** `wrangler kv bulk put <file> --local --persist-to <dir>`, as an operator rolls back. */
function wranglerBulkPut(file, dir) {
  const r = runBulkPut(file, dir);
  assert.equal(r.status, 0, `wrangler kv bulk put failed: ${r.stderr}\n${r.stdout}`);
}

function runBulkPut(file, dir) {
  assert.ok(existsSync(WRANGLER), `${WRANGLER} is missing: run scripts/setup.sh`);
  return spawnSync(
    WRANGLER,
    ["kv", "bulk", "put", file, "--binding", "ROADMAP_KV", "--local", "--persist-to", dir],
    { cwd: WORKER_DIR, env: { ...process.env, WRANGLER_SEND_METRICS: "false" }, encoding: "utf8" },
  );
}

/** Every key of the local namespace wrangler persisted in `dir`, read with Miniflare. */
async function readPersistedKv(dir) {
  const mf = new Miniflare({
    modules: true,
    script: "export default { fetch() { return new Response(null, { status: 404 }); } };",
    compatibilityDate: COMPATIBILITY_DATE,
    kvNamespaces: { ROADMAP_KV: NAMESPACE_ID },
    kvPersist: join(dir, "v3", "kv"),
  });
  try {
    const state = await kvState(await mf.getKVNamespace("ROADMAP_KV"));
    return state.map((e) => ({ ...e, text: Buffer.from(e.value, "base64").toString("utf8") }));
  } finally {
    await mf.dispose();
  }
}

const byKey = (dump) => Object.fromEntries(dump.map((e) => [e.key, e]));

describe("rollback keeps v2's writes", () => {
  let w;
  let dir;
  let v1; // the export right after the migration: v1's data, upgraded
  let edited;
  let created;
  let events = [];
  let readBack;
  before(async () => {
    dir = tempDir("kv2sql-rollback-");
    w = await startWorker();
    await seedKv(w.kv, loadDump());

    // 1. Migrate.
    const m = await migrate(w.mf);
    assert.equal(m.status, 200, m.text);
    v1 = byKey((await exportDump(w.mf)).json);

    // 2. Cut over.
    const cut = await call(w.mf, "/api/cutover", { method: "POST" });
    assert.equal(cut.status, 200, cut.text);

    // 3. v2 writes through its write routes: edit, insert and delete items, add events.
    const e = await write(w.mf, "PUT", "/api/items", { id: "r_b84d02f6", title: "Edited in v2" });
    assert.equal(e.status, 200, e.text);
    edited = e.json;
    const c = await write(w.mf, "POST", "/api/items", {
      title: "Created in v2",
      description: "a new item",
      githubUrl: "https://github.com/aibtcdev/new-thing",
      agent: AGENT,
    });
    assert.equal(c.status, 201, c.text);
    created = c.json;
    const d = await write(w.mf, "DELETE", "/api/items", { id: "r_9d8e7f60" });
    assert.equal(d.status, 200, d.text);
    for (const body of [
      { type: "item.created", agent: AGENT, itemId: created.id, itemTitle: created.title, data: { status: "todo" } },
      { type: "item.deleted", agent: AGENT, itemId: "r_9d8e7f60", itemTitle: "gone" },
    ]) {
      const r = await write(w.mf, "POST", "/api/events", body);
      assert.equal(r.status, 201, r.text);
      events.unshift(r.json);
    }

    // A migration run by mistake now refuses, even forced: v2's writes stay.
    for (const q of ["", "?force=1"]) {
      const again = await migrate(w.mf, q);
      assert.equal(again.status, 409, again.text);
      assert.equal(again.json.kind, "cut_over", again.text);
    }

    // 4. GET /api/export; 5. `wrangler kv bulk put` of it into a fresh local namespace.
    const x = await exportDump(w.mf);
    assert.equal(x.status, 200, x.text);
    const file = join(dir, "export.json");
    writeFileSync(file, x.text);
    wranglerBulkPut(file, join(dir, "kv"));
    readBack = byKey(await readPersistedKv(join(dir, "kv")));
  });
  after(async () => {
    await w?.mf.dispose();
    removeDir(dir);
  });

  test("the namespace holds exactly v1's keys, with their expirations", () => {
    assert.deepEqual(Object.keys(readBack).sort(), Object.keys(v1).sort());
    for (const [key, entry] of Object.entries(v1)) {
      assert.equal(readBack[key].expiration, entry.expiration ?? null, key);
      assert.equal(readBack[key].metadata, null, key);
    }
  });

  test("items: the edited title, the new item last, the deleted item gone, everything else unchanged", () => {
    const before = JSON.parse(v1["roadmap:items"].value);
    const after = JSON.parse(readBack["roadmap:items"].text);
    assert.equal(after.version, before.version);
    assert.equal(after.writeVersion, before.writeVersion + 3, "one saveData per write");
    assert.ok(after.updatedAt >= created.updatedAt, `${after.updatedAt} after the create`);
    const expected = before.items
      .filter((i) => i.id !== "r_9d8e7f60")
      .map((i) => (i.id === "r_b84d02f6" ? { ...i, title: "Edited in v2", updatedAt: edited.updatedAt } : i));
    expected.push(created);
    assert.deepEqual(after.items, expected);
    assert.ok(!after.items.some((i) => i.id === "r_9d8e7f60"));
  });

  test("the new item is a v1 item", () => {
    const after = JSON.parse(readBack["roadmap:items"].text);
    const item = after.items.find((i) => i.id === created.id);
    assert.match(item.id, /^r_[0-9a-f]{8}$/);
    const v1Keys = [
      "id", "title", "description", "githubUrl", "githubData", "founder", "contributors", "status",
      "createdAt", "updatedAt", "claimedBy", "deliverables", "ratings", "reputation", "goals", "mentions", "leader",
    ];
    assert.deepEqual(Object.keys(item).sort(), v1Keys.sort());
    assert.deepEqual(item.founder, { ...AGENT, profileUrl: `https://aibtc.com/agents/${AGENT.btcAddress}` });
    assert.deepEqual(item.contributors, [AGENT]);
    assert.equal(item.leader.btcAddress, AGENT.btcAddress);
    assert.match(item.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  test("events: the added events first, newest first, then v1's", () => {
    const before = JSON.parse(v1["roadmap:events"].value);
    const after = JSON.parse(readBack["roadmap:events"].text);
    assert.deepEqual(after, { ...before, events: [...events, ...before.events].slice(0, 200) });
    assert.equal(after.events[0].type, "item.deleted");
    assert.match(after.events[0].id, /^e_[0-9a-f]{8}$/);
  });

  test("every other key is v1's value, byte for byte", () => {
    for (const key of Object.keys(v1)) {
      if (key === "roadmap:items" || key === "roadmap:events") continue;
      assert.equal(readBack[key].text, v1[key].value, key);
    }
  });

  test("the read API serves v2's writes too", async () => {
    const items = (await call(w.mf, "/api/items", { key: null })).json.items;
    assert.equal(items.find((i) => i.id === "r_b84d02f6").title, "Edited in v2");
    const feed = (await call(w.mf, "/api/feed", { key: null })).json.events;
    assert.equal(feed[0].id, events[0].id);
  });
});

describe("rollback when a cache entry expired meanwhile", () => {
  let dir;
  before(() => {
    dir = tempDir("kv2sql-rollback-expired-");
  });
  after(() => removeDir(dir));

  test("scripts/drop-expired.mjs leaves out what KV would refuse; the rest goes in", async () => {
    const past = Math.floor(Date.now() / 1000) - 10;
    const dump = loadDump().map((e) => (e.key.startsWith("roadmap:agent-cache:") ? { ...e, expiration: past } : e));
    const file = join(dir, "export.json");
    writeFileSync(file, JSON.stringify(dump));
    const refused = runBulkPut(file, join(dir, "refused"));
    assert.notEqual(refused.status, 0, "KV refuses an expired entry, and with it the whole bulk put");
    assert.match(refused.stderr + refused.stdout, /[Ii]nvalid expiration/);
    const out = join(dir, "rollback.json");
    const r = spawnSync(process.execPath, [join(WORKER_DIR, "..", "scripts", "drop-expired.mjs"), file, out], {
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /dropped roadmap:agent-cache:/);
    wranglerBulkPut(out, join(dir, "kv"));
    const back = await readPersistedKv(join(dir, "kv"));
    const expected = dump.filter((e) => !e.key.startsWith("roadmap:agent-cache:"));
    assert.deepEqual(
      back.map((e) => [e.key, e.text]),
      expected.map((e) => [e.key, e.value]).sort(([a], [b]) => (a < b ? -1 : 1)),
    );
  });
});

describe("the write routes", () => {
  let w;
  before(async () => {
    w = await startWorker();
    await seedKv(w.kv, loadDump());
    assert.equal((await migrate(w.mf)).status, 200);
  });
  after(() => w.mf.dispose());

  test("need the admin key (fail closed), and change nothing without it", async () => {
    const before = (await exportDump(w.mf)).text;
    for (const [method, path] of [["POST", "/api/items"], ["PUT", "/api/items"], ["DELETE", "/api/items"], ["POST", "/api/events"]]) {
      const r = await write(w.mf, method, path, { id: "r_b84d02f6", title: "x", type: "x" }, { key: null });
      assert.equal(r.status, 401, `${method} ${path}: ${r.text}`);
      const bad = await write(w.mf, method, path, {}, { key: "wrong" });
      assert.equal(bad.status, 401, `${method} ${path}: ${bad.text}`);
    }
    assert.equal((await exportDump(w.mf)).text, before);
    const none = await startWorker({ adminKey: null });
    try {
      const r = await write(none.mf, "POST", "/api/events", { type: "x" });
      assert.equal(r.status, 503, r.text);
    } finally {
      await none.mf.dispose();
    }
  });

  test("refuse a bad body with 400, an unknown id with 404, a large body with 413; nothing changes", async () => {
    const before = (await exportDump(w.mf)).text;
    const cases = [
      ["POST", "/api/items", "{not json", 400, "not JSON"],
      ["POST", "/api/items", { title: "x" }, 400, "/agent"],
      ["PUT", "/api/items", { id: "r_b84d02f6", colour: "red" }, 400, "colour"],
      ["PUT", "/api/items", { id: "r_missing", title: "x" }, 404, "r_missing"],
      ["DELETE", "/api/items", { id: "r_missing" }, 404, "r_missing"],
      ["POST", "/api/events", { type: "x", data: [1] }, 400, "/data"],
      ["POST", "/api/events", { type: "x", data: { big: "x".repeat(70 * 1024) } }, 413, "at most"],
    ];
    for (const [method, path, body, status, needle] of cases) {
      const r = await write(w.mf, method, path, body);
      assert.equal(r.status, status, `${method} ${path}: ${r.text}`);
      assert.ok(r.json.message.includes(needle), `${method} ${path}: ${r.text}`);
    }
    assert.equal((await exportDump(w.mf)).text, before);
  });

  test("other methods on /api/items and /api/events are refused", async () => {
    const items = await call(w.mf, "/api/items", { method: "PATCH" });
    assert.equal(items.status, 405, items.text);
    assert.equal(items.headers.get("allow"), "GET, POST, PUT, DELETE");
    const events = await call(w.mf, "/api/events");
    assert.equal(events.status, 405, events.text);
    assert.equal(events.headers.get("allow"), "POST");
  });
});
