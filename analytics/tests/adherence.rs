//! Hand-computed expectations for adherence, streaks and the at-risk score.

use fitsync_analytics::{
    daily_adherence, risk, streaks, week_start, BookingRow, PlannedRow, RiskInput, RiskReason,
    Streaks,
};

const MONDAY: i32 = 20_780; // 2026-11-23

#[test]
fn a_day_counts_planned_and_done_workouts_and_resolved_sessions() {
    let plan = |day, completed| PlannedRow {
        client_id: "c1".into(),
        day,
        completed,
    };
    let booking = |day, status: &str| BookingRow {
        client_id: "c1".into(),
        day,
        status: status.into(),
    };
    let out = daily_adherence(
        &[
            plan(MONDAY, true),
            plan(MONDAY, false),
            plan(MONDAY + 2, true),
        ],
        &[
            booking(MONDAY, "attended"),
            booking(MONDAY, "no_show"),
            booking(MONDAY, "late_cancelled"),
            booking(MONDAY, "cancelled"), // cancelled in time: not a session
            booking(MONDAY, "booked"),    // not resolved yet
            booking(MONDAY + 1, "checked_in"),
            booking(MONDAY + 3, "waitlisted"), // nothing on that day counts
        ],
    )
    .unwrap();
    let got: Vec<_> = out
        .iter()
        .map(|d| {
            (
                d.day,
                d.planned,
                d.completed,
                d.sessions,
                d.attended,
                d.no_shows,
                d.late_cancels,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (MONDAY, 2, 1, 3, 1, 1, 1),
            (MONDAY + 1, 0, 0, 1, 1, 0, 0),
            (MONDAY + 2, 1, 1, 0, 0, 0, 0),
        ]
    );
    assert!(daily_adherence(&[], &[]).unwrap().is_empty());
}

#[test]
fn streaks_count_consecutive_days_and_weeks_up_to_now() {
    // Trained Mon–Wed two weeks ago, Tue last week, and this Monday and Tuesday.
    let days = [
        MONDAY - 14,
        MONDAY - 13,
        MONDAY - 12,
        MONDAY - 6,
        MONDAY,
        MONDAY + 1,
        MONDAY + 1,
    ];
    // On Wednesday with nothing logged yet: yesterday keeps the day streak alive.
    assert_eq!(
        streaks(&days, MONDAY + 2),
        Streaks {
            current_weeks: 3,
            longest_weeks: 3,
            current_days: 2,
            longest_days: 3,
        }
    );
    // Two weeks later with nothing since: this week is not over, and last week had none.
    let later = streaks(&days, MONDAY + 15);
    assert_eq!((later.current_weeks, later.current_days), (0, 0));
    assert_eq!(later.longest_weeks, 3);
    // Days after today do not count.
    assert_eq!(streaks(&[MONDAY + 5], MONDAY), Streaks::default());
    assert_eq!(week_start(MONDAY + 6), MONDAY);
}

#[test]
fn the_risk_score_is_its_formula_and_names_its_reasons() {
    let input = RiskInput {
        adherence_30: Some(0.8),
        adherence_7: Some(0.5),
        days_since_training: Some(10),
        no_shows_30: 1,
        workload_flagged: true,
    };
    let (score, reasons) = risk(&input);
    let want = 40.0 * 0.2 + 30.0 * 10.0 / 14.0 + 20.0 / 3.0 + 10.0;
    assert!((score - want).abs() < 1e-9);
    assert_eq!(
        reasons,
        vec![
            RiskReason::AdherenceDrop,
            RiskReason::Inactive,
            RiskReason::NoShows,
            RiskReason::WorkloadSpike
        ]
    );
    let (fine, none) = risk(&RiskInput {
        adherence_30: Some(1.0),
        adherence_7: Some(1.0),
        days_since_training: Some(0),
        ..RiskInput::default()
    });
    assert_eq!((fine, none), (0.0, vec![]));
    // Never trained, nothing planned: idle counts in full.
    let (idle, why) = risk(&RiskInput::default());
    assert!((idle - 30.0).abs() < 1e-9);
    assert_eq!(why, vec![RiskReason::Inactive]);
}
