// Where the phone is, from the browser's geolocation (inside WeChat too), with words for what went wrong.
import { ApiError } from './api'

// {lat, lng, accuracy} of a fresh fix; an ApiError that says what to do when there is none.
export function locate({ timeout = 20000 } = {}) {
  return new Promise((resolve, reject) => {
    if (!navigator.geolocation) {
      reject(new ApiError(0, { code: 'location_unavailable', message: '这部手机拿不到位置' }))
      return
    }
    navigator.geolocation.getCurrentPosition(
      ({ coords }) => resolve({ lat: coords.latitude, lng: coords.longitude, accuracy: coords.accuracy }),
      (failure) =>
        reject(
          failure.code === failure.PERMISSION_DENIED
            ? new ApiError(0, { code: 'location_denied', message: '没有允许使用位置' })
            : new ApiError(0, { code: 'location_unavailable', message: '暂时没有定到位置' }),
        ),
      { enableHighAccuracy: true, timeout, maximumAge: 60000 },
    )
  })
}

// The position if the phone gives one soon, else null: records and visits are saved without it.
export async function locateIfQuick() {
  try {
    return await locate({ timeout: 8000 })
  } catch {
    return null
  }
}
