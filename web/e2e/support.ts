import { expect, request, type APIRequestContext, type APIResponse, type Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';

export const PASSWORD = 'fitsync-demo-password';
export const CLIENT = 'demo.client1@fitsync.dev';
export const OTHER_CLIENT = 'demo.client2@fitsync.dev';
export const TRAINER = 'demo.trainer1@fitsync.dev';
export const OTHER_TRAINER = 'demo.trainer2@fitsync.dev';
export const GYM = 'demo.gym@fitsync.dev';

/** Signs in through the form, as a person does; waits for the role's home. */
export async function signIn(page: Page, email: string, home: RegExp) {
  await page.goto('/signin');
  await page.getByTestId('signin-email').fill(email);
  await page.getByTestId('signin-password').fill(PASSWORD);
  await page.getByTestId('signin-submit').click();
  await expect(page).toHaveURL(home);
}

/** An API client of its own (a bearer token from the token endpoint), for what the test
 * computes independently of the page or does server-side. Its token is taken again when
 * it runs out: scripts/web.sh gives access tokens 70 s, and a test on a busy machine can
 * outlast one. */
export async function apiAs(email: string): Promise<{ api: APIRequestContext; id: string }> {
  const base = await request.newContext({ baseURL: process.env.FITSYNC_WEB_URL ?? 'http://127.0.0.1:8080' });
  const grant = async () => {
    const granted = await base.post('/api/auth/token', {
      form: { grant_type: 'password', username: email, password: PASSWORD },
    });
    expect(granted.status()).toBe(200);
    return (await granted.json()).access_token as string;
  };
  let token = await grant();
  type Options = { headers?: Record<string, string> } | undefined;
  const send = async (method: (url: string, options?: Options) => Promise<APIResponse>, url: string, options: Options) => {
    const once = () => method.call(base, url, { ...options, headers: { ...options?.headers, authorization: `Bearer ${token}` } });
    const response = await once();
    if (response.status() !== 401) return response;
    token = await grant();
    return once();
  };
  const api = new Proxy(base, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      if (['get', 'post', 'put', 'patch', 'delete', 'head', 'fetch'].includes(String(prop))) {
        return (url: string, options?: Options) => send(value, url, options);
      }
      return value.bind(target);
    },
  });
  const me = await api.get('/api/users/me');
  expect(me.status()).toBe(200);
  return { api, id: (await me.json()).id as string };
}

export async function json<T = any>(api: APIRequestContext, path: string): Promise<T> {
  const response = await api.get(path);
  expect(response.status(), path).toBe(200);
  return (await response.json()) as T;
}

/** A full-page screenshot kept as a test artifact (web/test-results/screenshots). */
export async function screenshot(page: Page, name: string) {
  mkdirSync('test-results/screenshots', { recursive: true });
  await page.screenshot({ path: `test-results/screenshots/${name}.png`, fullPage: true });
}

/** At a phone's width (375 px) the page must not scroll sideways. */
export async function atPhoneWidth(page: Page, name: string) {
  await page.setViewportSize({ width: 375, height: 812 });
  // Until the layout has settled: the app shell slides its navigation away over 200 ms
  // (a CI run caught the page mid-slide, 8 px wide); a page that stays too wide fails.
  await expect
    .poll(() => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth), {
      message: `${name}: horizontal scroll at 375 px`,
      timeout: 3_000,
    })
    .toBeLessThanOrEqual(0);
  await screenshot(page, `${name}-phone`);
  await page.setViewportSize({ width: 1280, height: 800 });
}

/** Epley's e1RM (docs/analytics.md): w · (1 + r/30) for r reps to failure; one rep to
 * failure is the weight itself. */
export function epley(weightKg: number, toFailure: number): number {
  return toFailure === 1 ? weightKg : weightKg * (1 + toFailure / 30);
}

// --- Sessions and bookings (the schedule and calendar specs) ---------------------------

export type Session = {
  id: string;
  session_type_id: string;
  kind: string;
  starts_at: string;
  ends_at: string;
  booked: number;
  status: string;
};
export type SessionDetail = Session & { attendees?: { booking_id: string; client_id: string; status: string }[] | null };
export type Booking = { id: string; session_id: string; session_type_id: string; starts_at: string; status: string };
export type Slot = { starts_at: string; ends_at: string; local_start: string };

export const HOUR = 3_600_000;

/** `YYYY-MM-DD` and `HH:MM` of an instant on the wall clock of `timeZone` (Intl, in the test). */
export function wallClock(iso: string, timeZone: string): { date: string; time: string } {
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
  return { date: `${get('year')}-${get('month')}-${get('day')}`, time: `${get('hour')}:${get('minute')}` };
}

/** A `YYYY-MM-DD` day plus `n` days. */
export function plusDays(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * 24 * HOUR).toISOString().slice(0, 10);
}

export const same = (a: string, b: string) => Date.parse(a) === Date.parse(b);

/** An upcoming 1:1 of the trainer's with a booked client, far enough ahead to move. */
export async function upcomingOneOnOne(api: APIRequestContext, trainerId: string, from: string) {
  const sessions = await json<Session[]>(api, `/api/sessions?trainer_id=${trainerId}&from=${encodeURIComponent(from)}`);
  const soon = Date.now() + 3 * HOUR;
  for (const s of sessions) {
    if (s.kind !== 'one_on_one' || s.status !== 'scheduled' || s.booked < 1 || Date.parse(s.starts_at) < soon) continue;
    const detail = await json<SessionDetail>(api, `/api/sessions/${s.id}`);
    const attendee = (detail.attendees ?? []).find((a) => a.status === 'booked');
    if (!attendee) continue;
    const booking = await json<Booking>(api, `/api/bookings/${attendee.booking_id}`);
    return { session: s, booking, others: sessions.filter((o) => o.id !== s.id && o.status === 'scheduled' && Date.parse(o.starts_at) > soon) };
  }
  return null;
}
