// The household's points (GET /points/summary), shared by 首页 and 积分超市, fetched afresh on each visit.
// After a sign-out and another sign-in, the previous household's figures are never shown.
import { computed, ref } from 'vue'
import { get } from '../../api'
import { session } from '../../session'

const fetched = ref(null)

export const summary = computed(() =>
  fetched.value && fetched.value.household_id === session.user?.household_id ? fetched.value : null,
)

export async function loadSummary() {
  fetched.value = await get('/points/summary')
}
