// Accessibility of every main screen, in real Chromium against the real server: axe-core
// (WCAG 2.x A/AA rules) finds no serious or critical violation, and each screen has exactly
// one level-one heading. Screens: sign-in, chats, a chat, its safety number, friends and
// settings, on a phone-sized and a desktop-sized window. And the keyboard: arrows move
// between chats, Enter opens one, Esc goes back, and the focus is visible.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import { aliceAndBob, befriend, nav, launchBrowser, openChat, person, send, signIn, startHush, tearDown, tickOf } from '../lib/harness.mjs';

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
let hush, browser, alice, bob, carol;

before(async () => {
  hush = await startHush();
  browser = await launchBrowser();
  ({ alice, bob } = await aliceAndBob(browser, hush, ['650 253 0031', '650 253 0032'], { bypassCSP: true }));
  carol = await person(browser, hush, '650 253 0033');
  await signIn(hush, carol, 'Carol');
  await befriend(alice, carol, 'Carol');
  await openChat(alice, 'Bob');
  await send(alice, 'Hello Bob');
  await tickOf(alice, 'Hello Bob').waitFor();
});

after(() => tearDown(browser, hush, [alice, bob, carol]));

/** Serious and critical axe violations on the page as it is, with the nodes they name. */
async function violations(page) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: AXE });
  const found = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) }));
  });
  return found.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

async function check(page, screen) {
  await page.waitForTimeout(200);
  assert.deepEqual(await violations(page), [], `${screen}: serious or critical axe violations`);
  const h1 = await page.getByRole('heading', { level: 1 }).allInnerTexts();
  assert.equal(h1.length, 1, `${screen}: one level-one heading, found ${JSON.stringify(h1)}`);
}

for (const [size, viewport] of [['phone', { width: 390, height: 844 }], ['desktop', { width: 1280, height: 800 }]]) {
  test(`every main screen passes axe-core with one h1 (${size})`, async () => {
    const { page } = alice;
    await page.setViewportSize(viewport);
    await nav(page, 'Chats');
    await page.getByRole('heading', { name: 'Chats', level: 1 }).waitFor();
    await check(page, 'chats');
    await openChat(alice, 'Bob');
    await check(page, 'chat');
    await page.getByRole('button', { name: /safety number/i }).click();
    await page.getByLabel('Safety number', { exact: true }).waitFor();
    await check(page, 'safety number');
    await nav(page, 'Friends');
    await check(page, 'friends');
    await nav(page, 'Settings');
    await check(page, 'settings');
    const fresh = await alice.context.browser().newContext({ viewport, bypassCSP: true });
    const signInPage = await fresh.newPage();
    await signInPage.goto(alice.url);
    await signInPage.getByLabel('Phone number').waitFor();
    await check(signInPage, 'sign-in');
    await fresh.close();
  });
}

test('the checker itself finds a serious violation (a button without a name)', async () => {
  const { page } = alice;
  await page.evaluate(() => document.body.insertAdjacentHTML('beforeend', '<button id="nameless"></button>'));
  const found = await violations(page);
  await page.evaluate(() => document.getElementById('nameless').remove());
  assert.ok(found.some((v) => v.id === 'button-name'), JSON.stringify(found));
});

test("a chat row's accessible name carries what it shows: name, last message and unread count", async () => {
  await nav(bob.page, 'Chats');
  await bob.page.getByRole('button', { name: /^Alice\b.*Hello Bob.*1 unread$/ }).waitFor({ timeout: 10000 });
});

test('keyboard: arrows move between chats with a visible focus, Enter opens one, Esc goes back', async () => {
  const { page } = alice;
  await nav(page, 'Chats');
  const focused = () => page.evaluate(() => {
    const style = getComputedStyle(document.activeElement);
    return { text: document.activeElement.querySelector('.name')?.innerText ?? document.activeElement.innerText, outline: parseFloat(style.outlineWidth) || 0, style: style.outlineStyle };
  });
  await page.getByRole('list', { name: 'Chats' }).getByRole('button').first().focus();
  await page.keyboard.press('ArrowDown');
  const down = await focused();
  assert.match(down.text, /^Carol/);
  assert.ok(down.outline >= 2 && down.style !== 'none', `focus ring ${JSON.stringify(down)}`);
  await page.keyboard.press('ArrowUp');
  assert.match((await focused()).text, /^Bob/);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Bob', level: 1 }).waitFor();
  await page.getByRole('button', { name: /safety number/i }).click();
  await page.getByLabel('Safety number', { exact: true }).waitFor();
  await page.keyboard.press('Escape');
  await page.getByRole('heading', { name: 'Bob', level: 1 }).waitFor();
  await page.getByLabel('Message', { exact: true }).focus();
  await page.keyboard.press('Escape');
  await page.getByRole('heading', { name: 'Chats', level: 1 }).waitFor();
});
