// How dates, points and states read on the phone: in Chinese, in Beijing time.

const beijing = new Intl.DateTimeFormat('en-US', {
  timeZone: 'Asia/Shanghai',
  month: 'numeric',
  day: 'numeric',
  hour: 'numeric',
  minute: '2-digit',
  hourCycle: 'h23',
})

// The month, day, hour and minute of an ISO time, in Beijing.
function inBeijing(iso) {
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
