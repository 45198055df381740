import { describe, expect, it, vi } from 'vitest';
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { renderApp, signInThroughForm } from './render';
import { fakeApi as sharedFakeApi, json } from './fakeApi';

const GYM_USER = '01a23adf-21d9-70d9-8c50-34429db02e01';
const GYM = '01a23adf-21d9-70d9-8c50-34429db02e02';

type HourCount = { weekday: number; hour: number; bookings: number };
type Cohort = { cohort: string; month_offset: number; members: number; retained: number };

const FIGURES = {
  members: 14, active_7: 9, active_30: 12, signups: 3, bookings: 15, attended: 11, no_shows: 2, no_show_rate: 0.154,
  waitlisted: 0, promoted: 0, waitlist_conversion: null, booked_minutes: 600, available_minutes: 2400, utilisation: 0.25,
};

function kpis(from: string, to: string, byHour: HourCount[], cohorts: Cohort[]) {
  return { gym_id: GYM, from, to, figures: FIGURES, bookings_by_hour: byHour, cohorts, revenue: [] };
}

/** A gym owner's API; `answer` answers the KPIs request (the range it asked for). */
function fakeApi(answer: (url: URL) => Promise<Response> | Response) {
  return sharedFakeApi({ id: GYM_USER, role: 'gym', gymId: GYM }, (_req, url) => {
    if (url.pathname === `/api/analytics/gyms/${GYM}/kpis`) return answer(url);
    if (url.pathname === `/api/analytics/gyms/${GYM}/series`)
      return json({ gym_id: GYM, metric: 'bookings', bucket: 'week', from: '2026-11-01', to: '2026-11-30', points: [] });
    return undefined;
  });
}

async function signInAsGym() {
  renderApp();
  await signInThroughForm('g@x');
  await screen.findByTestId('card-heatmap', {}, { timeout: 10_000 });
}

/** Generous waits: the suite runs its files in parallel on small machines. */
const WAIT = { timeout: 5000 };
const TEST_TIMEOUT = 20_000;

const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

/** What the heatmap must show, computed here: weekdays 1 (Monday) to 7 by every hour from
 * the earliest to the latest with bookings, each the sum of the API's counts for it (0 if none). */
function expectedGrid(rows: HourCount[]): { hours: number[]; cells: number[][] } {
  const lo = Math.min(...rows.map((r) => r.hour));
  const hi = Math.max(...rows.map((r) => r.hour));
  const hours = Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
  const cells = [1, 2, 3, 4, 5, 6, 7].map((w) =>
    hours.map((h) => rows.filter((r) => r.weekday === w && r.hour === h).reduce((s, r) => s + r.bookings, 0)),
  );
  return { hours, cells };
}

/** A cohort cell: retained ÷ members as a whole percentage, then the count. */
const cohortText = (c: Cohort) => `${((100 * c.retained) / c.members).toFixed(0)} % (${c.retained})`;

const texts = (els: Iterable<Element>) => [...els].map((e) => e.textContent);

function assertHeatmap(rows: HourCount[]) {
  const { hours, cells } = expectedGrid(rows);
  const map = screen.getByTestId('chart-heatmap');
  expect(map).toHaveAttribute('role', 'img');
  expect(map.getAttribute('aria-label')).toMatch(/^Bookings by weekday and hour/);
  // Every cell, weekday by weekday, hour by hour: its count, shown unless 0.
  const shown = [...map.querySelectorAll<HTMLElement>('[data-count]')];
  expect(shown.map((e) => [e.dataset.testid, e.dataset.count, e.textContent])).toEqual(
    cells.flatMap((row, w) => row.map((n, j) => [`heat-${w + 1}-${hours[j]}`, String(n), n ? String(n) : ''])),
  );
  // Intensity by count: more bookings, a more opaque fill; none, no blue at all.
  const alpha = (e: HTMLElement) => Number(e.style.background.match(/rgba\(34, 139, 230, ([\d.]+)\)/)?.[1] ?? 0);
  const flat = shown.map((e) => ({ n: Number(e.dataset.count), a: alpha(e) }));
  for (const x of flat) for (const y of flat) if (x.n > y.n) expect(x.a).toBeGreaterThan(y.a);
  expect(flat.filter((x) => x.n === 0).every((x) => x.a === 0)).toBe(true);
}

function assertHeatmapTable(rows: HourCount[]) {
  const { hours, cells } = expectedGrid(rows);
  const table = screen.getByTestId('chart-table-heatmap');
  expect(texts(table.querySelectorAll('thead th'))).toEqual(['Day', ...hours.map((h) => `${String(h).padStart(2, '0')}:00`)]);
  const body = [...table.querySelectorAll('tbody tr')];
  expect(body.map((tr) => tr.querySelector('th')?.textContent)).toEqual(DAYS);
  expect(body.map((tr) => texts(tr.querySelectorAll('td')))).toEqual(cells.map((row) => row.map(String)));
}

function assertCohorts(cohorts: Cohort[]) {
  const table = screen.getByTestId('cohorts-table');
  const months = [...new Set(cohorts.map((c) => c.cohort))].sort();
  expect(texts(table.querySelectorAll('tbody th'))).toEqual(months.map((m) => m.slice(0, 7)));
  const maxOffset = Math.max(...cohorts.map((c) => c.month_offset));
  for (const m of months) {
    const row = within(table).getByTestId(`cohort-${m.slice(0, 7)}`);
    const mine = cohorts.filter((c) => c.cohort === m);
    expect(within(row).getByTestId(`cohort-${m.slice(0, 7)}-members`)).toHaveTextContent(String(mine[0]!.members));
    // The triangle: a cell per month the API answered for, the rest empty.
    expect(row.querySelectorAll('td')).toHaveLength(2 + maxOffset);
    expect(within(row).queryAllByTestId(/^cohort-\d{4}-\d{2}-\d+$/)).toHaveLength(mine.length);
    for (const c of mine) expect(within(row).getByTestId(`cohort-${m.slice(0, 7)}-${c.month_offset}`)).toHaveTextContent(cohortText(c));
  }
}

describe('gym KPIs: bookings by weekday and hour, retention cohorts', () => {
  const byHour: HourCount[] = [
    { weekday: 1, hour: 7, bookings: 2 },
    { weekday: 1, hour: 18, bookings: 5 },
    { weekday: 3, hour: 12, bookings: 4 },
    { weekday: 4, hour: 18, bookings: 3 },
    { weekday: 7, hour: 9, bookings: 1 },
  ];
  const cohorts: Cohort[] = [
    { cohort: '2026-09-01', month_offset: 0, members: 3, retained: 3 },
    { cohort: '2026-09-01', month_offset: 1, members: 3, retained: 2 },
    { cohort: '2026-09-01', month_offset: 2, members: 3, retained: 1 },
    { cohort: '2026-10-01', month_offset: 0, members: 7, retained: 6 },
    { cohort: '2026-10-01', month_offset: 1, members: 7, retained: 4 },
    { cohort: '2026-11-01', month_offset: 0, members: 4, retained: 3 },
  ];
  const later: HourCount[] = [
    { weekday: 2, hour: 6, bookings: 1 },
    { weekday: 2, hour: 8, bookings: 9 },
  ];
  const laterCohorts: Cohort[] = [{ cohort: '2026-08-01', month_offset: 0, members: 6, retained: 1 }];

  it('draws the API counts for the range shown, the same in the table view, and follows the range', async () => {
    const asked: string[] = [];
    vi.stubGlobal(
      'fetch',
      fakeApi((url) => {
        const from = url.searchParams.get('from')!;
        const to = url.searchParams.get('to')!;
        asked.push(`${from}..${to}`);
        return from === '2026-08-01' ? json(kpis(from, to, later, laterCohorts)) : json(kpis(from, to, byHour, cohorts));
      }),
    );
    await signInAsGym();
    await screen.findByTestId('chart-heatmap', {}, WAIT);
    const from = (screen.getByTestId('range-from') as HTMLInputElement).value;
    const to = (screen.getByTestId('range-to') as HTMLInputElement).value;
    expect(asked).toContain(`${from}..${to}`);
    assertHeatmap(byHour);
    assertCohorts(cohorts);
    expect(screen.getByTestId('cohort-2026-09-1')).toHaveTextContent('67 % (2)'); // 2 of 3, by hand
    fireEvent.click(screen.getByTestId('chart-toggle-heatmap'));
    assertHeatmapTable(byHour);
    expect(screen.queryByTestId('chart-heatmap')).toBeNull();
    fireEvent.click(screen.getByTestId('chart-toggle-heatmap'));

    // Another range: asked for, and drawn.
    fireEvent.change(screen.getByTestId('range-from'), { target: { value: '2026-08-01' } });
    await waitFor(() => expect(screen.getByTestId('heat-2-8')).toHaveAttribute('data-count', '9'), WAIT);
    expect(asked).toContain(`2026-08-01..${to}`);
    assertHeatmap(later);
    assertCohorts(laterCohorts);
    fireEvent.click(screen.getByTestId('chart-toggle-heatmap'));
    assertHeatmapTable(later);
  }, TEST_TIMEOUT);

  it('shows that it is loading, then an empty range as such', async () => {
    let release!: () => void;
    const gate = new Promise<void>((done) => (release = done));
    vi.stubGlobal(
      'fetch',
      fakeApi(async (url) => {
        await gate;
        return json(kpis(url.searchParams.get('from')!, url.searchParams.get('to')!, [], []));
      }),
    );
    await signInAsGym();
    expect(within(screen.getByTestId('card-heatmap')).getByRole('status')).toBeInTheDocument();
    expect(within(screen.getByTestId('card-cohorts')).getByRole('status')).toBeInTheDocument();
    release();
    expect(await screen.findByTestId('cohorts-empty', {}, WAIT)).toBeInTheDocument();
    expect(screen.getByTestId('chart-heatmap')).toHaveTextContent('No bookings in this range.');
    expect(within(screen.getByTestId('card-heatmap')).queryByRole('status')).toBeNull();
  }, TEST_TIMEOUT);

  it("shows the API's problem when the KPIs fail", async () => {
    vi.stubGlobal(
      'fetch',
      fakeApi(() => json({ type: 't', title: 'Service Unavailable', status: 503, detail: 'The analytics store is down' }, 503)),
    );
    await signInAsGym();
    for (const card of ['card-heatmap', 'card-cohorts']) {
      const problem = await within(screen.getByTestId(card)).findByTestId('problem', {}, WAIT);
      expect(problem).toHaveTextContent('Service Unavailable');
      expect(problem).toHaveTextContent('The analytics store is down');
    }
    expect(screen.queryByTestId('chart-heatmap')).toBeNull();
    expect(screen.queryByTestId('cohorts-table')).toBeNull();
  }, TEST_TIMEOUT);
});
