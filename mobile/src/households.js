// Households by id, fetched once while the same user is signed in: claims, redemptions and coverage rows name
// a household by id only. Names come back masked (张*涛), as the API gives them.
import { reactive } from 'vue'
import { get } from './api'
import { session } from './session'

// id → the household, null while it loads, false when it could not be loaded.
const known = reactive(new Map())
let knownFor = ''

export function householdOf(id) {
  if (knownFor !== session.token) {
    known.clear()
    knownFor = session.token
  }
  if (!known.has(id)) {
    known.set(id, null)
    get(`/households/${id}`).then(
      (found) => known.set(id, found),
      () => known.set(id, false),
    )
  }
  return known.get(id)
}

// "013户 户主张*涛"
export function householdName(household) {
  const head = household.residents.find((resident) => resident.is_head)
  return head ? `${household.number}户 户主${head.name}` : `${household.number}户`
}
