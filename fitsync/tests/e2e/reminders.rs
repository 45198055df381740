//! Session reminders, end to end: durable timers 24 h and 1 h before a booked session,
//! moved with the booking, dropped with it, and fired once — also when the alerts job is
//! killed with timers pending and when it dies between firing and committing.
//!
//! The firing test needs a session 24 hours and a few seconds away, which no slot grid
//! offers: it publishes the schedule's own booking event again with the time changed
//! (as the schedule service would for a move), on the topic the alerts job reads.

use base64::Engine;
use chrono::{DateTime, Duration as Days, DurationRound, Utc};
use fitsync::app::Target;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    alerts::noon,
    harness::{call, eventually, Account, Process, TestApp, TestEnv},
    matrix::train,
    schedule::{every_day, projected, session_type, set_hours},
};

/// A booking's pending reminders: (lead in minutes, when), longest lead first.
async fn pending(env: &TestEnv, booking: Uuid) -> Vec<(i32, DateTime<Utc>)> {
    sqlx::query_as(
        "select lead_minutes, fire_at from reminders
         where booking_id = $1 and fired_at is null and dropped_at is null
         order by lead_minutes desc",
    )
    .bind(booking)
    .fetch_all(&env.notifications_db())
    .await
    .unwrap()
}

/// 24 h and 1 h before `starts`.
fn leads(starts: DateTime<Utc>) -> Vec<(i32, DateTime<Utc>)> {
    vec![
        (1440, starts - Days::hours(24)),
        (60, starts - Days::hours(1)),
    ]
}

/// A trainer open every day with a free one-hour session type; a client they coach.
async fn coached_client(env: &TestEnv, app: &TestApp) -> (Account, Account, Uuid) {
    let trainer = app.register("trainer").await;
    let client = app.register("client").await;
    train(app, &trainer, &client).await;
    projected(env, "trainer", trainer.id, client.id).await;
    set_hours(
        app,
        &trainer,
        trainer.id,
        json!({"time_zone": "UTC", "weekly": every_day("06:00", "22:00"), "slot_step_min": 60}),
    )
    .await;
    let free = session_type(
        app,
        &trainer,
        json!({"name": "Intro", "kind": "one_on_one", "duration_min": 60, "credits": 0}),
    )
    .await;
    (trainer, client, free)
}

async fn book(
    app: &TestApp,
    trainer: &Account,
    client: &Account,
    kind: Uuid,
    at: DateTime<Utc>,
) -> Uuid {
    let (status, booking) = call(
        app,
        client,
        Method::POST,
        "/api/bookings",
        Some(json!({"trainer_id": trainer.id, "session_type_id": kind, "starts_at": at})),
    )
    .await;
    assert_eq!(status, 201, "{booking}");
    booking["id"].as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_are_set_moved_and_dropped_with_their_booking() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let (trainer, client, kind) = coached_client(&env, &app).await;
    let starts = noon(2) + Days::hours(2);
    let booking = book(&app, &trainer, &client, kind, starts).await;
    eventually(60, "the booking's two reminders", || async {
        (pending(&env, booking).await == leads(starts)).then_some(())
    })
    .await;

    let moved = starts + Days::hours(3);
    let (status, body) = call(
        &app,
        &client,
        Method::POST,
        &format!("/api/bookings/{booking}/reschedule"),
        Some(json!({"starts_at": moved})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    eventually(60, "the reminders moved with the booking", || async {
        (pending(&env, booking).await == leads(moved)).then_some(())
    })
    .await;

    let (status, _) = call(
        &app,
        &client,
        Method::POST,
        &format!("/api/bookings/{booking}/cancel"),
        Some(json!({})),
    )
    .await;
    assert!(status == 200 || status == 204, "{status}");
    eventually(60, "the reminders dropped with the booking", || async {
        pending(&env, booking).await.is_empty().then_some(())
    })
    .await;
    app.stop().await;
}

/// `template` (a booking event) with a fresh id and these facts.
fn variant(
    template: &Value,
    booking: Uuid,
    change: &str,
    status: &str,
    starts: DateTime<Utc>,
    revision: i64,
) -> Vec<u8> {
    let mut e = template.clone();
    e["id"] = json!(Uuid::now_v7());
    let d = &mut e["data"];
    d["booking_id"] = json!(booking);
    d["change"] = json!(change);
    d["status"] = json!(status);
    d["starts_at"] = json!(starts);
    d["ends_at"] = json!(starts + Days::hours(1));
    d["revision"] = json!(revision);
    serde_json::to_vec(&e).unwrap()
}

/// The client's reminders in their inbox: (booking, lead, session start).
async fn reminded(app: &TestApp, client: &Account) -> Vec<(String, i64, String)> {
    let (status, items) = call(app, client, Method::GET, "/api/notifications/inbox", None).await;
    assert_eq!(status, 200);
    items
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "session_reminder")
        .map(|i| {
            let d = &i["data"];
            (
                d["booking_id"].as_str().unwrap().to_owned(),
                d["lead_minutes"].as_i64().unwrap(),
                d["starts_at"]
                    .as_str()
                    .unwrap()
                    .parse::<DateTime<Utc>>()
                    .unwrap()
                    .to_rfc3339(),
            )
        })
        .collect()
}

/// 24 hours and `secs` seconds from now, in whole seconds (as PostgreSQL keeps it).
fn in_a_day_and(secs: i64) -> DateTime<Utc> {
    (Utc::now() + Days::hours(24) + Days::seconds(secs))
        .duration_trunc(Days::seconds(1))
        .unwrap()
}

async fn until(at: DateTime<Utc>) {
    eventually(60, "the reminder's time to pass", || async {
        (Utc::now() > at + Days::milliseconds(500)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_fires_once_across_a_kill_and_a_crash_and_never_for_a_cancelled_booking() {
    // The schedule service outside `all` needs its gateway's key.
    let mut env = TestEnv::new().await;
    env.settings.schedule.webhook_secret = Some(
        base64::engine::general_purpose::STANDARD
            .encode([9u8; 32])
            .into(),
    );
    let app = env
        .start(&[
            Target::Users,
            Target::Training,
            Target::Progress,
            Target::Schedule,
            Target::Notifications,
            Target::Relay,
            Target::Projector,
        ])
        .await;
    let alerts: Process = env.spawn_process("alerts", &[]);
    let (trainer, client, kind) = coached_client(&env, &app).await;
    let booking = book(&app, &trainer, &client, kind, noon(2)).await;
    eventually(60, "the booking's reminders", || async {
        (pending(&env, booking).await.len() == 2).then_some(())
    })
    .await;
    let schedule = env.topic("fitsync.schedule");
    let booked = env
        .read_topic(&schedule, 1)
        .await
        .into_iter()
        .find(|m| {
            let v: Value = serde_json::from_slice(rdkafka::Message::payload(m).unwrap()).unwrap();
            v["data"]["booking_id"] == json!(booking) && v["data"]["change"] == "booked"
        })
        .expect("the booking's event");
    let key = rdkafka::Message::key(&booked).map(<[u8]>::to_vec);
    let template: Value =
        serde_json::from_slice(rdkafka::Message::payload(&booked).unwrap()).unwrap();
    let revision = template["data"]["revision"].as_i64().unwrap();

    // In the client's partition, in order: another booking made and cancelled (and its
    // booking event seen again, as a re-publishing producer would), then the first moved
    // to 24 hours and 10 seconds from now.
    let other = Uuid::now_v7();
    let soon = in_a_day_and(10);
    for payload in [
        variant(&template, other, "booked", "booked", soon, 1),
        variant(&template, other, "cancelled", "cancelled", soon, 2),
        variant(&template, other, "booked", "booked", soon, 1),
        variant(
            &template,
            booking,
            "rescheduled",
            "booked",
            soon,
            revision + 1,
        ),
    ] {
        env.produce_raw(&schedule, key.as_deref(), &payload).await;
    }
    eventually(60, "the moved reminders", || async {
        (pending(&env, booking).await == leads(soon)).then_some(())
    })
    .await;
    assert!(
        pending(&env, other).await.is_empty(),
        "the cancelled booking's"
    );

    // Killed with the timer pending; its time passes; nothing fired.
    drop(alerts);
    until(soon - Days::hours(24)).await;
    assert!(reminded(&app, &client).await.is_empty());
    // Restarted: the overdue reminder fires, once.
    let alerts = env.spawn_process("alerts", &[]);
    let first = eventually(60, "the reminder after the restart", || async {
        let r = reminded(&app, &client).await;
        (!r.is_empty()).then_some(r)
    })
    .await;
    assert_eq!(first, [(booking.to_string(), 1440, soon.to_rfc3339())]);
    drop(alerts);

    // A third booking, 24 hours and 8 seconds away; the job dies after firing its
    // reminder and before committing, and its successor fires it: once.
    let third = Uuid::now_v7();
    let later = in_a_day_and(8);
    env.produce_raw(
        &schedule,
        key.as_deref(),
        &variant(&template, third, "booked", "booked", later, 1),
    )
    .await;
    let dying = env.spawn_process("alerts", &[("FITSYNC_FAULT", "reminders.before_commit:1")]);
    crate::crash::aborted(dying).await;
    assert_eq!(reminded(&app, &client).await.len(), 1, "nothing committed");
    let _alerts = env.spawn_process("alerts", &[]);
    let both = eventually(60, "the third booking's reminder", || async {
        let r = reminded(&app, &client).await;
        (r.len() >= 2).then_some(r)
    })
    .await;
    assert_eq!(
        both,
        [
            (third.to_string(), 1440, later.to_rfc3339()),
            (booking.to_string(), 1440, soon.to_rfc3339()),
        ]
    );
    // The hour-ahead reminders still wait; the cancelled booking never had one fire.
    assert_eq!(pending(&env, booking).await, leads(soon)[1..]);
    assert_eq!(pending(&env, third).await, leads(later)[1..]);
    assert!(!reminded(&app, &client)
        .await
        .iter()
        .any(|r| r.0 == other.to_string()));
    app.stop().await;
}
