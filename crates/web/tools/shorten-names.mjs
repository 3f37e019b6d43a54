// Shortens the names the WASM module and wasm-bindgen's JavaScript know each other by.
//
// wasm-bindgen names each import after the function it binds plus a 16-digit hash
// (`__wbg_set_onmessage_d98798389853a2a2`) and each export after its Rust path; the names
// appear in the module and again in the JavaScript, and a minifier cannot shorten them
// (they are object keys and property names). Hashes do not compress, so they cost ~9 KB of
// the gzipped bundle (BENCHMARKS.md, "Web bundle"). This script gives every import and
// export a short name (`a`, `b`, … `Z`, `aa`, …) in both files, and fails — leaving the
// build to stop — if the JavaScript does not use a name exactly where it is expected:
// each import as one key of the imports object, each export only as `wasm.<name>`.
//
// Usage: node shorten-names.mjs <module.wasm> <glue.js> (both rewritten in place)
import { readFileSync, writeFileSync } from 'node:fs';

const [wasmPath, jsPath] = process.argv.slice(2);
if (!wasmPath || !jsPath) throw new Error('usage: node shorten-names.mjs <module.wasm> <glue.js>');

const IMPORT_SECTION = 2;
const EXPORT_SECTION = 7;

function readLeb(bytes, at) {
  let value = 0;
  let shift = 0;
  for (;;) {
    if (at >= bytes.length || shift > 35) throw new Error('the module ends inside a number');
    const byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if (byte < 0x80) return [value, at];
  }
}

function leb(value) {
  const out = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    out.push(byte);
  } while (value > 0);
  return out;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

function readName(bytes, at) {
  const [length, start] = readLeb(bytes, at);
  return [decoder.decode(bytes.subarray(start, start + length)), start + length];
}

function name(text) {
  const bytes = encoder.encode(text);
  return [...leb(bytes.length), ...bytes];
}

/** The end of an import's description (what follows its two names). */
function skipImportDescription(bytes, at) {
  const kind = bytes[at++];
  switch (kind) {
    case 0: // function: type index
      return readLeb(bytes, at)[1];
    case 1: { // table: reference type, limits
      at += 1;
      const flags = bytes[at++];
      at = readLeb(bytes, at)[1];
      return flags & 1 ? readLeb(bytes, at)[1] : at;
    }
    case 2: { // memory: limits
      const flags = bytes[at++];
      at = readLeb(bytes, at)[1];
      return flags & 1 ? readLeb(bytes, at)[1] : at;
    }
    case 3: // global: value type, mutability
      return at + 2;
    case 4: // tag: attribute, type index
      return readLeb(bytes, at + 1)[1];
    default:
      throw new Error(`import of unknown kind ${kind}`);
  }
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** `a` … `Z`, `aa` …: valid JavaScript property names (the JavaScript only uses them as
 * object keys and after `wasm.`, where reserved words such as `do` are allowed). */
function shortName(index) {
  let text = '';
  for (let n = index + 1; n > 0; n = Math.floor((n - 1) / LETTERS.length)) {
    text = LETTERS[(n - 1) % LETTERS.length] + text;
  }
  return text;
}

/** Renames every import (`which` = 'imports') or export in a section's body. */
function renameSection(body, which, renamed) {
  let [count, at] = readLeb(body, 0);
  const out = [...leb(count)];
  for (let i = 0; i < count; i++) {
    if (which === 'imports') {
      const moduleStart = at;
      [, at] = readName(body, at);
      out.push(...body.subarray(moduleStart, at));
    }
    let old;
    [old, at] = readName(body, at);
    const fresh = shortName(i);
    if (renamed.has(old)) throw new Error(`two ${which} named ${old}`);
    renamed.set(old, fresh);
    out.push(...name(fresh));
    const rest = at;
    at = which === 'imports' ? skipImportDescription(body, at) : readLeb(body, at + 1)[1];
    out.push(...body.subarray(rest, at));
  }
  if (at !== body.length) throw new Error(`${which}: ${body.length - at} bytes left over`);
  return Uint8Array.from(out);
}

const wasm = readFileSync(wasmPath);
if (wasm.length < 8 || wasm.readUInt32LE(0) !== 0x6d736100 || wasm.readUInt32LE(4) !== 1) {
  throw new Error(`${wasmPath} is not a WebAssembly module (version 1)`);
}
const imports = new Map();
const exports = new Map();
const sections = [wasm.subarray(0, 8)];
for (let at = 8; at < wasm.length; ) {
  const id = wasm[at];
  const [size, start] = readLeb(wasm, at + 1);
  if (start + size > wasm.length) throw new Error(`section ${id} runs past the end of the module`);
  let body = wasm.subarray(start, start + size);
  if (id === IMPORT_SECTION) body = renameSection(body, 'imports', imports);
  if (id === EXPORT_SECTION) body = renameSection(body, 'exports', exports);
  sections.push(Uint8Array.from([id, ...leb(body.length)]), body);
  at = start + size;
}

let js = readFileSync(jsPath, 'utf8');
const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
// Imports: each old name must appear exactly once in the JavaScript, as the key of its
// function in the imports object; all keys renamed in one pass.
const uses = new Map();
for (const [name] of js.matchAll(/[\w$]+/g)) uses.set(name, (uses.get(name) ?? 0) + 1);
const keys = new Map();
for (const [, name] of js.matchAll(/(?<![\w$])([\w$]+)(?=: function\()/g)) keys.set(name, (keys.get(name) ?? 0) + 1);
for (const old of imports.keys()) {
  if (keys.get(old) !== 1) throw new Error(`import ${old}: ${keys.get(old) ?? 0} keys in the JavaScript, expected 1`);
  if (uses.get(old) !== 1) throw new Error(`import ${old} appears outside the imports object`);
}
js = js.replace(/(?<![\w$])([\w$]+)(?=: function\()/g, (key) => imports.get(key) ?? key);
// Exports: every `wasm.<name>` in one pass (a renamed use is never renamed again), and
// each must name an export of the module.
js = js.replace(/(?<![\w$])wasm\.([\w$]+)/g, (_, used) => {
  const fresh = exports.get(used);
  if (fresh === undefined) throw new Error(`wasm.${used} in the JavaScript is not an export of the module`);
  return `wasm.${fresh}`;
});
if (/(?<![\w$])wasm\s*\[/.test(js)) throw new Error('the JavaScript reads an export by a computed name');
// No export may be reached any other way (`instance.exports.<name>`, destructuring, an
// alias): its old name must be gone — unless the JavaScript declares a function of that
// name (wasm-bindgen's wrappers, which call the export through `wasm.`), whose uses are its.
for (const old of exports.keys()) {
  if (new RegExp(`(?<![\\w$])function ${escape(old)}\\(`).test(js)) continue;
  if (new RegExp(`(?<![\\w$])${escape(old)}(?![\\w$])`).test(js)) {
    throw new Error(`export ${old} is used in the JavaScript other than as wasm.${old}`);
  }
}
writeFileSync(wasmPath, Buffer.concat(sections));
writeFileSync(jsPath, js);
console.error(`shortened ${imports.size} import and ${exports.size} export names`);
