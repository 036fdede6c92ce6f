// The phone app's service worker (/m/sw.js, scope /m/), so that the app opens in a village with no signal.
// Not bundled by Vite: build/offline.js copies it to dist/ with the two values below filled in.
// - The app's files are kept when it installs; every screen's page and the hashed files come from there
//   (a new release installs beside the old one and takes over once no tab of the old one is open).
// - API reads (GET /api/mp/v1/…) always go to the server; the last good answer of each is kept only to answer
//   when the network is down, so that a cadre can still open 今日, 走访 and the forms to capture work offline
//   (a villager sees the last balance instead of an error). It is kept per user (Vary: Authorization, the
//   page also drops it on sign-out), and an error answer is never kept. Writes never pass through here:
//   the outbox (outbox.js) keeps them.
const VERSION = "0016c80c66c0"
const PRECACHE = ["/m/","/m/assets/AttendanceView-CyhiVXhH.css","/m/assets/AttendanceView-DJyyLPLX.js","/m/assets/BackBar-BvbN-_xe.css","/m/assets/BackBar-CU5h2xO3.js","/m/assets/ChoiceList-DjvkmTBD.js","/m/assets/ChoiceList-XqSth-Jd.css","/m/assets/ClaimForm-Cwow9Tgn.js","/m/assets/ClaimForm-fNdnv-Kz.css","/m/assets/ClaimsView-Bdhzj-W6.css","/m/assets/ClaimsView-DIWccva4.js","/m/assets/ClaimsView-DbEG8JpF.js","/m/assets/ClaimsView-gt-_0qBo.css","/m/assets/CounterView-8CpaNCkV.js","/m/assets/CounterView-BjBiv9xS.css","/m/assets/ElderSwitch-3cgE6b8q.js","/m/assets/ElderSwitch-BxE_RkWh.css","/m/assets/HomeView-DVW7iI7Z.js","/m/assets/HomeView-b02tBnOg.css","/m/assets/HouseholdName-D68reBDW.css","/m/assets/HouseholdName-ZMmXmbIY.js","/m/assets/InboxView-Bz_ihJqA.js","/m/assets/LeavesView-Dj655ye1.css","/m/assets/LeavesView-XW1HiMAu.js","/m/assets/LedgerView-BCkdVE_V.css","/m/assets/LedgerView-Dlg1z6_d.js","/m/assets/LoadError-CHY1ouLL.css","/m/assets/LoadError-CY8PT95M.js","/m/assets/LoginView-BCCXTKui.js","/m/assets/LoginView-DoSjND60.css","/m/assets/MeView-BB8n9GFm.css","/m/assets/MeView-Dzlg_D0N.js","/m/assets/MessagesView-C430MskS.js","/m/assets/MessagesView-bhSunf81.css","/m/assets/MonthBar-CNgAICcm.css","/m/assets/MonthBar-CaMjG98Q.js","/m/assets/NoticeView-BcpMlr6h.js","/m/assets/NoticeView-C0IJbKV3.css","/m/assets/OutboxView-C1tzcrFN.css","/m/assets/OutboxView-DQyODuIW.js","/m/assets/PagedList-DXQ8F22u.js","/m/assets/PagedList-DYxGdsBu.css","/m/assets/PhotoPicker-CR9DFGHq.js","/m/assets/PhotoPicker-PelF19b_.css","/m/assets/PhotoThumbs-CFBka6eB.css","/m/assets/PhotoThumbs-CG2paF_K.js","/m/assets/PickupView-CNL8lmpv.js","/m/assets/PickupView-CNMFlZIQ.css","/m/assets/RecordForm-CeZYhaCd.js","/m/assets/RecordForm-DUtuzFwC.css","/m/assets/RecordsView-D-vJziFz.css","/m/assets/RecordsView-DzXeM9BD.js","/m/assets/ReviewActions-DNa553E-.js","/m/assets/RulesView-CTY1DY6Q.js","/m/assets/RulesView-DuINyaco.css","/m/assets/ShopView-PCXKCSoP.js","/m/assets/ShopView-swQzLsY8.css","/m/assets/SubmitButton-CB7l9RRr.css","/m/assets/SubmitButton-DT-_8Gud.js","/m/assets/SurveyForm-C44Gbf3v.js","/m/assets/SurveyForm-CPivzOVQ.css","/m/assets/SurveysView-DCwArzie.js","/m/assets/SurveysView-DkCL1jBk.css","/m/assets/TodayView-Bo5dkQKD.css","/m/assets/TodayView-CPT5h_MZ.js","/m/assets/VisitForm-CiNGwOgm.css","/m/assets/VisitForm-rIzoN5P-.js","/m/assets/VisitsView-BnTiuDes.js","/m/assets/VisitsView-DrFwugUk.css","/m/assets/capture-BnTH_U5I.js","/m/assets/coverage-C1O3onDa.js","/m/assets/format-BJUD1ZRP.js","/m/assets/index-JyNEvHgP.css","/m/assets/index-T6INGuc3.js","/m/assets/loading-CYKtIo3R.css","/m/assets/loading-CmvCnk-Q.js","/m/assets/location-B1DnnE9S.js","/m/assets/style-B-nUdQpL.js","/m/assets/style-BQClk1ld.js","/m/assets/style-BgGpgPaJ.js","/m/assets/style-CQYrTlDs.css","/m/assets/style-Cdu6kodm.css","/m/assets/style-DVr_ldIy.css","/m/assets/style-jJR20UrC.js","/m/assets/summary-BUuhTq43.js","/m/assets/surveys-F46SV_2W.js","/m/assets/use-expose-dQgcsByq.js","/m/assets/use-id-o67WFYV1.js","/m/assets/vue-DZZiRuT2.js"]

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
