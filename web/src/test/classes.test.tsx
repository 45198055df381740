import { expect, it } from 'vitest';
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { renderApp, signInThroughForm } from './render';
import { fakeApi, json } from './fakeApi';

const OWNER = '01a23adf-21d9-70d9-8c50-34429db02f01';
const GYM = '01a23adf-21d9-70d9-8c50-34429db02f02';
const TRAINER = '01a23adf-21d9-70d9-8c50-34429db02f03';
const OTHER_TRAINER = '01a23adf-21d9-70d9-8c50-34429db02f04';
const ROOM = '01a23adf-21d9-70d9-8c50-34429db02f05';
const YOGA = '01a23adf-21d9-70d9-8c50-34429db02f06';
const ONE_ON_ONE = '01a23adf-21d9-70d9-8c50-34429db02f07';
const WAIT = { timeout: 5000 };

const type = (id: string, name: string, kind: string, capacity: number, room_id: string | null) => ({
  id, owner_kind: 'gym', owner_id: GYM, name, kind, duration_min: 60, capacity, credits: 1, cancel_window_hours: 12, room_id,
});

it('schedules a class at the local time in the owner’s zone, shows a refusal, then lists it', async () => {
  // 18:30 on 15 January 2027 in Berlin (winter, UTC+1) is 17:30 UTC, computed here.
  const instant = new Date(Date.UTC(2027, 0, 15, 18 - 1, 30)).toISOString();
  const bodies: unknown[] = [];
  const created: unknown[] = [];
  let refuse = true;
  const session = {
    id: 's1', session_type_id: YOGA, trainer_id: OTHER_TRAINER, room_id: ROOM, kind: 'group', starts_at: instant,
    ends_at: new Date(Date.parse(instant) + 3_600_000).toISOString(), capacity: 12, booked: 3, waitlisted: 0, status: 'scheduled', revision: 1,
  };
  globalThis.fetch = fakeApi({ id: OWNER, role: 'gym', gymId: GYM, timeZone: 'Europe/Berlin' }, async (req, url) => {
    if (url.pathname === '/api/sessions/types') return json([type(ONE_ON_ONE, 'PT', 'one_on_one', 1, null), type(YOGA, 'Yoga', 'group', 12, ROOM)]);
    if (url.pathname === '/api/sessions/rooms') return json([{ id: ROOM, gym_id: GYM, name: 'Studio A', time_zone: 'Europe/Berlin', hours: [] }]);
    if (url.pathname === `/api/gyms/${GYM}/members`)
      return json([
        { id: OWNER, display_name: 'Owner', role: 'gym' },
        { id: TRAINER, display_name: 'Tom', role: 'trainer' },
        { id: OTHER_TRAINER, display_name: 'Uma', role: 'trainer' },
      ]);
    if (url.pathname === '/api/sessions' && req.method === 'POST') {
      bodies.push(await req.json());
      if (refuse) {
        refuse = false;
        return json({ type: 'about:blank', title: 'Conflict', status: 409, detail: 'the room is taken then' }, 409);
      }
      created.push(session);
      return json([session], 201);
    }
    if (url.pathname === '/api/sessions' && req.method === 'GET')
      return json(url.searchParams.get('trainer_id') === OTHER_TRAINER ? created : []);
    return undefined;
  }) as typeof fetch;
  renderApp();
  await signInThroughForm('g@x');
  fireEvent.click(await screen.findByTestId('nav-setup', {}, WAIT));
  const form = await screen.findByTestId('class-form', {}, WAIT);
  // Only the gym's group types are offered; the room and places are the type's.
  await waitFor(() => expect([...screen.getByTestId<HTMLSelectElement>('class-type').options].map((o) => o.text)).toEqual(['Yoga']), WAIT);
  expect(screen.getByTestId('class-room')).toHaveTextContent('Room: Studio A · 12 places');
  await waitFor(() => expect(screen.getByTestId<HTMLSelectElement>('class-trainer').options).toHaveLength(2), WAIT);
  expect(await screen.findByText('No upcoming classes.', {}, WAIT)).toBeInTheDocument();
  fireEvent.change(screen.getByTestId('class-trainer'), { target: { value: OTHER_TRAINER } });
  fireEvent.change(screen.getByTestId('class-date'), { target: { value: '2027-01-15' } });
  fireEvent.change(screen.getByTestId('class-time'), { target: { value: '18:30' } });
  fireEvent.click(screen.getByTestId('class-submit'));

  expect(await within(form).findByTestId('problem', {}, WAIT)).toHaveTextContent('the room is taken then');
  expect(bodies).toEqual([{ session_type_id: YOGA, trainer_id: OTHER_TRAINER, starts_at: instant }]);
  expect(screen.queryByTestId('class-row')).toBeNull();

  fireEvent.click(screen.getByTestId('class-submit'));
  const row = await screen.findByTestId('class-row', {}, WAIT);
  expect(bodies).toHaveLength(2);
  expect(bodies[1]).toEqual(bodies[0]);
  expect(within(form).queryByTestId('problem')).toBeNull();
  const cells = [...row.querySelectorAll('td')].map((td) => td.textContent);
  const shown = new Intl.DateTimeFormat(undefined, {
    timeZone: 'Europe/Berlin', weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit',
  }).format(new Date(instant));
  expect(cells).toEqual([shown, 'Yoga', 'Studio A', '3/12']);
  expect(shown).toMatch(/18:30|6:30/);
}, 20_000);
