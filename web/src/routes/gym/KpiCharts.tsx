import { useId, useState, type ReactNode } from 'react';
import { Card, Group, Switch, Text, Title } from '@mantine/core';
import type { Schemas } from '../../api/client';
import { ProblemAlert } from '../../components/ProblemAlert';
import { Loading } from '../../components/Loading';
import { pct } from '../../lib/format';

type HourCount = Schemas['HourCount'];
type Cohort = Schemas['Cohort'];

/** What both cards show while the KPIs load or when they fail. */
export interface KpiState {
  loading: boolean;
  error: unknown;
}

/** ISO weekdays, 1 = Monday (as the API numbers them). */
const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;
const hh = (h: number) => String(h).padStart(2, '0');

/** A KPI card: a heading, an optional "show as table" toggle (as ChartCard has), and the
 * loading state or the problem instead of the body. */
function KpiCard({ id, title, state, toggle, children }: { id: string; title: string; state: KpiState; toggle: boolean; children: (table: boolean) => ReactNode }) {
  const [table, setTable] = useState(false);
  const headingId = useId();
  return (
    <Card withBorder padding="md" radius="md" aria-labelledby={headingId} component="section" data-testid={`card-${id}`}>
      <Group justify="space-between" wrap="wrap" gap="xs" mb="xs">
        <Title order={3} size="h5" id={headingId}>
          {title}
        </Title>
        {toggle ? (
          <Switch size="sm" label="Show as table" checked={table} onChange={(e) => setTable(e.currentTarget.checked)} data-testid={`chart-toggle-${id}`} />
        ) : null}
      </Group>
      {state.loading ? <Loading /> : state.error ? <ProblemAlert error={state.error} /> : children(table)}
    </Card>
  );
}

/** Places taken per ISO weekday (1–7) and hour, over the hours from the earliest to the
 * latest with any; missing pairs are 0. */
function bookingGrid(rows: HourCount[]) {
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(`${r.weekday}-${r.hour}`, (counts.get(`${r.weekday}-${r.hour}`) ?? 0) + r.bookings);
  const lo = Math.min(...rows.map((r) => r.hour));
  const hours = rows.length ? Array.from({ length: Math.max(...rows.map((r) => r.hour)) - lo + 1 }, (_, i) => lo + i) : [];
  return { hours, count: (w: number, h: number) => counts.get(`${w}-${h}`) ?? 0, max: Math.max(0, ...counts.values()) };
}

/** Bookings by local weekday and hour: a heatmap (darker: more) or the same counts as a table. */
export function BookingsHeatmap({ rows, state, from, to }: { rows: HourCount[] | undefined; state: KpiState; from: string; to: string }) {
  const { hours, count, max } = bookingGrid(rows ?? []);
  const label = `Bookings by weekday and hour (the trainers' local time), ${from} to ${to}`;
  return (
    <KpiCard id="heatmap" title="Bookings by weekday and hour" state={state} toggle={hours.length > 0}>
      {(table) =>
        hours.length === 0 ? (
          <Text c="dimmed" size="sm" data-testid="chart-heatmap" role="img" aria-label={`${label} (no bookings)`}>
            No bookings in this range.
          </Text>
        ) : table ? (
          <div className="fs-scroll">
            <table data-testid="chart-table-heatmap" className="fs-table">
              <caption className="visually-hidden">{label}</caption>
              <thead>
                <tr>
                  <th scope="col">Day</th>
                  {hours.map((h) => (
                    <th scope="col" key={h}>
                      {hh(h)}:00
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {WEEKDAYS.map((d, i) => (
                  <tr key={d}>
                    <th scope="row">{d}</th>
                    {hours.map((h) => (
                      <td key={h}>{count(i + 1, h)}</td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <div className="fs-scroll">
            <div
              role="img"
              aria-label={label}
              data-testid="chart-heatmap"
              style={{ display: 'grid', gridTemplateColumns: `2.5rem repeat(${hours.length}, minmax(1.75rem, 1fr))`, gap: 2, alignItems: 'center', fontSize: '0.75rem', minWidth: 'min-content' }}
            >
              <span />
              {hours.map((h) => (
                <Text key={h} size="xs" c="dimmed" ta="center">
                  {hh(h)}
                </Text>
              ))}
              {WEEKDAYS.map((d, i) => [
                <Text key={d} size="xs" c="dimmed">
                  {d}
                </Text>,
                ...hours.map((h) => {
                  const n = count(i + 1, h);
                  return (
                    <div
                      key={`${d}-${h}`}
                      data-testid={`heat-${i + 1}-${h}`}
                      data-count={n}
                      title={`${d} ${hh(h)}:00: ${n}`}
                      style={{
                        // Blue, more opaque the more bookings (at most 0.75: dark text stays legible).
                        background: n ? `rgba(34, 139, 230, ${(0.1 + 0.65 * (n / max)).toFixed(3)})` : 'var(--mantine-color-gray-1)',
                        borderRadius: 2,
                        textAlign: 'center',
                        height: '1.75rem',
                        lineHeight: '1.75rem',
                      }}
                    >
                      {n || ''}
                    </div>
                  );
                }),
              ])}
            </div>
            <Text size="xs" c="dimmed" mt={4}>
              Darker: more places taken (at most {max}); hours in each session's trainer's time zone.
            </Text>
          </div>
        )
      }
    </KpiCard>
  );
}

/** Retention cohorts: per month clients first joined (rows) and month since (columns),
 * the share of them active then, with the count; shaded by that share. */
export function RetentionCohorts({ cohorts, state }: { cohorts: Cohort[] | undefined; state: KpiState }) {
  const rows = new Map<string, { members: number; cells: Map<number, number> }>();
  for (const c of cohorts ?? []) {
    const row = rows.get(c.cohort) ?? { members: c.members, cells: new Map<number, number>() };
    row.cells.set(c.month_offset, c.retained);
    rows.set(c.cohort, row);
  }
  const offsets = Array.from({ length: Math.max(0, ...(cohorts ?? []).map((c) => c.month_offset + 1)) }, (_, i) => i);
  const months = [...rows.keys()].sort();
  return (
    <KpiCard id="cohorts" title="Retention cohorts" state={state} toggle={false}>
      {() =>
        months.length === 0 ? (
          <Text c="dimmed" size="sm" data-testid="cohorts-empty">
            No clients joined in this range.
          </Text>
        ) : (
          <div className="fs-scroll">
            <table className="fs-table" data-testid="cohorts-table">
              <caption className="visually-hidden">Share of each month's new clients active in each month since they joined (with their number)</caption>
              <thead>
                <tr>
                  <th scope="col">Joined</th>
                  <th scope="col">Clients</th>
                  {offsets.map((k) => (
                    <th scope="col" key={k}>
                      Month {k}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {months.map((m) => {
                  const { members, cells } = rows.get(m)!;
                  return (
                    <tr key={m} data-testid={`cohort-${m.slice(0, 7)}`}>
                      <th scope="row">{m.slice(0, 7)}</th>
                      <td data-testid={`cohort-${m.slice(0, 7)}-members`}>{members}</td>
                      {offsets.map((k) => {
                        const retained = cells.get(k);
                        if (retained == null) return <td key={k} />;
                        const share = members ? (100 * retained) / members : 0;
                        return (
                          <td
                            key={k}
                            data-testid={`cohort-${m.slice(0, 7)}-${k}`}
                            title={`${retained} of ${members} active in month ${k}`}
                            style={{ background: `rgba(18, 184, 134, ${(0.6 * share) / 100})` }}
                          >
                            {pct(share)} ({retained})
                          </td>
                        );
                      })}
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )
      }
    </KpiCard>
  );
}
