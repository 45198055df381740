import { expect, test } from '@playwright/test';
import { apiAs, GYM, HOUR, json, plusDays, same, screenshot, signIn, TRAINER, upcomingOneOnOne, wallClock, type Booking, type Slot } from './support';

type Package = {
  id: string;
  owner_kind: string;
  owner_id: string;
  name: string;
  sessions: number;
  validity_days: number;
  price_cents: number;
  currency: string;
};

test('a gym owner creates a package through the form; it is in the table and in the API', async ({ page }) => {
  const gym = await apiAs(GYM);
  const me = await json<{ gym_id: string }>(gym.api, '/api/users/me');
  const name = `E2E package ${Date.now()}`;

  await signIn(page, GYM, /\/gym$/);
  await page.getByTestId('nav-packages').click();
  await expect(page).toHaveURL(/\/gym\/packages$/);
  // The list has loaded (a table, or the empty note for a gym that sells nothing yet).
  await expect(page.getByTestId('packages-table').or(page.getByTestId('packages-empty'))).toBeVisible();

  await page.getByTestId('package-form-name').fill(name);
  await page.getByTestId('package-form-sessions').fill('12');
  await page.getByTestId('package-form-validity').fill('45');
  await page.getByTestId('package-form-price').fill('99.50');
  await page.getByTestId('package-form-currency').fill('EUR');
  await page.getByTestId('package-form-submit').click();
  await expect(page.getByTestId('package-created')).toBeVisible();
  await expect(page.getByTestId('problem')).toHaveCount(0);

  const row = page.getByTestId('packages-table').getByTestId('package-row').filter({ hasText: name });
  await expect(row).toHaveCount(1);
  await expect(row.getByTestId('package-name')).toHaveText(name);
  await expect(row.getByTestId('package-sessions')).toHaveText('12');
  await expect(row.getByTestId('package-validity')).toHaveText('45');
  await expect(row.getByTestId('package-price')).toHaveAttribute('data-cents', '9950');
  await expect(row.getByTestId('package-price')).toHaveAttribute('data-currency', 'EUR');

  // The API has exactly this package, the gym's, with the price in cents.
  const listed = await json<Package[]>(gym.api, `/api/packages?owner_id=${me.gym_id}`);
  const created = listed.filter((p) => p.name === name);
  expect(created).toHaveLength(1);
  expect(created[0]).toMatchObject({
    owner_kind: 'gym',
    owner_id: me.gym_id,
    sessions: 12,
    validity_days: 45,
    price_cents: 9950,
    currency: 'EUR',
  });
  await expect(row).toHaveAttribute('data-package-id', created[0]!.id);
  // The table has one row per package the API lists.
  await expect(page.getByTestId('packages-table').getByTestId('package-row')).toHaveCount(listed.length);
  await screenshot(page, 'gym-packages-desktop');
  await gym.api.dispose();
});

test("a trainer reschedules a client's booking by the form to a free slot; a taken time is refused with the API's problem", async ({ page }) => {
  const trainer = await apiAs(TRAINER);
  const pageFrom = new Date().toISOString();
  const found = await upcomingOneOnOne(trainer.api, trainer.id, pageFrom);
  expect(found, 'the demo trainer has an upcoming 1:1 with a booked client').not.toBeNull();
  const { session, booking, others } = found!;

  // Free slots of the booking's session type, over two weeks of the trainer's own calendar days.
  const availability = await json<{ time_zone: string }>(trainer.api, `/api/availability/${trainer.id}`);
  const today = wallClock(new Date().toISOString(), availability.time_zone).date;
  const slots = await json<Slot[]>(
    trainer.api,
    `/api/availability/${trainer.id}/slots?session_type_id=${booking.session_type_id}&from=${today}&to=${plusDays(today, 13)}`,
  );
  // Well ahead of the minimum notice, not the booking's own time, and within the 28 days
  // the schedule screen lists.
  const free = slots.find(
    (s) =>
      Date.parse(s.starts_at) > Date.now() + 3 * HOUR &&
      !same(s.starts_at, booking.starts_at) &&
      Date.parse(s.starts_at) < Date.parse(pageFrom) + 27 * 24 * HOUR,
  );
  expect(free, 'a free slot to move to').toBeDefined();
  const target = new Date(free!.starts_at).toISOString();

  await signIn(page, TRAINER, /\/trainer$/);
  await page.getByTestId('nav-schedule').click();
  await expect(page).toHaveURL(/\/trainer\/schedule$/);
  const row = page.locator(`[data-testid="session-row"][data-session-id="${session.id}"]`);
  await expect(row).toHaveAttribute('data-starts-at', new Date(session.starts_at).toISOString());
  await row.getByTestId('session-attendees-toggle').click();
  const attendee = page.locator(`[data-testid="attendee-row"][data-booking-id="${booking.id}"]`);
  await attendee.getByTestId('reschedule-open').click();

  const form = page.getByTestId('reschedule-form');
  await expect(form).toBeVisible();
  // The form reads date and time on the wall clock of the time zone it names.
  const tz = await form.getByTestId('reschedule-tz').getAttribute('data-tz');
  expect(tz).toBeTruthy();
  const now = wallClock(session.starts_at, tz!);
  await expect(form.getByTestId('reschedule-date')).toHaveValue(now.date);
  await expect(form.getByTestId('reschedule-time')).toHaveValue(now.time);

  // A time the trainer already holds (another of their sessions) is refused: the
  // problem JSON is shown in the form, and the booking stays where it was.
  const taken = others.find((o) => !same(o.starts_at, session.starts_at));
  expect(taken, 'the demo trainer has another upcoming session').toBeTruthy();
  {
    const at = wallClock(taken!.starts_at, tz!);
    await form.getByTestId('reschedule-date').fill(at.date);
    await form.getByTestId('reschedule-time').fill(at.time);
    await expect(form.getByTestId('reschedule-instant')).toHaveAttribute('data-instant', new Date(taken!.starts_at).toISOString());
    await form.getByTestId('reschedule-submit').click();
    await expect(form.getByTestId('problem')).toBeVisible();
    await expect(form.getByTestId('problem')).not.toBeEmpty();
    const unmoved = await json<Booking>(trainer.api, `/api/bookings/${booking.id}`);
    expect(same(unmoved.starts_at, booking.starts_at)).toBe(true);
  }

  // The free slot, typed as the trainer's local date and time.
  const at = wallClock(target, tz!);
  await form.getByTestId('reschedule-date').fill(at.date);
  await form.getByTestId('reschedule-time').fill(at.time);
  await expect(form.getByTestId('reschedule-instant')).toHaveAttribute('data-instant', target);
  await form.getByTestId('reschedule-submit').click();
  await expect(page.getByTestId('rescheduled')).toHaveAttribute('data-starts-at', target);
  await expect(form).toHaveCount(0);
  // The list is refreshed: the 1:1 keeps its session and shows the new start.
  await expect(row).toHaveAttribute('data-starts-at', target);

  // The API has the booking at the new start.
  await expect
    .poll(async () => new Date((await json<Booking>(trainer.api, `/api/bookings/${booking.id}`)).starts_at).toISOString())
    .toBe(target);
  const moved = await json<Booking>(trainer.api, `/api/bookings/${booking.id}`);
  expect(moved.status).toBe('booked');
  await screenshot(page, 'trainer-reschedule-desktop');
  await trainer.api.dispose();
});
