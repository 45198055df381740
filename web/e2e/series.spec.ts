import { expect, test, type Page } from '@playwright/test';
import { apiAs, atPhoneWidth, CLIENT, HOUR, json, plusDays, screenshot, signIn, TRAINER, wallClock, type Booking, type Slot } from './support';

type SessionType = { id: string; kind: string; cancel_window_hours: number };
type ClientBooking = Booking & { series_id?: string | null; free_cancellation_until: string };
const DAY = 24 * HOUR;

/** The instant a wall-clock date and time has in `timeZone`, found with Intl alone. */
function zonedInstant(date: string, time: string, timeZone: string): string {
  const wanted = Date.parse(`${date}T${time}:00Z`);
  let t = wanted;
  for (let i = 0; i < 3; i++) {
    const w = wallClock(new Date(t).toISOString(), timeZone);
    t -= Date.parse(`${w.date}T${w.time}:00Z`) - wanted;
  }
  return new Date(t).toISOString();
}

async function openBookings(page: Page) {
  await signIn(page, CLIENT, /\/client$/);
  await page.getByTestId('nav-bookings').click();
  await expect(page).toHaveURL(/\/client\/bookings$/);
}

test('a client books a 3-week series on a free slot, then cancels the series', async ({ page }) => {
  const client = await apiAs(CLIENT);
  const trainer = await apiAs(TRAINER);
  const rels = await json<{ trainer_id: string; status: string }[]>(client.api, '/api/users/relationships');
  const trainerId = rels.find((r) => r.status === 'active')?.trainer_id;
  expect(trainerId, 'the demo client has a trainer').toBe(trainer.id);
  // The screen offers the trainer's first 1:1 type.
  const types = await json<SessionType[]>(client.api, `/api/sessions/types?owner_id=${trainer.id}`);
  const type = types.find((t) => t.kind === 'one_on_one')!;
  expect(type).toBeDefined();
  const { time_zone: tz } = await json<{ time_zone: string }>(trainer.api, `/api/availability/${trainer.id}`);
  const prefs = await json<{ locale: { time_zone: string } }>(client.api, '/api/notifications/preferences');
  const clientTz = prefs.locale.time_zone;

  // A free slot the screen lists (its two weeks), outside free cancellation, whose
  // next two weekly occurrences (same local time in the trainer's zone) are free too.
  const today = wallClock(new Date().toISOString(), tz).date;
  const slots = await json<Slot[]>(
    client.api,
    `/api/availability/${trainer.id}/slots?session_type_id=${type.id}&from=${today}&to=${plusDays(today, 27)}`,
  );
  const free = new Set(slots.map((s) => new Date(s.starts_at).toISOString()));
  const weekly = (iso: string) => {
    const at = wallClock(iso, tz);
    return [0, 1, 2].map((w) => zonedInstant(plusDays(at.date, 7 * w), at.time, tz));
  };
  const first = slots
    .map((s) => new Date(s.starts_at).toISOString())
    .find(
      (iso) =>
        Date.parse(iso) > Date.now() + (type.cancel_window_hours + 3) * HOUR &&
        Date.parse(iso) < Date.now() + 12 * DAY &&
        weekly(iso).every((w) => free.has(w)),
    );
  expect(first, 'a free slot free on three weeks in a row').toBeDefined();
  const expected = weekly(first!);
  // The same local time each week, whatever the UTC offset does in between.
  for (const w of expected) expect(wallClock(w, tz).time).toBe(wallClock(first!, tz).time);
  expect(expected.map((w) => wallClock(w, tz).date)).toEqual([0, 7, 14].map((n) => plusDays(wallClock(first!, tz).date, n)));

  await openBookings(page);
  const booking = page.getByRole('region', { name: 'Book a session with your trainer' });
  await booking.getByLabel('Day').selectOption(wallClock(first!, clientTz).date);
  await booking.getByTestId('series-repeat').check();
  await booking.getByTestId('series-weeks').fill('3');
  await booking.locator(`[data-testid="free-slot"][data-starts-at="${first}"]`).click();
  const booked = page.getByTestId('series-booked');
  await expect(booked).toHaveAttribute('data-count', '3');
  await expect(page.getByTestId('problem')).toHaveCount(0);
  const seriesId = await booked.getAttribute('data-series-id');
  expect(seriesId).toBeTruthy();

  // The API has exactly three bookings of the series, a week apart in the trainer's local time.
  const mine = (await json<ClientBooking[]>(client.api, '/api/bookings')).filter((b) => b.series_id === seriesId);
  expect(mine.map((b) => new Date(b.starts_at).toISOString()).sort()).toEqual(expected);
  expect(mine.every((b) => b.status === 'booked')).toBe(true);

  // The upcoming list marks them as one series.
  const rows = page.locator(`[data-testid="booking-row"][data-series-id="${seriesId}"]`);
  await expect(rows).toHaveCount(3);
  await expect(rows.getByTestId('series-badge')).toHaveCount(3);
  await atPhoneWidth(page, 'client-series');

  await rows.first().getByTestId('cancel-series').click();
  await page.getByTestId('confirm-cancel-series').click();
  await expect(page.getByTestId('series-cancel-result')).toHaveAttribute('data-count', '3');
  await expect(rows).toHaveCount(0);
  const after = (await json<ClientBooking[]>(client.api, '/api/bookings')).filter((b) => b.series_id === seriesId);
  expect(after).toHaveLength(3);
  expect(after.map((b) => b.status)).toEqual(['cancelled', 'cancelled', 'cancelled']);
  await screenshot(page, 'client-series-cancelled');
  await client.api.dispose();
  await trainer.api.dispose();
});

test('a client checks in to a session starting within the hour; later ones offer no check-in', async ({ page }) => {
  const client = await apiAs(CLIENT);
  const trainer = await apiAs(TRAINER);
  // The seed books nothing within the next hour and a 1:1 needs two hours' notice, so
  // the trainer schedules a class 30 minutes from now and the client books a place.
  const types = await json<SessionType[]>(trainer.api, `/api/sessions/types?owner_id=${trainer.id}`);
  const classType = types.find((t) => t.kind === 'group');
  expect(classType, 'the demo trainer offers a class').toBeDefined();
  const startsAt = new Date(Math.ceil((Date.now() + 30 * 60_000) / 60_000) * 60_000).toISOString();
  const scheduled = await trainer.api.post('/api/sessions', {
    data: { session_type_id: classType!.id, trainer_id: trainer.id, starts_at: startsAt, weeks: 1 },
  });
  expect(scheduled.status(), await scheduled.text()).toBe(201);
  const [session] = (await scheduled.json()) as { id: string }[];
  const placed = await client.api.post('/api/bookings', { data: { session_id: session!.id } });
  expect(placed.status(), await placed.text()).toBe(201);
  const place = (await placed.json()) as ClientBooking;
  expect(place.status).toBe('booked');

  await openBookings(page);
  const row = page.locator(`[data-testid="booking-row"][data-booking-id="${place.id}"]`);
  await expect(row.getByTestId('booking-status')).toHaveAttribute('data-status', 'booked');
  // Every other upcoming booking starts more than an hour from now: none offers check-in.
  const listed = (await json<ClientBooking[]>(client.api, '/api/bookings')).filter(
    (b) => b.status === 'booked' && Date.parse(b.starts_at) > Date.now() + HOUR + 5 * 60_000,
  );
  expect(listed.length).toBeGreaterThan(0);
  for (const b of listed) {
    await expect(page.locator(`[data-testid="booking-row"][data-booking-id="${b.id}"]`)).toHaveCount(1);
    await expect(page.locator(`[data-testid="booking-row"][data-booking-id="${b.id}"]`).getByTestId('check-in')).toHaveCount(0);
  }
  await expect(page.getByTestId('check-in')).toHaveCount(1);

  await row.getByTestId('check-in').click();
  await expect(row.getByTestId('booking-status')).toHaveAttribute('data-status', 'checked_in');
  await expect(row.getByTestId('booking-status')).toHaveText('Checked in');
  await expect(row.getByTestId('check-in')).toHaveCount(0);
  expect((await json<ClientBooking>(client.api, `/api/bookings/${place.id}`)).status).toBe('checked_in');
  await screenshot(page, 'client-checked-in');
  await client.api.dispose();
  await trainer.api.dispose();
});
