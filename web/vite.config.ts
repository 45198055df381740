/// <reference types="vitest" />
import { defineConfig, type Plugin } from 'vite';
import { configDefaults } from 'vitest/config';
import react from '@vitejs/plugin-react';

// Node's environment, without the Node types in the app's compilation.
const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};

// The client dashboard's code and the chart library are loaded with the entry (as
// `modulepreload`, fetched but run only when a screen needs them): the dashboard is the
// first screen of most sessions, and a trainer's client view draws the same charts.
const preloadCharts = (): Plugin => ({
  name: 'fitsync-preload-charts',
  apply: 'build',
  transformIndexHtml: {
    order: 'post',
    handler: (_html, ctx) =>
      Object.values(ctx.bundle ?? {})
        .filter((c) => c.type === 'chunk' && (c.name === 'client' || c.name === 'uplot'))
        .map((c) => ({ tag: 'link', attrs: { rel: 'modulepreload', crossorigin: true, href: `/${c.fileName}` }, injectTo: 'head' as const })),
  },
});

export default defineConfig({
  plugins: [react(), preloadCharts()],
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
          if ((id.includes('node_modules/uplot') && !id.endsWith('.css')) || id.includes('/charts/UPlotCanvas')) return 'uplot';
          if (id.includes('node_modules/') || id.includes('vite/preload-helper') || id.includes('commonjsHelpers')) return 'vendor';
          const role = /\/src\/routes\/(client|trainer|gym)\//.exec(id)?.[1];
          if (role) return role;
          if (/\/src\/components\/(ProgressDashboard|charts\/)/.test(id)) return 'client';
          if (/\/src\/(lib|api|auth|components|notifications)\/|\/src\/routes\/Layout/.test(id)) return 'shared';
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
