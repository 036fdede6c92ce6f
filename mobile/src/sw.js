// The phone app's service worker (/m/sw.js, scope /m/), so that the app opens in a village with no signal.
// Not bundled by Vite: build/offline.js copies it to dist/ with the two values below filled in.
// - The app's files are kept when it installs; every screen's page and the hashed files come from there
//   (a new release installs beside the old one and takes over once no tab of the old one is open).
// - API reads (GET /api/mp/v1/…) always go to the server; the last good answer of each is kept only to answer
//   when the network is down, so that a cadre can still open 今日, 走访 and the forms to capture work offline
//   (a villager sees the last balance instead of an error). It is kept per user (Vary: Authorization, the
//   page also drops it on sign-out), and an error answer is never kept. Writes never pass through here:
//   the outbox (outbox.js) keeps them.
const VERSION = 'XZ_VERSION'
const PRECACHE = ['XZ_PRECACHE']

const SHELL = `xz-shell-${VERSION}`
const READS = 'xz-api' // session.js drops it on sign-out
const APP = '/m/'
const API = '/api/mp/v1/'

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(PRECACHE)))
})

self.addEventListener('activate', (event) => {
  const old = (name) => name.startsWith('xz-shell-') && name !== SHELL
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter(old).map((name) => caches.delete(name))))
      .then(() => self.clients.claim()),
  )
})

self.addEventListener('fetch', (event) => {
  const request = event.request
  const url = new URL(request.url)
  if (request.method !== 'GET' || url.origin !== self.location.origin) return
  if (request.mode === 'navigate' && url.pathname.startsWith(APP)) event.respondWith(page(request))
  else if (url.pathname.startsWith(`${APP}assets/`)) event.respondWith(file(request))
  else if (url.pathname.startsWith(API)) event.respondWith(read(event))
})

// Screens are hash routes: every page under /m/ is the same page.
async function page(request) {
  return (await caches.match(APP, { cacheName: SHELL })) || fetch(request)
}

// Hashed names never change content: kept once, including those fetched on first use.
async function file(request) {
  const kept = await caches.match(request)
  if (kept) return kept
  const response = await fetch(request)
  if (response.ok) {
    const copy = response.clone()
    await caches.open(SHELL).then((cache) => cache.put(request, copy))
  }
  return response
}

async function read(event) {
  const request = event.request
  try {
    const response = await fetch(request)
    if (response.ok) event.waitUntil(keep(request, response.clone()))
    return response
  } catch (failure) {
    const kept = await caches.match(request, { cacheName: READS })
    if (kept) return kept
    throw failure
  }
}

async function keep(request, response) {
  const headers = new Headers(response.headers)
  headers.set('Vary', 'Authorization')
  const copy = new Response(await response.blob(), { status: response.status, headers })
  await caches.open(READS).then((cache) => cache.put(request, copy))
}
