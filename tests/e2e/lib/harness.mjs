// Test harness: the real hush-server (console SMS, embedded store, the built web app), a
// small proxy in front of it that can cut WebSockets (Playwright's setOffline does not),
// and Debian's Chromium driven by playwright-core.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(import.meta.dirname, '../../..');
export const SCREENSHOTS = path.join(ROOT, 'tests/e2e/screenshots');
mkdirSync(SCREENSHOTS, { recursive: true });

/** A proxy that forwards HTTP and WebSockets to `target` and can cut the WebSockets, or
 * everything (the browser is offline: every request fails as with no network). */
export async function startProxy(targetPort, publicOrigin) {
  let cut = false;
  let offline = false;
  const sockets = new Set();
  const connections = new Set();
  const server = http.createServer((req, res) => {
    if (offline) { req.socket.destroy(); return; }
    const upstream = http.request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    upstream.on('error', () => { res.writeHead(502); res.end(); });
    req.pipe(upstream);
  });
  server.on('connection', (c) => { connections.add(c); c.on('close', () => connections.delete(c)); });
  server.on('upgrade', (req, socket, head) => {
    if (cut || offline) { socket.destroy(); return; }
    const upstream = net.connect(targetPort, '127.0.0.1', () => {
      const headers = { ...req.headers, origin: publicOrigin };
      let raw = `${req.method} ${req.url} HTTP/1.1\r\n`;
      for (const [k, v] of Object.entries(headers)) raw += `${k}: ${v}\r\n`;
      upstream.write(raw + '\r\n');
      if (head && head.length) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    const pair = { socket, upstream };
    sockets.add(pair);
    const drop = () => { socket.destroy(); upstream.destroy(); sockets.delete(pair); };
    socket.on('error', drop); upstream.on('error', drop); socket.on('close', drop); upstream.on('close', drop);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    cutWebSockets() { cut = true; for (const p of [...sockets]) { p.socket.destroy(); p.upstream.destroy(); } sockets.clear(); },
    restoreWebSockets() { cut = false; },
    goOffline() { offline = true; this.cutWebSockets(); cut = false; for (const c of connections) c.destroy(); },
    goOnline() { offline = false; },
    close() { for (const p of sockets) { p.socket.destroy(); p.upstream.destroy(); } server.close(); },
  };
}

/** Stops `child` with SIGTERM, waits for it to exit, then deletes its directory `dir`. */
export async function stopProcess(child, dir) {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
}

/** A free TCP port on loopback. */
export async function freePort() {
  const probe = net.createServer();
  await new Promise((r) => probe.listen(0, '127.0.0.1', r));
  const port = probe.address().port;
  await new Promise((r) => probe.close(r));
  return port;
}

/** `startHush` environment serving the copy of the web app built with the `test-exports`
 * feature (crypto exported to JavaScript), which scripts/test.sh builds beside the real one. */
export function testExportsEnv() {
  const dir = process.env.HUSH_WEB_TEST_EXPORTS_DIR;
  if (!dir) throw new Error('set HUSH_WEB_TEST_EXPORTS_DIR to a web build with the test-exports feature (scripts/test.sh does)');
  return { HUSH_WEB_DIR: dir };
}

/** Starts hush-server on a free port with its own data directory. `publicOrigin` and
 * `env` override the defaults (a proxy in front presents its own origin). */
export async function startHush({ publicOrigin, env = {} } = {}) {
  const binary = process.env.HUSH_SERVER_BIN;
  const webDir = process.env.HUSH_WEB_DIR;
  if (!binary || !webDir) throw new Error('set HUSH_SERVER_BIN and HUSH_WEB_DIR (scripts/test.sh does)');
  const port = await freePort();
  // By default the browser talks to two proxies (Alice's and Bob's, so one can be cut);
  // both present the server's public origin.
  publicOrigin ??= `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'hush-e2e-'));
  const child = spawn(binary, [], {
    env: { ...process.env, HUSH_BIND: `127.0.0.1:${port}`, HUSH_DATA_DIR: dataDir, HUSH_WEB_DIR: webDir, HUSH_PUBLIC_ORIGIN: publicOrigin, RUST_LOG: 'info', HUSH_WS_PING_SECS: '5', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = [];
  readline.createInterface({ input: child.stderr }).on('line', (l) => log.push(l));
  await new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`hush-server exited with ${code}: ${log.join('\n')}`)));
  });
  return {
    port,
    publicOrigin,
    log,
    /** How many codes were texted to `e164` so far. */
    codesSent(e164) {
      return log.filter((l) => l.includes(`SMS to ${e164}: Your Hush code is `)).length;
    },
    /** The newest code texted to `e164`, once more than `before` were sent (a new sign-in
     * must not pick up the previous code while the server is still logging the new one). */
    async codeFor(e164, before = 0) {
      for (let i = 0; i < 200; i++) {
        const lines = log.filter((l) => l.includes(`SMS to ${e164}: Your Hush code is `));
        if (lines.length > before) return lines[lines.length - 1].split('code is ')[1].slice(0, 6);
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`no new code for ${e164}`);
    },
    /** Stops the server and deletes its data directory once it has exited. */
    stop: () => stopProcess(child, dataDir),
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-sync'],
  });
}

/** A person: a browser context (own cookies and IndexedDB) on their own proxy — or, with
 * `url`, opening that URL directly (a real proxy in front of the server). */
export async function person(browser, hush, national, { url, bypassCSP = false } = {}) {
  const proxy = url ? { close() {} } : await startProxy(hush.port, hush.publicOrigin);
  // A real proxy in front uses a certificate from a private CA the browser does not know.
  // `bypassCSP` lets a test inject a checker (axe-core) the page's policy would refuse.
  const context = await browser.newContext({ viewport: { width: 420, height: 800 }, ignoreHTTPSErrors: Boolean(url), bypassCSP });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[${national}] page error: ${e.message}`));
  page.on('console', (m) => { if ((m.type() === 'error' || m.type() === 'warning') && !m.text().includes('401')) console.error(`[${national}] console: ${m.text()}`); });
  return { national, e164: `+1${national.replace(/\D/g, '')}`, proxy, context, page, url: url ?? `http://127.0.0.1:${proxy.port}/` };
}

/** Enters the number and the texted code; `who.codeSentAt` remembers when (the server
 * sends one code per number every 30 seconds). */
export async function enterCode(hush, who) {
  const { page } = who;
  await page.goto(who.url);
  await page.getByLabel('Phone number').fill(who.national);
  const before = hush.codesSent(who.e164);
  await page.getByRole('button', { name: /^Send code/ }).click();
  const code = await hush.codeFor(who.e164, before);
  who.codeSentAt = Date.now();
  await page.getByLabel('Code').fill(code);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Signs a new person in and chooses their display name. */
export async function signIn(hush, who, name) {
  const { page } = who;
  await enterCode(hush, who);
  await page.getByLabel('Display name').fill(name);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('heading', { name: 'Chats' }).waitFor();
}

/** Alice and Bob (named so), signed in and friends; `options` as for `person`. */
export async function aliceAndBob(browser, hush, [aliceNumber, bobNumber], options = {}) {
  const alice = await person(browser, hush, aliceNumber, options);
  const bob = await person(browser, hush, bobNumber, options);
  alice.name = 'Alice';
  bob.name = 'Bob';
  await signIn(hush, alice, 'Alice');
  await signIn(hush, bob, 'Bob');
  await befriend(alice, bob, 'Bob');
  return { alice, bob };
}

/** After a spec: the browser, each person's proxy and the server. */
export async function tearDown(browser, hush, people) {
  await browser?.close();
  for (const who of people) who?.proxy.close();
  await hush?.stop();
}

/** Clicks a main navigation button. */
export async function nav(page, name) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name, exact: true }).click();
}

export async function befriend(a, b, bName) {
  await nav(a.page, 'Friends');
  await a.page.getByLabel("Friend's phone number").fill(b.e164);
  await a.page.getByRole('button', { name: 'Add friend' }).click();
  await a.page.getByText(`Request sent to ${bName}`).waitFor();
  await nav(b.page, 'Friends');
  // A name is self-chosen: the request shows the requester's number too.
  await b.page.getByRole('list', { name: 'Incoming requests' }).getByText(a.e164).waitFor();
  // Decline is the lesser choice: not in Accept's accent colour.
  const colours = Object.fromEntries(await b.page.getByRole('list', { name: 'Incoming requests' }).getByRole('button')
    .evaluateAll((buttons) => buttons.map((x) => [x.textContent, getComputedStyle(x).backgroundColor])));
  if (colours.Accept === colours.Decline) throw new Error(`Accept and Decline look alike: ${JSON.stringify(colours)}`);
  await b.page.getByRole('button', { name: 'Accept' }).click();
  await b.page.getByRole('list', { name: 'Friends' }).getByRole('button', { name: a.name }).waitFor();
  await a.page.getByRole('list', { name: 'Friends' }).getByRole('button', { name: bName }).waitFor();
}

export async function openChat(who, friendName) {
  await nav(who.page, 'Chats');
  // A chat row is named by what it shows: the friend's name first.
  await who.page.getByRole('button', { name: new RegExp(`^${friendName}\\b`) }).click();
  await who.page.getByLabel('Message', { exact: true }).waitFor();
}

export async function send(who, text) {
  await who.page.getByLabel('Message', { exact: true }).fill(text);
  await who.page.getByLabel('Message', { exact: true }).press('Enter');
}

/** The tick label of my bubble containing `text`. */
export function tickOf(who, text) {
  return who.page.locator('.bubble.mine', { hasText: text }).locator('.tick');
}

/** Waits for a level-one heading; on failure prints what the page shows instead. */
export async function expectHeading(who, name, timeout = 30000) {
  try {
    await who.page.getByRole('heading', { name }).waitFor({ timeout });
  } catch (e) {
    console.error(`[${who.national}] expected the heading "${name}"; the page shows:\n${await who.page.locator('body').innerText()}`);
    throw e;
  }
}
