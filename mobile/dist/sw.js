// The phone app's service worker (/m/sw.js, scope /m/), so that the app opens in a village with no signal.
// Not bundled by Vite: build/offline.js copies it to dist/ with the two values below filled in.
// - The app's files are kept when it installs; every screen's page and the hashed files come from there
//   (a new release installs beside the old one and takes over once no tab of the old one is open).
// - API reads (GET /api/mp/v1/…) always go to the server; the last good answer of each is kept only to answer
//   when the network is down, so that a cadre can still open 今日, 走访 and the forms to capture work offline
//   (a villager sees the last balance instead of an error). It is kept per user (Vary: Authorization, the
//   page also drops it on sign-out), and an error answer is never kept. Writes never pass through here:
//   the outbox (outbox.js) keeps them.
const VERSION = "2ac9c230dc8f"
const PRECACHE = ["/m/","/m/assets/AttendanceView-CyhiVXhH.css","/m/assets/AttendanceView-D1FTxr9v.js","/m/assets/BackBar-BvbN-_xe.css","/m/assets/BackBar-jmN1KZfe.js","/m/assets/ChoiceList-D1Z4PVY5.js","/m/assets/ChoiceList-XqSth-Jd.css","/m/assets/ClaimForm-YahV-M62.js","/m/assets/ClaimForm-fNdnv-Kz.css","/m/assets/ClaimsView-4GEGtmi6.js","/m/assets/ClaimsView-BM2FJwuS.js","/m/assets/ClaimsView-Bdhzj-W6.css","/m/assets/ClaimsView-gt-_0qBo.css","/m/assets/CounterView-BjBiv9xS.css","/m/assets/CounterView-D96QsYeX.js","/m/assets/ElderSwitch-BxE_RkWh.css","/m/assets/ElderSwitch-DYXvhzwF.js","/m/assets/HomeView-Bm-GFi7a.js","/m/assets/HomeView-b02tBnOg.css","/m/assets/HouseholdName-D68reBDW.css","/m/assets/HouseholdName-zDmOgPHY.js","/m/assets/InboxView-BIkOPmMm.js","/m/assets/LeavesView-DNhKVP2m.js","/m/assets/LeavesView-Dj655ye1.css","/m/assets/LedgerView-BCkdVE_V.css","/m/assets/LedgerView-pjkX7tBl.js","/m/assets/LoadError-BKoB_PZ0.js","/m/assets/LoadError-CHY1ouLL.css","/m/assets/LoginView-B2J771xE.js","/m/assets/LoginView-DoSjND60.css","/m/assets/MeView-B2450Tio.css","/m/assets/MeView-BrCmpMp3.js","/m/assets/MessagesView-BK3JS6QG.js","/m/assets/MessagesView-bhSunf81.css","/m/assets/MonthBar-C5e7gywf.js","/m/assets/MonthBar-CNgAICcm.css","/m/assets/NoticeView-C0IJbKV3.css","/m/assets/NoticeView-K44TVYur.js","/m/assets/OutboxView-C1tzcrFN.css","/m/assets/OutboxView-DHcMktIp.js","/m/assets/PagedList-BVwVc95a.js","/m/assets/PagedList-DYxGdsBu.css","/m/assets/PhotoPicker-BTXCruf4.js","/m/assets/PhotoPicker-PelF19b_.css","/m/assets/PhotoThumbs-BUWHfFOt.js","/m/assets/PhotoThumbs-CFBka6eB.css","/m/assets/PickupView-CNMFlZIQ.css","/m/assets/PickupView-V6elVvyp.js","/m/assets/RecordForm-DUtuzFwC.css","/m/assets/RecordForm-rEq9CcpT.js","/m/assets/RecordsView-D-vJziFz.css","/m/assets/RecordsView-DDrrxgby.js","/m/assets/ReviewActions-KiFLsuJz.js","/m/assets/RulesView-CNZ8Oy-_.js","/m/assets/RulesView-DuINyaco.css","/m/assets/ShopView-CDmsGYY3.js","/m/assets/ShopView-swQzLsY8.css","/m/assets/SubmitButton-BmPERfef.js","/m/assets/SubmitButton-CB7l9RRr.css","/m/assets/SurveyForm-B8OcfuuQ.js","/m/assets/SurveyForm-CPivzOVQ.css","/m/assets/SurveysView-DkCL1jBk.css","/m/assets/SurveysView-w_QzShgc.js","/m/assets/TodayView-Bo5dkQKD.css","/m/assets/TodayView-Rf80zFIR.js","/m/assets/VisitForm-B_zTludT.js","/m/assets/VisitForm-CiNGwOgm.css","/m/assets/VisitsView-DrFwugUk.css","/m/assets/VisitsView-DxnvIOw_.js","/m/assets/capture-DVLCh-W7.js","/m/assets/coverage-Dfcf0mHF.js","/m/assets/format-wQ-aLBcg.js","/m/assets/index-Defk3Nc4.js","/m/assets/index-JyNEvHgP.css","/m/assets/loading-CSvnSTdG.js","/m/assets/loading-CYKtIo3R.css","/m/assets/location-CKDQOFhF.js","/m/assets/style-6KKgcxo2.js","/m/assets/style-BlzpL2aZ.js","/m/assets/style-C5XNdfgU.js","/m/assets/style-CQYrTlDs.css","/m/assets/style-Cdu6kodm.css","/m/assets/style-DVr_ldIy.css","/m/assets/style-DmjVzN07.js","/m/assets/surveys-C8a152a9.js","/m/assets/use-expose-pUwRrcZO.js","/m/assets/use-id-o67WFYV1.js","/m/assets/vue-DZZiRuT2.js"]

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
