//! Hand-computed expectations for the per-day, per-week and workload plans.

use fitsync_analytics::{
    day_analytics, epley, muscle_weeks, records, sets_frame, week_start, workload, DailyLoad,
    SetRow,
};

const DAY_MS: i64 = 86_400_000;
// 2026-11-23 is a Monday.
const MONDAY: i32 = 20_780;

struct Set {
    id: &'static str,
    client: &'static str,
    exercise: &'static str,
    reps: i32,
    kg: f64,
    rir: Option<i32>,
    day: i32,
    failed: bool,
    workout: Option<&'static str>,
}

impl Set {
    fn row(&self, at_ms: i64) -> SetRow {
        SetRow {
            set_id: self.id.into(),
            client_id: self.client.into(),
            exercise: self.exercise.into(),
            reps: self.reps,
            weight_kg: self.kg,
            rir: self.rir,
            performed_at_ms: at_ms,
            local_day: self.day,
            failed: self.failed,
            workout_id: self.workout.map(Into::into),
        }
    }
}

fn set(
    id: &'static str,
    exercise: &'static str,
    reps: i32,
    kg: f64,
    rir: Option<i32>,
    day: i32,
) -> Set {
    Set {
        id,
        client: "c1",
        exercise,
        reps,
        kg,
        rir,
        day,
        failed: false,
        workout: None,
    }
}

fn frame(sets: &[Set]) -> polars::prelude::DataFrame {
    let rows: Vec<SetRow> = sets
        .iter()
        .enumerate()
        .map(|(i, s)| s.row(i64::from(s.day) * DAY_MS + i as i64))
        .collect();
    sets_frame(&rows).unwrap()
}

#[test]
fn week_start_is_the_monday_of_the_iso_week() {
    for d in MONDAY..MONDAY + 7 {
        assert_eq!(week_start(d), MONDAY);
    }
    assert_eq!(week_start(MONDAY - 1), MONDAY - 7);
    // 1970-01-01 was a Thursday; its week began on Monday 1969-12-29.
    assert_eq!(week_start(0), -3);
    assert_eq!(week_start(-4), -10);
}

#[test]
fn a_day_counts_sets_reps_volume_and_hard_sets() {
    let sets = [
        set("a", "back-squat", 5, 100.0, Some(3), MONDAY), // hard: 3 in reserve
        set("b", "back-squat", 5, 100.0, Some(4), MONDAY), // not hard: 4 in reserve
        set("c", "bench-press", 8, 60.0, None, MONDAY),    // hard: effort unknown
        Set {
            failed: true,
            ..set("d", "bench-press", 3, 70.0, Some(5), MONDAY) // hard: failed
        },
        set("e", "back-squat", 10, 50.0, Some(6), MONDAY + 1),
    ];
    let out = day_analytics(&frame(&sets)).unwrap();
    let days: Vec<_> = out
        .daily
        .iter()
        .map(|d| (d.day, d.sets, d.hard_sets, d.reps, d.volume_kg))
        .collect();
    assert_eq!(
        days,
        vec![
            (MONDAY, 4, 3, 21, 500.0 + 500.0 + 480.0 + 210.0),
            (MONDAY + 1, 1, 0, 10, 500.0)
        ]
    );
    // The day's best squat e1RM: 5 reps with 4 in reserve (9 to failure) estimate higher
    // than 5 with 3 (8 to failure), so set b.
    let squat = out
        .e1rm
        .iter()
        .find(|e| e.exercise == "back-squat" && e.day == MONDAY)
        .unwrap();
    assert_eq!(squat.set_id, "b");
    assert!((squat.e1rm_kg - epley(100.0, 9)).abs() < 1e-9);
}

#[test]
fn sessions_are_workouts_per_day_and_the_days_loose_sets() {
    let sets = [
        Set {
            workout: Some("w1"),
            ..set("a", "back-squat", 5, 100.0, None, MONDAY)
        },
        Set {
            workout: Some("w1"),
            ..set("b", "back-squat", 5, 80.0, None, MONDAY)
        },
        set("c", "bench-press", 10, 40.0, None, MONDAY),
        set("d", "bench-press", 10, 45.0, None, MONDAY),
    ];
    let out = day_analytics(&frame(&sets)).unwrap();
    let sessions: Vec<_> = out
        .sessions
        .iter()
        .map(|s| (s.workout_id.as_deref(), s.volume_kg, s.sets))
        .collect();
    assert_eq!(sessions, vec![(None, 850.0, 2), (Some("w1"), 900.0, 2)]);
}

#[test]
fn a_record_per_rep_count_is_the_heaviest_set_and_the_earliest_on_a_tie() {
    let sets = [
        set("late", "deadlift", 5, 140.0, None, MONDAY + 3),
        set("early", "deadlift", 5, 140.0, None, MONDAY + 1),
        set("light", "deadlift", 5, 120.0, None, MONDAY),
        set("triple", "deadlift", 3, 150.0, None, MONDAY + 2),
    ];
    let out = records(&frame(&sets)).unwrap();
    let got: Vec<_> = out
        .iter()
        .map(|r| (r.reps, r.weight_kg, r.set_id.as_str(), r.day))
        .collect();
    assert_eq!(
        got,
        vec![
            (3, 150.0, "triple", MONDAY + 2),
            (5, 140.0, "early", MONDAY + 1)
        ]
    );
}

#[test]
fn muscle_weeks_count_primary_muscles_in_local_iso_weeks() {
    let muscles = [
        ("back-squat".to_owned(), "quadriceps".to_owned()),
        ("back-squat".to_owned(), "glutes".to_owned()),
        ("bench-press".to_owned(), "chest".to_owned()),
    ];
    let sets = [
        set("a", "back-squat", 5, 100.0, Some(2), MONDAY - 1), // Sunday: the week before
        set("b", "back-squat", 5, 100.0, Some(5), MONDAY),
        set("c", "bench-press", 10, 50.0, Some(1), MONDAY + 6),
        set("d", "curl", 10, 10.0, Some(0), MONDAY), // no known muscles: counted nowhere
    ];
    let out = muscle_weeks(&frame(&sets), &muscles).unwrap();
    let got: Vec<_> = out
        .iter()
        .map(|m| {
            (
                m.week_start,
                m.muscle.as_str(),
                m.sets,
                m.hard_sets,
                m.volume_kg,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (MONDAY - 7, "glutes", 1, 1, 500.0),
            (MONDAY - 7, "quadriceps", 1, 1, 500.0),
            (MONDAY, "chest", 1, 1, 500.0),
            (MONDAY, "glutes", 1, 0, 500.0),
            (MONDAY, "quadriceps", 1, 0, 500.0),
        ]
    );
}

#[test]
fn workload_is_the_7_day_mean_over_the_28_day_mean() {
    // 1000 kg every 4th day for 8 weeks, then 3000 kg on each of the last 3 days.
    let first = MONDAY - 60;
    let mut load = std::collections::BTreeMap::new();
    for d in (first..MONDAY).step_by(4) {
        load.insert(d, 1000.0);
    }
    for d in MONDAY..MONDAY + 3 {
        load.insert(d, 3000.0);
    }
    let loads: Vec<DailyLoad> = load
        .iter()
        .map(|(d, l)| DailyLoad {
            client_id: "c1".into(),
            day: *d,
            load_kg: *l,
        })
        .collect();
    let out = workload(&loads, &[("c1".into(), MONDAY - 30, MONDAY + 40)]).unwrap();
    // The formula, day by day.
    let sum = |to: i32, n: i32| -> f64 { (to - n + 1..=to).filter_map(|d| load.get(&d)).sum() };
    let want: Vec<(i32, f64, f64, f64)> = (MONDAY - 30..=MONDAY + 40)
        .filter(|d| sum(*d, 28) > 0.0)
        .map(|d| {
            let (a, c) = (sum(d, 7) / 7.0, sum(d, 28) / 28.0);
            (d, load.get(&d).copied().unwrap_or(0.0), a, c)
        })
        .collect();
    assert_eq!(out.len(), want.len());
    for (w, (d, l, a, c)) in out.iter().zip(want) {
        assert_eq!(w.day, d);
        assert!((w.load_kg - l).abs() < 1e-9 && (w.acute_kg - a).abs() < 1e-9);
        assert!((w.chronic_kg - c).abs() < 1e-9 && (w.ratio - a / c).abs() < 1e-9);
    }
    // The spike is flagged; the steady weeks are not; nor is the first week, whose ratio
    // is high only because nothing came before it.
    let on = |d: i32| out.iter().find(|w| w.day == d).unwrap();
    assert!(on(MONDAY + 2).ratio > fitsync_analytics::ACWR_FLAG && on(MONDAY + 2).flagged);
    assert!(on(MONDAY - 5).ratio < fitsync_analytics::ACWR_FLAG && !on(MONDAY - 5).flagged);
    let first = workload(&loads, &[("c1".into(), first, first + 3)]).unwrap();
    assert!(first
        .iter()
        .all(|w| (w.ratio - 4.0).abs() < 1e-9 && !w.flagged));
    // 28 days after the last load nothing is in the window: no row.
    assert!(out.iter().all(|w| w.day < MONDAY + 2 + 28));
}

mod body {
    use fitsync_analytics::{daily_metrics, weight_trend, MeasurementRow};

    #[test]
    fn a_days_value_is_the_mean_of_its_measurements() {
        let row = |metric: &str, day: i32, value: f64| MeasurementRow {
            client_id: "c1".into(),
            metric: metric.into(),
            day,
            value,
        };
        let out = daily_metrics(&[
            row("weight", 5, 80.0),
            row("weight", 5, 81.0),
            row("weight", 6, 79.5),
            row("waist", 5, 90.0),
        ])
        .unwrap();
        let got: Vec<_> = out
            .iter()
            .map(|d| (d.metric.as_str(), d.day, d.value, d.measurements))
            .collect();
        assert_eq!(
            got,
            vec![
                ("waist", 5, 90.0, 1),
                ("weight", 5, 80.5, 2),
                ("weight", 6, 79.5, 1)
            ]
        );
    }

    #[test]
    fn the_trend_moves_a_tenth_of_the_way_to_each_weight() {
        // Given out of order; day 3 has no weight and no point.
        let out = weight_trend(&[(4, 79.0), (1, 80.0), (2, 81.0)]);
        let t1 = 80.0;
        let t2 = t1 + 0.1 * (81.0 - t1);
        let t4 = t2 + 0.1 * (79.0 - t2);
        let got: Vec<(i32, f64)> = out.iter().map(|p| (p.day, p.trend_kg)).collect();
        assert_eq!(got.len(), 3);
        for ((day, trend), (want_day, want)) in got.iter().zip([(1, t1), (2, t2), (4, t4)]) {
            assert_eq!(*day, want_day);
            assert!((trend - want).abs() < 1e-12);
        }
        assert!(weight_trend(&[]).is_empty());
    }
}

#[test]
fn a_plateau_is_a_weekly_best_e1rm_whose_fitted_slope_is_not_positive() {
    use fitsync_analytics::{plateaus, WeekBest};
    let week = |exercise: &str, n: i32, kg: f64| WeekBest {
        exercise: exercise.into(),
        week_start: MONDAY + 7 * n,
        e1rm_kg: kg,
    };
    let out = plateaus(&[
        // Rising 2.5 kg a week.
        week("squat", 0, 100.0),
        week("squat", 1, 102.5),
        week("squat", 2, 105.0),
        // Up, down, flat: the fit through (0, 80), (1, 82), (2, 79), (3, 80).
        week("bench", 0, 80.0),
        week("bench", 1, 82.0),
        week("bench", 2, 79.0),
        week("bench", 3, 80.0),
        // Two weeks are too few to call.
        week("deadlift", 0, 150.0),
        week("deadlift", 1, 140.0),
    ])
    .unwrap();
    // The least-squares slope, by hand: x̄ = 1.5, ȳ = 80.25,
    // Σ(x − x̄)(y − ȳ) = (−1.5)(−0.25) + (−0.5)(1.75) + (0.5)(−1.25) + (1.5)(−0.25) = −1.5,
    // Σ(x − x̄)² = 5, so −0.3 kg a week.
    let got: Vec<_> = out
        .iter()
        .map(|p| {
            (
                p.exercise.as_str(),
                p.weeks,
                (p.slope_kg_per_week * 1e9).round() / 1e9,
                p.plateau,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![("bench", 4, -0.3, true), ("squat", 3, 2.5, false)]
    );
}
