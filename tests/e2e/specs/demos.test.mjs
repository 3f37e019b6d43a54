// The three demos of the original app, in real Chromium against the real server:
// recipient online, recipient offline, sender without connection; plus the friend flow,
// safety numbers, a friend who starts again on another browser (crypto v2), and logging
// out.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { SCREENSHOTS, befriend, enterCode, expectHeading, nav, launchBrowser, openChat, person, send, signIn, startHush, tearDown, tickOf } from '../lib/harness.mjs';

let hush, browser, alice, bob;

before(async () => {
  hush = await startHush();
  browser = await launchBrowser();
  alice = await person(browser, hush, '650 253 0001');
  bob = await person(browser, hush, '650 253 0002');
  alice.name = 'Alice';
  bob.name = 'Bob';
  alice.receipts = watchReceipts(alice.page);
  await alice.page.goto(alice.url);
  await alice.page.getByLabel('Phone number').waitFor();
  await alice.page.screenshot({ path: path.join(SCREENSHOTS, 'sign-in.png') });
  await signIn(hush, alice, 'Alice');
  await signIn(hush, bob, 'Bob');
  await befriend(alice, bob, 'Bob');
});

after(() => tearDown(browser, hush, [alice, bob]));

/** When a page's sockets got each receipt, and when they acked each receipt id. */
function watchReceipts(page) {
  const seen = { got: new Map(), acked: new Map() };
  const parse = (payload) => { try { return JSON.parse(payload); } catch { return null; } };
  page.on('websocket', (ws) => {
    ws.on('framereceived', ({ payload }) => {
      const frame = parse(payload);
      if (frame?.type === 'receipt') seen.got.set(frame.id, Date.now());
    });
    ws.on('framesent', ({ payload }) => {
      const frame = parse(payload);
      if (frame?.type === 'receipt_ack') for (const id of frame.ids) seen.acked.set(id, Date.now());
    });
  });
  return seen;
}

/**
 * Waits (3 s at most) until `who` acked every receipt it got, `count` at least, and checks
 * each ack went within 600 ms: held 100 ms for another frame, then on its own (the app's
 * once-a-second tick would also send it, later).
 */
async function everyReceiptAcked(who, count) {
  const { got, acked } = who.receipts;
  const waiting = () => [...got.keys()].filter((id) => !acked.has(id));
  for (let waited = 0; (got.size < count || waiting().length > 0) && waited < 3000; waited += 50) {
    await who.page.waitForTimeout(50);
  }
  assert.ok(got.size >= count, `${count} receipts expected, got ${got.size}`);
  assert.deepEqual(waiting(), [], 'every receipt acked');
  const delays = [...got].map(([id, at]) => acked.get(id) - at);
  assert.ok(delays.every((ms) => ms <= 600), `acks went ${JSON.stringify(delays)} ms after their receipts`);
}

test('recipient online: delivered live, ticks go sent → delivered → read', async () => {
  await openChat(alice, 'Bob');
  // They became friends during this session: the header shows Bob online without a reconnect.
  await alice.page.locator('.chat-head .presence').getByText('online', { exact: true }).waitFor();
  await nav(bob.page, 'Chats');
  await send(alice, 'Hello Bob, are you there?');
  // Bob's page is open on the chat list: the message arrives live and is stored → two ticks.
  await bob.page.getByRole('button', { name: /^Alice\b/ }).getByText('Hello Bob, are you there?').waitFor();
  // The unread count is a small badge, not a pill stretched across the row.
  const badge = await bob.page.getByLabel('1 unread').boundingBox();
  assert.ok(badge && badge.width <= 40, `unread badge ${JSON.stringify(badge)}`);
  await tickOf(alice, 'Hello Bob').and(alice.page.locator('[aria-label="delivered"]')).waitFor();
  // Receipt acks wait up to 100 ms for another frame to go with (docs/PROTOCOL.md). Alice
  // writes nothing now and Bob has not opened the chat (no `read` receipt comes), so the
  // `delivered` receipt's ack goes on its own once held long enough.
  await everyReceiptAcked(alice, 1);
  await bob.page.screenshot({ path: path.join(SCREENSHOTS, 'chats.png') });
  await openChat(bob, 'Alice');
  await tickOf(alice, 'Hello Bob').and(alice.page.locator('[aria-label="read"]')).waitFor();
  await everyReceiptAcked(alice, 2);
  // Ticks are drawn (SVG in the text's colour), not emoji a system may lack the font for.
  const ticks = await alice.page.locator('.bubble.mine .tick')
    .evaluateAll((all) => all.map((t) => [t.querySelector('svg') !== null, t.textContent.trim()]));
  assert.ok(ticks.length > 0 && ticks.every(([svg, text]) => svg && text === ''), JSON.stringify(ticks));
  await alice.page.screenshot({ path: path.join(SCREENSHOTS, 'chat.png') });
});

test('a conversation longer than the window: the message list scrolls, the composer and the newest message stay in view', async () => {
  await alice.page.setViewportSize({ width: 1280, height: 800 });
  await openChat(alice, 'Bob');
  for (let n = 1; n <= 30; n++) await send(alice, `line ${n} of a long conversation`);
  await tickOf(alice, 'line 30 of a long conversation').waitFor();
  await openChat(alice, 'Bob'); // opening the chat again shows the newest message
  await alice.page.waitForTimeout(300);
  const layout = await alice.page.evaluate(() => {
    const list = document.querySelector('.messages');
    const box = list.getBoundingClientRect();
    const bubbles = list.querySelectorAll('.bubble');
    const last = bubbles[bubbles.length - 1].getBoundingClientRect();
    const composer = document.querySelector('.composer').getBoundingClientRect();
    return {
      pageGrows: document.scrollingElement.scrollHeight > window.innerHeight + 1,
      listScrolls: list.scrollHeight > list.clientHeight,
      composerInView: composer.bottom <= window.innerHeight + 1,
      newestInView: last.bottom <= box.bottom + 1 && last.top >= box.top - 1,
    };
  });
  assert.deepEqual(layout, { pageGrows: false, listScrolls: true, composerInView: true, newestInView: true });
  await alice.page.setViewportSize({ width: 420, height: 800 });
});

test('recipient offline: held by the server, read later, blue ticks when the sender returns', async () => {
  await bob.page.close();
  await openChat(alice, 'Bob');
  // Bob's only tab closed while Alice watches: the header says so, without a reconnect.
  await alice.page.locator('.chat-head .presence').getByText(/^last seen /).waitFor();
  await send(alice, 'Message while you were away');
  await tickOf(alice, 'while you were away').and(alice.page.locator('[aria-label="sent"]')).waitFor();
  await alice.page.close();

  bob.page = await bob.context.newPage();
  await bob.page.goto(bob.url); // the refresh cookie signs Bob back in
  await openChat(bob, 'Alice');
  await bob.page.locator('.bubble.theirs', { hasText: 'Message while you were away' }).waitFor();

  alice.page = await alice.context.newPage();
  await alice.page.goto(alice.url);
  await openChat(alice, 'Bob');
  await tickOf(alice, 'while you were away').and(alice.page.locator('[aria-label="read"]')).waitFor();
});

test('one tab at a time: a second tab of the same browser waits for the first', async () => {
  const tab = await alice.context.newPage();
  await tab.goto(alice.url);
  await tab.getByRole('heading', { name: 'Hush is open in another tab' }).waitFor();
  await tab.close();
});

test('sender without connection: queued on the device, survives a reload, sent once when back', async () => {
  await openChat(bob, 'Alice');
  await openChat(alice, 'Bob');
  alice.proxy.cutWebSockets();
  await alice.page.getByRole('status').filter({ hasText: /Offline|Connecting/ }).first().waitFor();
  for (const text of ['first offline', 'second offline', 'third offline']) await send(alice, text);
  for (const text of ['first offline', 'second offline', 'third offline']) {
    await tickOf(alice, text).and(alice.page.locator('[aria-label="waiting on this device"]')).waitFor();
  }
  await alice.page.reload();
  await openChat(alice, 'Bob');
  await tickOf(alice, 'third offline').and(alice.page.locator('[aria-label="waiting on this device"]')).waitFor();
  alice.proxy.restoreWebSockets();
  for (const text of ['first offline', 'second offline', 'third offline']) {
    await bob.page.locator('.bubble.theirs', { hasText: text }).waitFor({ timeout: 30000 });
  }
  const received = await bob.page.locator('.bubble.theirs .text').allTextContents();
  const offline = received.filter((t) => t.endsWith('offline'));
  assert.deepEqual(offline, ['first offline', 'second offline', 'third offline'], 'each once, in order');
});

test('safety numbers are equal on both sides; a friend who starts again is flagged and sending waits for confirmation', async () => {
  const digitsOf = async (who, friend) => {
    await openChat(who, friend);
    await who.page.getByRole('button', { name: /Safety number|Verified/ }).click();
    return who.page.getByLabel('Safety number', { exact: true }).getAttribute('data-digits');
  };
  const aliceDigits = await digitsOf(alice, 'Bob');
  await alice.page.getByRole('img', { name: 'Safety number QR code' }).waitFor();
  await alice.page.screenshot({ path: path.join(SCREENSHOTS, 'safety-number.png') });
  const bobDigits = await digitsOf(bob, 'Alice');
  assert.match(aliceDigits, /^\d{60}$/);
  assert.equal(aliceDigits, bobDigits);
  await alice.page.getByRole('button', { name: 'Mark as verified' }).click();
  await alice.page.getByText('✔ Verified').first().waitFor();

  // Bob signs in on a second browser: it is not a device of his account, so it offers to
  // link it instead of taking his messages; he chooses to start again there.
  const laptop = await person(browser, hush, '650 253 0002');
  laptop.name = 'Bob';
  await new Promise((r) => setTimeout(r, Math.max(0, bob.codeSentAt + 31_000 - Date.now())));
  await enterCode(hush, laptop);
  await laptop.page.getByRole('heading', { name: 'Link this browser' }).waitFor();
  await laptop.page.screenshot({ path: path.join(SCREENSHOTS, 'start-again.png') });
  await laptop.page.getByRole('button', { name: 'Start again on this browser' }).click();
  await laptop.page.getByRole('button', { name: 'Start again here' }).click();
  await laptop.page.getByRole('heading', { name: 'Chats' }).waitFor();

  // Bob's first browser is told at once that it was removed, and erases what it held.
  await bob.page.getByRole('heading', { name: 'This browser was removed from your account' }).waitFor();
  const left = await bob.page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name));
  assert.deepEqual(left.filter((n) => n.startsWith('hush-')), [], "the removed browser's database is gone");
  await bob.page.screenshot({ path: path.join(SCREENSHOTS, 'device-removed.png') });

  // Alice is warned, the verified mark is gone, and her next message waits for her.
  await openChat(alice, 'Bob');
  await alice.page.getByRole('alert').filter({ hasText: "Bob's safety number changed. Your messages wait" }).waitFor();
  await alice.page.getByRole('button', { name: 'Safety number' }).waitFor();
  await send(alice, 'Is this really you?');
  await tickOf(alice, 'really you').and(alice.page.locator('[aria-label="waiting on this device"]')).waitFor();
  await new Promise((r) => setTimeout(r, 1500));
  await tickOf(alice, 'really you').and(alice.page.locator('[aria-label="waiting on this device"]')).waitFor();
  await alice.page.screenshot({ path: path.join(SCREENSHOTS, 'identity-changed.png') });
  await alice.page.getByRole('button', { name: 'Send anyway' }).click();
  await openChat(laptop, 'Alice');
  await laptop.page.locator('.bubble.theirs', { hasText: 'Is this really you?' }).waitFor({ timeout: 30000 });
  await tickOf(alice, 'really you').and(alice.page.locator('[aria-label="read"]')).waitFor();

  // Both sides compute the same new number.
  const newAlice = await digitsOf(alice, 'Bob');
  const newBob = await digitsOf(laptop, 'Alice');
  assert.equal(newAlice, newBob);
  assert.notEqual(newAlice, aliceDigits, 'the safety number changed with the identity');

  // The devices screen lists the one device left: this browser.
  await nav(laptop.page, 'Settings');
  const devices = laptop.page.getByRole('region', { name: 'Devices' }).getByRole('listitem');
  await devices.first().getByText('This browser').waitFor();
  assert.equal(await devices.count(), 1);
  await laptop.page.screenshot({ path: path.join(SCREENSHOTS, 'devices.png') });
  laptop.proxy.close();
});

test('logging out says what it erases, erases this browser and removes its device', async () => {
  await openChat(alice, 'Bob');
  assert.ok(await alice.page.locator('.bubble').count() > 0, 'Alice has history to lose');
  await nav(alice.page, 'Settings');
  // The destructive actions stand apart, in their own section after everything else.
  const leave = alice.page.getByRole('region', { name: 'Leave' });
  await leave.getByRole('button', { name: 'Delete account' }).waitFor();
  const last = await alice.page.locator('.content section').last().getAttribute('class');
  assert.equal(last, 'leave', 'the Leave section comes last');
  await leave.getByRole('button', { name: 'Log out', exact: true }).click();
  await alice.page.getByRole('alert').filter({ hasText: "erases this browser's keys and every message on it" }).waitFor();
  await alice.page.screenshot({ path: path.join(SCREENSHOTS, 'log-out.png') });
  await alice.page.getByRole('button', { name: 'Log out and erase this browser' }).click();
  await alice.page.getByLabel('Phone number').waitFor();
  const names = await alice.page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name));
  assert.deepEqual(names.filter((n) => n.startsWith('hush-')), [], 'the database is gone');

  // Signing in again starts afresh: the account has no device left (so this browser is not
  // told Hush is set up elsewhere), and none of the old messages is here.
  await new Promise((r) => setTimeout(r, Math.max(0, alice.codeSentAt + 31_000 - Date.now())));
  await enterCode(hush, alice);
  await expectHeading(alice, 'Chats');
  await openChat(alice, 'Bob');
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(await alice.page.locator('.bubble').count(), 0);
});
