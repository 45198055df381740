import { expect, test, type Page } from '@playwright/test';
import { mkdirSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { CLIENT, signIn } from './support';

// Measurements, not assertions on time (docs/benchmarks.md): what Chromium loads for the
// first route, gzipped, and the time to the first chart drawn on the client dashboard,
// beside a baseline from the same run (the same page's DOMContentLoaded).
const chartDrawn = async (p: Page) => {
  await p.waitForFunction(() => performance.getEntriesByName('fitsync:first-chart-drawn').length > 0, null, {
    timeout: 30_000,
  });
  return p.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
    return {
      chartMs: performance.getEntriesByName('fitsync:first-chart-drawn')[0]!.startTime,
      domContentLoadedMs: nav.domContentLoadedEventEnd,
    };
  });
};

test('first-route JavaScript and time to the first chart, measured in Chromium', async ({ page, browser }) => {
  const loaded = new Set<string>();
  page.on('request', (request) => {
    if (request.resourceType() === 'script') loaded.add(request.url());
  });
  await page.goto('/signin');
  await expect(page.getByTestId('signin-submit')).toBeVisible();
  await page.waitForLoadState('networkidle');
  // Every script the sign-in route loaded, fetched again and gzipped.
  const scripts = new Map<string, number>();
  for (const url of loaded) {
    const body = await (await page.request.get(url)).body();
    scripts.set(url, gzipSync(body, { level: 9 }).length);
  }
  const firstRouteKb = [...scripts.values()].reduce((a, b) => a + b, 0) / 1024;

  await signIn(page, CLIENT, /\/client$/);
  // The dashboard's first reads, recorded for the next load's boot.js (src/api/boot.ts),
  // as a returning user's browser has them.
  await page.waitForFunction(() => (localStorage.getItem('fitsync-boot-reads:/client') ?? '').includes('metric=e1rm'));
  // Once with an empty cache (a new browser context with the same session and storage):
  // every file downloaded, as on a returning user's first visit after a deployment.
  const fresh = await browser.newContext({ storageState: await page.context().storageState() });
  const coldPage = await fresh.newPage();
  const apiReads: string[] = [];
  coldPage.on('request', (request) => {
    if (new URL(request.url()).pathname.startsWith('/api/')) apiReads.push(request.url());
  });
  const recorded: string[] = JSON.parse(
    (await page.evaluate(() => localStorage.getItem('fitsync-boot-reads:/client'))) ?? '[]',
  );
  await coldPage.goto(new URL('/client', page.url()).toString());
  const cold = await chartDrawn(coldPage);
  // Where the empty-cache load spends its time: each request's start and end.
  const waterfall = await coldPage.evaluate(() =>
    performance
      .getEntriesByType('resource')
      .map((r) => `${Math.round(r.startTime)}-${Math.round((r as PerformanceResourceTiming).responseEnd)} ${r.name.replace(location.origin, '')}`),
  );
  // boot.js started the recorded reads before the app ran, and the app took their
  // answers instead of reading again: each went out once.
  const origin = new URL(page.url()).origin;
  for (const read of ['/api/users/me', ...recorded]) {
    expect(apiReads.filter((u) => u === origin + read), read).toHaveLength(1);
  }
  // boot.js ran, and the app took every answer it started (none is left over) …
  const left = await coldPage.evaluate(() => {
    const boot = (window as unknown as { __fitsyncBoot?: { started: Record<string, unknown> } }).__fitsyncBoot;
    return boot && Object.keys(boot.started);
  });
  expect(left).toEqual([]);
  // … and, the access cookie having most of its life left, the load refreshed nothing.
  expect(apiReads.filter((u) => u.includes('/api/auth/session/refresh'))).toEqual([]);
  await fresh.close();
  const runs: { chartMs: number; domContentLoadedMs: number }[] = [];
  for (let i = 0; i < 5; i++) {
    await page.goto('/client');
    runs.push(await chartDrawn(page));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const chartMs = median(runs.map((r) => r.chartMs));
  const dclMs = median(runs.map((r) => r.domContentLoadedMs));
  const result = {
    boot_reads: recorded.length + 1,
    first_route_js_gzip_kb: Number(firstRouteKb.toFixed(1)),
    first_route_scripts: scripts.size,
    first_chart_cold_cache_ms: Math.round(cold.chartMs),
    dom_content_loaded_cold_cache_ms: Math.round(cold.domContentLoadedMs),
    first_chart_ms_median: Math.round(chartMs),
    dom_content_loaded_ms_median: Math.round(dclMs),
    chart_over_dom_content_loaded: Number((chartMs / dclMs).toFixed(2)),
    runs,
    cold_waterfall: waterfall,
  };
  mkdirSync('test-results', { recursive: true });
  writeFileSync('test-results/perf.json', JSON.stringify(result, null, 2));
  console.log(`web perf: ${JSON.stringify({ ...result, runs: undefined, cold_waterfall: undefined })}`);
  console.log(`web perf, empty cache (ms from navigation start):\n  ${waterfall.join('\n  ')}`);
  expect(scripts.size).toBeGreaterThan(0);
  expect(runs).toHaveLength(5);
});
