import { expect, test } from '@playwright/test';
import { apiAs, atPhoneWidth, GYM, json, screenshot, signIn } from './support';

type Kpis = {
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
