// Hush behind the real Caddy with the project's deploy/Caddyfile (`tls internal` on
// loopback): the app loads over HTTPS with HSTS, the refresh cookie is Secure, visitors
// behind the proxy get separate rate-limit buckets by their forwarded address, /metrics is
// not published — and the first demo (recipient online) passes through it in Chromium,
// WebSocket included.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startCaddy } from '../lib/caddy.mjs';
import { aliceAndBob, freePort, launchBrowser, nav, openChat, send, startHush, tickOf } from '../lib/harness.mjs';

let hush, caddy, browser;

before(async () => {
  const port = await freePort();
  hush = await startHush({ publicOrigin: `https://localhost:${port}`, env: { HUSH_TRUST_FORWARDED_FOR: 'true' } });
  caddy = await startCaddy(port, hush.port, await freePort());
});

after(async () => {
  await browser?.close();
  await caddy?.stop();
  await hush?.stop();
});

test('the app loads over HTTPS with HSTS; /metrics is not published', async () => {
  const index = await caddy.request('GET', '/');
  assert.equal(index.status, 200);
  assert.match(index.text, /<title>Hush<\/title>/);
  assert.match(index.headers['strict-transport-security'] ?? '', /max-age=\d+/);
  assert.match(index.headers['content-security-policy'] ?? '', /script-src 'self' 'wasm-unsafe-eval'/);
  for (const pathname of ['/metrics', '/metrics/', '/metrics?x=1']) {
    const metrics = await caddy.request('GET', pathname);
    assert.equal(metrics.status, 404, `${pathname} through the proxy`);
    assert.doesNotMatch(metrics.text, /hush_/, `${pathname} shows no metrics`);
  }
});

test('signing in through the proxy sets a Secure refresh cookie', async () => {
  const phone = '+16502530150';
  const sent = await caddy.request('POST', '/api/v1/auth/code', { body: { phone } });
  assert.equal(sent.status, 202, sent.text);
  const { challenge } = JSON.parse(sent.text);
  const code = await hush.codeFor(phone);
  const verified = await caddy.request('POST', '/api/v1/auth/verify', { body: { phone, challenge, code } });
  assert.equal(verified.status, 200, verified.text);
  const cookie = (verified.headers['set-cookie'] ?? []).join('\n');
  assert.match(cookie, /; Secure/i, cookie);
  assert.match(cookie, /HttpOnly/i, cookie);
});

test('visitors behind the proxy get separate rate-limit buckets by their address', async () => {
  // 20 codes an hour per address: the 21st from 127.0.0.2 is refused, 127.0.0.3 is not.
  const ask = (n, from) => caddy.request('POST', '/api/v1/auth/code', { from, body: { phone: `+1650253${String(200 + n).padStart(4, '0')}` } });
  for (let n = 0; n < 20; n++) assert.equal((await ask(n, '127.0.0.2')).status, 202, `code ${n + 1} from 127.0.0.2`);
  const refused = await ask(20, '127.0.0.2');
  assert.equal(refused.status, 429, refused.text);
  assert.equal(JSON.parse(refused.text).code, 'rate_limited');
  assert.equal((await ask(21, '127.0.0.3')).status, 202, 'another address has its own bucket');
});

test('recipient online, through the proxy: delivered live, ticks go sent → delivered → read', async () => {
  browser = await launchBrowser();
  const { alice, bob } = await aliceAndBob(browser, hush, ['650 253 0161', '650 253 0162'], { url: `${caddy.origin}/` });
  await openChat(alice, 'Bob');
  await nav(bob.page, 'Chats');
  await send(alice, 'Hello Bob, through Caddy');
  await bob.page.getByRole('button', { name: /^Alice\b/ }).getByText('Hello Bob, through Caddy').waitFor();
  await tickOf(alice, 'through Caddy').and(alice.page.locator('[aria-label="delivered"]')).waitFor();
  await openChat(bob, 'Alice');
  await tickOf(alice, 'through Caddy').and(alice.page.locator('[aria-label="read"]')).waitFor();
});
