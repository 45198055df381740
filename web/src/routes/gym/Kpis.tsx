import { useMemo, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { Anchor, Card, Group, NativeSelect, SimpleGrid, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { api, type Schemas } from '../../api/client';
import { unwrap } from '../../api/problem';
import { useMe, usePrefs } from '../../auth/AuthContext';
import { ProblemAlert } from '../../components/ProblemAlert';
import { Loading } from '../../components/Loading';
import { ChartCard } from '../../components/charts/ChartCard';
import { alignSeries } from '../../components/ProgressDashboard';
import { BookingsHeatmap, RetentionCohorts } from './KpiCharts';
import { addDays, localDate } from '../../lib/time';

type GymMetric = Schemas['GymMetric'];
const METRICS: { value: GymMetric; label: string }[] = [
  { value: 'bookings', label: 'Bookings' },
  { value: 'attended', label: 'Attended' },
  { value: 'no_shows', label: 'No-shows' },
  { value: 'signups', label: 'Sign-ups' },
  { value: 'active_members', label: 'Active members' },
];
const DATASETS = ['daily', 'bookings_by_hour', 'cohorts', 'revenue'] as const;

/** The export URL (a plain GET the session cookie authenticates). */
export function exportUrl(gymId: string, dataset: string, format: 'csv' | 'parquet', from: string, to: string): string {
  const q = new URLSearchParams({ dataset, format });
  if (from) q.set('from', from);
  if (to) q.set('to', to);
  return `/api/analytics/gyms/${encodeURIComponent(gymId)}/export?${q.toString()}`;
}

function Figure({ label, value }: { label: string; value: string }) {
  return (
    <Card withBorder padding="sm">
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text fw={700} size="lg" data-testid={`kpi-${label.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`}>
        {value}
      </Text>
    </Card>
  );
}

const pctOf = (v: number | null | undefined) => (v == null ? '–' : `${(v * 100).toFixed(1)} %`);

export default function GymKpis() {
  const me = useMe();
  const { timeZone } = usePrefs();
  const gymId = me.gym_id ?? '';
  const today = localDate(new Date(), timeZone);
  const [from, setFrom] = useState(addDays(today, -29));
  const [to, setTo] = useState(today);
  const [metric, setMetric] = useState<GymMetric>('bookings');
  const [bucket, setBucket] = useState<'day' | 'week' | 'month'>('week');
  const range = from && to && from <= to ? { from, to } : {};
  const kpis = useQuery({
    queryKey: ['gym-kpis', gymId, range],
    enabled: !!gymId,
    queryFn: () => unwrap(api.GET('/api/analytics/gyms/{gym_id}/kpis', { params: { path: { gym_id: gymId }, query: range } })),
  });
  const series = useQuery({
    queryKey: ['gym-series', gymId, metric, bucket, range],
    enabled: !!gymId,
    queryFn: () =>
      unwrap(api.GET('/api/analytics/gyms/{gym_id}/series', { params: { path: { gym_id: gymId }, query: { metric, bucket, ...range } } })),
  });
  const label = METRICS.find((m) => m.value === metric)?.label ?? metric;
  const data = useMemo(() => alignSeries([{ label, points: series.data?.points ?? [] }]), [series.data, label]);
  if (!gymId) return <Text>You do not belong to a gym.</Text>;
  const f = kpis.data?.figures;
  const kpiState = { loading: kpis.isLoading, error: kpis.error };
  return (
    <Stack>
      <Title order={1} size="h2">
        Gym KPIs
      </Title>
      <Group wrap="wrap" align="end" role="group" aria-label="Date range">
        <TextInput type="date" label="From" value={from} max={to} onChange={(e) => setFrom(e.currentTarget.value)} data-testid="range-from" />
        <TextInput type="date" label="To" value={to} min={from} onChange={(e) => setTo(e.currentTarget.value)} data-testid="range-to" />
      </Group>
      {from > to ? (
        <Text c="red" role="alert">
          The start must not be after the end.
        </Text>
      ) : null}
      {kpis.isLoading ? <Loading /> : null}
      <ProblemAlert error={kpis.error} />
      {f ? (
        <SimpleGrid cols={{ base: 2, sm: 3, md: 5 }}>
          <Figure label="Members" value={String(f.members)} />
          <Figure label="Active 7 d" value={String(f.active_7)} />
          <Figure label="Active 30 d" value={String(f.active_30)} />
          <Figure label="Sign-ups" value={String(f.signups)} />
          <Figure label="Bookings" value={String(f.bookings)} />
          <Figure label="Attended" value={String(f.attended)} />
          <Figure label="No-shows" value={String(f.no_shows)} />
          <Figure label="No-show rate" value={pctOf(f.no_show_rate)} />
          <Figure label="Utilisation" value={pctOf(f.utilisation)} />
          <Figure label="Waitlist conversion" value={pctOf(f.waitlist_conversion)} />
        </SimpleGrid>
      ) : null}
      <Group wrap="wrap" align="end">
        <NativeSelect label="Series" value={metric} onChange={(e) => setMetric(e.currentTarget.value as GymMetric)} data={METRICS} />
        <NativeSelect
          label="Per"
          value={bucket}
          onChange={(e) => setBucket(e.currentTarget.value as 'day' | 'week' | 'month')}
          data={['day', 'week', 'month']}
        />
      </Group>
      <ProblemAlert error={series.error} />
      {series.isLoading ? <Loading /> : <ChartCard id="gym-series" title={`${label} per ${bucket}`} ariaLabel={`${label} per ${bucket} from ${from} to ${to}`} data={data} digits={0} />}
      <BookingsHeatmap rows={kpis.data?.bookings_by_hour} state={kpiState} from={kpis.data?.from ?? from} to={kpis.data?.to ?? to} />
      <RetentionCohorts cohorts={kpis.data?.cohorts} state={kpiState} />
      {kpis.data && kpis.data.revenue.length > 0 ? (
        <Card withBorder component="section" aria-labelledby="rev-h">
          <Title order={2} size="h5" id="rev-h" mb="xs">
            Revenue
          </Title>
          <div className="fs-scroll">
            <Table>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Month</Table.Th>
                  <Table.Th>Purchases</Table.Th>
                  <Table.Th>Revenue</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {kpis.data.revenue.map((r) => (
                  <Table.Tr key={`${r.month}-${r.currency}`}>
                    <Table.Td>{r.month.slice(0, 7)}</Table.Td>
                    <Table.Td>{r.purchases}</Table.Td>
                    <Table.Td>{new Intl.NumberFormat(undefined, { style: 'currency', currency: r.currency }).format(r.revenue_cents / 100)}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </div>
        </Card>
      ) : null}
      <Card withBorder component="section" aria-labelledby="export-h">
        <Title order={2} size="h5" id="export-h" mb="xs">
          Export ({from} to {to})
        </Title>
        <Stack gap={4}>
          {DATASETS.map((d) => (
            <Group key={d} gap="sm">
              <Text size="sm" w={150}>
                {d.replace(/_/g, ' ')}
              </Text>
              <Anchor href={exportUrl(gymId, d, 'csv', from, to)} download data-testid={`export-${d}-csv`}>
                CSV
              </Anchor>
              <Anchor href={exportUrl(gymId, d, 'parquet', from, to)} download data-testid={`export-${d}-parquet`}>
                Parquet
              </Anchor>
            </Group>
          ))}
        </Stack>
      </Card>
    </Stack>
  );
}
