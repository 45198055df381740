import { expect, test } from '@playwright/test';
import { apiAs, atPhoneWidth, GYM, HOUR, json, plusDays, same, screenshot, signIn, wallClock, type Session } from './support';

/** The instant at which the wall clock in `timeZone` reads `date` `time`, computed here with
 * Intl (a guess corrected by the zone's offset until the wall clock matches). */
function instantOf(date: string, time: string, timeZone: string): string {
  const wanted = Date.parse(`${date}T${time}:00Z`);
  let t = wanted;
  for (let i = 0; i < 3; i++) {
    const w = wallClock(new Date(t).toISOString(), timeZone);
    t += wanted - Date.parse(`${w.date}T${w.time}:00Z`);
  }
  const w = wallClock(new Date(t).toISOString(), timeZone);
  expect(`${w.date} ${w.time}`).toBe(`${date} ${time}`);
  return new Date(t).toISOString();
}

test('a gym owner schedules a class in their zone; the API has it, the list shows it, a clash is refused', async ({ page }) => {
  const gym = await apiAs(GYM);
  const me = await json<{ gym_id: string }>(gym.api, '/api/users/me');
  const prefs = await json<{ locale?: { time_zone?: string | null } }>(gym.api, '/api/notifications/preferences');
  const timeZone = prefs.locale?.time_zone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  const members = await json<{ id: string; role: string }[]>(gym.api, `/api/gyms/${me.gym_id}/members`);
  const trainers = members.filter((m) => m.role === 'trainer').map((m) => m.id);
  expect(trainers.length).toBeGreaterThan(0);
  const trainer = trainers[0]!;

  // A room and a group class type of this run's own: the room is free whenever we pick.
  const stamp = `${Date.now()}`;
  const room = await gym.api.post('/api/sessions/rooms', {
    data: { name: `E2E room ${stamp}`, time_zone: timeZone, hours: [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, starts: '06:00', ends: '22:00' })) },
  });
  expect(room.status()).toBe(201);
  const roomId = (await room.json()).id as string;
  const typeName = `E2E class ${stamp}`;
  const created = await gym.api.post('/api/sessions/types', {
    data: { name: typeName, kind: 'group', duration_min: 45, capacity: 6, credits: 1, cancel_window_hours: 12, room_id: roomId },
  });
  expect(created.status()).toBe(201);
  const typeId = (await created.json()).id as string;

  // Ten days ahead, the first morning time at which the trainer has nothing within two hours.
  const day = plusDays(wallClock(new Date().toISOString(), timeZone).date, 10);
  const around = instantOf(day, '06:00', timeZone);
  const busy = await json<Session[]>(
    gym.api,
    `/api/sessions?trainer_id=${trainer}&from=${encodeURIComponent(new Date(Date.parse(around) - 12 * HOUR).toISOString())}&to=${encodeURIComponent(new Date(Date.parse(around) + 24 * HOUR).toISOString())}`,
  );
  const time = ['06:15', '07:15', '08:15', '09:15', '10:15', '11:15'].find((t) => {
    const at = Date.parse(instantOf(day, t, timeZone));
    return busy.every((s) => s.status !== 'scheduled' || Date.parse(s.ends_at) + 2 * HOUR <= at || Date.parse(s.starts_at) >= at + 3 * HOUR);
  });
  expect(time, 'a free morning time').toBeTruthy();
  const expected = instantOf(day, time!, timeZone);

  await signIn(page, GYM, /\/gym$/);
  await page.getByTestId('nav-setup').click();
  const form = page.getByTestId('class-form');
  const fill = async (who: string) => {
    await page.getByTestId('class-type').selectOption(typeId);
    await page.getByTestId('class-trainer').selectOption(who);
    await page.getByTestId('class-date').fill(day);
    await page.getByTestId('class-time').fill(time!);
  };
  await fill(trainer);
  await expect(page.getByTestId('class-room')).toContainText(`Room: E2E room ${stamp} · 6 places`);
  const posted = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/sessions' && r.request().method() === 'POST');
  await page.getByTestId('class-submit').click();
  expect((await posted).status()).toBe(201);

  // The API has exactly one session of the type, at the instant computed here.
  const sessions = await json<(Session & { room_id: string; capacity: number })[]>(gym.api, `/api/sessions?trainer_id=${trainer}`);
  const ours = sessions.filter((s) => s.session_type_id === typeId);
  expect(ours).toHaveLength(1);
  expect(same(ours[0]!.starts_at, expected), `${ours[0]!.starts_at} is ${expected}`).toBe(true);
  expect(ours[0]!.room_id).toBe(roomId);
  const row = page.locator(`[data-testid="class-row"][data-session="${ours[0]!.id}"]`);
  await expect(row).toContainText(typeName);
  await expect(row).toContainText(`E2E room ${stamp}`);
  await expect(row).toContainText(time!);
  await expect(row).toContainText('0/6');
  await screenshot(page, 'gym-classes-desktop');
  await atPhoneWidth(page, 'gym-classes');

  // The same room at the same time again (another trainer if the gym has one): refused, shown.
  await fill(trainers[1] ?? trainer);
  const again = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/sessions' && r.request().method() === 'POST');
  await page.getByTestId('class-submit').click();
  const refusal = await again;
  expect(refusal.status()).toBe(409);
  const detail = (await refusal.json()).detail as string;
  expect(detail).toMatch(trainers[1] ? /room is taken/ : /room is taken|trainer is not free/);
  await expect(form.getByTestId('problem')).toContainText(detail);
  const after = await json<Session[]>(gym.api, `/api/sessions?trainer_id=${trainers[1] ?? trainer}`);
  expect(after.filter((s) => s.session_type_id === typeId && s.id !== ours[0]!.id)).toHaveLength(0);
  await gym.api.dispose();
});
