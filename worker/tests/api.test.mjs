// The read API v2 serves from the tables: GET /api/items and GET /api/feed (no admin key).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { call, exportDump, loadDump, migrate, seedKv, startWorker } from "./harness.mjs";

const STATUSES = new Set(["todo", "in-progress", "done", "blocked"]);

describe("before any migration", () => {
  let w;
  before(async () => {
    w = await startWorker();
  });
  after(() => w.mf.dispose());

  test("items: v1's default envelope", async () => {
    const r = await call(w.mf, "/api/items", { key: null });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { version: 10, items: [], writeVersion: 0 });
  });

  test("feed: no events", async () => {
    const r = await call(w.mf, "/api/feed", { key: null });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { events: [] });
  });
});

describe("after a migration", () => {
  let w;
  let exportedItems;
  let exportedEvents;
  before(async () => {
    w = await startWorker();
    await seedKv(w.kv, loadDump());
    const m = await migrate(w.mf);
    assert.equal(m.status, 200, m.text);
    const dump = (await exportDump(w.mf)).json;
    exportedItems = JSON.parse(dump.find((e) => e.key === "roadmap:items")?.value ?? '{"items": []}');
    exportedEvents = JSON.parse(dump.find((e) => e.key === "roadmap:events")?.value ?? '{"events": []}').events;
  });
  after(() => w.mf.dispose());

  test("items: public, the migrated items in order, each with a derived status", async () => {
    const r = await call(w.mf, "/api/items", { key: null });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.version, exportedItems.version);
    assert.deepEqual(
      r.json.items.map((i) => i.id),
      exportedItems.items.map((i) => i.id),
    );
    for (const item of r.json.items) assert.ok(STATUSES.has(item.status), `${item.id}: ${item.status}`);
    // Everything but `status` is the exported item.
    const strip = ({ status, ...rest }) => rest;
    assert.deepEqual(r.json.items.map(strip), exportedItems.items.map(strip));
  });

  const feed = async (query = "") => {
    const r = await call(w.mf, `/api/feed${query}`, { key: null });
    assert.equal(r.status, 200, r.text);
    return r.json.events;
  };
  const newestFirst = (events) => {
    for (let i = 1; i < events.length; i++) assert.ok(events[i - 1].timestamp >= events[i].timestamp, "newest first");
  };

  test("feed: every event, newest first, default limit 50", async () => {
    const events = await feed();
    assert.equal(events.length, Math.min(50, exportedEvents.length));
    newestFirst(events);
    assert.deepEqual(new Set(events.map((e) => e.id)).size, events.length);
    for (const e of events) assert.ok(exportedEvents.some((x) => x.id === e.id), e.id);
  });

  test("feed: ?type= filters", async () => {
    const type = exportedEvents[0]?.type;
    if (!type) return;
    const events = await feed(`?type=${encodeURIComponent(type)}`);
    assert.ok(events.length > 0);
    assert.ok(events.every((e) => e.type === type));
    assert.equal(events.length, Math.min(50, exportedEvents.filter((e) => e.type === type).length));
    newestFirst(events);
    assert.deepEqual(await feed("?type=no.such.type"), []);
  });

  test("feed: ?itemId= filters, and combines with ?type=", async () => {
    const withItem = exportedEvents.find((e) => e.itemId);
    if (!withItem) return;
    const events = await feed(`?itemId=${encodeURIComponent(withItem.itemId)}`);
    assert.ok(events.length > 0 && events.every((e) => e.itemId === withItem.itemId));
    const both = await feed(`?itemId=${encodeURIComponent(withItem.itemId)}&type=${encodeURIComponent(withItem.type)}`);
    assert.ok(both.length > 0 && both.every((e) => e.itemId === withItem.itemId && e.type === withItem.type));
  });

  test("feed: ?limit= is clamped to 1–200; junk means the default", async () => {
    if (exportedEvents.length < 2) return;
    assert.equal((await feed("?limit=1")).length, 1);
    assert.equal((await feed("?limit=0")).length, 1);
    assert.equal((await feed("?limit=-5")).length, 1);
    assert.equal((await feed("?limit=2abc")).length, 2);
    assert.equal((await feed("?limit=100000")).length, Math.min(200, exportedEvents.length));
    assert.equal((await feed("?limit=abc")).length, Math.min(50, exportedEvents.length));
    assert.equal((await feed("?type=&itemId=&limit=")).length, Math.min(50, exportedEvents.length));
  });
});
