// The installable app: the service worker keeps the app shell, so Hush starts with no
// connection at all (from this browser's data, the outbox filling) and sends once the
// connection returns; a new deploy is offered as an update and taken only when the person
// accepts it; a session that ended while away says so. (Chromium's installability verdict
// is checked in lighthouse.test.mjs, which runs a real profile: Chromium offers no install
// from an incognito-like context.)
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { aliceAndBob, enterCode, launchBrowser, openChat, send, startHush, tearDown, tickOf } from '../lib/harness.mjs';

let hush, browser, alice, bob, webDir;

/** Waits until the page is served by the service worker; returns the worker's build. */
async function controlledBuild(page) {
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 30000 });
  return page.evaluate(async () => (await caches.keys()).filter((k) => k.startsWith('hush-shell-')));
}

before(async () => {
  // The server serves a copy of the built app, so a test can deploy a new build into it.
  webDir = mkdtempSync(path.join(os.tmpdir(), 'hush-web-'));
  cpSync(process.env.HUSH_WEB_DIR, webDir, { recursive: true });
  hush = await startHush({ env: { HUSH_WEB_DIR: webDir } });
  browser = await launchBrowser();
  ({ alice, bob } = await aliceAndBob(browser, hush, ['650 253 0401', '650 253 0402']));
});

after(async () => {
  await tearDown(browser, hush, [alice, bob]);
  rmSync(webDir, { recursive: true, force: true });
});

test('with no connection at all, Hush starts from the service worker and this browser\'s data; the outbox sends when back', async () => {
  await openChat(alice, 'Bob');
  await send(alice, 'before going offline');
  await tickOf(alice, 'before going offline').and(alice.page.locator('[aria-label="delivered"]')).waitFor();
  await controlledBuild(alice.page);

  alice.proxy.goOffline();
  // Nothing answers: not the page, not its files, not the API.
  assert.equal(await alice.page.evaluate(async () => {
    try { await fetch('/api/v1/health', { cache: 'no-store' }); return 'answered'; } catch { return 'failed'; }
  }), 'failed');
  await alice.page.goto(`${alice.url}chat/${await chatId(alice)}`);
  await alice.page.getByRole('status').filter({ hasText: /Offline|Connecting/ }).first().waitFor({ timeout: 30000 })
    .catch(async (e) => { console.error(`the page shows:\n${await alice.page.locator('body').innerText()}`); throw e; });
  // The conversation, from this browser's data, with the friend's name.
  await alice.page.getByRole('heading', { name: 'Bob' }).waitFor();
  await alice.page.getByText('before going offline').waitFor();
  await send(alice, 'written with no connection');
  await tickOf(alice, 'written with no connection').and(alice.page.locator('[aria-label="waiting on this device"]')).waitFor();

  alice.proxy.goOnline();
  await openChat(bob, 'Alice');
  await bob.page.getByText('written with no connection').waitFor({ timeout: 60000 });
  await tickOf(alice, 'written with no connection').and(alice.page.locator('[aria-label="read"]')).waitFor();
});

/** The chat's id from the address bar (the app's route /chat/<id>). */
async function chatId(who) {
  const match = new URL(who.page.url()).pathname.match(/^\/chat\/([^/]+)/);
  assert.ok(match, `on a chat: ${who.page.url()}`);
  return match[1];
}

test('a new deploy is offered as an update, and taken when the person accepts it', async () => {
  const [before] = await controlledBuild(alice.page);
  // Deploy: a new build's service worker (its version changes with its files).
  const sw = path.join(webDir, 'sw.js');
  const next = readFileSync(sw, 'utf8').replace(/version: '([0-9a-f]+)'/, "version: 'f00d$1'");
  assert.notEqual(next, readFileSync(sw, 'utf8'), 'sw.js names its build');
  writeFileSync(sw, next);
  await alice.page.evaluate(async () => (await navigator.serviceWorker.getRegistration()).update());
  const offer = alice.page.getByRole('status').filter({ hasText: 'A new version of Hush is ready.' });
  await offer.waitFor({ timeout: 30000 });
  // Until accepted, the new build waits and the page stays on the build it runs (whose
  // files are kept until the new worker takes over).
  assert.ok(await alice.page.evaluate(async () => (await navigator.serviceWorker.getRegistration()).waiting !== null), 'the new worker waits');
  assert.ok((await controlledBuild(alice.page)).includes(before));
  // The new worker deletes the old build's files as it takes over, which can be before the
  // page reloads into it: wait for that reload, or a look at the page could land mid-way.
  const reloaded = alice.page.waitForEvent('load', { timeout: 30000 });
  await offer.getByRole('button', { name: 'Reload' }).click();
  await reloaded;
  await alice.page.waitForFunction((old) => caches.keys().then((k) => !k.includes(old)), before, { timeout: 30000 });
  assert.deepEqual(await controlledBuild(alice.page), [`hush-shell-f00d${before.slice('hush-shell-'.length)}`]);
  await alice.page.getByRole('heading', { name: 'Bob' }).waitFor();
  assert.equal(await offer.count(), 0, 'no offer once on the new build');
});

test('a session that ended while away says so and offers to sign in again, keeping this browser\'s data', async () => {
  const { page } = alice;
  // The refresh cookie expires (or was revoked): the next connection cannot refresh.
  await alice.context.clearCookies();
  alice.proxy.cutWebSockets();
  alice.proxy.restoreWebSockets();
  await page.getByRole('heading', { name: 'You were signed out', level: 1 }).waitFor({ timeout: 30000 });
  await page.getByRole('button', { name: 'Sign in again' }).click();
  await page.getByLabel('Phone number').waitFor();
  // Signing in again (one code per number every 30 s) finds the conversation still here.
  await new Promise((r) => setTimeout(r, Math.max(0, alice.codeSentAt + 31_000 - Date.now())));
  await enterCode(hush, alice);
  await page.getByRole('heading', { name: 'Chats' }).waitFor();
  await openChat(alice, 'Bob');
  await page.getByText('before going offline').waitFor();
});
