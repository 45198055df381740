import { expect, test, type Locator, type Page } from '@playwright/test';
import { apiAs, atPhoneWidth, HOUR, json, plusDays, same, screenshot, signIn, TRAINER, upcomingOneOnOne, wallClock, type Booking, type Slot } from './support';

// The trainer reads the calendar in New York time for this test (put back after it):
// neither the browser's zone (UTC here) nor the availability's (Berlin).
const ZONE = 'America/New_York';
// Tall enough for the whole week's grid to be on screen under the mouse.
test.use({ viewport: { width: 1280, height: 1400 } });

type Prefs = { locale: { time_zone: string; units: string } } & Record<string, unknown>;

const iso = (t: string) => new Date(t).toISOString();
const minutes = (w: { time: string }) => Number(w.time.slice(0, 2)) * 60 + Number(w.time.slice(3, 5));
const daysBetween = (a: string, b: string) => Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / (24 * HOUR));
const mondayOf = (day: string) => plusDays(day, -((new Date(`${day}T00:00:00Z`).getUTCDay() + 6) % 7));

/** The instant at which the wall clock of `timeZone` reads `min` minutes past midnight of
 * `date` (Intl alone: the zone's offset there, found in two steps). */
function wallToInstant(date: string, min: number, timeZone: string): string {
  const wall = Date.parse(`${date}T00:00:00Z`) + min * 60_000;
  const offset = (t: number) => {
    const w = wallClock(new Date(t).toISOString(), timeZone);
    return Date.parse(`${w.date}T${w.time}:00Z`) - t;
  };
  return new Date(wall - offset(wall - offset(wall))).toISOString();
}

/** Presses the mouse on `item` and moves it `dx`, `dy` pixels (the button stays down). */
async function dragBy(page: Page, item: Locator, dx: number, dy: number) {
  const box = (await item.boundingBox())!;
  const x = box.x + box.width / 2;
  const y = box.y + 8;
  await page.mouse.move(x, y);
  await page.mouse.down();
  await page.mouse.move(x + dx, y + dy, { steps: 12 });
}

test('a trainer drags a booked 1:1 in the week calendar to a free slot; a taken time is refused and leaves it where it was', async ({ page }) => {
  const trainer = await apiAs(TRAINER);
  const prefs = await json<Prefs>(trainer.api, '/api/notifications/preferences');
  const putPrefs = async (p: Prefs) => expect((await trainer.api.put('/api/notifications/preferences', { data: p })).ok()).toBe(true);
  await putPrefs({ ...prefs, locale: { ...prefs.locale, time_zone: ZONE } });
  try {
    const found = await upcomingOneOnOne(trainer.api, trainer.id, new Date().toISOString());
    expect(found, 'the demo trainer has an upcoming 1:1 with a booked client').not.toBeNull();
    const { booking, others } = found!;
    const start = wallClock(booking.starts_at, ZONE);
    // The booking's week in the trainer's zone, Monday to Sunday.
    const monday = mondayOf(start.date);
    const week = Array.from({ length: 7 }, (_, i) => plusDays(monday, i));
    const inWeek = (t: string) => week.includes(wallClock(t, ZONE).date);
    const soon = Date.now() + 3 * HOUR;
    // A free slot of the booking's type that week (the slots endpoint takes dates of the
    // availability's zone: a day either side), not the booking's own time.
    const slots = await json<Slot[]>(
      trainer.api,
      `/api/availability/${trainer.id}/slots?session_type_id=${booking.session_type_id}&from=${plusDays(monday, -1)}&to=${plusDays(monday, 7)}`,
    );
    const free = slots.find((s) => inWeek(s.starts_at) && Date.parse(s.starts_at) > soon && !same(s.starts_at, booking.starts_at));
    expect(free, 'a free slot in the week of the booking').toBeDefined();
    // A time the trainer already holds: another of their sessions that week.
    const taken = others.find((o) => inWeek(o.starts_at) && !same(o.starts_at, booking.starts_at));
    expect(taken, 'another session of the trainer in that week').toBeDefined();

    await signIn(page, TRAINER, /\/trainer$/);
    await page.getByTestId('nav-schedule').click();
    await expect(page).toHaveURL(/\/trainer\/schedule$/);
    const cal = page.getByTestId('week-calendar');
    // The calendar opens on this week of the trainer's zone; on to the booking's.
    let shown = mondayOf(wallClock(new Date().toISOString(), ZONE).date);
    await expect(cal).toHaveAttribute('data-week-start', shown);
    while (shown < monday) {
      await page.getByTestId('cal-next').click();
      shown = plusDays(shown, 7);
      await expect(cal).toHaveAttribute('data-week-start', shown);
    }
    const item = cal.locator(`button[data-testid=cal-item][data-booking-id="${booking.id}"]`);
    await expect(item).toHaveAttribute('data-starts-at', iso(booking.starts_at));
    await expect(cal.locator(`[data-testid=cal-day][data-day="${start.date}"]`).locator(`[data-booking-id="${booking.id}"]`)).toHaveCount(1);

    // From the keyboard: Enter on the item opens the reschedule form, in the trainer's zone.
    await item.focus();
    await page.keyboard.press('Enter');
    const form = page.getByTestId('reschedule-form');
    await expect(form.getByTestId('reschedule-tz')).toHaveAttribute('data-tz', ZONE);
    await expect(form.getByTestId('reschedule-date')).toHaveValue(start.date);
    await expect(form.getByTestId('reschedule-time')).toHaveValue(start.time);
    await page.keyboard.press('Escape');
    await expect(form).toHaveCount(0);

    // The grid as drawn: the distance between two day columns and between two hour rows.
    const [col0, col1] = [(await cal.getByTestId('cal-day').nth(0).boundingBox())!, (await cal.getByTestId('cal-day').nth(1).boundingBox())!];
    const [hour0, hour1] = [(await cal.getByTestId('cal-hour').nth(0).boundingBox())!, (await cal.getByTestId('cal-hour').nth(1).boundingBox())!];
    const colWidth = col1.x - col0.x;
    const hourPx = hour1.y - hour0.y;
    expect(colWidth).toBeGreaterThan(20);
    expect(hourPx).toBeGreaterThan(20);
    /** Where a drag of dx, dy pixels takes the booking: whole columns are days, rows are
     * minutes, on the wall clock of the trainer's zone. */
    const landing = (dx: number, dy: number) => wallToInstant(plusDays(start.date, Math.round(dx / colWidth)), minutes(start) + Math.round((dy * 60) / hourPx), ZONE);
    /** The pixels from the booking to another start, on the grid. */
    const distance = (to: string) => {
      const w = wallClock(to, ZONE);
      return [daysBetween(start.date, w.date) * colWidth, ((minutes(w) - minutes(start)) * hourPx) / 60] as const;
    };
    const confirm = page.getByTestId('move-confirm');

    // Refused: onto the other session's time. The API's problem is shown in the dialog,
    // and the booking stays where it was, in the API and in the calendar.
    {
      const [dx, dy] = distance(taken!.starts_at);
      const to = landing(dx, dy);
      expect(same(to, taken!.starts_at)).toBe(true);
      await dragBy(page, item, dx, dy);
      await expect(cal.getByTestId('cal-ghost')).toHaveAttribute('data-starts-at', to);
      await page.mouse.up();
      await expect(confirm.getByTestId('move-from')).toHaveAttribute('data-starts-at', iso(booking.starts_at));
      await expect(confirm.getByTestId('move-to')).toHaveAttribute('data-starts-at', to);
      await confirm.getByTestId('move-submit').click();
      await expect(confirm.getByTestId('problem')).toBeVisible();
      await expect(confirm.getByTestId('problem')).not.toBeEmpty();
      expect(same((await json<Booking>(trainer.api, `/api/bookings/${booking.id}`)).starts_at, booking.starts_at)).toBe(true);
      await confirm.getByTestId('move-cancel').click();
      await expect(confirm).toHaveCount(0);
      await expect(cal.getByTestId('cal-ghost')).toHaveCount(0);
      await expect(item).toHaveAttribute('data-starts-at', iso(booking.starts_at));
      expect(same((await json<Booking>(trainer.api, `/api/bookings/${booking.id}`)).starts_at, booking.starts_at)).toBe(true);
    }

    // Onto the free slot: confirmed, the API has the booking at the start the drag's
    // distance gives in the trainer's zone.
    const [dx, dy] = distance(free!.starts_at);
    const target = landing(dx, dy);
    expect(same(target, free!.starts_at)).toBe(true);
    await dragBy(page, item, dx, dy);
    await expect(cal.getByTestId('cal-ghost')).toHaveAttribute('data-starts-at', target);
    await page.mouse.up();
    await expect(confirm.getByTestId('move-from')).toHaveAttribute('data-starts-at', iso(booking.starts_at));
    await expect(confirm.getByTestId('move-to')).toHaveAttribute('data-starts-at', target);
    await confirm.getByTestId('move-submit').click();
    await expect(page.getByTestId('calendar-moved')).toHaveAttribute('data-starts-at', target);
    await expect(confirm).toHaveCount(0);
    await expect.poll(async () => iso((await json<Booking>(trainer.api, `/api/bookings/${booking.id}`)).starts_at)).toBe(target);
    expect((await json<Booking>(trainer.api, `/api/bookings/${booking.id}`)).status).toBe('booked');
    // The calendar is fetched again: the item is in the new day's column at the new start.
    const day = wallClock(target, ZONE).date;
    await expect(cal.locator(`[data-testid=cal-day][data-day="${day}"]`).locator(`[data-booking-id="${booking.id}"]`)).toHaveAttribute('data-starts-at', target);
    await screenshot(page, 'trainer-calendar-desktop');
    // At a phone's width the calendar scrolls inside its box, not the page.
    await atPhoneWidth(page, 'trainer-calendar');
  } finally {
    await putPrefs(prefs);
    await trainer.api.dispose();
  }
});
