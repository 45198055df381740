//! Alert email, end to end on the real servers: a fired alert reaches the recipient's
//! verified address through the real SMTP server as their preferences allow, waits out
//! their quiet hours in their own time zone, retries a failing server until it is dead,
//! and is replayed by an admin after a restart — sent once.

use chrono::{DateTime, Duration as Days, DurationRound, TimeZone, Utc};
use fitsync::app::Target;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    alerts::{baseline, coached, log, noon},
    harness::{call, count, emails_to_now, epley, eventually, Account, TestApp, TestEnv},
    matrix::train,
    schedule::{every_day, projected, session_type, set_hours},
};

/// The caller's alert deliveries (or `user`'s).
async fn deliveries(app: &TestApp, who: &Account, user: Option<Uuid>) -> (u16, Value) {
    let path = match user {
        Some(u) => format!("/api/notifications/alert-deliveries?user_id={u}"),
        None => "/api/notifications/alert-deliveries".to_owned(),
    };
    let (status, body) = call(app, who, Method::GET, &path, None).await;
    (status, body)
}

/// Waits until the alerts job knows `who`'s verified address.
pub async fn address_known(env: &TestEnv, who: &Account) {
    let db = env.notifications_db();
    eventually(60, "the verified address in notificationdb", || async {
        (count(
            &db,
            &format!(
                "select count(*) from recipients where user_id = '{}' and email = '{}'",
                who.id,
                who.email.to_lowercase()
            ),
        )
        .await
            == 1)
            .then_some(())
    })
    .await;
}

fn preferences(bookings_by_email: bool, quiet: Option<Value>) -> Value {
    json!({
        "locale": {"time_zone": "UTC", "units": "metric"},
        "email": {"progress": true, "attendance": true, "bookings": bookings_by_email, "feedback": true, "reminders": true},
        "sms": {"progress": false, "attendance": false, "bookings": false, "feedback": false, "reminders": false},
        "push": {"progress": true, "attendance": true, "bookings": true, "feedback": true, "reminders": true},
        "quiet_hours": quiet,
    })
}

/// A trainer's free one-hour session type, open every day, and a booking by `client`
/// `hours` after noon tomorrow.
/// Moves `user`'s pending deliveries' due time into the past (their quiet hours over)
/// and wakes the workers at once rather than at their next poll.
pub async fn end_the_wait(env: &TestEnv, user: Uuid) {
    let db = env.notifications_db();
    sqlx::query(
        "update alert_deliveries set due_at = now() - interval '1 second'
         where user_id = $1 and status = 'pending'",
    )
    .bind(user)
    .execute(&db)
    .await
    .unwrap();
    sqlx::query("select pg_notify('fitsync_inbox', $1)")
        .bind(user.to_string())
        .execute(&db)
        .await
        .unwrap();
}

async fn book(app: &TestApp, trainer: &Account, client: &Account, hours: i64) -> String {
    set_hours(
        app,
        trainer,
        trainer.id,
        json!({"time_zone": "UTC", "weekly": every_day("06:00", "22:00"), "slot_step_min": 60}),
    )
    .await;
    let free = session_type(
        app,
        trainer,
        json!({"name": "Intro", "kind": "one_on_one", "duration_min": 60, "credits": 0}),
    )
    .await;
    let (status, booking) = call(
        app,
        client,
        Method::POST,
        "/api/bookings",
        Some(json!({"trainer_id": trainer.id, "session_type_id": free,
                    "starts_at": noon(1) + Days::hours(hours)})),
    )
    .await;
    assert_eq!(status, 201, "{booking}");
    booking["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_is_emailed_as_the_recipients_preferences_allow_and_only_once() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let trainer = app.register_verified_by_email("trainer").await;
    let client = app.register_verified_by_email("client").await;
    let admin = app.admin(&env).await;
    train(&app, &trainer, &client).await;
    coached(&env, trainer.id, client.id).await;
    address_known(&env, &trainer).await;
    address_known(&env, &client).await;

    // The client wants no booking email; every other default stays (email on).
    let (status, stored) = call(
        &app,
        &client,
        Method::PUT,
        "/api/notifications/preferences",
        Some(preferences(false, None)),
    )
    .await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored, preferences(false, None));
    let (_, theirs) = call(
        &app,
        &trainer,
        Method::GET,
        "/api/notifications/preferences",
        None,
    )
    .await;
    assert_eq!(theirs, preferences(true, None), "defaults");

    // A record: the trainer's email, text and HTML, with the estimate the formula gives.
    baseline(&env, &app, &client, "barbell-squat", 100.0).await;
    log(&app, &client, "barbell-squat", 5, 110.0, 0).await;
    let mail = TestEnv::email_to(&trainer.email, "Subject: New personal record").await;
    let expected = format!(
        "Estimated 1RM on barbell-squat is now {:.1} kg (was {:.1} kg).",
        epley(110.0, 5),
        epley(100.0, 5)
    );
    let decoded = crate::harness::decoded(&mail);
    assert!(decoded.contains(&expected), "{decoded}");
    assert!(
        mail.contains("text/plain") && mail.contains("text/html"),
        "{mail}"
    );
    assert!(
        decoded.contains("<h1>New personal record</h1>")
            && decoded.contains(&format!("<p>{expected}</p>")),
        "the HTML part says it too: {decoded}"
    );
    let sent = eventually(30, "the delivery recorded as sent", || async {
        let (_, rows) = deliveries(&app, &trainer, None).await;
        (rows[0]["status"] == "sent").then_some(rows)
    })
    .await;
    assert_eq!(sent.as_array().unwrap().len(), 1);
    assert_eq!(sent[0]["attempts"], 1);
    assert_eq!(sent[0]["channel"], "email");

    // A booking: both get it in the app; the trainer by email, the client (bookings off)
    // not. The trainer's email is the positive control for the client's absence.
    let booking = book(&app, &trainer, &client, 0).await;
    TestEnv::email_to(&trainer.email, "Subject: Session booked").await;
    let db = env.notifications_db();
    assert_eq!(
        count(
            &db,
            &format!(
                "select count(*) from inbox where user_id = '{}' and kind = 'booking_confirmed'
                 and subject_id = '{booking}'",
                client.id
            )
        )
        .await,
        1
    );
    let (_, own) = deliveries(&app, &client, None).await;
    assert_eq!(own, json!([]), "no email queued for the client");
    assert!(emails_to_now(&client.email)
        .iter()
        .all(|m| !m.contains("Session booked")));
    // Each email once.
    let to_trainer = emails_to_now(&trainer.email);
    for subject in ["Subject: New personal record", "Subject: Session booked"] {
        assert_eq!(
            to_trainer.iter().filter(|m| m.contains(subject)).count(),
            1,
            "{subject}"
        );
    }

    // Whose deliveries: one's own; an admin anyone's; replay is an admin's.
    assert_eq!(deliveries(&app, &client, Some(trainer.id)).await.0, 403);
    let (status, listed) = deliveries(&app, &admin, Some(trainer.id)).await;
    assert_eq!(status, 200);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    // The record's delivery, known to be sent.
    let id = sent[0]["id"].as_str().unwrap();
    let replay = format!("/api/notifications/alert-deliveries/{id}/replay");
    assert_eq!(
        call(&app, &trainer, Method::POST, &replay, None).await.0,
        403
    );
    // Sent, not dead: nothing to replay.
    assert_eq!(call(&app, &admin, Method::POST, &replay, None).await.0, 409);
    let unknown = format!(
        "/api/notifications/alert-deliveries/{}/replay",
        Uuid::now_v7()
    );
    assert_eq!(
        call(&app, &admin, Method::POST, &unknown, None).await.0,
        404
    );

    // Bad preferences: every field named, nothing stored.
    let (status, problem) = call(
        &app,
        &client,
        Method::PUT,
        "/api/notifications/preferences",
        Some(preferences(
            true,
            Some(json!({"time_zone": "Mars/Olympus", "starts": "25:00", "ends": "7"})),
        )),
    )
    .await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "quiet_hours.time_zone",
            "quiet_hours.starts",
            "quiet_hours.ends"
        ]
    );
    // A zone name with a NUL byte (which PostgreSQL cannot even receive): a 422 too.
    let (status, problem) = call(
        &app,
        &client,
        Method::PUT,
        "/api/notifications/preferences",
        Some(preferences(
            true,
            Some(json!({"time_zone": "Europe/Berlin\u{0}", "starts": "22:00", "ends": "07:00"})),
        )),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "quiet_hours.time_zone");
    let (_, still) = call(
        &app,
        &client,
        Method::GET,
        "/api/notifications/preferences",
        None,
    )
    .await;
    assert_eq!(still, preferences(false, None));
    app.stop().await;
}

/// The next time the local clock of `zone` reads `hh:mm` after `now`, as an instant
/// (chrono-tz here; the platform computes it in PostgreSQL).
fn next_local(zone: chrono_tz::Tz, now: DateTime<Utc>, hh: u32, mm: u32) -> DateTime<Utc> {
    let local = now.with_timezone(&zone).naive_local();
    let mut day = local.date();
    loop {
        let at = day.and_hms_opt(hh, mm, 0).unwrap();
        if at > local {
            return zone
                .from_local_datetime(&at)
                .earliest()
                .unwrap()
                .with_timezone(&Utc);
        }
        day = day.succ_opt().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_hours_defer_email_to_their_end_in_each_users_time_zone() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let trainer = app.register_verified_by_email("trainer").await;
    let client = app.register_verified_by_email("client").await;
    train(&app, &trainer, &client).await;
    projected(&env, "trainer", trainer.id, client.id).await;
    address_known(&env, &trainer).await;
    address_known(&env, &client).await;

    // The trainer in Auckland is inside quiet hours (from an hour ago to two hours from
    // now, local time); the client in Los Angeles is not (their window starts in three).
    let now = Utc::now();
    let hm = |zone: chrono_tz::Tz, offset: i64| {
        let t = (now + Days::hours(offset)).with_timezone(&zone);
        t.format("%H:%M").to_string()
    };
    let auckland = chrono_tz::Pacific::Auckland;
    let los_angeles = chrono_tz::America::Los_Angeles;
    let quiet = |zone: chrono_tz::Tz, from: i64, to: i64| json!({"time_zone": zone.name(), "starts": hm(zone, from), "ends": hm(zone, to)});
    for (who, window) in [
        (&trainer, quiet(auckland, -1, 2)),
        (&client, quiet(los_angeles, 3, 5)),
    ] {
        let (status, stored) = call(
            &app,
            who,
            Method::PUT,
            "/api/notifications/preferences",
            Some(preferences(true, Some(window.clone()))),
        )
        .await;
        assert_eq!(status, 200, "{stored}");
        assert_eq!(stored["quiet_hours"], window);
    }

    let booking = book(&app, &trainer, &client, 0).await;
    // The client's comes now (and is the positive control for the trainer's wait).
    TestEnv::email_to(&client.email, "Subject: Session booked").await;
    let (_, rows) = deliveries(&app, &trainer, None).await;
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!(rows[0]["status"], "pending");
    assert_eq!(rows[0]["attempts"], 0);
    let due: DateTime<Utc> = rows[0]["due_at"].as_str().unwrap().parse().unwrap();
    let end = (now + Days::hours(2)).with_timezone(&auckland);
    let expected = next_local(
        auckland,
        now.duration_trunc(Days::minutes(1)).unwrap(),
        chrono::Timelike::hour(&end),
        chrono::Timelike::minute(&end),
    );
    assert_eq!(due, expected, "the end of the trainer's quiet hours");
    assert!(emails_to_now(&trainer.email)
        .iter()
        .all(|m| !m.contains("Session booked")));

    // Deferred, not dropped: when the window has passed (moved into the past here), it
    // goes out, once.
    end_the_wait(&env, trainer.id).await;
    let mail = TestEnv::email_to(&trainer.email, "Subject: Session booked").await;
    assert!(mail.contains("A client booked your session"), "{mail}");
    eventually(30, "the deferred delivery sent", || async {
        let (_, rows) = deliveries(&app, &trainer, None).await;
        (rows[0]["status"] == "sent").then_some(())
    })
    .await;
    assert_eq!(
        emails_to_now(&trainer.email)
            .iter()
            .filter(|m| m.contains("Subject: Session booked"))
            .count(),
        1
    );
    let _ = booking;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_mail_server_kills_a_delivery_after_its_retries_and_a_replay_sends_it_once() {
    let mut env = TestEnv::new().await;
    // A port nothing listens on: every attempt fails (transiently: connection refused).
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let smtp_port = env.settings.smtp.port;
    env.settings.smtp.port = closed;
    env.settings.delivery.retry_base_ms = 50;
    env.settings.delivery.max_attempts = 3;
    env.settings.delivery.poll_interval_ms = 100;
    let app = env.start(&[Target::All]).await;
    let trainer = app.register("trainer").await;
    let client = app.register("client").await;
    let admin = app.admin(&env).await;
    train(&app, &trainer, &client).await;
    projected(&env, "trainer", trainer.id, client.id).await;
    // Verification email cannot go out here: the trainer's address is learnt as the
    // alerts job would learn it (its event is tested above).
    let db = env.notifications_db();
    sqlx::query("insert into recipients (user_id, email, verified_at) values ($1, $2, now())")
        .bind(trainer.id)
        .bind(trainer.email.to_lowercase())
        .execute(&db)
        .await
        .unwrap();
    call(
        &app,
        &client,
        Method::PUT,
        "/api/notifications/preferences",
        Some(preferences(false, None)),
    )
    .await;
    book(&app, &trainer, &client, 0).await;
    let dead = eventually(60, "the delivery dead after its attempts", || async {
        let (_, rows) = deliveries(&app, &trainer, None).await;
        (rows.get(0)?["status"] == "dead").then_some(rows)
    })
    .await;
    assert_eq!(dead[0]["attempts"], 3);
    assert!(
        dead[0]["last_error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{dead}"
    );
    let (status, listed) = call(
        &app,
        &trainer,
        Method::GET,
        "/api/notifications/alert-deliveries?status=dead",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let (_, none_sent) = call(
        &app,
        &trainer,
        Method::GET,
        "/api/notifications/alert-deliveries?status=sent",
        None,
    )
    .await;
    assert_eq!(none_sent, json!([]), "the filter filters");
    app.stop().await;

    // Restarted with the mail server back: the dead delivery is still there; an admin
    // replays it and it is sent, once.
    env.settings.smtp.port = smtp_port;
    let app = env.start(&[Target::All]).await;
    let id = dead[0]["id"].as_str().unwrap();
    let (status, replayed) = call(
        &app,
        &admin,
        Method::POST,
        &format!("/api/notifications/alert-deliveries/{id}/replay"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{replayed}");
    assert_eq!(replayed["status"], "pending");
    assert_eq!(replayed["attempts"], 0);
    TestEnv::email_to(&trainer.email, "Subject: Session booked").await;
    let sent = eventually(30, "the replay sent", || async {
        let (_, rows) = deliveries(&app, &trainer, None).await;
        (rows[0]["status"] == "sent").then_some(rows)
    })
    .await;
    assert_eq!(sent[0]["attempts"], 1);
    assert_eq!(
        emails_to_now(&trainer.email)
            .iter()
            .filter(|m| m.contains("Subject: Session booked"))
            .count(),
        1
    );
    assert!(
        count(
            &db,
            "select count(*) from alert_deliveries where status <> 'sent'"
        )
        .await
            == 0
    );
    app.stop().await;
}

fn message_id(raw: &str) -> Option<String> {
    raw.lines()
        .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
        .map(|l| l["message-id:".len()..].trim().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_between_sending_and_recording_resends_once_with_the_same_message_id() {
    let env = TestEnv::new().await;
    let db = env.notifications_db();
    // Two alerts wait to be emailed to two users before any worker runs (queued as the
    // alerts job queues them; that is tested above).
    let mut users = Vec::new();
    for n in 1..=2 {
        let user = Uuid::now_v7();
        let email = format!("alert-{}@example.com", Uuid::new_v4().simple());
        let notification = Uuid::now_v7();
        sqlx::query("insert into recipients (user_id, email, verified_at) values ($1, $2, now())")
            .bind(user)
            .bind(&email)
            .execute(&db)
            .await
            .unwrap();
        sqlx::query(
            "insert into inbox (notification_id, user_id, kind, title, body, subject_id, created_at, dedup_key, seq)
             values ($1, $2, 'no_show', 'Missed session', $3, $2, now(), $4, 1)",
        )
        .bind(notification)
        .bind(user)
        .bind(format!("Your client did not come ({n})."))
        .bind(format!("test:{notification}"))
        .execute(&db)
        .await
        .unwrap();
        sqlx::query(
            "insert into alert_deliveries (id, notification_id, user_id, channel, status, due_at)
             values ($1, $2, $3, 'email', 'pending', now() + make_interval(secs => $4))",
        )
        .bind(Uuid::now_v7())
        .bind(notification)
        .bind(user)
        // The first due now, the second two seconds later: the first is claimed, sent and
        // recorded in a round before the second's.
        .bind(f64::from(n - 1) * 2.0 - 0.001)
        .execute(&db)
        .await
        .unwrap();
        users.push((user, email));
    }

    // The worker sends the first and records it, then hands the second to the SMTP server
    // and dies before recording it.
    let worker = env.spawn_process(
        "notifications",
        &[("FITSYNC_FAULT", "alert_email.after_send:2")],
    );
    crate::crash::aborted(worker).await;
    let at_crash: Vec<(Uuid, String)> =
        sqlx::query_as("select user_id, status from alert_deliveries order by due_at")
            .fetch_all(&db)
            .await
            .unwrap();
    let statuses: Vec<&str> = at_crash.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(statuses, ["sent", "sending"], "{at_crash:?}");
    for (user, email) in &users {
        assert_eq!(emails_to_now(email).len(), 1, "{user}: handed over once");
    }

    // Restarted, a worker takes each interrupted claim over once its lease is out and
    // sends it again under the same Message-ID; a recorded one is never sent again.
    let (_worker, _app) = env.spawn_app("notifications", &[]).await;
    eventually(120, "the interrupted sends completed", || async {
        let open = count(
            &db,
            "select count(*) from alert_deliveries where status <> 'sent'",
        )
        .await;
        (open == 0).then_some(())
    })
    .await;
    for (user, email) in &users {
        let interrupted = at_crash.iter().any(|(u, s)| u == user && s == "sending");
        let copies = emails_to_now(email);
        let ids: Vec<Option<String>> = copies.iter().map(|c| message_id(c)).collect();
        let attempts: i32 =
            sqlx::query_scalar("select attempts from alert_deliveries where user_id = $1")
                .bind(user)
                .fetch_one(&db)
                .await
                .unwrap();
        if interrupted {
            assert_eq!(copies.len(), 2, "at least once: sent again after the crash");
            assert!(
                ids[0].is_some() && ids[0] == ids[1],
                "the same Message-ID: {ids:?}"
            );
            assert_eq!(attempts, 2);
        } else {
            assert_eq!(copies.len(), 1, "a recorded send is never repeated");
            assert_eq!(attempts, 1);
        }
    }
}
