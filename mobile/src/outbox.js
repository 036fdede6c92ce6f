// The cadre's outbox (待发送): work captured in a village with no signal waits on the phone, in IndexedDB, and
// goes to the server by itself when the network is back: when the phone says it is online, when the app
// starts, and on a timer that waits longer after each failed try. A reload or a closed tab loses nothing.
//
// An entry (capture.js) holds the fields, its photos as JPEG Blobs, their upload ids once uploaded, its capture
// time and its Idempotency-Key. Photos go first, each id saved on the phone as it comes back, then the record
// naming them, so a resend carries the same body under the same key and the server answers it as it did the
// first time: each entry is kept exactly once, even when its answer was lost on the way back.
// An entry the server refuses for a reason a retry cannot fix (a 422, say) stays, with the server's message,
// until the cadre edits or discards it; the others go on.
import { createStore, del, get as read, set, values } from 'idb-keyval'
import { shallowReactive, watch } from 'vue'
import { ApiError, post, upload } from './api'
import { session } from './session'

// What a form says when its entry waits in the outbox.
export const WAITING_NOTE = '网络不通或太慢：已保存在手机上，有网时会自动发送，不用再填一次。'

const store = createStore('xz-outbox', 'entries')
// Seconds before the next try after 1, 2, 3… failed ones in a row.
const BACK_OFF = [5, 15, 45, 120, 300]

export const outbox = shallowReactive({
  // The signed-in user's entries, oldest capture first.
  entries: [],
  // The key of the entry being sent, and how many of the round's entries are done.
  sending: null,
  done: 0,
  online: navigator.onLine,
})

// Entries sent right now, by the form that captured them or by the round: never by both at once.
const busy = new Set()
let failures = 0
let timer = null
let round = null

async function refresh() {
  const mine = (await values(store)).filter((entry) => entry.userId === session.user?.id)
  outbox.entries = mine.sort((a, b) => a.savedAt - b.savedAt)
}

// An entry of the signed-in user, or undefined.
export async function find(key) {
  const entry = await read(key, store)
  return entry?.userId === session.user?.id ? entry : undefined
}

export async function keep(entry) {
  await set(entry.key, { ...entry, userId: session.user?.id, savedAt: entry.savedAt || Date.now() }, store)
  await refresh()
}

export async function discard(key) {
  await del(key, store)
  await refresh()
}

// Worth trying again later: no network, the token expired (sent after the cadre signs in again), the server
// busy or down, or the first copy of this very entry still being handled.
export function retryable(error) {
  return !(error instanceof ApiError) || [0, 401, 408, 429].includes(error.status) || error.status >= 500 ||
    error.code === 'conflict'
}

// Upload the photos not uploaded yet (saving each id on the phone), then the record; the server's answer.
export async function send(entry, saveProgress = async () => {}) {
  while (entry.photoIds.length < entry.photos.length) {
    entry.photoIds = [...entry.photoIds, (await upload(entry.photos[entry.photoIds.length])).id]
    await saveProgress(entry)
  }
  const body = { ...entry.fields }
  if (entry.capturedAt) body.captured_at = entry.capturedAt
  if (entry.photos.length) body.photo_ids = entry.photoIds
  try {
    return await post(entry.path, body, { idempotencyKey: entry.key })
  } catch (failure) {
    // Photos left unused for a day are cleared from the server: upload them again from the phone's copies.
    if (failure.code !== 'photo_not_found' || !entry.photoIds.length) throw failure
    entry.photoIds = []
    await saveProgress(entry)
    return send(entry, saveProgress)
  }
}

// Send one entry of the outbox: gone from the phone once the server has it. The server's answer.
async function deliver(entry) {
  const answer = await send(entry, keep)
  await discard(entry.key)
  return answer
}

// A refusal as the phone stores it, and back (an Error cannot be stored).
function fault(error) {
  return { status: error.status, body: { code: error.code, message: error.message, errors: error.fields } }
}

export function refusal(entry) {
  return entry.error ? new ApiError(entry.error.status, entry.error.body) : null
}

// A form's 保存: the entry kept on the phone first (in place of the one it corrects), then sent at once; the
// server's answer. After a failure that may pass it waits and is tried again later; after another it waits
// with the server's message, for the cadre to edit or discard. A round never takes it up meanwhile.
export async function submit(entry, replaces = null) {
  busy.add(entry.key)
  try {
    await keep(entry)
    if (replaces) await discard(replaces.key)
    return await deliver(entry)
  } catch (failure) {
    if (retryable(failure)) retryLater()
    else await keep({ ...entry, error: fault(failure) })
    throw failure
  } finally {
    busy.delete(entry.key)
  }
}

async function sendAll() {
  const tried = new Set()
  outbox.done = 0
  for (;;) {
    await refresh()
    const entry = outbox.entries.find((one) => !one.error && !busy.has(one.key) && !tried.has(one.key))
    if (!entry) return true
    tried.add(entry.key)
    outbox.sending = entry.key
    try {
      await deliver(entry)
      failures = 0
    } catch (failure) {
      if (retryable(failure)) return false
      await keep({ ...entry, error: fault(failure) })
    }
    outbox.done += 1
  }
}

// Try again after a failure that may pass, waiting longer after each one in a row.
export function retryLater() {
  failures += 1
  clearTimeout(timer)
  timer = setTimeout(flush, BACK_OFF[Math.min(failures, BACK_OFF.length) - 1] * 1000)
}

// Send what waits, one entry at a time, oldest first.
export function flush() {
  if (round || !session.token) return round
  clearTimeout(timer)
  round = sendAll()
    .then((finished) => finished || retryLater())
    .finally(() => {
      round = null
      outbox.sending = null
    })
  return round
}

// The app starts, or another user signs in: show what waits and send it; again when the network comes back.
export function startOutbox() {
  window.addEventListener('online', () => {
    outbox.online = true
    failures = 0
    flush()
  })
  window.addEventListener('offline', () => {
    outbox.online = false
  })
  watch(
    () => session.user?.id,
    () => refresh().then(flush),
    { immediate: true },
  )
}
