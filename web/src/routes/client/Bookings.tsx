import { useEffect, useMemo, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Alert, Badge, Button, Card, Checkbox, Group, Modal, NativeSelect, NumberInput, Stack, Table, Text, Title } from '@mantine/core';
import { api, type FreeSlot, type Schemas } from '../../api/client';
import { unwrap } from '../../api/problem';
import { usePrefs } from '../../auth/AuthContext';
import { ProblemAlert } from '../../components/ProblemAlert';
import { Loading } from '../../components/Loading';
import { formatDateTime, formatTime, localDate, addDays } from '../../lib/time';

type Booking = Schemas['Booking'];

/** Check-in is open from an hour before a session starts until it ends (the API's rule). */
export function inCheckInWindow(b: Pick<Booking, 'starts_at' | 'ends_at'>, now = new Date()): boolean {
  const t = now.getTime();
  return t >= new Date(b.starts_at).getTime() - 3_600_000 && t < new Date(b.ends_at).getTime();
}

/** The current time, again every `ms` (so a check-in window opens on a page left open). */
function useNow(ms = 30_000): Date {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const id = setInterval(() => setNow(new Date()), ms);
    return () => clearInterval(id);
  }, [ms]);
  return now;
}

export function isLateCancel(b: Pick<Booking, 'free_cancellation_until'>, now = new Date()): boolean {
  return now.getTime() > new Date(b.free_cancellation_until).getTime();
}

function CancelModal({ booking, timeZone, onClose }: { booking: Booking; timeZone: string; onClose: () => void }) {
  const qc = useQueryClient();
  const late = isLateCancel(booking);
  const cancel = useMutation({
    mutationFn: () => unwrap(api.POST('/api/bookings/{id}/cancel', { params: { path: { id: booking.id } } })),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: ['bookings'] });
      void qc.invalidateQueries({ queryKey: ['credits'] });
    },
  });
  return (
    <Modal opened onClose={onClose} title="Cancel session">
      <Stack>
        <Text>Cancel your session on {formatDateTime(booking.starts_at, timeZone)}?</Text>
        {late ? (
          <Alert color="orange" role="alert" data-testid="late-cancel-warning" title="Late cancellation">
            Free cancellation ended {formatDateTime(booking.free_cancellation_until, timeZone)}. Cancelling now is a late cancel
            and the {booking.credits} credit{booking.credits === 1 ? '' : 's'} will not be returned.
          </Alert>
        ) : (
          <Text size="sm" c="dimmed">
            Free cancellation until {formatDateTime(booking.free_cancellation_until, timeZone)}.
          </Text>
        )}
        <ProblemAlert error={cancel.error} />
        {cancel.data ? (
          <Alert color={cancel.data.status === 'late_cancelled' ? 'orange' : 'green'} data-testid="cancel-result">
            {cancel.data.status === 'late_cancelled' ? 'Cancelled late: the credit was used.' : 'Cancelled; your credit is back.'}
          </Alert>
        ) : null}
        <Group justify="end">
          <Button variant="default" onClick={onClose}>
            {cancel.data ? 'Close' : 'Keep it'}
          </Button>
          {!cancel.data ? (
            <Button color="red" onClick={() => cancel.mutate()} loading={cancel.isPending} data-testid="confirm-cancel">
              {late ? 'Cancel anyway' : 'Cancel session'}
            </Button>
          ) : null}
        </Group>
      </Stack>
    </Modal>
  );
}

function CancelSeriesModal({ seriesId, remaining, timeZone, onClose }: { seriesId: string; remaining: Booking[]; timeZone: string; onClose: () => void }) {
  const qc = useQueryClient();
  const late = remaining.filter((b) => isLateCancel(b)).length;
  const cancel = useMutation({
    mutationFn: () => unwrap(api.POST('/api/bookings/series/{id}/cancel', { params: { path: { id: seriesId } } })),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: ['bookings'] });
      void qc.invalidateQueries({ queryKey: ['slots'] });
      void qc.invalidateQueries({ queryKey: ['credits'] });
    },
  });
  return (
    <Modal opened onClose={onClose} title="Cancel series">
      <Stack>
        <Text>
          Cancel the {remaining.length} remaining session{remaining.length === 1 ? '' : 's'} of this weekly series
          {remaining[0] ? `, from ${formatDateTime(remaining[0].starts_at, timeZone)}` : ''}?
        </Text>
        {late > 0 ? (
          <Alert color="orange" role="alert" data-testid="late-cancel-warning" title="Late cancellation">
            {late} of them {late === 1 ? 'is' : 'are'} past free cancellation: {late === 1 ? 'its credit' : 'their credits'} will not be returned.
          </Alert>
        ) : null}
        <ProblemAlert error={cancel.error} />
        {cancel.data ? (
          <Alert color="green" data-testid="series-cancel-result" data-count={cancel.data.length}>
            Cancelled {cancel.data.length} session{cancel.data.length === 1 ? '' : 's'} of the series.
          </Alert>
        ) : null}
        <Group justify="end">
          <Button variant="default" onClick={onClose}>
            {cancel.data ? 'Close' : 'Keep them'}
          </Button>
          {!cancel.data ? (
            <Button color="red" onClick={() => cancel.mutate()} loading={cancel.isPending} data-testid="confirm-cancel-series">
              Cancel series
            </Button>
          ) : null}
        </Group>
      </Stack>
    </Modal>
  );
}

/** A booking's status as a person reads it ("Waitlisted #2"). */
export function bookingStatusLabel(status: string, position?: number | null): string {
  switch (status) {
    case 'booked':
      return 'Booked';
    case 'waitlisted':
      return position ? `Waitlisted #${position}` : 'Waitlisted';
    case 'checked_in':
      return 'Checked in';
    case 'attended':
      return 'Attended';
    case 'no_show':
      return 'No-show';
    case 'cancelled':
      return 'Cancelled';
    case 'late_cancelled':
      return 'Cancelled late';
    default:
      return status;
  }
}

function BookingStatusBadge({ status, position }: { status: string; position?: number | null }) {
  return (
    <Badge variant="light" color={status === 'booked' ? 'green' : status === 'waitlisted' ? 'yellow' : 'gray'} data-testid="booking-status" data-status={status}>
      {bookingStatusLabel(status, position)}
    </Badge>
  );
}

/** A class with every place taken: booking it puts the client in line. */
export function isFull(s: { booked: number; capacity: number }): boolean {
  return s.booked >= s.capacity;
}

function Upcoming({ timeZone }: { timeZone: string }) {
  const qc = useQueryClient();
  const [cancelling, setCancelling] = useState<Booking | null>(null);
  const [cancellingSeries, setCancellingSeries] = useState<string | null>(null);
  const q = useQuery({ queryKey: ['bookings'], queryFn: () => unwrap(api.GET('/api/bookings')) });
  const now = useNow();
  const upcoming = (q.data ?? [])
    .filter((b) => new Date(b.ends_at).getTime() > now.getTime() && ['booked', 'waitlisted', 'checked_in'].includes(b.status))
    .sort((a, b) => a.starts_at.localeCompare(b.starts_at));
  const open = (b: Booking) => b.status === 'booked' || b.status === 'waitlisted';
  const remainingOf = (seriesId: string) =>
    upcoming.filter((b) => b.series_id === seriesId && open(b) && new Date(b.starts_at).getTime() > now.getTime());
  const checkIn = useMutation({
    mutationFn: (id: string) => unwrap(api.POST('/api/bookings/{id}/check-in', { params: { path: { id } } })),
    onSuccess: (done) => {
      qc.setQueryData<Booking[]>(['bookings'], (list) => list?.map((b) => (b.id === done.id ? done : b)));
      void qc.invalidateQueries({ queryKey: ['bookings'] });
    },
  });
  return (
    <Card withBorder component="section" aria-labelledby="upcoming-h">
      <Title order={2} size="h4" id="upcoming-h" mb="xs">
        Upcoming sessions
      </Title>
      {q.isLoading ? <Loading /> : null}
      <ProblemAlert error={q.error ?? checkIn.error} />
      {q.data && upcoming.length === 0 ? <Text c="dimmed">Nothing booked.</Text> : null}
      {upcoming.length > 0 ? (
        <div className="fs-scroll">
          <Table data-testid="upcoming-bookings">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>When</Table.Th>
                <Table.Th>Kind</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>
                  <span className="visually-hidden">Actions</span>
                </Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {upcoming.map((b) => (
                <Table.Tr key={b.id} data-testid="booking-row" data-booking-id={b.id} data-series-id={b.series_id ?? undefined}>
                  <Table.Td>{formatDateTime(b.starts_at, timeZone)}</Table.Td>
                  <Table.Td>
                    {b.kind === 'group' ? 'Class' : '1:1'}
                    {b.series_id ? (
                      <Badge ml={6} variant="outline" size="sm" data-testid="series-badge">
                        Weekly series
                      </Badge>
                    ) : null}
                  </Table.Td>
                  <Table.Td>
                    <BookingStatusBadge status={b.status} position={b.waitlist_position} />
                  </Table.Td>
                  <Table.Td>
                    <Group gap={6} wrap="nowrap">
                      {b.status === 'booked' && inCheckInWindow(b, now) ? (
                        <Button
                          size="compact-sm"
                          onClick={() => checkIn.mutate(b.id)}
                          loading={checkIn.isPending && checkIn.variables === b.id}
                          data-testid="check-in"
                        >
                          Check in
                        </Button>
                      ) : null}
                      {open(b) ? (
                        <Button size="compact-sm" variant="light" color="red" onClick={() => setCancelling(b)}>
                          Cancel
                        </Button>
                      ) : null}
                      {b.series_id && open(b) ? (
                        <Button size="compact-sm" variant="subtle" color="red" onClick={() => setCancellingSeries(b.series_id!)} data-testid="cancel-series">
                          Cancel series
                        </Button>
                      ) : null}
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </div>
      ) : null}
      {cancelling ? <CancelModal booking={cancelling} timeZone={timeZone} onClose={() => setCancelling(null)} /> : null}
      {cancellingSeries ? (
        <CancelSeriesModal
          seriesId={cancellingSeries}
          remaining={remainingOf(cancellingSeries)}
          timeZone={timeZone}
          onClose={() => setCancellingSeries(null)}
        />
      ) : null}
    </Card>
  );
}

function BookSlot({ timeZone }: { timeZone: string }) {
  const qc = useQueryClient();
  const rels = useQuery({ queryKey: ['relationships'], queryFn: () => unwrap(api.GET('/api/users/relationships')) });
  const trainerId = rels.data?.find((r) => r.status === 'active')?.trainer_id;
  const types = useQuery({
    queryKey: ['session-types', trainerId],
    enabled: !!trainerId,
    queryFn: () => unwrap(api.GET('/api/sessions/types', { params: { query: { owner_id: trainerId! } } })),
  });
  const oneOnOne = (types.data ?? []).filter((t) => t.kind === 'one_on_one');
  const [typeId, setTypeId] = useState<string | null>(null);
  const type = oneOnOne.find((t) => t.id === typeId) ?? oneOnOne[0];
  const today = localDate(new Date(), timeZone);
  const slots = useQuery({
    queryKey: ['slots', trainerId, type?.id, today],
    enabled: !!trainerId && !!type,
    queryFn: async () =>
      (await unwrap(
        api.GET('/api/availability/{trainer_id}/slots', {
          params: { path: { trainer_id: trainerId! }, query: { session_type_id: type!.id, from: today, to: addDays(today, 13) } },
        }),
      )) satisfies FreeSlot[],
  });
  const byDay = useMemo(() => {
    const m = new Map<string, FreeSlot[]>();
    for (const s of slots.data ?? []) {
      const d = localDate(new Date(s.starts_at), timeZone);
      m.set(d, [...(m.get(d) ?? []), s]);
    }
    return [...m.entries()];
  }, [slots.data, timeZone]);
  const [day, setDay] = useState<string | null>(null);
  const shownDay = byDay.find(([d]) => d === day) ?? byDay[0];
  const [repeat, setRepeat] = useState(false);
  const [weeks, setWeeks] = useState(4);
  const book = useMutation({
    mutationFn: async (s: FreeSlot): Promise<Booking[]> => {
      const slot = { trainer_id: trainerId!, session_type_id: type!.id, starts_at: s.starts_at };
      return repeat
        ? unwrap(api.POST('/api/bookings/series', { body: { ...slot, weeks } }))
        : [await unwrap(api.POST('/api/bookings', { body: slot }))];
    },
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: ['bookings'] });
      void qc.invalidateQueries({ queryKey: ['slots'] });
      void qc.invalidateQueries({ queryKey: ['credits'] });
    },
  });
  return (
    <Card withBorder component="section" aria-labelledby="book-h">
      <Title order={2} size="h4" id="book-h" mb="xs">
        Book a session with your trainer
      </Title>
      <ProblemAlert error={rels.error ?? types.error ?? slots.error} />
      {rels.data && !trainerId ? <Text c="dimmed">You have no trainer yet.</Text> : null}
      {oneOnOne.length > 0 ? (
        <Group wrap="wrap" align="end">
          <NativeSelect
            label="Session type"
            value={type?.id ?? ''}
            onChange={(e) => setTypeId(e.currentTarget.value)}
            data={oneOnOne.map((t) => ({ value: t.id, label: `${t.name} (${t.duration_min} min, ${t.credits} credit)` }))}
          />
          {byDay.length > 0 ? (
            <NativeSelect
              label="Day"
              value={shownDay?.[0] ?? ''}
              onChange={(e) => setDay(e.currentTarget.value)}
              data={byDay.map(([d, list]) => ({
                value: d,
                label: `${formatDateTime(list[0]!.starts_at, timeZone).split(',').slice(0, 2).join(',')} (${list.length})`,
              }))}
            />
          ) : null}
          <Checkbox
            label="Repeat weekly"
            checked={repeat}
            onChange={(e) => setRepeat(e.currentTarget.checked)}
            data-testid="series-repeat"
            mb={8}
          />
          {repeat ? (
            <NumberInput
              label="For weeks"
              min={2}
              max={12}
              clampBehavior="blur"
              allowDecimal={false}
              value={weeks}
              onChange={(v) => setWeeks(typeof v === 'number' ? v : 2)}
              w={110}
              data-testid="series-weeks"
            />
          ) : null}
        </Group>
      ) : null}
      {slots.isLoading ? <Loading label="Loading free slots…" /> : null}
      {slots.data && byDay.length === 0 ? <Text c="dimmed">No free slots in the next two weeks.</Text> : null}
      {shownDay ? (
        <Group gap="xs" mt="sm" wrap="wrap" data-testid="free-slots">
          {shownDay[1].map((s) => (
            <Button
              key={s.starts_at}
              variant="outline"
              size="xs"
              onClick={() => book.mutate(s)}
              loading={book.isPending && book.variables?.starts_at === s.starts_at}
              aria-label={`Book ${formatDateTime(s.starts_at, timeZone)}${repeat ? ` weekly for ${weeks} weeks` : ''}`}
              data-testid="free-slot"
              data-starts-at={new Date(s.starts_at).toISOString()}
            >
              {formatTime(s.starts_at, timeZone)}
            </Button>
          ))}
        </Group>
      ) : null}
      <ProblemAlert error={book.error} />
      {book.data && book.data.length > 1 ? (
        <Alert color="green" mt="sm" data-testid="series-booked" data-count={book.data.length} data-series-id={book.data[0]!.series_id ?? undefined}>
          Booked {book.data.length} weekly sessions, {formatDateTime(book.data[0]!.starts_at, timeZone)} to{' '}
          {formatDateTime(book.data[book.data.length - 1]!.starts_at, timeZone)}.
        </Alert>
      ) : book.data?.[0] ? (
        <Alert color="green" mt="sm" data-testid="booked">
          Booked for {formatDateTime(book.data[0].starts_at, timeZone)} ({bookingStatusLabel(book.data[0].status, book.data[0].waitlist_position)}).
        </Alert>
      ) : null}
    </Card>
  );
}

function Classes({ timeZone }: { timeZone: string }) {
  const qc = useQueryClient();
  const rels = useQuery({ queryKey: ['relationships'], queryFn: () => unwrap(api.GET('/api/users/relationships')) });
  const trainerId = rels.data?.find((r) => r.status === 'active')?.trainer_id;
  const [from] = useState(() => new Date().toISOString());
  const sessions = useQuery({
    queryKey: ['classes', trainerId, from],
    enabled: !!trainerId,
    queryFn: () => unwrap(api.GET('/api/sessions', { params: { query: { trainer_id: trainerId!, from } } })),
  });
  const mine = useQuery({ queryKey: ['bookings'], queryFn: () => unwrap(api.GET('/api/bookings')) });
  const held = new Map(
    (mine.data ?? []).filter((b) => ['booked', 'waitlisted', 'checked_in'].includes(b.status)).map((b) => [b.session_id, b] as const),
  );
  const classes = (sessions.data ?? []).filter((s) => s.kind === 'group' && s.status === 'scheduled');
  const book = useMutation({
    mutationFn: (sessionId: string) => unwrap(api.POST('/api/bookings', { body: { session_id: sessionId } })),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: ['bookings'] });
      void qc.invalidateQueries({ queryKey: ['classes'] });
      void qc.invalidateQueries({ queryKey: ['credits'] });
    },
  });
  if (!trainerId) return null;
  return (
    <Card withBorder component="section" aria-labelledby="classes-h">
      <Title order={2} size="h4" id="classes-h" mb="xs">
        Group classes
      </Title>
      {sessions.isLoading ? <Loading /> : null}
      <ProblemAlert error={sessions.error ?? book.error} />
      {sessions.data && classes.length === 0 ? <Text c="dimmed">No upcoming classes.</Text> : null}
      <Stack gap={4}>
        {classes.map((c) => (
          <Group key={c.id} justify="space-between" wrap="wrap" data-testid="class-row" data-session-id={c.id} data-full={isFull(c)}>
            <Text size="sm">
              {formatDateTime(c.starts_at, timeZone)} · {c.booked}/{c.capacity} booked
              {c.waitlisted ? `, ${c.waitlisted} waiting` : ''}
            </Text>
            {held.has(c.id) ? (
              <BookingStatusBadge status={held.get(c.id)!.status} position={held.get(c.id)!.waitlist_position} />
            ) : (
              <Button
                size="compact-sm"
                variant="light"
                color={isFull(c) ? 'yellow' : undefined}
                onClick={() => book.mutate(c.id)}
                loading={book.isPending && book.variables === c.id}
                data-testid={isFull(c) ? 'class-join-waitlist' : 'class-book'}
              >
                {isFull(c) ? 'Join waitlist' : 'Book'}
              </Button>
            )}
          </Group>
        ))}
      </Stack>
      {book.data ? (
        <Alert color={book.data.status === 'waitlisted' ? 'yellow' : 'green'} mt="sm" data-testid="class-booked" data-status={book.data.status}>
          {book.data.status === 'waitlisted'
            ? `The class is full: you are on the waitlist${book.data.waitlist_position ? ` (#${book.data.waitlist_position})` : ''}. You get the place when one frees up.`
            : `Booked for ${formatDateTime(book.data.starts_at, timeZone)}.`}
        </Alert>
      ) : null}
    </Card>
  );
}

function Credits() {
  const q = useQuery({ queryKey: ['credits'], queryFn: () => unwrap(api.GET('/api/credits')) });
  if (!q.data) return <ProblemAlert error={q.error} />;
  const total = q.data.balances.reduce((s, b) => s + b.balance, 0);
  return <Text data-testid="credits">Credits left: {total}</Text>;
}

export default function ClientBookings() {
  const { timeZone } = usePrefs();
  return (
    <Stack>
      <Title order={1} size="h2">
        Sessions
      </Title>
      <Credits />
      <Upcoming timeZone={timeZone} />
      <BookSlot timeZone={timeZone} />
      <Classes timeZone={timeZone} />
    </Stack>
  );
}
