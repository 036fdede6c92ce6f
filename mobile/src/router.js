// Hash routes (the server answers /m/ only). Tab screens live inside TabShell; the others are full pages
// with a back button. `meta.personas` names who may open a screen; anyone else lands on their first tab.
import { createRouter, createWebHashHistory } from 'vue-router'
import TabShell from './components/TabShell.vue'
import { homeOf, personaOf } from './roles'
import { session } from './session'
import { prefetchSummary } from './views/villager/summary'

// A signed-in screen; `personas` (roles.js) names who may open it, null everyone.
function screen(path, title, personas, component) {
  return { path, component, meta: { title, personas } }
}
const VILLAGER = ['villager']
const CADRE = ['cadre']
const REVIEW = ['review']

const routes = [
  { path: '/login', name: 'login', component: () => import('./views/LoginView.vue'), meta: { public: true } },
  {
    path: '/',
    component: TabShell,
    children: [
      { path: '', redirect: () => homeOf(session.user) },
      { ...screen('home', '首页', VILLAGER, () => import('./views/villager/HomeView.vue')), beforeEnter: prefetchSummary },
      screen('shop', '积分超市', VILLAGER, () => import('./views/villager/ShopView.vue')),
      screen('messages', '消息', VILLAGER, () => import('./views/MessagesView.vue')),
      screen('me', '我的', null, () => import('./views/MeView.vue')),
      screen('today', '今日', CADRE, () => import('./views/cadre/TodayView.vue')),
      screen('records', '日纪实', CADRE, () => import('./views/cadre/RecordsView.vue')),
      screen('visits', '走访', CADRE, () => import('./views/cadre/VisitsView.vue')),
      screen('review', '待审', REVIEW, () => import('./views/review/ClaimsView.vue')),
      screen('counter', '核销', REVIEW, () => import('./views/review/CounterView.vue')),
    ],
  },
  screen('/ledger', '积分明细', VILLAGER, () => import('./views/villager/LedgerView.vue')),
  screen('/rules', '积分细则', VILLAGER, () => import('./views/villager/RulesView.vue')),
  screen('/pickup/:id', '取货码', VILLAGER, () => import('./views/villager/PickupView.vue')),
  screen('/claims', '我的申报', VILLAGER, () => import('./views/villager/ClaimsView.vue')),
  screen('/claims/new', '申报好事', VILLAGER, () => import('./views/villager/ClaimForm.vue')),
  screen('/notice', '村里公示', VILLAGER, () => import('./views/villager/NoticeView.vue')),
  screen('/surveys', '满意度测评', VILLAGER, () => import('./views/villager/SurveysView.vue')),
  screen('/surveys/:id(\\d+)', '填写测评', VILLAGER, () => import('./views/villager/SurveyForm.vue')),
  screen('/records/new', '写日纪实', CADRE, () => import('./views/cadre/RecordForm.vue')),
  screen('/visits/new/:household(\\d+)', '记走访', CADRE, () => import('./views/cadre/VisitForm.vue')),
  screen('/leaves', '请假', CADRE, () => import('./views/cadre/LeavesView.vue')),
  screen('/attendance', '考勤日历', CADRE, () => import('./views/cadre/AttendanceView.vue')),
  screen('/inbox', '消息', CADRE, () => import('./views/cadre/InboxView.vue')),
  screen('/outbox', '待发送', null, () => import('./views/cadre/OutboxView.vue')),
  { path: '/:unknown(.*)*', redirect: '/' },
]

const router = createRouter({ history: createWebHashHistory(), routes })

router.beforeEach((to) => {
  // The mini-program shell may put its ticket in the hash's query too: take it, and drop it from the URL.
  if (to.query.ticket) {
    session.ticket = String(to.query.ticket)
    return { name: 'login', replace: true }
  }
  if (session.ticket) return to.name === 'login' || { name: 'login', replace: true }
  if (!session.token) return to.meta.public || { name: 'login', replace: true }
  if (to.meta.public) return { path: homeOf(session.user), replace: true }
  const personas = to.meta.personas
  if (personas && !personas.includes(personaOf(session.user))) return { path: homeOf(session.user), replace: true }
  return true
})

router.afterEach((to) => {
  // Inside WeChat the page title is what the top bar shows.
  document.title = to.meta.title || '乡治'
})

export default router
