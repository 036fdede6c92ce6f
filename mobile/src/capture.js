// Every write a cadre makes goes through here, as an entry fixed the moment they tap 保存: the fields, the
// photos (already shrunk), the capture time `captured_at` and an Idempotency-Key. Today an entry is sent at
// once; the offline outbox will keep entries on the phone and send them from here. A resent entry keeps its
// key (the server answers as it did the first time), its capture time and the photos already uploaded.
import { ref } from 'vue'
import { newKey, post, upload } from './api'
import { nowWithOffset } from './format'

// `timed`: work done in the village carries its capture time; a request (leave) does not.
export function capture(path, fields = {}, { photos = [], timed = true } = {}) {
  return { path, fields, photos, photoIds: [], key: newKey(), capturedAt: timed ? nowWithOffset() : null }
}

// Upload the photos not uploaded yet, then the record; the server's answer.
export async function send(entry) {
  while (entry.photoIds.length < entry.photos.length) {
    entry.photoIds.push((await upload(entry.photos[entry.photoIds.length])).id)
  }
  const body = { ...entry.fields }
  if (entry.capturedAt) body.captured_at = entry.capturedAt
  if (entry.photos.length) body.photo_ids = entry.photoIds
  return post(entry.path, body, { idempotencyKey: entry.key })
}

function sameEntry(entry, path, fields, photos) {
  return (
    entry.path === path &&
    JSON.stringify(entry.fields) === JSON.stringify(fields) &&
    entry.photos.length === photos.length &&
    entry.photos.every((photo, index) => photo === photos[index])
  )
}

// A form's 保存: tapped again after a failure with nothing changed, it resends the same entry; once anything
// changed, it captures a new one. `save` answers the server's reply, or null (then `error` says why).
export function useCapture() {
  const saving = ref(false)
  const error = ref(null)
  let entry = null

  async function save(path, fields = {}, options = {}) {
    if (!entry || !sameEntry(entry, path, fields, options.photos || [])) entry = capture(path, fields, options)
    saving.value = true
    error.value = null
    try {
      const answer = await send(entry)
      entry = null
      return answer
    } catch (failure) {
      error.value = failure
      return null
    } finally {
      saving.value = false
    }
  }

  return { saving, error, save }
}
