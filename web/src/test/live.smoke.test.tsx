/**
 * Smoke test against a running API (not part of `npm test`; scripts/web.sh runs it):
 *   LIVE_API=http://127.0.0.1:8080 npm run test:live
 * Signs in once per role through the cookie session and opens every screen of the
 * role's nav, listing any problem alerts the screens show.
 */
import { describe, expect, it, vi } from 'vitest';
import { fireEvent, screen, waitFor } from '@testing-library/react';
import { renderApp, signInThroughForm } from './render';
import { navFor } from '../routes/Layout';

const BASE = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.LIVE_API;
const PASSWORD = 'fitsync-demo-password';

function cookieFetch() {
  const jar = new Map<string, string>();
  const real = globalThis.fetch;
  return async (input: Request | string, init?: RequestInit): Promise<Response> => {
    const req = typeof input === 'string' ? new Request(new URL(input, window.location.origin), init) : input;
    const url = new URL(req.url);
    const headers = new Headers(req.headers);
    headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
    const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await req.arrayBuffer();
    const res = await real(`${BASE}${url.pathname}${url.search}`, { method: req.method, headers, body, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (!value || /max-age=0/i.test(c)) jar.delete(name);
      else jar.set(name, value);
      if (name === 'fitsync_csrf') document.cookie = `fitsync_csrf=${value}; path=/`;
    }
    return res;
  };
}

// jsdom has no canvas: give uPlot a 2D context that draws nothing.
const noop2d = new Proxy({} as Record<string | symbol, unknown>, {
  get: (t, k) => (k in t ? t[k] : k === 'measureText' ? () => ({ width: 10 }) : () => undefined),
  set: (t, k, v) => {
    t[k] = v;
    return true;
  },
});
(globalThis as unknown as { Path2D: unknown }).Path2D ??= class {
  moveTo() {}
  lineTo() {}
  rect() {}
  arc() {}
  closePath() {}
  bezierCurveTo() {}
  addPath() {}
};
HTMLCanvasElement.prototype.getContext = (() => noop2d) as unknown as HTMLCanvasElement['getContext'];

async function visitAll(email: string) {
  vi.stubGlobal('fetch', cookieFetch());
  renderApp();
  await signInThroughForm(email, PASSWORD);
  const role = (await screen.findByTestId('user-role', {}, { timeout: 10000 })).textContent ?? '';
  const problems: string[] = [];
  for (const item of navFor(role)) {
    fireEvent.click(screen.getByTestId(`nav-${item.id}`));
    await new Promise((r) => setTimeout(r, 300));
    await waitFor(() => expect(screen.queryAllByRole('status')).toHaveLength(0), { timeout: 15000 }).catch(() => {
      problems.push(`${item.id}: still loading`);
    });
    for (const p of screen.queryAllByTestId('problem')) problems.push(`${item.id}: ${p.textContent}`);
    const summary = ['e1rm-latest', 'at-risk-row', 'inbox-item', 'member-row', 'set-row', 'booking-row', 'program-row']
      .map((id) => `${id}=${screen.queryAllByTestId(id).length}`)
      .filter((s) => !s.endsWith('=0'))
      .join(' ');
    console.log(`[${role}] ${item.id}: ${summary}`);
  }
  if (role === 'trainer') {
    fireEvent.click(screen.getByTestId('nav-clients'));
    const row = (await screen.findAllByTestId('at-risk-row', {}, { timeout: 10000 }))[0]!;
    fireEvent.click(row.querySelector('a')!);
    const latest = await screen.findByTestId('e1rm-latest', {}, { timeout: 10000 });
    console.log(`[trainer] client progress: e1rm-latest=${latest.textContent}`);
    for (const p of screen.queryAllByTestId('problem')) problems.push(`client-detail: ${p.textContent}`);
  }
  console.log(`[${role}] problems:`, problems);
  return problems;
}

if (!BASE) throw new Error('LIVE_API must name a running platform (npm run test:live)');

describe('live API smoke', () => {
  it('client', async () => {
    expect(await visitAll('demo.client1@fitsync.dev')).toEqual([]);
  }, 120000);
  it('trainer', async () => {
    expect(await visitAll('demo.trainer1@fitsync.dev')).toEqual([]);
  }, 120000);
  it('gym', async () => {
    expect(await visitAll('demo.gym@fitsync.dev')).toEqual([]);
  }, 120000);
});
