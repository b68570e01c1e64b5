#!/usr/bin/env node
// Removes the `name` custom section from a wasm file in place (worker-build always asks wasm-opt
// to keep it; it holds function names for stack traces and is about 15% of the bundle).
// Usage: node scripts/strip-wasm-names.mjs build/index_bg.wasm
import { readFileSync, writeFileSync } from "node:fs";

const path = process.argv[2];
const buf = readFileSync(path);
if (buf.readUInt32LE(0) !== 0x6d736100) throw new Error(`${path}: not a wasm module`);

function leb(pos) {
  let result = 0, shift = 0, b;
  do {
    b = buf[pos++];
    result += (b & 0x7f) * 2 ** shift;
    shift += 7;
  } while (b & 0x80);
  return [result, pos];
}

const keep = [buf.subarray(0, 8)];
let pos = 8, removed = 0;
while (pos < buf.length) {
  const start = pos;
  const id = buf[pos++];
  const [size, body] = leb(pos);
  const end = body + size;
  let drop = false;
  if (id === 0) {
    const [nameLen, nameAt] = leb(body);
    drop = buf.toString("utf8", nameAt, nameAt + nameLen) === "name";
  }
  if (drop) removed += end - start;
  else keep.push(buf.subarray(start, end));
  pos = end;
}
if (removed > 0) writeFileSync(path, Buffer.concat(keep));
console.log(`strip-wasm-names: removed ${removed} bytes from ${path}`);
