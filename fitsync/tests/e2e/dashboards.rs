//! Dashboards as code: every SQL panel runs on a seeded progressdb, and every Prometheus
//! panel asks only for metrics the platform exports.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, SecondsFormat, Utc};
use fitsync::Target;
use serde_json::{json, Value};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::harness::TestEnv;

const DASHBOARDS: [(&str, &str); 4] = [
    (
        "training-activity",
        include_str!("../../../dashboards/json/training-activity.json"),
    ),
    (
        "gym-kpis",
        include_str!("../../../dashboards/json/gym-kpis.json"),
    ),
    (
        "trainer",
        include_str!("../../../dashboards/json/trainer.json"),
    ),
    (
        "pipeline-operations",
        include_str!("../../../dashboards/json/pipeline-operations.json"),
    ),
];

/// (dashboard, panel title, datasource type, query) of every panel target.
fn queries() -> Vec<(String, String, String, String)> {
    let mut out = Vec::new();
    for (name, text) in DASHBOARDS {
        let dashboard: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            dashboard["uid"].is_string() && dashboard["title"].is_string(),
            "{name}"
        );
        for panel in dashboard["panels"].as_array().unwrap() {
            let kind = panel["datasource"]["type"].as_str().unwrap().to_owned();
            for target in panel["targets"].as_array().unwrap() {
                let query = target["rawSql"]
                    .as_str()
                    .or(target["expr"].as_str())
                    .unwrap()
                    .to_owned();
                out.push((
                    name.to_owned(),
                    panel["title"].as_str().unwrap().to_owned(),
                    kind.clone(),
                    query,
                ));
            }
        }
    }
    out
}

/// Grafana's `$__timeFilter(expr)`, over the dashboards' widest range.
fn expand_macros(sql: &str) -> String {
    let mut out = String::new();
    let mut rest = sql;
    while let Some(start) = rest.find("$__timeFilter(") {
        out.push_str(&rest[..start]);
        let after = &rest[start + "$__timeFilter(".len()..];
        let mut depth = 1;
        let end = after
            .char_indices()
            .find(|(_, c)| {
                depth += match c {
                    '(' => 1,
                    ')' => -1,
                    _ => 0,
                };
                depth == 0
            })
            .map(|(i, _)| i)
            .expect("balanced macro");
        out.push_str(&format!(
            "{} between now() - interval '90 days' and now()",
            &after[..end]
        ));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sql_panel_runs_on_a_seeded_database() {
    let env = TestEnv::new().await;
    let db = env.progress_db();
    sqlx::query(
        "insert into set_facts (set_id, client_id, exercise, reps, weight_kg, rir, performed_at, local_date, event_id,
                                counted_at)
         select gen_random_uuid(), ('00000000-0000-4000-8000-00000000000' || (i % 3))::uuid, 'barbell-squat', 5, 100, 1,
                now() - i * interval '1 day', (now() - i * interval '1 day')::date, gen_random_uuid(),
                now() - i * interval '1 day' + interval '80 milliseconds'
         from generate_series(1, 20) i",
    )
    .execute(&db)
    .await
    .unwrap();
    sqlx::query(
        "insert into weekly_volume (client_id, week_start, volume_kg, sets)
         values ('00000000-0000-4000-8000-000000000001', date_trunc('week', now())::date, 1500, 3)",
    )
    .execute(&db)
    .await
    .unwrap();
    sqlx::query(
        "insert into exercise_e1rm (client_id, exercise, e1rm_kg, e1rm_brzycki_kg, set_id, achieved_at)
         values ('00000000-0000-4000-8000-000000000001', 'barbell-squat', 120, 117, gen_random_uuid(), now())",
    )
    .execute(&db)
    .await
    .unwrap();

    // (The business dashboards have their own test, with their variables.)
    let sql: Vec<_> = queries()
        .into_iter()
        .filter(|q| q.2 == "grafana-postgresql-datasource" && q.0 == "training-activity")
        .collect();
    assert!(sql.len() >= 6);
    for (dashboard, title, _, query) in sql {
        let rows = sqlx::query(&expand_macros(&query))
            .fetch_all(&db)
            .await
            .unwrap_or_else(|e| panic!("{dashboard} / {title}: {e}"));
        assert!(
            !rows.is_empty(),
            "{dashboard} / {title} returned nothing on seeded data"
        );
        assert!(rows[0].len() >= 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_prometheus_panel_uses_exported_metrics() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let client = app.register("client").await;
    assert_eq!(
        app.log_set(
            &client,
            json!({"exercise": "barbell-deadlift", "reps": 3, "weight_kg": 160})
        )
        .await
        .status(),
        201
    );
    let exported = app.metrics_with("fitsync_job_events_total", 60).await;
    let exported: BTreeSet<&str> = exported
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let prom: Vec<_> = queries()
        .into_iter()
        .filter(|q| q.2 == "prometheus")
        .collect();
    assert!(prom.len() >= 5);
    for (dashboard, title, _, expr) in prom {
        let names: Vec<&str> = expr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("fitsync_"))
            .collect();
        assert!(
            !names.is_empty(),
            "{dashboard} / {title}: no FitSync metric"
        );
        for name in names {
            assert!(
                exported.contains(name),
                "{dashboard} / {title}: {name} is not exported"
            );
        }
    }
    app.stop().await;
}

#[test]
fn time_filter_macro_expands() {
    assert_eq!(
        expand_macros("where $__timeFilter(week_start::timestamptz) and x"),
        "where week_start::timestamptz between now() - interval '90 days' and now() and x"
    );
}

/// A business dashboard's panel query as Grafana sends it: its variable's value, and
/// `$__timeFrom()`/`$__timeTo()` as the quoted RFC 3339 instants of the last 30 days.
fn as_grafana_sends(sql: &str, variable: &str, value: Uuid, now: DateTime<Utc>) -> String {
    let instant = |t: DateTime<Utc>| format!("'{}'", t.to_rfc3339_opts(SecondsFormat::Secs, true));
    sql.replace(variable, &value.to_string())
        .replace("$__timeFrom()", &instant(now - Duration::days(30)))
        .replace("$__timeTo()", &instant(now))
}

/// Each panel's first row as JSON, by title; every panel returns rows.
async fn panel_rows(
    db: &PgPool,
    dashboard: &str,
    variable: &str,
    value: Uuid,
    now: DateTime<Utc>,
) -> BTreeMap<String, Vec<Value>> {
    let text = DASHBOARDS.iter().find(|(n, _)| *n == dashboard).unwrap().1;
    let parsed: Value = serde_json::from_str(text).unwrap();
    // The variable's own query lists the value.
    let list = parsed["templating"]["list"][0]["query"].as_str().unwrap();
    let values: Vec<String> = sqlx::query_scalar(list).fetch_all(db).await.unwrap();
    assert!(
        values.contains(&value.to_string()),
        "{dashboard}: {values:?}"
    );
    let mut out = BTreeMap::new();
    for (name, title, _, query) in queries() {
        if name != dashboard {
            continue;
        }
        let sql = as_grafana_sends(&query, variable, value, now);
        let rows: Vec<Value> = sqlx::query_scalar(&format!("select row_to_json(t) from ({sql}) t"))
            .fetch_all(db)
            .await
            .unwrap_or_else(|e| panic!("{dashboard} / {title}: {e}\n{sql}"));
        assert!(!rows.is_empty(), "{dashboard} / {title} returned nothing");
        out.insert(title, rows);
    }
    out
}

/// The seeded world of the business dashboards, in days before today.
struct Seed {
    gym: Uuid,
    trainer: Uuid,
    /// Clients: c1 (joined 40 days ago, coached 60), c2 (joined 5, coached 10), c3 (joined
    /// 10 and left; coached 50 to 20 days ago).
    c: [Uuid; 3],
}

async fn seed(db: &PgPool) -> Seed {
    let s = Seed {
        gym: Uuid::new_v4(),
        trainer: Uuid::new_v4(),
        c: [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()],
    };
    let (gym, trainer, [c1, c2, c3]) = (s.gym, s.trainer, s.c);
    let run = |sql: &'static str| async move {
        let sql = [
            ("$1", gym),
            ("$2", trainer),
            ("$3", c1),
            ("$4", c2),
            ("$5", c3),
        ]
        .iter()
        .fold(sql.to_owned(), |sql, (name, id)| {
            sql.replace(name, &format!("'{id}'::uuid"))
        });
        sqlx::query(&sql)
            .execute(db)
            .await
            .unwrap_or_else(|e| panic!("{e}: {sql}"));
    };
    run("insert into member_facts (gym_id, user_id, role, active, first_joined_at, version, changed_at) values
         ($1, $2, 'trainer', true, now() - interval '60 days', 1, now()),
         ($1, $3, 'client', true, now() - interval '40 days', 1, now()),
         ($1, $4, 'client', true, now() - interval '5 days', 1, now()),
         ($1, $5, 'client', false, now() - interval '10 days', 2, now())").await;
    run(
        "insert into coaching_facts (relationship_id, trainer_id, client_id, started_at, ended_at)
         select gen_random_uuid(), $2, c, s, e from (values
           ($3, now() - interval '60 days', null::timestamptz),
           ($4, now() - interval '10 days', null),
           ($5, now() - interval '50 days', now() - interval '20 days')) v(c, s, e)",
    )
    .await;
    run(
        "insert into access_grants (kind, grantee, subject, active, changed_at)
         select 'trainer', $2, c, true, now() from unnest(array[$3, $4]) c",
    )
    .await;
    // Hours 09:00-17:00 UTC every day (480 minutes).
    run("insert into availability_facts (trainer_id, time_zone, weekly, exceptions, revision)
         select $2, 'UTC', jsonb_agg(jsonb_build_object('weekday', d, 'starts', '09:00', 'ends', '17:00')), '[]', 1
         from generate_series(1, 7) d")
    .await;
    // 1:1s 3 and 2 days ago at 10:00 (an hour), a cancelled class yesterday at 12:00.
    run("insert into session_facts (session_id, trainer_id, session_type_id, kind, starts_at, ends_at, capacity,
                                   booked, status, revision)
         select id, $2, '00000000-0000-4000-8000-000000000001', 'one_on_one', s, s + d, 2, 1, st, 1
         from (values ('00000000-0000-4000-8000-0000000000a1'::uuid, current_date - 3 + time '10:00', interval '1 hour', 'scheduled'),
                      ('00000000-0000-4000-8000-0000000000a2'::uuid, current_date - 2 + time '10:00', interval '1 hour', 'scheduled'),
                      ('00000000-0000-4000-8000-0000000000a3'::uuid, current_date - 1 + time '12:00', interval '45 minutes', 'cancelled'))
              v(id, s, d, st)")
    .await;
    // c1 attended the first; c2 missed the second and, promoted from the waitlist,
    // attended the first; c1 queued for the cancelled one and never got a place.
    run("insert into booking_facts (booking_id, client_id, trainer_id, session_id, starts_at, day, status, revision,
                                   session_type_id, waitlisted, promoted)
         select gen_random_uuid(), c, $2, s, f.starts_at, f.starts_at::date, st, 1,
                '00000000-0000-4000-8000-000000000001', w, p
         from (values ($3, '00000000-0000-4000-8000-0000000000a1'::uuid, 'attended', false, false),
                      ($4, '00000000-0000-4000-8000-0000000000a2'::uuid, 'no_show', false, false),
                      ($4, '00000000-0000-4000-8000-0000000000a1'::uuid, 'attended', true, true),
                      ($3, '00000000-0000-4000-8000-0000000000a3'::uuid, 'cancelled', true, false)) v(c, s, st, w, p)
         join session_facts f on f.session_id = v.s")
    .await;
    run("insert into daily_adherence (client_id, day, planned, completed, sessions, attended, no_shows, late_cancels)
         values ($3, current_date - 3, 0, 0, 1, 1, 0, 0), ($4, current_date - 3, 0, 0, 1, 1, 0, 0),
                ($4, current_date - 2, 0, 0, 1, 0, 1, 0)
         on conflict do nothing")
    .await;
    run(
        "insert into daily_training (client_id, day, sets, hard_sets, reps, volume_kg)
         select $3, current_date - 1, 5, 5, 25, 2500",
    )
    .await;
    run("insert into purchase_facts (purchase_id, client_id, owner_kind, owner_id, price_cents, currency, paid_at)
         values (gen_random_uuid(), $3, 'gym', $1, 9900, 'EUR', now() - interval '1 day'),
                (gen_random_uuid(), $4, 'trainer', $2, 5000, 'EUR', now() - interval '1 day')
         on conflict do nothing")
    .await;
    run("insert into exercise_e1rm (client_id, exercise, e1rm_kg, e1rm_brzycki_kg, set_id, achieved_at)
         select $3, 'back-squat', 120, 117, gen_random_uuid(), now()")
    .await;
    s
}

fn first(rows: &BTreeMap<String, Vec<Value>>, title: &str) -> Value {
    rows.get(title)
        .unwrap_or_else(|| panic!("no panel {title}"))[0]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn business_dashboards_show_the_seeded_figures_through_a_select_only_role() {
    let env = TestEnv::new().await;
    let owner = env.progress_db();
    let world = seed(&owner).await;
    let [c1, c2, _] = world.c;

    // Grafana's login: a member of the dashboards' role, nothing more.
    let login = format!("grafana_{}", Uuid::new_v4().simple());
    sqlx::query(&format!(
        "create role {login} login password 'dashboards' in role fitsync_dashboards"
    ))
    .execute(&owner)
    .await
    .unwrap();
    let options = fitsync_platform::db::connect_options(
        &env.settings.database,
        &env.settings.database.names.progress,
    )
    .unwrap()
    .username(&login)
    .password("dashboards");
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .unwrap();
    let denied = sqlx::query("insert into purchase_facts values (gen_random_uuid(), gen_random_uuid(), 'gym', gen_random_uuid(), 1, 'EUR', now())")
        .execute(&db)
        .await
        .unwrap_err();
    assert_eq!(
        denied.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("42501"),
        "the dashboards' role may not write: {denied}"
    );
    // Nor read health records (read through the API only, every read audited).
    let denied = sqlx::query("select count(*) from health_records")
        .fetch_one(&db)
        .await
        .unwrap_err();
    assert_eq!(
        denied.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("42501"),
        "the dashboards' role may not read health records: {denied}"
    );

    let now = Utc::now();
    let today = now.date_naive();
    let from = today - Duration::days(30);
    let available = 480 * ((today - from).num_days() + 1);
    let booked = 120; // two 1:1s of an hour with a place taken; the class was cancelled

    // The gym: members c1, c2 (c3 left); active (trained or attended) c1, c2; sign-ups
    // c2 and c3 (c1 joined 40 days ago); places taken 3 (2 attended, 1 no-show); queued
    // 2, promoted 1.
    let gym = panel_rows(&db, "gym-kpis", "$gym", world.gym, now).await;
    assert_eq!(first(&gym, "Members"), json!({"members": 2}));
    assert_eq!(
        first(&gym, "Active members, 7 and 30 days"),
        json!({"active_7": 2, "active_30": 2})
    );
    assert_eq!(first(&gym, "Sign-ups"), json!({"signups": 2}));
    assert_eq!(
        first(&gym, "Trainer utilisation"),
        json!({"utilisation": booked as f64 / available as f64})
    );
    assert_eq!(
        first(&gym, "No-show rate"),
        json!({"no_show_rate": 1.0 / 3.0})
    );
    assert_eq!(
        first(&gym, "Waitlist conversion"),
        json!({"waitlist_conversion": 0.5})
    );
    assert_eq!(
        first(&gym, "Bookings, attended, no-shows"),
        json!({"bookings": 3, "attended": 2, "no_shows": 1})
    );
    let day = |back: i64| {
        (today - Duration::days(back))
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
    };
    let as_time = |v: &Value| {
        v["time"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap()
    };
    let per_day: Vec<(DateTime<Utc>, i64)> = gym["Bookings per day"]
        .iter()
        .map(|r| (as_time(r), r["bookings"].as_i64().unwrap()))
        .collect();
    assert_eq!(per_day, vec![(day(3), 2), (day(2), 1)]);
    let signups: Vec<(DateTime<Utc>, i64)> = gym["Sign-ups per day"]
        .iter()
        .map(|r| (as_time(r), r["signups"].as_i64().unwrap()))
        .collect();
    assert_eq!(signups, vec![(day(10), 1), (day(5), 1)]);
    let weekday = |back: i64| {
        (today - Duration::days(back))
            .weekday()
            .number_from_monday()
    };
    let mut hours = vec![
        json!({"weekday": weekday(3), "hour": 10, "bookings": 2}),
        json!({"weekday": weekday(2), "hour": 10, "bookings": 1}),
    ];
    hours.sort_by_key(|h| h["weekday"].as_i64());
    assert_eq!(gym["Bookings by weekday and hour (local)"], hours);
    // Cohorts: the clients who first joined since the month `from` is in, by month; each
    // month since, those active in it (trained or attended: c1 yesterday and 3 days ago,
    // c2 3 days ago; c2's no-show 2 days ago is not activity).
    let month = |d: NaiveDate| d.with_day(1).unwrap();
    let joined = [
        (c1, today - Duration::days(40)),
        (c2, today - Duration::days(5)),
        (world.c[2], today - Duration::days(10)),
    ];
    let active = [
        (c1, today - Duration::days(1)),
        (c1, today - Duration::days(3)),
        (c2, today - Duration::days(3)),
    ];
    let mut want_cohorts = Vec::new();
    let mut cohorts: Vec<NaiveDate> = joined
        .iter()
        .filter(|(_, d)| *d >= month(from))
        .map(|(_, d)| month(*d))
        .collect();
    cohorts.sort();
    cohorts.dedup();
    for cohort in cohorts {
        let members: Vec<Uuid> = joined
            .iter()
            .filter(|(_, d)| *d >= month(from) && month(*d) == cohort)
            .map(|(c, _)| *c)
            .collect();
        let mut m = cohort;
        let mut offset = 0;
        while m <= month(today) {
            let mut retained: Vec<Uuid> = active
                .iter()
                .filter(|(c, d)| members.contains(c) && month(*d) == m)
                .map(|(c, _)| *c)
                .collect();
            retained.sort();
            retained.dedup();
            want_cohorts.push(json!({"cohort": cohort, "month_offset": offset, "members": members.len(),
                "retained": retained.len(),
                "retained_percent": (1000.0 * retained.len() as f64 / members.len() as f64).round() / 10.0}));
            m = m + chrono::Months::new(1);
            offset += 1;
        }
    }
    assert_eq!(gym["Monthly retention cohorts"], want_cohorts);
    assert_eq!(
        gym["Revenue from packages per month"],
        vec![
            json!({"month": month(today - Duration::days(1)).to_string(), "currency": "EUR", "revenue": 99.0})
        ]
    );
    assert_eq!(
        gym["Utilisation per trainer"],
        vec![
            json!({"trainer": world.trainer, "booked_minutes": booked, "available_minutes": available,
                    "utilisation": booked as f64 / available as f64})
        ]
    );

    // The trainer: clients c1, c2 (c3 ended 20 days ago), both active; one session
    // delivered (the first: attended); adherence c1 1 of 1, c2 1 of 2; gained c2, lost
    // c3; of c1 and c3 coached 30 days ago, c1 still is.
    let trainer = panel_rows(&db, "trainer", "$trainer", world.trainer, now).await;
    assert_eq!(
        first(&trainer, "Clients, active clients"),
        json!({"clients": 2, "active_clients": 2})
    );
    assert_eq!(
        first(&trainer, "Sessions delivered"),
        json!({"sessions_delivered": 1})
    );
    assert_eq!(
        first(&trainer, "Clients' average adherence"),
        json!({"average_adherence": (1.0 + 0.5) / 2.0})
    );
    assert_eq!(
        first(&trainer, "Clients gained, lost, retention"),
        json!({"new_clients": 1, "ended_clients": 1, "retention": 0.5})
    );
    // The score's formula: 40 × (1 − adherence_30) + 30 × min(idle days, 14) ÷ 14 + 20 ×
    // min(no-shows, 3) ÷ 3. c2 never trained (14 days) and missed one of two; c1 trained
    // yesterday.
    let score = |adherence: f64, idle: f64, no_shows: f64| {
        ((40.0 * (1.0 - adherence) + 30.0 * idle / 14.0 + 20.0 * no_shows / 3.0) * 10.0).round()
            / 10.0
    };
    let risk: Vec<(Uuid, f64)> = trainer["Clients at risk (score without the workload term)"]
        .iter()
        .map(|r| {
            (
                r["client_id"].as_str().unwrap().parse().unwrap(),
                r["score"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        risk,
        vec![(c2, score(0.5, 14.0, 1.0)), (c1, score(1.0, 1.0, 0.0))]
    );
    assert_eq!(trainer["Adherence distribution (30 days)"].len(), 2);
    assert_eq!(
        trainer["PRs this week (best e1RM)"].len(),
        1,
        "{:?}",
        trainer["PRs this week (best e1RM)"]
    );
}
