import { expect, test, type Page } from '@playwright/test';
import { apiAs, atPhoneWidth, GYM, json, screenshot, signIn } from './support';

type Kpis = {
  from: string;
  to: string;
  bookings_by_hour: { weekday: number; hour: number; bookings: number }[];
  cohorts: { cohort: string; month_offset: number; members: number; retained: number }[];
  figures: {
    members: number;
    bookings: number;
    attended: number;
    no_shows: number;
    no_show_rate: number | null;
  };
};

test("a gym owner's KPIs are the API's for the range shown, and its members are listed", async ({ page }) => {
  const gym = await apiAs(GYM);
  const me = await json<{ gym_id: string }>(gym.api, '/api/users/me');
  await signIn(page, GYM, /\/gym$/);
  const from = await page.getByTestId('range-from').inputValue();
  const to = await page.getByTestId('range-to').inputValue();
  const kpis = await json<Kpis>(gym.api, `/api/analytics/gyms/${me.gym_id}/kpis?from=${from}&to=${to}`);
  const f = kpis.figures;
  await expect(page.getByTestId('kpi-members')).toHaveText(String(f.members));
  await expect(page.getByTestId('kpi-bookings')).toHaveText(String(f.bookings));
  await expect(page.getByTestId('kpi-attended')).toHaveText(String(f.attended));
  await expect(page.getByTestId('kpi-no-shows')).toHaveText(String(f.no_shows));
  await screenshot(page, 'gym-kpis-desktop');
  await atPhoneWidth(page, 'gym-kpis');

  // The export links download what they promise.
  const csv = await page.request.get((await page.getByTestId('export-daily-csv').getAttribute('href'))!);
  expect(csv.status()).toBe(200);
  expect(csv.headers()['content-type']).toContain('text/csv');

  await page.getByTestId('nav-members').click();
  const members = await json<unknown[]>(gym.api, `/api/gyms/${me.gym_id}/members`);
  expect(members.length).toBeGreaterThan(0);
  await expect(page.getByTestId('members-table').locator('tbody tr')).toHaveCount(members.length);
  await gym.api.dispose();
});

const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

/** The heatmap the API's counts make, computed here: ISO weekdays 1 (Monday) to 7, by every
 * hour from the earliest to the latest with any; each the sum of the API's counts for it. */
function heatmapOf(kpis: Kpis) {
  const present = kpis.bookings_by_hour.map((r) => r.hour);
  const hours: number[] = [];
  for (let h = Math.min(...present); h <= Math.max(...present); h++) hours.push(h);
  const count = (w: number, h: number) =>
    kpis.bookings_by_hour.filter((r) => r.weekday === w && r.hour === h).reduce((sum, r) => sum + r.bookings, 0);
  const rows = [1, 2, 3, 4, 5, 6, 7].map((w) => hours.map((h) => count(w, h)));
  return { hours, rows };
}

/** The heatmap, its table view and the cohort table show what the test computes from `kpis`. */
async function expectKpiCharts(page: Page, kpis: Kpis) {
  expect(kpis.bookings_by_hour.length, 'demo bookings in the range').toBeGreaterThan(0);
  expect(kpis.cohorts.length, 'demo cohorts in the range').toBeGreaterThan(0);
  const map = page.getByTestId('chart-heatmap');
  // The page's answer for this range is drawn (its name states the range the API answered for).
  await expect(map).toHaveAttribute('role', 'img');
  await expect(map).toHaveAttribute('aria-label', `Bookings by weekday and hour (the trainers' local time), ${kpis.from} to ${kpis.to}`);
  const { hours, rows } = heatmapOf(kpis);
  const cells = await map.locator('[data-count]').evaluateAll((els) =>
    els.map((e) => [e.getAttribute('data-testid'), e.getAttribute('data-count'), e.textContent]),
  );
  expect(cells).toEqual(rows.flatMap((row, w) => row.map((n, j) => [`heat-${w + 1}-${hours[j]}`, String(n), n ? String(n) : ''])));

  const toggle = page.getByTestId('card-heatmap').getByRole('switch', { name: 'Show as table' });
  await page.getByTestId('card-heatmap').getByText('Show as table').click();
  await expect(toggle).toBeChecked();
  const table = page.getByTestId('chart-table-heatmap');
  await expect(table.locator('thead th')).toHaveText(['Day', ...hours.map((h) => `${String(h).padStart(2, '0')}:00`)]);
  await expect(table.locator('tbody th')).toHaveText(WEEKDAYS);
  for (const [w, row] of rows.entries()) await expect(table.locator('tbody tr').nth(w).locator('td')).toHaveText(row.map(String));
  await atPhoneWidth(page, 'gym-kpis-heatmap-table');
  await page.getByTestId('card-heatmap').getByText('Show as table').click();
  await expect(toggle).not.toBeChecked();
  await expect(map).toBeVisible();

  // Cohorts: a row per month joined; a cell per month since, retained ÷ members in whole
  // percent, then the count.
  const months = [...new Set(kpis.cohorts.map((c) => c.cohort.slice(0, 7)))].sort();
  await expect(page.getByTestId('cohorts-table').locator('tbody tr')).toHaveCount(months.length);
  for (const c of kpis.cohorts) {
    const m = c.cohort.slice(0, 7);
    await expect(page.getByTestId(`cohort-${m}-members`)).toHaveText(String(c.members));
    await expect(page.getByTestId(`cohort-${m}-${c.month_offset}`)).toHaveText(`${((100 * c.retained) / c.members).toFixed(0)} % (${c.retained})`);
  }
  // The triangle: cells for the months the API answered for, and no others.
  const shown = await page
    .getByTestId('cohorts-table')
    .locator('td[data-testid]:not([data-testid$="-members"])')
    .evaluateAll((els) => els.map((e) => e.getAttribute('data-testid')));
  expect(shown.sort()).toEqual(kpis.cohorts.map((c) => `cohort-${c.cohort.slice(0, 7)}-${c.month_offset}`).sort());
}

test("a gym's bookings by weekday and hour and its retention cohorts are the API's for the range picked", async ({ page }) => {
  await signIn(page, GYM, /\/gym$/);
  // The API as the browser's session reads it (its cookies), for the range on the page.
  const me = await json<{ gym_id: string }>(page.request, '/api/users/me');
  const kpisFor = (from: string, to: string) => json<Kpis>(page.request, `/api/analytics/gyms/${me.gym_id}/kpis?from=${from}&to=${to}`);
  const from = await page.getByTestId('range-from').inputValue();
  const to = await page.getByTestId('range-to').inputValue();
  await expectKpiCharts(page, await kpisFor(from, to));

  // Six weeks further, by the picker: the classes booked ahead, and later months of the cohorts.
  const later = new Date(Date.parse(`${to}T00:00:00Z`) + 42 * 86_400_000).toISOString().slice(0, 10);
  await page.getByTestId('range-to').fill(later);
  const kpis = await kpisFor(from, later);
  expect(kpis.to).toBe(later);
  await expectKpiCharts(page, kpis);
  await screenshot(page, 'gym-kpis-heatmap-cohorts');
  await atPhoneWidth(page, 'gym-kpis-heatmap-cohorts');
});
