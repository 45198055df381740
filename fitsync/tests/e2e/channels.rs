//! Alert SMS and web push, end to end: a simulated SMS gateway started here (FitSync's
//! `SimulatedSms`, on a port of its own, sending signed receipts back) and a push service
//! started here that checks each request's VAPID signature and decrypts the message with
//! the browser's own keys — an RFC 8291 decryption written in this file, first checked
//! against the RFC's worked example.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use aes_gcm::{aead::AeadInPlace, Aes128Gcm, KeyInit, Nonce};
use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    routing::post,
    Router,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use fitsync::app::Target;
use fitsync_notifications::sms::SimulatedSms;
use hkdf::Hkdf;
use p256::{
    ecdsa::{signature::Verifier, Signature, VerifyingKey},
    elliptic_curve::sec1::ToEncodedPoint,
    PublicKey, SecretKey,
};
use reqwest::Method;
use ring::hmac;
use serde_json::{json, Value};
use sha2::Sha256;
use uuid::Uuid;

use crate::{
    alerts::{baseline, coached, log},
    delivery::address_known,
    harness::{call, count, emails_to_now, epley, eventually, Account, TestApp, TestEnv},
    matrix::train,
};

/// `PUT /api/notifications/phone` as `who`.
async fn set_phone(app: &TestApp, who: &Account, number: &str) -> (u16, Value) {
    call(
        app,
        who,
        Method::PUT,
        "/api/notifications/phone",
        Some(json!({ "number": number })),
    )
    .await
}

/// The browser's half of RFC 8291: the plaintext of `message`, for the browser whose
/// private key is `ua` and auth secret `auth`.
fn decrypt(message: &[u8], ua: &SecretKey, auth: &[u8]) -> Result<Vec<u8>, String> {
    if message.len() < 21 {
        return Err("shorter than a header".into());
    }
    let salt = &message[..16];
    let idlen = message[20] as usize;
    let as_public = message.get(21..21 + idlen).ok_or("no key id")?;
    let mut record = message[21 + idlen..].to_vec();
    let ua_public = ua.public_key().to_encoded_point(false);
    let sender = PublicKey::from_sec1_bytes(as_public).map_err(|_| "key id is no P-256 key")?;
    let ecdh = p256::ecdh::diffie_hellman(ua.to_nonzero_scalar(), sender.as_affine());
    let mut info = b"WebPush: info\0".to_vec();
    info.extend_from_slice(ua_public.as_bytes());
    info.extend_from_slice(as_public);
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(auth), ecdh.raw_secret_bytes())
        .expand(&info, &mut ikm)
        .unwrap();
    let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
    let (mut cek, mut nonce) = ([0u8; 16], [0u8; 12]);
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
        .unwrap();
    prk.expand(b"Content-Encoding: nonce\0", &mut nonce)
        .unwrap();
    Aes128Gcm::new_from_slice(&cek)
        .unwrap()
        .decrypt_in_place(Nonce::from_slice(&nonce), b"", &mut record)
        .map_err(|_| "does not decrypt")?;
    // Padding (zeros), after the last record's delimiter 2.
    while record.last() == Some(&0) {
        record.pop();
    }
    if record.pop() != Some(2) {
        return Err("no last-record delimiter".into());
    }
    Ok(record)
}

/// A browser: its key pair and auth secret.
struct Browser {
    key: SecretKey,
    auth: [u8; 16],
}

impl Browser {
    fn new() -> Self {
        let key = SecretKey::from_slice(
            &B64.decode(fitsync_notifications::push::generate_private_key().unwrap())
                .unwrap(),
        )
        .unwrap();
        let auth: [u8; 16] = rand::random();
        Self { key, auth }
    }

    fn subscription(&self, endpoint: &str) -> Value {
        json!({
            "endpoint": endpoint,
            "expirationTime": null,
            "keys": {
                "p256dh": B64.encode(self.key.public_key().to_encoded_point(false).as_bytes()),
                "auth": B64.encode(self.auth),
            }
        })
    }
}

#[derive(Default)]
pub(crate) struct Pushes {
    browsers: HashMap<String, Browser>,
    /// Per browser, each message as decrypted.
    received: HashMap<String, Vec<Value>>,
    /// Requests refused: no valid VAPID, or not decryptable.
    refused: Vec<String>,
    /// The application server key requests must be signed with.
    pub(crate) server_key: Option<String>,
}

/// A push service: `POST /push/{browser}` takes a message for a browser (201) once its
/// VAPID header verifies; `POST /gone/{browser}` is a subscription it forgot (410).
pub(crate) struct PushService {
    origin: String,
    pub(crate) state: Arc<Mutex<Pushes>>,
}

impl PushService {
    pub(crate) async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(Pushes::default()));
        let app = Router::new()
            .route("/push/{browser}", post(push))
            .route("/gone/{browser}", post(|| async { StatusCode::GONE }))
            .with_state((state.clone(), origin.clone()));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { origin, state }
    }

    pub(crate) fn add(&self, name: &str) -> Value {
        let browser = Browser::new();
        let sub = browser.subscription(&format!("{}/push/{name}", self.origin));
        self.state
            .lock()
            .unwrap()
            .browsers
            .insert(name.to_owned(), browser);
        sub
    }

    pub(crate) fn received(&self, name: &str) -> Vec<Value> {
        let s = self.state.lock().unwrap();
        assert!(s.refused.is_empty(), "refused: {:?}", s.refused);
        s.received.get(name).cloned().unwrap_or_default()
    }

    /// Waits for the `n`-th message to `name`.
    async fn nth(&self, name: &str, n: usize) -> Value {
        eventually(60, &format!("push {n} to {name}"), || async {
            self.received(name).get(n - 1).cloned()
        })
        .await
    }
}

async fn push(
    State((state, origin)): State<(Arc<Mutex<Pushes>>, String)>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut s = state.lock().unwrap();
    let checked = (|| -> Result<Value, String> {
        let header = |h: &str| headers.get(h).and_then(|v| v.to_str().ok()).unwrap_or("");
        if header("content-encoding") != "aes128gcm" || header("ttl").parse::<u32>().is_err() {
            return Err("no aes128gcm content encoding or TTL".into());
        }
        // RFC 8292: `vapid t=<JWT>, k=<key>`, the JWT ES256-signed by that key, for this
        // origin, unexpired.
        let rest = header("authorization")
            .strip_prefix("vapid t=")
            .ok_or("no vapid authorization")?;
        let (jwt, k) = rest.split_once(", k=").ok_or("no k")?;
        if Some(k) != s.server_key.as_deref() {
            return Err(format!("signed by {k}, not the server's key"));
        }
        let (input, signature) = jwt.rsplit_once('.').ok_or("no signature")?;
        let key = VerifyingKey::from_sec1_bytes(&B64.decode(k).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        let signature = Signature::from_slice(&B64.decode(signature).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        key.verify(input.as_bytes(), &signature)
            .map_err(|_| "a bad VAPID signature")?;
        let claims: Value = serde_json::from_slice(
            &B64.decode(input.split_once('.').ok_or("no claims")?.1)
                .map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;
        let now = chrono::Utc::now().timestamp();
        let exp = claims["exp"].as_i64().unwrap_or(0);
        if claims["aud"] != origin.as_str() || exp <= now || exp > now + 24 * 3600 {
            return Err(format!("claims {claims}"));
        }
        let browser = s.browsers.get(&name).ok_or("no such browser")?;
        let plain = decrypt(&body, &browser.key, &browser.auth)?;
        serde_json::from_slice(&plain).map_err(|e| e.to_string())
    })();
    match checked {
        Ok(message) => {
            s.received.entry(name).or_default().push(message);
            StatusCode::CREATED
        }
        Err(e) => {
            s.refused.push(e);
            StatusCode::UNAUTHORIZED
        }
    }
}

/// Starts the simulated SMS gateway on a port of its own; receipts go to `app_base`.
async fn sms_gateway(key: &[u8], app_base: &str) -> (Arc<SimulatedSms>, String) {
    let sim = SimulatedSms::new(
        hmac::Key::new(hmac::HMAC_SHA256, key),
        &format!("{app_base}/api/notifications/sms/receipts"),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = sim.router();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (sim, url)
}

fn preferences(sms_progress: bool) -> Value {
    let all = json!({"progress": true, "attendance": true, "bookings": true, "feedback": true, "reminders": true});
    json!({
        "locale": {"time_zone": "America/New_York", "units": "imperial"},
        "email": all,
        "sms": {"progress": sms_progress, "attendance": false, "bookings": false, "feedback": false, "reminders": true},
        "push": all,
        "quiet_hours": null,
    })
}

/// The trainer's deliveries on `channel`, oldest first: (status, attempts, receipt).
async fn on_channel(
    env: &TestEnv,
    who: &Account,
    channel: &str,
) -> Vec<(String, i32, Option<String>, Option<String>)> {
    sqlx::query_as(
        "select status, attempts, receipt, last_error from alert_deliveries
         where user_id = $1 and channel = $2 order by created_at, id",
    )
    .bind(who.id)
    .bind(channel)
    .fetch_all(&env.notifications_db())
    .await
    .unwrap()
}

/// The code in the last text to `number`.
fn code_texted(sim: &SimulatedSms, number: &str) -> String {
    let text = sim
        .messages()
        .into_iter()
        .rev()
        .find(|m| m.to == number && m.text.starts_with("Your FitSync code is"))
        .expect("a code was texted")
        .text;
    text.split_whitespace()
        .find_map(|w| {
            let w = w.trim_end_matches('.');
            (w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit())).then(|| w.to_owned())
        })
        .unwrap()
}

#[test]
fn the_tests_decryption_reads_the_rfc_8291_example() {
    let ua = SecretKey::from_slice(
        &B64.decode("q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94")
            .unwrap(),
    )
    .unwrap();
    let message = B64
        .decode("DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN")
        .unwrap();
    let auth = B64.decode("BTBZMqHH6r4Tts7J_aSIgg").unwrap();
    assert_eq!(
        decrypt(&message, &ua, &auth).unwrap(),
        b"When I grow up, I want to be a watermelon"
    );
    let mut tampered = message.clone();
    *tampered.last_mut().unwrap() ^= 1;
    assert!(decrypt(&tampered, &ua, &auth).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_is_texted_and_pushed_as_preferences_allow_and_a_failing_channel_holds_up_no_other(
) {
    let env = TestEnv::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let webhook_key: [u8; 32] = rand::random();
    let (sms, sms_url) = sms_gateway(&webhook_key, &base).await;
    let pushes = PushService::start().await;
    let mut settings = env.settings.clone();
    settings.sms.gateway_url = Some(sms_url);
    settings.sms.webhook_secret = Some(
        base64::engine::general_purpose::STANDARD
            .encode(webhook_key)
            .into(),
    );
    settings.push.endpoint_origins = vec![pushes.origin.clone()];
    settings.delivery.retry_base_ms = 200;
    settings.delivery.max_attempts = 30;
    let app = env.start_with(settings, &[Target::All], listener).await;
    let client = app.register("client").await;
    let trainer = app.register_verified_by_email("trainer").await;
    train(&app, &trainer, &client).await;
    coached(&env, trainer.id, client.id).await;
    address_known(&env, &trainer).await;

    // The number: set, a code texted to it, typed back (a wrong one first).
    let number = "+4915112345678";
    let (status, phone) = set_phone(&app, &trainer, number).await;
    assert_eq!(
        (status, &phone),
        (202, &json!({"number": number, "verified": false}))
    );
    let code = code_texted(&sms, number);
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    let (status, _) = call(
        &app,
        &trainer,
        Method::POST,
        "/api/notifications/phone/verify",
        Some(json!({"code": wrong})),
    )
    .await;
    assert_eq!(status, 422);
    let (status, phone) = call(
        &app,
        &trainer,
        Method::POST,
        "/api/notifications/phone/verify",
        Some(json!({"code": code})),
    )
    .await;
    assert_eq!((status, phone["verified"].as_bool()), (200, Some(true)));

    // Records by SMS too; two browsers, one of which its push service has forgotten.
    let (status, _) = call(
        &app,
        &trainer,
        Method::PUT,
        "/api/notifications/preferences",
        Some(preferences(true)),
    )
    .await;
    assert_eq!(status, 200);
    let (status, key) = call(
        &app,
        &trainer,
        Method::GET,
        "/api/notifications/push/key",
        None,
    )
    .await;
    assert_eq!(status, 200);
    pushes.state.lock().unwrap().server_key = Some(key["public_key"].as_str().unwrap().to_owned());
    let (status, live) = call(
        &app,
        &trainer,
        Method::POST,
        "/api/notifications/push/subscriptions",
        Some(pushes.add("laptop")),
    )
    .await;
    assert_eq!(
        (status, live["service"].as_str()),
        (201, Some(pushes.origin.as_str()))
    );
    let forgotten = Browser::new().subscription(&format!("{}/gone/phone", pushes.origin));
    let (status, _) = call(
        &app,
        &trainer,
        Method::POST,
        "/api/notifications/push/subscriptions",
        Some(forgotten),
    )
    .await;
    assert_eq!(status, 201);

    // The SMS gateway is down when the record comes: the push and the email go out
    // regardless, the text waits and is retried.
    sms.fail_next(u32::MAX);
    baseline(&env, &app, &client, "barbell-squat", 100.0).await;
    log(&app, &client, "barbell-squat", 5, 110.0, 0).await;
    let pushed = pushes.nth("laptop", 1).await;
    assert_eq!(pushed["title"], "New personal record");
    // In his units: pounds (kg / 0.45359237), Epley's estimates.
    let lb = |kg: f64| kg / 0.453_592_37;
    let in_pounds = format!(
        "Estimated 1RM on barbell-squat is now {:.1} lb (was {:.1} lb).",
        lb(epley(110.0, 5)),
        lb(epley(100.0, 5))
    );
    assert_eq!(pushed["body"], in_pounds.as_str());
    assert_eq!(pushed["kind"], "personal_record");
    assert_eq!(pushed["url"], "/inbox");
    let (_, inbox) = call(
        &app,
        &trainer,
        Method::GET,
        "/api/notifications/inbox",
        None,
    )
    .await;
    assert_eq!(pushed["notification_id"], inbox[0]["notification_id"]);
    TestEnv::email_to(&trainer.email, "New personal record").await;
    eventually(60, "the text retried while the gateway is down", || async {
        let texts = on_channel(&env, &trainer, "sms").await;
        (texts.len() == 1 && texts[0].0 == "pending" && texts[0].1 >= 2).then_some(())
    })
    .await;

    // Back up: the text goes out once, and its signed receipt is recorded.
    sms.fail_next(0);
    eventually(60, "the text delivered", || async {
        let texts = on_channel(&env, &trainer, "sms").await;
        (texts.len() == 1 && texts[0].0 == "sent" && texts[0].2.as_deref() == Some("delivered"))
            .then_some(())
    })
    .await;
    let alerts: Vec<_> = sms
        .messages()
        .into_iter()
        .filter(|m| m.to == number && m.text.contains("New personal record"))
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(
        alerts[0].text,
        format!("FitSync: New personal record. {in_pounds}")
    );
    // The forgotten browser: dead at once (no retry), and unsubscribed.
    let pushes_made = on_channel(&env, &trainer, "push").await;
    assert_eq!(pushes_made.len(), 2, "{pushes_made:?}");
    assert!(pushes_made.iter().any(|p| p.0 == "sent" && p.1 == 1));
    assert!(pushes_made.iter().any(|p| p.0 == "dead"
        && p.1 == 1
        && p.3
            .as_deref()
            .is_some_and(|e| e.contains("no longer knows"))));
    let (_, browsers) = call(
        &app,
        &trainer,
        Method::GET,
        "/api/notifications/push/subscriptions",
        None,
    )
    .await;
    assert_eq!(browsers.as_array().unwrap().len(), 1, "{browsers}");

    // Records no longer by SMS: the next is pushed (and emailed), not texted.
    let (status, _) = call(
        &app,
        &trainer,
        Method::PUT,
        "/api/notifications/preferences",
        Some(preferences(false)),
    )
    .await;
    assert_eq!(status, 200);
    baseline(&env, &app, &client, "barbell-deadlift", 100.0).await;
    log(&app, &client, "barbell-deadlift", 5, 140.0, 0).await;
    let second = pushes.nth("laptop", 2).await;
    assert!(
        second["body"]
            .as_str()
            .unwrap()
            .contains("barbell-deadlift"),
        "{second}"
    );
    eventually(60, "the second record's email", || async {
        let emails = emails_to_now(&trainer.email);
        (emails
            .iter()
            .filter(|e| e.contains("New personal record"))
            .count()
            == 2)
            .then_some(())
    })
    .await;
    assert_eq!(on_channel(&env, &trainer, "sms").await.len(), 1);
    assert_eq!(on_channel(&env, &trainer, "push").await.len(), 3);
    assert_eq!(
        sms.messages()
            .iter()
            .filter(|m| m.text.contains("personal record"))
            .count(),
        1
    );

    // Every final outcome is an event on the notifications topic, once: both emails and
    // the two pushes that went out, the forgotten browser's, the text and its receipt.
    let expected = [
        ("email", "sent", 2),
        ("push", "dead", 1),
        ("push", "sent", 2),
        ("sms", "delivered", 1),
        ("sms", "sent", 1),
    ];
    let topic = env.topic("fitsync.notifications");
    let outcomes = eventually(60, "the delivery events", || async {
        let mut seen = std::collections::BTreeMap::new();
        for m in env.read_topic(&topic, 1).await {
            let v: Value = serde_json::from_slice(rdkafka::Message::payload(&m).unwrap()).unwrap();
            if v["type"] == "fitsync.notification.alert_delivery.v1"
                && v["data"]["user_id"] == json!(trainer.id)
            {
                let key = (
                    v["data"]["channel"].as_str().unwrap().to_owned(),
                    v["data"]["status"].as_str().unwrap().to_owned(),
                );
                *seen.entry(key).or_insert(0) += 1;
            }
        }
        (seen.values().sum::<i32>() >= 7).then_some(seen)
    })
    .await;
    let outcomes: Vec<(&str, &str, i32)> = outcomes
        .iter()
        .map(|((c, s), n)| (c.as_str(), s.as_str(), *n))
        .collect();
    assert_eq!(outcomes, expected);

    // The client has no number, no browser and no verified address: their alerts stay in
    // the inbox only.
    assert_eq!(
        count(
            &env.notifications_db(),
            &format!(
                "select count(*) from alert_deliveries where user_id = '{}'",
                client.id
            )
        )
        .await,
        0
    );

    // Quiet hours in his zone (New York), from an hour ago to two hours ahead, and records
    // by SMS again: the next record waits on both channels until their end, then goes
    // out once on each (the wait moved into the past here, as the email's test does).
    let new_york = chrono_tz::America::New_York;
    let now = chrono::Utc::now();
    let hm = |hours: i64| {
        (now + chrono::Duration::hours(hours))
            .with_timezone(&new_york)
            .format("%H:%M")
            .to_string()
    };
    let mut quiet = preferences(true);
    quiet["quiet_hours"] = json!({"time_zone": new_york.name(), "starts": hm(-1), "ends": hm(2)});
    let (status, body) = call(
        &app,
        &trainer,
        Method::PUT,
        "/api/notifications/preferences",
        Some(quiet),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    baseline(&env, &app, &client, "front-barbell-squat", 80.0).await;
    log(&app, &client, "front-barbell-squat", 5, 90.0, 0).await;
    let db = env.notifications_db();
    let deferred = eventually(60, "the deferred text and push", || async {
        let due: Vec<(String, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
            "select channel, due_at from alert_deliveries
             where user_id = $1 and status = 'pending' and channel <> 'email' order by channel",
        )
        .bind(trainer.id)
        .fetch_all(&db)
        .await
        .unwrap();
        (due.len() == 2).then_some(due)
    })
    .await;
    // The end of the window on his clock, as a UTC instant (within the minute it was set).
    let end = now + chrono::Duration::hours(2);
    for (channel, due) in &deferred {
        assert!(
            (*due - end).num_seconds().abs() <= 60
                && due.with_timezone(&new_york).format("%H:%M").to_string() == hm(2),
            "{channel} due at {due}, the window ends at {end}"
        );
    }
    let texted = |sms: &SimulatedSms| {
        sms.messages()
            .iter()
            .filter(|m| m.text.contains("front-barbell-squat"))
            .count()
    };
    assert_eq!(texted(&sms), 0);
    assert_eq!(pushes.received("laptop").len(), 2);
    crate::delivery::end_the_wait(&env, trainer.id).await;
    let third = pushes.nth("laptop", 3).await;
    assert!(
        third["body"]
            .as_str()
            .unwrap()
            .contains("front-barbell-squat"),
        "{third}"
    );
    eventually(60, "the deferred text", || async {
        (texted(&sms) == 1).then_some(())
    })
    .await;
    eventually(60, "both sent", || async {
        let n = count(
            &db,
            &format!(
                "select count(*) from alert_deliveries where user_id = '{}' and status = 'pending'",
                trainer.id
            ),
        )
        .await;
        (n == 0).then_some(())
    })
    .await;
    assert_eq!(texted(&sms), 1);
    assert_eq!(pushes.received("laptop").len(), 3);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_subscriptions_and_receipts_refuse_bad_input_and_other_users() {
    let env = TestEnv::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let webhook_key: [u8; 32] = rand::random();
    let (sms, sms_url) = sms_gateway(&webhook_key, &base).await;
    let pushes = PushService::start().await;
    let mut settings = env.settings.clone();
    settings.sms.gateway_url = Some(sms_url);
    settings.sms.webhook_secret = Some(
        base64::engine::general_purpose::STANDARD
            .encode(webhook_key)
            .into(),
    );
    settings.push.endpoint_origins = vec![pushes.origin.clone()];
    let app = env
        .start_with(settings, &[Target::Users, Target::Notifications], listener)
        .await;
    let ana = app.register("client").await;
    let ben = app.register("trainer").await;

    // Numbers: E.164 only; one code per 30 s; five wrong tries spend a code.
    for bad in [
        "015112345678",
        "+0151123",
        "+49 151 1234567",
        "+1234567890123456",
    ] {
        let (status, problem) = set_phone(&app, &ana, bad).await;
        assert_eq!(status, 422, "{bad}");
        assert_eq!(problem["errors"][0]["field"], "number", "{problem}");
    }
    let number = "+4930123456789";
    let (status, _) = set_phone(&app, &ana, number).await;
    assert_eq!(status, 202);
    let (status, _) = set_phone(&app, &ana, number).await;
    assert_eq!(status, 429);
    // Nor through another account.
    let (status, _) = set_phone(&app, &ben, number).await;
    assert_eq!(status, 429);
    let code = code_texted(&sms, number);
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 7) % 1_000_000);
    for _ in 0..5 {
        let (status, _) = call(
            &app,
            &ana,
            Method::POST,
            "/api/notifications/phone/verify",
            Some(json!({"code": wrong})),
        )
        .await;
        assert_eq!(status, 422);
    }
    let (status, _) = call(
        &app,
        &ana,
        Method::POST,
        "/api/notifications/phone/verify",
        Some(json!({"code": code})),
    )
    .await;
    assert_eq!(status, 422, "the right code after five wrong ones");
    let (status, phone) = call(&app, &ana, Method::GET, "/api/notifications/phone", None).await;
    assert_eq!(
        (status, phone),
        (200, json!({"number": number, "verified": false}))
    );
    // Ben has none; his code is not Ana's.
    let (status, _) = call(&app, &ben, Method::GET, "/api/notifications/phone", None).await;
    assert_eq!(status, 404);
    let (status, _) = call(
        &app,
        &ben,
        Method::POST,
        "/api/notifications/phone/verify",
        Some(json!({"code": code})),
    )
    .await;
    assert_eq!(status, 404);

    // Subscriptions: only configured push services, only browsers' keys.
    let good = pushes.add("tablet");
    let mut cases = Vec::new();
    for endpoint in [
        "http://169.254.169.254/latest/meta-data",
        "https://fcm.googleapis.com.evil.example/x",
        "file:///etc/passwd",
    ] {
        let mut s = good.clone();
        s["endpoint"] = json!(endpoint);
        cases.push((s, "endpoint"));
    }
    let mut s = good.clone();
    s["keys"]["p256dh"] = json!(B64.encode([4u8; 65]));
    cases.push((s, "keys.p256dh"));
    let mut s = good.clone();
    s["keys"]["auth"] = json!(B64.encode([1u8; 8]));
    cases.push((s, "keys.auth"));
    for (body, field) in cases {
        let (status, problem) = call(
            &app,
            &ana,
            Method::POST,
            "/api/notifications/push/subscriptions",
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    let (status, sub) = call(
        &app,
        &ana,
        Method::POST,
        "/api/notifications/push/subscriptions",
        Some(good),
    )
    .await;
    assert_eq!(status, 201);
    let path = format!(
        "/api/notifications/push/subscriptions/{}",
        sub["id"].as_str().unwrap()
    );
    let (status, theirs) = call(
        &app,
        &ben,
        Method::GET,
        "/api/notifications/push/subscriptions",
        None,
    )
    .await;
    assert_eq!((status, theirs), (200, json!([])));
    let (status, _) = call(&app, &ben, Method::DELETE, &path, None).await;
    assert_eq!(status, 404, "another user's subscription");
    let (status, _) = call(&app, &ana, Method::DELETE, &path, None).await;
    assert_eq!(status, 204);

    // Receipts: signed with the gateway's key, recent, or refused. The one accepted names
    // a text never handed to the gateway (pending, no attempt, due tomorrow): it is
    // answered but records nothing.
    let reference = Uuid::now_v7();
    let notifications = env.notifications_db();
    sqlx::query(
        "insert into alert_deliveries (id, notification_id, user_id, channel, status, due_at, target)
         values ($1, $2, $3, 'sms', 'pending', now() + interval '1 day', '+4915100000000')",
    )
    .bind(reference)
    .bind(Uuid::now_v7())
    .bind(ana.id)
    .execute(&notifications)
    .await
    .unwrap();
    let body = json!({"message_id": "m1", "reference": reference, "status": "delivered", "at": chrono::Utc::now()}).to_string();
    let now = chrono::Utc::now().timestamp();
    let sign = |key: &[u8], t: i64| {
        fitsync_platform::signature::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, key),
            body.as_bytes(),
            t,
        )
    };
    let other: [u8; 32] = rand::random();
    for (signature, expected) in [
        (None, 400),
        (Some(sign(&other, now)), 400),
        (Some(sign(&webhook_key, now - 600)), 400),
        (Some(sign(&webhook_key, now)), 204),
    ] {
        let mut request = app
            .http
            .post(app.url("/api/notifications/sms/receipts"))
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(s) = &signature {
            request = request.header("sms-signature", s);
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), expected, "{signature:?}");
    }
    let (receipt, provider_ref): (Option<String>, Option<String>) =
        sqlx::query_as("select receipt, provider_ref from alert_deliveries where id = $1")
            .bind(reference)
            .fetch_one(&notifications)
            .await
            .unwrap();
    assert_eq!(
        (receipt, provider_ref),
        (None, None),
        "no receipt for a text never sent"
    );
    app.stop().await;
}
