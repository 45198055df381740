//! Alerts, end to end on the real servers: the analytics job's signals and the
//! schedule's booking changes become alerts in the recipients' inboxes through the
//! alerts job, arrive on an open Server-Sent Events stream, resume after a reconnect
//! exactly once (`Last-Event-ID`), and never fire twice (deduplication, cooldowns, a
//! re-published trigger). Expected values are the formulas applied here.

use std::time::Duration;

use chrono::{Duration as Days, NaiveTime, Utc};
use fitsync::app::Target;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    harness::{call, count, epley, eventually, Account, TestApp, TestEnv},
    matrix::train,
    schedule::{every_day, projected, session_type, set_hours},
};

/// One Server-Sent Event.
#[derive(Debug)]
pub struct SseEvent {
    pub id: i64,
    pub event: String,
    pub data: Value,
}

/// A client of `GET /api/notifications/stream`.
pub struct EventStream {
    response: reqwest::Response,
    buf: String,
}

impl EventStream {
    pub async fn open(app: &TestApp, who: &Account, last_id: Option<i64>) -> Self {
        let mut request = app
            .http
            .get(app.url("/api/notifications/stream"))
            .bearer_auth(&who.token);
        if let Some(id) = last_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Self {
            response,
            buf: String::new(),
        }
    }

    /// Waits for the server to end the stream (events before the end are skipped); fails
    /// after `secs`.
    pub async fn ended(&mut self, secs: u64) {
        tokio::time::timeout(Duration::from_secs(secs), async {
            while self.response.chunk().await.unwrap().is_some() {}
        })
        .await
        .unwrap_or_else(|_| panic!("the stream still open after {secs}s"));
    }

    /// The next event (keep-alive comments skipped); fails after `secs`.
    pub async fn next(&mut self, secs: u64) -> SseEvent {
        tokio::time::timeout(Duration::from_secs(secs), async {
            loop {
                if let Some(end) = self.buf.find("\n\n") {
                    let frame: String = self.buf.drain(..end + 2).collect();
                    let (mut id, mut event, mut data) = (None, String::new(), String::new());
                    for line in frame.lines() {
                        if let Some(v) = line.strip_prefix("id:") {
                            id = Some(v.trim().parse().unwrap());
                        } else if let Some(v) = line.strip_prefix("event:") {
                            event = v.trim().to_owned();
                        } else if let Some(v) = line.strip_prefix("data:") {
                            data.push_str(v.trim_start());
                        }
                    }
                    if let Some(id) = id {
                        return SseEvent {
                            id,
                            event,
                            data: serde_json::from_str(&data).unwrap(),
                        };
                    }
                    continue;
                }
                let chunk = self
                    .response
                    .chunk()
                    .await
                    .unwrap()
                    .expect("the stream ended");
                self.buf.push_str(std::str::from_utf8(&chunk).unwrap());
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no event within {secs}s"))
    }
}

/// Noon UTC `days` from today; for today, the earlier of noon and the midpoint between
/// midnight and now (the API refuses sets logged in the future).
pub fn noon(days: i64) -> chrono::DateTime<Utc> {
    let now = Utc::now();
    let midnight = now.date_naive().and_time(NaiveTime::MIN).and_utc();
    let noon = midnight + Days::days(days) + Days::hours(12);
    if days == 0 {
        noon.min(midnight + (now - midnight) / 2)
    } else {
        noon
    }
}

pub async fn log(app: &TestApp, client: &Account, exercise: &str, reps: i32, kg: f64, days: i64) {
    let r = app
        .log_set(
            client,
            json!({"exercise": exercise, "reps": reps, "weight_kg": kg, "performed_at": noon(days)}),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

/// Logs a client's first set on an exercise and waits until the analytics job holds its
/// estimate: the baseline a later heavier set is a record against (sets that reach the
/// job in one batch yield one estimate, the best).
pub async fn baseline(env: &TestEnv, app: &TestApp, client: &Account, exercise: &str, kg: f64) {
    log(app, client, exercise, 5, kg, 0).await;
    let db = env.progress_db();
    eventually(60, "the baseline estimate", || async {
        (count(
            &db,
            &format!(
                "select count(*) from exercise_e1rm where client_id = '{}' and exercise = '{exercise}'",
                client.id
            ),
        )
        .await
            == 1)
            .then_some(())
    })
    .await;
}

/// Waits until the analytics job holds `trainer` as `client`'s trainer (the signals name
/// the trainers it holds).
pub async fn coached(env: &TestEnv, trainer: Uuid, client: Uuid) {
    let db = env.progress_db();
    eventually(60, "the relationship in the coaching facts", || async {
        (count(
            &db,
            &format!(
                "select count(*) from coaching_facts where trainer_id = '{trainer}' and client_id = '{client}' and ended_at is null"
            ),
        )
        .await
            == 1)
            .then_some(())
    })
    .await;
}

async fn inbox(app: &TestApp, who: &Account) -> Vec<Value> {
    let (status, body) = call(app, who, Method::GET, "/api/notifications/inbox", None).await;
    assert_eq!(status, 200);
    body.as_array().unwrap().clone()
}

async fn unread(app: &TestApp, who: &Account) -> i64 {
    let (status, body) = call(
        app,
        who,
        Method::GET,
        "/api/notifications/inbox/unread",
        None,
    )
    .await;
    assert_eq!(status, 200);
    body["unread"].as_i64().unwrap()
}

fn kinds(items: &[Value]) -> Vec<&str> {
    items.iter().map(|i| i["kind"].as_str().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trainer_sees_each_record_live_once_and_a_reconnect_resumes_exactly_once() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let client = app.register("client").await;
    let trainer = app.register("trainer").await;
    let stranger = app.register("trainer").await;
    train(&app, &trainer, &client).await;
    coached(&env, trainer.id, client.id).await;

    let mut live = EventStream::open(&app, &trainer, None).await;
    // The first sets on an exercise are a baseline; a heavier one is a record.
    baseline(&env, &app, &client, "barbell-squat", 100.0).await;
    log(&app, &client, "barbell-squat", 5, 110.0, 0).await;
    let first = live.next(60).await;
    assert_eq!((first.id, first.event.as_str()), (1, "notification"));
    let d = &first.data;
    assert_eq!(d["kind"], "personal_record");
    assert_eq!(d["subject_id"], json!(client.id));
    assert!((d["data"]["e1rm_kg"].as_f64().unwrap() - epley(110.0, 5)).abs() < 1e-6);
    assert!((d["data"]["previous_kg"].as_f64().unwrap() - epley(100.0, 5)).abs() < 1e-6);
    drop(live);

    // While the trainer is away: a record within the squat's cooldown (suppressed) and one
    // on the bench (its own scope).
    log(&app, &client, "barbell-squat", 5, 120.0, 0).await;
    baseline(&env, &app, &client, "barbell-bench-press-medium-grip", 60.0).await;
    log(&app, &client, "barbell-bench-press-medium-grip", 5, 70.0, 0).await;
    let mut resumed = EventStream::open(&app, &trainer, Some(1)).await;
    let second = resumed.next(60).await;
    assert_eq!(second.id, 2);
    assert_eq!(second.data["kind"], "personal_record");
    assert!(
        (second.data["data"]["e1rm_kg"].as_f64().unwrap() - epley(70.0, 5)).abs() < 1e-6,
        "{second:?}"
    );

    // Re-publish the bench record's signal as it was: the job reads it again and fires
    // nothing. A later record on a third exercise, in the same partition behind it, is
    // the next event on the stream: the replay sent nothing in between.
    let signals = env.read_topic(&env.topic("fitsync.alerts"), 2).await;
    let bench = signals
        .iter()
        .find(|m| {
            let v: Value = serde_json::from_slice(rdkafka::Message::payload(*m).unwrap()).unwrap();
            v["data"]["e1rm_kg"]
                .as_f64()
                .is_some_and(|e| (e - epley(70.0, 5)).abs() < 1e-6)
        })
        .expect("the bench record's signal");
    env.produce(&env.topic("fitsync.alerts"), bench).await;
    baseline(&env, &app, &client, "barbell-deadlift", 100.0).await;
    log(&app, &client, "barbell-deadlift", 5, 140.0, 0).await;
    let third = resumed.next(60).await;
    assert_eq!(third.id, 3, "{third:?}");
    assert!((third.data["data"]["e1rm_kg"].as_f64().unwrap() - epley(140.0, 5)).abs() < 1e-6);

    let items = inbox(&app, &trainer).await;
    assert_eq!(kinds(&items), ["personal_record"; 3]);
    assert_eq!(
        items
            .iter()
            .map(|i| i["seq"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [3, 2, 1]
    );
    // Nobody else got any of it, and no stream is anyone else's.
    assert!(inbox(&app, &stranger).await.is_empty());
    assert!(inbox(&app, &client).await.is_empty());
    let (status, _) = call(
        &app,
        &stranger,
        Method::GET,
        &format!("/api/notifications/stream?user_id={}", trainer.id),
        None,
    )
    .await;
    assert_eq!(status, 400);
    let anonymous = app
        .http
        .get(app.url("/api/notifications/stream"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let bad = app
        .http
        .get(app.url("/api/notifications/stream"))
        .bearer_auth(&trainer.token)
        .header("Last-Event-ID", "yesterday")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(
        bad.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    for query in ["after=-1", "after=x", "after=1.5"] {
        let (status, _) = call(
            &app,
            &trainer,
            Method::GET,
            &format!("/api/notifications/stream?{query}"),
            None,
        )
        .await;
        assert_eq!(status, 400, "{query}");
    }

    // Read state: one, then the rest; another's notification is not found.
    assert_eq!(unread(&app, &trainer).await, 3);
    let newest = items[0]["notification_id"].as_str().unwrap();
    let path = format!("/api/notifications/inbox/{newest}/read");
    let (status, _) = call(&app, &stranger, Method::POST, &path, None).await;
    assert_eq!(status, 404);
    let (status, _) = call(&app, &trainer, Method::POST, &path, None).await;
    assert_eq!(status, 204);
    assert_eq!(unread(&app, &trainer).await, 2);
    let (status, marked) = call(
        &app,
        &trainer,
        Method::POST,
        "/api/notifications/inbox/read",
        Some(json!({"up_to": 1})),
    )
    .await;
    assert_eq!((status, marked["marked"].as_i64()), (200, Some(1)));
    let (_, rest) = call(
        &app,
        &trainer,
        Method::GET,
        "/api/notifications/inbox?unread=true",
        None,
    )
    .await;
    assert_eq!(rest.as_array().unwrap().len(), 1);
    assert_eq!(rest[0]["seq"], 2);

    // A logout ends the stream opened with that token (within the 5 s resync).
    let mut open = EventStream::open(&app, &trainer, None).await;
    let out = app
        .http
        .post(app.url("/api/auth/logout"))
        .bearer_auth(&trainer.token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    open.ended(15).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workload_spike_fires_above_the_threshold_once_per_cooldown() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let client = app.register("client").await;
    let trainer = app.register("trainer").await;
    train(&app, &trainer, &client).await;
    coached(&env, trainer.id, client.id).await;
    let db = env.progress_db();
    let load_today = |kg: f64| {
        let db = db.clone();
        let client = client.id;
        async move {
            eventually(60, "today's load", || async {
                (count(
                    &db,
                    &format!(
                        "select count(*) from daily_training where client_id = '{client}'
                         and day = current_date and volume_kg = {kg}"
                    ),
                )
                .await
                    == 1)
                    .then_some(())
            })
            .await;
        }
    };
    // ratio(day) = (Σ 7 days ÷ 7) ÷ (Σ 28 days ÷ 28), loads in kg × reps.
    let ratio = |acute: f64, chronic: f64| (acute / 7.0) / (chronic / 28.0);

    // 500 kg twenty days ago, then 100 today: 0.67, no spike.
    log(&app, &client, "barbell-squat", 5, 100.0, -20).await;
    log(&app, &client, "barbell-squat", 5, 20.0, 0).await;
    load_today(100.0).await;
    // 300 more today: 400 over 900, above 1.5.
    log(&app, &client, "barbell-squat", 5, 60.0, 0).await;
    load_today(400.0).await;
    let mut live = EventStream::open(&app, &trainer, Some(0)).await;
    let spike = live.next(60).await;
    assert_eq!(spike.data["kind"], "workload_spike");
    let expected = ratio(400.0, 900.0);
    assert!(expected > 1.5);
    assert!(
        (spike.data["data"]["ratio"].as_f64().unwrap() - expected).abs() < 1e-9,
        "{spike:?} vs {expected}"
    );
    // Higher the same day (the same key), and yesterday above 1.5 too (within the
    // client's seven-day cooldown): nothing. A record after them is the next event.
    log(&app, &client, "barbell-squat", 5, 60.0, 0).await;
    load_today(700.0).await;
    // 10 × 50 kg: 500 kg of load, an estimate below the best held (100 kg × 5).
    log(&app, &client, "barbell-squat", 10, 50.0, -1).await;
    assert!(ratio(500.0, 1000.0) > 1.5);
    assert!(epley(50.0, 10) < epley(100.0, 5) && epley(110.0, 5) > epley(100.0, 5));
    log(&app, &client, "barbell-squat", 5, 110.0, 0).await;
    let next = live.next(60).await;
    assert_eq!(next.data["kind"], "personal_record", "{next:?}");
    assert_eq!(next.id, spike.id + 1);
    // Yesterday's spike was signalled (ahead of the record, in the client's partition):
    // the cooldown held its alert back, not a missing signal.
    let yesterday = (Utc::now() - Days::days(1)).date_naive().to_string();
    let signals = env.read_topic(&env.topic("fitsync.alerts"), 1).await;
    assert!(
        signals.iter().any(|m| {
            let v: Value = serde_json::from_slice(rdkafka::Message::payload(m).unwrap()).unwrap();
            v["type"] == "fitsync.progress.workload_spike.v1"
                && v["data"]["day"] == yesterday.as_str()
                && (v["data"]["ratio"].as_f64().unwrap() - ratio(500.0, 1000.0)).abs() < 1e-9
        }),
        "yesterday's spike signal"
    );
    assert_eq!(
        kinds(&inbox(&app, &trainer).await),
        ["personal_record", "workload_spike"]
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booking_changes_and_a_no_show_reach_whom_they_concern() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let trainer = app.register("trainer").await;
    let client = app.register("client").await;
    let stranger = app.register("client").await;
    train(&app, &trainer, &client).await;
    projected(&env, "trainer", trainer.id, client.id).await;
    set_hours(
        &app,
        &trainer,
        trainer.id,
        json!({"time_zone": "UTC", "weekly": every_day("06:00", "22:00"), "slot_step_min": 60}),
    )
    .await;
    let free = session_type(
        &app,
        &trainer,
        json!({"name": "Intro", "kind": "one_on_one", "duration_min": 60, "credits": 0}),
    )
    .await;
    let tomorrow = noon(1) - Days::hours(2);
    let mut trainer_live = EventStream::open(&app, &trainer, Some(0)).await;
    let mut client_live = EventStream::open(&app, &client, Some(0)).await;
    let (status, booking) = call(
        &app,
        &client,
        Method::POST,
        "/api/bookings",
        Some(json!({"trainer_id": trainer.id, "session_type_id": free, "starts_at": tomorrow})),
    )
    .await;
    assert_eq!(status, 201, "{booking}");
    let id = booking["id"].as_str().unwrap().to_owned();
    for live in [&mut client_live, &mut trainer_live] {
        let e = live.next(60).await;
        assert_eq!(e.data["kind"], "booking_confirmed");
        assert_eq!(e.data["subject_id"], json!(id));
        assert_eq!(
            e.data["data"]["starts_at"]
                .as_str()
                .unwrap()
                .parse::<chrono::DateTime<Utc>>()
                .unwrap(),
            tomorrow
        );
    }

    // The booking's event published to Kafka again: read once more, it fires nothing
    // (bookings have no cooldown: only the deduplication key stops it). Behind it in the
    // client's partition, the no-show below is the trainer's next event, and the client's
    // inbox ends with three items, not four.
    let schedule = env.read_topic(&env.topic("fitsync.schedule"), 1).await;
    let booked = schedule
        .iter()
        .find(|m| {
            let v: Value = serde_json::from_slice(rdkafka::Message::payload(*m).unwrap()).unwrap();
            v["type"] == "fitsync.booking.changed.v1"
                && v["data"]["booking_id"] == json!(id)
                && v["data"]["change"] == "booked"
        })
        .expect("the booking's event");
    env.produce(&env.topic("fitsync.schedule"), booked).await;

    // The session happened without the client: the trainer marks it; only the trainer
    // hears of it.
    let db = env.schedule_db();
    let start = Utc::now() - Days::minutes(10);
    sqlx::query("update sessions set period = tstzrange($2, $3), blocked = tstzrange($2, $3) where id = (select session_id from bookings where id = $1)")
        .bind(id.parse::<Uuid>().unwrap()).bind(start).bind(start + Days::hours(1)).execute(&db).await.unwrap();
    sqlx::query("update bookings set period = tstzrange($2, $3) where id = $1")
        .bind(id.parse::<Uuid>().unwrap())
        .bind(start)
        .bind(start + Days::hours(1))
        .execute(&db)
        .await
        .unwrap();
    let (status, _) = call(
        &app,
        &trainer,
        Method::POST,
        &format!("/api/bookings/{id}/attendance"),
        Some(json!({"outcome": "no_show"})),
    )
    .await;
    assert_eq!(status, 200);
    let e = trainer_live.next(60).await;
    assert_eq!(e.data["kind"], "no_show");
    assert_eq!(e.data["data"]["client_id"], json!(client.id));

    // A second booking, cancelled: both hear of both.
    let (status, second) = call(
        &app,
        &client,
        Method::POST,
        "/api/bookings",
        Some(json!({"trainer_id": trainer.id, "session_type_id": free, "starts_at": tomorrow + Days::hours(3)})),
    )
    .await;
    assert_eq!(status, 201, "{second}");
    let (status, _) = call(
        &app,
        &client,
        Method::POST,
        &format!("/api/bookings/{}/cancel", second["id"].as_str().unwrap()),
        Some(json!({})),
    )
    .await;
    assert!(status == 200 || status == 204, "{status}");
    for live in [&mut client_live, &mut trainer_live] {
        assert_eq!(live.next(60).await.data["kind"], "booking_confirmed");
        assert_eq!(live.next(60).await.data["kind"], "booking_cancelled");
    }
    assert_eq!(
        kinds(&inbox(&app, &client).await),
        [
            "booking_cancelled",
            "booking_confirmed",
            "booking_confirmed"
        ]
    );
    assert_eq!(
        kinds(&inbox(&app, &trainer).await),
        [
            "booking_cancelled",
            "booking_confirmed",
            "no_show",
            "booking_confirmed"
        ]
    );
    assert!(inbox(&app, &stranger).await.is_empty());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trainers_settings_mute_and_tune_a_rule_per_client() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let trainer = app.register("trainer").await;
    let (ana, ben) = (app.register("client").await, app.register("client").await);
    for client in [&ana, &ben] {
        train(&app, &trainer, client).await;
        coached(&env, trainer.id, client.id).await;
    }
    let put = |rule: &str, client: Option<Uuid>, body: Value| {
        let path = match client {
            Some(c) => format!("/api/notifications/alert-settings/{rule}?client_id={c}"),
            None => format!("/api/notifications/alert-settings/{rule}"),
        };
        let (app, trainer) = (&app, &trainer);
        async move { call(app, trainer, Method::PUT, &path, Some(body)).await }
    };

    // Bad settings: each named; a client has none to set.
    for (rule, body, field) in [
        (
            "personal_record",
            json!({"enabled": true, "threshold": 2.0, "cooldown_minutes": 60}),
            "threshold",
        ),
        (
            "workload_spike",
            json!({"enabled": true, "threshold": 0.5, "cooldown_minutes": 60}),
            "threshold",
        ),
        (
            "no_show",
            json!({"enabled": true, "cooldown_minutes": 50_000}),
            "cooldown_minutes",
        ),
        (
            "adherence_drop",
            json!({"enabled": true, "threshold": 1.5, "cooldown_minutes": 60}),
            "threshold",
        ),
        (
            "missed_workout",
            json!({"enabled": true, "threshold": 0.5, "cooldown_minutes": 60}),
            "threshold",
        ),
        (
            "weight_change",
            json!({"enabled": true, "threshold": 0.2, "cooldown_minutes": 60}),
            "threshold",
        ),
    ] {
        let (status, problem) = put(rule, None, body).await;
        assert_eq!(status, 422, "{rule}");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    let (status, _) = put(
        "weekly_horoscope",
        None,
        json!({"enabled": true, "cooldown_minutes": 0}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(
        &app,
        &ana,
        Method::PUT,
        "/api/notifications/alert-settings/no_show",
        Some(json!({"enabled": false, "cooldown_minutes": 0})),
    )
    .await;
    assert_eq!(status, 403);

    // Records muted for all clients but Ben; Ana's spikes only above 2.0 (default 1.5).
    let off = json!({"enabled": false, "cooldown_minutes": 60});
    let on = json!({"enabled": true, "cooldown_minutes": 60});
    assert_eq!(put("personal_record", None, off).await.0, 200);
    assert_eq!(put("personal_record", Some(ben.id), on).await.0, 200);
    let (status, stored) = put(
        "workload_spike",
        Some(ana.id),
        json!({"enabled": true, "threshold": 2.0, "cooldown_minutes": 10_080}),
    )
    .await;
    assert_eq!((status, stored["threshold"].as_f64()), (200, Some(2.0)));
    let (_, listed) = call(
        &app,
        &trainer,
        Method::GET,
        "/api/notifications/alert-settings",
        None,
    )
    .await;
    assert_eq!(listed.as_array().unwrap().len(), 3, "{listed}");
    assert_eq!(listed[0]["client_id"], Value::Null, "all clients' first");

    let mut live = EventStream::open(&app, &trainer, Some(0)).await;
    // Ben's record: his own setting lets it through.
    baseline(&env, &app, &ben, "barbell-squat", 100.0).await;
    log(&app, &ben, "barbell-squat", 5, 110.0, 0).await;
    let first = live.next(60).await;
    assert_eq!(
        (first.data["kind"].as_str(), &first.data["subject_id"]),
        (Some("personal_record"), &json!(ben.id))
    );

    // Ana: 500 kg twenty days ago, then 400 today: 1.78, above the default but not her
    // 2.0. Then a record (muted), whose 550 kg lift the day to 2.62: that spike is the
    // next event (her signals are in order in her partition: the record's before it).
    let ratio = |acute: f64, chronic: f64| (acute / 7.0) / (chronic / 28.0);
    log(&app, &ana, "barbell-squat", 5, 100.0, -20).await;
    log(&app, &ana, "barbell-squat", 5, 20.0, 0).await;
    log(&app, &ana, "barbell-squat", 5, 60.0, 0).await;
    let progress = env.progress_db();
    eventually(60, "Ana's 400 kg today", || async {
        (count(&progress, &format!("select count(*) from daily_training where client_id = '{}' and day = current_date and volume_kg = 400", ana.id)).await == 1).then_some(())
    })
    .await;
    assert!(ratio(400.0, 900.0) > 1.5 && ratio(400.0, 900.0) < 2.0);
    log(&app, &ana, "barbell-squat", 5, 110.0, 0).await;
    let next = live.next(60).await;
    assert_eq!(next.data["kind"], "workload_spike", "{next:?}");
    assert_eq!(next.data["subject_id"], json!(ana.id));
    let expected = ratio(950.0, 1450.0);
    assert!(expected > 2.0);
    assert!(
        (next.data["data"]["ratio"].as_f64().unwrap() - expected).abs() < 1e-9,
        "{next:?}"
    );
    assert_eq!(
        kinds(&inbox(&app, &trainer).await),
        ["workload_spike", "personal_record"]
    );

    // Forgotten, the all-clients mute is gone; Ben's own setting stays.
    let (status, _) = call(
        &app,
        &trainer,
        Method::DELETE,
        "/api/notifications/alert-settings/personal_record",
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = call(
        &app,
        &trainer,
        Method::DELETE,
        "/api/notifications/alert-settings/personal_record",
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (_, listed) = call(
        &app,
        &trainer,
        Method::GET,
        "/api/notifications/alert-settings",
        None,
    )
    .await;
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    app.stop().await;
}

/// Records weigh-ins of `client` (kg, days from today at 07:00 UTC, or `noon(0)` today).
async fn weigh(app: &TestApp, client: &Account, weights: &[(i64, f64)]) {
    for (days, kg) in weights {
        let at = if *days == 0 {
            noon(0)
        } else {
            (Utc::now().date_naive() + Days::days(*days))
                .and_hms_opt(7, 0, 0)
                .unwrap()
                .and_utc()
        };
        let (status, body) = call(
            app,
            client,
            Method::POST,
            &format!("/api/metrics/{}/measurements", client.id),
            Some(json!({"metric": "weight", "value": kg, "measured_at": at, "time_zone": "UTC"})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rapid_weight_change_alerts_above_the_trainers_threshold_and_names_the_goal() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let trainer = app.register("trainer").await;
    let (ana, ben) = (app.register("client").await, app.register("client").await);
    for client in [&ana, &ben] {
        train(&app, &trainer, client).await;
        coached(&env, trainer.id, client.id).await;
    }
    // Ana aims at 72 kg; Ben's trainer hears of his weight only beyond 2 % a week.
    let by = Utc::now().date_naive() + Days::days(120);
    let (status, goal) = call(
        &app,
        &ana,
        Method::POST,
        &format!("/api/metrics/{}/goals", ana.id),
        Some(json!({"kind": "weight", "target_kg": 72.0, "by": by})),
    )
    .await;
    assert_eq!(status, 201, "{goal}");
    let (status, _) = call(
        &app,
        &trainer,
        Method::PUT,
        &format!(
            "/api/notifications/alert-settings/weight_change?client_id={}",
            ben.id
        ),
        Some(json!({"enabled": true, "threshold": 2.0, "cooldown_minutes": 10_080})),
    )
    .await;
    assert_eq!(status, 200);

    // Ten days at 80 kg, then 70 kg today. The trend (each day 10 % of the way to the
    // day's mean weight) is 80 until today, then 79; a week before today it was 80.
    let steady: Vec<(i64, f64)> = (-10..=-1).map(|d| (d, 80.0)).collect();
    let trend = |before: f64, day_mean: f64| before + 0.1 * (day_mean - before);
    let percent = |now: f64, week_before: f64| 100.0 * (now - week_before) / week_before;
    for client in [&ana, &ben] {
        weigh(&app, client, &steady).await;
        weigh(&app, client, &[(0, 70.0)]).await;
    }
    let ana_now = trend(80.0, 70.0);
    let ana_percent = percent(ana_now, 80.0);
    assert!(ana_percent.abs() > 1.0 && ana_percent.abs() < 2.0);
    let mut live = EventStream::open(&app, &trainer, Some(0)).await;
    let first = live.next(60).await;
    assert_eq!(first.data["kind"], "weight_change", "{first:?}");
    let data = &first.data["data"];
    assert_eq!(
        data["client_id"],
        json!(ana.id),
        "Ben's is below his threshold: {first:?}"
    );
    assert!((data["weekly_change_percent"].as_f64().unwrap() - ana_percent).abs() < 1e-9);
    assert!((data["trend_kg"].as_f64().unwrap() - ana_now).abs() < 1e-9);
    assert_eq!(
        (data["goal_kg"].as_f64(), data["toward_goal"].as_bool()),
        (Some(72.0), Some(true))
    );
    assert!(
        first.data["body"]
            .as_str()
            .unwrap()
            .contains("towards the 72.0 kg goal"),
        "{first:?}"
    );

    // Ben weighs 50 kg too today: the day's mean is 60, the trend 78, 2.5 % down in a week,
    // beyond his 2 %. His first change was held back, so today's key is still free.
    weigh(&app, &ben, &[(0, 50.0)]).await;
    let ben_percent = percent(trend(80.0, (70.0 + 50.0) / 2.0), 80.0);
    assert!(ben_percent.abs() > 2.0);
    let second = live.next(60).await;
    assert_eq!(second.data["kind"], "weight_change", "{second:?}");
    let data = &second.data["data"];
    assert_eq!(data["client_id"], json!(ben.id));
    assert!((data["weekly_change_percent"].as_f64().unwrap() - ben_percent).abs() < 1e-9);
    assert_eq!(
        (data["goal_kg"].clone(), data["toward_goal"].clone()),
        (Value::Null, Value::Null)
    );
    assert_eq!(second.id, first.id + 1);
    assert_eq!(
        kinds(&inbox(&app, &trainer).await),
        ["weight_change", "weight_change"]
    );
    app.stop().await;
}

/// Stores `n` alerts for `user` as the alerts job does (numbered after the user's cursor,
/// the cursor moved, in one transaction), without waking anyone; their ids in order.
async fn stored_quietly(db: &sqlx::PgPool, user: Uuid, n: i64) -> Vec<Uuid> {
    let mut tx = db.begin().await.unwrap();
    let last: i64 = sqlx::query_scalar(
        "insert into inbox_cursors (user_id, last_seq) values ($1, $2)
         on conflict (user_id) do update set last_seq = inbox_cursors.last_seq + $2
         returning last_seq - $2",
    )
    .bind(user)
    .bind(n)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    let ids: Vec<Uuid> = (0..n).map(|_| Uuid::new_v4()).collect();
    for (i, id) in ids.iter().enumerate() {
        let seq = last + 1 + i64::try_from(i).unwrap();
        sqlx::query(
            "insert into inbox (notification_id, user_id, kind, title, body, subject_id,
                                created_at, dedup_key, seq)
             values ($1, $2, 'personal_record', 'A record', 'body', $1, now(), $3, $4)",
        )
        .bind(id)
        .bind(user)
        .bind(format!("test:{id}"))
        .bind(seq)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    ids
}

/// The stream's reads that do not wait for a wake-up: a backlog of more than a page
/// arrives whole, in order; and when the process's inbox listener loses its connection
/// (sqlx reconnects it at once), every stream reads again, so a row whose wake-up was
/// missed arrives. The stream's timed resync is set to ten minutes here, so only those
/// paths can bring the rows within the test's waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_of_several_pages_streams_in_order_and_a_lost_listener_misses_no_row() {
    let env = TestEnv::new().await;
    let mut settings = env.settings.clone();
    settings.delivery.stream_resync_ms = 600_000;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = env
        .start_with(settings, &[Target::Users, Target::Notifications], listener)
        .await;
    let trainer = app.register("trainer").await;
    let db = env.notifications_db();

    // 250 rows: two full pages (100) and a half one.
    let backlog = stored_quietly(&db, trainer.id, 250).await;
    let mut stream = EventStream::open(&app, &trainer, Some(0)).await;
    for (n, id) in backlog.iter().enumerate() {
        let event = stream.next(30).await;
        assert_eq!(
            event.id,
            i64::try_from(n).unwrap() + 1,
            "in order, none twice"
        );
        assert_eq!(event.data["notification_id"], json!(id));
    }

    // The listener's server process ended; a row stored with no wake-up.
    let listening = || async {
        sqlx::query_scalar::<_, i32>(
            "select pid from pg_stat_activity
             where datname = current_database() and query ilike 'listen%'",
        )
        .fetch_all(&db)
        .await
        .unwrap()
    };
    let before = eventually(30, "the inbox listener", || async {
        let pids = listening().await;
        (pids.len() == 1).then(|| pids[0])
    })
    .await;
    let missed = stored_quietly(&db, trainer.id, 1).await;
    let ended: bool = sqlx::query_scalar("select pg_terminate_backend($1)")
        .bind(before)
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(ended);
    let event = stream.next(30).await;
    assert_eq!(
        (event.id, event.data["notification_id"].clone()),
        (251, json!(missed[0]))
    );
    let after = eventually(30, "the listener back", || async {
        let pids = listening().await;
        (pids.len() == 1 && pids[0] != before).then(|| pids[0])
    })
    .await;
    assert_ne!(after, before);

    // Live again: a row with its wake-up arrives next, nothing repeated before it.
    let live = stored_quietly(&db, trainer.id, 1).await;
    sqlx::query("select pg_notify('fitsync_inbox', $1)")
        .bind(trainer.id.to_string())
        .execute(&db)
        .await
        .unwrap();
    let event = stream.next(30).await;
    assert_eq!(
        (event.id, event.data["notification_id"].clone()),
        (252, json!(live[0]))
    );
    app.stop().await;
}
