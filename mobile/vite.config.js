// The phone app's build: Vue 3 + Vant 4, served by Flask at /m/ from the committed dist/ folder.
import { fileURLToPath } from 'node:url'
import { VantResolver } from '@vant/auto-import-resolver'
import vue from '@vitejs/plugin-vue'
import Components from 'unplugin-vue-components/vite'
import { defineConfig } from 'vite'
import { offlineShell } from './build/offline.js'

const OUR_ICONS = fileURLToPath(new URL('./src/styles/vant-icons.css', import.meta.url))

// Vant's icon stylesheet embeds a 28 KB icon font and names a CDN as its fallback. The few icons Vant's
// own components draw (arrows, tick, cross, photo) come from our small stylesheet instead.
function vantIconsWithoutFont() {
  return {
    name: 'xz-vant-icons-without-font',
    enforce: 'pre',
    resolveId(source, importer) {
      if (importer?.includes('/node_modules/vant/') && source.endsWith('/icon/index.css')) return OUR_ICONS
      return null
    },
  }
}

export default defineConfig({
  base: '/m/',
  plugins: [
    vue(),
    // Vant components and their styles imported on demand, as the templates name them.
    Components({ resolvers: [VantResolver()], dts: false }),
    vantIconsWithoutFont(),
    offlineShell({ base: '/m/', skip: /QrScanner/ }),
  ],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // WeChat's in-app browser on older Android phones: keep the syntax they understand.
    target: ['chrome87', 'safari14'],
    rollupOptions: {
      output: {
        // Vue and its router change only with an upgrade: their own file stays cached across our releases.
        manualChunks: (id) => (/\/node_modules\/(@vue|vue|vue-router)\//.test(id) ? 'vue' : undefined),
      },
    },
  },
})
