// The three demos of the original app, in real Chromium against the real server:
// recipient online, recipient offline, sender without connection; plus the friend flow.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { SCREENSHOTS, befriend, nav, launchBrowser, openChat, person, send, signIn, startHush, tickOf } from '../lib/harness.mjs';

let hush, browser, alice, bob;

before(async () => {
  hush = await startHush();
  browser = await launchBrowser();
  alice = await person(browser, hush, '650 253 0001');
  bob = await person(browser, hush, '650 253 0002');
  alice.name = 'Alice';
  bob.name = 'Bob';
  await alice.page.goto(alice.url);
  await alice.page.getByLabel('Phone number').waitFor();
  await alice.page.screenshot({ path: path.join(SCREENSHOTS, 'sign-in.png') });
  await signIn(hush, alice, 'Alice');
  await signIn(hush, bob, 'Bob');
  await befriend(alice, bob, 'Bob');
});

after(async () => {
  await browser?.close();
  alice?.proxy.close();
  bob?.proxy.close();
  hush?.stop();
});

test('recipient online: delivered live, ticks go sent → delivered → read', async () => {
  await openChat(alice, 'Bob');
  await nav(bob.page, 'Chats');
  await send(alice, 'Hello Bob, are you there?');
  // Bob's page is open on the chat list: the message arrives live and is stored → two ticks.
  await bob.page.getByRole('button', { name: 'Chat with Alice' }).getByText('Hello Bob, are you there?').waitFor();
  await tickOf(alice, 'Hello Bob').and(alice.page.locator('[aria-label="delivered"]')).waitFor();
  await bob.page.screenshot({ path: path.join(SCREENSHOTS, 'chats.png') });
  await openChat(bob, 'Alice');
  await tickOf(alice, 'Hello Bob').and(alice.page.locator('[aria-label="read"]')).waitFor();
  await alice.page.screenshot({ path: path.join(SCREENSHOTS, 'chat.png') });
});

test('recipient offline: held by the server, read later, blue ticks when the sender returns', async () => {
  await bob.page.close();
  await openChat(alice, 'Bob');
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

test('safety numbers are equal on both sides; a key change warns and removes the verified mark', async () => {
  await openChat(alice, 'Bob');
  await alice.page.getByRole('button', { name: 'Safety number' }).click();
  const aliceDigits = await alice.page.getByLabel('Safety number', { exact: true }).getAttribute('data-digits');
  await alice.page.getByRole('img', { name: 'Safety number QR code' }).waitFor();
  await alice.page.screenshot({ path: path.join(SCREENSHOTS, 'safety-number.png') });
  await openChat(bob, 'Alice');
  await bob.page.getByRole('button', { name: 'Safety number' }).click();
  const bobDigits = await bob.page.getByLabel('Safety number', { exact: true }).getAttribute('data-digits');
  assert.match(aliceDigits, /^\d{60}$/);
  assert.equal(aliceDigits, bobDigits);
  await alice.page.getByRole('button', { name: 'Mark as verified' }).click();
  await alice.page.getByText('✔ Verified').first().waitFor();

  // Bob's key for the friendship changes (as after reinstalling): Alice is warned.
  const status = await bob.page.evaluate(async (aliceId) => {
    const tokens = await (await fetch('/api/v1/auth/refresh', { method: 'POST' })).json();
    const pair = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits']);
    const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
    const b64 = btoa(String.fromCharCode(...raw)).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
    const r = await fetch(`/api/v1/friends/${aliceId}/key`, { method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.access_token}` }, body: JSON.stringify({ public_key: b64 }) });
    return r.status;
  }, await alice.page.evaluate(async () => (await (await fetch('/api/v1/auth/refresh', { method: 'POST' })).json()).user.user_id));
  assert.equal(status, 200);
  await openChat(alice, 'Bob');
  await alice.page.getByRole('alert').filter({ hasText: "security key changed" }).waitFor();
  await alice.page.getByRole('button', { name: 'Safety number' }).waitFor();
});
