// The household's points (GET /points/summary), shared by 首页 and 积分超市, fetched afresh on each visit.
// After a sign-out and another sign-in, the previous household's figures are never shown.
import { computed, ref } from 'vue'
import { get } from '../../api'
import { session } from '../../session'

const fetched = ref(null)
// A request started before 首页's code has arrived (router.js), taken by the first load after it.
let early = null

export const summary = computed(() =>
  fetched.value && fetched.value.household_id === session.user?.household_id ? fetched.value : null,
)

export async function loadSummary() {
  const request = early || get('/points/summary')
  early = null
  fetched.value = await request
}

// On a slow network the balance comes sooner when its request goes out alongside 首页's code, not after it.
export function prefetchSummary() {
  if (!session.user?.household_id) return
  early = get('/points/summary')
  // Arrived before 首页 is drawn: drawn with the balance at once, not with 正在加载… first.
  early.then((found) => (fetched.value = found)).catch(() => {}) // the screen's own load shows a failure
}
