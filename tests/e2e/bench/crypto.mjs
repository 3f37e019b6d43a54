// Crypto in headless Chromium, in Hush's WASM build served by a real hush-server: crypto
// v2's handshake (both sides), one ECDSA verification, a 300-byte message sealed and opened
// in a session, without and with a DH ratchet step, and a safety number; and crypto v1 side
// by side with WebCrypto doing the same operations — a P-256 key pair, ECDH plus the HKDF
// key schedule, and AES-256-GCM seal and open of a 300-byte message (padded as v1 pads it).
// Prints one JSON line with microseconds per operation (median of 5 rounds, after a
// warm-up). It loads the copy of the app built with the `test-exports` feature (the app's
// code plus the timing functions, which the served app does not carry), and needs a debug
// or release hush-server build:
//   HUSH_WEB_FEATURES=test-exports HUSH_WEB_OUT=target/web-test-exports bash scripts/build-web.sh
//   HUSH_SERVER_BIN=target/release/hush-server HUSH_WEB_DIR=target/web \
//     HUSH_WEB_TEST_EXPORTS_DIR=target/web-test-exports node tests/e2e/bench/crypto.mjs
import { launchBrowser, startHush, testExportsEnv } from '../lib/harness.mjs';

const hush = await startHush({ env: testExportsEnv() });
const browser = await launchBrowser();
try {
  const page = await browser.newPage();
  await page.goto(hush.publicOrigin);
  await page.getByLabel('Phone number').waitFor();
  const result = await page.evaluate(async () => {
    const wasm = await import(document.querySelector('link[rel=modulepreload]').href);
    const enc = new TextEncoder();
    const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    // µs per operation: median over 5 rounds of `n` operations each.
    const time = async (n, body) => {
      const rounds = [];
      for (let r = 0; r < 5; r++) {
        const t0 = performance.now();
        await body(n);
        rounds.push(((performance.now() - t0) * 1000) / n);
      }
      return Math.round(median(rounds) * 100) / 100;
    };
    const ecdh = { name: 'ECDH', namedCurve: 'P-256' };
    const alice = await crypto.subtle.generateKey(ecdh, true, ['deriveBits']);
    const bob = await crypto.subtle.generateKey(ecdh, true, ['deriveBits']);
    const bobPublic = new Uint8Array(await crypto.subtle.exportKey('raw', bob.publicKey));
    const info = new Uint8Array(19 + 32 + 130);
    info.set(enc.encode('hush/v1/message-key'));
    const derive = async () => {
      const peer = await crypto.subtle.importKey('raw', bobPublic, ecdh, false, []);
      const z = await crypto.subtle.deriveBits({ name: 'ECDH', public: peer }, alice.privateKey, 256);
      const ikm = await crypto.subtle.importKey('raw', z, 'HKDF', false, ['deriveKey']);
      return crypto.subtle.deriveKey({ name: 'HKDF', hash: 'SHA-256', salt: enc.encode('hush/v1/key-schedule'), info }, ikm, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
    };
    const key = await derive();
    const padded = new Uint8Array(320); // 300 bytes + length prefix, Padmé-rounded
    const aad = new Uint8Array(65);
    const seal = () => crypto.subtle.encrypt({ name: 'AES-GCM', iv: crypto.getRandomValues(new Uint8Array(12)), additionalData: aad }, key, padded);
    const iv = new Uint8Array(12);
    const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aad }, key, padded);
    const open = () => crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: aad }, key, sealed);
    const loop = (op) => async (n) => { for (let i = 0; i < n; i++) await op(); };
    // Hush's WASM times its own loop (keys and sessions set up before its clock starts).
    const inWasm = (op) => async (n) => {
      const rounds = [];
      for (let r = 0; r < 5; r++) rounds.push(wasm.hushCryptoBench(op, n));
      return Math.round(median(rounds) * 100) / 100;
    };
    // Warm up first: V8 runs WASM on its baseline compiler until the optimising tier has
    // compiled the hot functions in the background; without this the first rows measure
    // partly unoptimised code.
    for (let r = 0; r < 3; r++) {
      for (const [op, n] of [['handshake_first', 10], ['verify', 20], ['ratchet_dh', 20], ['ratchet', 200], ['safety', 2], ['keypair', 20], ['derive', 20], ['seal', 200], ['open', 200]]) {
        wasm.hushCryptoBench(op, n);
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    return {
      v2_wasm_us: {
        handshake_both_sides: await inWasm('handshake')(20),
        handshake_and_first_message: await inWasm('handshake_first')(20),
        ecdsa_verify: await inWasm('verify')(100),
        seal_and_open_300_bytes: await inWasm('ratchet')(2000),
        seal_and_open_300_bytes_with_dh_step: await inWasm('ratchet_dh')(100),
        safety_number: await inWasm('safety')(5),
      },
      wasm_us: {
        key_pair: await inWasm('keypair')(200),
        ecdh_and_key_schedule: await inWasm('derive')(200),
        seal_300_bytes: await inWasm('seal')(5000),
        open_300_bytes: await inWasm('open')(5000),
      },
      webcrypto_us: {
        key_pair: await time(200, loop(() => crypto.subtle.generateKey(ecdh, true, ['deriveBits']))),
        ecdh_and_key_schedule: await time(200, loop(derive)),
        seal_300_bytes: await time(2000, loop(seal)),
        open_300_bytes: await time(2000, loop(open)),
      },
      user_agent: navigator.userAgent,
    };
  });
  console.log(JSON.stringify({ scenario: 'crypto-in-browser', ...result }));
} finally {
  await browser.close();
  await hush.stop();
}
