// Photos are shrunk on the phone before anything is sent: a phone camera's 4000-pixel, 5 MB picture becomes a
// JPEG of at most 1600 pixels on its long side, a few hundred KB, which a village uplink can carry.
import { ApiError } from './api'

const LONG_SIDE = 1600
const QUALITY = 0.85

// The picture of a file, turned the way the camera held it (browsers apply the EXIF orientation).
function pictureOf(file) {
  return new Promise((resolve, reject) => {
    const image = new Image()
    const url = URL.createObjectURL(file)
    image.onload = () => {
      URL.revokeObjectURL(url)
      resolve(image)
    }
    image.onerror = () => {
      URL.revokeObjectURL(url)
      reject(new ApiError(0, { code: 'unsupported_image', message: '这张照片打不开' }))
    }
    image.src = url
  })
}

// A JPEG Blob of `file`, at most LONG_SIDE pixels on its long side.
export async function shrink(file) {
  const image = await pictureOf(file)
  const scale = Math.min(1, LONG_SIDE / Math.max(image.naturalWidth, image.naturalHeight))
  const canvas = document.createElement('canvas')
  canvas.width = Math.round(image.naturalWidth * scale)
  canvas.height = Math.round(image.naturalHeight * scale)
  const context = canvas.getContext('2d')
  // A transparent PNG would turn black in a JPEG: paint it on white.
  context.fillStyle = '#fff'
  context.fillRect(0, 0, canvas.width, canvas.height)
  context.drawImage(image, 0, 0, canvas.width, canvas.height)
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', QUALITY))
  if (!blob) throw new ApiError(0, { code: 'unsupported_image', message: '这张照片没能压缩' })
  return blob
}
