import { afterEach, describe, expect, it, vi } from 'vitest';

// Two tabs share the cookies and so the single-use refresh cookie. Each tab is a fresh
// instance of the session module; the Web Lock is a mutex as browsers implement it.
async function tab() {
  vi.resetModules();
  return import('../api/session');
}

describe('a session shared by two tabs', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    Reflect.deleteProperty(navigator, 'locks');
  });

  it('rotates one tab at a time, each with the newest cookie, and a sign-out reaches the other tab', async () => {
    let tail: Promise<unknown> = Promise.resolve();
    const requested: string[] = [];
    Object.defineProperty(navigator, 'locks', {
      configurable: true,
      value: {
        request: (name: string, fn: () => Promise<unknown>) => {
          requested.push(name);
          const run = tail.then(fn);
          tail = run.catch(() => undefined);
          return run;
        },
      },
    });
    document.cookie = 'fitsync_csrf=csrf-0; path=/';
    let concurrent = 0;
    let most = 0;
    let n = 0;
    const sent: (string | null)[] = [];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (input: RequestInfo, init?: RequestInit) => {
        const url = typeof input === 'string' ? input : input.url;
        if (!url.endsWith('/api/auth/session/refresh')) return new Response(null, { status: 204 });
        concurrent += 1;
        most = Math.max(most, concurrent);
        sent.push(new Headers(init?.headers).get('X-CSRF-Token'));
        await new Promise((r) => setTimeout(r, 20));
        n += 1;
        // The server's Set-Cookie: the rotated CSRF token.
        document.cookie = `fitsync_csrf=csrf-${n}; path=/`;
        concurrent -= 1;
        return new Response(
          JSON.stringify({ user_id: 'u', role: 'client', gym_id: null, csrf_token: `csrf-${n}`, expires_in: 900 }),
          { status: 200, headers: { 'Content-Type': 'application/json' } },
        );
      }),
    );
    const first = await tab();
    const second = await tab();
    const [a, b] = await Promise.all([first.refreshSession(), second.refreshSession()]);
    expect(most).toBe(1);
    expect(requested).toEqual(['fitsync-session-refresh', 'fitsync-session-refresh']);
    // The second refresh went out with the token the first one set.
    expect(sent).toEqual(['csrf-0', 'csrf-1']);
    expect([a?.csrf_token, b?.csrf_token].sort()).toEqual(['csrf-1', 'csrf-2']);

    expect(typeof BroadcastChannel).toBe('function');
    const ended = new Promise<unknown>((resolve) => second.onSessionChange(resolve));
    await first.signOut();
    await expect(ended).resolves.toBeNull();
  });
});
