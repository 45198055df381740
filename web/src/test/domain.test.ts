import { describe, expect, it } from 'vitest';
import { isLateCancel } from '../routes/client/Bookings';
import { buildDocument } from '../routes/trainer/Programs';
import { sortByUrgency } from '../routes/trainer/Clients';
import { exportUrl } from '../routes/gym/Kpis';

describe('domain helpers', () => {
  it('a cancel after free_cancellation_until is late', () => {
    const b = { free_cancellation_until: '2026-12-10T07:00:00Z' };
    expect(isLateCancel(b, new Date('2026-12-10T06:59:59Z'))).toBe(false);
    expect(isLateCancel(b, new Date('2026-12-10T07:00:01Z'))).toBe(true);
  });

  it('the program builder stores loads in kilograms', () => {
    const doc = buildDocument('Strength', '', 2, [
      { offset: 2, name: 'B', slots: [{ exercise: 'barbell-squat', name: 'Squat', sets: 3, reps_min: 5, reps_max: 3, load: 225, increment: 5 }] },
      { offset: 0, name: 'A', slots: [{ exercise: 'barbell-bench-press-medium-grip', name: 'Bench', sets: 3, reps_min: 5, reps_max: 8, load: 135, increment: 0 }] },
    ], 'lb');
    expect(doc.weeks).toHaveLength(2);
    const days = doc.weeks[0]!.days;
    expect(days.map((d) => d.offset)).toEqual([0, 2]);
    const squat = days[1]!.slots[0]!;
    expect(squat.load).toEqual({ type: 'absolute', kg: Math.round(225 * 0.45359237 * 100) / 100 });
    expect(squat.reps_max).toBe(5); // never below reps_min
    expect(squat.progression?.increment_kg).toBeCloseTo(5 * 0.45359237, 2);
    expect(days[0]!.slots[0]!.progression).toBeNull();
  });

  it('sorts clients by urgency', () => {
    const base = { no_shows_30: 0, workload_flagged: false };
    const sorted = sortByUrgency([
      { client_id: 'a', score: 10, reasons: [], ...base },
      { client_id: 'b', score: 35, reasons: ['no_shows'], ...base },
      { client_id: 'c', score: 10, reasons: ['adherence_drop'], ...base },
    ]);
    expect(sorted.map((c) => c.client_id)).toEqual(['b', 'c', 'a']);
  });

  it('builds export links with the date range', () => {
    expect(exportUrl('g1', 'daily', 'csv', '2026-11-01', '2026-11-30')).toBe(
      '/api/analytics/gyms/g1/export?dataset=daily&format=csv&from=2026-11-01&to=2026-11-30',
    );
  });
});
