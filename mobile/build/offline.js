// Two steps after Vite has written dist/, both repeatable byte for byte (CI compares the committed bundle with
// a fresh build):
// - the service worker dist/sw.js, from src/sw.js with the list of files it keeps for opening with no network;
// - a gzip twin (name.gz) of every text file that gzip makes smaller, which phone_app sends to browsers that
//   accept gzip: a village network carries a third of the bytes, and the server compresses nothing at run time.
import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { constants, gzipSync } from 'node:zlib'

const SOURCE = new URL('../src/sw.js', import.meta.url)
const TEXT = /\.(js|css|html|svg|json)$/

// `skip`: files the app needs only online (the review panel's QR scanner, 130 KB): not downloaded by every
// phone when the service worker installs; they are kept the first time they are used.
export function offlineShell({ base, skip }) {
  let outDir
  return {
    name: 'xz-offline-shell',
    apply: 'build',
    configResolved(config) {
      outDir = config.build.outDir.startsWith('/') ? config.build.outDir : join(config.root, config.build.outDir)
    },
    writeBundle(_options, bundle) {
      const names = Object.keys(bundle).sort()
      const kept = names.filter((name) => name !== 'index.html' && !skip.test(name))
      // The page under its own address: the service worker answers every screen's navigation with it.
      const precache = [base, ...kept.map((name) => base + name)]
      const version = createHash('sha256')
      for (const name of names) version.update(name).update(readFileSync(join(outDir, name)))
      const worker = readFileSync(SOURCE, 'utf8')
        .replace("'XZ_VERSION'", JSON.stringify(version.digest('hex').slice(0, 12)))
        .replace("['XZ_PRECACHE']", JSON.stringify(precache))
      writeFileSync(join(outDir, 'sw.js'), worker)
      for (const name of [...names, 'sw.js']) {
        if (!TEXT.test(name)) continue
        const path = join(outDir, name)
        const plain = readFileSync(path)
        const zipped = gzipSync(plain, { level: constants.Z_BEST_COMPRESSION })
        if (zipped.length < plain.length * 0.9) writeFileSync(`${path}.gz`, zipped)
      }
    },
  }
}
