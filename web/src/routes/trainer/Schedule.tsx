import { Fragment, useEffect, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Alert, Badge, Button, Card, Checkbox, Group, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { api, type Schemas } from '../../api/client';
import { unwrap } from '../../api/problem';
import { useMe, usePrefs } from '../../auth/AuthContext';
import { ProblemAlert } from '../../components/ProblemAlert';
import { Loading } from '../../components/Loading';
import { formatDateTime } from '../../lib/time';
import { useUserNames } from '../../lib/useUserNames';

type Weekly = Schemas['WeeklyHoursDto'];
const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

function AvailabilityEditor({ trainerId }: { trainerId: string }) {
  const qc = useQueryClient();
  const q = useQuery({
    queryKey: ['availability', trainerId],
    queryFn: () => unwrap(api.GET('/api/availability/{trainer_id}', { params: { path: { trainer_id: trainerId } } })),
    retry: false,
  });
  const [tz, setTz] = useState('');
  const [weekly, setWeekly] = useState<Weekly[]>([]);
  useEffect(() => {
    if (q.data) {
      setTz(q.data.time_zone);
      setWeekly(q.data.weekly);
    }
  }, [q.data]);
  const save = useMutation({
    mutationFn: () => {
      const a = q.data;
      return unwrap(
        api.PUT('/api/availability/{trainer_id}', {
          params: { path: { trainer_id: trainerId } },
          body: {
            time_zone: tz,
            weekly,
            exceptions: a?.exceptions ?? [],
            buffer_before_min: a?.buffer_before_min,
            buffer_after_min: a?.buffer_after_min,
            min_notice_min: a?.min_notice_min,
            horizon_days: a?.horizon_days,
            max_per_day: a?.max_per_day,
            max_per_week: a?.max_per_week,
            slot_step_min: a?.slot_step_min,
          },
        }),
      );
    },
    onSuccess: (d) => qc.setQueryData(['availability', trainerId], d),
  });
  if (q.isLoading) return <Loading />;
  return (
    <Card withBorder component="section" aria-labelledby="avail-h">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate();
        }}
      >
        <Title order={2} size="h4" id="avail-h" mb="xs">
          Weekly availability
        </Title>
        {q.error && (q.error as { status?: number }).status !== 404 ? <ProblemAlert error={q.error} /> : null}
        <TextInput label="Time zone" value={tz} onChange={(e) => setTz(e.currentTarget.value)} w={220} required />
        <div className="fs-scroll">
          <Table mt="xs">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Day</Table.Th>
                <Table.Th>Open</Table.Th>
                <Table.Th>From</Table.Th>
                <Table.Th>Until</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {DAYS.map((name, i) => {
                const wd = i + 1;
                const h = weekly.find((w) => w.weekday === wd);
                const patch = (p: Partial<Weekly>) => setWeekly((ws) => ws.map((w) => (w.weekday === wd ? { ...w, ...p } : w)));
                return (
                  <Table.Tr key={wd}>
                    <Table.Th scope="row">{name}</Table.Th>
                    <Table.Td>
                      <Checkbox
                        aria-label={`Open on ${name}`}
                        checked={!!h}
                        onChange={(e) => {
                          const on = e.currentTarget.checked;
                          setWeekly((ws) => (on ? [...ws, { weekday: wd, starts: '09:00', ends: '17:00' }] : ws.filter((w) => w.weekday !== wd)));
                        }}
                      />
                    </Table.Td>
                    <Table.Td>
                      {h ? <TextInput type="time" aria-label={`${name} from`} value={h.starts} onChange={(e) => patch({ starts: e.currentTarget.value })} /> : '–'}
                    </Table.Td>
                    <Table.Td>
                      {h ? <TextInput type="time" aria-label={`${name} until`} value={h.ends} onChange={(e) => patch({ ends: e.currentTarget.value })} /> : '–'}
                    </Table.Td>
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
        </div>
        <ProblemAlert error={save.error} />
        {save.isSuccess ? <Alert color="green">Saved.</Alert> : null}
        <Button type="submit" mt="sm" loading={save.isPending}>
          Save availability
        </Button>
      </form>
    </Card>
  );
}

function Attendees({ sessionId }: { sessionId: string }) {
  const q = useQuery({
    queryKey: ['session', sessionId],
    queryFn: () => unwrap(api.GET('/api/sessions/{id}', { params: { path: { id: sessionId } } })),
  });
  const names = useUserNames((q.data?.attendees ?? []).map((a) => a.client_id));
  if (q.isLoading) return <Loading />;
  if (q.error) return <ProblemAlert error={q.error} />;
  return (
    <Group gap={4} wrap="wrap">
      {(q.data?.attendees ?? []).map((a) => (
        <Badge key={a.booking_id} variant="light" color={a.status === 'booked' ? 'blue' : 'gray'}>
          {names[a.client_id]} · {a.status}
        </Badge>
      ))}
    </Group>
  );
}

function Sessions({ trainerId }: { trainerId: string }) {
  const { timeZone } = usePrefs();
  const [from] = useState(() => new Date().toISOString());
  const [open, setOpen] = useState<string | null>(null);
  const q = useQuery({
    queryKey: ['sessions', trainerId, from],
    queryFn: () => unwrap(api.GET('/api/sessions', { params: { query: { trainer_id: trainerId, from } } })),
  });
  return (
    <Card withBorder component="section" aria-labelledby="sessions-h">
      <Title order={2} size="h4" id="sessions-h" mb="xs">
        Upcoming sessions and bookings
      </Title>
      {q.isLoading ? <Loading /> : null}
      <ProblemAlert error={q.error} />
      {q.data && q.data.length === 0 ? <Text c="dimmed">No upcoming sessions.</Text> : null}
      {q.data && q.data.length > 0 ? (
        <div className="fs-scroll">
          <Table data-testid="trainer-sessions">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>When</Table.Th>
                <Table.Th>Kind</Table.Th>
                <Table.Th>Booked</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>
                  <span className="visually-hidden">Attendees</span>
                </Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {q.data.map((s) => (
                <Fragment key={s.id}>
                  <Table.Tr>
                    <Table.Td>{formatDateTime(s.starts_at, timeZone)}</Table.Td>
                    <Table.Td>{s.kind === 'group' ? 'Class' : '1:1'}</Table.Td>
                    <Table.Td>
                      {s.booked}/{s.capacity}
                      {s.waitlisted ? ` (+${s.waitlisted} waiting)` : ''}
                    </Table.Td>
                    <Table.Td>{s.status}</Table.Td>
                    <Table.Td>
                      <Button size="compact-sm" variant="subtle" onClick={() => setOpen(open === s.id ? null : s.id)} aria-expanded={open === s.id}>
                        {open === s.id ? 'Hide' : 'Attendees'}
                      </Button>
                    </Table.Td>
                  </Table.Tr>
                  {open === s.id ? (
                    <Table.Tr>
                      <Table.Td colSpan={5}>
                        <Attendees sessionId={s.id} />
                      </Table.Td>
                    </Table.Tr>
                  ) : null}
                </Fragment>
              ))}
            </Table.Tbody>
          </Table>
        </div>
      ) : null}
    </Card>
  );
}

export default function Schedule() {
  const me = useMe();
  return (
    <Stack>
      <Title order={1} size="h2">
        Availability and bookings
      </Title>
      <Sessions trainerId={me.id} />
      <AvailabilityEditor trainerId={me.id} />
    </Stack>
  );
}
