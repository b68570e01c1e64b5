// Faults and restarts under workerd: a migration failing at its very last row is rolled back
// completely; a Durable Object restarted between migrations and in the middle of a sequence of
// them (persistent storage, Miniflare disposed and started again) ends where a fresh object
// that migrated only the last dump does, except for the kept event history (the union).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
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

const value = (entries, key) => JSON.parse(entries.find((e) => e.key === key).value);

/** Everything a client can see: export, status (without timestamps), items, feed. */
async function observable(mf) {
  const s = await status(mf);
  const out = {
    export: (await exportDump(mf)).text,
    schema_version: s.json.schema_version,
    last_report: s.json.last_report,
    items: (await call(mf, "/api/items", { key: null })).text,
    feed: (await call(mf, "/api/feed?limit=200", { key: null })).text,
  };
  for (const k of ["items", "feed"]) assert.ok(out[k].length > 2, k);
  return out;
}

describe("a migration failing at its very last row is rolled back completely", () => {
  let w;
  let good; // observable state after the good migration
  let goodItems;
  let goodEvents;
  let goodGithubMap;
  before(async () => {
    w = await startWorker();
    await seedKv(w.kv, loadDump());
    const r = await migrate(w.mf);
    assert.equal(r.status, 200, r.text);
    good = await observable(w.mf);
    goodItems = JSON.parse(await w.kv.get("roadmap:items"));
    goodEvents = JSON.parse(await w.kv.get("roadmap:events"));
    goodGithubMap = JSON.parse(await w.kv.get("roadmap:github-map"));
  });
  after(() => w.mf.dispose());

  /** Good changes in every source before the bad value, so that a partial write would show. */
  async function goodChanges() {
    const items = structuredClone(goodItems);
    items.items[0].title = "Renamed before the failure";
    items.items.push({ ...structuredClone(items.items[1]), id: "r_added0001", title: "Added before the failure" });
    const events = structuredClone(goodEvents);
    events.events.unshift({ ...events.events[0], id: "e_added0001", timestamp: "2026-03-01T00:00:00.000Z" });
    await w.kv.put("roadmap:events", JSON.stringify(events));
    const gm = structuredClone(goodGithubMap);
    gm.mappings["added-before-failure"] = "bc1qexampleexampleexampleexampleexample00";
    await w.kv.put("roadmap:github-map", JSON.stringify(gm));
    return items;
  }

  async function assertUnchanged(r, kvKey, pointer) {
    assert.equal(r.status, 422, r.text);
    assert.equal(r.json.kind, "data", r.text);
    assert.equal(r.json.kv_key, kvKey, r.text);
    assert.equal(r.json.pointer, pointer, r.text);
    assert.match(r.json.message, new RegExp(kvKey), r.text);
    const now = await observable(w.mf);
    assert.deepEqual(now, good, "export, status, items and feed as before the failed migration");
    const s = await status(w.mf);
    assert.equal(s.json.last_error.kv_key, kvKey);
    assert.equal(s.json.last_error.pointer, pointer);
  }

  test("a rating score \"5\" as the last child of the last item → 422 naming key and pointer; nothing written", async () => {
    const items = await goodChanges();
    const last = items.items.length - 1;
    const it = items.items[last];
    it.ratings = [...(it.ratings ?? []), { ...structuredClone(goodItems.items[0].ratings[0]), score: "5" }];
    await w.kv.put("roadmap:items", JSON.stringify(items));
    const kvBefore = await kvState(w.kv);
    const r = await migrate(w.mf);
    await assertUnchanged(r, "roadmap:items", `/items/${last}/ratings/${it.ratings.length - 1}/score`);
    assert.match(r.json.message, /expected an integer/, r.text);
    assert.deepEqual(await kvState(w.kv), kvBefore, "KV untouched");
    // The same failure as a dry run.
    const d = await migrate(w.mf, "?dry_run=1");
    assert.equal(d.status, 422, d.text);
    assert.equal(d.json.pointer, r.json.pointer);
  });

  test("the very last row of the whole migration (the last agent-cache key, a prefix source) bad → nothing written", async () => {
    // Valid items again (the good changes stay): only the last source's last key is bad.
    await w.kv.put("roadmap:items", JSON.stringify(await goodChanges()));
    const key = "roadmap:agent-cache:bc1qzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz";
    await w.kv.put(key, JSON.stringify({ btcAddress: "bc1qzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", displayName: "Last", agentId: true }));
    try {
      const r = await migrate(w.mf);
      await assertUnchanged(r, key, "/agentId");
    } finally {
      await w.kv.delete(key);
    }
  });

  test("with the bad values gone, the good changes migrate", async () => {
    const r = await migrate(w.mf);
    assert.equal(r.status, 200, r.text);
    assert.ok(rowsChanged(r.json) > 0);
    assertSameDump((await exportDump(w.mf)).text, (await upgraded(w.mf)).text);
  });
});

// ------------------------------------------------------------------------------------------------

function event(i, type) {
  const ts = new Date(Date.UTC(2026, 2, 1) + i * 60_000).toISOString();
  return {
    id: `e_t${String(i).padStart(6, "0")}`,
    type,
    timestamp: ts,
    agent: null,
    itemId: "r_3f9a1c2e",
    itemTitle: "AIBTC Projects",
    data: { step: type, n: i },
  };
}

/** The successive KV states: items added, removed and reordered; events beyond v1's 200 cap. */
function steps() {
  const base = loadDump();
  const items = value(base, "roadmap:items");
  const events = value(base, "roadmap:events");
  const put = (entries, key, v) => entries.map((e) => (e.key === key ? { ...e, value: JSON.stringify(v) } : e));
  const cap = (list) => list.slice(0, 200); // v1 keeps the newest 200, newest first

  // B: one item removed, one added, the rest reversed; 190 new events (the oldest falls off).
  const bItems = structuredClone(items);
  const removed = bItems.items.splice(2, 1)[0];
  bItems.items.push({ ...structuredClone(bItems.items[0]), id: "r_step_b01", title: "Added in step B" });
  bItems.items.reverse();
  const bNew = Array.from({ length: 190 }, (_, i) => event(i, "test.step_b")).reverse();
  const bEvents = { ...events, events: cap([...bNew, ...events.events]) };
  let b = put(put(base, "roadmap:items", bItems), "roadmap:events", bEvents);
  // and one agent-cache key removed
  b = b.filter((e) => e.key !== "roadmap:agent-cache:bc1q7zpy3kpxjzrfctz4en9k2h5sp8nwhctgz54sn5");

  // C: the removed item back at the front, a title changed, the B item removed; 50 more events.
  const cItems = structuredClone(bItems);
  cItems.items = cItems.items.filter((it) => it.id !== "r_step_b01");
  cItems.items.unshift(removed);
  cItems.items[1].title = "Changed in step C";
  const cNew = Array.from({ length: 50 }, (_, i) => event(1000 + i, "test.step_c")).reverse();
  const cEvents = { ...bEvents, events: cap([...cNew, ...bEvents.events]) };
  const c = put(put(b, "roadmap:items", cItems), "roadmap:events", cEvents);
  return { a: base, b, c, allEvents: [...cNew, ...bNew, ...events.events] };
}

/** Makes the KV namespace hold exactly `entries`. */
async function setKv(kv, entries) {
  const want = new Set(entries.map((e) => e.key));
  for (const k of await kvState(kv)) if (!want.has(k.key)) await kv.delete(k.key);
  await seedKv(kv, entries);
}

describe("a Durable Object restarted between and in the middle of a sequence of migrations", () => {
  let dir;
  const s = steps();
  before(() => {
    dir = tempDir("kv2sql-faults-");
  });
  after(() => dir && removeDir(dir));
  const start = () => startWorker({ persistDir: join(dir, "state") });
  async function run(fn) {
    const w = await start();
    try {
      return await fn(w);
    } finally {
      await w.mf.dispose();
    }
  }

  let final;
  test("A, restart, B changed in KV, restart, B migrated, restart, C migrated, restart, C again: consistent", async () => {
    assert.equal(value(s.b, "roadmap:events").events.length, 200);
    assert.equal(value(s.c, "roadmap:events").events.length, 200);
    await run(async (w) => {
      await setKv(w.kv, s.a);
      assert.equal((await migrate(w.mf)).status, 200);
    });
    await run(async (w) => {
      assertSameDump((await exportDump(w.mf)).text, (await upgraded(w.mf)).text, "A after a restart");
      await setKv(w.kv, s.b); // changed, but the object restarts before migrating
    });
    await run(async (w) => {
      const before = (await exportDump(w.mf)).text;
      const r = await migrate(w.mf);
      assert.equal(r.status, 200, r.text);
      assert.ok(rowsChanged(r.json) > 0);
      const e = (await exportDump(w.mf)).text;
      assert.notEqual(e, before);
      assertSameDump(e, (await upgraded(w.mf)).text, "B");
    });
    await run(async (w) => {
      await setKv(w.kv, s.c);
      // Two migrations racing in the restarted object, then a restart right after.
      const rs = await Promise.all([migrate(w.mf), migrate(w.mf)]);
      for (const r of rs) assert.equal(r.status, 200, r.text);
      assertSameDump((await exportDump(w.mf)).text, (await upgraded(w.mf)).text, "C");
    });
    final = await run(async (w) => {
      const r = await migrate(w.mf);
      assert.equal(r.status, 200, r.text);
      assert.equal(rowsChanged(r.json), 0, r.text);
      assert.equal(r.json.rows_written, 0, r.text);
      return { ...(await observable(w.mf)), stepB: await feedOf(w.mf, "test.step_b"), orig: await feedOf(w.mf, "item.auto_completed") };
    });
  });

  test("the same as a fresh object that migrated only C, except that the kept event history is the union", async () => {
    const w = await startWorker();
    try {
      await seedKv(w.kv, s.c);
      const r = await migrate(w.mf);
      assert.equal(r.status, 200, r.text);
      const fresh = await observable(w.mf);
      assert.equal(final.export, fresh.export, "export byte for byte");
      assert.equal(final.items, fresh.items, "/api/items byte for byte");
      assert.equal(final.schema_version, fresh.schema_version);
      // The newest 200 events are those of C in both.
      assert.equal(final.feed, fresh.feed, "/api/feed?limit=200");
      // The history: every event ever seen is kept in the restarted object.
      const inC = new Set(value(s.c, "roadmap:events").events.map((e) => e.id));
      const stepB = s.allEvents.filter((e) => e.type === "test.step_b").map((e) => e.id);
      assert.deepEqual(final.stepB, stepB, "all 190 step-B events, newest first");
      const freshB = await feedOf(w.mf, "test.step_b");
      assert.deepEqual(freshB, stepB.filter((id) => inC.has(id)), "the fresh object has only those still in KV");
      assert.ok(freshB.length < stepB.length);
      assert.ok(final.orig.includes("e_feedbeef"), "the original oldest event, dropped from KV in B, is kept");
      assert.ok(!(await feedOf(w.mf, "item.auto_completed")).includes("e_feedbeef"));
    } finally {
      await w.mf.dispose();
    }
  });
});

async function feedOf(mf, type) {
  const r = await call(mf, `/api/feed?type=${encodeURIComponent(type)}&limit=200`, { key: null });
  assert.equal(r.status, 200, r.text);
  const body = r.json;
  const list = Array.isArray(body) ? body : body.events;
  return list.map((e) => e.id);
}
