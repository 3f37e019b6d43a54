// Web Push in the browser: the service worker's push handler, driven through the DevTools
// protocol (`ServiceWorker.deliverPushMessage`, what a push service's delivery triggers),
// shows "New message from <name>" with the name this device keeps for the sender (read
// from its sealed IndexedDB), or "New message" for a sender it does not know; and the
// settings offer the switch, asking permission only when clicked. (Subscribing for real
// needs the browser's push service, which this machine cannot reach: that step ends in
// the error the settings show — "permission denied" in headless Chromium. The server's side — VAPID, RFC 8291, coalescing, 410 — is
// checked against a push-service stand-in in tests/protocol/.)
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { aliceAndBob, launchBrowser, nav, openChat, startHush, tearDown } from '../lib/harness.mjs';

let hush, browser, alice, bob;

before(async () => {
  hush = await startHush();
  browser = await launchBrowser();
  ({ alice, bob } = await aliceAndBob(browser, hush, ['650 253 0701', '650 253 0702']));
  await alice.context.grantPermissions(['notifications'], { origin: new URL(alice.url).origin });
});

after(() => tearDown(browser, hush, [alice, bob]));

/** Delivers `data` to Alice's service worker as a push message and returns the titles of
 * the notifications it shows once there are `count`. The worker must report no error. A
 * delivery that showed nothing while the worker reported nothing is made once more, said
 * in the output (the DevTools hand-off, not the worker, is then what failed: the worker's
 * own failures are errors, and a slow name lookup still ends in "New message"). */
async function pushShowing(data, count) {
  const { page } = alice;
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 30000 });
  for (let attempt = 1; ; attempt++) {
    const cdp = await alice.context.newCDPSession(page);
    const errors = [];
    const versions = [];
    cdp.on('ServiceWorker.workerErrorReported', ({ errorMessage }) => errors.push(errorMessage.errorMessage));
    cdp.on('ServiceWorker.workerVersionUpdated', ({ versions: v }) => versions.push(v.map((x) => `${x.status}/${x.runningStatus}`).join(',')));
    const registration = new Promise((resolve) => cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
      const live = registrations.find((r) => !r.isDeleted);
      if (live) resolve(live);
    }));
    await cdp.send('ServiceWorker.enable');
    const { registrationId, scopeURL } = await registration;
    await cdp.send('ServiceWorker.deliverPushMessage', { origin: new URL(scopeURL).origin, registrationId, data });
    const titles = await notificationTitles(count);
    await cdp.detach();
    assert.deepEqual(errors, [], 'the service worker reported errors');
    if (titles.length >= count || attempt === 2) return titles;
    console.log(`push delivery showed no notification, no worker error (worker states: ${versions.join(' → ')}): delivering again`);
  }
}

/** The titles of the notifications Alice's service worker shows, once there are `count`. */
async function notificationTitles(count) {
  let titles = [];
  for (const end = Date.now() + 10000; Date.now() < end && titles.length < count;) {
    titles = await alice.page.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications()).map((x) => x.title));
    if (titles.length < count) await new Promise((r) => setTimeout(r, 100));
  }
  return titles;
}

test('a push names the sender as this device knows them, and says no more', async () => {
  await openChat(alice, 'Bob');
  const bobId = new URL(alice.page.url()).pathname.split('/')[2];
  assert.deepEqual(await pushShowing(JSON.stringify({ from: bobId }), 1), ['New message from Bob']);
  const body = await alice.page.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications())[0].body);
  assert.equal(body, 'Open Hush to read it.');
});

test('a push from someone this device does not know says only "New message"', async () => {
  const titles = await pushShowing(JSON.stringify({ from: randomUUID() }), 2);
  // The first chat's notification stays (one per chat, by its tag).
  assert.deepEqual(titles.sort(), ['New message', 'New message from Bob']);
});

test('settings: notifications are turned on only when asked, and a failure is said plainly', async () => {
  const { page } = alice;
  await nav(page, 'Settings');
  await page.getByRole('heading', { name: 'Notifications', level: 2 }).waitFor();
  const turnOn = page.getByRole('button', { name: 'Turn on notifications' });
  await turnOn.waitFor();
  await turnOn.click();
  // Chromium here cannot reach its push service: subscribing fails, and the page says so.
  const failed = page.getByRole('alert').filter({ hasText: /^Could not turn on notifications: / });
  const on = page.getByRole('button', { name: 'Turn off notifications' });
  await failed.or(on).waitFor({ timeout: 30000 });
  if (await failed.count()) console.log(`subscribing here: ${await failed.innerText()}`);
});
