import { expect, test } from '@playwright/test';
import { apiAs, atPhoneWidth, json, plusDays, screenshot, signIn, TRAINER, wallClock, type Slot } from './support';

type ProgramSlot = { exercise: string; sets: number } & Record<string, unknown>;
type Document = { name: string; description?: string | null; weeks: { days: { offset: number; name: string; slots: ProgramSlot[] }[] }[] };
type Template = { id: string; owner_id: string; version: number; shared_gym_id?: string | null; document: Document };
type Exception = { date: string; kind: 'off' | 'extra'; starts?: string | null; ends?: string | null };
type Availability = { time_zone: string; weekly: { weekday: number; starts: string; ends: string }[]; exceptions: Exception[] } & Record<string, unknown>;

const PROGRAM = 'Demo: 12 weeks of strength';

test("a trainer edits the demo program's name and one exercise's sets; the API has the next version with them", async ({ page }) => {
  const trainer = await apiAs(TRAINER);
  const listed = await json<{ id: string; name: string; owner_id: string }[]>(trainer.api, '/api/programs');
  const summary = listed.find((p) => p.name === PROGRAM && p.owner_id === trainer.id);
  expect(summary, 'the demo trainer owns the seeded program').toBeDefined();
  const before = await json<Template>(trainer.api, `/api/programs/${summary!.id}`);
  const name = `Strength block ${Date.now()}`;
  const firstSlot = before.document.weeks[0]!.days[0]!.slots[0]!;
  const sets = firstSlot.sets + 2;
  // What the API should hold afterwards: the same program, renamed, with the first day's
  // first exercise at `sets` sets in every week (the builder repeats its week).
  const expected: Document = structuredClone(before.document);
  expected.name = name;
  for (const w of expected.weeks) w.days[0]!.slots[0]!.sets = sets;
  expect(before.document.weeks.every((w) => JSON.stringify(w) === JSON.stringify(before.document.weeks[0]))).toBe(true);

  try {
    await signIn(page, TRAINER, /\/trainer$/);
    await page.getByTestId('nav-programs').first().click();
    await expect(page).toHaveURL(/\/trainer\/programs$/);
    const row = page.locator(`[data-testid=program-row][data-program-id="${before.id}"]`);
    await expect(row).toHaveAttribute('data-version', String(before.version));
    await row.getByTestId('program-edit').click();

    const builder = page.getByTestId('program-builder');
    await expect(builder).toContainText(`Edit program (version ${before.version})`);
    await expect(builder.getByTestId('program-name')).toHaveValue(PROGRAM);
    await expect(builder.getByTestId('program-weeks')).toHaveValue(String(before.document.weeks.length));
    await expect(builder.getByTestId('builder-day')).toHaveCount(before.document.weeks[0]!.days.length);
    const slot = builder.getByTestId('builder-day').first().getByTestId('builder-slot').first();
    await expect(slot).toHaveAttribute('data-exercise', firstSlot.exercise);
    await expect(slot.getByTestId('slot-sets')).toHaveValue(String(firstSlot.sets));
    await atPhoneWidth(page, 'trainer-program-edit');

    await builder.getByTestId('program-name').fill(name);
    await slot.getByTestId('slot-sets').fill(String(sets));
    await builder.getByTestId('save-program').click();
    const saved = page.getByTestId('program-saved');
    await expect(saved).toHaveAttribute('data-version', String(before.version + 1));
    await expect(saved).toContainText(`version ${before.version + 1}`);
    await expect(page.getByTestId('problem')).toHaveCount(0);
    await expect(builder).toHaveCount(0);
    // The list is fetched again: the new name and version.
    await expect(row).toHaveAttribute('data-version', String(before.version + 1));
    await expect(row.getByTestId('program-name-shown')).toHaveText(name);
    await screenshot(page, 'trainer-program-edited-desktop');

    const after = await json<Template>(trainer.api, `/api/programs/${before.id}`);
    expect(after.version).toBe(before.version + 1);
    expect(after.document.name).toBe(name);
    expect(after.document.weeks.map((w) => w.days[0]!.slots[0]!.sets)).toEqual(before.document.weeks.map(() => sets));
    // Nothing else changed (loads, rest, progression, the other days).
    expect(after.document).toEqual(expected);
    expect(after.shared_gym_id ?? null).toBe(before.shared_gym_id ?? null);
  } finally {
    // The seed and the other tests know the program by its name and contents.
    const restored = await trainer.api.put(`/api/programs/${before.id}`, {
      data: { document: before.document, shared_gym_id: before.shared_gym_id ?? null },
    });
    expect(restored.status()).toBe(200);
    await trainer.api.dispose();
  }
});

test('a trainer adds a day off through the form: no free slots that day, the day before keeps its own; removing it brings them back', async ({ page }) => {
  const trainer = await apiAs(TRAINER);
  const original = await json<Availability>(trainer.api, `/api/availability/${trainer.id}`);
  const types = await json<{ id: string; kind: string }[]>(trainer.api, `/api/sessions/types?owner_id=${trainer.id}`);
  const oneOnOne = types.find((t) => t.kind === 'one_on_one');
  expect(oneOnOne, 'the demo trainer offers a 1:1').toBeDefined();
  const slotsOn = (day: string) => json<Slot[]>(trainer.api, `/api/availability/${trainer.id}/slots?session_type_id=${oneOnOne!.id}&from=${day}&to=${day}`);
  const tz = original.time_zone;
  const today = wallClock(new Date().toISOString(), tz).date;
  // ISO weekday of a date (1 = Monday).
  const weekday = (day: string) => ((new Date(`${day}T00:00:00Z`).getUTCDay() + 6) % 7) + 1;
  const open = (day: string) => original.weekly.some((h) => h.weekday === weekday(day));
  // 20 days ahead or the first day after with weekly hours, as has the day before.
  let day = plusDays(today, 20);
  while (!(open(day) && open(plusDays(day, -1)))) day = plusDays(day, 1);
  const dayBefore = plusDays(day, -1);
  expect(original.exceptions.filter((e) => e.date === day)).toEqual([]);
  expect((await slotsOn(day)).length, `free slots on ${day} before the day off`).toBeGreaterThan(0);
  const freeBefore = (await slotsOn(dayBefore)).length;
  expect(freeBefore, `free slots on ${dayBefore}`).toBeGreaterThan(0);

  try {
    await signIn(page, TRAINER, /\/trainer$/);
    await page.getByTestId('nav-schedule').first().click();
    await expect(page).toHaveURL(/\/trainer\/schedule$/);
    const box = page.getByTestId('exceptions');
    await expect(box).toContainText(tz);
    await box.getByTestId('exception-date').fill(day);
    await box.getByTestId('exception-kind').selectOption('day_off');
    await expect(box.getByTestId('exception-starts')).toHaveCount(0);
    await box.getByTestId('exception-add').click();
    const row = box.locator(`[data-testid=exception-row][data-date="${day}"]`);
    await expect(row).toHaveAttribute('data-kind', 'off');
    await expect(row).toHaveAttribute('data-starts', '');
    await expect(page.getByTestId('problem')).toHaveCount(0);
    await atPhoneWidth(page, 'trainer-availability-exceptions');

    // The API: the day off, whole, beside the exceptions there were; the weekly hours as they were.
    const withOff = await json<Availability>(trainer.api, `/api/availability/${trainer.id}`);
    expect(withOff.exceptions.filter((e) => e.date === day).map((e) => [e.kind, e.starts ?? null, e.ends ?? null])).toEqual([['off', null, null]]);
    expect(withOff.exceptions).toHaveLength(original.exceptions.length + 1);
    expect(withOff.weekly).toEqual(original.weekly);
    expect(withOff.time_zone).toBe(tz);
    expect(await slotsOn(day)).toEqual([]);
    expect((await slotsOn(dayBefore)).length).toBe(freeBefore);

    await row.getByTestId('exception-remove').click();
    await expect(row).toHaveCount(0);
    await expect(page.getByTestId('problem')).toHaveCount(0);
    const removed = await json<Availability>(trainer.api, `/api/availability/${trainer.id}`);
    expect(removed.exceptions).toEqual(original.exceptions);
    expect(removed.weekly).toEqual(original.weekly);
    expect((await slotsOn(day)).length).toBeGreaterThan(0);
  } finally {
    // Other tests book and move 1:1s in these hours: put back the exceptions there were.
    const now = await json<Availability>(trainer.api, `/api/availability/${trainer.id}`);
    if (JSON.stringify(now.exceptions) !== JSON.stringify(original.exceptions)) {
      const { trainer_id: _t, revision: _r, updated_at: _u, ...body } = original;
      expect((await trainer.api.put(`/api/availability/${trainer.id}`, { data: body })).status()).toBe(200);
    }
    await trainer.api.dispose();
  }
});
