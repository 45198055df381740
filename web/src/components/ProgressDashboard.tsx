import { useEffect, useMemo, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Button, Card, Group, NativeSelect, NumberInput, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { api } from '../api/client';
import { unwrap } from '../api/problem';
import { useMe, usePrefs } from '../auth/AuthContext';
import { ChartCard } from './charts/ChartCard';
import { CHART_DRAWN } from './charts/UPlotCanvas';
import type { ChartData } from './charts/types';
import { ProblemAlert } from './ProblemAlert';
import { Loading } from './Loading';
import { fromKg, formatLoad, round, toKg, type Unit } from '../lib/units';
import { dayToUnix, formatDateTime, formatDay } from '../lib/time';
import { pct, prettySlug } from '../lib/format';

type Point = { start: string; value: number };

/** Builds chart data from series that share x values by date. */
export function alignSeries(series: { label: string; points: Point[]; pointsOnly?: boolean; dashed?: boolean }[]): ChartData {
  const days = [...new Set(series.flatMap((s) => s.points.map((p) => p.start)))].sort();
  const index = new Map(days.map((d, i) => [d, i]));
  return {
    xs: days.map(dayToUnix),
    xLabels: days.map(formatDay),
    series: series.map((s) => {
      const values: (number | null)[] = days.map(() => null);
      for (const p of s.points) values[index.get(p.start)!] = p.value;
      return { label: s.label, values, pointsOnly: s.pointsOnly, dashed: s.dashed };
    }),
  };
}

function convertPoints(points: Point[], unit: Unit): Point[] {
  return points.map((p) => ({ start: p.start, value: fromKg(p.value, unit) }));
}

function E1rmSection({ clientId, unit, timeZone }: { clientId: string; unit: Unit; timeZone: string }) {
  const latest = useQuery({
    queryKey: ['e1rm', clientId],
    queryFn: () => unwrap(api.GET('/api/progress/{client_id}/e1rm', { params: { path: { client_id: clientId } } })),
  });
  const exercises = latest.data?.exercises ?? [];
  const [picked, setPicked] = useState<string | null>(null);
  const exercise = picked ?? exercises[0]?.exercise ?? null;
  const series = useQuery({
    queryKey: ['series', clientId, 'e1rm', exercise],
    enabled: !!exercise,
    queryFn: () =>
      unwrap(
        api.GET('/api/progress/{client_id}/series', {
          params: { path: { client_id: clientId }, query: { metric: 'e1rm', exercise: exercise!, bucket: 'week' } },
        }),
      ),
  });
  const current = exercises.find((e) => e.exercise === exercise);
  const data = useMemo(
    () => alignSeries([{ label: 'e1RM', points: convertPoints(series.data?.points ?? [], unit) }]),
    [series.data, unit],
  );
  if (latest.isLoading) return <Loading label="Loading e1RM…" />;
  if (latest.error) return <ProblemAlert error={latest.error} />;
  if (exercises.length === 0) return <Text c="dimmed">No lifts logged yet.</Text>;
  return (
    <Stack gap="xs">
      <Group align="end" wrap="wrap">
        <NativeSelect
          label="Exercise"
          value={exercise ?? ''}
          onChange={(e) => setPicked(e.currentTarget.value)}
          data={exercises.map((e) => ({ value: e.exercise, label: prettySlug(e.exercise) }))}
          data-testid="e1rm-exercise"
        />
        {current ? (
          <div>
            <Text size="xs" c="dimmed">
              Best e1RM
            </Text>
            <Text fw={700} size="xl" data-testid="e1rm-latest">
              {formatLoad(current.e1rm_kg, unit)}
            </Text>
            <Text size="xs" c="dimmed">
              {formatDateTime(current.achieved_at, timeZone)}
            </Text>
          </div>
        ) : null}
      </Group>
      {series.error ? <ProblemAlert error={series.error} /> : null}
      {series.isLoading ? (
        <Loading label="Loading chart…" />
      ) : (
        <ChartCard
          id="e1rm"
          title={`Estimated 1RM, ${exercise ? prettySlug(exercise) : ''}`}
          ariaLabel={`Estimated one-rep max of ${exercise ? prettySlug(exercise) : 'the exercise'} per week, in ${unit}`}
          data={data}
          unit={unit}
        />
      )}
    </Stack>
  );
}

function MuscleSection({ clientId, unit, ready }: { clientId: string; unit: Unit; ready: boolean }) {
  const q = useQuery({
    queryKey: ['muscles', clientId],
    queryFn: () =>
      unwrap(api.GET('/api/progress/{client_id}/muscles', { params: { path: { client_id: clientId }, query: { weeks: 12 } } })),
  });
  const data = useMemo(() => {
    const weeks = q.data?.weeks ?? [];
    const muscles = [...new Set(weeks.map((w) => w.muscle))].sort();
    return alignSeries(
      muscles.map((m) => ({
        label: prettySlug(m),
        points: weeks.filter((w) => w.muscle === m).map((w) => ({ start: w.week_start, value: round(fromKg(w.volume_kg, unit), 1) })),
      })),
    );
  }, [q.data, unit]);
  if (q.isLoading || !ready) return <Loading label="Loading muscle volume…" />;
  if (q.error) return <ProblemAlert error={q.error} />;
  return (
    <ChartCard
      id="muscles"
      title="Volume per muscle per week"
      ariaLabel={`Training volume per muscle group per week, in ${unit}`}
      data={data}
      unit={unit}
      digits={0}
    />
  );
}

/** A client records today's body weight (in their unit; stored in kg). */
function LogWeight({ clientId, unit, timeZone }: { clientId: string; unit: Unit; timeZone: string }) {
  const qc = useQueryClient();
  const [value, setValue] = useState<string | number>('');
  const log = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST('/api/metrics/{client_id}/measurements', {
          params: { path: { client_id: clientId } },
          body: { metric: 'weight', value: round(toKg(Number(value), unit), 2), time_zone: timeZone },
        }),
      ),
    onSuccess: () => {
      setValue('');
      void qc.invalidateQueries({ queryKey: ['series', clientId] });
      void qc.invalidateQueries({ queryKey: ['goals', clientId] });
    },
  });
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        if (Number(value) > 0) log.mutate();
      }}
      aria-label="Log body weight"
    >
      <Group align="end" gap="xs" mb="xs">
        <NumberInput label={`Today's weight (${unit})`} min={0} decimalScale={1} value={value} onChange={setValue} w={150} data-testid="log-weight" />
        <Button type="submit" variant="light" loading={log.isPending}>
          Log weight
        </Button>
      </Group>
      <ProblemAlert error={log.error} />
    </form>
  );
}

function BodyWeightSection({ clientId, unit, timeZone }: { clientId: string; unit: Unit; timeZone: string }) {
  const me = useMe();
  const raw = useQuery({
    queryKey: ['series', clientId, 'body-weight'],
    queryFn: () =>
      unwrap(
        api.GET('/api/progress/{client_id}/series', {
          params: { path: { client_id: clientId }, query: { metric: 'body', body_metric: 'weight', bucket: 'day' } },
        }),
      ),
  });
  const trend = useQuery({
    queryKey: ['series', clientId, 'weight-trend'],
    queryFn: () =>
      unwrap(
        api.GET('/api/progress/{client_id}/series', {
          params: { path: { client_id: clientId }, query: { metric: 'weight_trend', bucket: 'day' } },
        }),
      ),
  });
  const goals = useQuery({
    queryKey: ['goals', clientId],
    queryFn: () => unwrap(api.GET('/api/metrics/{client_id}/goals', { params: { path: { client_id: clientId } } })),
  });
  const goal = goals.data?.find((g) => g.kind === 'weight');
  const data = useMemo(() => {
    const rawPts = convertPoints(raw.data?.points ?? [], unit);
    const trendPts = convertPoints(trend.data?.points ?? [], unit);
    const lines: Parameters<typeof alignSeries>[0] = [
      { label: 'Weight', points: rawPts, pointsOnly: true },
      { label: 'Trend', points: trendPts },
    ];
    if (goal?.target_kg != null) {
      const days = [...new Set([...rawPts, ...trendPts].map((p) => p.start))];
      lines.push({ label: 'Goal', points: days.map((d) => ({ start: d, value: fromKg(goal.target_kg!, unit) })), dashed: true });
    }
    return alignSeries(lines);
  }, [raw.data, trend.data, goal, unit]);
  if (raw.isLoading || trend.isLoading) return <Loading label="Loading body weight…" />;
  return (
    <Stack gap="xs">
      <ProblemAlert error={raw.error ?? trend.error ?? goals.error} />
      <ChartCard
        id="bodyweight"
        title="Body weight"
        ariaLabel={`Body weight per day, raw measurements and trend${goal ? ' against the goal' : ''}, in ${unit}`}
        data={data}
        unit={unit}
        extra={
          <>
          {me.id === clientId ? <LogWeight clientId={clientId} unit={unit} timeZone={timeZone} /> : null}
          {goal ? (
            <Text size="sm" mb="xs" data-testid="weight-goal">
              Goal {formatLoad(goal.target_kg ?? 0, unit)} by {formatDay(goal.by)}
              {goal.progress
                ? ` · now ${formatLoad(goal.progress.current_kg ?? 0, unit)} · ${
                    goal.progress.achieved ? 'achieved' : goal.progress.on_track ? 'on track' : 'off track'
                  }`
                : ''}
            </Text>
          ) : null}
          </>
        }
      />
    </Stack>
  );
}

function AdherenceSection({ clientId, ready }: { clientId: string; ready: boolean }) {
  const q = useQuery({
    queryKey: ['adherence', clientId],
    queryFn: () => unwrap(api.GET('/api/progress/{client_id}/adherence', { params: { path: { client_id: clientId } } })),
  });
  if (q.isLoading || !ready) return <Loading label="Loading adherence…" />;
  if (q.error) return <ProblemAlert error={q.error} />;
  const d = q.data!;
  return (
    <Card withBorder padding="md" radius="md" component="section" aria-labelledby="adherence-h">
      <Title order={3} size="h5" id="adherence-h" mb="xs">
        Adherence
      </Title>
      <div className="fs-scroll">
        <Table data-testid="adherence-table" striped>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Window</Table.Th>
              <Table.Th>Overall</Table.Th>
              <Table.Th>Workouts</Table.Th>
              <Table.Th>Sessions</Table.Th>
              <Table.Th>No-shows</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {d.windows.map((w) => (
              <Table.Tr key={w.days}>
                <Table.Td>{w.days} days</Table.Td>
                <Table.Td>{pct(w.percent)}</Table.Td>
                <Table.Td>
                  {w.completed}/{w.planned} ({pct(w.workouts_percent)})
                </Table.Td>
                <Table.Td>
                  {w.attended}/{w.sessions}
                </Table.Td>
                <Table.Td>{w.no_shows}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </div>
      <Text size="sm" mt="xs">
        Streak: {d.streaks.current_weeks} weeks (best {d.streaks.longest_weeks})
      </Text>
    </Card>
  );
}

function RecordsSection({ clientId, unit, timeZone, ready }: { clientId: string; unit: Unit; timeZone: string; ready: boolean }) {
  const q = useQuery({
    queryKey: ['records', clientId],
    queryFn: () => unwrap(api.GET('/api/progress/{client_id}/records', { params: { path: { client_id: clientId } } })),
  });
  if (q.isLoading || !ready) return <Loading label="Loading records…" />;
  if (q.error) return <ProblemAlert error={q.error} />;
  const d = q.data!;
  return (
    <Card withBorder padding="md" radius="md" component="section" aria-labelledby="prs-h">
      <Title order={3} size="h5" id="prs-h" mb="xs">
        Personal records
      </Title>
      <div className="fs-scroll">
        <Table data-testid="records-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Exercise</Table.Th>
              <Table.Th>Best e1RM</Table.Th>
              <Table.Th>When</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {d.e1rm.map((r) => (
              <Table.Tr key={r.exercise}>
                <Table.Td>{prettySlug(r.exercise)}</Table.Td>
                <Table.Td>{formatLoad(r.e1rm_kg, unit)}</Table.Td>
                <Table.Td>{formatDateTime(r.achieved_at, timeZone)}</Table.Td>
              </Table.Tr>
            ))}
            {d.by_reps.map((r) => (
              <Table.Tr key={`${r.exercise}-${r.reps}`}>
                <Table.Td>
                  {prettySlug(r.exercise)} × {r.reps}
                </Table.Td>
                <Table.Td>{formatLoad(r.weight_kg, unit)}</Table.Td>
                <Table.Td>{formatDay(r.day)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </div>
    </Card>
  );
}

/** Whether the page's first chart has been drawn (or a second has passed): the sections
 * below the top ones render after it, so that the top of the page is drawn first. Their
 * reads start at once all the same. */
function useFirstChartDrawn(): boolean {
  const [drawn, setDrawn] = useState(() => performance.getEntriesByName(CHART_DRAWN).length > 0);
  useEffect(() => {
    if (drawn) return;
    const done = () => setDrawn(true);
    window.addEventListener(CHART_DRAWN, done);
    const timer = setTimeout(done, 1000);
    return () => {
      window.removeEventListener(CHART_DRAWN, done);
      clearTimeout(timer);
    };
  }, [drawn]);
  return drawn;
}

/** A client's progress: used by the client (their own id) and by their trainer. */
export function ProgressDashboard({ clientId }: { clientId: string }) {
  const { unit, timeZone, loading } = usePrefs();
  const ready = useFirstChartDrawn();
  if (loading) return <Loading label="Loading preferences…" />;
  return (
    <Stack gap="md">
      <E1rmSection clientId={clientId} unit={unit} timeZone={timeZone} />
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <BodyWeightSection clientId={clientId} unit={unit} timeZone={timeZone} />
        <MuscleSection clientId={clientId} unit={unit} ready={ready} />
        <AdherenceSection clientId={clientId} ready={ready} />
        <RecordsSection clientId={clientId} unit={unit} timeZone={timeZone} ready={ready} />
      </SimpleGrid>
    </Stack>
  );
}
