import { createApp } from 'vue'
import 'vant/es/style/base.css'
import App from './App.vue'
import { startOutbox } from './outbox'
import router from './router'
import { session } from './session'
import './styles/theme.css'

// The mini-program shell opens /m/?ticket=…: keep the ticket for the 登录 screen and drop it from the URL.
const params = new URLSearchParams(window.location.search)
if (params.has('ticket')) {
  session.ticket = params.get('ticket')
  params.delete('ticket')
  const rest = params.toString()
  window.history.replaceState(null, '', window.location.pathname + (rest ? `?${rest}` : '') + window.location.hash)
}

createApp(App).use(router).mount('#app')

startOutbox()
// Once the service worker has kept the app (sw.js), it opens with no network. It is registered a while after
// the page has loaded, so that its download of the other screens does not hold up the first one on a weak
// network (the first screen's data comes after its code). The dev server has none.
const AFTER_FIRST_SCREEN_MS = 3000
if ('serviceWorker' in navigator && import.meta.env.PROD) {
  window.addEventListener('load', () =>
    setTimeout(() => navigator.serviceWorker.register('/m/sw.js', { scope: '/m/' }), AFTER_FIRST_SCREEN_MS),
  )
}
