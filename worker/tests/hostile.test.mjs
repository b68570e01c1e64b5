// Hostile values under workerd, the Worker's side of tests/tests/hostile.rs: each value placed in
// KV either migrates exactly (digits, unknown fields) or is refused with 422 naming the KV key,
// the JSON pointer and the expectation — and then nothing is written: the export is byte for
// byte what it was.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { exportDump, loadDump, migrate, seedKv, startWorker } from "./harness.mjs";

const ITEMS = "roadmap:items";
const EVENTS = "roadmap:events";

describe("hostile values in KV under workerd", () => {
  let w;
  let baseline; // the export after migrating the example dump
  let itemsText;
  let eventsText;

  before(async () => {
    w = await startWorker();
    await seedKv(w.kv, loadDump());
    const r = await migrate(w.mf);
    assert.equal(r.status, 200, r.text);
    baseline = (await exportDump(w.mf)).text;
    itemsText = await w.kv.get(ITEMS);
    eventsText = await w.kv.get(EVENTS);
  });
  after(() => w.mf.dispose());

  /** Back to the example data, migrated: the export must be the baseline again. */
  async function restore() {
    await w.kv.put(ITEMS, itemsText);
    await w.kv.put(EVENTS, eventsText);
    const r = await migrate(w.mf);
    assert.equal(r.status, 200, r.text);
    assert.equal((await exportDump(w.mf)).text, baseline);
  }

  /** Puts `value` under `key`, migrates, and checks the refusal and that nothing was written. */
  async function refused(key, value, { kinds = ["data"], pointer, expected, found }) {
    await w.kv.put(key, value);
    const r = await migrate(w.mf);
    assert.equal(r.status, 422, r.text);
    assert.ok(kinds.includes(r.json.kind), `kind ${r.json.kind}: ${r.text}`);
    assert.equal(r.json.kv_key, key, r.text);
    if (pointer !== undefined) assert.equal(r.json.pointer, pointer, r.text);
    if (expected !== undefined) assert.match(r.json.expected, expected, r.text);
    if (found !== undefined) assert.match(r.json.found, found, r.text);
    assert.equal((await exportDump(w.mf)).text, baseline, "nothing was written");
    await restore();
    return r.json;
  }

  const items = () => JSON.parse(itemsText);
  const withItems = (f) => {
    const v = items();
    f(v);
    return JSON.stringify(v);
  };

  test("an integer beyond 2^53 is kept to the last digit", async () => {
    const text = itemsText.replace('"writeVersion":412', '"writeVersion":9007199254740993');
    assert.notEqual(text, itemsText);
    await w.kv.put(ITEMS, text);
    const r = await migrate(w.mf);
    assert.equal(r.status, 200, r.text);
    const value = JSON.parse((await exportDump(w.mf)).text).find((e) => e.key === ITEMS).value;
    assert.match(value, /"writeVersion":9007199254740993[,}]/);
    await restore();
  });

  test("a number beyond every machine type in a json column is kept verbatim", async () => {
    const huge = "123456789012345678901234567890.50";
    const text = eventsText.replace('"data":{"count":4}', `"data":{"count":4,"huge":${huge}}`);
    assert.notEqual(text, eventsText);
    await w.kv.put(EVENTS, text);
    const r = await migrate(w.mf);
    assert.equal(r.status, 200, r.text);
    const value = JSON.parse((await exportDump(w.mf)).text).find((e) => e.key === EVENTS).value;
    assert.ok(value.includes(`"huge":${huge}`), value.slice(0, 200));
    await restore();
  });

  test("unknown fields are kept and exported back", async () => {
    const text = withItems((v) => {
      v.items[1].zzUnknown = { nested: [1, 2.5, "three", null] };
      v.items[1].founder.zzExtra = true;
    });
    await w.kv.put(ITEMS, text);
    const r = await migrate(w.mf);
    assert.equal(r.status, 200, r.text);
    const back = JSON.parse(JSON.parse((await exportDump(w.mf)).text).find((e) => e.key === ITEMS).value);
    assert.deepEqual(back.items[1].zzUnknown, { nested: [1, 2.5, "three", null] });
    assert.equal(back.items[1].founder.zzExtra, true);
    await restore();
  });

  test("an integer beyond i64 in an integer column → 422 at its pointer", async () => {
    await refused(ITEMS, itemsText.replace('"writeVersion":412', '"writeVersion":9223372036854775808'), {
      pointer: "/writeVersion",
      expected: /integer/,
      found: /outside SQLite's 64-bit integer range/,
    });
  });

  test("the wrong JSON type → 422 naming the pointer and the expectation", async () => {
    await refused(ITEMS, withItems((v) => (v.items[2].reputation.count = "5")), {
      pointer: "/items/2/reputation/count",
      expected: /an integer/,
      found: /string "5"/,
    });
  });

  test("a string over the Durable Object's 2 MB limit → 422", async () => {
    await refused(ITEMS, withItems((v) => (v.items[0].title = "x".repeat(2_000_001))), {
      pointer: "/items/0/title",
      expected: /2000000 bytes/,
    });
  });

  test("two items with one id → 422 naming both places", async () => {
    const j = await refused(ITEMS, withItems((v) => (v.items[3].id = v.items[0].id)), {
      pointer: "/items/3",
      expected: /unique primary key in table `items`.*\/items\/0/,
    });
    assert.equal(j.found, "a duplicate");
  });

  test("JSON nested 10,000 deep → 422, no crash", async () => {
    const deep = "[".repeat(10_000) + "]".repeat(10_000);
    // Refused as the whole value's JSON error, though `events` is read one element at a time.
    const j = await refused(EVENTS, eventsText.replace('"data":{"count":4}', `"data":${deep}`), { kinds: ["json"] });
    assert.match(j.message, /recursion limit exceeded .*line 1 column \d+/, JSON.stringify(j));
    // The Worker still serves.
    assert.equal((await exportDump(w.mf)).status, 200);
  });

  test("malformed (truncated) JSON → 422 naming the key", async () => {
    await refused(ITEMS, itemsText.slice(0, itemsText.length / 2), { kinds: ["json", "data"] });
  });

  test("invalid UTF-8 in a KV value → 422 naming the key", async () => {
    // A fresh Uint8Array: Miniflare's proxy refuses views into Node's shared Buffer pool.
    const bytes = new Uint8Array([...Buffer.from('{"version":1,"events":[{"id":"'), 0xff, 0xfe, ...Buffer.from('"}]}')]);
    await refused(EVENTS, bytes, { kinds: ["utf8"] });
  });

  test("a blob without a version → 422 at /version", async () => {
    await refused(ITEMS, withItems((v) => delete v.version), { pointer: "/version" });
  });

  test("a byte order mark before a value → 422 naming the BOM", async () => {
    const err = await refused(ITEMS, "\ufeff" + itemsText, { kinds: ["json"] });
    assert.match(err.message, /starts with a byte order mark \(U\+FEFF\)/, err.message);
    assert.match(err.message, /remove it/, err.message);
  });

  test("a KV expirationTtl has a fixed instant in KV: a re-run writes 0 rows and keeps the expiry", async () => {
    const key = "roadmap:agent-cache:bc1qttlagent";
    await w.kv.put(key, JSON.stringify({ btcAddress: "bc1qttlagent", displayName: "TTL" }), { expirationTtl: 3600 });
    const first = await migrate(w.mf);
    assert.equal(first.status, 200, first.text);
    const entry = () => exportDump(w.mf).then((d) => JSON.parse(d.text).find((e) => e.key === key));
    const before = await entry();
    assert.ok(Number.isInteger(before.expiration), JSON.stringify(before));
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const again = await migrate(w.mf);
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.rows_written, 0, again.text);
    assert.equal((await entry()).expiration, before.expiration);
    await w.kv.delete(key);
    await restore();
  });

  test("a key twice at the top of a streamed value: the last occurrence wins, as JSON.parse", async () => {
    const v = items();
    assert.ok(v.items.length > 1, "the example has several items");
    const first = JSON.stringify([v.items[0]]);
    // `"items":[…all…]` first, then `"items":[…one…]` at the end of the same object.
    const text = itemsText.replace(/\}\s*$/, `,"items":${first}}`);
    assert.notEqual(text, itemsText);
    assert.equal(JSON.parse(text).items.length, 1, "JSON.parse keeps the last");
    await w.kv.put(ITEMS, text);
    const r = await migrate(w.mf);
    assert.equal(r.status, 200, r.text);
    const exported = JSON.parse((await exportDump(w.mf)).json.find((e) => e.key === ITEMS).value);
    assert.deepEqual(exported.items.map((i) => i.id), [v.items[0].id]);
    await restore();
  });
});
