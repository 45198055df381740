/**
 * The trainer's week: days as columns, hours as rows, on the wall clock of the trainer's
 * time zone. Open hours (the availability, read in its own time zone) are shaded; the
 * week's sessions sit on top. A booked 1:1 to come can be dragged (pointer events: mouse,
 * pen or touch) to another start on the slot grid, confirmed in a dialog, and moved through
 * `POST /api/bookings/{id}/reschedule`; Enter on it opens the reschedule form instead.
 */
import { useMemo, useRef, useState, type CSSProperties, type KeyboardEvent, type MouseEvent, type PointerEvent } from 'react';
import { useQueries, useQuery } from '@tanstack/react-query';
import { Alert, Button, Card, Group, Modal, Stack, Text, Title } from '@mantine/core';
import { api, type Schemas } from '../../api/client';
import { unwrap } from '../../api/problem';
import { usePrefs } from '../../auth/AuthContext';
import { ProblemAlert } from '../../components/ProblemAlert';
import { Loading } from '../../components/Loading';
import { addDays, dayToUnix, formatDateTime, formatDay, formatTime, localDate } from '../../lib/time';
import { useUserNames } from '../../lib/useUserNames';
import { availabilityQuery, mayReschedule, RescheduleModal, sessionQuery, useMoveBooking } from './reschedule';
import { instantToZoned, zonedToInstant } from './zonedTime';

type Session = Schemas['Session'];
type Booking = Schemas['Booking'];
type Attendee = Schemas['Attendee'];
type Availability = Pick<Schemas['Availability'], 'time_zone' | 'weekly' | 'exceptions'>;

/** Pixels an hour of the grid is high. */
const HOUR_PX = 48;
/** The drag's grid without availability (the API's slots are `slot_step_min` apart). */
const DEFAULT_STEP = 15;
const DAY_MIN = 1440;
const hourLabel = new Intl.DateTimeFormat(undefined, { timeZone: 'UTC', hour: 'numeric' });
const dayLabel = new Intl.DateTimeFormat(undefined, { timeZone: 'UTC', weekday: 'short', day: 'numeric' });

/** The Monday (`YYYY-MM-DD`) of a day's ISO week. */
export function mondayOf(day: string): string {
  return addDays(day, -((new Date(dayToUnix(day) * 1000).getUTCDay() + 6) % 7));
}

const hhmm = (min: number) => `${String(Math.floor(min / 60)).padStart(2, '0')}:${String(min % 60).padStart(2, '0')}`;

/** Epoch ms at `time` on `day` on the wall clock of `timeZone` (NaN if there is none). */
function at(day: string, time: string, timeZone: string): number {
  const iso = zonedToInstant(day, time, timeZone);
  return iso ? Date.parse(iso) : NaN;
}

/** Minutes past midnight of an instant on the wall clock of `timeZone`. */
function wallMin(ms: number, timeZone: string): number {
  const { time } = instantToZoned(new Date(ms).toISOString(), timeZone);
  return Number(time.slice(0, 2)) * 60 + Number(time.slice(3, 5));
}

/** A stretch of one day column: minutes past that day's midnight. */
export interface Band {
  day: number;
  start: number;
  end: number;
}

/** Where the time from `s` to `e` (epoch ms) falls in the columns of `days`. */
function bands(s: number, e: number, days: string[], timeZone: string): Band[] {
  return days.flatMap((d, day) => {
    const from = at(d, '00:00', timeZone);
    const to = at(addDays(d, 1), '00:00', timeZone);
    if (!(s < to && e > from)) return [];
    return [{ day, start: s <= from ? 0 : wallMin(s, timeZone), end: e >= to ? DAY_MIN : wallMin(e, timeZone) }];
  });
}

/**
 * The open hours of the week in the columns of `days` (the trainer's dates in `timeZone`),
 * read as the API reads them: each local date of the availability's own time zone opens
 * its weekday's hours and `extra` exceptions, less its `off` exceptions (without times:
 * the whole day).
 */
export function openBands(a: Availability, days: string[], timeZone: string): Band[] {
  const spans: [number, number][] = [];
  const last = addDays(days[days.length - 1]!, 1);
  for (let d = addDays(days[0]!, -1); d <= last; d = addDays(d, 1)) {
    const weekday = ((new Date(dayToUnix(d) * 1000).getUTCDay() + 6) % 7) + 1;
    const span = (starts: string, ends: string): [number, number] => [at(d, starts, a.time_zone), at(d, ends, a.time_zone)];
    const exceptions = a.exceptions.filter((x) => x.date === d);
    let open = [
      ...a.weekly.filter((w) => w.weekday === weekday).map((w) => span(w.starts, w.ends)),
      ...exceptions.flatMap((x) => (x.kind === 'extra' && x.starts && x.ends ? [span(x.starts, x.ends)] : [])),
    ];
    for (const off of exceptions.filter((x) => x.kind === 'off')) {
      if (!off.starts || !off.ends) {
        open = [];
        break;
      }
      const [os, oe] = span(off.starts, off.ends);
      open = open.flatMap(([s, e]): [number, number][] => [
        [s, Math.min(e, os)],
        [Math.max(s, oe), e],
      ]);
    }
    spans.push(...open.filter(([s, e]) => s < e));
  }
  return spans.flatMap(([s, e]) => bands(s, e, days, timeZone));
}

/**
 * Where a dragged item lands: the column `dx` pixels across (columns `colWidth` wide, kept
 * within the `days` columns) and the start `dy` pixels lower (`hourPx` an hour), put on
 * that column's slot grid and kept between `min` and `max` minutes past midnight. The grid
 * is every `step` minutes from the start of the open span the drop falls in (or follows),
 * as the API steps its slots from each span's start (`spanStarts[day]`, ascending); from
 * `anchors[day]` when the day has none.
 */
export function dropTarget(o: {
  day: number;
  start: number;
  dx: number;
  dy: number;
  colWidth: number;
  hourPx: number;
  step: number;
  anchors: number[];
  spanStarts?: number[][];
  min: number;
  max: number;
  days: number;
}): { day: number; start: number } {
  const day = Math.min(o.days - 1, Math.max(0, o.day + (o.colWidth > 0 ? Math.round(o.dx / o.colWidth) : 0)));
  const raw = o.start + (o.dy * 60) / o.hourPx;
  const starts = o.spanStarts?.[day] ?? [];
  const anchor = starts.filter((s) => s <= raw).at(-1) ?? starts[0] ?? o.anchors[day] ?? 0;
  const grid = (m: number, f: (x: number) => number) => anchor + f((m - anchor) / o.step) * o.step;
  const start = Math.min(grid(o.max, Math.floor), Math.max(grid(o.min, Math.ceil), grid(raw, Math.round)));
  return { day, start };
}

interface Item {
  session: Session;
  band: Band;
  attendee?: Attendee;
  movable: boolean;
}

interface Drag {
  item: Item;
  x0: number;
  y0: number;
  colWidth: number;
  to: { day: number; start: number } | null;
}

interface Proposal {
  item: Item & { attendee: Attendee };
  day: number;
  start: number;
  startsAt: string;
}

function ConfirmMove({ proposal, name, timeZone, onClose, onMoved }: { proposal: Proposal; name: string; timeZone: string; onClose: () => void; onMoved: (b: Booking) => void }) {
  const { item, startsAt } = proposal;
  const move = useMoveBooking(item.attendee.booking_id, onMoved);
  return (
    <Modal opened onClose={onClose} title="Move this booking?">
      <Stack data-testid="move-confirm" data-booking-id={item.attendee.booking_id}>
        <Text>{name}</Text>
        <Text>
          <span data-testid="move-from" data-starts-at={new Date(item.session.starts_at).toISOString()}>
            {formatDateTime(item.session.starts_at, timeZone)}
          </span>
          {' → '}
          <strong data-testid="move-to" data-starts-at={startsAt}>
            {formatDateTime(startsAt, timeZone)}
          </strong>
        </Text>
        <Text size="xs" c="dimmed">
          Times in {timeZone}
        </Text>
        <ProblemAlert error={move.error} />
        <Group justify="end">
          <Button variant="default" onClick={onClose} data-testid="move-cancel">
            {move.error ? 'Close' : 'Cancel'}
          </Button>
          <Button onClick={() => move.mutate({ starts_at: startsAt })} loading={move.isPending} data-testid="move-submit">
            Move booking
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}

export function WeekCalendar({ trainerId }: { trainerId: string }) {
  const { timeZone, loading } = usePrefs();
  const [offset, setOffset] = useState(0);
  const today = localDate(new Date(), timeZone);
  const monday = addDays(mondayOf(today), 7 * offset);
  const days = useMemo(() => Array.from({ length: 7 }, (_, i) => addDays(monday, i)), [monday]);
  const midnight = (d: string) => zonedToInstant(d, '00:00', timeZone) ?? `${d}T00:00:00.000Z`;
  const from = midnight(monday);
  const to = midnight(addDays(monday, 7));

  const avail = useQuery(availabilityQuery(trainerId));
  const q = useQuery({
    queryKey: ['sessions', trainerId, 'week', from, to],
    queryFn: () => unwrap(api.GET('/api/sessions', { params: { query: { trainer_id: trainerId, from, to } } })),
    enabled: !loading,
  });
  const week = (q.data ?? []).filter(
    (s) => s.status === 'scheduled' && Date.parse(s.starts_at) >= Date.parse(from) && Date.parse(s.starts_at) < Date.parse(to),
  );
  const ones = week.filter((s) => s.kind === 'one_on_one' && s.booked > 0);
  const details = useQueries({ queries: ones.map((s) => sessionQuery(s.id)) });
  const attendees = new Map(
    ones.map((s, i) => {
      const all = details[i]?.data?.attendees ?? [];
      return [s.id, all.find((a) => a.status === 'booked') ?? all[0]];
    }),
  );
  const names = useUserNames([...attendees.values()].flatMap((a) => (a ? [a.client_id] : [])));

  const now = new Date();
  const items: Item[] = week.flatMap((session) => {
    const band = bands(Date.parse(session.starts_at), Date.parse(session.ends_at), days, timeZone)[0];
    const attendee = attendees.get(session.id);
    if (!band) return [];
    return [{ session, band, attendee, movable: !!attendee && session.kind === 'one_on_one' && mayReschedule(session, attendee, now) }];
  });
  const open = avail.data ? openBands(avail.data, days, timeZone) : [];
  const step = avail.data?.slot_step_min ?? DEFAULT_STEP;
  const spanStarts = days.map((_, i) => open.filter((b) => b.day === i).map((b) => b.start).sort((a, b) => a - b));
  const anchors = spanStarts.map((starts) => starts[0] ?? 0);
  const all = [...open, ...items.map((i) => i.band)];
  const firstHour = all.length ? Math.floor(Math.min(...all.map((b) => b.start)) / 60) : 8;
  const lastHour = Math.max(firstHour + 1, all.length ? Math.ceil(Math.max(...all.map((b) => b.end)) / 60) : 18);
  const y = (min: number) => ((min - firstHour * 60) * HOUR_PX) / 60;

  // The drag as the pointer handlers read it (a ref: no stale state between two events),
  // and as the grid shows it.
  const dragRef = useRef<Drag | null>(null);
  const [drag, setDragState] = useState<Drag | null>(null);
  const setDrag = (d: Drag | null) => {
    dragRef.current = d;
    setDragState(d);
  };
  const [proposal, setProposal] = useState<Proposal | null>(null);
  const [form, setForm] = useState<(Item & { attendee: Attendee }) | null>(null);
  const [moved, setMoved] = useState<Booking | null>(null);
  const dragged = useRef(false);

  const pointer = (item: Item) => ({
    onPointerDown: (e: PointerEvent<HTMLElement>) => {
      if (e.button !== 0 || dragRef.current) return;
      dragged.current = false;
      e.currentTarget.setPointerCapture?.(e.pointerId);
      const colWidth = e.currentTarget.parentElement?.getBoundingClientRect().width ?? 0;
      setDrag({ item, x0: e.clientX, y0: e.clientY, colWidth, to: null });
    },
    onPointerMove: (e: PointerEvent<HTMLElement>) => {
      const drag = dragRef.current;
      if (drag?.item.session.id !== item.session.id) return;
      const dx = e.clientX - drag.x0;
      const dy = e.clientY - drag.y0;
      if (!drag.to && Math.hypot(dx, dy) < 4) return;
      const { band } = item;
      const next = dropTarget({
        day: band.day,
        start: band.start,
        dx,
        dy,
        colWidth: drag.colWidth,
        hourPx: HOUR_PX,
        step,
        anchors,
        spanStarts,
        min: firstHour * 60,
        max: lastHour * 60 - (band.end - band.start),
        days: days.length,
      });
      if (next.day !== drag.to?.day || next.start !== drag.to.start) setDrag({ ...drag, to: next });
    },
    onPointerUp: () => {
      const drag = dragRef.current;
      if (!drag) return;
      setDrag(null);
      if (!drag.to || !item.attendee) return;
      dragged.current = true;
      const startsAt = zonedToInstant(days[drag.to.day]!, hhmm(drag.to.start), timeZone);
      if (startsAt && Date.parse(startsAt) !== Date.parse(item.session.starts_at)) {
        setProposal({ item: { ...item, attendee: item.attendee }, ...drag.to, startsAt });
      }
    },
    onPointerCancel: () => setDrag(null),
    onKeyDown: (e: KeyboardEvent) => {
      if (e.key === 'Escape') setDrag(null);
    },
    onClick: (e: MouseEvent) => {
      // The click that ends a drag opens nothing; Enter or a plain click opens the form.
      if (dragged.current && e.detail > 0) {
        dragged.current = false;
        return;
      }
      if (item.attendee) setForm({ ...item, attendee: item.attendee });
    },
  });

  // The outline of where the item would go, with its time: while dragging, then until confirmed.
  const ghost = drag?.to
    ? { item: drag.item, ...drag.to, startsAt: zonedToInstant(days[drag.to.day]!, hhmm(drag.to.start), timeZone) }
    : proposal;

  if (loading) return <Loading />;
  const label = (item: Item) =>
    item.session.kind === 'group'
      ? `Class ${item.session.booked}/${item.session.capacity}`
      : item.attendee
        ? `1:1 ${names[item.attendee.client_id]}`
        : `1:1 ${item.session.booked}/${item.session.capacity}`;
  return (
    <Card withBorder component="section" aria-labelledby="cal-h">
      <Group justify="space-between" wrap="wrap" gap="xs" mb="xs">
        <Title order={2} size="h4" id="cal-h">
          Week of {formatDay(monday)}
        </Title>
        <Group gap="xs" wrap="nowrap">
          <Button size="compact-sm" variant="default" onClick={() => setOffset((o) => o - 1)} aria-label="Previous week" data-testid="cal-prev">
            ‹
          </Button>
          <Button size="compact-sm" variant="default" onClick={() => setOffset(0)} disabled={offset === 0} data-testid="cal-today">
            Today
          </Button>
          <Button size="compact-sm" variant="default" onClick={() => setOffset((o) => o + 1)} aria-label="Next week" data-testid="cal-next">
            ›
          </Button>
        </Group>
      </Group>
      <Text size="xs" c="dimmed" mb="xs">
        Times in {timeZone}; shaded: open hours. Drag a booked 1:1 to move it, or select it and press Enter for the form.
      </Text>
      {moved ? (
        <Alert color="green" mb="xs" data-testid="calendar-moved" data-starts-at={new Date(moved.starts_at).toISOString()} withCloseButton onClose={() => setMoved(null)}>
          Moved to {formatDateTime(moved.starts_at, timeZone)}.
        </Alert>
      ) : null}
      <ProblemAlert error={q.error} />
      <div className="fs-scroll">
        <div
          className="fs-cal"
          data-testid="week-calendar"
          data-week-start={monday}
          style={{ '--fs-hour': `${HOUR_PX}px` } as CSSProperties}
        >
          <div />
          {days.map((d) => (
            <div key={d} className="fs-cal-head" data-today={d === today || undefined}>
              {dayLabel.format(dayToUnix(d) * 1000)}
            </div>
          ))}
          <div className="fs-cal-hours" style={{ height: y(lastHour * 60) }} aria-hidden="true">
            {Array.from({ length: lastHour - firstHour }, (_, i) => (
              <span key={i} className="fs-cal-hour" data-testid="cal-hour" data-hour={firstHour + i} style={{ top: i * HOUR_PX }}>
                {hourLabel.format(Date.UTC(2000, 0, 1, firstHour + i))}
              </span>
            ))}
          </div>
          {days.map((d, day) => (
            <div key={d} className="fs-cal-col" role="group" aria-label={formatDay(d)} data-testid="cal-day" data-day={d} style={{ height: y(lastHour * 60) }}>
              {open
                .filter((b) => b.day === day)
                .map((b) => (
                  <div key={b.start} className="fs-cal-open" data-testid="cal-open" style={{ top: y(b.start), height: y(b.end) - y(b.start) }} />
                ))}
              {items
                .filter((i) => i.band.day === day)
                .map((item) => {
                  const { session, band } = item;
                  const common = {
                    className: 'fs-cal-item',
                    'data-testid': 'cal-item',
                    'data-session-id': session.id,
                    'data-booking-id': item.attendee?.booking_id,
                    'data-kind': session.kind,
                    'data-starts-at': new Date(session.starts_at).toISOString(),
                    'data-dragging': drag?.item.session.id === session.id || proposal?.item.session.id === session.id || undefined,
                    style: { top: y(band.start), height: Math.max(16, y(band.end) - y(band.start)) },
                  };
                  const text = (
                    <>
                      <strong>{formatTime(session.starts_at, timeZone)}</strong> {label(item)}
                    </>
                  );
                  return item.movable ? (
                    <button
                      key={session.id}
                      type="button"
                      {...common}
                      aria-label={`${formatDateTime(session.starts_at, timeZone)}, ${label(item)}: drag to move, or press Enter to reschedule`}
                      {...pointer(item)}
                    >
                      {text}
                    </button>
                  ) : (
                    <div key={session.id} {...common}>
                      {text}
                    </div>
                  );
                })}
              {ghost && ghost.day === day ? (
                <div
                  className="fs-cal-ghost"
                  data-testid="cal-ghost"
                  data-starts-at={ghost.startsAt ?? undefined}
                  aria-live="polite"
                  style={{ top: y(ghost.start), height: Math.max(16, ((ghost.item.band.end - ghost.item.band.start) * HOUR_PX) / 60) }}
                >
                  {ghost.startsAt ? formatTime(ghost.startsAt, timeZone) : '–'}
                </div>
              ) : null}
            </div>
          ))}
        </div>
      </div>
      {proposal ? (
        <ConfirmMove
          proposal={proposal}
          name={names[proposal.item.attendee.client_id] ?? ''}
          timeZone={timeZone}
          onClose={() => setProposal(null)}
          onMoved={(b) => {
            setProposal(null);
            setMoved(b);
          }}
        />
      ) : null}
      {form ? (
        <RescheduleModal
          attendee={form.attendee}
          session={form.session}
          classes={week}
          timeZone={timeZone}
          onClose={() => setForm(null)}
          onMoved={(b) => {
            setForm(null);
            setMoved(b);
          }}
        />
      ) : null}
    </Card>
  );
}
