/// <reference types="vitest" />
import { defineConfig } from 'vite';
import { configDefaults } from 'vitest/config';
import react from '@vitejs/plugin-react';

// Node's environment, without the Node types in the app's compilation.
const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      '/api': { target: 'http://127.0.0.1:8080', changeOrigin: false },
    },
  },
  preview: {
    proxy: {
      '/api': { target: 'http://127.0.0.1:8080', changeOrigin: false },
    },
  },
  build: {
    target: 'es2020',
    sourcemap: false,
    rollupOptions: {
      output: {
        manualChunks(id) {
          if (id.includes('node_modules/uplot')) return 'uplot';
          return undefined;
        },
      },
    },
  },
  test: {
    environment: 'jsdom',
    globals: true,
    setupFiles: ['./src/test/setup.ts'],
    css: false,
    // Component tests only: e2e/ holds the browser tests (Playwright).
    include: ['src/**/*.test.{ts,tsx}'],
    // The live smoke test needs a running platform (LIVE_API): scripts/web.sh runs it
    // with `npm run test:live` once it has started one.
    exclude: env.LIVE_API ? configDefaults.exclude : [...configDefaults.exclude, 'src/test/live.smoke.test.tsx'],
  },
});
