// POST /api/migrate, GET /api/export, GET /api/migrate/status against workerd.
// Each `describe` starts its own Worker (fresh KV and Durable Object); tests inside one run in
// order and build on each other.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { basename, join } from "node:path";
import {
  WORKER_DIR,
  assertSameDump,
  call,
  dumpPath,
  exportDump,
  kvState,
  loadDump,
  migrate,
  rowsChanged,
  seedKv,
  startWorker,
  status,
  upgraded,
} from "./harness.mjs";

describe("migrate a v1 dump", () => {
  let w;
  let kvBefore;
  let expected;
  before(async () => {
    w = await startWorker();
    await seedKv(w.kv, loadDump());
    kvBefore = await kvState(w.kv);
    const u = await upgraded(w.mf);
    assert.equal(u.status, 200, u.text);
    expected = u.text;
  });
  after(() => w.mf.dispose());

  test("the schema is applied when the object starts; status before any migration", async () => {
    const r = await status(w.mf);
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.schema_version >= 1, r.text);
    assert.equal(r.json.last_report, null);
    assert.equal(r.json.last_error, null);
  });

  test("export before any migration is empty", async () => {
    const r = await exportDump(w.mf);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, []);
  });

  test("dry run reports the work and writes nothing", async () => {
    const r = await migrate(w.mf, "?dry_run=1");
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.dry_run, true);
    assert.equal(r.json.rows_written, 0);
    assert.ok(rowsChanged(r.json) > 0, "a dry run still counts what it would insert");
    assert.deepEqual((await exportDump(w.mf)).json, []);
    assert.equal((await status(w.mf)).json.last_report, null, "a dry run is not recorded as the last report");
  });

  let first;
  test("first migration: report and rows_written", async () => {
    const r = await migrate(w.mf);
    assert.equal(r.status, 200, r.text);
    first = r.json;
    assert.equal(first.dry_run, false);
    assert.ok(first.rows_written > 0);
    assert.ok(rowsChanged(first) > 0);
    for (const t of first.tables) {
      assert.equal(t.updated, 0, `${t.table}: nothing to update in an empty database`);
      assert.equal(t.deleted, 0, t.table);
      assert.equal(t.inserted + t.unchanged, t.source_rows, t.table);
    }
    const dump = loadDump();
    const sourced = first.sources.reduce((n, s) => n + s.kv_entries, 0);
    assert.equal(sourced + first.unmapped_keys.length, kvBefore.length, "every KV key is either migrated or reported unmapped");
    for (const k of first.unmapped_keys) assert.ok(dump.some((e) => e.key === k), k);
  });

  let exported;
  test("export equals the upgraded dump (as JSON: object key order aside)", async () => {
    const r = await exportDump(w.mf);
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type"), /application\/json/);
    assertSameDump(r.text, expected);
    exported = r.text;
  });

  test("export keeps every mapped key, its expiration, and nothing else", async () => {
    const exported = (await exportDump(w.mf)).json;
    const mapped = kvBefore.filter((k) => !first.unmapped_keys.includes(k.key));
    assert.deepEqual(
      exported.map((e) => [e.key, e.expiration ?? null]),
      mapped.map((k) => [k.key, k.expiration]),
    );
  });

  test("status shows the last report", async () => {
    const r = await status(w.mf);
    assert.equal(r.status, 200);
    const { finished_at, ...report } = r.json.last_report;
    assert.match(finished_at, /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual(report, first);
  });

  test("a second identical migration changes nothing and writes no row", async () => {
    const r = await migrate(w.mf);
    assert.equal(r.status, 200, r.text);
    assert.equal(rowsChanged(r.json), 0, r.text);
    assert.equal(r.json.rows_written, 0, r.text);
    assert.deepEqual(r.json.schema_migrations_applied, []);
    assert.equal((await exportDump(w.mf)).text, exported, "byte for byte the same export");
  });

  test("10 concurrent migrations all succeed and leave the same state", async () => {
    const rs = await Promise.all(Array.from({ length: 10 }, () => migrate(w.mf)));
    for (const r of rs) {
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.rows_written, 0);
    }
    assert.equal((await exportDump(w.mf)).text, exported);
  });

  test("KV is unchanged, byte for byte", async () => {
    assert.deepEqual(await kvState(w.kv), kvBefore);
  });
});

describe("concurrent first migrations", () => {
  let w;
  before(async () => {
    w = await startWorker();
    await seedKv(w.kv, loadDump());
  });
  after(() => w.mf.dispose());

  test("10 at once on an empty database: all 200, one does the work, same final state", async () => {
    const expected = (await upgraded(w.mf)).text;
    const kvBefore = await kvState(w.kv);
    const rs = await Promise.all(Array.from({ length: 10 }, () => migrate(w.mf)));
    for (const r of rs) assert.equal(r.status, 200, r.text);
    const writers = rs.filter((r) => r.json.rows_written > 0);
    assert.equal(writers.length, 1, "the transactions are serialised: only the first finds work");
    assertSameDump((await exportDump(w.mf)).text, expected);
    assert.deepEqual(await kvState(w.kv), kvBefore);
  });
});

describe("a failing migration changes nothing", () => {
  let w;
  let good;
  before(async () => {
    w = await startWorker();
    await seedKv(w.kv, loadDump());
    const r = await migrate(w.mf);
    assert.equal(r.status, 200, r.text);
    good = (await exportDump(w.mf)).text;
  });
  after(() => w.mf.dispose());

  // The test (not the Worker) edits KV: malformed JSON in a mapped key.
  async function withValue(key, value, fn) {
    const old = await w.kv.get(key, "arrayBuffer");
    await w.kv.put(key, value);
    try {
      await fn();
    } finally {
      if (old === null) await w.kv.delete(key);
      else await w.kv.put(key, old);
    }
  }

  for (const key of ["roadmap:events", "roadmap:items"]) {
    test(`malformed JSON in ${key} → 422 naming the key; nothing written`, async () => {
      const before = await status(w.mf);
      await withValue(key, '{"version": 1, "events": [', async () => {
        const kvBefore = await kvState(w.kv);
        const r = await migrate(w.mf);
        assert.equal(r.status, 422, r.text);
        assert.equal(r.json.kind, "json");
        assert.equal(r.json.kv_key, key);
        assert.match(r.json.message, new RegExp(key));
        assert.equal((await exportDump(w.mf)).text, good);
        assert.deepEqual(await kvState(w.kv), kvBefore);
        const s = await status(w.mf);
        assert.equal(s.json.last_error.kv_key, key);
        assert.deepEqual(s.json.last_report, before.json.last_report, "the last report is that of the last success");
        assert.equal(s.json.schema_version, before.json.schema_version);
      });
    });
  }

  test("data error (valid JSON, wrong shape) → 422 with a pointer", async () => {
    await withValue("roadmap:events", '{"version": 1, "events": "not an array"}', async () => {
      const r = await migrate(w.mf);
      assert.equal(r.status, 422, r.text);
      assert.equal(r.json.kind, "data");
      assert.equal(r.json.kv_key, "roadmap:events");
      assert.ok(r.json.pointer.startsWith("/"), r.text);
      assert.equal((await exportDump(w.mf)).text, good);
    });
  });

  test("a change in one value and a bad one in another: the good change is rolled back too", async () => {
    const items = JSON.parse(await w.kv.get("roadmap:github-map"));
    items.mappings["someone-new"] = "bc1qexampleexampleexampleexampleexample00";
    await withValue("roadmap:github-map", JSON.stringify(items), async () => {
      await withValue("roadmap:events", "not json at all", async () => {
        const r = await migrate(w.mf);
        assert.equal(r.status, 422, r.text);
        assert.equal((await exportDump(w.mf)).text, good);
      });
    });
  });

  test("after the failures, a migration of the original data changes nothing", async () => {
    const r = await migrate(w.mf);
    assert.equal(r.status, 200, r.text);
    assert.equal(rowsChanged(r.json), 0, r.text);
    assert.equal(r.json.rows_written, 0);
  });

  test("a changed value is migrated as updates, and export follows", async () => {
    const m = JSON.parse(await w.kv.get("roadmap:github-map"));
    m.mappings["someone-new"] = "bc1qexampleexampleexampleexampleexample00";
    await withValue("roadmap:github-map", JSON.stringify(m), async () => {
      const r = await migrate(w.mf);
      assert.equal(r.status, 200, r.text);
      assert.ok(rowsChanged(r.json) > 0, r.text);
      assert.ok(r.json.rows_written > 0);
      assertSameDump((await exportDump(w.mf)).text, (await upgraded(w.mf)).text);
    });
    // Back to the original value: the new row is deleted again.
    const r = await migrate(w.mf);
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.tables.some((t) => t.deleted > 0), r.text);
    assert.equal((await exportDump(w.mf)).text, good);
  });
});

describe("export is a fixed point", () => {
  test("seeding a fresh namespace with the export and migrating gives the same export", async () => {
    const a = await startWorker();
    let exported;
    try {
      await seedKv(a.kv, loadDump());
      assert.equal((await migrate(a.mf)).status, 200);
      exported = (await exportDump(a.mf)).text;
    } finally {
      await a.mf.dispose();
    }
    const b = await startWorker();
    try {
      await seedKv(b.kv, JSON.parse(exported));
      const r = await migrate(b.mf);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.unmapped_keys, []);
      assert.equal((await exportDump(b.mf)).text, exported);
    } finally {
      await b.mf.dispose();
    }
  });
});

describe("an empty namespace", () => {
  test("migrates to nothing", async () => {
    const w = await startWorker();
    try {
      const r = await migrate(w.mf);
      assert.equal(r.status, 200, r.text);
      assert.equal(rowsChanged(r.json), 0);
      assert.deepEqual((await exportDump(w.mf)).json, []);
      const again = await call(w.mf, "/api/migrate/status");
      assert.equal(again.json.last_report.rows_written, r.json.rows_written);
    } finally {
      await w.mf.dispose();
    }
  });
});

// Every other example dump (e.g. the legacy blobs at older `version`s that the upgrade replays):
// export equals the upgraded values, a second run writes nothing, KV is untouched.
const OTHER_DUMPS = readdirSafe(join(WORKER_DIR, "..", "examples"))
  .filter((f) => f.endsWith(".json") && join(WORKER_DIR, "..", "examples", f) !== dumpPath())
  .map((f) => join(WORKER_DIR, "..", "examples", f));

for (const path of OTHER_DUMPS) {
  describe(`example dump ${basename(path)}`, () => {
    test("migrates, exports the upgraded values, and a second run writes nothing", async () => {
      const w = await startWorker();
      try {
        await seedKv(w.kv, loadDump(path));
        const kvBefore = await kvState(w.kv);
        const expected = (await upgraded(w.mf)).text;
        const r = await migrate(w.mf);
        assert.equal(r.status, 200, r.text);
        assertSameDump((await exportDump(w.mf)).text, expected);
        const again = await migrate(w.mf);
        assert.equal(again.status, 200, again.text);
        assert.equal(rowsChanged(again.json), 0, again.text);
        assert.equal(again.json.rows_written, 0);
        assert.deepEqual(await kvState(w.kv), kvBefore);
      } finally {
        await w.mf.dispose();
      }
    });
  });
}

function readdirSafe(dir) {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
