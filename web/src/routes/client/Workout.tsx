import { useMemo, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Badge, Button, Card, Group, Modal, NumberInput, Stack, Table, Text, Title } from '@mantine/core';
import { api, type Schemas } from '../../api/client';
import { unwrap } from '../../api/problem';
import { useMe, usePrefs } from '../../auth/AuthContext';
import { ProblemAlert } from '../../components/ProblemAlert';
import { Loading } from '../../components/Loading';
import { formatLoad, fromKg, round, type Unit } from '../../lib/units';
import { formatDay, formatTime, localDate } from '../../lib/time';
import { prettySlug } from '../../lib/format';

type WorkoutSet = Schemas['WorkoutSet'];
type Prescription = Schemas['Prescription'];

function loadText(p: Prescription, unit: Unit): string {
  if (p.prescribed_kg != null) return formatLoad(p.prescribed_kg, unit);
  const l = p.load;
  switch (l.type) {
    case 'absolute':
      return formatLoad(l.kg, unit);
    case 'percent_e1rm':
      return `${l.percent} % e1RM`;
    case 'rir':
      return `RIR ${l.rir}`;
    case 'rpe':
      return `RPE ${l.rpe}`;
  }
}

function num(v: string | number): number | null {
  const n = typeof v === 'number' ? v : parseFloat(v);
  return Number.isFinite(n) ? n : null;
}

/** One row to log a set of a prescribed exercise. */
function LogSetForm({ slot, unit, workoutId }: { slot: Prescription; unit: Unit; workoutId: string | null }) {
  const qc = useQueryClient();
  const [reps, setReps] = useState<string | number>(slot.reps_max);
  const [weight, setWeight] = useState<string | number>(slot.prescribed_kg != null ? round(fromKg(slot.prescribed_kg, unit), 1) : '');
  const [rir, setRir] = useState<string | number>('');
  const log = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST('/api/workouts/sets', {
          body: {
            exercise: slot.exercise,
            reps: num(reps) ?? 0,
            weight: num(weight),
            unit,
            rir: num(rir),
            workout_id: workoutId,
          },
        }),
      ),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['sets'] }),
  });
  const label = prettySlug(slot.exercise);
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        log.mutate();
      }}
      aria-label={`Log a set of ${label}`}
    >
      <Group align="end" gap="xs" wrap="wrap">
        <NumberInput label="Reps" min={1} max={100} value={reps} onChange={setReps} w={80} required />
        <NumberInput label={`Load (${unit})`} min={0} step={unit === 'kg' ? 2.5 : 5} decimalScale={2} value={weight} onChange={setWeight} w={110} />
        <NumberInput label="RIR" min={0} max={10} value={rir} onChange={setRir} w={70} />
        <Button type="submit" loading={log.isPending} data-testid={`log-set-${slot.exercise}`}>
          Log set
        </Button>
      </Group>
      <ProblemAlert error={log.error} />
    </form>
  );
}

function EditSetModal({ set, unit, onClose }: { set: WorkoutSet; unit: Unit; onClose: () => void }) {
  const qc = useQueryClient();
  const [reps, setReps] = useState<string | number>(set.reps);
  // The API gives the load in the reader's unit (kg to 0.01, lb to 0.1, which round back exactly).
  const [weight, setWeight] = useState<string | number>(set.unit === unit ? set.weight : round(fromKg(set.weight_kg, unit), unit === 'lb' ? 1 : 2));
  const [rir, setRir] = useState<string | number>(set.rir ?? '');
  const save = useMutation({
    mutationFn: () =>
      unwrap(
        api.PUT('/api/workouts/sets/{id}', {
          params: { path: { id: set.id } },
          body: {
            exercise: set.exercise,
            reps: num(reps) ?? set.reps,
            weight: num(weight),
            unit,
            rir: num(rir),
            failed: set.failed,
            workout_id: set.workout_id ?? null,
          },
        }),
      ),
    onSuccess: async () => {
      await qc.invalidateQueries({ queryKey: ['sets'] });
      onClose();
    },
  });
  return (
    <Modal opened onClose={onClose} title={`Edit set: ${prettySlug(set.exercise)}`}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate();
        }}
      >
        <Stack>
          <NumberInput label="Reps" min={1} max={100} value={reps} onChange={setReps} required data-autofocus />
          <NumberInput label={`Load (${unit})`} min={0} decimalScale={2} value={weight} onChange={setWeight} />
          <NumberInput label="RIR" min={0} max={10} value={rir} onChange={setRir} />
          <ProblemAlert error={save.error} />
          <Group justify="end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={save.isPending}>
              Save
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

function TodaySets({ unit, timeZone }: { unit: Unit; timeZone: string }) {
  const me = useMe();
  const qc = useQueryClient();
  const [editing, setEditing] = useState<WorkoutSet | null>(null);
  const sets = useQuery({
    queryKey: ['sets', me.id],
    queryFn: () => unwrap(api.GET('/api/workouts/sets', { params: { query: { limit: 200 } } })),
  });
  const del = useMutation({
    mutationFn: (id: string) => unwrap(api.DELETE('/api/workouts/sets/{id}', { params: { path: { id } } })),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['sets'] }),
  });
  const today = localDate(new Date(), timeZone);
  const todays = useMemo(
    () => (sets.data ?? []).filter((s) => localDate(new Date(s.performed_at), timeZone) === today),
    [sets.data, timeZone, today],
  );
  if (sets.isLoading) return <Loading label="Loading sets…" />;
  return (
    <Card withBorder component="section" aria-labelledby="today-sets-h">
      <Title order={2} size="h4" id="today-sets-h" mb="xs">
        Logged today
      </Title>
      <ProblemAlert error={sets.error ?? del.error} />
      {todays.length === 0 ? (
        <Text c="dimmed">No sets logged today.</Text>
      ) : (
        <div className="fs-scroll">
          <Table data-testid="today-sets">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Time</Table.Th>
                <Table.Th>Exercise</Table.Th>
                <Table.Th>Reps</Table.Th>
                <Table.Th>Load</Table.Th>
                <Table.Th>RIR</Table.Th>
                <Table.Th>
                  <span className="visually-hidden">Actions</span>
                </Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {todays.map((s) => (
                <Table.Tr key={s.id} data-testid="set-row">
                  <Table.Td>{formatTime(s.performed_at, timeZone)}</Table.Td>
                  <Table.Td>{prettySlug(s.exercise)}</Table.Td>
                  <Table.Td>{s.reps}</Table.Td>
                  <Table.Td>{formatLoad(s.weight_kg, unit)}</Table.Td>
                  <Table.Td>{s.rir ?? '–'}</Table.Td>
                  <Table.Td>
                    <Group gap={4} wrap="nowrap">
                      <Button size="compact-sm" variant="light" onClick={() => setEditing(s)} aria-label={`Edit ${prettySlug(s.exercise)} set`}>
                        Edit
                      </Button>
                      <Button
                        size="compact-sm"
                        variant="light"
                        color="red"
                        loading={del.isPending && del.variables === s.id}
                        onClick={() => {
                          if (window.confirm('Delete this set?')) del.mutate(s.id);
                        }}
                        aria-label={`Delete ${prettySlug(s.exercise)} set`}
                      >
                        Delete
                      </Button>
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </div>
      )}
      {editing ? <EditSetModal set={editing} unit={unit} onClose={() => setEditing(null)} /> : null}
    </Card>
  );
}

export default function WorkoutToday() {
  const { unit, timeZone, loading } = usePrefs();
  const [workoutId, setWorkoutId] = useState<string | null>(null);
  const assignments = useQuery({
    queryKey: ['assignments'],
    queryFn: () => unwrap(api.GET('/api/programs/assignments')),
  });
  const active = assignments.data?.find((a) => a.status === 'active');
  const next = useQuery({
    queryKey: ['next', active?.id],
    enabled: !!active,
    queryFn: () => unwrap(api.GET('/api/programs/assignments/{id}/next', { params: { path: { id: active!.id } } })),
  });
  const start = useMutation({
    mutationFn: () => unwrap(api.POST('/api/workouts', { body: { planned_workout_id: next.data?.planned_workout_id ?? null } })),
    onSuccess: (w) => setWorkoutId(w.id),
  });
  if (loading || assignments.isLoading) return <Loading />;
  return (
    <Stack>
      <Title order={1} size="h2">
        Today&apos;s workout
      </Title>
      <ProblemAlert error={assignments.error ?? next.error} />
      {!active && !assignments.error ? <Text>No program is assigned to you yet.</Text> : null}
      {next.isLoading ? <Loading label="Loading the next workout…" /> : null}
      {next.data ? (
        <Card withBorder component="section" aria-labelledby="next-h">
          <Group justify="space-between" wrap="wrap">
            <Title order={2} size="h4" id="next-h">
              {next.data.name} <Badge variant="light">week {next.data.week}, day {next.data.day}</Badge>
            </Title>
            <Text size="sm">{formatDay(next.data.date)}</Text>
          </Group>
          <Group my="xs">
            {workoutId ? (
              <Badge color="green">Workout started</Badge>
            ) : (
              <Button size="xs" variant="light" onClick={() => start.mutate()} loading={start.isPending}>
                Start workout
              </Button>
            )}
          </Group>
          <ProblemAlert error={start.error} />
          <Stack gap="md">
            {next.data.slots.map((slot, i) => (
              <div key={`${slot.exercise}-${i}`}>
                <Text fw={600}>
                  {prettySlug(slot.exercise)}: {slot.sets} × {slot.reps_min === slot.reps_max ? slot.reps_min : `${slot.reps_min}–${slot.reps_max}`} @{' '}
                  {loadText(slot, unit)}
                </Text>
                <LogSetForm slot={slot} unit={unit} workoutId={workoutId} />
              </div>
            ))}
          </Stack>
        </Card>
      ) : null}
      <TodaySets unit={unit} timeZone={timeZone} />
    </Stack>
  );
}
