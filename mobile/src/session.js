// Who is signed in, kept in localStorage so the app reopens signed in; and the 长辈版 setting.
import { reactive, watchEffect } from 'vue'

const TOKEN_KEY = 'xz.token'
const USER_KEY = 'xz.user'
const ELDER_KEY = 'xz.elder'

function storedUser() {
  try {
    return JSON.parse(localStorage.getItem(USER_KEY) || 'null')
  } catch {
    return null
  }
}

export const session = reactive({
  token: localStorage.getItem(TOKEN_KEY) || '',
  // {id, role, name, household_id, village_id} as /auth/login answers.
  user: storedUser(),
  // A sign-in ticket from the mini-program shell, waiting to be traded for a token on the 登录 screen.
  ticket: '',
  unread: 0,
  elder: localStorage.getItem(ELDER_KEY) === '1',
})

export function signIn({ token, user }) {
  localStorage.setItem(TOKEN_KEY, token)
  session.token = token
  setUser(user)
}

export function setUser(user) {
  localStorage.setItem(USER_KEY, JSON.stringify(user))
  session.user = user
}

// The API answers the service worker keeps for reading offline (sw.js): not for the next person on this phone.
const READS_CACHE = 'xz-api'

export function forget() {
  window.caches?.delete(READS_CACHE)
  localStorage.removeItem(TOKEN_KEY)
  localStorage.removeItem(USER_KEY)
  session.token = ''
  session.user = null
  session.unread = 0
}

watchEffect(() => {
  document.documentElement.classList.toggle('elder', session.elder)
  localStorage.setItem(ELDER_KEY, session.elder ? '1' : '0')
})
