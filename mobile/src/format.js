// How dates, points and states read on the phone: in Chinese, in Beijing time.

// Made on first use: a formatter with a time zone costs a tenth of a second to make on a slow phone, and the
// first screen often shows no time at all.
let beijing = null

// The month, day, hour and minute of an ISO time, in Beijing.
function inBeijing(iso) {
  beijing ||= new Intl.DateTimeFormat('en-US', {
    timeZone: 'Asia/Shanghai',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: '2-digit',
    hourCycle: 'h23',
  })
  return Object.fromEntries(beijing.formatToParts(new Date(iso)).map((part) => [part.type, part.value]))
}

// "12月7日" from an ISO time with offset, or from a business date "2026-12-07".
export function day(value) {
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const [, month, date] = value.split('-').map(Number)
    return `${month}月${date}日`
  }
  const at = inBeijing(value)
  return `${at.month}月${at.day}日`
}

// "2024年1月1日" from a business date "2024-01-01".
export function fullDay(date) {
  const [year, month, dayOfMonth] = date.split('-').map(Number)
  return `${year}年${month}月${dayOfMonth}日`
}

// "12月7日 09:05"
export function dayAndTime(iso) {
  const at = inBeijing(iso)
  return `${at.month}月${at.day}日 ${at.hour.padStart(2, '0')}:${at.minute}`
}

// "2026-12" → "12月"
export function monthName(month) {
  return `${Number(month.split('-')[1])}月`
}

// +3 / −40 / 0, with a real minus sign.
export function signed(points) {
  if (points > 0) return `+${points}`
  if (points < 0) return `−${-points}`
  return '0'
}

export const LEDGER_KINDS = {
  base: '基础分',
  earn: '加分',
  deduct: '扣分',
  veto: '一票否决',
  hold: '兑换冻结',
  release: '冻结退回',
  spend: '兑换领取',
  correction: '更正',
}

export const REDEMPTION_STATES = {
  pending: '待审核',
  approved: '待领取',
  rejected: '未通过',
  cancelled: '已取消',
  handed_over: '已领取',
  expired: '已过期',
}

export const PERIODS = { month: '每月', quarter: '每季度', year: '每年' }

let beijingDate = null // made on first use, as `beijing` above

// Today's business date in Beijing, "2026-12-07", whatever the phone's own time zone.
export function today() {
  beijingDate ||= new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' })
  return beijingDate.format(new Date())
}

// "2026-12" of a business date.
export function monthOf(date) {
  return date.slice(0, 7)
}

// The month before or after "2026-12": "2026-11" / "2027-01".
export function shiftMonth(month, by) {
  const [year, number] = month.split('-').map(Number)
  const index = year * 12 + number - 1 + by
  return `${Math.floor(index / 12)}-${String((index % 12) + 1).padStart(2, '0')}`
}

// "2026年12月"
export function longMonth(month) {
  const [year, number] = month.split('-').map(Number)
  return `${year}年${number}月`
}

// This moment as ISO 8601 with the phone's own offset, "2026-12-07T09:05:00+08:00": when a cadre tapped 保存.
export function nowWithOffset(at = new Date()) {
  const pad = (n) => String(Math.abs(n)).padStart(2, '0')
  const offset = -at.getTimezoneOffset()
  const sign = offset < 0 ? '-' : '+'
  return (
    `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}` +
    `T${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}` +
    `${sign}${pad(Math.trunc(offset / 60))}:${pad(offset % 60)}`
  )
}

// A rule item's points as the board shows them: +10 加分, −10 扣分, or 一票否决.
export function rulePoints(item) {
  if (item.kind === 'veto') return '一票否决'
  return item.kind === 'negative' ? `扣 ${item.points} 分` : `加 ${item.points} 分`
}

export const RECORD_CATEGORIES = {
  visit: '走访',
  meeting: '会议',
  industry: '产业发展',
  policy: '政策宣传',
  mediation: '矛盾调解',
  service: '代办服务',
  other: '其他',
}

export const PROBLEM_STATES = { open: '待办理', in_progress: '办理中', closed: '已销号' }

export const LEAVE_STATES = { pending: '待审批', approved: '已批准', rejected: '未批准' }

// A day of the attendance calendar, in a word (colour is never the only signal).
export const DAY_STATES = { on_post: '在岗', outside: '村外', leave: '请假', absent: '缺勤', future: '' }

const WEEKDAYS = ['星期日', '星期一', '星期二', '星期三', '星期四', '星期五', '星期六']

// "星期二" of a business date "2026-12-08".
export function weekday(date) {
  const [year, month, dayOfMonth] = date.split('-').map(Number)
  return WEEKDAYS[new Date(Date.UTC(year, month - 1, dayOfMonth)).getUTCDay()]
}
