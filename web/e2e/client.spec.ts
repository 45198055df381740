import { expect, request, test } from '@playwright/test';
import { apiAs, atPhoneWidth, CLIENT, epley, json, PASSWORD, screenshot, signIn } from './support';

type SetRow = { exercise: string; reps: number; weight_kg: number; rir: number | null };

test('a client sees their e1RM as the formula gives it from their own sets, and logs a set', async ({ page }) => {
  const { api, id } = await apiAs(CLIENT);
  await signIn(page, CLIENT, /\/client$/);
  await expect(page.getByTestId('user-role')).toHaveText(/client/i);

  // The exercise the dashboard shows first, and its best Epley e1RM over every set the
  // client logged, with reps to failure = reps + RIR (docs/analytics.md): the test's own
  // computation from the raw sets, not the analytics job's.
  const select = page.getByTestId('e1rm-exercise');
  const exercise = await select.inputValue();
  expect(exercise).not.toBe('');
  const sets = await json<SetRow[]>(api, `/api/workouts/sets?limit=1000`);
  const mine = sets.filter((s) => s.exercise === exercise);
  expect(mine.length).toBeGreaterThan(0);
  const best = Math.max(...mine.map((s) => epley(s.weight_kg, s.reps + (s.rir ?? 0))));
  await expect(page.getByTestId('e1rm-latest')).toHaveText(`${best.toFixed(1)} kg`);

  // The chart has an accessible name and the same points as a table.
  const chart = page.getByTestId('chart-e1rm');
  await expect(chart).toHaveAttribute('aria-label', /one-rep max/i);
  await expect(chart.locator('canvas').first()).toBeVisible();
  const series = await json<{ points: unknown[] }>(
    api,
    `/api/progress/${id}/series?metric=e1rm&exercise=${exercise}&bucket=week`,
  );
  const e1rmCard = page.getByRole('region', { name: /Estimated 1RM/ });
  await e1rmCard.getByText('Show as table').click();
  await expect(e1rmCard.getByRole('switch', { name: 'Show as table' })).toBeChecked();
  await expect(page.getByTestId('chart-table-e1rm').locator('tbody tr')).toHaveCount(series.points.length);
  await screenshot(page, 'client-dashboard-desktop');
  await atPhoneWidth(page, 'client-dashboard');

  // Today's workout: log a set of the first planned exercise, in the user's unit.
  await page.getByTestId('nav-workout').click();
  await expect(page).toHaveURL(/\/client\/workout$/);
  const start = page.getByRole('button', { name: /start/i });
  if (await start.isVisible()) await start.click();
  const form = page.locator('form[aria-label^="Log a set of"]').first();
  await expect(form).toBeVisible();
  const before = (await json<SetRow[]>(api, `/api/workouts/sets?limit=1000`)).length;
  await form.getByLabel('Reps').fill('7');
  await form.getByLabel(/Load/).fill('42.5');
  await form.getByLabel('RIR').fill('2');
  await form.getByRole('button').click();
  await expect(page.getByTestId('set-row').filter({ hasText: '42.5' }).first()).toBeVisible();
  const after = await json<SetRow[]>(api, `/api/workouts/sets?limit=1000`);
  expect(after.length).toBe(before + 1);
  expect(after.some((s) => s.reps === 7 && s.weight_kg === 42.5 && s.rir === 2)).toBe(true);
  await screenshot(page, 'client-workout-desktop');
  await api.dispose();
});

test("a client cannot open a trainer's page for another client, nor that client's data", async ({ page }) => {
  const other = await apiAs('demo.client2@fitsync.dev');
  await signIn(page, CLIENT, /\/client$/);
  // The trainer's view of a client is not a client's page: the app sends them home.
  await page.goto(`/trainer/clients/${other.id}`);
  await expect(page).toHaveURL(/\/client$/);
  await expect(page.getByRole('heading', { name: 'My progress' })).toBeVisible();
  // The API refuses the other client's data to this session (the cookie alone).
  const refused = await page.request.get(`/api/progress/${other.id}/e1rm`);
  expect(refused.status()).toBe(403);
  expect(refused.headers()['content-type']).toContain('application/problem+json');
  await other.api.dispose();
});

test('signing in works from the keyboard alone, a wrong password shows the API problem, and signing out ends the session', async ({ page }) => {
  await page.goto('/signin');
  await page.getByTestId('signin-email').focus();
  await page.keyboard.type(CLIENT);
  await page.keyboard.press('Tab');
  await page.keyboard.type('not the password');
  await page.keyboard.press('Enter');
  await expect(page.getByRole('alert')).toContainText('Wrong email or password');
  await expect(page).toHaveURL(/\/signin/);

  await page.getByTestId('signin-password').fill('');
  await page.getByTestId('signin-password').focus();
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/\/client$/);
  // The session is in cookies the page cannot read; only the CSRF token is visible.
  const visible = await page.evaluate(() => document.cookie);
  expect(visible).toContain('fitsync_csrf=');
  expect(visible).not.toContain('fitsync_access');
  expect(visible).not.toContain('fitsync_refresh');
  expect((await page.request.get('/api/users/me')).status()).toBe(200);

  // Signing out from the keyboard; the server revokes the tokens (a copy of the cookies
  // kept from before opens nothing), not just the browser forgetting them.
  const kept = await page.context().cookies();
  await page.getByTestId('nav-signout').focus();
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/\/signin/);
  expect((await page.request.get('/api/users/me')).status()).toBe(401);
  const replay = await request.newContext({
    baseURL: process.env.FITSYNC_WEB_URL ?? 'http://127.0.0.1:8080',
    storageState: { cookies: kept, origins: [] },
  });
  expect((await replay.get('/api/users/me')).status()).toBe(401);
  const csrf = kept.find((c) => c.name === 'fitsync_csrf')?.value ?? '';
  const refreshed = await replay.post('/api/auth/session/refresh', { headers: { 'X-CSRF-Token': csrf } });
  expect(refreshed.status()).toBe(401);
  await replay.dispose();
});

test('two tabs keep their one session through its refreshes (the access cookie lives 70 s here)', async ({ page }) => {
  // scripts/web.sh runs the platform with 70 s access tokens: each tab refreshes 10 s
  // after its session was last rotated, and both timers fall due together. The refresh
  // cookie is single use, so unserialised refreshes would end the session for both.
  await signIn(page, CLIENT, /\/client$/);
  const second = await page.context().newPage();
  const refreshed = (p: typeof page) =>
    p.waitForResponse((r) => r.url().endsWith('/api/auth/session/refresh') && r.request().method() === 'POST', {
      timeout: 60_000,
    });
  const opened = refreshed(second);
  await second.goto('/client');
  expect((await opened).status()).toBe(200);
  const [one, two] = await Promise.all([refreshed(page), refreshed(second)]);
  expect([one.status(), two.status()]).toEqual([200, 200]);
  for (const tab of [page, second]) {
    expect((await tab.request.get('/api/users/me')).status()).toBe(200);
    await tab.getByTestId('nav-settings').click();
    await expect(tab).toHaveURL(/\/settings$/);
  }
  await second.close();
});
