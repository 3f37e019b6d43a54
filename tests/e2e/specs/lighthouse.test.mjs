// Chromium's verdict that Hush is installable, and Lighthouse (npm `lighthouse`, pinned:
// 13 wants a newer Node) on every main screen, in Debian's Chromium: accessibility and best
// practices must each score at least 95. The scores are printed (BENCHMARKS.md keeps them).
// Lighthouse 12 dropped its PWA category, so installability is asked of Chromium itself
// (`Page.getInstallabilityErrors`, what that category reported), in this real profile.
//
// Lighthouse attaches to the browser through its debugging port and opens each screen in
// a new tab of the same profile, so the screens behind sign-in are audited signed in.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import lighthouse from 'lighthouse';
import { chromium } from 'playwright-core';
import { befriend, freePort, launchBrowser, person, signIn, startHush, tearDown } from '../lib/harness.mjs';

const MIN_SCORE = 0.95;
const CATEGORIES = ['accessibility', 'best-practices'];

let hush, profile, profileDir, port, other, alice, bob;

before(async () => {
  hush = await startHush();
  port = await freePort();
  profileDir = mkdtempSync(path.join(os.tmpdir(), 'hush-lighthouse-'));
  profile = await chromium.launchPersistentContext(profileDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-sync', `--remote-debugging-port=${port}`],
  });
  const page = profile.pages()[0] ?? await profile.newPage();
  alice = { national: '650 253 0501', e164: '+16502530501', name: 'Alice', page, url: `http://127.0.0.1:${hush.port}/`, proxy: { close() {} } };
  other = await launchBrowser();
  bob = await person(other, hush, '650 253 0502');
  bob.name = 'Bob';
});

after(async () => {
  await profile?.close();
  rmSync(profileDir, { recursive: true, force: true });
  await tearDown(other, hush, [bob]);
});

/** Lighthouse's scores for `url`; failing audits are printed. */
async function audit(url) {
  const { lhr } = await lighthouse(url, {
    port,
    logLevel: 'error',
    output: 'json',
    onlyCategories: CATEGORIES,
    disableStorageReset: true,
    throttlingMethod: 'provided',
    formFactor: 'desktop',
    screenEmulation: { mobile: false, width: 1280, height: 800, deviceScaleFactor: 1, disabled: false },
  });
  const scores = Object.fromEntries(CATEGORIES.map((c) => [c, lhr.categories[c].score]));
  for (const category of CATEGORIES) {
    if (scores[category] >= MIN_SCORE) continue;
    const failing = lhr.categories[category].auditRefs
      .map((ref) => lhr.audits[ref.id])
      .filter((a) => a.score !== null && a.score < 1)
      .map((a) => `${a.id}: ${a.title}`);
    console.error(`${url} ${category} ${scores[category]}:\n  ${failing.join('\n  ')}`);
  }
  return scores;
}

test('Chromium finds the app installable: manifest, icons, service worker', async () => {
  const { page } = alice;
  await page.goto(alice.url);
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 30000 });
  const cdp = await profile.newCDPSession(page);
  const manifest = await cdp.send('Page.getAppManifest');
  assert.deepEqual(manifest.errors, [], JSON.stringify(manifest.errors));
  const parsed = JSON.parse(manifest.data);
  assert.equal(parsed.name, 'Hush');
  assert.equal(parsed.display, 'standalone');
  assert.ok(parsed.icons.some((i) => i.purpose === 'maskable'), 'a maskable icon');
  const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
  assert.deepEqual(installabilityErrors, [], JSON.stringify(installabilityErrors));
  await cdp.detach();
});

test('Lighthouse: accessibility and best practices ≥ 95 on every main screen', async () => {
  const screens = [['sign-in', '']];
  const signedOut = await audit(alice.url);
  await signIn(hush, alice, 'Alice');
  await signIn(hush, bob, 'Bob');
  await befriend(alice, bob, 'Bob');
  await alice.page.getByRole('list', { name: 'Friends' }).getByRole('button', { name: 'Bob' }).click();
  const bobId = new URL(alice.page.url()).pathname.split('/')[2];
  assert.ok(bobId, `a chat address: ${alice.page.url()}`);
  // One tab at a time runs Hush: Lighthouse's tab takes over from this one.
  await alice.page.close();
  screens.push(['chats', ''], ['chat', `chat/${bobId}`], ['friends', 'friends'], ['settings', 'settings']);
  const results = [['sign-in', signedOut]];
  for (const [name, route] of screens.slice(1)) results.push([name, await audit(`${alice.url}${route}`)]);
  console.log('Lighthouse scores (accessibility, best practices):');
  for (const [name, scores] of results) {
    console.log(`  ${name.padEnd(9)} ${CATEGORIES.map((c) => Math.round(scores[c] * 100)).join('  ')}`);
  }
  for (const [name, scores] of results) {
    for (const category of CATEGORIES) assert.ok(scores[category] >= MIN_SCORE, `${name}: ${category} ${scores[category]}`);
  }
});
