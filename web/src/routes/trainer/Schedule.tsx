import { Fragment, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Alert, Badge, Button, Card, Checkbox, Group, NativeSelect, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { api, type Schemas } from '../../api/client';
import { unwrap } from '../../api/problem';
import { useMe, usePrefs } from '../../auth/AuthContext';
import { ProblemAlert } from '../../components/ProblemAlert';
import { Loading } from '../../components/Loading';
import { addDays, formatDateTime, formatDay, localDate } from '../../lib/time';
import { useUserNames } from '../../lib/useUserNames';
import { availabilityQuery, mayReschedule, RescheduleModal, sessionQuery } from './reschedule';
import { WeekCalendar } from './WeekCalendar';

export { mayReschedule };

type Weekly = Schemas['WeeklyHoursDto'];
type Availability = Schemas['Availability'];
type AvailabilityException = Schemas['ExceptionDto'];
const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

/** The body of `PUT /api/availability/{trainer_id}`: the stored availability (if any) with
 * `patch` applied, everything else kept as it stands. */
export function availabilityBody(a: Availability | undefined, patch: Partial<Schemas['AvailabilityRequest']>): Schemas['AvailabilityRequest'] {
  return {
    time_zone: a?.time_zone ?? '',
    weekly: a?.weekly ?? [],
    exceptions: a?.exceptions ?? [],
    buffer_before_min: a?.buffer_before_min,
    buffer_after_min: a?.buffer_after_min,
    min_notice_min: a?.min_notice_min,
    horizon_days: a?.horizon_days,
    max_per_day: a?.max_per_day,
    max_per_week: a?.max_per_week,
    slot_step_min: a?.slot_step_min,
    ...patch,
  };
}

/** Saves a whole availability; the week calendar and the editor read the answer. */
function useSaveAvailability(trainerId: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: Schemas['AvailabilityRequest']) =>
      unwrap(api.PUT('/api/availability/{trainer_id}', { params: { path: { trainer_id: trainerId } }, body })),
    onSuccess: (d) => qc.setQueryData(['availability', trainerId], d),
  });
}

function exceptionLabel(e: AvailabilityException): string {
  const hours = e.starts && e.ends ? `${e.starts}–${e.ends}` : null;
  if (e.kind === 'extra') return `Extra hours ${hours ?? ''}`.trim();
  return hours ? `Off ${hours}` : 'Day off';
}

type ExceptionForm = 'day_off' | 'hours_off' | 'extra';

/** Dates that differ from the weekly hours: the upcoming ones (in the availability's time
 * zone) with a remove button, and a form to add one. Each change is saved at once, with
 * the stored weekly hours (not the editor's unsaved ones). */
function ExceptionsEditor({ trainerId, availability }: { trainerId: string; availability: Availability }) {
  const save = useSaveAvailability(trainerId);
  const tz = availability.time_zone;
  const today = localDate(new Date(), tz);
  const [date, setDate] = useState(() => addDays(today, 1));
  const [form, setForm] = useState<ExceptionForm>('day_off');
  const [starts, setStarts] = useState('09:00');
  const [ends, setEnds] = useState('12:00');
  const all = availability.exceptions;
  const upcoming = all.map((e, i) => ({ e, i })).filter(({ e }) => e.date >= today).sort((a, b) => a.e.date.localeCompare(b.e.date) || (a.e.starts ?? '').localeCompare(b.e.starts ?? ''));
  const timed = form !== 'day_off';
  const invalid = !/^\d{4}-\d{2}-\d{2}$/.test(date) || (timed && !(starts && ends && starts < ends));
  const saveExceptions = (exceptions: AvailabilityException[]) => save.mutate(availabilityBody(availability, { exceptions }));
  return (
    <Stack gap="xs" mt="md" data-testid="exceptions">
      <Title order={3} size="h5">
        Exceptions
      </Title>
      <Text size="xs" c="dimmed">
        Days off and extra hours on a date, in {tz}.
      </Text>
      {upcoming.length === 0 ? (
        <Text size="sm" c="dimmed" data-testid="exceptions-empty">
          No upcoming exceptions.
        </Text>
      ) : (
        <Stack gap={4}>
          {upcoming.map(({ e, i }) => (
            <Group key={`${e.date}-${e.kind}-${e.starts ?? ''}-${i}`} gap="xs" data-testid="exception-row" data-date={e.date} data-kind={e.kind} data-starts={e.starts ?? ''} data-ends={e.ends ?? ''}>
              <Badge variant="light" color={e.kind === 'off' ? 'red' : 'green'}>
                {formatDay(e.date)}
              </Badge>
              <Text size="sm">{exceptionLabel(e)}</Text>
              <Button
                size="compact-xs"
                variant="subtle"
                color="red"
                aria-label={`Remove ${exceptionLabel(e)} on ${e.date}`}
                disabled={save.isPending}
                onClick={() => saveExceptions(all.filter((_, j) => j !== i))}
                data-testid="exception-remove"
              >
                Remove
              </Button>
            </Group>
          ))}
        </Stack>
      )}
      <form
        onSubmit={(ev) => {
          ev.preventDefault();
          if (invalid) return;
          const added: AvailabilityException = timed ? { date, kind: form === 'extra' ? 'extra' : 'off', starts, ends } : { date, kind: 'off' };
          saveExceptions([...all, added]);
        }}
        data-testid="exception-form"
      >
        <Group wrap="wrap" align="end" gap="xs">
          <TextInput type="date" label="Date" required value={date} min={today} onChange={(ev) => setDate(ev.currentTarget.value)} data-testid="exception-date" />
          <NativeSelect
            label="Kind"
            value={form}
            onChange={(ev) => setForm(ev.currentTarget.value as ExceptionForm)}
            data={[
              { value: 'day_off', label: 'Day off' },
              { value: 'hours_off', label: 'Off for some hours' },
              { value: 'extra', label: 'Extra hours' },
            ]}
            data-testid="exception-kind"
          />
          {timed ? (
            <>
              <TextInput type="time" label="From" required value={starts} onChange={(ev) => setStarts(ev.currentTarget.value)} data-testid="exception-starts" />
              <TextInput type="time" label="Until" required value={ends} onChange={(ev) => setEnds(ev.currentTarget.value)} data-testid="exception-ends" />
            </>
          ) : null}
          <Button type="submit" variant="light" loading={save.isPending} disabled={invalid} data-testid="exception-add">
            Add exception
          </Button>
        </Group>
        {timed && starts && ends && starts >= ends ? (
          <Text size="xs" c="red">
            The end must be after the start.
          </Text>
        ) : null}
      </form>
      <ProblemAlert error={save.error} />
    </Stack>
  );
}

function AvailabilityEditor({ trainerId }: { trainerId: string }) {
  const q = useQuery(availabilityQuery(trainerId));
  // Unsaved edits; null: as stored.
  const [tzDraft, setTz] = useState<string | null>(null);
  const [weeklyDraft, setWeeklyDraft] = useState<Weekly[] | null>(null);
  const tz = tzDraft ?? q.data?.time_zone ?? '';
  const weekly = weeklyDraft ?? q.data?.weekly ?? [];
  const setWeekly = (f: (ws: Weekly[]) => Weekly[]) => setWeeklyDraft(f(weekly));
  const save = useSaveAvailability(trainerId);
  if (q.isLoading) return <Loading />;
  return (
    <Card withBorder component="section" aria-labelledby="avail-h">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate(availabilityBody(q.data, { time_zone: tz, weekly }), {
            onSuccess: () => {
              setTz(null);
              setWeeklyDraft(null);
            },
          });
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
      {q.data ? (
        <ExceptionsEditor trainerId={trainerId} availability={q.data} />
      ) : (
        <Text size="sm" c="dimmed" mt="md">
          Save your weekly hours first; then add days off and extra hours.
        </Text>
      )}
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
