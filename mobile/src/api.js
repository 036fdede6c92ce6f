// The only way the app talks to the server: /api/mp/v1, JSON, the bearer token of the signed-in user.
// A 401 on a signed-in request means the token is gone: forget it and go back to 登录.
import { personaOf } from './roles'
import router from './router'
import { forget, session } from './session'

const BASE = '/api/mp/v1'

// What to do next, for the errors a villager can meet; the API's message says what went wrong.
const NEXT_STEPS = {
  offline: '请检查手机网络，稍后再试',
  insufficient_points: '可以少兑几件，或换一件积分少的商品',
  out_of_stock: '可以少兑几件，或等村里补货后再来',
  redemption_closed: '请在村里公布的兑换时间再来',
  redemption_limit_reached: '下一期可以再兑换',
  redemption_vetoed: '下个月可以再兑换，有疑问请问村干部',
  product_unavailable: '请返回看看别的商品',
  redemption_not_pending: '请下拉刷新，看看最新状态',
  redemption_not_approved: '请返回刷新，看看最新状态',
  binding_code_invalid: '请核对明白卡上的绑定码，或找村干部重新领取',
  binding_full: '请村干部在管理后台解绑不用的手机后再试',
  invitation_invalid: '请管理员重新生成邀请码',
  wechat_code_invalid: '请回到微信小程序重新打开',
  rate_limited: '请等一分钟再试',
  service_unavailable: '请过几秒再试，已填的内容不会丢',
  storage_full: '照片暂时存不下，请过一会儿再传，或告诉村干部',
  forbidden: '有疑问请问村干部',
  not_in_scope: '有疑问请问村干部',
  not_found: '请返回刷新后再试',
  conflict: '请返回刷新后再试',
  idempotency_mismatch: '请返回重新操作',
  invalid_request: '请检查填写的内容',
  no_rule_book: '请问村干部何时公布积分细则',
  internal_error: '请稍后再试，一直不行请告诉村干部',
  payload_too_large: '请换一张照片，或重新拍一张',
  unsupported_image: '请换一张照片，或重新拍一张',
  photo_not_found: '请删掉这张照片，重新拍一张',
  photo_already_used: '请删掉这张照片，重新拍一张',
  photo_unusable: '请删掉这张照片，重新拍一张',
  too_many_photos: '请删掉几张照片再保存',
  photo_required: '请拍一张照片再保存',
  location_denied: '请在手机设置里允许微信使用位置信息，再试一次',
  location_unavailable: '请走到屋外、信号好些的地方再试一次',
  camera_unavailable: '请直接输入村民手机上的 6 位取货码',
  not_posted: '请问镇里的管理员，确认您的驻村任务',
  record_locked: '过了当天的纪实请到电脑上的管理后台补正',
  leave_overlap: '请改一下日期，或看看已经申请的请假',
  problem_state_conflict: '请返回刷新，看看最新状态',
  claim_already_decided: '请返回刷新，看看最新状态',
  already_reviewed: '请等其他评议成员审核',
  pickup_code_invalid: '请核对村民手机上的取货码，或扫一扫二维码',
  pickup_code_ambiguous: '请扫一扫村民手机上的二维码',
  duplicate_claim: '请到“我的申报”看看已经申报的',
  cap_reached: '这一项本期已经加满了，可以申报别的好事',
  objection_window_closed: '有疑问请直接问村评议小组',
  survey_closed: '下一次测评再参加',
  survey_not_open: '请在测评开始后再来',
  survey_not_invited: '这次测评是抽样的，下次可能会抽到您家',
}

// Cadres and the review panel ask the town, not the village cadres.
const STAFF_NEXT_STEPS = {
  forbidden: '有疑问请问镇里的管理员',
  not_in_scope: '有疑问请问镇里的管理员',
  internal_error: '请稍后再试，一直不行请告诉镇里的管理员',
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || (status >= 500 ? '服务器暂时出了问题' : '没有办成'))
    this.status = status
    this.code = body?.code || (status >= 500 ? 'internal_error' : 'error')
    // Field messages from a validation error, by field, and flattened: the phone shows them under the message.
    this.fields = body?.errors || {}
    this.details = Object.values(this.fields).flat()
    const staff = personaOf(session.user) !== 'villager'
    this.nextStep = (staff && STAFF_NEXT_STEPS[this.code]) || NEXT_STEPS[this.code] || '请稍后再试'
  }
}

// The sentence to show for any error: what went wrong, the fields' messages, what to do next.
export function explain(error) {
  if (!(error instanceof ApiError)) return `出了点问题，${NEXT_STEPS.internal_error}`
  const what = [error.message, ...error.details].join('；').replace(/[。.！!]$/, '')
  return `${what}。${error.nextStep}`
}

async function call(method, path, { query, body, idempotencyKey } = {}) {
  const url = new URL(BASE + path, window.location.origin)
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== null && value !== undefined) url.searchParams.set(name, value)
  }
  const headers = { Accept: 'application/json' }
  if (session.token) headers.Authorization = `Bearer ${session.token}`
  // A form (a photo upload) names its own multipart Content-Type; anything else goes as JSON.
  const form = body instanceof FormData
  if (body !== undefined && !form) headers['Content-Type'] = 'application/json'
  if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey
  let response
  try {
    response = await fetch(url, { method, headers, body: body === undefined || form ? body : JSON.stringify(body) })
  } catch {
    throw new ApiError(0, { code: 'offline', message: '网络不通' })
  }
  const isJson = (response.headers.get('Content-Type') || '').includes('json')
  const data = response.status === 204 ? null : await (isJson ? response.json() : response.text()).catch(() => null)
  if (response.ok) return data
  if (response.status === 401 && headers.Authorization) {
    forget()
    router.replace({ name: 'login', query: { expired: '1' } })
  }
  throw new ApiError(response.status, isJson ? data : null)
}

export const get = (path, query) => call('GET', path, { query })
export const post = (path, body, options = {}) => call('POST', path, { body, ...options })

// One photo (a JPEG Blob) to POST /uploads, as wx.uploadFile would send it; its {id, status, …}.
export function upload(photo) {
  const form = new FormData()
  form.append('file', photo, 'photo.jpg')
  return post('/uploads', form)
}

// A fresh Idempotency-Key. crypto.randomUUID needs HTTPS; getRandomValues works on a plain-HTTP test server too.
export function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  bytes[6] = (bytes[6] & 0x0f) | 0x40
  bytes[8] = (bytes[8] & 0x3f) | 0x80
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}
