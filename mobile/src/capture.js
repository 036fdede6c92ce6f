// Every write a cadre makes goes through here, as an entry fixed the moment they tap 保存: the fields, the
// photos (already shrunk), the capture time `captured_at` and an Idempotency-Key. Work done in the village
// (timed) is kept in the outbox on the phone before it is sent (outbox.js): with no signal it waits there and
// goes by itself later. A resent entry keeps its key (the server answers as it did the first time), its
// capture time and the photos already uploaded. A request (leave) is sent at once, or not at all.
import { ref } from 'vue'
import { newKey } from './api'
import { nowWithOffset } from './format'
import { discard, find, refusal, retryable, send, submit } from './outbox'

// What save() answers when the entry waits in the outbox: no network, or it is taking long.
export const QUEUED = Object.freeze({ queued: true })
// How long a form waits for the server before leaving the entry to the outbox.
const PATIENCE_MS = 8000

// `timed`: work done in the village carries its capture time; a request (leave) does not. `capturedAt`: an
// entry edited from the outbox keeps the time the work was captured.
export function capture(path, fields = {}, { photos = [], timed = true, capturedAt = null } = {}) {
  return {
    path,
    // Plain copies: the form's reactive values cannot be stored on the phone as they are.
    fields: JSON.parse(JSON.stringify(fields)),
    photos: [...photos],
    photoIds: [],
    key: newKey(),
    capturedAt: timed ? capturedAt || nowWithOffset() : null,
  }
}

function sameEntry(entry, path, fields, photos) {
  return (
    entry.path === path &&
    JSON.stringify(entry.fields) === JSON.stringify(fields) &&
    entry.photos.length === photos.length &&
    entry.photos.every((photo, index) => photo === photos[index])
  )
}

const patience = () => new Promise((resolve) => setTimeout(() => resolve(QUEUED), PATIENCE_MS))

// Kept in the outbox, sent at once; left to the outbox when the network is down or slow.
async function sendTimed(entry, replaces) {
  try {
    return await Promise.race([submit(entry, replaces), patience()])
  } catch (failure) {
    if (retryable(failure)) return QUEUED
    throw failure
  }
}

// A form's 保存: tapped again after a failure with nothing changed, it resends the same entry; once anything
// changed, it captures a new one in its place. `save` answers the server's reply, QUEUED, or null (then
// `error` says why). `draftKey`: the outbox entry being edited (待发送 → 修改), replaced by what is saved;
// `draft` resolves to it (null if it is gone), for the form to fill itself in; `error` starts as its refusal.
export function useCapture(draftKey = null) {
  const saving = ref(false)
  const error = ref(null)
  let replaces = null
  let entry = null
  const draft = (draftKey ? find(draftKey) : Promise.resolve(null)).then((found) => {
    replaces = found || null
    if (replaces) error.value = refusal(replaces)
    return replaces
  })

  async function save(path, fields = {}, options = {}) {
    if (!entry || !sameEntry(entry, path, fields, options.photos || [])) {
      // A refused entry left in the outbox is replaced by the corrected one.
      if (entry?.capturedAt) await discard(entry.key)
      entry = capture(path, fields, { ...options, capturedAt: replaces?.capturedAt })
    }
    saving.value = true
    error.value = null
    try {
      const answer = await (entry.capturedAt ? sendTimed(entry, replaces) : send(entry))
      entry = null
      replaces = null
      return answer
    } catch (failure) {
      error.value = failure
      return null
    } finally {
      saving.value = false
    }
  }

  return { saving, error, save, draft }
}
