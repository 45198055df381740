//! Alert SMS: a provider interface (`SmsProvider`), the HTTP gateway implementation, its
//! signed delivery receipts, each user's verified number, and a simulated gateway.
//!
//! The gateway API is the common shape of SMS providers: `POST {gateway}/messages` with
//! `{to, from, text, reference}`, a bearer token and an `Idempotency-Key` (the delivery's
//! id, so a send retried after a crash is one text), answered `{id}`. Later the gateway
//! posts a receipt to `/api/notifications/sms/receipts`, signed like every FitSync webhook
//! (`fitsync_platform::signature`, header `sms-signature`): the handset got it
//! (`delivered`) or never will (`undelivered`). A number receives alerts once its owner
//! typed back the code texted to it.
//!
//! `SimulatedSms` is the gateway for tests and `--target all`: it keeps what it was sent
//! (`GET /messages`), honours idempotency keys, can be told to fail, and sends the
//! receipts, signed with the key FitSync checks them with.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU32, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
    Json, Router,
};
use chrono::{DateTime, Utc};
use fitsync_platform::{config::SmsSettings, ApiError, ApiJson, AuthUser, FieldError};
use futures::future::BoxFuture;
use ring::{
    digest, hmac,
    rand::{SecureRandom, SystemRandom},
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{email::SendError, NotificationsState};

/// The header a receipt's signature travels in.
pub const SIGNATURE_HEADER: &str = "sms-signature";

/// How long a texted code is good for, and how many wrong tries it takes.
const CODE_MINUTES: i32 = 10;
const CODE_TRIES: i32 = 5;
/// At most one code per number (whichever account asks) and per account this often.
const CODE_INTERVAL_SECS: f64 = 30.0;

/// An SMS provider, as the notifications service needs one.
pub trait SmsProvider: Send + Sync {
    /// Hands `text` for `to` over; `reference` identifies it to the provider (its
    /// idempotency key, and what its receipt names). Answers the provider's id.
    fn send<'a>(
        &'a self,
        to: &'a str,
        text: &'a str,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<String, SendError>>;

    /// The receipt a webhook delivery carries, once its signature is verified.
    fn verify_receipt(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Receipt, String>;
}

/// What became of a text, as the gateway reports it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// The gateway's id for the message.
    pub message_id: String,
    /// The sender's reference (an alert delivery's id).
    pub reference: String,
    /// `delivered` or `undelivered`.
    pub status: String,
    #[serde(default)]
    pub error: Option<String>,
    pub at: DateTime<Utc>,
}

/// The webhook key: configured, or (for `--target all` only) one of this process's own.
pub fn webhook_key(s: &SmsSettings, may_generate: bool) -> anyhow::Result<hmac::Key> {
    use base64::Engine;
    let secret = match &s.webhook_secret {
        Some(k) => base64::engine::general_purpose::STANDARD
            .decode(k.expose_secret().trim())
            .map_err(|_| anyhow::anyhow!("sms.webhook_secret: not base64"))?,
        None if may_generate => {
            let mut k = vec![0u8; 32];
            SystemRandom::new()
                .fill(&mut k)
                .map_err(|_| anyhow::anyhow!("no randomness for an SMS webhook key"))?;
            k
        }
        None => anyhow::bail!("sms.webhook_secret is required outside --target all"),
    };
    anyhow::ensure!(secret.len() >= 32, "sms.webhook_secret: at least 32 bytes");
    Ok(hmac::Key::new(hmac::HMAC_SHA256, &secret))
}

/// A gateway speaking the API above.
pub struct HttpGateway {
    messages_url: String,
    api_key: Option<SecretString>,
    from: String,
    key: hmac::Key,
    tolerance_secs: i64,
    http: reqwest::Client,
}

impl HttpGateway {
    pub fn new(gateway_url: &str, settings: &SmsSettings, key: hmac::Key) -> anyhow::Result<Self> {
        Ok(Self {
            messages_url: format!("{}/messages", gateway_url.trim_end_matches('/')),
            api_key: settings.api_key.clone(),
            from: settings.from.clone(),
            key,
            tolerance_secs: settings.webhook_tolerance_secs,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Outgoing {
    to: String,
    from: String,
    text: String,
    reference: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Accepted {
    id: String,
}

impl SmsProvider for HttpGateway {
    fn send<'a>(
        &'a self,
        to: &'a str,
        text: &'a str,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<String, SendError>> {
        Box::pin(async move {
            let mut request = self
                .http
                .post(&self.messages_url)
                .header("idempotency-key", reference)
                .json(&Outgoing {
                    to: to.to_owned(),
                    from: self.from.clone(),
                    text: text.to_owned(),
                    reference: reference.to_owned(),
                });
            if let Some(k) = &self.api_key {
                request = request.bearer_auth(k.expose_secret());
            }
            let response = request
                .send()
                .await
                .map_err(|e| SendError::Transient(e.to_string()))?;
            let status = response.status();
            match status.as_u16() {
                200..=299 => response
                    .json::<Accepted>()
                    .await
                    .map(|a| a.id)
                    .map_err(|e| SendError::Transient(format!("an unreadable answer: {e}"))),
                429 | 500..=599 => Err(SendError::Transient(format!(
                    "SMS gateway answered {status}"
                ))),
                _ => Err(SendError::Permanent(format!(
                    "SMS gateway refused: {status} {}",
                    response.text().await.unwrap_or_default()
                ))),
            }
        })
    }

    fn verify_receipt(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Receipt, String> {
        fitsync_platform::signature::verify_header(
            &self.key,
            headers,
            SIGNATURE_HEADER,
            body,
            now.timestamp(),
            self.tolerance_secs,
        )?;
        let receipt: Receipt =
            serde_json::from_slice(body).map_err(|e| format!("an unreadable receipt: {e}"))?;
        if !matches!(receipt.status.as_str(), "delivered" | "undelivered")
            || receipt.message_id.contains('\0')
            || receipt.reference.contains('\0')
        {
            return Err("an unreadable receipt: status delivered or undelivered".into());
        }
        Ok(receipt)
    }
}

/// `POST /api/notifications/sms/receipts`: the gateway's signed receipt. Recorded on the
/// delivery it names (also if it overtakes the gateway's answer to the send; the same
/// receipt again changes nothing) and emitted; one about no delivery (a verification
/// code's) is acknowledged and dropped.
#[utoipa::path(
    post, path = "/api/notifications/sms/receipts", tag = "notifications",
    summary = "The SMS gateway's signed delivery receipt",
    request_body(content = String, content_type = "application/json", description = "The receipt, as signed"),
    params(("sms-signature" = String, Header, description = "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">")),
    responses(
        (status = 204, description = "Recorded (or about nothing FitSync tracks)"),
        (status = 400, description = "Unsigned, badly signed, too old, or unreadable", body = fitsync_platform::Problem),
        (status = 503, description = "SMS is not configured", body = fitsync_platform::Problem)
    )
)]
pub async fn receipt(
    State(state): State<NotificationsState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let provider = state.sms.as_ref().ok_or_else(not_configured)?;
    let receipt = provider
        .verify_receipt(&headers, &body, Utc::now())
        .map_err(ApiError::BadRequest)?;
    let Ok(delivery) = receipt.reference.parse::<Uuid>() else {
        return Ok(StatusCode::NO_CONTENT);
    };
    // Recorded and emitted together; the same receipt again changes nothing. Only for a
    // text handed to the gateway: claimed at least once (a receipt may come back before
    // the send is recorded, so `sending` counts; a never-attempted one does not).
    let mut tx = state.pool.begin().await?;
    let changed = sqlx::query!(
        "update alert_deliveries
         set receipt = $3, receipt_at = $4, last_error = coalesce($5, last_error),
             provider_ref = $2
         where id = $1 and channel = 'sms' and attempts > 0 and coalesce(provider_ref, $2) = $2
           and (receipt_at is null or (receipt_at < $4 and receipt is distinct from $3))
         returning notification_id, user_id, attempts",
        delivery,
        receipt.message_id,
        receipt.status,
        receipt.at,
        receipt.error
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(r) = changed {
        crate::delivery::emit(
            &mut tx,
            fitsync_events::AlertDeliveryChanged {
                delivery_id: delivery,
                notification_id: r.notification_id,
                user_id: r.user_id,
                channel: "sms".into(),
                status: receipt.status,
                attempts: r.attempts,
                error: receipt.error,
                at: receipt.at,
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's number for alert texts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneNumber {
    /// E.164, e.g. `+4915112345678`.
    #[schema(example = "+4915112345678", pattern = r"^\+[1-9][0-9]{6,14}$")]
    number: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Phone {
    number: String,
    /// Whether its owner typed back the texted code (only then do alerts go to it).
    verified: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneCode {
    #[schema(example = "482913")]
    code: String,
}

fn not_configured() -> ApiError {
    ApiError::Unavailable("SMS is not configured here".into())
}

fn e164(n: &str) -> bool {
    let digits = n.strip_prefix('+').unwrap_or("");
    (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

fn code_hash(user: Uuid, code: &str) -> Vec<u8> {
    digest::digest(&digest::SHA256, format!("{user}:{code}").as_bytes())
        .as_ref()
        .to_vec()
}

/// `PUT /api/notifications/phone`: the caller's number; texts it a code to confirm.
#[utoipa::path(
    put, path = "/api/notifications/phone", tag = "notifications",
    summary = "Set the caller's number for alert texts (a code is texted to confirm it)",
    request_body = PhoneNumber,
    responses(
        (status = 202, description = "Code sent; the number is unverified until it comes back", body = Phone),
        (status = 422, description = "Not an E.164 number", body = fitsync_platform::Problem),
        (status = 429, description = "A code was sent to this account or this number under 30 seconds ago", body = fitsync_platform::Problem),
        (status = 503, description = "SMS is not configured, or the gateway did not take the code", body = fitsync_platform::Problem)
    ),
    security(("bearer" = []))
)]
pub async fn put_phone(
    State(state): State<NotificationsState>,
    user: AuthUser,
    ApiJson(body): ApiJson<PhoneNumber>,
) -> Result<(StatusCode, Json<Phone>), ApiError> {
    if !e164(&body.number) {
        return Err(ApiError::Validation(vec![FieldError::new(
            "number",
            "must be E.164: + and 7 to 15 digits",
        )]));
    }
    let provider = state.sms.clone().ok_or_else(not_configured)?;
    let mut digits = [0u8; 4];
    SystemRandom::new()
        .fill(&mut digits)
        .map_err(|_| ApiError::Unavailable("no randomness for a code".into()))?;
    let code = format!("{:06}", u32::from_le_bytes(digits) % 1_000_000);
    // Also across accounts: nobody makes FitSync text a number more often.
    let texted_lately = sqlx::query_scalar!(
        r#"select exists(select 1 from phone_numbers
                         where number = $1 and user_id <> $2
                           and code_sent_at > now() - make_interval(secs => $3)) as "texted!""#,
        &body.number,
        user.id(),
        CODE_INTERVAL_SECS
    )
    .fetch_one(&state.pool)
    .await?;
    if texted_lately {
        return Err(ApiError::TooManyRequests);
    }
    let stored = sqlx::query_scalar!(
        "insert into phone_numbers (user_id, number, code_hash, code_expires_at, code_sent_at)
         values ($1, $2, $3, now() + make_interval(mins => $4), now())
         on conflict (user_id) do update set number = excluded.number, verified_at = null,
             code_hash = excluded.code_hash, code_expires_at = excluded.code_expires_at,
             code_attempts = 0, code_sent_at = now()
         where phone_numbers.code_sent_at < now() - make_interval(secs => $5)
         returning user_id",
        user.id(),
        &body.number,
        code_hash(user.id(), &code),
        CODE_MINUTES,
        CODE_INTERVAL_SECS
    )
    .fetch_optional(&state.pool)
    .await?;
    if stored.is_none() {
        return Err(ApiError::TooManyRequests);
    }
    let text = format!(
        "Your FitSync code is {code}. It confirms this number for alerts and expires in {CODE_MINUTES} minutes."
    );
    if let Err(e) = provider
        .send(&body.number, &text, &format!("verify:{}", Uuid::now_v7()))
        .await
    {
        tracing::warn!(error = %e, "the SMS gateway did not take a verification code");
        return Err(ApiError::Unavailable(
            "the SMS gateway did not take the code; try again".into(),
        ));
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(Phone {
            number: body.number,
            verified: false,
        }),
    ))
}

/// `POST /api/notifications/phone/verify`: the code texted to the caller's number.
#[utoipa::path(
    post, path = "/api/notifications/phone/verify", tag = "notifications",
    summary = "Confirm the caller's number with the texted code",
    request_body = PhoneCode,
    responses(
        (status = 200, description = "Verified", body = Phone),
        (status = 404, description = "No number set", body = fitsync_platform::Problem),
        (status = 422, description = "A wrong or expired code (after five wrong ones, ask for a new code)", body = fitsync_platform::Problem)
    ),
    security(("bearer" = []))
)]
pub async fn verify_phone(
    State(state): State<NotificationsState>,
    user: AuthUser,
    ApiJson(body): ApiJson<PhoneCode>,
) -> Result<Json<Phone>, ApiError> {
    let code = body.code.trim();
    let hash = code_hash(user.id(), code);
    let mut tx = state.pool.begin().await?;
    let row = sqlx::query!(
        r#"select number, verified_at is not null as "verified!",
                  code_hash = $2 and code_expires_at > now() and code_attempts < $3 as "matches!"
           from phone_numbers where user_id = $1 for update"#,
        user.id(),
        hash,
        CODE_TRIES
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ApiError::NotFound)?;
    if row.verified {
        return Ok(Json(Phone {
            number: row.number,
            verified: true,
        }));
    }
    if !row.matches || code.len() != 6 {
        sqlx::query!(
            "update phone_numbers set code_attempts = code_attempts + 1 where user_id = $1",
            user.id()
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        return Err(ApiError::Validation(vec![FieldError::new(
            "code",
            "is wrong or expired",
        )]));
    }
    sqlx::query!(
        "update phone_numbers set verified_at = now(), code_hash = null where user_id = $1",
        user.id()
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(Phone {
        number: row.number,
        verified: true,
    }))
}

/// `GET /api/notifications/phone`
#[utoipa::path(
    get, path = "/api/notifications/phone", tag = "notifications",
    summary = "The caller's number for alert texts",
    responses(
        (status = 200, description = "The number", body = Phone),
        (status = 404, description = "None set", body = fitsync_platform::Problem)
    ),
    security(("bearer" = []))
)]
pub async fn get_phone(
    State(state): State<NotificationsState>,
    user: AuthUser,
) -> Result<Json<Phone>, ApiError> {
    let row = sqlx::query!(
        r#"select number, verified_at is not null as "verified!" from phone_numbers where user_id = $1"#,
        user.id()
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(ApiError::NotFound)?;
    Ok(Json(Phone {
        number: row.number,
        verified: row.verified,
    }))
}

/// `DELETE /api/notifications/phone`: no more texts (queued ones are not sent).
#[utoipa::path(
    delete, path = "/api/notifications/phone", tag = "notifications",
    summary = "Remove the caller's number",
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "None set", body = fitsync_platform::Problem)
    ),
    security(("bearer" = []))
)]
pub async fn delete_phone(
    State(state): State<NotificationsState>,
    user: AuthUser,
) -> Result<StatusCode, ApiError> {
    let gone = sqlx::query!("delete from phone_numbers where user_id = $1", user.id())
        .execute(&state.pool)
        .await?
        .rows_affected();
    if gone == 0 {
        return Err(ApiError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// A message the simulated gateway took.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimulatedMessage {
    pub id: String,
    pub to: String,
    pub from: String,
    pub text: String,
    pub reference: String,
    pub received_at: DateTime<Utc>,
}

/// A local stand-in for an SMS provider.
pub struct SimulatedSms {
    key: hmac::Key,
    receipt_url: String,
    http: reqwest::Client,
    sent: Mutex<Vec<SimulatedMessage>>,
    by_key: Mutex<HashMap<String, String>>,
    /// The next this many sends are answered 503.
    failing: AtomicU32,
}

impl SimulatedSms {
    /// Receipts go to `receipt_url`, signed with `key`. Numbers starting `+1555` are
    /// handsets that are never reached: their receipts say `undelivered`.
    pub fn new(key: hmac::Key, receipt_url: &str) -> Arc<Self> {
        Arc::new(Self {
            key,
            receipt_url: receipt_url.to_owned(),
            http: reqwest::Client::new(),
            sent: Mutex::new(Vec::new()),
            by_key: Mutex::new(HashMap::new()),
            failing: AtomicU32::new(0),
        })
    }

    /// Everything taken so far, oldest first.
    pub fn messages(&self) -> Vec<SimulatedMessage> {
        self.sent.lock().expect("not poisoned").clone()
    }

    /// Answer the next `n` sends 503 (a gateway outage).
    pub fn fail_next(&self, n: u32) {
        self.failing.store(n, Ordering::SeqCst);
    }

    /// `POST /messages` and `GET /messages`, to serve at the gateway's base URL.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/messages", post(sim_send).get(sim_list))
            .with_state(self.clone())
    }
}

async fn sim_list(State(sim): State<Arc<SimulatedSms>>) -> Json<Vec<SimulatedMessage>> {
    Json(sim.messages())
}

async fn sim_send(
    State(sim): State<Arc<SimulatedSms>>,
    headers: HeaderMap,
    Json(m): Json<Outgoing>,
) -> Result<Json<Accepted>, (StatusCode, String)> {
    if sim
        .failing
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return Err((StatusCode::SERVICE_UNAVAILABLE, "simulated outage".into()));
    }
    if !e164(&m.to) {
        return Err((StatusCode::BAD_REQUEST, "not an E.164 number".into()));
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(k) = &key {
        if let Some(id) = sim.by_key.lock().expect("not poisoned").get(k) {
            return Ok(Json(Accepted { id: id.clone() }));
        }
    }
    let id = format!("sim_sms_{}", Uuid::now_v7().simple());
    if let Some(k) = key {
        sim.by_key
            .lock()
            .expect("not poisoned")
            .insert(k, id.clone());
    }
    let message = SimulatedMessage {
        id: id.clone(),
        to: m.to,
        from: m.from,
        text: m.text,
        reference: m.reference,
        received_at: Utc::now(),
    };
    sim.sent.lock().expect("not poisoned").push(message.clone());
    let receipt = Receipt {
        message_id: id.clone(),
        reference: message.reference,
        status: if message.to.starts_with("+1555") {
            "undelivered".into()
        } else {
            "delivered".into()
        },
        error: message
            .to
            .starts_with("+1555")
            .then(|| "handset unreachable".to_owned()),
        at: Utc::now(),
    };
    let sim2 = sim.clone();
    tokio::spawn(async move {
        let body = serde_json::to_vec(&receipt).unwrap_or_default();
        // A receipt the platform does not take is retried a few times, as providers do.
        for attempt in 0..5u32 {
            let signature =
                fitsync_platform::signature::sign(&sim2.key, &body, Utc::now().timestamp());
            let sent = sim2
                .http
                .post(&sim2.receipt_url)
                .header(SIGNATURE_HEADER, signature)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await;
            if matches!(&sent, Ok(r) if r.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
        }
        tracing::warn!("the simulated SMS gateway gave up on a receipt");
    });
    Ok(Json(Accepted { id }))
}

/// Where `--target all` serves the simulator when no gateway is configured.
pub const SIMULATOR_PATH: &str = "/simulator/sms";

/// The simulator's routes under `SIMULATOR_PATH`.
pub fn simulator_routes(sim: &Arc<SimulatedSms>) -> Router {
    Router::new().nest(SIMULATOR_PATH, sim.router())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_e164() {
        assert!(e164("+4915112345678"));
        assert!(e164("+1234567"));
        assert!(!e164("4915112345678"));
        assert!(!e164("+0151123456"));
        assert!(!e164("+49 151 1234"));
        assert!(!e164("+1234567890123456"));
        assert!(!e164("+123456"));
    }

    #[test]
    fn a_receipt_verifies_only_signed_with_the_key() {
        let settings = SmsSettings {
            gateway_url: None,
            api_key: None,
            webhook_secret: None,
            webhook_tolerance_secs: 300,
            from: "FitSync".into(),
        };
        let key = webhook_key(&settings, true).unwrap();
        let gateway = HttpGateway::new("http://127.0.0.1:9", &settings, key).unwrap();
        let body = br#"{"message_id":"m1","reference":"r1","status":"delivered","at":"2026-12-02T10:00:00Z"}"#;
        let now = Utc::now();
        let mut headers = HeaderMap::new();
        headers.insert(
            SIGNATURE_HEADER,
            fitsync_platform::signature::sign(&gateway.key, body, now.timestamp())
                .parse()
                .unwrap(),
        );
        let r = gateway.verify_receipt(&headers, body, now).unwrap();
        assert_eq!(
            (r.message_id.as_str(), r.status.as_str()),
            ("m1", "delivered")
        );
        let other = webhook_key(&settings, true).unwrap();
        headers.insert(
            SIGNATURE_HEADER,
            fitsync_platform::signature::sign(&other, body, now.timestamp())
                .parse()
                .unwrap(),
        );
        assert!(gateway.verify_receipt(&headers, body, now).is_err());
        assert!(gateway
            .verify_receipt(&HeaderMap::new(), body, now)
            .is_err());
    }
}
