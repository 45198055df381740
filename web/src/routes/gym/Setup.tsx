import { useState } from 'react';
import { useMutation, useQueries, useQuery, useQueryClient } from '@tanstack/react-query';
import { Button, Card, Group, NativeSelect, NumberInput, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { api, type Schemas } from '../../api/client';
import { unwrap } from '../../api/problem';
import { useMe, usePrefs } from '../../auth/AuthContext';
import { ProblemAlert } from '../../components/ProblemAlert';
import { Loading } from '../../components/Loading';
import { formatDateTime } from '../../lib/time';
import { zonedToInstant } from '../trainer/zonedTime';

type Kind = Schemas['SessionKind'];

function SessionTypes({ gymId }: { gymId: string }) {
  const qc = useQueryClient();
  const q = useQuery({
    queryKey: ['session-types', gymId],
    queryFn: () => unwrap(api.GET('/api/sessions/types', { params: { query: { owner_id: gymId } } })),
  });
  const rooms = useQuery({
    queryKey: ['rooms', gymId],
    queryFn: () => unwrap(api.GET('/api/sessions/rooms', { params: { query: { gym_id: gymId } } })),
  });
  const [name, setName] = useState('');
  const [kind, setKind] = useState<Kind>('group');
  const [duration, setDuration] = useState<string | number>(60);
  const [capacity, setCapacity] = useState<string | number>(10);
  const [credits, setCredits] = useState<string | number>(1);
  const [cancelHours, setCancelHours] = useState<string | number>(24);
  const [roomId, setRoomId] = useState('');
  const create = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST('/api/sessions/types', {
          body: {
            name,
            kind,
            duration_min: Number(duration) || 60,
            capacity: kind === 'group' ? Number(capacity) || 1 : null,
            credits: Number(credits) || 0,
            cancel_window_hours: Number(cancelHours) || 0,
            room_id: roomId || null,
          },
        }),
      ),
    onSuccess: () => {
      setName('');
      void qc.invalidateQueries({ queryKey: ['session-types', gymId] });
    },
  });
  const roomName = (id?: string | null) => rooms.data?.find((r) => r.id === id)?.name ?? '–';
  return (
    <Card withBorder component="section" aria-labelledby="types-h">
      <Title order={2} size="h4" id="types-h" mb="xs">
        Session types
      </Title>
      {q.isLoading ? <Loading /> : null}
      <ProblemAlert error={q.error} />
      {q.data && q.data.length === 0 ? <Text c="dimmed">No session types yet.</Text> : null}
      {q.data && q.data.length > 0 ? (
        <div className="fs-scroll">
          <Table data-testid="session-types">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Kind</Table.Th>
                <Table.Th>Minutes</Table.Th>
                <Table.Th>Capacity</Table.Th>
                <Table.Th>Credits</Table.Th>
                <Table.Th>Free cancel (h)</Table.Th>
                <Table.Th>Room</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {q.data.map((t) => (
                <Table.Tr key={t.id}>
                  <Table.Td>{t.name}</Table.Td>
                  <Table.Td>{t.kind === 'group' ? 'Group' : '1:1'}</Table.Td>
                  <Table.Td>{t.duration_min}</Table.Td>
                  <Table.Td>{t.capacity}</Table.Td>
                  <Table.Td>{t.credits}</Table.Td>
                  <Table.Td>{t.cancel_window_hours}</Table.Td>
                  <Table.Td>{roomName(t.room_id)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </div>
      ) : null}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate();
        }}
      >
        <Title order={3} size="h5" mt="md">
          New session type
        </Title>
        <Group wrap="wrap" align="end" gap="xs">
          <TextInput label="Name" required value={name} onChange={(e) => setName(e.currentTarget.value)} w={200} />
          <NativeSelect label="Kind" value={kind} onChange={(e) => setKind(e.currentTarget.value as Kind)} data={[{ value: 'group', label: 'Group class' }, { value: 'one_on_one', label: '1:1' }]} />
          <NumberInput label="Minutes" min={5} max={480} value={duration} onChange={setDuration} w={90} />
          {kind === 'group' ? <NumberInput label="Capacity" min={1} max={500} value={capacity} onChange={setCapacity} w={90} /> : null}
          <NumberInput label="Credits" min={0} max={100} value={credits} onChange={setCredits} w={80} />
          <NumberInput label="Free cancel (h)" min={0} max={168} value={cancelHours} onChange={setCancelHours} w={120} />
          <NativeSelect label="Room" value={roomId} onChange={(e) => setRoomId(e.currentTarget.value)} data={[{ value: '', label: 'None' }, ...(rooms.data ?? []).map((r) => ({ value: r.id, label: r.name }))]} />
          <Button type="submit" loading={create.isPending}>
            Create
          </Button>
        </Group>
        <ProblemAlert error={create.error} />
      </form>
    </Card>
  );
}

function Rooms({ gymId }: { gymId: string }) {
  const qc = useQueryClient();
  const { timeZone } = usePrefs();
  const q = useQuery({
    queryKey: ['rooms', gymId],
    queryFn: () => unwrap(api.GET('/api/sessions/rooms', { params: { query: { gym_id: gymId } } })),
  });
  const [name, setName] = useState('');
  const [tz, setTz] = useState(timeZone);
  const [opens, setOpens] = useState('06:00');
  const [closes, setCloses] = useState('22:00');
  const create = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST('/api/sessions/rooms', {
          body: { name, time_zone: tz, hours: [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, starts: opens, ends: closes })) },
        }),
      ),
    onSuccess: () => {
      setName('');
      void qc.invalidateQueries({ queryKey: ['rooms', gymId] });
    },
  });
  return (
    <Card withBorder component="section" aria-labelledby="rooms-h">
      <Title order={2} size="h4" id="rooms-h" mb="xs">
        Rooms
      </Title>
      {q.isLoading ? <Loading /> : null}
      <ProblemAlert error={q.error} />
      {q.data && q.data.length === 0 ? <Text c="dimmed">No rooms yet.</Text> : null}
      <Stack gap={4}>
        {(q.data ?? []).map((r) => (
          <Text key={r.id} data-testid="room-row">
            {r.name} <Text span size="xs" c="dimmed">({r.time_zone})</Text>
          </Text>
        ))}
      </Stack>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate();
        }}
      >
        <Title order={3} size="h5" mt="md">
          New room
        </Title>
        <Group wrap="wrap" align="end" gap="xs">
          <TextInput label="Name" required value={name} onChange={(e) => setName(e.currentTarget.value)} w={180} />
          <TextInput label="Time zone" required value={tz} onChange={(e) => setTz(e.currentTarget.value)} w={160} />
          <TextInput type="time" label="Opens (daily)" value={opens} onChange={(e) => setOpens(e.currentTarget.value)} />
          <TextInput type="time" label="Closes" value={closes} onChange={(e) => setCloses(e.currentTarget.value)} />
          <Button type="submit" loading={create.isPending}>
            Create
          </Button>
        </Group>
        <ProblemAlert error={create.error} />
      </form>
    </Card>
  );
}

/** Scheduling the gym's group classes (POST /api/sessions): a group type, one of the gym's
 * trainers, a local date and time in the owner's zone; the room and capacity are the type's. */
function Classes({ gymId }: { gymId: string }) {
  const qc = useQueryClient();
  const { timeZone } = usePrefs();
  const types = useQuery({
    queryKey: ['session-types', gymId],
    queryFn: () => unwrap(api.GET('/api/sessions/types', { params: { query: { owner_id: gymId } } })),
  });
  const rooms = useQuery({
    queryKey: ['rooms', gymId],
    queryFn: () => unwrap(api.GET('/api/sessions/rooms', { params: { query: { gym_id: gymId } } })),
  });
  const members = useQuery({
    queryKey: ['gym-members', gymId],
    queryFn: () => unwrap(api.GET('/api/gyms/{id}/members', { params: { path: { id: gymId } } })),
  });
  const groupTypes = (types.data ?? []).filter((t) => t.kind === 'group');
  const trainers = (members.data ?? []).filter((m) => m.role === 'trainer');
  // The gym's upcoming classes: each trainer's calendar from now, its sessions of the gym's group types.
  const calendars = useQueries({
    queries: trainers.map((t) => ({
      queryKey: ['gym-classes', gymId, t.id],
      queryFn: () => unwrap(api.GET('/api/sessions', { params: { query: { trainer_id: t.id } } })),
    })),
  });
  const [typeId, setTypeId] = useState('');
  const [trainerId, setTrainerId] = useState('');
  const [date, setDate] = useState('');
  const [time, setTime] = useState('');
  const type = groupTypes.find((t) => t.id === typeId) ?? groupTypes[0];
  const trainer = trainers.find((t) => t.id === trainerId) ?? trainers[0];
  const startsAt = zonedToInstant(date, time, timeZone);
  const schedule = useMutation({
    mutationFn: () =>
      unwrap(api.POST('/api/sessions', { body: { session_type_id: type!.id, trainer_id: trainer!.id, starts_at: startsAt! } })),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['gym-classes', gymId] }),
  });
  const roomName = (id?: string | null) => rooms.data?.find((r) => r.id === id)?.name ?? '–';
  const typeOf = (id: string) => groupTypes.find((t) => t.id === id);
  const classes = calendars
    .flatMap((c) => c.data ?? [])
    .filter((s) => s.status === 'scheduled' && typeOf(s.session_type_id))
    .sort((a, b) => Date.parse(a.starts_at) - Date.parse(b.starts_at));
  const calendarError = calendars.find((c) => c.error)?.error;
  return (
    <Card withBorder component="section" aria-labelledby="classes-h">
      <Title order={2} size="h4" id="classes-h" mb="xs">
        Schedule a class
      </Title>
      <ProblemAlert error={types.error ?? members.error} />
      {types.data && groupTypes.length === 0 ? <Text c="dimmed">Create a group session type first.</Text> : null}
      <form
        data-testid="class-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (type && trainer && startsAt) schedule.mutate();
        }}
      >
        <Group wrap="wrap" align="end" gap="xs">
          <NativeSelect label="Class" data-testid="class-type" value={type?.id ?? ''} onChange={(e) => setTypeId(e.currentTarget.value)} data={groupTypes.map((t) => ({ value: t.id, label: t.name }))} />
          <NativeSelect label="Trainer" data-testid="class-trainer" value={trainer?.id ?? ''} onChange={(e) => setTrainerId(e.currentTarget.value)} data={trainers.map((t) => ({ value: t.id, label: t.display_name }))} />
          <TextInput type="date" label="Date" required data-testid="class-date" value={date} onChange={(e) => setDate(e.currentTarget.value)} />
          <TextInput type="time" label={`Starts (${timeZone})`} required data-testid="class-time" value={time} onChange={(e) => setTime(e.currentTarget.value)} />
          <Button type="submit" loading={schedule.isPending} disabled={!type || !trainer || !startsAt} data-testid="class-submit">
            Schedule
          </Button>
        </Group>
        {type ? (
          <Text size="sm" c="dimmed" mt={4} data-testid="class-room">
            Room: {roomName(type.room_id)} · {type.capacity} places · {type.duration_min} min (the type&apos;s)
          </Text>
        ) : null}
        <ProblemAlert error={schedule.error} />
      </form>
      <Title order={3} size="h5" mt="md">
        Upcoming classes
      </Title>
      <ProblemAlert error={calendarError} />
      {calendars.some((c) => c.isLoading) ? <Loading /> : null}
      {calendars.every((c) => c.isSuccess) && classes.length === 0 ? <Text c="dimmed">No upcoming classes.</Text> : null}
      {classes.length > 0 ? (
        <div className="fs-scroll">
          <Table data-testid="classes">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Starts</Table.Th>
                <Table.Th>Class</Table.Th>
                <Table.Th>Room</Table.Th>
                <Table.Th>Booked</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {classes.map((s) => (
                <Table.Tr key={s.id} data-testid="class-row" data-session={s.id}>
                  <Table.Td>{formatDateTime(s.starts_at, timeZone)}</Table.Td>
                  <Table.Td>{typeOf(s.session_type_id)?.name}</Table.Td>
                  <Table.Td>{roomName(s.room_id)}</Table.Td>
                  <Table.Td>
                    {s.booked}/{s.capacity}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </div>
      ) : null}
    </Card>
  );
}

export default function GymSetup() {
  const me = useMe();
  if (!me.gym_id) return <Text>You do not belong to a gym.</Text>;
  return (
    <Stack>
      <Title order={1} size="h2">
        Session types and rooms
      </Title>
      <SessionTypes gymId={me.gym_id} />
      <Rooms gymId={me.gym_id} />
      <Classes gymId={me.gym_id} />
    </Stack>
  );
}
