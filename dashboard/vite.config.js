// Builds the dashboard into dist/, which the tributary binary embeds and serves at `/`.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The map outline is fetched as a file of its own, never inlined into the JavaScript.
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 600,
  },
  server: {
    // `npm run dev` next to a running `tributary up`.
    proxy: { '/api': 'http://127.0.0.1:8080' },
  },
});
