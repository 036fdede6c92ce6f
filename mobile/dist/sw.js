// The phone app's service worker (/m/sw.js, scope /m/), so that the app opens in a village with no signal.
// Not bundled by Vite: build/offline.js copies it to dist/ with the two values below filled in.
// - The app's files are kept when it installs; every screen's page and the hashed files come from there
//   (a new release installs beside the old one and takes over once no tab of the old one is open).
// - API reads (GET /api/mp/v1/…) always go to the server; the last good answer of each is kept only to answer
//   when the network is down, so that a cadre can still open 今日, 走访 and the forms to capture work offline
//   (a villager sees the last balance instead of an error). It is kept per user (Vary: Authorization, the
//   page also drops it on sign-out), and an error answer is never kept. Writes never pass through here:
//   the outbox (outbox.js) keeps them.
const VERSION = "84d72ae3be21"
const PRECACHE = ["/m/","/m/assets/AttendanceView-Bj0qH9Qw.js","/m/assets/AttendanceView-CyhiVXhH.css","/m/assets/BackBar-BvbN-_xe.css","/m/assets/BackBar-Bx4611u9.js","/m/assets/ChoiceList-4FFI7c2w.js","/m/assets/ChoiceList-XqSth-Jd.css","/m/assets/ClaimForm-D6jz9DYv.js","/m/assets/ClaimForm-fNdnv-Kz.css","/m/assets/ClaimsView-Bdhzj-W6.css","/m/assets/ClaimsView-BvGaPH37.js","/m/assets/ClaimsView-CsowVxVk.js","/m/assets/ClaimsView-gt-_0qBo.css","/m/assets/CounterView-BjBiv9xS.css","/m/assets/CounterView-l8ZvBbHO.js","/m/assets/ElderSwitch-BxE_RkWh.css","/m/assets/ElderSwitch-DOzrfjAY.js","/m/assets/HomeView-b02tBnOg.css","/m/assets/HomeView-xCldvWXf.js","/m/assets/HouseholdName-CoEBYUxq.js","/m/assets/HouseholdName-D68reBDW.css","/m/assets/InboxView-BxwXx1lR.js","/m/assets/LeavesView-CFoAOL7W.js","/m/assets/LeavesView-Dj655ye1.css","/m/assets/LedgerView-BCkdVE_V.css","/m/assets/LedgerView-BeT4iOIi.js","/m/assets/LoadError-CHY1ouLL.css","/m/assets/LoadError-X7cSMqtc.js","/m/assets/LoginView-DoSjND60.css","/m/assets/LoginView-OrST11wi.js","/m/assets/MeView-B2450Tio.css","/m/assets/MeView-DKx-5OQO.js","/m/assets/MessagesView-aFNCyjbf.js","/m/assets/MessagesView-bhSunf81.css","/m/assets/MonthBar-CNgAICcm.css","/m/assets/MonthBar-vOJ2QDcM.js","/m/assets/NoticeView-C0IJbKV3.css","/m/assets/NoticeView-DAP-_Qax.js","/m/assets/OutboxView-C1tzcrFN.css","/m/assets/OutboxView-COx7xSIw.js","/m/assets/PagedList-CP68T0y4.js","/m/assets/PagedList-DYxGdsBu.css","/m/assets/PhotoPicker-Cl6nEjNx.js","/m/assets/PhotoPicker-PelF19b_.css","/m/assets/PhotoThumbs-BO0RT0f5.js","/m/assets/PhotoThumbs-CFBka6eB.css","/m/assets/PickupView-CNMFlZIQ.css","/m/assets/PickupView-Mrc3w8Oh.js","/m/assets/RecordForm-CabWWi4p.js","/m/assets/RecordForm-DUtuzFwC.css","/m/assets/RecordsView-D-vJziFz.css","/m/assets/RecordsView-UvuNGjW1.js","/m/assets/ReviewActions-B009jysO.js","/m/assets/RulesView-DC9MlH_1.js","/m/assets/RulesView-DuINyaco.css","/m/assets/ShopView-BHyiWG-D.js","/m/assets/ShopView-swQzLsY8.css","/m/assets/SubmitButton-CB7l9RRr.css","/m/assets/SubmitButton-mD-NI3kJ.js","/m/assets/SurveyForm-CPivzOVQ.css","/m/assets/SurveyForm-yF1hAC6B.js","/m/assets/SurveysView-BSk2GmVo.js","/m/assets/SurveysView-DkCL1jBk.css","/m/assets/TodayView-Bo5dkQKD.css","/m/assets/TodayView-M5VxS2O-.js","/m/assets/VisitForm-CiNGwOgm.css","/m/assets/VisitForm-EML4OqQn.js","/m/assets/VisitsView-BUd88PAX.js","/m/assets/VisitsView-DrFwugUk.css","/m/assets/capture-D3sINzjW.js","/m/assets/coverage-C9mHiBM_.js","/m/assets/format-wQ-aLBcg.js","/m/assets/index-DgW6IuXZ.js","/m/assets/index-JyNEvHgP.css","/m/assets/loading-5pmV1uAV.js","/m/assets/loading-CYKtIo3R.css","/m/assets/location-CINaTQm5.js","/m/assets/style-CQYrTlDs.css","/m/assets/style-Cdu6kodm.css","/m/assets/style-D1xmijHy.js","/m/assets/style-DVr_ldIy.css","/m/assets/style-F-C5CzZR.js","/m/assets/style-RHGSnSSH.js","/m/assets/style-kFYffuQq.js","/m/assets/surveys-B_Qygil_.js","/m/assets/use-expose-C7RMotxf.js","/m/assets/use-id-o67WFYV1.js","/m/assets/vue-DZZiRuT2.js"]

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
