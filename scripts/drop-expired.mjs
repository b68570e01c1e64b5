// Drops the entries of a `wrangler kv bulk` dump whose expiration is less than 60 s away (KV
// refuses to put them, and one such entry fails the whole `wrangler kv bulk put`), and writes
// the rest atomically (temporary file beside the target, fsync, rename). Prints what it dropped.
//
//   node scripts/drop-expired.mjs export.json rollback.json
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error("usage: node scripts/drop-expired.mjs <dump.json> <out.json>");
  process.exit(2);
}
const entries = JSON.parse(readFileSync(input, "utf8"));
if (!Array.isArray(entries)) throw new Error(`${input}: not a wrangler kv bulk array`);
const limit = Math.floor(Date.now() / 1000) + 60;
const kept = [];
for (const e of entries) {
  if (e.expiration != null && e.expiration <= limit) {
    console.error(`dropped ${e.key}: expired (expiration ${e.expiration})`);
  } else {
    kept.push(e);
  }
}
const tmp = join(dirname(output), `.${basename(output)}.${process.pid}.tmp`);
const fd = openSync(tmp, "w");
writeSync(fd, JSON.stringify(kept));
fsyncSync(fd);
closeSync(fd);
renameSync(tmp, output);
console.error(`kept ${kept.length} of ${entries.length} entries in ${output}`);
