import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import bootScript from '../../public/boot.js?raw';

// public/boot.js runs before the app; src/api/boot.ts (through apiFetch) hands its
// answers to the app. Each test loads fresh modules, as a page load does.
const ok = (body: unknown) => new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } });
const pathOf = (input: RequestInfo | URL) => {
  const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url, window.location.origin);
  return url.pathname + url.search;
};

async function load() {
  vi.resetModules();
  return { session: await import('../api/session'), boot: await import('../api/boot') };
}

function runBootScript() {
  new Function(bootScript)();
}

describe('reads started before the app', () => {
  let fetched: string[];
  beforeEach(() => {
    fetched = [];
    localStorage.clear();
    delete window.__fitsyncBoot;
    window.history.replaceState({}, '', '/client');
    vi.stubGlobal(
      'fetch',
      vi.fn(async (input: RequestInfo | URL) => {
        const path = pathOf(input);
        fetched.push(path);
        return ok({ path, n: fetched.length });
      }),
    );
  });
  afterEach(() => {
    document.cookie = 'fitsync_csrf=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/';
    vi.useRealTimers();
  });

  it('starts nothing without a session cookie', () => {
    localStorage.setItem('fitsync-boot-reads:/client', JSON.stringify(['/api/progress/c/e1rm']));
    runBootScript();
    expect(fetched).toEqual([]);
    expect(window.__fitsyncBoot).toBeUndefined();
  });

  it('starts nothing when the access cookie has run out or nearly (the app refreshes first)', () => {
    document.cookie = 'fitsync_csrf=t; path=/';
    localStorage.setItem('fitsync-boot-reads:/client', JSON.stringify(['/api/progress/c/e1rm']));
    localStorage.setItem('fitsync-session-expires', String(Date.now() + 59_000));
    runBootScript();
    expect(fetched).toEqual([]);
    localStorage.removeItem('fitsync-session-expires');
    runBootScript();
    expect(fetched).toEqual([]);
  });

  it("starts the home screen's reads at `/`", () => {
    document.cookie = 'fitsync_csrf=t; path=/';
    localStorage.setItem('fitsync-session-expires', String(Date.now() + 600_000));
    localStorage.setItem('fitsync-boot-reads:/trainer', JSON.stringify(['/api/analytics/trainers/t/at-risk']));
    localStorage.setItem('fitsync-boot-home', '/trainer');
    window.history.replaceState({}, '', '/');
    runBootScript();
    expect(fetched).toEqual(['/api/users/me', '/api/analytics/trainers/t/at-risk']);
  });

  it("starts /me and this address's recorded reads, and the app takes each answer once", async () => {
    document.cookie = 'fitsync_csrf=t; path=/';
    localStorage.setItem('fitsync-session-expires', String(Date.now() + 600_000));
    const recorded = ['/api/progress/c/e1rm', '/api/progress/c/series?metric=weight_trend&bucket=day'];
    // Another address's reads, and something that is not an API path: never started.
    localStorage.setItem('fitsync-boot-reads:/trainer', JSON.stringify(['/api/trainer-only']));
    localStorage.setItem('fitsync-boot-reads:/client', JSON.stringify([...recorded, 'https://elsewhere.example/x']));
    runBootScript();
    expect(fetched).toEqual(['/api/users/me', ...recorded]);

    const { session } = await load();
    const get = (path: string) => session.apiFetch(new Request(window.location.origin + path));
    // The boot's answers (fetch was not called again) …
    expect(await (await get(recorded[1]!)).json()).toEqual({ path: recorded[1], n: 3 });
    expect(await (await get('/api/users/me')).json()).toEqual({ path: '/api/users/me', n: 1 });
    expect(fetched).toHaveLength(3);
    // … once: a second read of the same address goes to the network.
    expect(await (await get(recorded[1]!)).json()).toEqual({ path: recorded[1], n: 4 });
    // A write never takes a boot answer.
    await session.apiFetch(new Request(window.location.origin + recorded[0]!, { method: 'POST' }));
    expect(fetched).toHaveLength(5);
  });

  it('drops an answer the app asks for more than 10 s after the load', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    document.cookie = 'fitsync_csrf=t; path=/';
    localStorage.setItem('fitsync-session-expires', String(Date.now() + 600_000));
    runBootScript();
    const { boot } = await load();
    vi.setSystemTime(Date.now() + 10_001);
    expect(boot.takeBootAnswer(window.location.origin + '/api/users/me')).toBeUndefined();
  });

  it('hands no early answer across a sign-out or a sign-in in the same page', async () => {
    document.cookie = 'fitsync_csrf=t; path=/';
    localStorage.setItem('fitsync-session-expires', String(Date.now() + 600_000));
    localStorage.setItem('fitsync-boot-reads:/client', JSON.stringify(['/api/notifications/inbox?limit=100']));
    runBootScript();
    const { boot } = await load();
    const inbox = window.location.origin + '/api/notifications/inbox?limit=100';
    boot.forgetBootReads();
    expect(boot.takeBootAnswer(inbox)).toBeUndefined();
    runBootScript();
    boot.recordBootReads();
    expect(boot.takeBootAnswer(inbox)).toBeUndefined();
    expect(boot.takeBootAnswer(window.location.origin + '/api/users/me')).toBeUndefined();
  });

  it("records the first screen's successful reads after a sign-in, and forgets them at sign-out", async () => {
    const { session, boot } = await load();
    boot.recordBootReads();
    window.history.replaceState({}, '', '/client');
    for (const path of ['/api/users/me', '/api/auth/session/refresh', '/api/progress/c/e1rm', '/api/progress/c/e1rm', '/api/progress/c/adherence']) {
      await session.apiFetch(new Request(window.location.origin + path));
    }
    // The load's first seconds belong to the address it landed on (here the home the
    // sign-in led to), even when the user moves on within them.
    window.history.replaceState({}, '', '/client/diet');
    await session.apiFetch(new Request(window.location.origin + '/api/diet/targets'));
    expect(JSON.parse(localStorage.getItem('fitsync-boot-reads:/client')!)).toEqual([
      '/api/progress/c/e1rm',
      '/api/progress/c/adherence',
      '/api/diet/targets',
    ]);
    expect(localStorage.getItem('fitsync-boot-reads:/client/diet')).toBeNull();
    expect(localStorage.getItem('fitsync-boot-home')).toBe('/client');
    // Past its first 5 s nothing more is recorded.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 5_001);
    await session.apiFetch(new Request(window.location.origin + '/api/progress/c/records'));
    expect(JSON.parse(localStorage.getItem('fitsync-boot-reads:/client')!)).toHaveLength(3);
    boot.forgetBootReads();
    expect(localStorage.getItem('fitsync-boot-reads:/client')).toBeNull();
    expect(localStorage.getItem('fitsync-boot-home')).toBeNull();
  });

  it('a session that ends by a refused refresh also forgets its recorded reads and early answers', async () => {
    document.cookie = 'fitsync_csrf=t; path=/';
    localStorage.setItem('fitsync-session-expires', String(Date.now() + 600_000));
    localStorage.setItem('fitsync-boot-reads:/client', JSON.stringify(['/api/progress/c/e1rm']));
    runBootScript();
    const { session, boot } = await load();
    vi.stubGlobal('fetch', vi.fn(async () => new Response(null, { status: 401 })));
    expect(await session.refreshSession()).toBeNull();
    expect(localStorage.getItem('fitsync-boot-reads:/client')).toBeNull();
    expect(localStorage.getItem('fitsync-session-expires')).toBeNull();
    expect(boot.takeBootAnswer(window.location.origin + '/api/progress/c/e1rm')).toBeUndefined();
  });

  it('a reload skips the refresh while the access cookie has over a minute left', async () => {
    vi.useFakeTimers();
    const { session } = await load();
    expect(session.resumeSession()).toBe(false);
    localStorage.setItem('fitsync-session-expires', String(Date.now() + 59_000));
    expect(session.resumeSession()).toBe(false);
    localStorage.setItem('fitsync-session-expires', String(Date.now() + 61_000));
    expect(session.resumeSession()).toBe(true);
  });
});
