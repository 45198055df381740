//! Scheduling end to end: trainers' hours and free slots (in their time zone, across
//! daylight-saving changes in both hemispheres), 1:1 bookings that many clients race for,
//! classes that fill to capacity and waitlist in arrival order, cancellations that promote
//! the first in line, late cancels, rooms, and the database's own guarantees against
//! double booking, whatever the application does.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use fitsync::Target;
use futures::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    harness::{call, count, eventually, Account, TestApp, TestEnv},
    matrix::{refreshed, train},
};

/// Waits until the schedule service's access projection holds a grant.
pub async fn projected(env: &TestEnv, kind: &str, grantee: Uuid, subject: Uuid) {
    let db = env.schedule_db();
    eventually(60, "the grant projected into scheduledb", || async {
        let n: i64 = sqlx::query_scalar(
            "select count(*) from access_grants where kind = $1 and grantee = $2 and subject = $3 and active",
        )
        .bind(kind)
        .bind(grantee)
        .bind(subject)
        .fetch_one(&db)
        .await
        .ok()?;
        (n == 1).then_some(())
    })
    .await;
}

/// Weekly hours: the same local hours on every day.
pub fn every_day(starts: &str, ends: &str) -> Value {
    Value::Array(
        (1..=7)
            .map(|weekday| json!({"weekday": weekday, "starts": starts, "ends": ends}))
            .collect(),
    )
}

pub async fn set_hours(app: &TestApp, who: &Account, trainer: Uuid, body: Value) -> Value {
    let (status, saved) = call(
        app,
        who,
        Method::PUT,
        &format!("/api/availability/{trainer}"),
        Some(body),
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    saved
}

pub async fn session_type(app: &TestApp, who: &Account, body: Value) -> Uuid {
    let (status, t) = call(app, who, Method::POST, "/api/sessions/types", Some(body)).await;
    assert_eq!(status, 201, "{t}");
    t["id"].as_str().unwrap().parse().unwrap()
}

async fn slots(
    app: &TestApp,
    who: &Account,
    trainer: Uuid,
    t: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<Value> {
    let (status, body) = call(
        app,
        who,
        Method::GET,
        &format!("/api/availability/{trainer}/slots?session_type_id={t}&from={from}&to={to}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap().clone()
}

fn starts(slots: &[Value]) -> Vec<DateTime<Utc>> {
    slots
        .iter()
        .map(|s| s["starts_at"].as_str().unwrap().parse().unwrap())
        .collect()
}

fn one_on_one(
    app: &TestApp,
    who: &Account,
    trainer: Uuid,
    t: Uuid,
    at: DateTime<Utc>,
) -> impl std::future::Future<Output = (u16, Value)> {
    let body = json!({"trainer_id": trainer, "session_type_id": t, "starts_at": at});
    let request = app
        .http
        .post(app.url("/api/bookings"))
        .bearer_auth(&who.token)
        .json(&body);
    async move {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

fn book_class(
    app: &TestApp,
    who: &Account,
    session: &str,
) -> impl std::future::Future<Output = (u16, Value)> {
    let request = app
        .http
        .post(app.url("/api/bookings"))
        .bearer_auth(&who.token)
        .json(&json!({"session_id": session}));
    async move {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

fn tomorrow_at(h: u32) -> DateTime<Utc> {
    (Utc::now().date_naive() + Duration::days(1))
        .and_time(NaiveTime::from_hms_opt(h, 0, 0).unwrap())
        .and_utc()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_race_for_one_slot_and_exactly_one_gets_it() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let trainer = app.register("trainer").await;
    let other_trainer = app.register("trainer").await;
    let mut clients = Vec::new();
    for _ in 0..10 {
        let c = app.register("client").await;
        train(&app, &trainer, &c).await;
        clients.push(c);
    }
    train(&app, &other_trainer, &clients[0]).await;
    for c in &clients {
        projected(&env, "trainer", trainer.id, c.id).await;
    }
    projected(&env, "trainer", other_trainer.id, clients[0].id).await;
    let hours = json!({"time_zone": "UTC", "weekly": every_day("06:00", "22:00"),
                       "buffer_after_min": 15, "slot_step_min": 30});
    set_hours(&app, &trainer, trainer.id, hours.clone()).await;
    set_hours(&app, &other_trainer, other_trainer.id, hours).await;
    let pt = session_type(
        &app,
        &trainer,
        // A one-hour cancellation window: cancelling tomorrow's slot is in time at any
        // hour of today.
        json!({"name": "PT 60", "kind": "one_on_one", "duration_min": 60, "cancel_window_hours": 1}),
    )
    .await;
    let other_pt = session_type(
        &app,
        &other_trainer,
        json!({"name": "PT", "kind": "one_on_one", "duration_min": 60}),
    )
    .await;

    // Every half hour from 06:00 to 21:00 is free (a 60-minute session ends by 22:00).
    let day = tomorrow_at(0).date_naive();
    let before = starts(&slots(&app, &clients[1], trainer.id, pt, day, day).await);
    let expected: Vec<DateTime<Utc>> = (0..=30)
        .map(|i| tomorrow_at(6) + Duration::minutes(30 * i))
        .collect();
    assert_eq!(before, expected);
    // That answer is now in Redis, under the trainer's current schedule generation.
    let cached_keys = || async {
        let client = redis::Client::open(secrecy::ExposeSecret::expose_secret(
            &env.settings.redis.url,
        ))
        .unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let pattern = format!(
            "{}schedule:slots:{}:*",
            env.settings.redis.key_prefix, trainer.id
        );
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(&pattern)
            .query_async(&mut conn)
            .await
            .unwrap();
        keys
    };
    assert_eq!(cached_keys().await.len(), 1);

    // Ten clients race for 10:00: exactly one books it, nine get a 409 problem.
    let ten = tomorrow_at(10);
    let answers = join_all(
        clients
            .iter()
            .map(|c| one_on_one(&app, c, trainer.id, pt, ten)),
    )
    .await;
    let won: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 201)
        .map(|(_, b)| b)
        .collect();
    let lost: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 409)
        .map(|(_, b)| b)
        .collect();
    assert_eq!((won.len(), lost.len()), (1, 9), "{answers:?}");
    assert_eq!(won[0]["status"], "booked");
    for problem in lost {
        assert_eq!(
            problem["type"], "https://fitsync.dev/problems/conflict",
            "{problem}"
        );
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("no longer free"),
            "{problem}"
        );
    }
    let db = env.schedule_db();
    assert_eq!(
        count(
            &db,
            "select count(*) from sessions where status = 'scheduled'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&db, "select count(*) from bookings where status = 'booked'").await,
        1
    );

    // The cached answer is not served after the commit. A start s is blocked when its
    // span with the buffer after it, [s, s + 75 min), meets the booked one's, [10:00, 11:15).
    let after = starts(&slots(&app, &clients[1], trainer.id, pt, day, day).await);
    let taken =
        |s: DateTime<Utc>| s < ten + Duration::minutes(75) && s + Duration::minutes(75) > ten;
    let expected_after: Vec<DateTime<Utc>> =
        expected.iter().copied().filter(|s| !taken(*s)).collect();
    assert_eq!(after, expected_after);
    assert_eq!(expected.len() - after.len(), 5, "09:00 to 11:00 are gone");
    // The old answer is still in Redis, under the old generation; the new one beside it.
    assert_eq!(cached_keys().await.len(), 2);

    // The winner cannot hold a second session at the same time with another trainer.
    let winner = clients
        .iter()
        .find(|c| won[0]["client_id"] == c.id.to_string())
        .unwrap();
    if winner.id != clients[0].id {
        train(&app, &other_trainer, winner).await;
        projected(&env, "trainer", other_trainer.id, winner.id).await;
    }
    let (status, problem) = one_on_one(
        &app,
        winner,
        other_trainer.id,
        other_pt,
        ten + Duration::minutes(30),
    )
    .await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(
        problem["detail"],
        "the client already holds a session at that time"
    );
    // clients[0] races itself: the same time with two trainers at once, exactly one.
    let at = tomorrow_at(15);
    let mine = join_all([
        one_on_one(&app, &clients[0], trainer.id, pt, at),
        one_on_one(&app, &clients[0], other_trainer.id, other_pt, at),
    ])
    .await;
    let statuses: BTreeSet<u16> = mine.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses, BTreeSet::from([201, 409]), "{mine:?}");

    // Cancelling frees the slot again (well before the window: an ordinary cancel).
    let id = won[0]["id"].as_str().unwrap();
    let (status, cancelled) = call(
        &app,
        winner,
        Method::POST,
        &format!("/api/bookings/{id}/cancel"),
        None,
    )
    .await;
    assert_eq!(
        (status, cancelled["status"].as_str()),
        (200, Some("cancelled")),
        "{cancelled}"
    );
    let again = starts(&slots(&app, &clients[1], trainer.id, pt, day, day).await);
    assert!(again.contains(&ten));

    // Whatever the application does, the database refuses overlapping sessions of one
    // trainer, and overlapping places of one client.
    let insert = |start: DateTime<Utc>| {
        sqlx::query(
            "insert into sessions (id, session_type_id, trainer_id, kind, period, blocked, capacity)
             values ($1, $2, $3, 'one_on_one', tstzrange($4, $5), tstzrange($4, $5), 1)",
        )
        .bind(Uuid::new_v4())
        .bind(pt)
        .bind(trainer.id)
        .bind(start)
        .bind(start + Duration::minutes(60))
    };
    let far = tomorrow_at(3) + Duration::days(3);
    insert(far).execute(&db).await.unwrap();
    let refused = insert(far + Duration::minutes(59))
        .execute(&db)
        .await
        .unwrap_err();
    assert_eq!(
        refused.as_database_error().and_then(|e| e.constraint()),
        Some("sessions_trainer_free")
    );
    let over =
        sqlx::query("update sessions set booked = capacity + 1 where period @> $1::timestamptz")
            .bind(far)
            .execute(&db)
            .await
            .unwrap_err();
    assert_eq!(
        over.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("23514"),
        "{over}"
    );
    app.stop().await;
}

/// The gym owner's refreshed account, and the gym's id.
pub async fn open_gym(app: &TestApp, name: &str) -> (Account, String) {
    let owner = app.register("gym").await;
    let (status, gym) = call(
        app,
        &owner,
        Method::POST,
        "/api/gyms",
        Some(json!({"name": name})),
    )
    .await;
    assert_eq!(status, 201, "{gym}");
    (
        refreshed(app, owner).await,
        gym["id"].as_str().unwrap().to_owned(),
    )
}

pub async fn join_gym(app: &TestApp, owner: &Account, gym: &str, who: &Account, role: &str) {
    let (status, invitation) = call(
        app,
        owner,
        Method::POST,
        &format!("/api/gyms/{gym}/invitations"),
        Some(json!({"email": who.email, "role": role})),
    )
    .await;
    assert_eq!(status, 201, "{invitation}");
    let (status, body) = call(
        app,
        who,
        Method::POST,
        &format!(
            "/api/gyms/invitations/{}/accept",
            invitation["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_fills_to_capacity_waitlists_in_order_and_each_cancellation_promotes_exactly_one() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let (owner, gym) = open_gym(&app, "Class Gym").await;
    let gym_id: Uuid = gym.parse().unwrap();
    let coach = app.register("trainer").await;
    let other_coach = app.register("trainer").await;
    join_gym(&app, &owner, &gym, &coach, "trainer").await;
    join_gym(&app, &owner, &gym, &other_coach, "trainer").await;
    let mut members = Vec::new();
    for _ in 0..9 {
        let c = app.register("client").await;
        join_gym(&app, &owner, &gym, &c, "client").await;
        members.push(c);
    }
    let outsider = app.register("client").await;
    for who in members.iter().chain([&coach, &other_coach]) {
        projected(&env, "gym", gym_id, who.id).await;
    }

    // A studio open 06:00-22:00 Berlin time; a class type of 4 places in it.
    let (status, room) = call(
        &app,
        &owner,
        Method::POST,
        "/api/sessions/rooms",
        Some(json!({"name": "Studio 1", "time_zone": "Europe/Berlin", "hours": every_day("06:00", "22:00")})),
    )
    .await;
    assert_eq!(status, 201, "{room}");
    let hiit = session_type(
        &app,
        &owner,
        json!({"name": "HIIT", "kind": "group", "duration_min": 45, "capacity": 4,
               "room_id": room["id"], "cancel_window_hours": 12}),
    )
    .await;
    // Classes follow the coach's clock: Berlin.
    set_hours(
        &app,
        &owner,
        coach.id,
        json!({"time_zone": "Europe/Berlin", "weekly": []}),
    )
    .await;

    // The gym schedules the class twice a week apart; the other coach cannot take the
    // studio at an overlapping time, nor can anyone book it outside its hours.
    let first = Utc::now() + Duration::days(2);
    let first = first
        .with_timezone(&chrono_tz::Europe::Berlin)
        .date_naive()
        .and_hms_opt(18, 0, 0)
        .unwrap();
    let first = chrono_tz::Europe::Berlin
        .from_local_datetime(&first)
        .single()
        .unwrap()
        .with_timezone(&Utc);
    let (status, classes) = call(
        &app,
        &owner,
        Method::POST,
        "/api/sessions",
        Some(json!({"session_type_id": hiit, "trainer_id": coach.id, "starts_at": first, "weeks": 2})),
    )
    .await;
    assert_eq!(status, 201, "{classes}");
    let class = classes[0]["id"].as_str().unwrap().to_owned();
    let (status, problem) = call(
        &app,
        &owner,
        Method::POST,
        "/api/sessions",
        Some(json!({"session_type_id": hiit, "trainer_id": other_coach.id, "starts_at": first + Duration::minutes(30)})),
    )
    .await;
    assert_eq!(
        (status, problem["detail"].as_str()),
        (409, Some("the room is taken then")),
        "{problem}"
    );
    let late_night = first + Duration::hours(5);
    let (status, problem) = call(
        &app,
        &owner,
        Method::POST,
        "/api/sessions",
        Some(
            json!({"session_type_id": hiit, "trainer_id": other_coach.id, "starts_at": late_night}),
        ),
    )
    .await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .starts_with("the room is closed"),
        "{problem}"
    );

    // Someone outside the gym may not book; nine members race for four places.
    let (status, problem) = book_class(&app, &outsider, &class).await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (422, Some("session_id"))
    );
    let answers = join_all(members.iter().map(|c| book_class(&app, c, &class))).await;
    assert!(answers.iter().all(|(s, _)| *s == 201), "{answers:?}");
    let booked: Vec<&Value> = answers
        .iter()
        .map(|(_, b)| b)
        .filter(|b| b["status"] == "booked")
        .collect();
    let mut line: Vec<&Value> = answers
        .iter()
        .map(|(_, b)| b)
        .filter(|b| b["status"] == "waitlisted")
        .collect();
    assert_eq!((booked.len(), line.len()), (4, 5));
    line.sort_by_key(|b| b["waitlist_position"].as_i64());
    let positions: Vec<i64> = line
        .iter()
        .map(|b| b["waitlist_position"].as_i64().unwrap())
        .collect();
    assert_eq!(positions, [1, 2, 3, 4, 5]);
    // Arrival order is the database's: the order the places in line were taken.
    let db = env.schedule_db();
    let arrivals: Vec<Uuid> = sqlx::query_scalar(
        "select id from bookings where session_id = $1 and status = 'waitlisted' order by waitlisted_seq",
    )
    .bind(class.parse::<Uuid>().unwrap())
    .fetch_all(&db)
    .await
    .unwrap();
    let in_line: Vec<Uuid> = line
        .iter()
        .map(|b| b["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(arrivals, in_line);

    // The coach sees the class: 4 places taken, 5 in line, and who.
    let (status, detail) = call(
        &app,
        &coach,
        Method::GET,
        &format!("/api/sessions/{class}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(
        (detail["booked"].as_i64(), detail["waitlisted"].as_i64()),
        (Some(4), Some(5))
    );
    assert_eq!(detail["attendees"].as_array().unwrap().len(), 9);
    // A member sees the class but not who is in it.
    let (seen_status, seen) = call(
        &app,
        &members[0],
        Method::GET,
        &format!("/api/sessions/{class}"),
        None,
    )
    .await;
    assert_eq!(
        (seen_status, seen["booked"].as_i64()),
        (200, Some(4)),
        "{seen}"
    );
    assert!(seen["attendees"].is_null(), "{seen}");

    // Two cancellations, one after the other: each promotes exactly the first in line.
    for round in 0..2 {
        let leaving = booked[round];
        let who = members
            .iter()
            .find(|c| leaving["client_id"] == c.id.to_string())
            .unwrap();
        let (status, cancelled) = call(
            &app,
            who,
            Method::POST,
            &format!("/api/bookings/{}/cancel", leaving["id"].as_str().unwrap()),
            None,
        )
        .await;
        assert_eq!(
            (status, cancelled["status"].as_str()),
            (200, Some("cancelled")),
            "{cancelled}"
        );
        let promoted = line[round];
        let (_, now) = call(
            &app,
            &coach,
            Method::GET,
            &format!("/api/bookings/{}", promoted["id"].as_str().unwrap()),
            None,
        )
        .await;
        assert_eq!(now["status"], "booked", "round {round}: {now}");
        for (i, waiting) in line.iter().enumerate().skip(round + 1) {
            let (_, still) = call(
                &app,
                &coach,
                Method::GET,
                &format!("/api/bookings/{}", waiting["id"].as_str().unwrap()),
                None,
            )
            .await;
            assert_eq!(still["status"], "waitlisted");
            assert_eq!(
                still["waitlist_position"].as_i64(),
                Some((i - round) as i64)
            );
        }
        let (_, detail) = call(
            &app,
            &coach,
            Method::GET,
            &format!("/api/sessions/{class}"),
            None,
        )
        .await;
        assert_eq!(
            (detail["booked"].as_i64(), detail["waitlisted"].as_i64()),
            (Some(4), Some(4 - round as i64))
        );
    }
    // Leaving the line promotes no one.
    let last = line[4];
    let who = members
        .iter()
        .find(|c| last["client_id"] == c.id.to_string())
        .unwrap();
    let (status, left) = call(
        &app,
        who,
        Method::POST,
        &format!("/api/bookings/{}/cancel", last["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!((status, left["status"].as_str()), (200, Some("cancelled")));
    assert_eq!(
        count(&db, "select count(*) from bookings where status = 'booked'").await,
        4
    );
    // Cancelling twice is a conflict, and changes nothing.
    let (status, _) = call(
        &app,
        who,
        Method::POST,
        &format!("/api/bookings/{}/cancel", last["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(status, 409);

    // The weekly repeat keeps 18:00 on the coach's clock.
    let second: DateTime<Utc> = classes[1]["starts_at"].as_str().unwrap().parse().unwrap();
    let local = |t: DateTime<Utc>| t.with_timezone(&chrono_tz::Europe::Berlin).time();
    assert_eq!(
        (local(first), local(second)),
        (
            NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
            NaiveTime::from_hms_opt(18, 0, 0).unwrap()
        )
    );
    assert_eq!(
        second
            .with_timezone(&chrono_tz::Europe::Berlin)
            .date_naive(),
        first.with_timezone(&chrono_tz::Europe::Berlin).date_naive() + Duration::days(7)
    );

    // Inside the cancellation window, a cancel is late (the credit is forfeited); the
    // coach's own bootcamp (no room) starts in three hours and has a 12-hour window.
    let bootcamp = session_type(
        &app,
        &coach,
        json!({"name": "Bootcamp", "kind": "group", "duration_min": 60, "capacity": 10, "cancel_window_hours": 12}),
    )
    .await;
    let (status, soon) = call(
        &app,
        &coach,
        Method::POST,
        "/api/sessions",
        Some(json!({"session_type_id": bootcamp, "trainer_id": coach.id, "starts_at": Utc::now() + Duration::hours(3)})),
    )
    .await;
    assert_eq!(status, 201, "{soon}");
    let (status, b) = book_class(&app, &members[8], soon[0]["id"].as_str().unwrap()).await;
    assert_eq!(status, 201, "{b}");
    let deadline: DateTime<Utc> = b["free_cancellation_until"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(deadline < Utc::now());
    let (status, cancelled) = call(
        &app,
        &members[8],
        Method::POST,
        &format!("/api/bookings/{}/cancel", b["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(
        (status, cancelled["status"].as_str()),
        (200, Some("late_cancelled")),
        "{cancelled}"
    );
    app.stop().await;
}

/// The next local dates (after today) on which a zone's offset changes, forward and back.
fn next_changes(tz: Tz) -> (NaiveDate, NaiveDate) {
    let noon = |d: NaiveDate| {
        let t = tz
            .from_local_datetime(&d.and_hms_opt(12, 0, 0).unwrap())
            .single()
            .unwrap();
        t.naive_local() - t.naive_utc()
    };
    let today = Utc::now().date_naive();
    let (mut forward, mut back) = (None, None);
    for i in 1..=400 {
        let d = today + Duration::days(i);
        let (before, after) = (noon(d - Duration::days(1)), noon(d));
        if after > before {
            forward.get_or_insert(d);
        } else if after < before {
            back.get_or_insert(d);
        }
    }
    (forward.unwrap(), back.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slots_follow_the_trainers_clock_through_both_daylight_saving_changes_in_both_hemispheres()
{
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    for zone in [chrono_tz::Europe::Berlin, chrono_tz::Australia::Sydney] {
        let trainer = app.register("trainer").await;
        set_hours(
            &app,
            &trainer,
            trainer.id,
            json!({"time_zone": zone.name(), "weekly": every_day("01:00", "05:00"),
                   "horizon_days": 730, "slot_step_min": 60}),
        )
        .await;
        let pt = session_type(
            &app,
            &trainer,
            json!({"name": "PT", "kind": "one_on_one", "duration_min": 60}),
        )
        .await;
        let (forward, back) = next_changes(zone);
        // Both zones change their clocks at 02:00 or 03:00 local time, so the four local
        // hours 01:00-05:00 are three real hours in spring and five in autumn.
        let local = |slots: &[Value]| -> Vec<String> {
            starts(slots)
                .iter()
                .map(|s| s.with_timezone(&zone).format("%H:%M").to_string())
                .collect()
        };
        let spring = slots(&app, &trainer, trainer.id, pt, forward, forward).await;
        assert_eq!(
            local(&spring),
            ["01:00", "03:00", "04:00"],
            "{zone} {forward}"
        );
        let autumn = slots(&app, &trainer, trainer.id, pt, back, back).await;
        assert_eq!(
            local(&autumn),
            ["01:00", "02:00", "02:00", "03:00", "04:00"],
            "{zone} {back}"
        );
        // An ordinary day has four, and each slot is one real hour after the last.
        let ordinary = slots(
            &app,
            &trainer,
            trainer.id,
            pt,
            back + Duration::days(1),
            back + Duration::days(1),
        )
        .await;
        assert_eq!(local(&ordinary), ["01:00", "02:00", "03:00", "04:00"]);
        for day in [&spring, &autumn, &ordinary] {
            let s = starts(day);
            assert!(
                s.windows(2).all(|w| w[1] - w[0] == Duration::hours(1)),
                "{zone}: {s:?}"
            );
            // The local start the API reports carries the offset in force then.
            for slot in day.iter() {
                let at: DateTime<Utc> = slot["starts_at"].as_str().unwrap().parse().unwrap();
                let reported =
                    DateTime::parse_from_rfc3339(slot["local_start"].as_str().unwrap()).unwrap();
                assert_eq!(reported, at.with_timezone(&zone).fixed_offset());
                // (Equality of instants ignores offsets: the offset is compared too.)
                assert_eq!(
                    reported.offset(),
                    at.with_timezone(&zone).fixed_offset().offset()
                );
            }
        }
        // The repeated hour can be booked twice over: two different instants.
        let client = app.register("client").await;
        train(&app, &trainer, &client).await;
        projected(&env, "trainer", trainer.id, client.id).await;
        let repeated = starts(&autumn);
        for at in [repeated[1], repeated[2]] {
            let (status, b) = one_on_one(&app, &client, trainer.id, pt, at).await;
            assert_eq!(status, 201, "{b}");
        }
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_problem_and_changes_nothing() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let trainer = app.register("trainer").await;
    let client = app.register("client").await;
    train(&app, &trainer, &client).await;
    projected(&env, "trainer", trainer.id, client.id).await;
    let good = json!({"time_zone": "UTC", "weekly": every_day("09:00", "17:00"), "horizon_days": 14, "slot_step_min": 60});
    let saved = set_hours(&app, &trainer, trainer.id, good).await;
    let pt = session_type(
        &app,
        &trainer,
        json!({"name": "PT", "kind": "one_on_one", "duration_min": 60}),
    )
    .await;

    let bad = json!({
        "time_zone": "Mars/Olympus",
        "weekly": [{"weekday": 8, "starts": "25:00", "ends": "09:00"}, {"weekday": 1, "starts": "12:00", "ends": "11:00"}],
        "exceptions": [{"date": "2027-01-01", "kind": "extra"}],
        "buffer_before_min": -5,
        "horizon_days": 0
    });
    let (status, problem) = call(
        &app,
        &trainer,
        Method::PUT,
        &format!("/api/availability/{}", trainer.id),
        Some(bad),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    let fields: BTreeSet<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        BTreeSet::from([
            "time_zone",
            "weekly[0].weekday",
            "weekly[0].starts",
            "weekly[1].ends",
            "exceptions[0]",
            "buffer_before_min",
            "horizon_days"
        ])
    );
    // A client may not set a trainer's hours.
    let (status, _) = call(
        &app,
        &client,
        Method::PUT,
        &format!("/api/availability/{}", trainer.id),
        Some(json!({"time_zone": "UTC", "weekly": []})),
    )
    .await;
    assert_eq!(status, 403);
    let (_, now) = call(
        &app,
        &client,
        Method::GET,
        &format!("/api/availability/{}", trainer.id),
        None,
    )
    .await;
    assert_eq!(now["revision"], saved["revision"]);
    assert_eq!(now["weekly"], saved["weekly"]);

    // Bookings that name no slot the trainer offers.
    let odd = tomorrow_at(10) + Duration::minutes(17);
    let (status, problem) = one_on_one(&app, &client, trainer.id, pt, odd).await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (422, Some("starts_at")),
        "{problem}"
    );
    let night = tomorrow_at(3);
    let (status, _) = one_on_one(&app, &client, trainer.id, pt, night).await;
    assert_eq!(status, 422);
    let beyond = tomorrow_at(10) + Duration::days(20);
    let (status, problem) = one_on_one(&app, &client, trainer.id, pt, beyond).await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (422, Some("starts_at")),
        "{problem}"
    );
    let (status, problem) = call(
        &app,
        &client,
        Method::POST,
        "/api/bookings",
        Some(json!({"session_id": Uuid::new_v4(), "trainer_id": trainer.id})),
    )
    .await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (422, Some("body"))
    );
    let (status, _) = call(
        &app,
        &client,
        Method::POST,
        "/api/bookings",
        Some(json!({"session_id": "not-a-uuid"})),
    )
    .await;
    assert_eq!(status, 422);
    // A trainer books no one (clients book for themselves).
    let (status, _) = one_on_one(&app, &trainer, trainer.id, pt, tomorrow_at(10)).await;
    assert_eq!(status, 403);
    // A group type needs places; a 1:1 has one.
    let (status, problem) = call(
        &app,
        &trainer,
        Method::POST,
        "/api/sessions/types",
        Some(json!({"name": "Big PT", "kind": "one_on_one", "duration_min": 60, "capacity": 3})),
    )
    .await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (422, Some("capacity"))
    );
    // A NUL byte (which PostgreSQL's text cannot hold) is refused, not a 500.
    let (status, problem) = call(
        &app,
        &trainer,
        Method::POST,
        "/api/sessions/types",
        Some(json!({"name": "PT\u{0}", "kind": "one_on_one", "duration_min": 60})),
    )
    .await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (422, Some("name"))
    );
    // A date range too long.
    let today = Utc::now().date_naive();
    let (status, _) = call(
        &app,
        &client,
        Method::GET,
        &format!(
            "/api/availability/{}/slots?session_type_id={pt}&from={today}&to={}",
            trainer.id,
            today + Duration::days(90)
        ),
        None,
    )
    .await;
    assert_eq!(status, 422);

    let db = env.schedule_db();
    assert_eq!(count(&db, "select count(*) from sessions").await, 0);
    assert_eq!(count(&db, "select count(*) from bookings").await, 0);
    assert_eq!(count(&db, "select count(*) from session_types").await, 1);
    app.stop().await;
}
