//! Alert SMS and web push when the worker dies at the worst moment: after the gateway or
//! the push service took a message, before the delivery is recorded. Restarted, a worker
//! sends that one again — once, under the same key: a text with the same idempotency key
//! and reference (the gateway keeps one text per key, so the handset gets one), a push
//! with the same notification id (the service worker shows one per id). A delivery that
//! was recorded is never sent again. The email channel's twin is in `delivery.rs`.
//!
//! The gateway here is FitSync's `SimulatedSms` behind a recorder of every request it is
//! handed (the simulator itself swallows a repeated key, so a second send shows only in
//! the recorder); the push service is `channels.rs`'s, which checks VAPID and decrypts
//! each message with the browser's own keys.

use std::sync::{Arc, Mutex};

use axum::{
    body::Body,
    extract::{Request, State},
    http::{Method, StatusCode},
    middleware::{self, Next},
    response::Response,
    routing::post,
};
use base64::{
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64},
    Engine,
};
use fitsync_notifications::sms::SimulatedSms;
use p256::{elliptic_curve::sec1::ToEncodedPoint, SecretKey};
use ring::hmac;
use secrecy::ExposeSecret;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    channels::PushService,
    harness::{count, eventually, TestEnv},
};

/// One `POST /messages` the gateway was handed, repeats included.
#[derive(Debug, Clone)]
struct Handed {
    /// The `Idempotency-Key` header.
    key: Option<String>,
    to: String,
    /// The sender's reference in the body (what the receipt names).
    reference: String,
}

type Recorder = Arc<Mutex<Vec<Handed>>>;

/// Records each send before the simulator sees it (and answers it as it would).
async fn record(State(handed): State<Recorder>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    if parts.method == Method::POST {
        let sent: Value = serde_json::from_slice(&bytes).unwrap_or_default();
        handed.lock().unwrap().push(Handed {
            key: parts
                .headers
                .get("idempotency-key")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            to: sent["to"].as_str().unwrap_or_default().to_owned(),
            reference: sent["reference"].as_str().unwrap_or_default().to_owned(),
        });
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The simulated SMS gateway on a port of its own, its requests recorded. Its signed
/// receipts go to a sink beside it: receipts are `channels.rs`'s subject, and the worker
/// processes here serve on ports nobody knows in advance.
async fn recorded_gateway(key: &[u8]) -> (Arc<SimulatedSms>, Recorder, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let sim = SimulatedSms::new(
        hmac::Key::new(hmac::HMAC_SHA256, key),
        &format!("{url}/receipts"),
    );
    let handed = Recorder::default();
    let router = sim
        .router()
        .layer(middleware::from_fn_with_state(handed.clone(), record))
        .route("/receipts", post(|| async { StatusCode::NO_CONTENT }));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (sim, handed, url)
}

/// The application server key the processes sign with: the public half of the VAPID key
/// the test environment gives them, worked out here with p256.
fn application_server_key(env: &TestEnv) -> String {
    let private = env
        .settings
        .push
        .vapid_private_key
        .as_ref()
        .expect("the test environment sets a VAPID key");
    let secret =
        SecretKey::from_slice(&B64.decode(private.expose_secret().trim()).unwrap()).unwrap();
    B64.encode(secret.public_key().to_encoded_point(false).as_bytes())
}

/// An alert queued for one user on one channel.
struct Queued {
    notification: Uuid,
    delivery: Uuid,
    body: String,
}

/// Queues the `n`-th alert (1 or 2) for `user` on `channel`, to `target` (a browser's
/// subscription id on push, '' elsewhere), as the alerts job queues one (tested in
/// `channels.rs`). The first is due now, the second in an hour (`until_the_fault` makes it
/// due once the first is recorded), so the first is claimed, sent and recorded in a round
/// of its own, however long the worker takes to start.
async fn queue(db: &PgPool, channel: &str, user: Uuid, target: &str, n: i32) -> Queued {
    let notification = Uuid::now_v7();
    let delivery = Uuid::now_v7();
    let body = format!("Your client did not come ({channel} {n}).");
    sqlx::query(
        "insert into inbox (notification_id, user_id, kind, title, body, subject_id, created_at, dedup_key, seq)
         values ($1, $2, 'no_show', 'Missed session', $3, $2, now(), $4, 1)",
    )
    .bind(notification)
    .bind(user)
    .bind(&body)
    .bind(format!("test:{notification}"))
    .execute(db)
    .await
    .unwrap();
    sqlx::query(
        "insert into alert_deliveries (id, notification_id, user_id, channel, target, status, due_at)
         values ($1, $2, $3, $4, $5, 'pending', now() + make_interval(secs => $6))",
    )
    .bind(delivery)
    .bind(notification)
    .bind(user)
    .bind(channel)
    .bind(target)
    .bind(f64::from(n - 1) * 3600.0 - 0.001)
    .execute(db)
    .await
    .unwrap();
    Queued {
        notification,
        delivery,
        body,
    }
}

/// Runs the notifications process (configured by `config`) until it aborts at the second
/// pass of `fault`; returns each of `channel`'s deliveries and its status at that moment,
/// oldest due first.
async fn until_the_fault(
    env: &TestEnv,
    channel: &str,
    config: &[(&str, &str)],
    fault: &str,
) -> Vec<(Uuid, String)> {
    let mut with_fault = config.to_vec();
    with_fault.push(("FITSYNC_FAULT", fault));
    let worker = env.spawn_process("notifications", &with_fault);
    let db = env.notifications_db();
    eventually(60, &format!("the first {channel} delivery recorded"), || async {
        let sent = count(
            &db,
            &format!("select count(*) from alert_deliveries where channel = '{channel}' and status = 'sent'"),
        )
        .await;
        (sent == 1).then_some(())
    })
    .await;
    sqlx::query(
        "update alert_deliveries set due_at = now() where channel = $1 and status = 'pending'",
    )
    .bind(channel)
    .execute(&db)
    .await
    .unwrap();
    crate::crash::aborted(worker).await;
    sqlx::query_as("select id, status from alert_deliveries where channel = $1 order by due_at")
        .bind(channel)
        .fetch_all(&env.notifications_db())
        .await
        .unwrap()
}

/// Restarts the notifications process until every delivery on `channel` is recorded as
/// sent, then stops it (`kill -9`), so that it takes no part in what the test does next.
async fn restarted_until_sent(env: &TestEnv, channel: &str, config: &[(&str, &str)]) {
    let db = env.notifications_db();
    let (worker, _app) = env.spawn_app("notifications", config).await;
    // The interrupted claim is taken over once its lease is out.
    eventually(120, &format!("the interrupted {channel} send completed"), || async {
        let open = count(
            &db,
            &format!(
                "select count(*) from alert_deliveries where channel = '{channel}' and status <> 'sent'"
            ),
        )
        .await;
        (open == 0).then_some(())
    })
    .await;
    drop(worker);
}

async fn attempts(db: &PgPool, delivery: Uuid) -> i32 {
    sqlx::query_scalar("select attempts from alert_deliveries where id = $1")
        .bind(delivery)
        .fetch_one(db)
        .await
        .unwrap()
}

fn statuses(at_crash: &[(Uuid, String)]) -> Vec<&str> {
    at_crash.iter().map(|(_, s)| s.as_str()).collect()
}

fn interrupted(at_crash: &[(Uuid, String)], delivery: Uuid) -> bool {
    at_crash
        .iter()
        .any(|(id, s)| *id == delivery && s == "sending")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_between_texting_or_pushing_and_recording_sends_again_once_with_the_same_key(
) {
    let env = TestEnv::new().await;
    let db = env.notifications_db();
    let webhook_key: [u8; 32] = rand::random();
    let (sms, handed, sms_url) = recorded_gateway(&webhook_key).await;
    let webhook_secret = STANDARD.encode(webhook_key);
    // Every process here runs all three channels, as a deployment's does: the gateway's
    // URL and the key its receipts are signed with (a gateway needs one outside
    // `--target all`); push needs nothing more than the VAPID key every child gets (the
    // subscriptions are stored below, past the API's check of their origin).
    let config: [(&str, &str); 2] = [
        ("FITSYNC__SMS__GATEWAY_URL", sms_url.as_str()),
        ("FITSYNC__SMS__WEBHOOK_SECRET", webhook_secret.as_str()),
    ];

    // Texts. Two alerts wait to be texted to two users' verified numbers before any
    // worker runs.
    let mut texts = Vec::new();
    for n in 1..=2 {
        let user = Uuid::now_v7();
        let number = format!("+491511234000{n}");
        sqlx::query(
            "insert into phone_numbers (user_id, number, verified_at, code_sent_at)
             values ($1, $2, now(), now())",
        )
        .bind(user)
        .bind(&number)
        .execute(&db)
        .await
        .unwrap();
        texts.push((queue(&db, "sms", user, "", n).await, number));
    }
    let to = |number: &str| -> Vec<Handed> {
        handed
            .lock()
            .unwrap()
            .iter()
            .filter(|h| h.to == number)
            .cloned()
            .collect()
    };

    // The worker texts the first and records it, then hands the second to the gateway and
    // dies before recording it.
    let at_crash = until_the_fault(&env, "sms", &config, "alert_sms.after_send:2").await;
    assert_eq!(statuses(&at_crash), ["sent", "sending"], "{at_crash:?}");
    for (_, number) in &texts {
        assert_eq!(to(number.as_str()).len(), 1, "{number}: handed over once");
    }

    // Restarted, a worker texts the interrupted one again under the same key; the
    // gateway keeps one text per key, so each handset gets one text.
    restarted_until_sent(&env, "sms", &config).await;
    for (queued, number) in &texts {
        let copies = to(number.as_str());
        // The key and reference are the delivery's id (the gateway API in sms.rs).
        let id = queued.delivery.to_string();
        assert!(
            copies
                .iter()
                .all(|c| c.key.as_deref() == Some(id.as_str()) && c.reference == id),
            "{number}: every copy keyed and referenced by its delivery {id}: {copies:?}"
        );
        if interrupted(&at_crash, queued.delivery) {
            assert_eq!(
                copies.len(),
                2,
                "at least once: texted again after the crash"
            );
            assert_eq!(attempts(&db, queued.delivery).await, 2);
        } else {
            assert_eq!(copies.len(), 1, "a recorded text is never sent again");
            assert_eq!(attempts(&db, queued.delivery).await, 1);
        }
        let kept: Vec<String> = sms
            .messages()
            .into_iter()
            .filter(|m| m.to == *number)
            .map(|m| m.text)
            .collect();
        assert_eq!(kept.len(), 1, "one text on the handset: {kept:?}");
        assert!(kept[0].contains(&queued.body), "{kept:?}");
    }

    // Pushes. Two alerts wait to be pushed to two users' browsers before any worker runs
    // (the texts' worker is gone: nothing else sends them).
    let pushes = PushService::start().await;
    pushes.state.lock().unwrap().server_key = Some(application_server_key(&env));
    let mut browsers = Vec::new();
    for n in 1..=2 {
        let user = Uuid::now_v7();
        let name = format!("browser-{n}");
        let subscription = pushes.add(&name);
        let id = Uuid::now_v7();
        let key = |k: &str| {
            B64.decode(subscription["keys"][k].as_str().unwrap())
                .unwrap()
        };
        sqlx::query(
            "insert into push_subscriptions (id, user_id, endpoint, p256dh, auth)
             values ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(user)
        .bind(subscription["endpoint"].as_str().unwrap())
        .bind(key("p256dh"))
        .bind(key("auth"))
        .execute(&db)
        .await
        .unwrap();
        browsers.push((queue(&db, "push", user, &id.to_string(), n).await, name));
    }

    // The worker pushes the first and records it, then hands the second to the push
    // service and dies before recording it.
    let at_crash = until_the_fault(&env, "push", &config, "alert_push.after_send:2").await;
    assert_eq!(statuses(&at_crash), ["sent", "sending"], "{at_crash:?}");
    for (_, name) in &browsers {
        assert_eq!(pushes.received(name).len(), 1, "{name}: pushed once");
    }

    // Restarted, a worker pushes the interrupted one again with the same notification id
    // (each copy freshly encrypted, the same once decrypted); a recorded push is not
    // repeated.
    restarted_until_sent(&env, "push", &config).await;
    for (queued, name) in &browsers {
        let copies = pushes.received(name);
        let id = queued.notification.to_string();
        assert!(
            copies
                .iter()
                .all(|c| c["notification_id"].as_str() == Some(id.as_str())
                    && c["body"].as_str() == Some(queued.body.as_str())),
            "{name}: every copy is notification {id}: {copies:?}"
        );
        if interrupted(&at_crash, queued.delivery) {
            assert_eq!(
                copies.len(),
                2,
                "at least once: pushed again after the crash"
            );
            assert_eq!(copies[0], copies[1], "the same message twice");
            assert_eq!(attempts(&db, queued.delivery).await, 2);
        } else {
            assert_eq!(copies.len(), 1, "a recorded push is never sent again");
            assert_eq!(attempts(&db, queued.delivery).await, 1);
        }
    }
}
