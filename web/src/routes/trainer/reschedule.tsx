/**
 * What the trainer's schedule screen shares between its list and its week calendar: the
 * availability and session queries (one cache entry each), and moving a booking through
 * `POST /api/bookings/{id}/reschedule`, by form or by drag.
 */
import { useState } from 'react';
import { queryOptions, useMutation, useQueryClient } from '@tanstack/react-query';
import { Button, Group, Modal, NativeSelect, Stack, Text, TextInput } from '@mantine/core';
import { api, type Schemas } from '../../api/client';
import { unwrap } from '../../api/problem';
import { ProblemAlert } from '../../components/ProblemAlert';
import { formatDateTime } from '../../lib/time';
import { instantToZoned, zonedToInstant } from './zonedTime';

type Session = Schemas['Session'];
type Booking = Schemas['Booking'];
type Attendee = Schemas['Attendee'];

export const availabilityQuery = (trainerId: string) =>
  queryOptions({
    queryKey: ['availability', trainerId],
    queryFn: () => unwrap(api.GET('/api/availability/{trainer_id}', { params: { path: { trainer_id: trainerId } } })),
    retry: false,
  });

export const sessionQuery = (id: string) =>
  queryOptions({
    queryKey: ['session', id],
    queryFn: () => unwrap(api.GET('/api/sessions/{id}', { params: { path: { id } } })),
  });

/** A booking that can still be moved: booked (or in line for a class) and to come. */
export function mayReschedule(session: Pick<Session, 'starts_at' | 'kind'>, attendee: Pick<Attendee, 'status'>, now = new Date()): boolean {
  if (new Date(session.starts_at).getTime() <= now.getTime()) return false;
  return attendee.status === 'booked' || (session.kind === 'group' && attendee.status === 'waitlisted');
}

/** The body of `POST /api/bookings/{id}/reschedule`: a 1:1 moves to `starts_at`, a place
 * on a class to another class (`session_id`) of its type. */
export type BookingMove = { starts_at: string } | { session_id: string };

function rescheduleBody(move: BookingMove): Schemas['BookingReschedule'] {
  return move;
}

/** Moves a booking; on success the session lists and details are fetched again. */
export function useMoveBooking(bookingId: string, onMoved: (b: Booking) => void) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (m: BookingMove) =>
      unwrap(api.POST('/api/bookings/{id}/reschedule', { params: { path: { id: bookingId } }, body: rescheduleBody(m) })),
    onSuccess: (b) => {
      void qc.invalidateQueries({ queryKey: ['sessions'] });
      void qc.invalidateQueries({ queryKey: ['session'] });
      onMoved(b);
    },
  });
}

export function RescheduleModal({
  attendee,
  session,
  classes,
  timeZone,
  onClose,
  onMoved,
}: {
  attendee: Attendee;
  session: Session;
  classes: Session[];
  timeZone: string;
  onClose: () => void;
  onMoved: (b: Booking) => void;
}) {
  const group = session.kind === 'group';
  const initial = instantToZoned(session.starts_at, timeZone);
  const [date, setDate] = useState(initial.date);
  const [time, setTime] = useState(initial.time);
  const others = classes.filter((c) => c.id !== session.id && c.session_type_id === session.session_type_id && c.status === 'scheduled');
  const [target, setTarget] = useState(others[0]?.id ?? '');
  const startsAt = group ? null : zonedToInstant(date, time, timeZone);
  const move = useMoveBooking(attendee.booking_id, onMoved);
  const invalid = group ? !target : !startsAt;
  return (
    <Modal opened onClose={onClose} title="Reschedule booking">
      <form
        data-testid="reschedule-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (group) {
            if (target) move.mutate({ session_id: target });
          } else if (startsAt) {
            move.mutate({ starts_at: startsAt });
          }
        }}
      >
        <Stack>
          <Text size="sm">Now: {formatDateTime(session.starts_at, timeZone)}</Text>
          {group ? (
            others.length > 0 ? (
              <NativeSelect
                label="Move to class"
                value={target}
                onChange={(e) => setTarget(e.currentTarget.value)}
                data-testid="reschedule-class"
                data={others.map((c) => ({
                  value: c.id,
                  label: `${formatDateTime(c.starts_at, timeZone)} (${c.booked}/${c.capacity})`,
                }))}
              />
            ) : (
              <Text c="dimmed">No other class of this type is scheduled.</Text>
            )
          ) : (
            <>
              <Text size="sm" c="dimmed">
                Times in <span data-testid="reschedule-tz" data-tz={timeZone}>{timeZone}</span>
              </Text>
              <Group wrap="wrap" align="end" gap="xs">
                <TextInput type="date" label="New date" required value={date} onChange={(e) => setDate(e.currentTarget.value)} data-testid="reschedule-date" />
                <TextInput type="time" label="New start" required value={time} onChange={(e) => setTime(e.currentTarget.value)} data-testid="reschedule-time" />
              </Group>
              {startsAt ? (
                <Text size="xs" c="dimmed" data-testid="reschedule-instant" data-instant={startsAt}>
                  {startsAt}
                </Text>
              ) : (
                <Text size="xs" c="red">
                  Enter a valid date and time.
                </Text>
              )}
            </>
          )}
          <ProblemAlert error={move.error} />
          <Group justify="end">
            <Button variant="default" onClick={onClose}>
              Close
            </Button>
            <Button type="submit" loading={move.isPending} disabled={invalid} data-testid="reschedule-submit">
              Move booking
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
