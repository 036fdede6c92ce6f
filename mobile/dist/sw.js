// The phone app's service worker (/m/sw.js, scope /m/), so that the app opens in a village with no signal.
// Not bundled by Vite: build/offline.js copies it to dist/ with the two values below filled in.
// - The app's files are kept when it installs; every screen's page and the hashed files come from there
//   (a new release installs beside the old one and takes over once no tab of the old one is open).
// - API reads (GET /api/mp/v1/…) always go to the server; the last good answer of each is kept only to answer
//   when the network is down, so that a cadre can still open 今日, 走访 and the forms to capture work offline
//   (a villager sees the last balance instead of an error). It is kept per user (Vary: Authorization, the
//   page also drops it on sign-out), and an error answer is never kept. Writes never pass through here:
//   the outbox (outbox.js) keeps them.
const VERSION = "ad6bebd337d4"
const PRECACHE = ["/m/","/m/assets/AttendanceView-CGcsyxWx.js","/m/assets/AttendanceView-CyhiVXhH.css","/m/assets/BackBar-BvbN-_xe.css","/m/assets/BackBar-C5xvvD1N.js","/m/assets/ChoiceList-DxGRP1I7.js","/m/assets/ChoiceList-XqSth-Jd.css","/m/assets/ClaimForm-CHS7fLiv.js","/m/assets/ClaimForm-fNdnv-Kz.css","/m/assets/ClaimsView-Bdhzj-W6.css","/m/assets/ClaimsView-CNrBWRsL.js","/m/assets/ClaimsView-NCF28m3u.js","/m/assets/ClaimsView-gt-_0qBo.css","/m/assets/CounterView-6zWFnzby.js","/m/assets/CounterView-BjBiv9xS.css","/m/assets/ElderSwitch-7vFjfMsg.js","/m/assets/ElderSwitch-BxE_RkWh.css","/m/assets/HomeView-B9rJO1Sq.js","/m/assets/HomeView-b02tBnOg.css","/m/assets/HouseholdName-4FeqWcNC.js","/m/assets/HouseholdName-D68reBDW.css","/m/assets/InboxView-CbfZ3JHl.js","/m/assets/LeavesView-2gYHB4VV.js","/m/assets/LeavesView-Dj655ye1.css","/m/assets/LedgerView-BCkdVE_V.css","/m/assets/LedgerView-Dw-PEQK3.js","/m/assets/LoadError-CHY1ouLL.css","/m/assets/LoadError-Csl-nAuM.js","/m/assets/LoginView-DoSjND60.css","/m/assets/LoginView-XpbCuUMV.js","/m/assets/MeView-B2450Tio.css","/m/assets/MeView-ChVWQrWd.js","/m/assets/MessagesView-DFGdGIu3.js","/m/assets/MessagesView-bhSunf81.css","/m/assets/MonthBar-CNgAICcm.css","/m/assets/MonthBar-D19_w1kM.js","/m/assets/NoticeView-C0IJbKV3.css","/m/assets/NoticeView-DbitPtua.js","/m/assets/OutboxView-C1tzcrFN.css","/m/assets/OutboxView-g95mOZVF.js","/m/assets/PagedList-DCCBkSb7.js","/m/assets/PagedList-DYxGdsBu.css","/m/assets/PhotoPicker-BYzTf6Tm.js","/m/assets/PhotoPicker-PelF19b_.css","/m/assets/PhotoThumbs-Bb7NfMya.js","/m/assets/PhotoThumbs-CFBka6eB.css","/m/assets/PickupView-CNMFlZIQ.css","/m/assets/PickupView-DAFJqe-U.js","/m/assets/RecordForm-DUtuzFwC.css","/m/assets/RecordForm-DvXmBMbR.js","/m/assets/RecordsView-BkVeh9hD.js","/m/assets/RecordsView-D-vJziFz.css","/m/assets/ReviewActions-DM3uh3Ep.js","/m/assets/RulesView-BPkjHUUE.js","/m/assets/RulesView-DuINyaco.css","/m/assets/ShopView-CwE38gaT.js","/m/assets/ShopView-swQzLsY8.css","/m/assets/SubmitButton-CB7l9RRr.css","/m/assets/SubmitButton-jAFCHF3x.js","/m/assets/SurveyForm-CPivzOVQ.css","/m/assets/SurveyForm-CfjrcvkC.js","/m/assets/SurveysView-BMY66il-.js","/m/assets/SurveysView-DkCL1jBk.css","/m/assets/TodayView-Bo5dkQKD.css","/m/assets/TodayView-CoEnZn_w.js","/m/assets/VisitForm-BrvkeJCW.js","/m/assets/VisitForm-CiNGwOgm.css","/m/assets/VisitsView-DHcPmGku.js","/m/assets/VisitsView-DrFwugUk.css","/m/assets/capture-DLQ9CkSy.js","/m/assets/coverage-qMzPQzgA.js","/m/assets/format-wQ-aLBcg.js","/m/assets/index-C3XwFV8c.js","/m/assets/index-JyNEvHgP.css","/m/assets/loading-CYKtIo3R.css","/m/assets/loading-CcrKiwxN.js","/m/assets/location-DHxAvTYM.js","/m/assets/style-CQYrTlDs.css","/m/assets/style-Cdu6kodm.css","/m/assets/style-D4gMfhtI.js","/m/assets/style-DTj7_GRU.js","/m/assets/style-DVr_ldIy.css","/m/assets/style-_nOSX2cc.js","/m/assets/style-yAeshnQZ.js","/m/assets/surveys-TLUhDD_a.js","/m/assets/use-expose-DVN8fOV2.js","/m/assets/use-id-o67WFYV1.js","/m/assets/vue-DZZiRuT2.js"]

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
