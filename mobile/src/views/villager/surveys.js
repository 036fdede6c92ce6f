// The household's open surveys (GET /surveys/pending), shared by the list and the form: a handful at most.
import { get } from '../../api'

export async function loadPending() {
  return (await get('/surveys/pending')).items
}
