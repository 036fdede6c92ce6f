// Tabs per role, as docs phone-ux.md lays them out: 村民 首页·积分超市·消息·我的; 驻村干部 今日·日纪实·走访·我的;
// 评议小组 待审·核销·我的.

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
// A cadre's messages open from 我的, which carries their unread count.
const CADRE_ME = { ...ME, unread: true }

const TABS = {
  villager: [
    { to: '/home', label: '首页', icon: 'home' },
    { to: '/shop', label: '积分超市', icon: 'shop' },
    { to: '/messages', label: '消息', icon: 'message', unread: true },
    ME,
  ],
  cadre: [
    { to: '/today', label: '今日', icon: 'today' },
    { to: '/records', label: '日纪实', icon: 'record' },
    { to: '/visits', label: '走访', icon: 'visit' },
    CADRE_ME,
  ],
  review: [
    { to: '/review', label: '待审', icon: 'review' },
    { to: '/counter', label: '核销', icon: 'counter' },
    ME,
  ],
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
