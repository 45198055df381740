import { describe, expect, it, vi } from 'vitest';
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { renderApp, signInThroughForm } from './render';
import { fakeApi as sharedFakeApi, json, type Handler } from './fakeApi';
import { instantToZoned, zonedToInstant } from '../routes/trainer/zonedTime';
import { mayMarkAttendance, mayReschedule } from '../routes/trainer/Schedule';
import { formatPrice, toCents } from '../routes/gym/Packages';
import { bookingStatusLabel, inCheckInWindow, isFull } from '../routes/client/Bookings';

/** The wall clock of an instant in a zone, read by Intl alone (independent of the code under test). */
function wallClock(iso: string, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
  }).formatToParts(new Date(iso));
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}`;
}

describe('local date and time in a time zone → instant', () => {
  it('uses the offset in force on that day', () => {
    // Berlin: CET (UTC+1) in winter, CEST (UTC+2) in summer.
    expect(zonedToInstant('2030-01-15', '09:00', 'Europe/Berlin')).toBe('2030-01-15T08:00:00.000Z');
    expect(zonedToInstant('2030-07-15', '09:00', 'Europe/Berlin')).toBe('2030-07-15T07:00:00.000Z');
    // India: UTC+5:30 all year; New Zealand in December: NZDT, UTC+13 (the day before in UTC).
    expect(zonedToInstant('2026-12-03', '18:45', 'Asia/Kolkata')).toBe('2026-12-03T13:15:00.000Z');
    expect(zonedToInstant('2026-12-04', '05:00', 'Pacific/Auckland')).toBe('2026-12-03T16:00:00.000Z');
    expect(zonedToInstant('2026-12-03', '23:59', 'UTC')).toBe('2026-12-03T23:59:00.000Z');
  });

  it('takes the earlier instant of a repeated hour and moves a skipped one forward', () => {
    // 25 Oct 2026, Berlin: 03:00 CEST becomes 02:00 CET; 02:30 happens at 00:30Z and at 01:30Z.
    expect(zonedToInstant('2026-10-25', '02:30', 'Europe/Berlin')).toBe('2026-10-25T00:30:00.000Z');
    // 1 Nov 2026, New York: 01:30 EDT (UTC−4) comes first.
    expect(zonedToInstant('2026-11-01', '01:30', 'America/New_York')).toBe('2026-11-01T05:30:00.000Z');
    // 29 Mar 2026, Berlin: 02:00 CET becomes 03:00 CEST; 02:30 does not exist → 03:30 CEST.
    expect(zonedToInstant('2026-03-29', '02:30', 'Europe/Berlin')).toBe('2026-03-29T01:30:00.000Z');
  });

  it('refuses malformed input and unknown zones', () => {
    expect(zonedToInstant('2026-02-30', '09:00', 'Europe/Berlin')).toBeNull();
    expect(zonedToInstant('2026-12-03', '24:00', 'Europe/Berlin')).toBeNull();
    expect(zonedToInstant('', '09:00', 'Europe/Berlin')).toBeNull();
    expect(zonedToInstant('2026-12-03', '09:00', 'Not/AZone')).toBeNull();
  });

  it('round-trips through the wall clock Intl reads, across a year and several zones', () => {
    for (const tz of ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'America/Sao_Paulo']) {
      for (let t = Date.UTC(2026, 0, 1); t < Date.UTC(2027, 0, 1); t += 37 * 3_600_000 + 17 * 60_000) {
        const iso = new Date(t).toISOString();
        const { date, time } = instantToZoned(iso, tz);
        expect(`${date} ${time}`).toBe(wallClock(iso, tz));
        const back = zonedToInstant(date, time, tz)!;
        // Same wall clock; the same instant unless it is the second pass of a repeated hour.
        expect(wallClock(back, tz)).toBe(`${date} ${time}`);
        expect(Date.parse(back)).toBeLessThanOrEqual(t);
        expect(t - Date.parse(back)).toBeLessThanOrEqual(3_600_000);
      }
    }
  });
});

describe('booking rules on the trainer screen', () => {
  const now = new Date('2026-12-03T10:00:00Z');
  it('moves only places to come', () => {
    expect(mayReschedule({ starts_at: '2026-12-04T10:00:00Z', kind: 'one_on_one' }, { status: 'booked' }, now)).toBe(true);
    expect(mayReschedule({ starts_at: '2026-12-02T10:00:00Z', kind: 'one_on_one' }, { status: 'booked' }, now)).toBe(false);
    expect(mayReschedule({ starts_at: '2026-12-04T10:00:00Z', kind: 'one_on_one' }, { status: 'cancelled' }, now)).toBe(false);
    expect(mayReschedule({ starts_at: '2026-12-04T10:00:00Z', kind: 'group' }, { status: 'waitlisted' }, now)).toBe(true);
  });
  it('marks attendance once the session has started', () => {
    expect(mayMarkAttendance({ starts_at: '2026-12-03T09:30:00Z' }, { status: 'booked' }, now)).toBe(true);
    expect(mayMarkAttendance({ starts_at: '2026-12-03T09:30:00Z' }, { status: 'checked_in' }, now)).toBe(true);
    expect(mayMarkAttendance({ starts_at: '2026-12-03T09:30:00Z' }, { status: 'attended' }, now)).toBe(false);
    expect(mayMarkAttendance({ starts_at: '2026-12-03T10:30:00Z' }, { status: 'booked' }, now)).toBe(false);
  });
});

describe('packages and the waitlist', () => {
  it('turns a typed price into whole cents without floating-point drift', () => {
    expect(toCents('19.99')).toBe(1999);
    expect(toCents('0.29')).toBe(29); // 0.29 * 100 = 28.999… in floating point
    expect(toCents('450')).toBe(45000);
    expect(toCents('450.5')).toBe(45050);
    expect(toCents('1,5')).toBe(150);
    expect(toCents(12)).toBe(1200);
    expect(toCents('')).toBeNull();
    expect(toCents('1.999')).toBeNull();
    expect(toCents('-5')).toBeNull();
    expect(toCents('abc')).toBeNull();
    expect(formatPrice(45000, 'EUR')).toMatch(/450/);
  });
  it('labels a place in line and knows a full class', () => {
    expect(bookingStatusLabel('waitlisted', 2)).toBe('Waitlisted #2');
    expect(bookingStatusLabel('waitlisted', null)).toBe('Waitlisted');
    expect(bookingStatusLabel('late_cancelled')).toBe('Cancelled late');
    expect(isFull({ booked: 8, capacity: 8 })).toBe(true);
    expect(isFull({ booked: 7, capacity: 8 })).toBe(false);
  });
});

// --- The screens against a fake API ---------------------------------------------------

const TRAINER = '01a23adf-21d9-70d9-8c50-34429db02d01';
const GYM_USER = '01a23adf-21d9-70d9-8c50-34429db02d02';
const GYM = '01a23adf-21d9-70d9-8c50-34429db02d03';
const CLIENT = '01a23adf-21d9-70d9-8c50-34429db02d04';
const SESSION = '01a23adf-21d9-70d9-8c50-34429db02d05';
const BOOKING = '01a23adf-21d9-70d9-8c50-34429db02d06';
const TYPE = '01a23adf-21d9-70d9-8c50-34429db02d07';

function fakeApi(role: 'trainer' | 'gym' | 'client', handler: Handler) {
  const id = role === 'trainer' ? TRAINER : role === 'client' ? CLIENT : GYM_USER;
  return sharedFakeApi({ id, role, gymId: role === 'gym' ? GYM : null }, handler);
}

async function signInAndOpen(nav: string) {
  renderApp();
  await signInThroughForm();
  fireEvent.click(await screen.findByTestId(nav, {}, { timeout: 3000 }));
}

describe('trainer reschedules a booking by the form', () => {
  it('sends the local time as an instant, shows a refusal, then the move', async () => {
    // 10 Dec 2030 09:00 in Berlin (CET, UTC+1).
    let startsAt = '2030-12-10T08:00:00Z';
    const posted: unknown[] = [];
    const session = () => ({
      id: SESSION, session_type_id: TYPE, trainer_id: TRAINER, kind: 'one_on_one', starts_at: startsAt,
      ends_at: new Date(Date.parse(startsAt) + 3_600_000).toISOString(), capacity: 1, booked: 1, waitlisted: 0, status: 'scheduled', revision: 1,
    });
    vi.stubGlobal(
      'fetch',
      fakeApi('trainer', async (req, url) => {
        if (url.pathname === '/api/sessions') return json([session()]);
        if (url.pathname === `/api/sessions/${SESSION}`) return json({ ...session(), attendees: [{ booking_id: BOOKING, client_id: CLIENT, status: 'booked' }] });
        if (url.pathname === `/api/bookings/${BOOKING}/reschedule` && req.method === 'POST') {
          expect(req.headers.get('x-csrf-token')).toBe('c1');
          const body = (await req.json()) as { starts_at: string };
          posted.push(body);
          if (posted.length === 1) return json({ type: 'https://fitsync.dev/problems/conflict', title: 'Conflict', status: 409, detail: 'the slot is taken' }, 409);
          startsAt = body.starts_at;
          return json({
            id: BOOKING, session_id: SESSION, session_type_id: TYPE, client_id: CLIENT, trainer_id: TRAINER, kind: 'one_on_one',
            starts_at: startsAt, ends_at: startsAt, status: 'booked', credits: 1, free_cancellation_until: startsAt, revision: 2, created_at: startsAt,
          });
        }
        return undefined;
      }),
    );
    await signInAndOpen('nav-schedule');
    const row = await screen.findByTestId('session-row');
    fireEvent.click(within(row).getByTestId('session-attendees-toggle'));
    fireEvent.click(await screen.findByTestId('reschedule-open'));
    const date = await screen.findByTestId('reschedule-date');
    const time = screen.getByTestId('reschedule-time');
    // Prefilled with the booking's own local start.
    expect(date).toHaveValue('2030-12-10');
    expect(time).toHaveValue('09:00');
    expect(screen.getByTestId('reschedule-tz')).toHaveTextContent('Europe/Berlin');
    fireEvent.change(date, { target: { value: '2030-12-12' } });
    fireEvent.change(time, { target: { value: '11:30' } });
    fireEvent.click(screen.getByTestId('reschedule-submit'));
    // The refusal's problem JSON is shown in the form, which stays open.
    const problem = await screen.findByTestId('problem');
    expect(problem).toHaveTextContent('Conflict');
    expect(problem).toHaveTextContent('the slot is taken');
    expect(posted[0]).toEqual({ starts_at: '2030-12-12T10:30:00.000Z' });
    fireEvent.click(screen.getByTestId('reschedule-submit'));
    expect(await screen.findByTestId('rescheduled')).toHaveAttribute('data-starts-at', '2030-12-12T10:30:00.000Z');
    await waitFor(() => expect(screen.queryByTestId('reschedule-form')).toBeNull());
    // The list is fetched again and shows the new start.
    await waitFor(() => expect(screen.getByTestId('session-row')).toHaveAttribute('data-starts-at', '2030-12-12T10:30:00.000Z'));
  });
});

describe('gym owner creates a package', () => {
  it('posts the price in cents and lists the new package', async () => {
    const packages: Record<string, unknown>[] = [];
    vi.stubGlobal(
      'fetch',
      fakeApi('gym', async (req, url) => {
        if (url.pathname !== '/api/packages') return undefined;
        if (req.method === 'GET') {
          expect(url.searchParams.get('owner_id')).toBe(GYM);
          return json(packages);
        }
        const body = (await req.json()) as Record<string, unknown>;
        expect(body).toEqual({ name: '10 classes', sessions: 10, validity_days: 60, price_cents: 12990, currency: 'EUR' });
        const p = { ...body, id: 'p1', owner_kind: 'gym', owner_id: GYM, created_at: '2026-12-03T08:00:00Z' };
        packages.push(p);
        return json(p, 201);
      }),
    );
    await signInAndOpen('nav-packages');
    expect(await screen.findByTestId('packages-empty')).toBeInTheDocument();
    fireEvent.change(screen.getByTestId('package-form-name'), { target: { value: '10 classes' } });
    fireEvent.change(screen.getByTestId('package-form-sessions'), { target: { value: '10' } });
    fireEvent.change(screen.getByTestId('package-form-validity'), { target: { value: '60' } });
    fireEvent.change(screen.getByTestId('package-form-price'), { target: { value: '129.90' } });
    fireEvent.click(screen.getByTestId('package-form-submit'));
    const table = await screen.findByTestId('packages-table');
    const row = await within(table).findByTestId('package-row');
    expect(within(row).getByTestId('package-name')).toHaveTextContent('10 classes');
    expect(within(row).getByTestId('package-price')).toHaveAttribute('data-cents', '12990');
  });
});

describe('client check-in window', () => {
  // A session 10:00–11:00 UTC: check-in opens at 09:00 and closes at 11:00 (exclusive).
  const b = { starts_at: '2026-12-03T10:00:00Z', ends_at: '2026-12-03T11:00:00Z' };
  it('opens an hour before the start and closes at the end', () => {
    expect(inCheckInWindow(b, new Date('2026-12-03T08:59:59Z'))).toBe(false);
    expect(inCheckInWindow(b, new Date('2026-12-03T09:00:00Z'))).toBe(true);
    expect(inCheckInWindow(b, new Date('2026-12-03T09:45:00Z'))).toBe(true);
    expect(inCheckInWindow(b, new Date('2026-12-03T10:30:00Z'))).toBe(true);
    expect(inCheckInWindow(b, new Date('2026-12-03T10:59:59Z'))).toBe(true);
    expect(inCheckInWindow(b, new Date('2026-12-03T11:00:00Z'))).toBe(false);
    expect(inCheckInWindow(b, new Date('2026-12-02T10:00:00Z'))).toBe(false);
  });
});

function booking(id: string, startsAt: number, extra: Record<string, unknown> = {}) {
  const iso = new Date(startsAt).toISOString();
  return {
    id, session_id: `s-${id}`, session_type_id: TYPE, client_id: CLIENT, trainer_id: TRAINER, kind: 'one_on_one',
    starts_at: iso, ends_at: new Date(startsAt + 3_600_000).toISOString(), status: 'booked', credits: 1,
    free_cancellation_until: new Date(startsAt - 24 * 3_600_000).toISOString(), revision: 1, created_at: iso, series_id: null, ...extra,
  };
}

const clientBasics: Handler = (_req, url) => {
  switch (url.pathname) {
    case '/api/users/relationships':
      return json([{ trainer_id: TRAINER, client_id: CLIENT, status: 'active' }]);
    case '/api/sessions/types':
      return json([{ id: TYPE, kind: 'one_on_one', name: 'Personal', duration_min: 60, credits: 1 }]);
    case '/api/credits':
      return json({ balances: [{ balance: 9 }] });
    case '/api/sessions':
      return json([]);
    default:
      return undefined;
  }
};

describe('client checks in', () => {
  it('offers check-in only inside the window and shows the answer', async () => {
    const now = Date.now();
    const MIN = 60_000;
    let list = [
      booking('soon', now + 30 * MIN), // opens 30 min ago
      booking('running', now - 20 * MIN), // started, not ended
      booking('later', now + 61 * MIN), // opens in a minute
      booking('waiting', now + 10 * MIN, { status: 'waitlisted', kind: 'group' }),
    ];
    const checkedIn: string[] = [];
    vi.stubGlobal(
      'fetch',
      fakeApi('client', async (req, url) => {
        if (url.pathname === '/api/bookings' && req.method === 'GET') return json(list);
        const m = /^\/api\/bookings\/([^/]+)\/check-in$/.exec(url.pathname);
        if (m && req.method === 'POST') {
          checkedIn.push(m[1]!);
          list = list.map((b) => (b.id === m[1] ? { ...b, status: 'checked_in', revision: 2 } : b));
          return json(list.find((b) => b.id === m[1]));
        }
        return clientBasics(req, url);
      }),
    );
    await signInAndOpen('nav-bookings');
    const row = async (id: string) => {
      const table = await screen.findByTestId('upcoming-bookings');
      return within(table).getAllByTestId('booking-row').find((r) => r.getAttribute('data-booking-id') === id)!;
    };
    await waitFor(async () => expect(await row('soon')).toBeDefined());
    expect(within(await row('soon')).getByTestId('check-in')).toBeInTheDocument();
    expect(within(await row('running')).getByTestId('check-in')).toBeInTheDocument();
    expect(within(await row('later')).queryByTestId('check-in')).toBeNull();
    expect(within(await row('waiting')).queryByTestId('check-in')).toBeNull();

    fireEvent.click(within(await row('soon')).getByTestId('check-in'));
    await waitFor(async () => expect(within(await row('soon')).getByTestId('booking-status')).toHaveAttribute('data-status', 'checked_in'));
    expect(within(await row('soon')).getByTestId('booking-status')).toHaveTextContent('Checked in');
    expect(within(await row('soon')).queryByTestId('check-in')).toBeNull();
    expect(checkedIn).toEqual(['soon']);
  });
});

describe('client books a weekly series', () => {
  it('posts the slot with the number of weeks, shows a refusal, then lists the series', async () => {
    const slot = '2030-12-10T08:00:00Z';
    const posted: unknown[] = [];
    let list: ReturnType<typeof booking>[] = [];
    vi.stubGlobal(
      'fetch',
      fakeApi('client', async (req, url) => {
        if (url.pathname === '/api/bookings' && req.method === 'GET') return json(list);
        if (url.pathname === `/api/availability/${TRAINER}/slots`) {
          expect(url.searchParams.get('session_type_id')).toBe(TYPE);
          return json([{ starts_at: slot, ends_at: '2030-12-10T09:00:00Z', local_start: '2030-12-10T09:00:00' }]);
        }
        if (url.pathname === '/api/bookings/series' && req.method === 'POST') {
          expect(req.headers.get('x-csrf-token')).toBe('c1');
          posted.push(await req.json());
          if (posted.length === 1) {
            return json({ type: 'https://fitsync.dev/problems/conflict', title: 'Conflict', status: 409, detail: '2030-12-24: that slot is no longer free' }, 409);
          }
          const t0 = Date.parse(slot);
          list = [0, 1, 2].map((w) => booking(`w${w}`, t0 + w * 7 * 24 * 3_600_000, { series_id: 'series-1' }));
          return json(list, 201);
        }
        if (url.pathname === '/api/bookings' && req.method === 'POST') throw new Error('a single booking was posted');
        return clientBasics(req, url);
      }),
    );
    await signInAndOpen('nav-bookings');
    fireEvent.click(await screen.findByTestId('series-repeat'));
    const weeks = await screen.findByTestId('series-weeks');
    fireEvent.change(weeks, { target: { value: '3' } });
    const slotButton = await screen.findByRole('button', { name: /weekly for 3 weeks/ });
    fireEvent.click(slotButton);
    const problem = await screen.findByTestId('problem');
    expect(problem).toHaveTextContent('2030-12-24: that slot is no longer free');
    expect(posted[0]).toEqual({ trainer_id: TRAINER, session_type_id: TYPE, starts_at: slot, weeks: 3 });
    expect(screen.queryByTestId('upcoming-bookings')).toBeNull();

    fireEvent.click(slotButton);
    expect(await screen.findByTestId('series-booked')).toHaveAttribute('data-count', '3');
    expect(posted).toHaveLength(2);
    const rows = await within(await screen.findByTestId('upcoming-bookings')).findAllByTestId('booking-row');
    expect(rows).toHaveLength(3);
    for (const r of rows) {
      expect(r).toHaveAttribute('data-series-id', 'series-1');
      expect(within(r).getByTestId('series-badge')).toBeInTheDocument();
    }
  });
});
