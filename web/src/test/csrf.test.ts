import { beforeEach, describe, expect, it, vi } from 'vitest';
import { api } from '../api/client';
import { readCookie } from '../api/csrf';

function clearCookies() {
  for (const c of document.cookie.split(';')) {
    const name = c.split('=')[0]?.trim();
    if (name) document.cookie = `${name}=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/`;
  }
}

describe('CSRF header', () => {
  beforeEach(() => {
    clearCookies();
    document.cookie = 'other=1; path=/';
    document.cookie = 'fitsync_csrf=tok-123; path=/';
  });

  it('reads the cookie', () => {
    expect(readCookie('fitsync_csrf')).toBe('tok-123');
    expect(readCookie('fitsync_csrf', 'a=1; fitsync_csrf=x%20y')).toBe('x y');
    expect(readCookie('missing')).toBeNull();
  });

  it('is sent on POST/PUT/DELETE and not on GET', async () => {
    const seen: Request[] = [];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (req: Request) => {
        seen.push(req);
        return new Response('{}', { status: 200, headers: { 'Content-Type': 'application/json' } });
      }),
    );
    await api.GET('/api/users/me');
    await api.POST('/api/workouts/sets', { body: { exercise: 'barbell-squat', reps: 5, weight: 100, unit: 'kg' } });
    await api.PUT('/api/workouts/preferences', { body: { unit: 'lb' } });
    await api.DELETE('/api/workouts/sets/{id}', { params: { path: { id: '00000000-0000-0000-0000-000000000000' } } });
    expect(seen.map((r) => r.method)).toEqual(['GET', 'POST', 'PUT', 'DELETE']);
    expect(seen[0]!.headers.get('X-CSRF-Token')).toBeNull();
    for (const r of seen.slice(1)) expect(r.headers.get('X-CSRF-Token')).toBe('tok-123');
    for (const r of seen) expect(r.headers.get('Authorization')).toBeNull();
  });

  it('uses the current cookie value (after a rotation)', async () => {
    const seen: Request[] = [];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (req: Request) => {
        seen.push(req);
        return new Response(null, { status: 204 });
      }),
    );
    document.cookie = 'fitsync_csrf=rotated; path=/';
    await api.POST('/api/notifications/inbox/read', { body: {} });
    expect(seen[0]!.headers.get('X-CSRF-Token')).toBe('rotated');
  });

  it('refreshes once on a 401 and retries with the new token', async () => {
    const calls: { url: string; csrf: string | null }[] = [];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (input: Request | string, init?: RequestInit) => {
        const req = typeof input === 'string' ? new Request(new URL(input, window.location.origin), init) : input;
        const path = new URL(req.url).pathname;
        calls.push({ url: path, csrf: req.headers.get('X-CSRF-Token') });
        if (path === '/api/auth/session/refresh') {
          document.cookie = 'fitsync_csrf=after-refresh; path=/';
          return new Response(JSON.stringify({ user_id: 'u', role: 'client', gym_id: null, csrf_token: 'after-refresh', expires_in: 900 }), {
            status: 200,
            headers: { 'Content-Type': 'application/json' },
          });
        }
        const n = calls.filter((c) => c.url === path).length;
        return n === 1
          ? new Response(JSON.stringify({ type: 't', title: 'Unauthorized', status: 401 }), { status: 401, headers: { 'Content-Type': 'application/problem+json' } })
          : new Response('{"unit":"lb"}', { status: 200, headers: { 'Content-Type': 'application/json' } });
      }),
    );
    const res = await api.PUT('/api/workouts/preferences', { body: { unit: 'lb' } });
    expect(res.data).toEqual({ unit: 'lb' });
    expect(calls.map((c) => c.url)).toEqual(['/api/workouts/preferences', '/api/auth/session/refresh', '/api/workouts/preferences']);
    expect(calls[0]!.csrf).toBe('tok-123');
    expect(calls[1]!.csrf).toBe('tok-123');
    expect(calls[2]!.csrf).toBe('after-refresh');
  });
});
