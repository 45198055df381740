import { vi } from 'vitest';

/** A JSON answer (problem JSON from 400 up). */
export function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': status >= 400 ? 'application/problem+json' : 'application/json' },
  });
}

/** A screen's own answers; `undefined` leaves the request to the shell's defaults. */
export type Handler = (req: Request, url: URL) => Promise<Response | undefined> | Response | undefined;

export interface FakeUser {
  id: string;
  role: 'client' | 'trainer' | 'gym';
  gymId?: string | null;
  /** What the preferences say (default Europe/Berlin). */
  timeZone?: string;
}

/**
 * A `fetch` for component tests: the cookie session sign-in (any password) as `user`,
 * 401 before it, then `handler`'s answers, then the shell's reads (me, preferences, an
 * empty inbox), and a 404 problem for anything else.
 */
export function fakeApi(user: FakeUser, handler: Handler) {
  const gymId = user.gymId ?? null;
  let signedIn = false;
  return vi.fn(async (input: Request | string, init?: RequestInit) => {
    const req = typeof input === 'string' ? new Request(new URL(input, window.location.origin), init) : input;
    const url = new URL(req.url);
    if (url.pathname === '/api/auth/session' && req.method === 'POST') {
      signedIn = true;
      document.cookie = 'fitsync_csrf=c1; path=/';
      return json({ user_id: user.id, role: user.role, gym_id: gymId, csrf_token: 'c1', expires_in: 900 });
    }
    if (!signedIn) return json({ type: 't', title: 'Unauthorized', status: 401 }, 401);
    const own = await handler(req, url);
    if (own) return own;
    switch (url.pathname) {
      case '/api/users/me':
        return json({ id: user.id, email: 'x@x', role: user.role, display_name: 'Demo', email_verified: true, gym_id: gymId, created_at: '2026-01-01T00:00:00Z' });
      case '/api/workouts/preferences':
        return json({ unit: 'kg' });
      case '/api/notifications/preferences':
        return json({ locale: { time_zone: user.timeZone ?? 'Europe/Berlin', units: 'metric' }, email: {}, sms: {}, push: {}, quiet_hours: null });
      case '/api/notifications/inbox':
        return json([]);
      case '/api/notifications/inbox/unread':
        return json({ unread: 0 });
      default:
        return json({ type: 't', title: 'Not Found', status: 404 }, 404);
    }
  });
}
