import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useDebouncedValue } from '@mantine/hooks';
import { ActionIcon, Alert, Button, Card, Group, NativeSelect, NumberInput, Stack, Table, Text, TextInput, Textarea, Title } from '@mantine/core';
import { api, type Schemas } from '../../api/client';
import { unwrap } from '../../api/problem';
import { useMe, usePrefs } from '../../auth/AuthContext';
import { ProblemAlert } from '../../components/ProblemAlert';
import { Loading } from '../../components/Loading';
import { toKg, round, type Unit } from '../../lib/units';
import { browserTimeZone, localDate } from '../../lib/time';
import { useUserNames } from '../../lib/useUserNames';

type ProgramDocument = Schemas['ProgramDocument'];

interface DraftSlot {
  exercise: string;
  name: string;
  sets: number;
  reps_min: number;
  reps_max: number;
  load: number;
  increment: number;
}
interface DraftDay {
  offset: number;
  name: string;
  slots: DraftSlot[];
}

const WEEKDAYS = ['Day 1 (start)', 'Day 2', 'Day 3', 'Day 4', 'Day 5', 'Day 6', 'Day 7'];

/** The program document the builder's draft stands for (loads entered in `unit`). */
export function buildDocument(name: string, description: string, weeks: number, days: DraftDay[], unit: Unit): ProgramDocument {
  const week = {
    days: [...days]
      .sort((a, b) => a.offset - b.offset)
      .map((d) => ({
        offset: d.offset,
        name: d.name,
        slots: d.slots.map((s) => ({
          exercise: s.exercise,
          sets: s.sets,
          reps_min: s.reps_min,
          reps_max: Math.max(s.reps_min, s.reps_max),
          load: { type: 'absolute' as const, kg: round(toKg(s.load, unit), 2) },
          progression: s.increment > 0 ? { increment_kg: round(toKg(s.increment, unit), 2), deload_percent: 10, deload_after_failures: 3 } : null,
        })),
      })),
  };
  return { name, description: description || null, weeks: Array.from({ length: weeks }, () => week) };
}

function ExercisePicker({ onPick }: { onPick: (slug: string, name: string) => void }) {
  const [q, setQ] = useState('');
  const [debounced] = useDebouncedValue(q, 250);
  const res = useQuery({
    queryKey: ['exercises', debounced],
    enabled: debounced.trim().length >= 2,
    queryFn: () => unwrap(api.GET('/api/exercises', { params: { query: { q: debounced.trim(), limit: 8 } } })),
  });
  return (
    <div>
      <TextInput label="Add exercise" placeholder="Search, e.g. squat" value={q} onChange={(e) => setQ(e.currentTarget.value)} data-testid="exercise-search" />
      <ProblemAlert error={res.error} />
      {res.data ? (
        <Group gap={4} mt={4} wrap="wrap">
          {res.data.map((ex) => (
            <Button
              key={ex.slug}
              size="compact-xs"
              variant="light"
              onClick={() => {
                onPick(ex.slug, ex.name);
                setQ('');
              }}
            >
              + {ex.name}
            </Button>
          ))}
          {res.data.length === 0 ? <Text size="xs">No match.</Text> : null}
        </Group>
      ) : null}
    </div>
  );
}

function Builder({ onDone }: { onDone: () => void }) {
  const qc = useQueryClient();
  const { unit } = usePrefs();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [weeks, setWeeks] = useState<string | number>(8);
  const [days, setDays] = useState<DraftDay[]>([{ offset: 0, name: 'Day A', slots: [] }]);
  const create = useMutation({
    mutationFn: () => unwrap(api.POST('/api/programs', { body: { document: buildDocument(name, description, Number(weeks) || 1, days, unit) } })),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: ['programs'] });
      onDone();
    },
  });
  const updateDay = (i: number, f: (d: DraftDay) => DraftDay) => setDays((ds) => ds.map((d, j) => (j === i ? f(d) : d)));
  const usedOffsets = new Set(days.map((d) => d.offset));
  return (
    <Card withBorder component="section" aria-labelledby="builder-h">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate();
        }}
      >
        <Title order={2} size="h4" id="builder-h" mb="xs">
          New program
        </Title>
        <Stack>
          <Group wrap="wrap" align="end">
            <TextInput label="Name" required value={name} onChange={(e) => setName(e.currentTarget.value)} w={260} data-testid="program-name" />
            <NumberInput label="Weeks" min={1} max={52} value={weeks} onChange={setWeeks} w={90} />
          </Group>
          <Textarea label="Description" value={description} onChange={(e) => setDescription(e.currentTarget.value)} autosize minRows={1} />
          {days.map((day, i) => (
            <Card key={i} withBorder padding="sm" data-testid="builder-day">
              <Group wrap="wrap" align="end" mb="xs">
                <TextInput label="Day name" required value={day.name} onChange={(e) => { const v = e.currentTarget.value; updateDay(i, (d) => ({ ...d, name: v })); }} w={160} />
                <NativeSelect
                  label="Day of the week"
                  value={String(day.offset)}
                  onChange={(e) => { const v = Number(e.currentTarget.value); updateDay(i, (d) => ({ ...d, offset: v })); }}
                  data={WEEKDAYS.map((w, o) => ({ value: String(o), label: w, disabled: o !== day.offset && usedOffsets.has(o) }))}
                />
                <Button variant="subtle" color="red" onClick={() => setDays((ds) => ds.filter((_, j) => j !== i))} disabled={days.length === 1}>
                  Remove day
                </Button>
              </Group>
              {day.slots.length > 0 ? (
                <div className="fs-scroll">
                  <Table>
                    <Table.Thead>
                      <Table.Tr>
                        <Table.Th>Exercise</Table.Th>
                        <Table.Th>Sets</Table.Th>
                        <Table.Th>Reps min</Table.Th>
                        <Table.Th>Reps max</Table.Th>
                        <Table.Th>Load ({unit})</Table.Th>
                        <Table.Th>+ per session ({unit})</Table.Th>
                        <Table.Th>
                          <span className="visually-hidden">Remove</span>
                        </Table.Th>
                      </Table.Tr>
                    </Table.Thead>
                    <Table.Tbody>
                      {day.slots.map((s, k) => {
                        const set = (patch: Partial<DraftSlot>) =>
                          updateDay(i, (d) => ({ ...d, slots: d.slots.map((x, m) => (m === k ? { ...x, ...patch } : x)) }));
                        return (
                          <Table.Tr key={k}>
                            <Table.Td>{s.name}</Table.Td>
                            <Table.Td><NumberInput aria-label={`${s.name} sets`} min={1} max={20} value={s.sets} onChange={(v) => set({ sets: Number(v) || 1 })} w={70} /></Table.Td>
                            <Table.Td><NumberInput aria-label={`${s.name} reps min`} min={1} max={100} value={s.reps_min} onChange={(v) => set({ reps_min: Number(v) || 1 })} w={70} /></Table.Td>
                            <Table.Td><NumberInput aria-label={`${s.name} reps max`} min={1} max={100} value={s.reps_max} onChange={(v) => set({ reps_max: Number(v) || 1 })} w={70} /></Table.Td>
                            <Table.Td><NumberInput aria-label={`${s.name} load`} min={0} decimalScale={2} value={s.load} onChange={(v) => set({ load: Number(v) || 0 })} w={90} /></Table.Td>
                            <Table.Td><NumberInput aria-label={`${s.name} increment`} min={0} decimalScale={2} value={s.increment} onChange={(v) => set({ increment: Number(v) || 0 })} w={90} /></Table.Td>
                            <Table.Td>
                              <ActionIcon variant="subtle" color="red" aria-label={`Remove ${s.name}`} onClick={() => updateDay(i, (d) => ({ ...d, slots: d.slots.filter((_, m) => m !== k) }))}>
                                ×
                              </ActionIcon>
                            </Table.Td>
                          </Table.Tr>
                        );
                      })}
                    </Table.Tbody>
                  </Table>
                </div>
              ) : (
                <Text size="sm" c="dimmed">
                  No exercises yet.
                </Text>
              )}
              <ExercisePicker
                onPick={(slug, exName) =>
                  updateDay(i, (d) => ({
                    ...d,
                    slots: [...d.slots, { exercise: slug, name: exName, sets: 3, reps_min: 5, reps_max: 8, load: unit === 'kg' ? 40 : 90, increment: unit === 'kg' ? 2.5 : 5 }],
                  }))
                }
              />
            </Card>
          ))}
          <Group>
            <Button
              variant="default"
              disabled={days.length >= 7}
              onClick={() => {
                const offset = [0, 1, 2, 3, 4, 5, 6].find((o) => !usedOffsets.has(o)) ?? 0;
                setDays((ds) => [...ds, { offset, name: `Day ${String.fromCharCode(65 + ds.length)}`, slots: [] }]);
              }}
            >
              Add day
            </Button>
            <Button type="submit" loading={create.isPending} disabled={days.some((d) => d.slots.length === 0)} data-testid="save-program">
              Save program
            </Button>
            <Button variant="subtle" onClick={onDone}>
              Cancel
            </Button>
          </Group>
          {days.some((d) => d.slots.length === 0) ? <Text size="xs" c="dimmed">Every day needs at least one exercise.</Text> : null}
          <ProblemAlert error={create.error} />
        </Stack>
      </form>
    </Card>
  );
}

function AssignForm({ programId }: { programId: string }) {
  const me = useMe();
  const { timeZone } = usePrefs();
  const rels = useQuery({ queryKey: ['relationships'], queryFn: () => unwrap(api.GET('/api/users/relationships')) });
  const clients = (rels.data ?? []).filter((r) => r.status === 'active' && r.trainer_id === me.id).map((r) => r.client_id);
  const names = useUserNames(clients);
  const [client, setClient] = useState('');
  const [start, setStart] = useState(() => localDate(new Date(), timeZone));
  const [tz, setTz] = useState(timeZone || browserTimeZone());
  const assign = useMutation({
    mutationFn: () =>
      unwrap(api.POST('/api/programs/{id}/assignments', { params: { path: { id: programId } }, body: { client_id: client || clients[0]!, start_date: start, time_zone: tz } })),
  });
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        assign.mutate();
      }}
    >
      <Group wrap="wrap" align="end" gap="xs">
        <NativeSelect label="Client" value={client || clients[0] || ''} onChange={(e) => setClient(e.currentTarget.value)} data={clients.map((c) => ({ value: c, label: names[c] ?? c }))} />
        <TextInput type="date" label="Start" value={start} onChange={(e) => setStart(e.currentTarget.value)} />
        <TextInput label="Client time zone" value={tz} onChange={(e) => setTz(e.currentTarget.value)} w={160} />
        <Button type="submit" size="sm" loading={assign.isPending} disabled={clients.length === 0}>
          Assign
        </Button>
      </Group>
      <ProblemAlert error={assign.error ?? rels.error} />
      {assign.isSuccess ? <Alert color="green" mt="xs">Assigned.</Alert> : null}
    </form>
  );
}

export default function Programs() {
  const [building, setBuilding] = useState(false);
  const [assigning, setAssigning] = useState<string | null>(null);
  const q = useQuery({ queryKey: ['programs'], queryFn: () => unwrap(api.GET('/api/programs')) });
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={1} size="h2">
          Programs
        </Title>
        {!building ? (
          <Button onClick={() => setBuilding(true)} data-testid="new-program">
            New program
          </Button>
        ) : null}
      </Group>
      {building ? <Builder onDone={() => setBuilding(false)} /> : null}
      {q.isLoading ? <Loading /> : null}
      <ProblemAlert error={q.error} />
      {q.data && q.data.length === 0 ? <Text c="dimmed">No programs yet.</Text> : null}
      {(q.data ?? []).map((p) => (
        <Card key={p.id} withBorder padding="sm" data-testid="program-row">
          <Group justify="space-between" wrap="wrap">
            <div>
              <Text fw={600}>{p.name}</Text>
              <Text size="xs" c="dimmed">
                version {p.version}
                {p.shared_gym_id ? ' · shared with the gym' : ''}
              </Text>
            </div>
            <Button size="compact-sm" variant="light" onClick={() => setAssigning(assigning === p.id ? null : p.id)}>
              {assigning === p.id ? 'Close' : 'Assign to a client'}
            </Button>
          </Group>
          {assigning === p.id ? <AssignForm programId={p.id} /> : null}
        </Card>
      ))}
    </Stack>
  );
}
