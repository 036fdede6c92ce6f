// The phone app's service worker (/m/sw.js, scope /m/), so that the app opens in a village with no signal.
// Not bundled by Vite: build/offline.js copies it to dist/ with the two values below filled in.
// - The app's files are kept when it installs; every screen's page and the hashed files come from there
//   (a new release installs beside the old one and takes over once no tab of the old one is open).
// - API reads (GET /api/mp/v1/…) always go to the server; the last good answer of each is kept only to answer
//   when the network is down, so that a cadre can still open 今日, 走访 and the forms to capture work offline
//   (a villager sees the last balance instead of an error). It is kept per user (Vary: Authorization, the
//   page also drops it on sign-out), and an error answer is never kept. Writes never pass through here:
//   the outbox (outbox.js) keeps them.
const VERSION = "48a710785345"
const PRECACHE = ["/m/","/m/assets/AttendanceView-CyhiVXhH.css","/m/assets/AttendanceView-Sj1fXHmu.js","/m/assets/BackBar-BvbN-_xe.css","/m/assets/BackBar-CPlZXm7_.js","/m/assets/ChoiceList-DKw2j_Xm.js","/m/assets/ChoiceList-XqSth-Jd.css","/m/assets/ClaimForm-Sx93eiru.js","/m/assets/ClaimForm-fNdnv-Kz.css","/m/assets/ClaimsView-Bdhzj-W6.css","/m/assets/ClaimsView-CPZI-StG.js","/m/assets/ClaimsView-DjjGaDOR.js","/m/assets/ClaimsView-gt-_0qBo.css","/m/assets/CounterView-BjBiv9xS.css","/m/assets/CounterView-YuyBsiK0.js","/m/assets/ElderSwitch-BxE_RkWh.css","/m/assets/ElderSwitch-CfAvr73Z.js","/m/assets/HomeView-Bg2cLv0Y.js","/m/assets/HomeView-b02tBnOg.css","/m/assets/HouseholdName-CCRYVC0m.js","/m/assets/HouseholdName-D68reBDW.css","/m/assets/InboxView-DcvuytMi.js","/m/assets/LeavesView-4W3Suq_I.js","/m/assets/LeavesView-Dj655ye1.css","/m/assets/LedgerView-BCkdVE_V.css","/m/assets/LedgerView-BqE9kKR5.js","/m/assets/LoadError-CHY1ouLL.css","/m/assets/LoadError-OsOsOMeV.js","/m/assets/LoginView-D0XipEFQ.js","/m/assets/LoginView-DoSjND60.css","/m/assets/MeView-B2450Tio.css","/m/assets/MeView-sYr_M72B.js","/m/assets/MessagesView-U7j7-DD3.js","/m/assets/MessagesView-bhSunf81.css","/m/assets/MonthBar-BHQ8Qd_S.js","/m/assets/MonthBar-CNgAICcm.css","/m/assets/NoticeView-C0IJbKV3.css","/m/assets/NoticeView-CK-hZwjo.js","/m/assets/OutboxView-Bw-a583u.js","/m/assets/OutboxView-C1tzcrFN.css","/m/assets/PagedList-DIXqMzFi.js","/m/assets/PagedList-DYxGdsBu.css","/m/assets/PhotoPicker-Bt5pt2K9.js","/m/assets/PhotoPicker-PelF19b_.css","/m/assets/PhotoThumbs-BulS8A5R.js","/m/assets/PhotoThumbs-CFBka6eB.css","/m/assets/PickupView-CNMFlZIQ.css","/m/assets/PickupView-f-xJLOQj.js","/m/assets/RecordForm-DUtuzFwC.css","/m/assets/RecordForm-DrTPW9h9.js","/m/assets/RecordsView-B1GQek4m.js","/m/assets/RecordsView-D-vJziFz.css","/m/assets/ReviewActions-BTOnJEqT.js","/m/assets/RulesView-D3uz-J5_.js","/m/assets/RulesView-DuINyaco.css","/m/assets/ShopView-DP4i470A.js","/m/assets/ShopView-swQzLsY8.css","/m/assets/SubmitButton-CB7l9RRr.css","/m/assets/SubmitButton-D2bGtBCA.js","/m/assets/SurveyForm-CPivzOVQ.css","/m/assets/SurveyForm-DQZmDjal.js","/m/assets/SurveysView-CAUP1DVR.js","/m/assets/SurveysView-DkCL1jBk.css","/m/assets/TodayView-Bo5dkQKD.css","/m/assets/TodayView-DLYb3Ko9.js","/m/assets/VisitForm-CiNGwOgm.css","/m/assets/VisitForm-DuKmZugq.js","/m/assets/VisitsView-DrFwugUk.css","/m/assets/VisitsView-TMaW9FlB.js","/m/assets/capture-CJ6fQXHt.js","/m/assets/coverage-CFskrRIs.js","/m/assets/format-wQ-aLBcg.js","/m/assets/index-Byr4flgs.js","/m/assets/index-JyNEvHgP.css","/m/assets/loading-CYKtIo3R.css","/m/assets/loading-DeoMt2oO.js","/m/assets/location-BkGdH9xc.js","/m/assets/style-C4hQfYCN.js","/m/assets/style-C7u7Y_Zt.js","/m/assets/style-CQYrTlDs.css","/m/assets/style-C_h3roQ1.js","/m/assets/style-Cdu6kodm.css","/m/assets/style-DVr_ldIy.css","/m/assets/style-DdBa6mNP.js","/m/assets/surveys-B2JaqqSp.js","/m/assets/use-expose-Btgx_9YW.js","/m/assets/use-id-o67WFYV1.js","/m/assets/vue-DZZiRuT2.js"]

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
