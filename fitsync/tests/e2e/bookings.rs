//! Bookings beyond the first place: packages bought through the (simulated) payment
//! gateway and its signed webhooks, credits spent, refunded, forfeited and expired as
//! ledger entries whose sum is the balance; check-in, attendance and the sweeper that
//! closes ended sessions; moving a booking in one step; calendar feeds read by a real
//! iCalendar parser.

use std::collections::BTreeSet;

use base64::Engine;
use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use fitsync::Target;
use futures::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    harness::{call, count, eventually, Account, TestApp, TestEnv},
    matrix::train,
    schedule::{every_day, projected, session_type, set_hours},
};

/// The webhook key the tests' gateway and the app share.
const WEBHOOK_KEY: [u8; 32] = [7; 32];

pub fn env_with_gateway(mut env: TestEnv) -> TestEnv {
    env.settings.schedule.webhook_secret = Some(
        base64::engine::general_purpose::STANDARD
            .encode(WEBHOOK_KEY)
            .into(),
    );
    env.settings.schedule.sweep_interval_secs = 1;
    env.settings.schedule.no_show_grace_min = 0;
    env
}

/// The gateway's signature, computed here from the scheme (HMAC-SHA256 of "t.body").
fn signature(body: &[u8], t: i64) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &WEBHOOK_KEY);
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    let tag = ring::hmac::sign(&key, &signed);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

async fn webhook(app: &TestApp, body: &Value, signature: Option<String>) -> (u16, Value) {
    let mut request = app
        .http
        .post(app.url("/api/payments/webhook"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).unwrap());
    if let Some(s) = signature {
        request = request.header("gateway-signature", s);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Buys a package: checkout, then the simulated gateway's hosted page "pays", which
/// delivers the signed webhook. The gateway's event.
pub async fn buy(app: &TestApp, client: &Account, package: &str, outcome: &str) -> Value {
    let (status, checkout) = call(
        app,
        client,
        Method::POST,
        &format!("/api/packages/{package}/checkout"),
        None,
    )
    .await;
    assert_eq!(
        (status, checkout["status"].as_str()),
        (201, Some("pending")),
        "{checkout}"
    );
    let url = checkout["checkout_url"].as_str().unwrap();
    let path = &url[url.find("/simulator/").unwrap()..];
    let response = app
        .http
        .post(app.url(&format!("{path}/pay?outcome={outcome}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let paid: Value = response.json().await.unwrap();
    assert_eq!(paid["webhook_status"], 200, "{paid}");
    paid["event"].clone()
}

async fn credits(app: &TestApp, who: &Account) -> Value {
    let (status, c) = call(app, who, Method::GET, "/api/credits", None).await;
    assert_eq!(status, 200, "{c}");
    c
}

fn balance(c: &Value) -> i64 {
    c["balances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["balance"].as_i64().unwrap())
        .sum()
}

fn ledger_sum(c: &Value) -> i64 {
    c["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["amount"].as_i64().unwrap())
        .sum()
}

fn at(days: i64, hour: u32) -> DateTime<Utc> {
    (Utc::now().date_naive() + Duration::days(days))
        .and_time(NaiveTime::from_hms_opt(hour, 0, 0).unwrap())
        .and_utc()
}

async fn book(
    app: &TestApp,
    who: &Account,
    trainer: Uuid,
    t: Uuid,
    starts_at: DateTime<Utc>,
) -> (u16, Value) {
    call(
        app,
        who,
        Method::POST,
        "/api/bookings",
        Some(json!({"trainer_id": trainer, "session_type_id": t, "starts_at": starts_at})),
    )
    .await
}

/// A trainer with hours every day 06:00-22:00 UTC, a client they train, a 1:1 type that
/// costs a credit, and a package of three.
async fn studio(
    env: &TestEnv,
    app: &TestApp,
    window_hours: i64,
) -> (Account, Account, Uuid, String) {
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
    let pt = session_type(
        app,
        &trainer,
        json!({"name": "PT", "kind": "one_on_one", "duration_min": 60, "credits": 1, "cancel_window_hours": window_hours}),
    )
    .await;
    let (status, package) = call(
        app,
        &trainer,
        Method::POST,
        "/api/packages",
        Some(json!({"name": "Three sessions", "sessions": 3, "validity_days": 30, "price_cents": 15000, "currency": "EUR"})),
    )
    .await;
    assert_eq!(status, 201, "{package}");
    (
        trainer,
        client,
        pt,
        package["id"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credits_are_bought_through_signed_webhooks_and_the_balance_is_always_the_ledger() {
    let env = env_with_gateway(TestEnv::new().await);
    let app = env.start(&[Target::All]).await;
    let (trainer, client, pt, package) = studio(&env, &app, 24).await;

    // No credits, no booking.
    let (status, problem) = book(&app, &client, trainer.id, pt, at(3, 10)).await;
    assert_eq!(status, 409, "{problem}");
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("not enough credits"));

    // A failed payment gives nothing; a paid one gives the package's three credits.
    buy(&app, &client, &package, "failed").await;
    assert_eq!(balance(&credits(&app, &client).await), 0);
    let event = buy(&app, &client, &package, "paid").await;
    let c = credits(&app, &client).await;
    assert_eq!((balance(&c), ledger_sum(&c)), (3, 3));
    let statuses: BTreeSet<&str> = c["purchases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, BTreeSet::from(["failed", "paid"]));

    // The same event again, freshly signed (a gateway's retry): nothing changes. Unsigned,
    // badly signed or stale deliveries are refused.
    let now = Utc::now().timestamp();
    let body = serde_json::to_vec(&event).unwrap();
    let (status, outcome) = webhook(&app, &event, Some(signature(&body, now))).await;
    assert_eq!(
        (status, outcome["outcome"].as_str()),
        (200, Some("duplicate")),
        "{outcome}"
    );
    let forged = json!({"id": "evt_forged", "type": "checkout.completed", "checkout": event["checkout"], "amount_cents": 15000, "currency": "EUR"});
    let forged_body = serde_json::to_vec(&forged).unwrap();
    for bad in [
        None,
        Some(format!("t={now},v1={}", "00".repeat(32))),
        Some(signature(&forged_body, now - 3600)),
    ] {
        let (status, problem) = webhook(&app, &forged, bad).await;
        assert_eq!(status, 400, "{problem}");
    }
    // Even correctly signed, another event about a settled checkout gives nothing.
    let (status, outcome) = webhook(&app, &forged, Some(signature(&forged_body, now))).await;
    assert_eq!((status, outcome["outcome"].as_str()), (200, Some("paid")));
    assert_eq!(balance(&credits(&app, &client).await), 3);

    // Bookings spend credits; two racing for the last credit: one gets it.
    let (status, first) = book(&app, &client, trainer.id, pt, at(3, 10)).await;
    assert_eq!(status, 201, "{first}");
    let (status, _) = book(&app, &client, trainer.id, pt, at(3, 12)).await;
    assert_eq!(status, 201);
    let race = join_all([
        book(&app, &client, trainer.id, pt, at(4, 10)),
        book(&app, &client, trainer.id, pt, at(4, 12)),
    ])
    .await;
    let codes: Vec<u16> = race.iter().map(|(s, _)| *s).collect();
    assert!(codes.contains(&201) && codes.contains(&409), "{race:?}");
    let refused = race.iter().find(|(s, _)| *s == 409).unwrap();
    assert!(
        refused.1["detail"]
            .as_str()
            .unwrap()
            .contains("not enough credits"),
        "{race:?}"
    );
    let c = credits(&app, &client).await;
    assert_eq!((balance(&c), ledger_sum(&c)), (0, 0));

    // Cancelled in time: refunded. Inside the window (a type with a week's window):
    // forfeited, as an entry that moves nothing.
    let (status, _) = call(
        &app,
        &client,
        Method::POST,
        &format!("/api/bookings/{}/cancel", first["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let c = credits(&app, &client).await;
    assert_eq!((balance(&c), ledger_sum(&c)), (1, 1));
    let strict = session_type(&app, &trainer, json!({"name": "Strict PT", "kind": "one_on_one", "duration_min": 60, "credits": 1, "cancel_window_hours": 168})).await;
    let (status, late) = book(&app, &client, trainer.id, strict, at(5, 10)).await;
    assert_eq!(status, 201, "{late}");
    let (_, cancelled) = call(
        &app,
        &client,
        Method::POST,
        &format!("/api/bookings/{}/cancel", late["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(cancelled["status"], "late_cancelled");
    let c = credits(&app, &client).await;
    assert_eq!((balance(&c), ledger_sum(&c)), (0, 0));
    let kinds: Vec<&str> = c["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["purchase", "consume", "consume", "consume", "refund", "consume", "forfeit"]
    );

    // A trainer's cancel is never late: the strict type's booking comes back refunded.
    buy(&app, &client, &package, "paid").await;
    let (_, strict_again) = book(&app, &client, trainer.id, strict, at(6, 10)).await;
    assert_eq!(strict_again["status"], "booked", "{strict_again}");
    let (_, by_trainer) = call(
        &app,
        &trainer,
        Method::POST,
        &format!(
            "/api/bookings/{}/cancel",
            strict_again["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(by_trainer["status"], "cancelled");
    let c = credits(&app, &client).await;
    assert_eq!((balance(&c), ledger_sum(&c)), (3, 3));
    assert_eq!(c["ledger"][0]["kind"], "refund");

    // A payment for another amount than the price is refused, and the purchase stays
    // pending. (The checkout is started here without paying it.)
    let (_, pending) = call(
        &app,
        &client,
        Method::POST,
        &format!("/api/packages/{package}/checkout"),
        None,
    )
    .await;
    let page = pending["checkout_url"].as_str().unwrap();
    let reference = &page[page.rfind('/').unwrap() + 1..];
    let cheap = json!({"id": "evt_cheap", "type": "checkout.completed", "checkout": reference, "amount_cents": 100, "currency": "EUR"});
    let (status, problem) = webhook(
        &app,
        &cheap,
        Some(signature(
            &serde_json::to_vec(&cheap).unwrap(),
            Utc::now().timestamp(),
        )),
    )
    .await;
    assert_eq!(status, 400, "{problem}");
    let c = credits(&app, &client).await;
    let statuses: Vec<&str> = c["purchases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"].as_str().unwrap())
        .collect();
    assert!(statuses.contains(&"pending"), "{statuses:?}");
    assert_eq!(balance(&c), 3);

    // The ledger is never edited, whoever tries.
    let db = env.schedule_db();
    let edit = sqlx::query("update credit_ledger set amount = 100")
        .execute(&db)
        .await;
    assert!(edit.unwrap_err().to_string().contains("append-only"));
    for sql in ["delete from credit_ledger", "truncate credit_ledger"] {
        let refused = sqlx::query(sql).execute(&db).await.unwrap_err();
        assert!(
            refused.to_string().contains("append-only"),
            "{sql}: {refused}"
        );
    }

    // Credits past their validity expire: an entry per lot takes what is left (two lots
    // hold three each; the first one bought is empty and gets none).
    buy(&app, &client, &package, "paid").await;
    sqlx::query(
        "update purchases set expires_at = now() - interval '1 second' where status = 'paid'",
    )
    .execute(&db)
    .await
    .unwrap();
    eventually(30, "the sweeper expires the lot", || async {
        let c = credits(&app, &client).await;
        (c["ledger"][0]["kind"] == "expire").then_some(c)
    })
    .await;
    let c = credits(&app, &client).await;
    assert_eq!((balance(&c), ledger_sum(&c)), (0, 0));
    assert_eq!(
        count(
            &db,
            "select count(*) from credit_ledger where kind = 'expire' and amount = -3"
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &db,
            "select count(*) from credit_ledger where kind = 'expire'"
        )
        .await,
        2
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookings_move_in_one_step_and_ended_sessions_close_as_attended_or_no_show() {
    let env = env_with_gateway(TestEnv::new().await);
    let app = env.start(&[Target::All]).await;
    let (trainer, client, pt, package) = studio(&env, &app, 24).await;
    let other = app.register("client").await;
    train(&app, &trainer, &other).await;
    projected(&env, "trainer", trainer.id, other.id).await;
    buy(&app, &client, &package, "paid").await;
    buy(&app, &other, &package, "paid").await;

    // A 1:1 moves to a free slot; its old time is free again, its new one taken.
    let (_, b) = book(&app, &client, trainer.id, pt, at(3, 10)).await;
    let (_, blocker) = book(&app, &other, trainer.id, pt, at(3, 16)).await;
    let id = b["id"].as_str().unwrap().to_owned();
    let (status, moved) = call(
        &app,
        &client,
        Method::POST,
        &format!("/api/bookings/{id}/reschedule"),
        Some(json!({"starts_at": at(3, 14)})),
    )
    .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(
        moved["starts_at"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        at(3, 14)
    );
    assert!(moved["revision"].as_i64().unwrap() > b["revision"].as_i64().unwrap());
    let day = at(3, 0).date_naive();
    let (_, slots) = call(
        &app,
        &client,
        Method::GET,
        &format!(
            "/api/availability/{}/slots?session_type_id={pt}&from={day}&to={day}",
            trainer.id
        ),
        None,
    )
    .await;
    let free: Vec<DateTime<Utc>> = slots
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["starts_at"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(free.contains(&at(3, 10)) && !free.contains(&at(3, 14)) && !free.contains(&at(3, 16)));
    // Onto a taken slot: a conflict, and nothing moved.
    let (status, _) = call(
        &app,
        &client,
        Method::POST,
        &format!("/api/bookings/{id}/reschedule"),
        Some(json!({"starts_at": at(3, 16)})),
    )
    .await;
    assert_eq!(status, 409);
    let (_, still) = call(
        &app,
        &client,
        Method::GET,
        &format!("/api/bookings/{id}"),
        None,
    )
    .await;
    assert_eq!(still["starts_at"], moved["starts_at"]);
    // Credits did not move with it: one spent each.
    assert_eq!(balance(&credits(&app, &client).await), 2);

    // Inside a type's cancellation window a client cannot move the booking; the trainer can.
    let strict = session_type(&app, &trainer, json!({"name": "Strict", "kind": "one_on_one", "duration_min": 60, "cancel_window_hours": 168})).await;
    let (_, s1) = book(&app, &client, trainer.id, strict, at(5, 10)).await;
    let s1 = s1["id"].as_str().unwrap().to_owned();
    let (status, problem) = call(
        &app,
        &client,
        Method::POST,
        &format!("/api/bookings/{s1}/reschedule"),
        Some(json!({"starts_at": at(5, 12)})),
    )
    .await;
    assert_eq!(status, 409, "{problem}");
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("cancellation window"));
    let (status, moved_by_trainer) = call(
        &app,
        &trainer,
        Method::POST,
        &format!("/api/bookings/{s1}/reschedule"),
        Some(json!({"starts_at": at(5, 12)})),
    )
    .await;
    assert_eq!(
        (status, moved_by_trainer["status"].as_str()),
        (200, Some("booked")),
        "{moved_by_trainer}"
    );

    // Not yet: no check-in three days ahead, no attendance before the start.
    let (status, _) = call(
        &app,
        &client,
        Method::POST,
        &format!("/api/bookings/{id}/check-in"),
        None,
    )
    .await;
    assert_eq!(status, 409);
    let (status, _) = call(
        &app,
        &trainer,
        Method::POST,
        &format!("/api/bookings/{id}/attendance"),
        Some(json!({"outcome": "attended"})),
    )
    .await;
    assert_eq!(status, 409);

    // The clock moves on (the test shifts the sessions instead of waiting days): the
    // client's session starts in half an hour, so check-in is open.
    let db = env.schedule_db();
    let base = Utc::now();
    let shift = |booking: &str, start: DateTime<Utc>| {
        let booking: Uuid = booking.parse().unwrap();
        let db = db.clone();
        async move {
            let end = start + Duration::hours(1);
            sqlx::query("update sessions set period = tstzrange($2, $3), blocked = tstzrange($2, $3) where id = (select session_id from bookings where id = $1)")
                .bind(booking).bind(start).bind(end).execute(&db).await.unwrap();
            sqlx::query("update bookings set period = tstzrange($2, $3) where id = $1")
                .bind(booking)
                .bind(start)
                .bind(end)
                .execute(&db)
                .await
                .unwrap();
        }
    };
    shift(&id, base + Duration::minutes(30)).await;
    let (status, checked) = call(
        &app,
        &client,
        Method::POST,
        &format!("/api/bookings/{id}/check-in"),
        None,
    )
    .await;
    assert_eq!(
        (status, checked["status"].as_str()),
        (200, Some("checked_in")),
        "{checked}"
    );
    // Both sessions end; the sweeper closes them: checked in → attended, the other → no-show
    // (its credit kept: a forfeit entry).
    shift(&id, base - Duration::hours(2)).await;
    let blocker_id = blocker["id"].as_str().unwrap().to_owned();
    shift(&blocker_id, base - Duration::hours(4)).await;
    let closed = eventually(30, "the sweeper closes both places", || async {
        let (_, a) = call(
            &app,
            &trainer,
            Method::GET,
            &format!("/api/bookings/{id}"),
            None,
        )
        .await;
        let (_, b) = call(
            &app,
            &trainer,
            Method::GET,
            &format!("/api/bookings/{blocker_id}"),
            None,
        )
        .await;
        (a["status"] != "checked_in" && b["status"] != "booked").then_some((a, b))
    })
    .await;
    assert_eq!(
        (closed.0["status"].as_str(), closed.1["status"].as_str()),
        (Some("attended"), Some("no_show"))
    );
    let kinds: Vec<String> = sqlx::query_scalar(
        "select kind from credit_ledger where booking_id = $1 order by created_at",
    )
    .bind(blocker_id.parse::<Uuid>().unwrap())
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(kinds, ["consume", "forfeit"]);

    // The trainer marks a started session: the client may not.
    let (_, third) = book(&app, &client, trainer.id, pt, at(4, 10)).await;
    let third_id = third["id"].as_str().unwrap().to_owned();
    shift(&third_id, base - Duration::minutes(10)).await;
    let (status, _) = call(
        &app,
        &client,
        Method::POST,
        &format!("/api/bookings/{third_id}/attendance"),
        Some(json!({"outcome": "attended"})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, marked) = call(
        &app,
        &trainer,
        Method::POST,
        &format!("/api/bookings/{third_id}/attendance"),
        Some(json!({"outcome": "no_show"})),
    )
    .await;
    assert_eq!((status, marked["status"].as_str()), (200, Some("no_show")));

    // A class place moves to the next class of its type; the first class's line moves up.
    let class_type = session_type(
        &app,
        &trainer,
        json!({"name": "Circuit", "kind": "group", "duration_min": 45, "capacity": 1, "credits": 1}),
    )
    .await;
    let (status, classes) = call(&app, &trainer, Method::POST, "/api/sessions", Some(json!({"session_type_id": class_type, "trainer_id": trainer.id, "starts_at": at(6, 7), "weeks": 2}))).await;
    assert_eq!(status, 201, "{classes}");
    let (c1, c2) = (
        classes[0]["id"].as_str().unwrap(),
        classes[1]["id"].as_str().unwrap(),
    );
    let (_, mine) = call(
        &app,
        &client,
        Method::POST,
        "/api/bookings",
        Some(json!({"session_id": c1})),
    )
    .await;
    let (_, theirs) = call(
        &app,
        &other,
        Method::POST,
        "/api/bookings",
        Some(json!({"session_id": c1})),
    )
    .await;
    assert_eq!(
        (mine["status"].as_str(), theirs["status"].as_str()),
        (Some("booked"), Some("waitlisted"))
    );
    let (status, moved) = call(
        &app,
        &client,
        Method::POST,
        &format!("/api/bookings/{}/reschedule", mine["id"].as_str().unwrap()),
        Some(json!({"session_id": c2})),
    )
    .await;
    assert_eq!(
        (
            status,
            moved["status"].as_str(),
            moved["session_id"].as_str()
        ),
        (200, Some("booked"), Some(c2)),
        "{moved}"
    );
    let (_, promoted) = call(
        &app,
        &other,
        Method::GET,
        &format!("/api/bookings/{}", theirs["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(promoted["status"], "booked");

    // A class that starts with someone still in line closes the line (refunded when charged).
    let third_client = app.register("client").await;
    train(&app, &trainer, &third_client).await;
    projected(&env, "trainer", trainer.id, third_client.id).await;
    buy(&app, &third_client, &package, "paid").await;
    let (_, waiting) = call(
        &app,
        &third_client,
        Method::POST,
        "/api/bookings",
        Some(json!({"session_id": c2})),
    )
    .await;
    assert_eq!(waiting["status"], "waitlisted");
    // (It started and ended before the trainer's session marked above.)
    let (start, end) = (base - Duration::minutes(60), base - Duration::minutes(15));
    sqlx::query(
        "update sessions set period = tstzrange($2, $3), blocked = tstzrange($2, $3) where id = $1",
    )
    .bind(c2.parse::<Uuid>().unwrap())
    .bind(start)
    .bind(end)
    .execute(&db)
    .await
    .unwrap();
    eventually(30, "the line closes", || async {
        let (_, w) = call(
            &app,
            &third_client,
            Method::GET,
            &format!("/api/bookings/{}", waiting["id"].as_str().unwrap()),
            None,
        )
        .await;
        (w["status"] == "cancelled").then_some(())
    })
    .await;
    // Its place in line was charged, and is refunded.
    let c = credits(&app, &third_client).await;
    assert_eq!(
        (balance(&c), c["ledger"][0]["kind"].as_str()),
        (3, Some("refund"))
    );

    // History: the trainer records sessions that happened before FitSync. Each is charged
    // like a booking; a no-show and a late cancel keep the credit. The client cannot.
    buy(&app, &other, &package, "paid").await;
    let before = balance(&credits(&app, &other).await);
    let mut recorded = Vec::new();
    for (days, outcome) in [(8, "attended"), (9, "no_show"), (10, "late_cancelled")] {
        let (status, r) = call(
            &app,
            &trainer,
            Method::POST,
            "/api/bookings/record",
            Some(json!({"client_id": other.id, "session_type_id": pt, "starts_at": at(-days, 9), "outcome": outcome})),
        )
        .await;
        assert_eq!((status, r["status"].as_str()), (201, Some(outcome)), "{r}");
        recorded.push(r);
    }
    assert_eq!(balance(&credits(&app, &other).await), before - 3);
    let (status, _) = call(&app, &other, Method::POST, "/api/bookings/record", Some(json!({"client_id": other.id, "session_type_id": pt, "starts_at": at(-11, 9), "outcome": "attended"}))).await;
    assert_eq!(status, 403);
    // The same hour again overlaps the trainer's recorded session: a conflict. A future
    // time is not history.
    let (status, problem) = call(&app, &trainer, Method::POST, "/api/bookings/record", Some(json!({"client_id": other.id, "session_type_id": pt, "starts_at": at(-8, 9), "outcome": "attended"}))).await;
    assert_eq!(status, 409, "{problem}");
    let (status, _) = call(&app, &trainer, Method::POST, "/api/bookings/record", Some(json!({"client_id": other.id, "session_type_id": pt, "starts_at": at(2, 9), "outcome": "attended"}))).await;
    assert_eq!(status, 422);
    app.stop().await;
}

/// Runs the iCalendar parser on a feed: its events as the parser reads them.
fn parse_ics(feed: &str) -> Value {
    // `scripts/stack.sh env` names it; without, the cache's virtualenv (as CI has it).
    let python = std::env::var_os("FITSYNC_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| crate::contract::python_tools().join("bin/python"));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/ics_parse.py");
    let mut child = std::process::Command::new(python)
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(feed.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the parser refused the feed: {}\n{feed}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn fetch_feed(app: &TestApp, url: &str) -> (u16, String) {
    let response = app.http.get(app.url(url)).send().await.unwrap();
    let status = response.status().as_u16();
    if status == 200 {
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/calendar"));
    }
    (status, response.text().await.unwrap())
}

/// A session type's name with what iCalendar escapes, long enough to be folded.
const LONG_NAME: &str =
    "PT; strength, legs and a name long enough that its SUMMARY line is folded at 75 octets";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendar_feeds_parse_with_their_time_zones_follow_changes_and_can_be_revoked() {
    let env = env_with_gateway(TestEnv::new().await);
    let app = env.start(&[Target::All]).await;
    let trainer = app.register("trainer").await;
    let client = app.register("client").await;
    train(&app, &trainer, &client).await;
    projected(&env, "trainer", trainer.id, client.id).await;
    let berlin = chrono_tz::Europe::Berlin;
    set_hours(&app, &trainer, trainer.id, json!({"time_zone": "Europe/Berlin", "weekly": every_day("06:00", "22:00"), "horizon_days": 400, "slot_step_min": 60})).await;
    let pt = session_type(
        &app,
        &trainer,
        json!({"name": LONG_NAME, "kind": "one_on_one", "duration_min": 60}),
    )
    .await;

    // 09:00 Berlin time three days ahead, and on the day after Berlin's next change of
    // offset (within the feed's year): one of them in summer time, one not.
    let nine = |date: chrono::NaiveDate| {
        berlin
            .from_local_datetime(&date.and_hms_opt(9, 0, 0).unwrap())
            .single()
            .unwrap()
            .with_timezone(&Utc)
    };
    let today = Utc::now().with_timezone(&berlin).date_naive();
    let offset_on = |d: chrono::NaiveDate| nine(d).with_timezone(&berlin).offset().to_string();
    let change = (1..=365)
        .map(|i| today + Duration::days(i))
        .find(|d| offset_on(*d) != offset_on(today))
        .unwrap();
    let times = [
        nine(today + Duration::days(3)),
        nine(change + Duration::days(1)),
    ];
    let mut bookings = Vec::new();
    for t in times {
        let (status, b) = book(&app, &client, trainer.id, pt, t).await;
        assert_eq!(status, 201, "{b}");
        bookings.push(b);
    }
    let (status, cancelled) = book(
        &app,
        &client,
        trainer.id,
        pt,
        nine(today + Duration::days(4)),
    )
    .await;
    assert_eq!(status, 201);
    call(
        &app,
        &client,
        Method::POST,
        &format!("/api/bookings/{}/cancel", cancelled["id"].as_str().unwrap()),
        None,
    )
    .await;

    // A class of one place, taken by another client first: the client is in line.
    let rival = app.register("client").await;
    train(&app, &trainer, &rival).await;
    projected(&env, "trainer", trainer.id, rival.id).await;
    let solo = session_type(
        &app,
        &trainer,
        json!({"name": "Solo class", "kind": "group", "duration_min": 45, "capacity": 1}),
    )
    .await;
    let (_, class) = call(&app, &trainer, Method::POST, "/api/sessions", Some(json!({"session_type_id": solo, "trainer_id": trainer.id, "starts_at": nine(today + Duration::days(5)) + Duration::hours(9)}))).await;
    let class_id = class[0]["id"].as_str().unwrap();
    call(
        &app,
        &rival,
        Method::POST,
        "/api/bookings",
        Some(json!({"session_id": class_id})),
    )
    .await;
    let (_, in_line) = call(
        &app,
        &client,
        Method::POST,
        "/api/bookings",
        Some(json!({"session_id": class_id})),
    )
    .await;
    assert_eq!(in_line["status"], "waitlisted");

    let (status, feed) = call(&app, &client, Method::POST, "/api/calendar/feeds", None).await;
    assert_eq!(status, 201, "{feed}");
    let url = feed["url"].as_str().unwrap().to_owned();
    let (status, ics) = fetch_feed(&app, &url).await;
    assert_eq!(status, 200);
    // Escaped (RFC 5545 §3.3.11) and folded at 75 octets: the long SUMMARY line spans
    // several lines, which the parser joins back into the name.
    assert!(ics.lines().all(|l| l.len() <= 76), "lines are folded");
    let unfolded = ics.replace("\r\n ", "");
    assert!(unfolded.contains("SUMMARY:PT\\; strength\\, legs"), "{ics}");
    assert!(!ics.contains(LONG_NAME), "the summary line is folded");
    let parsed = parse_ics(&ics);
    assert_eq!(parsed["version"], "2.0");
    assert_eq!(parsed["timezones"], json!(["Europe/Berlin"]));
    let events = parsed["events"].as_array().unwrap();
    assert_eq!(events.len(), 4);
    let waiting = events
        .iter()
        .find(|e| e["uid"] == format!("{}@fitsync.dev", in_line["id"].as_str().unwrap()).as_str())
        .unwrap();
    assert_eq!(waiting["status"], "TENTATIVE", "a place in line");
    for (b, expected) in bookings.iter().zip(times) {
        let uid = format!("{}@fitsync.dev", b["id"].as_str().unwrap());
        let e = events.iter().find(|e| e["uid"] == uid.as_str()).unwrap();
        // The parser's reading of the local time through FitSync's VTIMEZONE is the instant booked.
        let start: DateTime<Utc> = e["start"].as_str().unwrap().parse().unwrap();
        assert_eq!(start, expected, "{e}");
        let end: DateTime<Utc> = e["end"].as_str().unwrap().parse().unwrap();
        assert_eq!(end - start, Duration::hours(1));
        assert_eq!(
            (e["tzid"].as_str(), e["status"].as_str()),
            (Some("Europe/Berlin"), Some("CONFIRMED"))
        );
        assert_eq!(e["summary"], LONG_NAME);
    }
    let gone = events
        .iter()
        .find(|e| e["uid"] == format!("{}@fitsync.dev", cancelled["id"].as_str().unwrap()).as_str())
        .unwrap();
    assert_eq!(gone["status"], "CANCELLED");

    // A reschedule shows with a higher sequence.
    let first = &bookings[0];
    let sequence_before = events
        .iter()
        .find(|e| e["uid"] == format!("{}@fitsync.dev", first["id"].as_str().unwrap()).as_str())
        .unwrap()["sequence"]
        .as_i64()
        .unwrap();
    let later = times[0] + Duration::hours(2);
    let (status, _) = call(
        &app,
        &client,
        Method::POST,
        &format!("/api/bookings/{}/reschedule", first["id"].as_str().unwrap()),
        Some(json!({"starts_at": later})),
    )
    .await;
    assert_eq!(status, 200);
    let parsed = parse_ics(&fetch_feed(&app, &url).await.1);
    let moved = parsed["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["uid"] == format!("{}@fitsync.dev", first["id"].as_str().unwrap()).as_str())
        .unwrap()
        .clone();
    assert_eq!(
        moved["start"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        later
    );
    assert!(moved["sequence"].as_i64().unwrap() > sequence_before);

    // The trainer's own feed: their sessions.
    let (_, trainer_feed) = call(&app, &trainer, Method::POST, "/api/calendar/feeds", None).await;
    let parsed = parse_ics(
        &fetch_feed(&app, trainer_feed["url"].as_str().unwrap())
            .await
            .1,
    );
    let sessions = parsed["events"].as_array().unwrap();
    assert_eq!(sessions.len(), 4);
    assert!(
        sessions
            .iter()
            .any(|e| e["summary"] == "Solo class (1/1 booked)"),
        "{sessions:?}"
    );

    // Guessing gets nothing; revoking ends the feed; only its owner revokes it.
    let (status, _) = fetch_feed(&app, "/api/calendar/not-a-token").await;
    assert_eq!(status, 404);
    let id = feed["id"].as_str().unwrap();
    let (status, _) = call(
        &app,
        &trainer,
        Method::POST,
        &format!("/api/calendar/feeds/{id}/revoke"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(
        &app,
        &client,
        Method::POST,
        &format!("/api/calendar/feeds/{id}/revoke"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(fetch_feed(&app, &url).await.0, 404);
    let db = env.schedule_db();
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("select token_sha256 from calendar_feeds")
        .fetch_all(&db)
        .await
        .unwrap();
    let token = url.trim_start_matches("/api/calendar/");
    assert!(
        stored.iter().all(|h| h.as_slice() != token.as_bytes()),
        "only hashes are stored"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weekly_series_books_every_week_at_the_same_local_time_or_nothing_and_cancels_one_or_all()
{
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let trainer = app.register("trainer").await;
    let client = app.register("client").await;
    let rival = app.register("client").await;
    for c in [&client, &rival] {
        train(&app, &trainer, c).await;
        projected(&env, "trainer", trainer.id, c.id).await;
    }
    let berlin = chrono_tz::Europe::Berlin;
    set_hours(&app, &trainer, trainer.id, json!({"time_zone": "Europe/Berlin", "weekly": every_day("07:00", "12:00"), "horizon_days": 400, "slot_step_min": 60})).await;
    let pt = session_type(
        &app,
        &trainer,
        json!({"name": "PT", "kind": "one_on_one", "duration_min": 60}),
    )
    .await;

    // Four weeks at 09:00 Berlin time, starting two weeks before Berlin's next change of
    // offset, so the series crosses it.
    let today = Utc::now().with_timezone(&berlin).date_naive();
    let offset_on = |d: chrono::NaiveDate| {
        berlin
            .from_local_datetime(&d.and_hms_opt(12, 0, 0).unwrap())
            .single()
            .unwrap()
            .offset()
            .to_string()
    };
    // The first change of offset at least 16 days ahead (changes are months apart).
    let change = (16..=400)
        .map(|i| today + Duration::days(i))
        .find(|d| offset_on(*d) != offset_on(*d - Duration::days(1)))
        .unwrap();
    let first_day = change - Duration::days(14);
    let nine = |d: chrono::NaiveDate| {
        berlin
            .from_local_datetime(&d.and_hms_opt(9, 0, 0).unwrap())
            .single()
            .unwrap()
            .with_timezone(&Utc)
    };
    let series_body = |starts: DateTime<Utc>, weeks: i32| json!({"trainer_id": trainer.id, "session_type_id": pt, "starts_at": starts, "weeks": weeks});

    // The rival holds week 3 at 09:00 of another series' time: that series books nothing.
    let taken_day = first_day + Duration::weeks(2);
    let (status, _) = book(
        &app,
        &rival,
        trainer.id,
        pt,
        nine(taken_day) + Duration::hours(2),
    )
    .await;
    assert_eq!(status, 201);
    let db = env.schedule_db();
    let before = count(&db, "select count(*) from bookings").await;
    let (status, problem) = call(
        &app,
        &client,
        Method::POST,
        "/api/bookings/series",
        Some(series_body(nine(first_day) + Duration::hours(2), 4)),
    )
    .await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .starts_with(&taken_day.to_string()),
        "{problem}"
    );
    assert_eq!(count(&db, "select count(*) from bookings").await, before);

    let (status, series) = call(
        &app,
        &client,
        Method::POST,
        "/api/bookings/series",
        Some(series_body(nine(first_day), 4)),
    )
    .await;
    assert_eq!(status, 201, "{series}");
    let series = series.as_array().unwrap().clone();
    assert_eq!(series.len(), 4);
    let starts: Vec<DateTime<Utc>> = series
        .iter()
        .map(|b| b["starts_at"].as_str().unwrap().parse().unwrap())
        .collect();
    let expected: Vec<DateTime<Utc>> = (0..4)
        .map(|w| nine(first_day + Duration::weeks(w)))
        .collect();
    assert_eq!(starts, expected, "every week at 09:00 Berlin time");
    // Across the change: the same local time is another time of day in UTC.
    assert_ne!(starts[0].time(), starts[3].time());
    let id = series[0]["series_id"].as_str().unwrap().to_owned();
    assert!(series
        .iter()
        .all(|b| b["series_id"] == id.as_str() && b["status"] == "booked"));

    // Skip one: cancel the second occurrence alone. Then cancel the series: the rest go,
    // the skipped one stays as it was. Others may not cancel it.
    let (status, _) = call(
        &app,
        &client,
        Method::POST,
        &format!("/api/bookings/{}/cancel", series[1]["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(
        &app,
        &rival,
        Method::POST,
        &format!("/api/bookings/series/{id}/cancel"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, cancelled) = call(
        &app,
        &client,
        Method::POST,
        &format!("/api/bookings/series/{id}/cancel"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{cancelled}");
    let gone: BTreeSet<&str> = cancelled
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    let expected_gone: BTreeSet<&str> = [0, 2, 3]
        .iter()
        .map(|i| series[*i]["id"].as_str().unwrap())
        .collect();
    assert_eq!(gone, expected_gone);
    let (_, again) = call(
        &app,
        &client,
        Method::POST,
        &format!("/api/bookings/series/{id}/cancel"),
        None,
    )
    .await;
    assert_eq!(again, json!([]));
    assert_eq!(
        count(
            &db,
            &format!(
                "select count(*) from bookings where series_id = '{id}' and status = 'cancelled'"
            )
        )
        .await,
        4
    );
    app.stop().await;
}
