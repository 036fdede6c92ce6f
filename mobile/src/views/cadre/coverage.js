// The cadre's paired households (包联户) against the county's visiting rule this month, those still owing
// visits first, longest unvisited first among them.
import { get } from '../../api'

function owing(row) {
  return row.met ? 0 : 1
}

export async function loadCoverage() {
  const { items } = await get('/visits/coverage')
  return items.sort(
    (a, b) =>
      owing(b) - owing(a) ||
      (a.last_visit_on || '').localeCompare(b.last_visit_on || '') ||
      a.household_number.localeCompare(b.household_number),
  )
}

// "本月走访 1/2 次" in words, with the contacts the rule asks for when it does.
export function coverageText(row) {
  const visits = `走访 ${row.period_visits}/${row.visits_required} 次`
  return row.contacts_required ? `${visits}，联系 ${row.contacts}/${row.contacts_required} 次` : visits
}

// The members' phones of this helper's own paired households, by household id, heads first: tap to call.
export async function loadContacts() {
  const { items } = await get('/households/paired')
  return Object.fromEntries(
    items.map((h) => [h.household_id, [...h.contacts].sort((a, b) => Number(b.is_head) - Number(a.is_head))]),
  )
}
