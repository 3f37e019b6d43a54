// Addresses in real Chromium against the real server: each screen and each chat has a URL,
// a reload comes back to it, and the browser's back and forward move between screens. And
// the tab's title counts unread messages.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { aliceAndBob, nav, launchBrowser, openChat, send, startHush, tearDown } from '../lib/harness.mjs';

let hush, browser, alice, bob;

before(async () => {
  hush = await startHush();
  browser = await launchBrowser();
  ({ alice, bob } = await aliceAndBob(browser, hush, ['650 253 0041', '650 253 0042']));
});

after(() => tearDown(browser, hush, [alice, bob]));

const heading = (name) => alice.page.getByRole('heading', { name, level: 1 }).waitFor();
const path = () => new URL(alice.page.url()).pathname;

test('a chat has an address: reload keeps it, back and forward move between screens', async () => {
  const { page } = alice;
  await openChat(alice, 'Bob');
  assert.match(path(), /^\/chat\/[0-9a-f-]{36}$/);
  const chat = path();
  await page.reload();
  await heading('Bob');
  assert.equal(path(), chat);
  await page.getByRole('button', { name: /safety number/i }).click();
  await page.getByLabel('Safety number', { exact: true }).waitFor();
  assert.equal(path(), `${chat}/safety`);
  await page.goBack();
  await heading('Bob');
  await page.goBack();
  await heading('Chats');
  assert.equal(path(), '/');
  await page.goForward();
  await heading('Bob');
  await nav(page, 'Friends');
  assert.equal(path(), '/friends');
  await page.reload();
  await heading('Friends');
  await nav(page, 'Settings');
  assert.equal(path(), '/settings');
  await page.goBack();
  await heading('Friends');
});

test("the tab's title counts unread messages", async () => {
  await nav(bob.page, 'Chats');
  assert.equal(await bob.page.title(), 'Hush');
  await openChat(alice, 'Bob');
  await send(alice, 'One');
  await send(alice, 'Two');
  await bob.page.waitForFunction(() => document.title === '(2) Hush');
  await openChat(bob, 'Alice');
  await bob.page.waitForFunction(() => document.title === 'Hush');
});
