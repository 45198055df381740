//! Hand-computed expectations for the batch analytics.

use fitsync_analytics::{brzycki, epley, summarize, SetRow};

const DAY_MS: i64 = 86_400_000;
// 2026-11-23 is a Monday.
const MONDAY_DAYS: i64 = 20_780;

fn set(
    id: &str,
    client: &str,
    exercise: &str,
    reps: i32,
    kg: f64,
    rir: Option<i32>,
    at_ms: i64,
) -> SetRow {
    SetRow {
        set_id: id.into(),
        client_id: client.into(),
        exercise: exercise.into(),
        reps,
        weight_kg: kg,
        rir,
        performed_at_ms: at_ms,
        // A client in UTC: the local day is the UTC day.
        local_day: i32::try_from(at_ms.div_euclid(DAY_MS)).unwrap(),
        failed: false,
        workout_id: None,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn formulas_match_their_definitions() {
    assert!(close(epley(100.0, 1), 100.0));
    assert!(close(epley(100.0, 10), 100.0 * (1.0 + 10.0 / 30.0)));
    assert!(close(brzycki(100.0, 10).unwrap(), 100.0 * 36.0 / 27.0));
    assert!(close(brzycki(100.0, 1).unwrap(), 100.0));
    assert_eq!(brzycki(50.0, 37), None);
}

#[test]
fn best_e1rm_per_client_and_exercise_counts_reps_in_reserve() {
    let monday = MONDAY_DAYS * DAY_MS;
    let rows = vec![
        // 100 kg × 5 with 2 in reserve → 7 reps to failure → 123.33 kg
        set("a", "c1", "back-squat", 5, 100.0, Some(2), monday + 1000),
        // 110 kg × 3 to failure → 121 kg: heavier but a lower estimate
        set("b", "c1", "back-squat", 3, 110.0, Some(0), monday + 2000),
        set("c", "c1", "bench-press", 1, 80.0, None, monday + 3000),
        set("d", "c2", "back-squat", 10, 60.0, None, monday + 4000),
    ];
    let out = summarize(&rows).unwrap();
    assert_eq!(out.best_e1rm.len(), 3);
    let squat = &out.best_e1rm[0];
    assert_eq!(
        (squat.client_id.as_str(), squat.exercise.as_str()),
        ("c1", "back-squat")
    );
    assert_eq!(squat.set_id, "a");
    assert!(close(squat.e1rm_kg, epley(100.0, 7)));
    assert!(close(
        squat.e1rm_brzycki_kg.unwrap(),
        brzycki(100.0, 7).unwrap()
    ));
    assert_eq!(squat.performed_at_ms, monday + 1000);
    let bench = &out.best_e1rm[1];
    assert_eq!(
        (bench.exercise.as_str(), bench.set_id.as_str()),
        ("bench-press", "c")
    );
    assert!(close(bench.e1rm_kg, 80.0));
    assert!(close(out.best_e1rm[2].e1rm_kg, epley(60.0, 10)));
}

#[test]
fn ties_go_to_the_earliest_set_whatever_the_batch_order() {
    let rows = vec![
        set("late", "c1", "deadlift", 5, 100.0, None, 5000),
        set("early", "c1", "deadlift", 5, 100.0, None, 1000),
    ];
    assert_eq!(summarize(&rows).unwrap().best_e1rm[0].set_id, "early");
}

#[test]
fn weekly_volume_splits_on_the_clients_local_monday() {
    let monday = MONDAY_DAYS * DAY_MS;
    let rows = vec![
        set("a", "c1", "back-squat", 5, 100.0, None, monday - 1), // Sunday 23:59:59.999
        set("b", "c1", "back-squat", 5, 100.0, None, monday),     // Monday 00:00
        set(
            "c",
            "c1",
            "bench-press",
            8,
            60.0,
            Some(1),
            monday + 6 * DAY_MS,
        ),
        set("d", "c2", "back-squat", 10, 50.0, None, monday + DAY_MS),
        // Sunday 23:30 UTC is Monday 00:30 in Berlin: that client's Monday.
        SetRow {
            local_day: i32::try_from(MONDAY_DAYS).unwrap(),
            ..set("e", "c3", "back-squat", 1, 100.0, None, monday - 1_800_000)
        },
    ];
    let out = summarize(&rows).unwrap();
    let v: Vec<_> = out
        .weekly_volume
        .iter()
        .map(|w| {
            (
                w.client_id.as_str(),
                i64::from(w.week_start_days),
                w.volume_kg,
                w.sets,
            )
        })
        .collect();
    assert_eq!(
        v,
        vec![
            ("c1", MONDAY_DAYS - 7, 500.0, 1),
            ("c1", MONDAY_DAYS, 500.0 + 480.0, 2),
            ("c2", MONDAY_DAYS, 500.0, 1),
            ("c3", MONDAY_DAYS, 100.0, 1),
        ]
    );
}

#[test]
fn empty_batch_is_empty() {
    let out = summarize(&[]).unwrap();
    assert!(out.best_e1rm.is_empty() && out.weekly_volume.is_empty());
}

mod nutrition {
    use fitsync_analytics::{adherence, daily_intake, FoodRow};

    fn food(client: &str, day: i32, grams: f64, per_100g: [f64; 5]) -> FoodRow {
        FoodRow {
            client_id: client.into(),
            date_days: day,
            grams,
            per_100g,
        }
    }

    #[test]
    fn a_day_sums_grams_times_content_per_100_g() {
        let oats = [389.0, 16.9, 66.3, 6.9, 10.6];
        let eggs = [143.0, 12.6, 0.7, 9.5, 0.0];
        let rows = [
            food("a", 10, 80.0, oats),
            food("a", 10, 120.0, eggs),
            food("a", 11, 50.0, oats),
            food("b", 10, 100.0, eggs),
        ];
        let days = daily_intake(&rows).unwrap();
        assert_eq!(days.len(), 3);
        let a10 = &days[0];
        assert_eq!(
            (a10.client_id.as_str(), a10.date_days, a10.entries),
            ("a", 10, 2)
        );
        for n in 0..5 {
            let want = 0.8 * oats[n] + 1.2 * eggs[n];
            assert!((a10.eaten[n] - want).abs() < 1e-9, "nutrient {n}");
        }
        assert!((days[1].eaten[0] - 0.5 * 389.0).abs() < 1e-9);
        assert_eq!((days[2].client_id.as_str(), days[2].entries), ("b", 1));
        assert!(daily_intake(&[]).unwrap().is_empty());
    }

    #[test]
    fn adherence_averages_how_close_each_targeted_nutrient_came() {
        let targets = [2000.0, 150.0, 200.0, 70.0, 0.0];
        assert_eq!(adherence(&targets, &targets), Some(100.0));
        // kcal 10 % over (0.9), protein half (0.5), carbs exact (1), fat 3× (0 at least);
        // fiber has no target and is left out.
        let eaten = [2200.0, 75.0, 200.0, 210.0, 40.0];
        let want = 100.0 * (0.9 + 0.5 + 1.0 + 0.0) / 4.0;
        assert!((adherence(&eaten, &targets).unwrap() - want).abs() < 1e-9);
        assert_eq!(adherence(&eaten, &[0.0; 5]), None);
    }
}
