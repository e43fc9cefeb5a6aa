import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

/**
 * The browser client. Built from the repository root with
 * `npx vite build --config web/vite.config.ts`; the signalling process serves `web/dist`.
 * `npx vite --config web/vite.config.ts` runs a dev server that proxies the API and
 * socket.io to a signalling process on 127.0.0.1:8080 (override with SPYGLASS_DEV_BACKEND).
 */
const backend = process.env['SPYGLASS_DEV_BACKEND'] ?? 'http://127.0.0.1:8080';

export default defineConfig({
    root,
    base: '/',
    publicDir: false,
    build: {
      outDir: 'dist',
      emptyOutDir: true,
      target: 'es2022',
      sourcemap: true,
      // mediasoup-client is ~100 kB minified; it lives in the lazily loaded live/watch chunk.
      // hls.js (~580 kB minified, ~175 kB gzipped) is a chunk of its own, loaded only by the
      // replay page on browsers without native HLS; the limit still catches anything else.
      chunkSizeWarningLimit: 600,
    },
    server: {
      host: '127.0.0.1',
      proxy: {
        '/api': { target: backend, changeOrigin: false },
        '/socket.io': { target: backend, ws: true, changeOrigin: false },
      },
    },
});
