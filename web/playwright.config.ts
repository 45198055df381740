import { defineConfig, devices } from '@playwright/test';

// Browser tests against a running platform (scripts/web.sh starts one and sets
// FITSYNC_WEB_URL). They drive Debian's Chromium: no browser is ever downloaded.
const baseURL = process.env.FITSYNC_WEB_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  testDir: 'e2e',
  // One browser at a time: the machine runs the platform beside it.
  workers: 1,
  retries: 0,
  timeout: 90_000,
  expect: { timeout: 20_000 },
  globalTimeout: 15 * 60_000,
  forbidOnly: true,
  reporter: [['list']],
  outputDir: 'test-results/artifacts',
  use: {
    ...devices['Desktop Chrome'],
    baseURL,
    viewport: { width: 1280, height: 800 },
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.FITSYNC_CHROMIUM ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
});
