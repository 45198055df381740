import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useDebouncedValue } from '@mantine/hooks';
import { ActionIcon, Alert, Button, Card, Group, NativeSelect, NumberInput, Stack, Table, Text, TextInput, Textarea, Title } from '@mantine/core';
import { api, type Schemas } from '../../api/client';
import { unwrap } from '../../api/problem';
import { useMe, usePrefs } from '../../auth/AuthContext';
import { ProblemAlert } from '../../components/ProblemAlert';
import { Loading } from '../../components/Loading';
import { fromKg, toKg, round, type Unit } from '../../lib/units';
import { prettySlug } from '../../lib/format';
import { browserTimeZone, localDate } from '../../lib/time';
import { useUserNames } from '../../lib/useUserNames';

type ProgramDocument = Schemas['ProgramDocument'];
type Slot = Schemas['Slot'];
type Template = Schemas['Template'];

/** What a slot holds that the builder does not edit, saved back as it was stored: a load
 * other than a weight (percent of e1RM, RIR, RPE), rest, tempo, notes, superset, and the
 * progression's deload rule. */
type KeptSlot = Partial<Pick<Slot, 'rest_secs' | 'tempo' | 'notes' | 'superset'>> & {
  load?: Exclude<Slot['load'], { type: 'absolute' }>;
  deload?: Omit<Schemas['Progression'], 'increment_kg'>;
};

export interface DraftSlot {
  exercise: string;
  name: string;
  sets: number;
  reps_min: number;
  reps_max: number;
  /** An absolute load in the trainer's unit. */
  load: number;
  /** Added per successful session, in the trainer's unit; 0: no progression. */
  increment: number;
  kept?: KeptSlot;
}
export interface DraftDay {
  offset: number;
  name: string;
  slots: DraftSlot[];
}
/** The builder's state. */
export interface ProgramDraft {
  name: string;
  description: string;
  weeks: number;
  days: DraftDay[];
}

const DEFAULT_DELOAD = { deload_percent: 10, deload_after_failures: 3 };

const WEEKDAYS = ['Day 1 (start)', 'Day 2', 'Day 3', 'Day 4', 'Day 5', 'Day 6', 'Day 7'];

/** The program document the builder's draft stands for (loads entered in `unit`). */
export function buildDocument(name: string, description: string, weeks: number, days: DraftDay[], unit: Unit): ProgramDocument {
  const week = {
    days: [...days]
      .sort((a, b) => a.offset - b.offset)
      .map((d) => ({
        offset: d.offset,
        name: d.name,
        slots: d.slots.map((s): Slot => {
          const { load, deload, ...kept } = s.kept ?? {};
          return {
            exercise: s.exercise,
            sets: s.sets,
            reps_min: s.reps_min,
            reps_max: Math.max(s.reps_min, s.reps_max),
            load: load ?? { type: 'absolute', kg: round(toKg(s.load, unit), 2) },
            ...kept,
            progression: s.increment > 0 ? { increment_kg: round(toKg(s.increment, unit), 2), ...(deload ?? DEFAULT_DELOAD) } : null,
          };
        }),
      })),
  };
  return { name, description: description || null, weeks: Array.from({ length: weeks }, () => week) };
}

/** A stored program in the builder's terms (loads in `unit`). The builder repeats one week;
 * `uniform` is false when the document's weeks differ, and saving would repeat week 1. */
export function draftFromDocument(doc: ProgramDocument, unit: Unit): { draft: ProgramDraft; uniform: boolean } {
  const first = doc.weeks[0] ?? { days: [] };
  const days = first.days.map((d) => ({
    offset: d.offset,
    name: d.name,
    slots: d.slots.map((slot): DraftSlot => {
      const { exercise, sets, reps_min, reps_max, load, progression, ...rest } = slot;
      const kept: KeptSlot = { ...rest };
      if (load.type !== 'absolute') kept.load = load;
      if (progression) {
        const { increment_kg: _, ...deload } = progression;
        kept.deload = deload;
      }
      return {
        exercise,
        name: prettySlug(exercise),
        sets,
        reps_min,
        reps_max,
        load: load.type === 'absolute' ? round(fromKg(load.kg, unit), 2) : 0,
        increment: progression ? round(fromKg(progression.increment_kg, unit), 2) : 0,
        kept,
      };
    }),
  }));
  const same = JSON.stringify(first);
  return {
    draft: { name: doc.name, description: doc.description ?? '', weeks: Math.max(1, doc.weeks.length), days },
    uniform: doc.weeks.every((w) => JSON.stringify(w) === same),
  };
}

/** How a load the builder does not edit reads in its table. */
function fixedLoadLabel(load: NonNullable<KeptSlot['load']>): string {
  switch (load.type) {
    case 'percent_e1rm':
      return `${load.percent} % e1RM`;
    case 'rir':
      return `${load.rir} RIR`;
    case 'rpe':
      return `RPE ${load.rpe}`;
  }
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

/** The program builder: a new template (POST), or a new version of `editing` (PUT). */
function Builder({ editing, onDone }: { editing?: Template; onDone: (saved?: Template) => void }) {
  const qc = useQueryClient();
  const { unit } = usePrefs();
  const [initial] = useState(() => (editing ? draftFromDocument(editing.document, unit) : null));
  const [name, setName] = useState(initial?.draft.name ?? '');
  const [description, setDescription] = useState(initial?.draft.description ?? '');
  const [weeks, setWeeks] = useState<string | number>(initial?.draft.weeks ?? 8);
  const [days, setDays] = useState<DraftDay[]>(initial?.draft.days ?? [{ offset: 0, name: 'Day A', slots: [] }]);
  const save = useMutation({
    mutationFn: () => {
      const document = buildDocument(name, description, Number(weeks) || 1, days, unit);
      return editing
        ? unwrap(api.PUT('/api/programs/{id}', { params: { path: { id: editing.id } }, body: { document, shared_gym_id: editing.shared_gym_id ?? null } }))
        : unwrap(api.POST('/api/programs', { body: { document } }));
    },
    onSuccess: (saved) => {
      qc.setQueryData(['program', saved.id], saved);
      void qc.invalidateQueries({ queryKey: ['programs'] });
      onDone(saved);
    },
  });
  const updateDay = (i: number, f: (d: DraftDay) => DraftDay) => setDays((ds) => ds.map((d, j) => (j === i ? f(d) : d)));
  const usedOffsets = new Set(days.map((d) => d.offset));
  return (
    <Card withBorder component="section" aria-labelledby="builder-h">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate();
        }}
        data-testid="program-builder"
      >
        <Title order={2} size="h4" id="builder-h" mb="xs">
          {editing ? `Edit program (version ${editing.version})` : 'New program'}
        </Title>
        <Stack>
          {initial && !initial.uniform ? (
            <Alert color="yellow" data-testid="program-weeks-differ">
              The weeks of this program differ; the builder shows week 1, and saving repeats it in every week.
            </Alert>
          ) : null}
          <Group wrap="wrap" align="end">
            <TextInput label="Name" required value={name} onChange={(e) => setName(e.currentTarget.value)} w={260} data-testid="program-name" />
            <NumberInput label="Weeks" min={1} max={52} value={weeks} onChange={setWeeks} w={90} data-testid="program-weeks" />
          </Group>
          <Textarea label="Description" data-testid="program-description" value={description} onChange={(e) => setDescription(e.currentTarget.value)} autosize minRows={1} />
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
                          <Table.Tr key={k} data-testid="builder-slot" data-exercise={s.exercise}>
                            <Table.Td>{s.name}</Table.Td>
                            <Table.Td><NumberInput aria-label={`${s.name} sets`} min={1} max={20} value={s.sets} onChange={(v) => set({ sets: Number(v) || 1 })} w={70} data-testid="slot-sets" /></Table.Td>
                            <Table.Td><NumberInput aria-label={`${s.name} reps min`} min={1} max={100} value={s.reps_min} onChange={(v) => set({ reps_min: Number(v) || 1 })} w={70} /></Table.Td>
                            <Table.Td><NumberInput aria-label={`${s.name} reps max`} min={1} max={100} value={s.reps_max} onChange={(v) => set({ reps_max: Number(v) || 1 })} w={70} /></Table.Td>
                            <Table.Td>
                              {s.kept?.load ? (
                                <Text size="sm">{fixedLoadLabel(s.kept.load)}</Text>
                              ) : (
                                <NumberInput aria-label={`${s.name} load`} min={0} decimalScale={2} value={s.load} onChange={(v) => set({ load: Number(v) || 0 })} w={90} />
                              )}
                            </Table.Td>
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
            <Button type="submit" loading={save.isPending} disabled={days.some((d) => d.slots.length === 0)} data-testid="save-program">
              {editing ? 'Save new version' : 'Save program'}
            </Button>
            <Button variant="subtle" onClick={() => onDone()}>
              Cancel
            </Button>
          </Group>
          {days.some((d) => d.slots.length === 0) ? <Text size="xs" c="dimmed">Every day needs at least one exercise.</Text> : null}
          <ProblemAlert error={save.error} />
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

/** Loads a template at its current version into the builder. */
function EditProgram({ id, onDone }: { id: string; onDone: (saved?: Template) => void }) {
  const { loading } = usePrefs();
  const q = useQuery({ queryKey: ['program', id], queryFn: () => unwrap(api.GET('/api/programs/{id}', { params: { path: { id } } })) });
  // The builder shows loads in the trainer's unit: wait for it.
  if (q.isLoading || loading) return <Loading />;
  if (!q.data) return <ProblemAlert error={q.error} />;
  return <Builder key={`${id}@${q.data.version}`} editing={q.data} onDone={onDone} />;
}

export default function Programs() {
  const me = useMe();
  const [building, setBuilding] = useState(false);
  const [editing, setEditing] = useState<string | null>(null);
  const [saved, setSaved] = useState<Template | null>(null);
  const [assigning, setAssigning] = useState<string | null>(null);
  const q = useQuery({ queryKey: ['programs'], queryFn: () => unwrap(api.GET('/api/programs')) });
  const done = (t?: Template) => {
    setBuilding(false);
    setEditing(null);
    if (t) setSaved(t);
  };
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={1} size="h2">
          Programs
        </Title>
        {!building && !editing ? (
          <Button
            onClick={() => {
              setSaved(null);
              setBuilding(true);
            }}
            data-testid="new-program"
          >
            New program
          </Button>
        ) : null}
      </Group>
      {building ? <Builder onDone={done} /> : null}
      {editing ? <EditProgram id={editing} onDone={done} /> : null}
      {saved ? (
        <Alert color="green" withCloseButton onClose={() => setSaved(null)} data-testid="program-saved" data-program-id={saved.id} data-version={saved.version}>
          Saved “{saved.document.name}”, version {saved.version}.
        </Alert>
      ) : null}
      {q.isLoading ? <Loading /> : null}
      <ProblemAlert error={q.error} />
      {q.data && q.data.length === 0 ? <Text c="dimmed">No programs yet.</Text> : null}
      {(q.data ?? []).map((p) => (
        <Card key={p.id} withBorder padding="sm" data-testid="program-row" data-program-id={p.id} data-version={p.version}>
          <Group justify="space-between" wrap="wrap">
            <div>
              <Text fw={600} data-testid="program-name-shown">{p.name}</Text>
              <Text size="xs" c="dimmed">
                version {p.version}
                {p.shared_gym_id ? ' · shared with the gym' : ''}
              </Text>
            </div>
            <Group gap="xs">
              {p.owner_kind === 'trainer' && p.owner_id === me.id ? (
                <Button
                  size="compact-sm"
                  variant="default"
                  disabled={building || editing === p.id}
                  onClick={() => {
                    setSaved(null);
                    setEditing(p.id);
                  }}
                  data-testid="program-edit"
                >
                  Edit
                </Button>
              ) : null}
              <Button size="compact-sm" variant="light" onClick={() => setAssigning(assigning === p.id ? null : p.id)}>
                {assigning === p.id ? 'Close' : 'Assign to a client'}
              </Button>
            </Group>
          </Group>
          {assigning === p.id ? <AssignForm programId={p.id} /> : null}
        </Card>
      ))}
    </Stack>
  );
}
