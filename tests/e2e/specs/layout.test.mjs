// The chats area's layout in real Chromium: two panes on a desktop window (the list stays
// beside the open chat, one h1), one on a phone; search by name; avatars; opening a chat at
// its first unread message; and the "New messages" button instead of moving the text away
// from someone reading further up. Screenshots of every main screen (desktop and phone,
// light and dark) go to tests/e2e/screenshots/.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import path from 'node:path';
import { SCREENSHOTS, aliceAndBob, launchBrowser, nav, openChat, send, startHush, tearDown } from '../lib/harness.mjs';

let hush, browser, alice, bob;

before(async () => {
  hush = await startHush();
  browser = await launchBrowser();
  ({ alice, bob } = await aliceAndBob(browser, hush, ['650 253 0601', '650 253 0602']));
});

after(() => tearDown(browser, hush, [alice, bob]));

const h1s = (page) => page.getByRole('heading', { level: 1 }).allInnerTexts();
const chatList = (page) => page.getByRole('list', { name: 'Chats' });

/** Where the message list is scrolled: pixels above the visible part and below it. */
const scroll = (page) => page.locator('.messages').evaluate((el) => ({ above: el.scrollTop, below: el.scrollHeight - el.scrollTop - el.clientHeight }));

test('desktop: the chat list and the open chat side by side, one h1, the open chat marked', async () => {
  const { page } = alice;
  await page.setViewportSize({ width: 1280, height: 800 });
  await nav(page, 'Chats');
  await page.getByText('Choose a chat to read and write messages.').waitFor();
  assert.deepEqual(await h1s(page), ['Chats']);
  await chatList(page).getByRole('button', { name: /^Bob\b/ }).click();
  await page.getByRole('heading', { name: 'Bob', level: 1 }).waitFor();
  assert.deepEqual(await h1s(page), ['Bob'], 'the list title is no longer the h1');
  assert.ok(await chatList(page).isVisible(), 'the list stays beside the chat');
  assert.equal(await chatList(page).getByRole('button', { name: /^Bob\b/ }).getAttribute('aria-current'), 'true');
  const [list, chat] = [await chatList(page).boundingBox(), await page.getByRole('log', { name: 'Messages' }).boundingBox()];
  assert.ok(list.x + list.width <= chat.x, `panes side by side: ${JSON.stringify({ list, chat })}`);
  // An avatar: initials on the friend's colour, hidden from screen readers (the name is there).
  const avatar = chatList(page).locator('.avatar').first();
  assert.equal(await avatar.innerText(), 'B');
  assert.equal(await avatar.getAttribute('aria-hidden'), 'true');
});

test('search narrows the chat list by name', async () => {
  const { page } = alice;
  const search = page.getByRole('searchbox', { name: 'Search chats' });
  await search.fill('BO');
  await chatList(page).getByRole('button', { name: /^Bob\b/ }).waitFor();
  await search.fill('zed');
  await page.getByText('No chat matches “zed”.').waitFor();
  assert.equal(await chatList(page).getByRole('button').count(), 0);
  await search.fill('');
  await chatList(page).getByRole('button', { name: /^Bob\b/ }).waitFor();
});

test('scrolled up, a new message shows "New messages ↓" instead of moving the text; the button goes down', async () => {
  const { page } = alice;
  await openChat(bob, 'Alice');
  await openChat(alice, 'Bob');
  for (let n = 1; n <= 30; n++) await send(bob, `history ${n}`);
  await page.getByRole('log', { name: 'Messages' }).getByText('history 30', { exact: true }).waitFor();
  await page.waitForTimeout(300);
  assert.ok((await scroll(page)).below < 30, 'at the bottom, the list follows new messages');
  await page.locator('.messages').evaluate((el) => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); });
  await send(bob, 'arrives while Alice reads above');
  const jump = page.getByRole('button', { name: 'New messages ↓' });
  await jump.waitFor();
  assert.equal((await scroll(page)).above, 0, 'the text Alice reads did not move');
  await jump.click();
  await page.waitForTimeout(200);
  assert.ok((await scroll(page)).below < 30, 'at the newest message');
  assert.equal(await jump.count(), 0);
});

test('opening a chat shows its first unread message under an "Unread messages" line', async () => {
  const { page } = alice;
  await nav(page, 'Friends');
  for (let n = 1; n <= 25; n++) await send(bob, `unread ${n}`);
  await nav(page, 'Chats');
  await chatList(page).getByRole('button', { name: /^Bob\b.*25 unread$/ }).waitFor();
  await openChat(alice, 'Bob');
  const mark = page.getByText('Unread messages', { exact: true });
  await mark.waitFor();
  await page.waitForTimeout(300);
  const [line, list] = [await mark.boundingBox(), await page.locator('.messages').boundingBox()];
  assert.ok(line.y >= list.y - 1 && line.y < list.y + list.height / 2, `the line near the top: ${JSON.stringify({ line, list })}`);
  assert.ok((await scroll(page)).below > 100, 'not scrolled past the unread messages');
});

test('phone: one pane at a time, with a way back', async () => {
  const { page } = alice;
  await page.setViewportSize({ width: 390, height: 844 });
  await openChat(alice, 'Bob');
  assert.equal(await chatList(page).count(), 0, 'the list is not beside the chat');
  await page.getByRole('button', { name: 'Back to chats' }).click();
  await page.getByRole('heading', { name: 'Chats', level: 1 }).waitFor();
  assert.equal(await page.getByText('Choose a chat to read and write messages.').count(), 0);
});

test('screenshots of every main screen: desktop and phone, light and dark', async () => {
  const { page } = alice;
  const screens = [
    ['chats', () => nav(page, 'Chats')],
    ['chat', () => openChat(alice, 'Bob')],
    ['safety-number', async () => {
      await page.getByRole('button', { name: /safety number/i }).click();
      await page.getByLabel('Safety number', { exact: true }).waitFor();
    }],
    ['friends', () => nav(page, 'Friends')],
    ['settings', () => nav(page, 'Settings')],
  ];
  for (const [size, viewport] of [['desktop', { width: 1280, height: 800 }], ['phone', { width: 390, height: 844 }]]) {
    await page.setViewportSize(viewport);
    for (const scheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const [name, open] of screens) {
        await open();
        await page.waitForTimeout(150);
        await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-${size}-${scheme}.png`) });
      }
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
});

test('screenshots of the sign-in screen: desktop and phone, light and dark', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await page.goto(hush.publicOrigin);
    await page.getByRole('heading', { name: 'Hush', level: 1 }).waitFor();
    for (const [size, viewport] of [['desktop', { width: 1280, height: 800 }], ['phone', { width: 390, height: 844 }]]) {
      await page.setViewportSize(viewport);
      for (const scheme of ['light', 'dark']) {
        await page.emulateMedia({ colorScheme: scheme });
        await page.waitForTimeout(150);
        await page.screenshot({ path: path.join(SCREENSHOTS, `sign-in-${size}-${scheme}.png`) });
      }
    }
  } finally {
    await context.close();
  }
});
