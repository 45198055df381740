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
import { availabilityQuery, mayReschedule, RescheduleModal, sessionQuery } from './reschedule';
import { WeekCalendar } from './WeekCalendar';

export { mayReschedule };

type Weekly = Schemas['WeeklyHoursDto'];
const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

function AvailabilityEditor({ trainerId }: { trainerId: string }) {
  const qc = useQueryClient();
  const q = useQuery(availabilityQuery(trainerId));
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

type Session = Schemas['Session'];
type Booking = Schemas['Booking'];
type Attendee = Schemas['Attendee'];

/** Attendance can be marked once the session has started, for a place booked or checked in. */
export function mayMarkAttendance(session: Pick<Session, 'starts_at'>, attendee: Pick<Attendee, 'status'>, now = new Date()): boolean {
  return new Date(session.starts_at).getTime() <= now.getTime() && (attendee.status === 'booked' || attendee.status === 'checked_in');
}

function statusColor(status: string): string {
  switch (status) {
    case 'booked':
    case 'checked_in':
      return 'blue';
    case 'attended':
      return 'green';
    case 'waitlisted':
      return 'yellow';
    case 'no_show':
    case 'late_cancelled':
      return 'red';
    default:
      return 'gray';
  }
}

function Attendees({
  session,
  classes,
  timeZone,
  onMoved,
}: {
  session: Session;
  classes: Session[];
  timeZone: string;
  onMoved: (b: Booking) => void;
}) {
  const qc = useQueryClient();
  const q = useQuery(sessionQuery(session.id));
  const names = useUserNames((q.data?.attendees ?? []).map((a) => a.client_id));
  const [moving, setMoving] = useState<Attendee | null>(null);
  const mark = useMutation({
    mutationFn: ({ bookingId, outcome }: { bookingId: string; outcome: Schemas['Outcome'] }) =>
      unwrap(api.POST('/api/bookings/{id}/attendance', { params: { path: { id: bookingId } }, body: { outcome } })),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: ['session', session.id] });
      void qc.invalidateQueries({ queryKey: ['sessions'] });
    },
  });
  if (q.isLoading) return <Loading />;
  if (q.error) return <ProblemAlert error={q.error} />;
  const attendees = q.data?.attendees ?? [];
  const now = new Date();
  return (
    <Stack gap={4} data-testid="attendees">
      {attendees.length === 0 ? <Text c="dimmed" size="sm">Nobody has booked.</Text> : null}
      {attendees.map((a) => (
        <Group key={a.booking_id} gap="xs" wrap="wrap" data-testid="attendee-row" data-booking-id={a.booking_id} data-status={a.status}>
          <Badge variant="light" color={statusColor(a.status)} data-testid="attendee-status">
            {names[a.client_id]} · {a.status}
            {a.waitlist_position ? ` #${a.waitlist_position}` : ''}
          </Badge>
          {mayReschedule(session, a, now) ? (
            <Button size="compact-xs" variant="light" onClick={() => setMoving(a)} data-testid="reschedule-open">
              Reschedule
            </Button>
          ) : null}
          {mayMarkAttendance(session, a, now) ? (
            <>
              <Button
                size="compact-xs"
                variant="light"
                color="green"
                data-testid="mark-attended"
                loading={mark.isPending && mark.variables?.bookingId === a.booking_id && mark.variables.outcome === 'attended'}
                onClick={() => mark.mutate({ bookingId: a.booking_id, outcome: 'attended' })}
              >
                Attended
              </Button>
              <Button
                size="compact-xs"
                variant="light"
                color="red"
                data-testid="mark-no-show"
                loading={mark.isPending && mark.variables?.bookingId === a.booking_id && mark.variables.outcome === 'no_show'}
                onClick={() => mark.mutate({ bookingId: a.booking_id, outcome: 'no_show' })}
              >
                No-show
              </Button>
            </>
          ) : null}
        </Group>
      ))}
      <ProblemAlert error={mark.error} />
      {moving ? (
        <RescheduleModal
          attendee={moving}
          session={session}
          classes={classes}
          timeZone={timeZone}
          onClose={() => setMoving(null)}
          onMoved={(b) => {
            setMoving(null);
            onMoved(b);
          }}
        />
      ) : null}
    </Stack>
  );
}

function Sessions({ trainerId }: { trainerId: string }) {
  const { timeZone } = usePrefs();
  const [now] = useState(() => Date.now());
  const [withPast, setWithPast] = useState(false);
  const from = new Date(withPast ? now - 7 * 86_400_000 : now).toISOString();
  const [open, setOpen] = useState<string | null>(null);
  const [moved, setMoved] = useState<Booking | null>(null);
  const q = useQuery({
    queryKey: ['sessions', trainerId, from],
    queryFn: () => unwrap(api.GET('/api/sessions', { params: { query: { trainer_id: trainerId, from } } })),
  });
  return (
    <Card withBorder component="section" aria-labelledby="sessions-h">
      <Title order={2} size="h4" id="sessions-h" mb="xs">
        Upcoming sessions and bookings
      </Title>
      <Checkbox
        label="Include the last 7 days (to mark attendance)"
        checked={withPast}
        onChange={(e) => setWithPast(e.currentTarget.checked)}
        data-testid="sessions-include-past"
        mb="xs"
      />
      {moved ? (
        <Alert color="green" my="xs" data-testid="rescheduled" data-starts-at={new Date(moved.starts_at).toISOString()} withCloseButton onClose={() => setMoved(null)}>
          Moved to {formatDateTime(moved.starts_at, timeZone)} ({moved.status}).
        </Alert>
      ) : null}
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
                  <Table.Tr data-testid="session-row" data-session-id={s.id} data-starts-at={new Date(s.starts_at).toISOString()}>
                    <Table.Td data-testid="session-when">{formatDateTime(s.starts_at, timeZone)}</Table.Td>
                    <Table.Td>{s.kind === 'group' ? 'Class' : '1:1'}</Table.Td>
                    <Table.Td>
                      {s.booked}/{s.capacity}
                      {s.waitlisted ? ` (+${s.waitlisted} waiting)` : ''}
                    </Table.Td>
                    <Table.Td>{s.status}</Table.Td>
                    <Table.Td>
                      <Button
                        size="compact-sm"
                        variant="subtle"
                        onClick={() => setOpen(open === s.id ? null : s.id)}
                        aria-expanded={open === s.id}
                        data-testid="session-attendees-toggle"
                      >
                        {open === s.id ? 'Hide' : 'Attendees'}
                      </Button>
                    </Table.Td>
                  </Table.Tr>
                  {open === s.id ? (
                    <Table.Tr data-testid="session-attendees" data-session-id={s.id}>
                      <Table.Td colSpan={5}>
                        <Attendees session={s} classes={q.data} timeZone={timeZone} onMoved={setMoved} />
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
      <WeekCalendar trainerId={me.id} />
      <Sessions trainerId={me.id} />
      <AvailabilityEditor trainerId={me.id} />
    </Stack>
  );
}
