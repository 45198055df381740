import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MantineProvider } from '@mantine/core';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { dropTarget, mondayOf, openBands, WeekCalendar } from '../routes/trainer/WeekCalendar';

describe('where a dragged item lands', () => {
  const base = { colWidth: 120, hourPx: 48, step: 30, anchors: [420, 420, 420, 420, 420, 420, 420], min: 7 * 60, max: 18 * 60, days: 7 };

  it('moves by whole columns and snaps the start to the slot grid', () => {
    // Thursday (column 3) at 10:00; 130 px right is one 120 px column (Friday); 62 px down
    // at 48 px an hour is 77.5 min: 11:17:30, whose nearest half hour is 11:30.
    expect(dropTarget({ ...base, day: 3, start: 600, dx: 130, dy: 62 })).toEqual({ day: 4, start: 690 });
    // 59 px left is less than half a column: the same day. 14 px up is 17.5 min: 09:42:30 → 09:30.
    expect(dropTarget({ ...base, day: 3, start: 600, dx: -59, dy: -14 })).toEqual({ day: 3, start: 570 });
    // Without a measured width (no layout) the day stays.
    expect(dropTarget({ ...base, colWidth: 0, day: 2, start: 600, dx: 500, dy: 0 })).toEqual({ day: 2, start: 600 });
  });

  it('uses the grid of the day it lands on, counted from its opening', () => {
    // Friday opens at 07:15: slots at :15 and :45. 11:17:30 → 11:15; 11:32 → 11:45 (13 min away, 11:15 is 17).
    const anchors = [420, 420, 420, 420, 435, 420, 420];
    expect(dropTarget({ ...base, anchors, day: 3, start: 600, dx: 120, dy: 62 })).toEqual({ day: 4, start: 675 });
    expect(dropTarget({ ...base, anchors, day: 3, start: 600, dx: 120, dy: 73.6 })).toEqual({ day: 4, start: 705 });
    // A 15-minute grid from midnight.
    expect(dropTarget({ ...base, step: 15, anchors: [0, 0, 0, 0, 0, 0, 0], day: 0, start: 480, dx: 0, dy: 30 })).toEqual({ day: 0, start: 525 });
    // A day with split hours, 07:00–12:00 and 13:10–18:00: the API steps the second span
    // from 13:10 (790), so a drop near 13:20 (800) goes to 13:10, not to 13:30 (07:00 + 13 × 30).
    const split = { ...base, spanStarts: [[420, 790], [], [], [], [], [], []] };
    expect(dropTarget({ ...split, day: 0, start: 600, dx: 0, dy: (200 / 60) * 48 })).toEqual({ day: 0, start: 790 });
    // In the morning span the grid is still from 07:00: 10:40 (640) goes to 10:30 (630).
    expect(dropTarget({ ...split, day: 0, start: 600, dx: 0, dy: (40 / 60) * 48 })).toEqual({ day: 0, start: 630 });
  });

  it('stays within the week and the hours shown, on the grid', () => {
    // Far right: Sunday (6); far down: the last start on the grid at or before `max`.
    expect(dropTarget({ ...base, day: 5, start: 600, dx: 1000, dy: 2000 })).toEqual({ day: 6, start: 1080 });
    // Far up and left: Monday at the first start on the grid at or after `min`; with a max
    // off the grid (17:50), the latest start is 17:30.
    expect(dropTarget({ ...base, max: 1070, day: 1, start: 600, dx: -1000, dy: -2000 })).toEqual({ day: 0, start: 420 });
    expect(dropTarget({ ...base, max: 1070, day: 1, start: 600, dx: 0, dy: 2000 })).toEqual({ day: 1, start: 1050 });
  });

  it('finds the Monday of a day', () => {
    expect(mondayOf('2030-12-12')).toBe('2030-12-09'); // a Thursday
    expect(mondayOf('2030-12-09')).toBe('2030-12-09');
    expect(mondayOf('2030-12-15')).toBe('2030-12-09'); // a Sunday
    expect(mondayOf('2031-01-01')).toBe('2030-12-30');
  });
});

describe('open hours in the trainer’s time zone', () => {
  const weekly = [1, 2, 3, 4, 5].map((weekday) => ({ weekday, starts: '07:00', ends: '19:00' }));
  const week = (monday: string) => Array.from({ length: 7 }, (_, i) => new Date(Date.parse(`${monday}T00:00:00Z`) + i * 86_400_000).toISOString().slice(0, 10));

  it('moves Berlin hours to another zone’s wall clock, across a clock change', () => {
    const berlin = { time_zone: 'Europe/Berlin', weekly, exceptions: [] };
    // Same zone: 07:00–19:00, Monday to Friday.
    expect(openBands(berlin, week('2030-12-09'), 'Europe/Berlin')).toEqual([0, 1, 2, 3, 4].map((day) => ({ day, start: 420, end: 1140 })));
    // In UTC in winter (CET, UTC+1): 06:00–18:00; after 29 March 2026 (CEST, UTC+2): 05:00–17:00.
    expect(openBands(berlin, week('2026-03-23'), 'UTC')[0]).toEqual({ day: 0, start: 360, end: 1080 });
    expect(openBands(berlin, week('2026-03-30'), 'UTC')[0]).toEqual({ day: 0, start: 300, end: 1020 });
    // India (UTC+5:30): 11:30–23:30.
    expect(openBands(berlin, week('2030-12-09'), 'Asia/Kolkata')[2]).toEqual({ day: 2, start: 690, end: 1410 });
  });

  it('splits hours that cross midnight in the reader’s zone', () => {
    // Auckland in December is UTC+13: Berlin's Monday 07:00–19:00 is Monday 19:00 to Tuesday 07:00.
    const bands = openBands({ time_zone: 'Europe/Berlin', weekly: [{ weekday: 1, starts: '07:00', ends: '19:00' }], exceptions: [] }, week('2030-12-09'), 'Pacific/Auckland');
    expect(bands).toEqual([
      { day: 0, start: 1140, end: 1440 },
      { day: 1, start: 0, end: 420 },
    ]);
  });

  it('applies the date’s exceptions: a day off, hours off and extra hours', () => {
    const a = {
      time_zone: 'Europe/Berlin',
      weekly,
      exceptions: [
        { date: '2030-12-10', kind: 'off' as const },
        { date: '2030-12-11', kind: 'off' as const, starts: '12:00', ends: '14:00' },
        { date: '2030-12-14', kind: 'extra' as const, starts: '09:00', ends: '12:00' },
      ],
    };
    expect(openBands(a, week('2030-12-09'), 'Europe/Berlin')).toEqual([
      { day: 0, start: 420, end: 1140 },
      { day: 2, start: 420, end: 720 },
      { day: 2, start: 840, end: 1140 },
      { day: 3, start: 420, end: 1140 },
      { day: 4, start: 420, end: 1140 },
      { day: 5, start: 540, end: 720 },
    ]);
  });
});

// --- The calendar against a fake API ----------------------------------------------------

const TRAINER = '01a23adf-21d9-70d9-8c50-34429db02e01';
const CLIENT = '01a23adf-21d9-70d9-8c50-34429db02e02';
const ONE = '01a23adf-21d9-70d9-8c50-34429db02e03';
const CLASS = '01a23adf-21d9-70d9-8c50-34429db02e04';
const BOOKING = '01a23adf-21d9-70d9-8c50-34429db02e05';
const TYPE = '01a23adf-21d9-70d9-8c50-34429db02e06';

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': status >= 400 ? 'application/problem+json' : 'application/json' },
  });
}

function session(id: string, kind: string, startsAt: string, booked: number, capacity: number) {
  const ends = new Date(Date.parse(startsAt) + 3_600_000).toISOString();
  return { id, session_type_id: TYPE, trainer_id: TRAINER, kind, starts_at: startsAt, ends_at: ends, capacity, booked, waitlisted: 0, status: 'scheduled', revision: 1 };
}

describe('the week calendar', () => {
  // Wednesday 11 December 2030, 10:00 in Berlin (CET, UTC+1).
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2030-12-11T09:00:00Z'));
  });
  afterEach(() => vi.useRealTimers());

  it('shows open hours and sessions; a drop asks to confirm old → new, shows a refusal, then moves the booking', async () => {
    // The 1:1 is on Thursday 12 December at 10:00 Berlin time.
    let oneStarts = '2030-12-12T09:00:00.000Z';
    const posted: unknown[] = [];
    const queried: string[] = [];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (input: Request | string, init?: RequestInit) => {
        const req = typeof input === 'string' ? new Request(new URL(input, window.location.origin), init) : input;
        const url = new URL(req.url);
        switch (url.pathname) {
          case '/api/workouts/preferences':
            return json({ unit: 'kg' });
          case '/api/notifications/preferences':
            return json({ locale: { time_zone: 'Europe/Berlin', units: 'metric' }, email: {}, sms: {}, push: {}, quiet_hours: null });
          case `/api/availability/${TRAINER}`:
            return json({
              trainer_id: TRAINER, time_zone: 'Europe/Berlin', exceptions: [], buffer_before_min: 0, buffer_after_min: 15, min_notice_min: 120,
              horizon_days: 60, slot_step_min: 30, revision: 1, updated_at: '2030-01-01T00:00:00Z',
              weekly: [1, 2, 3, 4, 5].map((weekday) => ({ weekday, starts: '07:00', ends: '19:00' })),
            });
          case '/api/sessions':
            queried.push(`${url.searchParams.get('from')} ${url.searchParams.get('to')}`);
            return json([session(CLASS, 'group', '2030-12-10T17:00:00.000Z', 3, 8), session(ONE, 'one_on_one', oneStarts, 1, 1)]);
          case `/api/sessions/${ONE}`:
            return json({ ...session(ONE, 'one_on_one', oneStarts, 1, 1), attendees: [{ booking_id: BOOKING, client_id: CLIENT, status: 'booked' }] });
          case `/api/users/${CLIENT}`:
            return json({ id: CLIENT, display_name: 'Ada Client', role: 'client' });
          case `/api/bookings/${BOOKING}/reschedule`: {
            const body = (await req.json()) as { starts_at: string };
            posted.push(body);
            if (posted.length === 1) {
              return json({ type: 'https://fitsync.dev/problems/conflict', title: 'Conflict', status: 409, detail: 'that slot is no longer free' }, 409);
            }
            oneStarts = body.starts_at;
            return json({
              id: BOOKING, session_id: ONE, session_type_id: TYPE, client_id: CLIENT, trainer_id: TRAINER, kind: 'one_on_one', starts_at: oneStarts,
              ends_at: oneStarts, status: 'booked', credits: 1, free_cancellation_until: oneStarts, revision: 2, created_at: oneStarts,
            });
          }
          default:
            return json({ type: 't', title: 'Not Found', status: 404 }, 404);
        }
      }),
    );
    // Day columns 100 px wide (jsdom has no layout).
    vi.spyOn(HTMLElement.prototype, 'getBoundingClientRect').mockImplementation(function (this: HTMLElement) {
      return { width: this.dataset.testid === 'cal-day' ? 100 : 0, height: 0, top: 0, left: 0, right: 0, bottom: 0, x: 0, y: 0, toJSON: () => ({}) } as DOMRect;
    });
    const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    render(
      <MantineProvider>
        <QueryClientProvider client={qc}>
          <WeekCalendar trainerId={TRAINER} />
        </QueryClientProvider>
      </MantineProvider>,
    );

    const cal = await screen.findByTestId('week-calendar');
    // The Berlin week of Monday 9 December, asked for from Berlin's midnight to the next Monday's.
    expect(cal).toHaveAttribute('data-week-start', '2030-12-09');
    await waitFor(() => expect(queried).toContain('2030-12-08T23:00:00.000Z 2030-12-15T23:00:00.000Z'));
    expect(within(cal).getAllByTestId('cal-day').map((d) => d.dataset.day)).toEqual(['2030-12-09', '2030-12-10', '2030-12-11', '2030-12-12', '2030-12-13', '2030-12-14', '2030-12-15']);
    // Rows from 07:00 (the opening) to 19:00 (the closing and the class's end).
    const hours = within(cal).getAllByTestId('cal-hour').map((h) => Number(h.dataset.hour));
    expect(hours[0]).toBe(7);
    expect(hours[hours.length - 1]).toBe(18);
    expect(within(cal).getAllByTestId('cal-open')).toHaveLength(5);

    // The class is shown but cannot be dragged; the booked 1:1 (with its client) can.
    const cls = cal.querySelector(`[data-session-id="${CLASS}"]`)!;
    expect(cls.tagName).toBe('DIV');
    expect(cls.closest('[data-testid=cal-day]')).toHaveAttribute('data-day', '2030-12-10');
    const item = await waitFor(() => {
      const el = cal.querySelector<HTMLButtonElement>(`button[data-booking-id="${BOOKING}"]`);
      expect(el).not.toBeNull();
      return el!;
    });
    expect(item.closest('[data-testid=cal-day]')).toHaveAttribute('data-day', '2030-12-12');
    await waitFor(() => expect(item).toHaveTextContent('Ada Client'));

    // Drag 120 px right (one 100 px column: Friday 13th) and 77 px down: at 48 px an hour
    // that is 96.25 min after 10:00, 11:36, whose nearest half-hour slot is 11:30 Berlin,
    // 10:30 UTC. The outline shows the proposed time while dragging.
    fireEvent.pointerDown(item, { button: 0, pointerId: 1, clientX: 50, clientY: 100 });
    fireEvent.pointerMove(item, { pointerId: 1, clientX: 110, clientY: 140 });
    fireEvent.pointerMove(item, { pointerId: 1, clientX: 170, clientY: 177 });
    const ghost = screen.getByTestId('cal-ghost');
    expect(ghost).toHaveAttribute('data-starts-at', '2030-12-13T10:30:00.000Z');
    expect(ghost.closest('[data-testid=cal-day]')).toHaveAttribute('data-day', '2030-12-13');
    fireEvent.pointerUp(item, { pointerId: 1, clientX: 170, clientY: 177 });
    fireEvent.click(item, { detail: 1 });

    // The drop asks first: old → new. Nothing was sent yet, and the form did not open.
    const confirm = await screen.findByTestId('move-confirm');
    expect(within(confirm).getByTestId('move-from')).toHaveAttribute('data-starts-at', '2030-12-12T09:00:00.000Z');
    expect(within(confirm).getByTestId('move-to')).toHaveAttribute('data-starts-at', '2030-12-13T10:30:00.000Z');
    expect(confirm).toHaveTextContent('Ada Client');
    expect(posted).toHaveLength(0);
    expect(screen.queryByTestId('reschedule-form')).toBeNull();

    // Refused: the API's problem is shown; closing leaves the booking where it was.
    fireEvent.click(within(confirm).getByTestId('move-submit'));
    const problem = await within(confirm).findByTestId('problem');
    expect(problem).toHaveTextContent('Conflict');
    expect(problem).toHaveTextContent('that slot is no longer free');
    expect(posted).toEqual([{ starts_at: '2030-12-13T10:30:00.000Z' }]);
    fireEvent.click(within(confirm).getByTestId('move-cancel'));
    await waitFor(() => expect(screen.queryByTestId('move-confirm')).toBeNull());
    expect(screen.queryByTestId('cal-ghost')).toBeNull();
    expect(item).toHaveAttribute('data-starts-at', '2030-12-12T09:00:00.000Z');

    // Again, 48 px up the same day: 09:00 Berlin, 08:00 UTC. Confirmed, it moves.
    fireEvent.pointerDown(item, { button: 0, pointerId: 2, clientX: 50, clientY: 100 });
    fireEvent.pointerMove(item, { pointerId: 2, clientX: 52, clientY: 52 });
    fireEvent.pointerUp(item, { pointerId: 2, clientX: 52, clientY: 52 });
    const again = await screen.findByTestId('move-confirm');
    expect(within(again).getByTestId('move-to')).toHaveAttribute('data-starts-at', '2030-12-12T08:00:00.000Z');
    fireEvent.click(within(again).getByTestId('move-submit'));
    expect(await screen.findByTestId('calendar-moved')).toHaveAttribute('data-starts-at', '2030-12-12T08:00:00.000Z');
    expect(posted[1]).toEqual({ starts_at: '2030-12-12T08:00:00.000Z' });
    // The week is fetched again and the 1:1 shows at its new start.
    await waitFor(() => expect(cal.querySelector(`[data-session-id="${ONE}"]`)).toHaveAttribute('data-starts-at', '2030-12-12T08:00:00.000Z'));
  });

  it('opens the reschedule form from the keyboard, and pages through weeks', async () => {
    const queried: string[] = [];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (input: Request | string, init?: RequestInit) => {
        const req = typeof input === 'string' ? new Request(new URL(input, window.location.origin), init) : input;
        const url = new URL(req.url);
        if (url.pathname === '/api/notifications/preferences') return json({ locale: { time_zone: 'America/New_York', units: 'metric' } });
        if (url.pathname === '/api/sessions') {
          queried.push(url.searchParams.get('from')!);
          return json([session(ONE, 'one_on_one', '2030-12-12T15:00:00.000Z', 1, 1)]);
        }
        if (url.pathname === `/api/sessions/${ONE}`) {
          return json({ ...session(ONE, 'one_on_one', '2030-12-12T15:00:00.000Z', 1, 1), attendees: [{ booking_id: BOOKING, client_id: CLIENT, status: 'booked' }] });
        }
        return json({ type: 't', title: 'Not Found', status: 404 }, 404);
      }),
    );
    const user = userEvent.setup();
    const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    render(
      <MantineProvider>
        <QueryClientProvider client={qc}>
          <WeekCalendar trainerId={TRAINER} />
        </QueryClientProvider>
      </MantineProvider>,
    );
    const cal = await screen.findByTestId('week-calendar');
    const item = await waitFor(() => {
      const el = cal.querySelector<HTMLButtonElement>(`button[data-booking-id="${BOOKING}"]`);
      expect(el).not.toBeNull();
      return el!;
    });
    // 15:00 UTC is 10:00 in New York (EST, UTC−5): the form opens on that wall clock.
    item.focus();
    await user.keyboard('{Enter}');
    const form = await screen.findByTestId('reschedule-form');
    expect(within(form).getByTestId('reschedule-date')).toHaveValue('2030-12-12');
    expect(within(form).getByTestId('reschedule-time')).toHaveValue('10:00');
    expect(within(form).getByTestId('reschedule-tz')).toHaveTextContent('America/New_York');
    await user.click(within(form).getByRole('button', { name: 'Close' }));
    await waitFor(() => expect(screen.queryByTestId('reschedule-form')).toBeNull());

    // Next week starts at New York's midnight of Monday 16 December (05:00 UTC); back to today.
    await user.click(screen.getByTestId('cal-next'));
    expect(cal).toHaveAttribute('data-week-start', '2030-12-16');
    await waitFor(() => expect(queried).toContain('2030-12-16T05:00:00.000Z'));
    expect(cal.querySelector(`[data-session-id="${ONE}"]`)).toBeNull();
    await user.click(screen.getByTestId('cal-today'));
    expect(cal).toHaveAttribute('data-week-start', '2030-12-09');
    expect(cal.querySelector(`[data-session-id="${ONE}"]`)).not.toBeNull();
  });
});
