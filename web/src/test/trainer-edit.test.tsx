import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { renderApp, signInThroughForm } from './render';
import { fakeApi, json, type Handler } from './fakeApi';
import type { Schemas } from '../api/client';
import { buildDocument, draftFromDocument } from '../routes/trainer/Programs';

type ProgramDocument = Schemas['ProgramDocument'];

const LB = 0.45359237;

/** A week as the API returns a stored program: every field a slot may carry. */
function week(squatSets: number): Schemas['Week'] {
  return {
    days: [
      {
        offset: 0,
        name: 'Monday',
        slots: [
          {
            exercise: 'barbell-squat',
            sets: squatSets,
            reps_min: 5,
            reps_max: 5,
            load: { type: 'absolute', kg: 60 },
            rest_secs: 180,
            tempo: null,
            notes: 'belt on top sets',
            superset: null,
            progression: { increment_kg: 2.5, deload_percent: 10, deload_after_failures: 2, target_rir: null },
          },
          { exercise: 'barbell-bench-press-medium-grip', sets: 3, reps_min: 6, reps_max: 10, load: { type: 'percent_e1rm', percent: 75 }, rest_secs: null, tempo: '3010', notes: null, superset: 'A', progression: null },
        ],
      },
      {
        offset: 4,
        name: 'Friday',
        slots: [{ exercise: 'barbell-deadlift', sets: 1, reps_min: 5, reps_max: 5, load: { type: 'absolute', kg: 102.5 }, rest_secs: 240, tempo: null, notes: null, superset: null, progression: null }],
      },
    ],
  };
}

const STORED: ProgramDocument = { name: 'Demo: 12 weeks of strength', description: null, weeks: [week(3), week(3), week(3)] };

const rebuild = (doc: ProgramDocument, unit: 'kg' | 'lb') => {
  const { draft } = draftFromDocument(doc, unit);
  return buildDocument(draft.name, draft.description, draft.weeks, draft.days, unit);
};

describe('a stored program in the builder and back', () => {
  it('round-trips document → builder state → document, in kilograms and in pounds', () => {
    expect(rebuild(STORED, 'kg')).toEqual(STORED);
    expect(rebuild(STORED, 'lb')).toEqual(STORED);
    const described = { ...STORED, description: 'Three lifts, linear progression' };
    expect(rebuild(described, 'lb')).toEqual(described);
  });

  it("shows weights in the trainer's unit and keeps what it does not edit", () => {
    const { draft, uniform } = draftFromDocument(STORED, 'lb');
    expect(uniform).toBe(true);
    expect(draft).toMatchObject({ name: STORED.name, description: '', weeks: 3 });
    expect(draft.days.map((d) => [d.offset, d.name, d.slots.length])).toEqual([[0, 'Monday', 2], [4, 'Friday', 1]]);
    const squat = draft.days[0]!.slots[0]!;
    // 60 kg and 2.5 kg in pounds, to two decimals: 132.28 and 5.51.
    expect(squat).toMatchObject({ exercise: 'barbell-squat', name: 'Barbell squat', sets: 3, reps_min: 5, reps_max: 5 });
    expect(squat.load).toBe(Math.round((60 / LB) * 100) / 100);
    expect(squat.load).toBe(132.28);
    expect(squat.increment).toBe(5.51);
    expect(draftFromDocument(STORED, 'kg').draft.days[1]!.slots[0]!.load).toBe(102.5);
    // Edited in the builder: the squat's sets and load (in pounds) change, the rest stays.
    squat.sets = 5;
    squat.load = 135;
    const saved = buildDocument(draft.name, draft.description, draft.weeks, draft.days, 'lb');
    const expectedSquat = { ...week(5).days[0]!.slots[0]!, load: { type: 'absolute', kg: Math.round(135 * LB * 100) / 100 } };
    expect(expectedSquat.load).toEqual({ type: 'absolute', kg: 61.23 });
    for (const w of saved.weeks) {
      expect(w.days[0]!.slots[0]).toEqual(expectedSquat);
      expect(w.days[0]!.slots[1]).toEqual(STORED.weeks[0]!.days[0]!.slots[1]);
      expect(w.days[1]).toEqual(STORED.weeks[0]!.days[1]);
    }
  });

  it('says when the weeks differ (the builder repeats week 1)', () => {
    const varied = { ...STORED, weeks: [week(3), week(4)] };
    const { draft, uniform } = draftFromDocument(varied, 'kg');
    expect(uniform).toBe(false);
    expect(draft.weeks).toBe(2);
    expect(buildDocument(draft.name, draft.description, draft.weeks, draft.days, 'kg').weeks).toEqual([week(3), week(3)]);
  });
});

// --- The screens against a fake API ---------------------------------------------------

const TRAINER = '01a23adf-21d9-70d9-8c50-34429db02f01';
const OTHER = '01a23adf-21d9-70d9-8c50-34429db02f02';
const GYM = '01a23adf-21d9-70d9-8c50-34429db02f03';
const MINE = '01a23adf-21d9-70d9-8c50-34429db02f04';
const THEIRS = '01a23adf-21d9-70d9-8c50-34429db02f05';

function fakeTrainerApi(handler: Handler) {
  return fakeApi({ id: TRAINER, role: 'trainer' }, async (req, url) => {
    const own = await handler(req, url);
    if (own) return own;
    return ['/api/sessions', '/api/users/relationships'].includes(url.pathname) ? json([]) : undefined;
  });
}

async function signInAndOpen(nav: string) {
  renderApp();
  await signInThroughForm();
  fireEvent.click(await screen.findByTestId(nav, {}, { timeout: 3000 }));
}

describe('a trainer edits a program', () => {
  it('loads it into the builder, shows a refusal, then saves a new version with PUT and lists it', async () => {
    let template = {
      id: MINE, owner_kind: 'trainer', owner_id: TRAINER, shared_gym_id: GYM, version: 3, document: STORED,
      created_at: '2026-01-01T00:00:00Z', updated_at: '2026-02-01T00:00:00Z',
    };
    const theirs = { id: THEIRS, name: 'Their program', owner_kind: 'trainer', owner_id: OTHER, shared_gym_id: GYM, version: 1, updated_at: '2026-01-01T00:00:00Z' };
    const put: { document: ProgramDocument; shared_gym_id?: string | null }[] = [];
    vi.stubGlobal(
      'fetch',
      fakeTrainerApi(async (req, url) => {
        if (url.pathname === '/api/programs') {
          const { document, created_at: _, ...summary } = template;
          return json([{ ...summary, name: document.name }, theirs]);
        }
        if (url.pathname !== `/api/programs/${MINE}`) return undefined;
        if (req.method === 'GET') return json(template);
        expect(req.method).toBe('PUT');
        expect(req.headers.get('x-csrf-token')).toBe('c1');
        put.push((await req.json()) as (typeof put)[number]);
        if (put.length === 1) {
          return json({ type: 'https://fitsync.dev/problems/validation', title: 'Unprocessable Entity', status: 422, errors: [{ field: 'weeks[0].days[0].slots[0].sets', message: 'at most 20' }] }, 422);
        }
        template = { ...template, version: template.version + 1, document: put[put.length - 1]!.document };
        return json(template);
      }),
    );
    await signInAndOpen('nav-programs');
    const rows = await screen.findAllByTestId('program-row');
    expect(rows.map((r) => r.dataset.programId)).toEqual([MINE, THEIRS]);
    // Only the trainer's own template can be edited.
    expect(within(rows[1]!).queryByTestId('program-edit')).toBeNull();
    fireEvent.click(within(rows[0]!).getByTestId('program-edit'));

    const builder = await screen.findByTestId('program-builder');
    expect(builder).toHaveTextContent('Edit program (version 3)');
    expect(within(builder).getByTestId('program-name')).toHaveValue(STORED.name);
    expect(within(builder).getByTestId('program-weeks')).toHaveValue('3');
    expect(within(builder).getAllByTestId('builder-day')).toHaveLength(2);
    const slots = within(builder).getAllByTestId('builder-slot');
    expect(slots.map((s) => s.dataset.exercise)).toEqual(['barbell-squat', 'barbell-bench-press-medium-grip', 'barbell-deadlift']);
    expect(within(slots[0]!).getByTestId('slot-sets')).toHaveValue('3');
    expect(within(slots[0]!).getByLabelText('Barbell squat load')).toHaveValue('60');
    expect(slots[1]).toHaveTextContent('75 % e1RM');

    fireEvent.change(within(builder).getByTestId('program-name'), { target: { value: 'Strength, v2' } });
    fireEvent.change(within(slots[0]!).getByTestId('slot-sets'), { target: { value: '4' } });
    fireEvent.click(within(builder).getByTestId('save-program'));
    const problem = await within(builder).findByTestId('problem');
    expect(problem).toHaveTextContent('Unprocessable Entity');
    expect(problem).toHaveTextContent('at most 20');

    fireEvent.click(within(builder).getByTestId('save-program'));
    const saved = await screen.findByTestId('program-saved');
    expect(saved).toHaveAttribute('data-version', '4');
    expect(saved).toHaveTextContent('version 4');
    expect(screen.queryByTestId('program-builder')).toBeNull();
    // The body: the stored document with the new name and the squat's sets, still shared.
    const expected = { ...STORED, name: 'Strength, v2', weeks: [week(4), week(4), week(4)] };
    expect(put).toHaveLength(2);
    expect(put[1]).toEqual({ document: expected, shared_gym_id: GYM });
    // The list is fetched again.
    await waitFor(() => expect(screen.getAllByTestId('program-row')[0]).toHaveAttribute('data-version', '4'));
    expect(screen.getAllByTestId('program-name-shown')[0]).toHaveTextContent('Strength, v2');
  });
});

describe('a trainer adds and removes availability exceptions', () => {
  // Wednesday 11 December 2030, 10:00 in Berlin.
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2030-12-11T09:00:00Z'));
  });
  afterEach(() => vi.useRealTimers());

  it('lists the upcoming ones, saves each change with the stored weekly hours, and shows a refusal', async () => {
    const weekly = [1, 2, 3, 4, 5].map((weekday) => ({ weekday, starts: '07:00', ends: '19:00' }));
    const past = { date: '2030-12-01', kind: 'off', starts: null, ends: null };
    const extra = { date: '2030-12-14', kind: 'extra', starts: '09:00', ends: '12:00' };
    let availability = {
      trainer_id: TRAINER, time_zone: 'Europe/Berlin', weekly, exceptions: [past, extra], buffer_before_min: 0, buffer_after_min: 15,
      min_notice_min: 120, horizon_days: 60, max_per_day: 8, max_per_week: null, slot_step_min: 30, revision: 5, updated_at: '2030-12-01T00:00:00Z',
    };
    const put: Record<string, unknown>[] = [];
    vi.stubGlobal(
      'fetch',
      fakeTrainerApi(async (req, url) => {
        if (url.pathname !== `/api/availability/${TRAINER}`) return undefined;
        if (req.method === 'GET') return json(availability);
        const body = (await req.json()) as Record<string, unknown>;
        put.push(body);
        if (put.length === 1) {
          return json({ type: 'https://fitsync.dev/problems/validation', title: 'Unprocessable Entity', status: 422, errors: [{ field: 'exceptions[2]', message: 'extra hours need starts and ends' }] }, 422);
        }
        availability = { ...availability, exceptions: body.exceptions as typeof availability.exceptions, revision: availability.revision + 1 };
        return json(availability);
      }),
    );
    await signInAndOpen('nav-schedule');
    const box = await screen.findByTestId('exceptions');
    // The past day off is not listed; the extra hours on Saturday 14th are.
    const rows = within(box).getAllByTestId('exception-row');
    expect(rows.map((r) => [r.dataset.date, r.dataset.kind, r.dataset.starts, r.dataset.ends])).toEqual([['2030-12-14', 'extra', '09:00', '12:00']]);
    expect(box).toHaveTextContent('Europe/Berlin');
    // The form starts on tomorrow in Berlin.
    expect(within(box).getByTestId('exception-date')).toHaveValue('2030-12-12');

    // A day off on 31 December: refused once, then saved.
    fireEvent.change(within(box).getByTestId('exception-date'), { target: { value: '2030-12-31' } });
    fireEvent.click(within(box).getByTestId('exception-add'));
    const problem = await within(box).findByTestId('problem');
    expect(problem).toHaveTextContent('extra hours need starts and ends');
    fireEvent.click(within(box).getByTestId('exception-add'));
    await waitFor(() => expect(within(box).getAllByTestId('exception-row').map((r) => r.dataset.date)).toEqual(['2030-12-14', '2030-12-31']));
    expect(put).toHaveLength(2);
    const dayOff = { date: '2030-12-31', kind: 'off' };
    expect(put[1]).toMatchObject({ time_zone: 'Europe/Berlin', weekly, exceptions: [past, extra, dayOff], buffer_after_min: 15, max_per_day: 8, horizon_days: 60 });

    // Extra hours on the 20th, 06:00–08:00.
    fireEvent.change(within(box).getByTestId('exception-date'), { target: { value: '2030-12-20' } });
    fireEvent.change(within(box).getByTestId('exception-kind'), { target: { value: 'extra' } });
    fireEvent.change(within(box).getByTestId('exception-starts'), { target: { value: '08:00' } });
    fireEvent.change(within(box).getByTestId('exception-ends'), { target: { value: '06:00' } });
    // An end before the start is not sent.
    expect(within(box).getByTestId('exception-add')).toBeDisabled();
    fireEvent.change(within(box).getByTestId('exception-starts'), { target: { value: '06:00' } });
    fireEvent.change(within(box).getByTestId('exception-ends'), { target: { value: '08:00' } });
    fireEvent.click(within(box).getByTestId('exception-add'));
    await waitFor(() => expect(within(box).getAllByTestId('exception-row')).toHaveLength(3));
    expect(put[2]!.exceptions).toEqual([past, extra, dayOff, { date: '2030-12-20', kind: 'extra', starts: '06:00', ends: '08:00' }]);

    // Removing the extra hours on the 14th keeps the others, the past one too.
    const remove = within(box).getAllByTestId('exception-row').find((r) => r.dataset.date === '2030-12-14')!;
    fireEvent.click(within(remove).getByTestId('exception-remove'));
    await waitFor(() => expect(within(box).getAllByTestId('exception-row').map((r) => r.dataset.date)).toEqual(['2030-12-20', '2030-12-31']));
    expect(put[3]!.exceptions).toEqual([past, dayOff, { date: '2030-12-20', kind: 'extra', starts: '06:00', ends: '08:00' }]);
    expect(put[3]!.weekly).toEqual(weekly);
  });
});
