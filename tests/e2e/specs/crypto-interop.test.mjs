// WebCrypto interop inside Chromium: a message sealed by Hush's WASM crypto is opened by
// SubtleCrypto (ECDH P-256 + HKDF-SHA256 + AES-GCM, following docs/CRYPTO_V1.md), and a
// message sealed by SubtleCrypto is opened by the WASM crypto. The functions are exported
// only by the copy of the app built with the `test-exports` feature; the app people load
// does not carry them.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { launchBrowser, startHush, testExportsEnv } from '../lib/harness.mjs';

let hush, browser;
before(async () => { hush = await startHush({ env: testExportsEnv() }); browser = await launchBrowser(); });
after(async () => { await browser?.close(); await hush?.stop(); });

test('WASM crypto v1 and WebCrypto read each other', async () => {
  const page = await browser.newPage();
  await page.goto(hush.publicOrigin);
  await page.getByLabel('Phone number').waitFor();
  const result = await page.evaluate(async () => {
    const hush = await import(document.querySelector('link[rel=modulepreload]').href);
    const enc = new TextEncoder();
    const b64 = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
    const unb64 = (s) => Uint8Array.from(atob(s.replaceAll('-', '+').replaceAll('_', '/')), (c) => c.charCodeAt(0));
    const uuidBytes = (u) => Uint8Array.from(u.replaceAll('-', '').match(/../g), (h) => parseInt(h, 16));
    const concat = (...parts) => { const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0)); let i = 0; for (const p of parts) { out.set(p, i); i += p.length; } return out; };
    const ecdh = { name: 'ECDH', namedCurve: 'P-256' };
    const newPair = () => crypto.subtle.generateKey(ecdh, true, ['deriveBits']);
    const [aliceKeys, bobKeys] = [await newPair(), await newPair()];
    const alice = { id: crypto.randomUUID(), secret: (await crypto.subtle.exportKey('jwk', aliceKeys.privateKey)).d, pub: new Uint8Array(await crypto.subtle.exportKey('raw', aliceKeys.publicKey)) };
    const bob = { id: crypto.randomUUID(), pub: new Uint8Array(await crypto.subtle.exportKey('raw', bobKeys.publicKey)) };
    // The WASM side derives the same public key from the exported secret.
    const samePublic = hush.hushPublicKey(alice.secret) === b64(alice.pub);

    // WebCrypto's half of crypto v1, written from docs/CRYPTO_V1.md.
    const messageKey = async (sender, recipient) => {
      const z = await crypto.subtle.deriveBits({ name: 'ECDH', public: await crypto.subtle.importKey('raw', alice.pub, ecdh, false, []) }, bobKeys.privateKey, 256);
      const ikm = await crypto.subtle.importKey('raw', z, 'HKDF', false, ['deriveKey']);
      const info = concat(enc.encode('hush/v1/message-key'), uuidBytes(sender.id), uuidBytes(recipient.id), sender.pub, recipient.pub);
      return crypto.subtle.deriveKey({ name: 'HKDF', hash: 'SHA-256', salt: enc.encode('hush/v1/key-schedule'), info }, ikm, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
    };
    const keyId = async (pub) => new Uint8Array(await crypto.subtle.digest('SHA-256', pub)).slice(0, 8);
    const aad = async (sender, recipient, messageId) => concat(new Uint8Array([1]), await keyId(sender.pub), await keyId(recipient.pub), uuidBytes(messageId), uuidBytes(sender.id), uuidBytes(recipient.id));
    const padme = (l) => { const e = Math.floor(Math.log2(l)); const s = Math.floor(Math.log2(e)) + 1; const mask = (1 << (e - s)) - 1; return (l + mask) & ~mask; };

    // WASM seals Alice → Bob; WebCrypto opens as Bob.
    const id1 = crypto.randomUUID();
    const envelope = unb64(hush.hushSealV1(alice.secret, alice.id, b64(bob.pub), bob.id, id1, 'sealed by WASM ✓'));
    const opened = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: envelope.slice(17, 29), additionalData: await aad(alice, bob, id1) }, await messageKey(alice, bob), envelope.slice(29)));
    const len = new DataView(opened.buffer).getUint32(0);
    const fromWasm = new TextDecoder().decode(opened.slice(4, 4 + len));

    // WebCrypto seals Bob → Alice; WASM opens as Alice.
    const id2 = crypto.randomUUID();
    const text = enc.encode('sealed by WebCrypto ✓');
    const padded = new Uint8Array(padme(Math.max(text.length + 4, 64)));
    new DataView(padded.buffer).setUint32(0, text.length);
    padded.set(text, 4);
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: await aad(bob, alice, id2) }, await messageKey(bob, alice), padded));
    const out = concat(new Uint8Array([1]), await keyId(bob.pub), await keyId(alice.pub), iv, sealed);
    const fromWebCrypto = hush.hushOpenV1(alice.secret, alice.id, b64(bob.pub), bob.id, id2, b64(out));
    // And a tampered one is refused.
    out[40] ^= 1;
    let tamperedRefused = false;
    try { hush.hushOpenV1(alice.secret, alice.id, b64(bob.pub), bob.id, id2, b64(out)); } catch { tamperedRefused = true; }
    return { samePublic, fromWasm, fromWebCrypto, tamperedRefused };
  });
  assert.deepEqual(result, { samePublic: true, fromWasm: 'sealed by WASM ✓', fromWebCrypto: 'sealed by WebCrypto ✓', tamperedRefused: true });
});

test('the app people load carries no test exports', () => {
  const assets = (dir) => path.join(dir, 'assets');
  const glue = (dir) => readdirSync(assets(dir)).filter((f) => /^hush-.*\.js$/.test(f)).map((f) => readFileSync(path.join(assets(dir), f), 'utf8'));
  const [served] = glue(process.env.HUSH_WEB_DIR);
  const [tested] = glue(testExportsEnv().HUSH_WEB_DIR);
  for (const name of ['hushSealV1', 'hushOpenV1', 'hushPublicKey', 'hushCryptoBench']) {
    assert.ok(tested.includes(name), `the test-exports copy exports ${name}`);
    assert.ok(!served.includes(name), `the served app does not export ${name}`);
  }
});
