// Hush's service worker. It keeps the app shell of one build — index.html and the
// content-hashed assets it names — so Hush starts without a connection (the outbox already
// works offline), and it serves that build until the person accepts a newer one: a new
// deploy installs a new worker that waits; the page offers "Reload" and then posts
// 'activate-update'. The API and the WebSocket never pass through it.
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

/** The shell's copy of `path`, or the network's answer if the shell lacks it. */
async function fromShell(path, request) {
  const cache = await caches.open(CACHE);
  return (await cache.match(path)) ?? fetch(request);
}
