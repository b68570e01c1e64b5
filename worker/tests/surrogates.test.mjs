// Lone UTF-16 surrogates under workerd, the Worker's side of
// tests/tests/hostile.rs::lone_surrogates_are_migrated_exactly_and_nul_is_kept. JavaScript that
// slices a string mid-emoji leaves half a surrogate pair, which JSON.stringify writes as an
// escape ("\ud83d"). Such values must migrate through POST /api/migrate, and GET /api/export
// must give byte for byte what the native command line exports from the same dump, and strings
// equal to the ones v1 wrote.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  WORKER_DIR,
  assertSameDump,
  call,
  exportDump,
  loadDump,
  migrate,
  removeDir,
  rowsChanged,
  seedKv,
  startWorker,
  tempDir,
  upgraded,
} from "./harness.mjs";

const ROOT = join(WORKER_DIR, "..");
const ITEMS = "roadmap:items";
const EVENTS = "roadmap:events";
const ARCHIVE = "roadmap:message-archive";

const HIGH = "😀".slice(0, 1); // "\ud83d"
const LOW = "😀".slice(1); // "\ude00"

/** The example dump with lone surrogates in every kind of place a string can be. */
function hostileDump() {
  const entries = loadDump().filter((e) => e.expiration == null || e.expiration > Date.now() / 1000 + 60);
  const edit = (key, f) => {
    const e = entries.find((x) => x.key === key);
    const v = JSON.parse(e.value);
    f(v);
    e.value = JSON.stringify(v);
  };
  edit(ITEMS, (v) => {
    v.items[0].title = `abc${HIGH}`; // a text column
    v.items[1].title = `😀${LOW}\uD83D`; // a valid pair next to lone halves
    v.items[0].githubData = { "k\udbff": "\udc00v", x: ["\udfff"] }; // a json column, key and value
    v.items[1].zzUnknown = { k: "\ufdd0\ud800" }; // an unknown field, with the marker itself
    v.zzTop = "\ufdd0d83d"; // an unknown envelope field that looks like a stored surrogate
  });
  edit(ARCHIVE, (v) => {
    v.messages[0].messagePreview = "Hello 😀 world".slice(0, 7); // a preview cut mid-emoji
  });
  edit(EVENTS, (v) => {
    v.events[0].data = { "\ud800": ["\udfff\u0000"] };
  });
  return entries;
}

/** The native command line's export of `dump`: migrate into a new database, export it. */
function nativeExport(dump) {
  const dir = tempDir("kv2sql-surrogates-");
  try {
    const run = (args) => {
      const r = spawnSync("cargo", ["run", "-q", "--bin", "kv2sql", "--", ...args], { cwd: ROOT, encoding: "utf8" });
      assert.equal(r.status, 0, `kv2sql ${args.join(" ")}: ${r.stderr}`);
    };
    const dumpFile = join(dir, "dump.json");
    writeFileSync(dumpFile, JSON.stringify(dump));
    run(["migrate", "--kv", dumpFile, "--db", join(dir, "v2.db")]);
    run(["export", "--db", join(dir, "v2.db"), "--kv", join(dir, "out.json")]);
    return readFileSync(join(dir, "out.json"), "utf8");
  } finally {
    removeDir(dir);
  }
}

describe("lone surrogates under workerd", () => {
  let w;
  const dump = hostileDump();

  before(async () => {
    w = await startWorker();
    await seedKv(w.kv, dump);
  });
  after(() => w.mf.dispose());

  test("migrate, then export exactly what the native command line exports", async () => {
    const r = await migrate(w.mf);
    assert.equal(r.status, 200, r.text);
    const exported = (await exportDump(w.mf)).text;
    assert.equal(exported, nativeExport(dump), "Worker and native exports differ");
    assertSameDump(exported, (await upgraded(w.mf)).text, "the export is the upgraded input:");

    // The strings are the ones v1 wrote, lone halves included.
    const value = (key) => JSON.parse(JSON.parse(exported).find((e) => e.key === key).value);
    const items = value(ITEMS);
    assert.equal(items.items[0].title, `abc${HIGH}`);
    assert.equal(items.items[1].title, `😀${LOW}\ud83d`);
    assert.deepEqual(items.items[0].githubData, { "k\udbff": "\udc00v", x: ["\udfff"] });
    assert.deepEqual(items.items[1].zzUnknown, { k: "\ufdd0\ud800" });
    assert.equal(items.zzTop, "\ufdd0d83d");
    assert.equal(value(ARCHIVE).messages[0].messagePreview, `Hello ${HIGH}`);
    assert.deepEqual(value(EVENTS).events[0].data, { "\ud800": ["\udfff\u0000"] });
    // Written as JSON.stringify writes them.
    const itemsText = JSON.parse(exported).find((e) => e.key === ITEMS).value;
    assert.ok(itemsText.includes('"abc\\ud83d"'), itemsText.slice(0, 300));

    // The read API serves the same strings.
    const api = await call(w.mf, "/api/items", { key: null });
    assert.equal(api.status, 200, api.text);
    assert.match(api.headers.get("content-type"), /^application\/json/);
    assert.equal(api.json.items[0].title, `abc${HIGH}`);
    assert.deepEqual(api.json.items[0].githubData, { "k\udbff": "\udc00v", x: ["\udfff"] });
    const feed = await call(w.mf, "/api/feed?limit=200", { key: null });
    assert.equal(feed.status, 200, feed.text);
    assert.ok(
      feed.json.events.some((e) => JSON.stringify(e.data) === JSON.stringify({ "\ud800": ["\udfff\u0000"] })),
      feed.text.slice(0, 300),
    );

    // A second run writes nothing.
    const again = await migrate(w.mf);
    assert.equal(again.status, 200, again.text);
    assert.equal(rowsChanged(again.json), 0, again.text);
  });
});
