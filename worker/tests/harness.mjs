// Shared helpers for the end-to-end tests: the built Worker (build/index.js, see
// scripts/build-worker.sh) under workerd through Miniflare's JavaScript API: no ports, no dev
// server, a fresh in-memory KV namespace and Durable Object storage per instance.
//
// Environment:
//   KV2SQL_DUMP   the `wrangler kv bulk` dump to seed KV with (default: ../examples/v1-dump.json
//                 when it exists, else tests/fixtures/v1-dump.json)

import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { Miniflare } from "miniflare";

export const WORKER_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const ADMIN_KEY = "test-admin-key-0123456789abcdef";
export const COMPATIBILITY_DATE = "2026-04-20";

export function dumpPath() {
  if (process.env.KV2SQL_DUMP) return resolve(process.env.KV2SQL_DUMP);
  const example = join(WORKER_DIR, "..", "examples", "v1-dump.json");
  return existsSync(example) ? example : join(WORKER_DIR, "tests", "fixtures", "v1-dump.json");
}

/** The entries of a `wrangler kv bulk` dump: [{key, value, expiration?, expiration_ttl?, base64?}]. */
export function loadDump(path = dumpPath()) {
  const entries = JSON.parse(readFileSync(path, "utf8"));
  if (!Array.isArray(entries)) throw new Error(`${path}: not a wrangler kv bulk array`);
  return entries;
}

/**
 * Starts the Worker. `adminKey: null` leaves ADMIN_KEY unset. `selftest` enables the test-only
 * routes (/api/_selftest, /api/_upgraded). `buildDir`: another build (default build/, e.g. one
 * from scripts/build-worker-variant.sh). `persistDir`: keep the Durable Object and KV storage in
 * that folder (`do/`, `kv/`) instead of in memory, so that a Worker started later on the same
 * folder finds them. `logs`: an array that receives workerd's output (see logCapture).
 */
export async function startWorker({
  adminKey = ADMIN_KEY,
  selftest = true,
  bindings = {},
  buildDir = join(WORKER_DIR, "build"),
  persistDir,
  logs,
} = {}) {
  const script = join(buildDir, "index.js");
  if (!existsSync(script)) throw new Error(`${script} is missing: run scripts/build-worker.sh first`);
  const allBindings = { ...bindings };
  if (adminKey !== null) allBindings.ADMIN_KEY = adminKey;
  if (selftest) allBindings.KV2SQL_SELFTEST = "1";
  const mf = new Miniflare({
    modules: true,
    scriptPath: script,
    // Module names relative to the build folder, so that a build outside the current directory
    // (a variant in a temporary folder) works: workerd refuses module names with "..".
    modulesRoot: buildDir,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }],
    compatibilityDate: COMPATIBILITY_DATE,
    kvNamespaces: ["ROADMAP_KV"],
    durableObjects: { MIGRATOR: { className: "Migrator", useSQLite: true } },
    bindings: allBindings,
    ...(persistDir === undefined
      ? {}
      : { durableObjectsPersist: join(persistDir, "do"), kvPersist: join(persistDir, "kv") }),
    ...(logs === undefined ? {} : logCapture(logs)),
  });
  await mf.ready;
  const kv = await mf.getKVNamespace("ROADMAP_KV");
  return { mf, kv };
}

/**
 * Miniflare options that append everything workerd prints (its stdout and stderr, and the
 * structured logs: the Worker's console.log/console.error) to the array `logs`, as strings.
 */
export function logCapture(logs) {
  const collect = (stream) => {
    stream.setEncoding("utf8");
    stream.on("data", (chunk) => logs.push(chunk));
  };
  return {
    handleRuntimeStdio(stdout, stderr) {
      collect(stdout);
      collect(stderr);
    },
    handleStructuredLogs({ level, message }) {
      logs.push(`[${level}] ${message}\n`);
    },
  };
}

/** A fresh temporary folder (for persistent storage, variant builds). */
export function tempDir(prefix = "kv2sql-e2e-") {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Deletes a folder made by tempDir(). */
export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true });
}

/** Seeds KV with dump entries. Entries already expired are skipped, as `wrangler kv bulk put` does. */
export async function seedKv(kv, entries) {
  const now = Math.floor(Date.now() / 1000);
  for (const e of entries) {
    const value = e.base64 ? Buffer.from(e.value, "base64") : e.value;
    const opts = {};
    if (e.expiration != null) opts.expiration = e.expiration;
    else if (e.expiration_ttl != null) opts.expirationTtl = e.expiration_ttl;
    if (e.metadata != null) opts.metadata = e.metadata;
    if (opts.expiration != null && opts.expiration <= now + 60) continue;
    await kv.put(e.key, value, opts);
  }
}

/** Every key of the namespace with its expiration, metadata and exact bytes (base64). */
export async function kvState(kv) {
  const keys = [];
  let cursor;
  do {
    const page = await kv.list({ cursor });
    keys.push(...page.keys);
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  const out = [];
  for (const k of keys) {
    const bytes = await kv.get(k.name, "arrayBuffer");
    out.push({
      key: k.name,
      expiration: k.expiration ?? null,
      metadata: k.metadata ?? null,
      value: bytes === null ? null : Buffer.from(bytes).toString("base64"),
    });
  }
  return out;
}

/**
 * Calls the Worker. `key`: the admin key to send as Bearer (`null`: no Authorization header);
 * `auth`: a raw Authorization header value instead.
 */
export async function call(mf, path, { method = "GET", key = ADMIN_KEY, auth, body, headers = {} } = {}) {
  const h = { ...headers };
  if (auth !== undefined) h.Authorization = auth;
  else if (key !== null) h.Authorization = `Bearer ${key}`;
  const init = { method, headers: h };
  if (body !== undefined) {
    init.body = body;
    if (typeof body === "object" && typeof body.getReader === "function") init.duplex = "half";
  }
  const res = await mf.dispatchFetch(`http://kv2sql.test${path}`, init);
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export const migrate = (mf, query = "", opts = {}) => call(mf, `/api/migrate${query}`, { method: "POST", ...opts });
export const exportDump = (mf) => call(mf, "/api/export");
export const status = (mf) => call(mf, "/api/migrate/status");
/** What /api/export must return after migrating the current KV data (test-only route). */
export const upgraded = (mf) => call(mf, "/api/_upgraded", { method: "POST" });

/** Sum of inserted + updated + deleted over the report's tables. */
export function rowsChanged(report) {
  return report.tables.reduce((n, t) => n + t.inserted + t.updated + t.deleted, 0);
}

/**
 * Asserts that two `wrangler kv bulk` dumps hold the same entries: same keys in the same order,
 * same expirations, and values that are equal JSON. Object key order is not a difference (the
 * tables keep maps ordered by key, and an object's fields in mapping order), array order is; the
 * same rule as `kv2sql verify` (runtime/src/diff.rs). Values that are not JSON must be identical.
 */
export function assertSameDump(actualText, expectedText, message = "") {
  const actual = JSON.parse(actualText);
  const expected = JSON.parse(expectedText);
  assert.deepEqual(
    actual.map((e) => [e.key, e.expiration ?? null]),
    expected.map((e) => [e.key, e.expiration ?? null]),
    `${message} keys and expirations`,
  );
  for (let i = 0; i < actual.length; i++) {
    const parse = (v) => {
      try {
        return { json: JSON.parse(v) };
      } catch {
        return { text: v };
      }
    };
    assert.deepStrictEqual(parse(actual[i].value), parse(expected[i].value), `${message} value of ${actual[i].key}`);
  }
}
