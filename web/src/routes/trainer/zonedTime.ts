/**
 * Wall-clock date and time in an IANA time zone ↔ an instant, with Intl only (no library).
 * Used by the reschedule form: the trainer types a local date and time, the API wants an
 * ISO instant.
 */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The wall clock in `timeZone` at instant `ms`, as if it were UTC (ms since the epoch). */
function wallClockMs(ms: number, timeZone: string): number {
  const parts = formatter(timeZone).formatToParts(new Date(ms));
  const get = (t: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  const hour = get('hour') % 24;
  return Date.UTC(get('year'), get('month') - 1, get('day'), hour, get('minute'), get('second'));
}

/** The zone's offset from UTC at instant `ms`, in ms (Berlin in summer: +7 200 000). */
export function offsetMs(ms: number, timeZone: string): number {
  const whole = Math.floor(ms / 1000) * 1000;
  return wallClockMs(whole, timeZone) - whole;
}

/** `YYYY-MM-DD` + `HH:MM` are well formed. */
export function isLocalDateTime(date: string, time: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(date) && /^\d{2}:\d{2}(:\d{2})?$/.test(time);
}

/**
 * The instant (ISO 8601, UTC) at which the wall clock in `timeZone` reads `date` `time`.
 * An ambiguous time (the hour repeated when clocks go back) is the earlier instant; a time
 * that does not exist (skipped when clocks go forward) is read with the offset before the
 * change, i.e. moved forward by the gap (02:30 in Berlin on the spring change is 03:30 CEST).
 * Returns null for malformed input or an unknown time zone.
 */
export function zonedToInstant(date: string, time: string, timeZone: string): string | null {
  if (!isLocalDateTime(date, time)) return null;
  const [y, mo, d] = date.split('-').map(Number) as [number, number, number];
  const [h, mi, s = 0] = time.split(':').map(Number) as [number, number, number?];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return null;
  const wall = Date.UTC(y, mo - 1, d, h, mi, s);
  // The wall clock must name a real day (no 31 February).
  if (new Date(wall).getUTCDate() !== d) return null;
  try {
    // Both offsets that could apply around this wall time: a day before and a day after.
    const before = offsetMs(wall - 86_400_000, timeZone);
    const after = offsetMs(wall + 86_400_000, timeZone);
    const candidates = [...new Set([before, after])]
      .map((off) => wall - off)
      .filter((t) => wallClockMs(t, timeZone) === wall)
      .sort((a, b) => a - b);
    const t = candidates[0] ?? wall - before; // a gap: read with the offset before it
    return new Date(t).toISOString();
  } catch {
    return null;
  }
}

/** The wall-clock `YYYY-MM-DD` and `HH:MM` of an instant in `timeZone` (to prefill a form). */
export function instantToZoned(iso: string, timeZone: string): { date: string; time: string } {
  const ms = new Date(iso).getTime();
  const w = new Date(wallClockMs(ms, timeZone)).toISOString();
  return { date: w.slice(0, 10), time: w.slice(11, 16) };
}
