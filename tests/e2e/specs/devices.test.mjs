// Several browsers per person in a real browser: Alice links a second browser by the code
// it shows (comparing the number both screens show), chats from both, and Bob's replies
// appear on both — never as undecryptable.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { SCREENSHOTS, aliceAndBob, enterCode, nav, launchBrowser, openChat, person, send, startHush, tearDown } from '../lib/harness.mjs';

let hush, browser, alice, bob, laptop;

before(async () => {
  hush = await startHush();
  browser = await launchBrowser();
  ({ alice, bob } = await aliceAndBob(browser, hush, ['650 253 0011', '650 253 0012']));
});

after(() => tearDown(browser, hush, [alice, bob, laptop]));

test('a second browser is linked by its code, gets the recent history, and both of Alice\'s browsers chat with Bob', async () => {
  // A conversation before the second browser exists.
  await openChat(alice, 'Bob');
  await send(alice, 'Before the laptop');
  await openChat(bob, 'Alice');
  await bob.page.locator('.bubble.theirs', { hasText: 'Before the laptop' }).waitFor({ timeout: 30000 });
  await send(bob, 'Noted, before the laptop');
  await alice.page.locator('.bubble.theirs', { hasText: 'Noted, before the laptop' }).waitFor({ timeout: 30000 });

  laptop = await person(browser, hush, '650 253 0011');
  laptop.name = 'Alice';
  await new Promise((r) => setTimeout(r, Math.max(0, alice.codeSentAt + 31_000 - Date.now())));
  await enterCode(hush, laptop);
  await laptop.page.getByRole('heading', { name: 'Link this browser' }).waitFor();
  const code = (await laptop.page.getByLabel('Link code', { exact: true }).textContent()).replace(/\s/g, '');
  assert.match(code, /^\d{8}$/);
  await laptop.page.screenshot({ path: path.join(SCREENSHOTS, 'link-this-browser.png') });

  // On Alice's first browser: Settings → Link a new browser → the code.
  await nav(alice.page, 'Settings');
  await alice.page.getByRole('button', { name: 'Link a new browser' }).click();
  await alice.page.getByLabel('Code shown on the new browser').fill(code);
  await alice.page.getByRole('button', { name: 'Link', exact: true }).click();
  const onDevice = alice.page.getByLabel('Comparison code');
  const onLaptop = laptop.page.getByLabel('Comparison code');
  await onDevice.waitFor();
  await onLaptop.waitFor();
  assert.match(await onDevice.textContent(), /^\d{3} \d{3}$/);
  assert.equal(await onDevice.textContent(), await onLaptop.textContent(), 'both screens show the same number');
  await alice.page.screenshot({ path: path.join(SCREENSHOTS, 'link-compare.png') });
  assert.ok(await alice.page.getByLabel('Also send my messages of the last 30 days').isChecked(), 'on by default');
  await alice.page.getByRole('button', { name: 'They match: link it' }).click();
  await laptop.page.getByRole('heading', { name: 'Chats' }).waitFor();

  // The recent history came along: the earlier conversation is on the laptop.
  await openChat(laptop, 'Bob');
  await laptop.page.locator('.bubble.mine', { hasText: 'Before the laptop' }).waitFor();
  await laptop.page.locator('.bubble.theirs', { hasText: 'Noted, before the laptop' }).waitFor();
  const devices = alice.page.getByRole('region', { name: 'Devices' }).getByRole('listitem');
  await devices.nth(1).waitFor({ timeout: 15000 });
  assert.equal(await devices.count(), 2, 'the new browser is listed');

  // Alice writes from the laptop: Bob gets it, and her first browser shows it as sent.
  await openChat(laptop, 'Bob');
  await send(laptop, 'From my laptop');
  await openChat(bob, 'Alice');
  await bob.page.locator('.bubble.theirs', { hasText: 'From my laptop' }).waitFor({ timeout: 30000 });
  await openChat(alice, 'Bob');
  await alice.page.locator('.bubble.mine', { hasText: 'From my laptop' }).waitFor({ timeout: 30000 });

  // And from the first browser: the laptop shows it as sent.
  await send(alice, 'And from my phone');
  await bob.page.locator('.bubble.theirs', { hasText: 'And from my phone' }).waitFor({ timeout: 30000 });
  await laptop.page.locator('.bubble.mine', { hasText: 'And from my phone' }).waitFor({ timeout: 30000 });

  // Bob answers: both of Alice's browsers show it, opened.
  await send(bob, 'Hello to both of you');
  for (const who of [alice, laptop]) {
    await who.page.locator('.bubble.theirs', { hasText: 'Hello to both of you' }).waitFor({ timeout: 30000 });
    assert.equal(await who.page.locator('.undecryptable').count(), 0, 'nothing undecryptable');
  }
  await laptop.page.screenshot({ path: path.join(SCREENSHOTS, 'linked-chat.png') });
});
