import { describe, expect, it, vi } from 'vitest';
import { fireEvent, screen, waitFor } from '@testing-library/react';
import { renderApp } from './render';

const CLIENT = '01a23adf-21d9-70d9-8c50-34429db02dfa';

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': status >= 400 ? 'application/problem+json' : 'application/json' },
  });
}

function fakeApi(unit: 'kg' | 'lb') {
  let signedIn = false;
  return vi.fn(async (input: Request | string, init?: RequestInit) => {
    const req = typeof input === 'string' ? new Request(new URL(input, window.location.origin), init) : input;
    const url = new URL(req.url);
    const p = url.pathname;
    if (p === '/api/auth/session' && req.method === 'POST') {
      const body = (await req.json()) as { password: string };
      if (body.password !== 'right') return json({ type: 't', title: 'Unauthorized', status: 401, detail: 'Wrong email or password' }, 401);
      signedIn = true;
      document.cookie = 'fitsync_csrf=c1; path=/';
      return json({ user_id: CLIENT, role: 'client', gym_id: null, csrf_token: 'c1', expires_in: 900 });
    }
    if (!signedIn) return json({ type: 't', title: 'Unauthorized', status: 401 }, 401);
    switch (p) {
      case '/api/users/me':
        return json({ id: CLIENT, email: 'c@x', role: 'client', display_name: 'Demo Client 1', email_verified: true, gym_id: null, created_at: '2026-01-01T00:00:00Z' });
      case '/api/workouts/preferences':
        return json({ unit });
      case '/api/notifications/preferences':
        return json({ locale: { time_zone: 'Europe/Berlin', units: 'metric' }, email: {}, sms: {}, push: {}, quiet_hours: null });
      case `/api/progress/${CLIENT}/e1rm`:
        return json({
          client_id: CLIENT,
          exercises: [
            { exercise: 'barbell-squat', e1rm_kg: 100, e1rm_brzycki_kg: 97, set_id: 's', achieved_at: '2026-12-03T06:17:17Z', updated_at: '2026-12-03T06:17:17Z' },
          ],
        });
      case `/api/progress/${CLIENT}/series`:
        return json({ client_id: CLIENT, metric: url.searchParams.get('metric'), bucket: 'week', from: '2026-10-01', to: '2026-12-03', unit: 'kg', points: [{ start: '2026-11-30', value: 100 }] });
      case `/api/progress/${CLIENT}/muscles`:
        return json({ client_id: CLIENT, weeks: [] });
      case `/api/metrics/${CLIENT}/goals`:
        return json([]);
      case `/api/progress/${CLIENT}/adherence`:
        return json({ client_id: CLIENT, as_of: '2026-12-03', windows: [], streaks: { current_weeks: 1, longest_weeks: 2, current_days: 1, longest_days: 1 } });
      case `/api/progress/${CLIENT}/records`:
        return json({ type: 't', title: 'Service Unavailable', status: 503, detail: 'The analytics store is down' }, 503);
      case '/api/notifications/inbox':
        return json([]);
      case '/api/notifications/inbox/unread':
        return json({ unread: 2 });
      default:
        return json({ type: 't', title: 'Not Found', status: 404 }, 404);
    }
  });
}

describe('app', () => {
  it('shows the problem of a failed sign-in', async () => {
    vi.stubGlobal('fetch', fakeApi('kg'));
    renderApp();
    fireEvent.change(await screen.findByTestId('signin-email'), { target: { value: 'c@x' } });
    fireEvent.change(screen.getByTestId('signin-password'), { target: { value: 'wrong' } });
    fireEvent.click(screen.getByTestId('signin-submit'));
    const alert = await screen.findByTestId('problem');
    expect(alert).toHaveTextContent('Unauthorized');
    expect(alert).toHaveTextContent('Wrong email or password');
  });

  it('signs a client in to their dashboard, in their unit, with only client nav', async () => {
    vi.stubGlobal('fetch', fakeApi('lb'));
    renderApp();
    fireEvent.change(await screen.findByTestId('signin-email'), { target: { value: 'c@x' } });
    fireEvent.change(screen.getByTestId('signin-password'), { target: { value: 'right' } });
    fireEvent.click(screen.getByTestId('signin-submit'));
    expect(await screen.findByTestId('user-role')).toHaveTextContent('client');
    const latest = await screen.findByTestId('e1rm-latest', {}, { timeout: 3000 });
    expect(latest).toHaveTextContent(`${(Math.round((100 / 0.45359237) * 10) / 10).toFixed(1)} lb`);
    expect(screen.getByTestId('nav-dashboard')).toBeInTheDocument();
    expect(screen.queryByTestId('nav-clients')).toBeNull();
    expect(screen.queryByTestId('nav-kpis')).toBeNull();
    await waitFor(() => expect(screen.getByTestId('unread-badge')).toHaveTextContent('2'));
    // A failing section shows its problem, the rest of the page stays.
    expect(await screen.findByText(/The analytics store is down/)).toBeInTheDocument();
  });
});
