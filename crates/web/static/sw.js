// Hush's service worker. It keeps the app shell of one build — index.html and the
// content-hashed assets it names — so Hush starts without a connection (the outbox already
// works offline), and it serves that build until the person accepts a newer one: a new
// deploy installs a new worker that waits; the page offers "Reload" and then posts
// 'activate-update'. The API and the WebSocket never pass through it. It also shows the
// notifications of Web Push (below).
//
// scripts/build-web.sh replaces the next line with this build's version and file list.
const BUILD = { version: 'dev', shell: ['/index.html'] };
const CACHE = `hush-shell-${BUILD.version}`;
const OLD_CACHE = /^hush-shell-/;
// Addresses a person may open that are the server's, not the app's (the API's OpenAPI
// document, metrics): always from the network.
const NOT_THE_APP = /^\/(api|metrics|ws)(\/|$)/;

self.addEventListener('install', (event) => {
  // `reload`: the files themselves, never an HTTP-cached copy of an older index.html.
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(BUILD.shell.map((url) => new Request(url, { cache: 'reload' })))));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (OLD_CACHE.test(name) && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('message', (event) => {
  if (event.data === 'activate-update') self.skipWaiting();
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (request.mode === 'navigate' && !NOT_THE_APP.test(url.pathname)) {
    // Every page of the app is index.html (the app routes by itself): this build's copy.
    event.respondWith(fromShell('/index.html', request));
  } else if (BUILD.shell.includes(url.pathname)) {
    event.respondWith(fromShell(url.pathname, request));
  }
});

// Web Push: the server says only who wrote, never what (docs/PROTOCOL.md "Web Push"). The
// name comes from this device's own records — sealed in IndexedDB like everything the app
// keeps (crates/web/src/vault.rs) — or the notification says just "New message". One
// notification per chat (its tag); clicking it opens that chat.
const USER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// A push must always end in a notification (browsers require it, and a person would miss
// the message otherwise): a name lookup that takes longer gives up and says "New message".
const NAME_LOOKUP_MS = 3000;

self.addEventListener('push', (event) => {
  event.waitUntil((async () => {
    let from = null;
    try {
      from = event.data ? event.data.json().from : null;
    } catch {
      from = null;
    }
    if (typeof from !== 'string' || !USER_ID.test(from)) from = null;
    const name = from ? await withinMs(NAME_LOOKUP_MS, nameOf(from)).catch(() => null) : null;
    await self.registration.showNotification(name ? `New message from ${name}` : 'New message', {
      body: 'Open Hush to read it.',
      tag: from ? `chat-${from}` : 'hush',
      icon: BUILD.shell.find((f) => f.includes('/icon-192-')),
      data: { path: from ? `/chat/${from}` : '/' },
    });
  })());
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const path = event.notification.data?.path ?? '/';
  event.waitUntil((async () => {
    const open = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const tab = open.find((c) => new URL(c.url).origin === self.location.origin);
    if (tab) {
      await tab.focus();
      return tab.navigate(path);
    }
    return self.clients.openWindow(path);
  })());
});

/** The display name this device keeps for `userId`, from the account databases here. */
async function nameOf(userId) {
  for (const { name } of await indexedDB.databases()) {
    if (!name || !name.startsWith('hush-')) continue;
    const db = await request(indexedDB.open(name));
    try {
      if (!db.objectStoreNames.contains('vault') || !db.objectStoreNames.contains('peers')) continue;
      const key = await request(db.transaction('vault').objectStore('vault').get('key'));
      const sealed = await request(db.transaction('peers').objectStore('peers').get(userId));
      if (!(key instanceof CryptoKey) || !(sealed instanceof Uint8Array) || sealed.length < 12) continue;
      const opened = await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: sealed.slice(0, 12), additionalData: new TextEncoder().encode(`hush-idb/v1/peers/${userId}`) },
        key, sealed.slice(12));
      const peer = JSON.parse(new TextDecoder().decode(opened));
      if (typeof peer.display_name === 'string' && peer.display_name) return peer.display_name;
    } finally {
      db.close();
    }
  }
  return null;
}

/** `promise`, or a rejection once `ms` passed without it settling. */
function withinMs(ms, promise) {
  return Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), ms))]);
}

function request(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

/** The shell's copy of `path`, or the network's answer if the shell lacks it. */
async function fromShell(path, request) {
  const cache = await caches.open(CACHE);
  return (await cache.match(path)) ?? fetch(request);
}
