// Tabs per role, as docs phone-ux.md lays them out: 村民 首页·积分超市·消息·我的; 驻村干部 今日·日纪实·走访·我的;
// 评议小组 待审·核销·我的. The cadre and review screens come later: until then their first tab says so.

export const ROLE_LABELS = {
  villager: '村民',
  cadre: '驻村干部',
  reviewer: '村评议小组',
  town_admin: '镇管理员',
  county_admin: '县管理员',
}

// The role decides the set of tabs; town and county admins use the review panel's.
const PERSONAS = {
  villager: 'villager',
  cadre: 'cadre',
  reviewer: 'review',
  town_admin: 'review',
  county_admin: 'review',
}

const ME = { to: '/me', label: '我的', icon: 'me' }

const TABS = {
  villager: [
    { to: '/home', label: '首页', icon: 'home' },
    { to: '/shop', label: '积分超市', icon: 'shop' },
    { to: '/messages', label: '消息', icon: 'message', unread: true },
    ME,
  ],
  cadre: [{ to: '/soon', label: '今日', icon: 'home' }, ME],
  review: [{ to: '/soon', label: '待审', icon: 'home' }, ME],
}

export function personaOf(user) {
  return PERSONAS[user?.role] || 'villager'
}

export function tabsOf(user) {
  return TABS[personaOf(user)]
}

export function homeOf(user) {
  return tabsOf(user)[0].to
}
