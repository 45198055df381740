//! Web push: RFC 8030 delivery of RFC 8291 (`aes128gcm`) encrypted messages, signed for
//! the push service with RFC 8292 VAPID; and each user's browser subscriptions.
//!
//! A browser subscribes with the application server key (`GET
//! /api/notifications/push/key`) and hands FitSync its `PushSubscription` (`POST
//! /api/notifications/push/subscriptions`): the push service's endpoint and the
//! browser's P-256 key and auth secret. Every message is encrypted to that key with a
//! fresh sender key and salt, so only that browser reads it; the push service sees the
//! VAPID claim (this server, for that service, until it expires) and a sealed body. An
//! endpoint the service no longer knows (404, 410) removes its subscription.
//! Endpoints must belong to a push service `[push] endpoint_origins` names: the server
//! posts to them, and must not be made to post anywhere else.

use std::sync::Arc;

use aes_gcm::{aead::AeadInPlace, Aes128Gcm, KeyInit, Nonce};
use axum::{extract::State, http::StatusCode, Json};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use chrono::{DateTime, Utc};
use fitsync_platform::{config::PushSettings, ApiError, ApiJson, ApiPath, AuthUser, FieldError};
use hkdf::Hkdf;
use p256::{
    ecdsa::{signature::Signer, Signature, SigningKey},
    elliptic_curve::sec1::ToEncodedPoint,
    PublicKey, SecretKey,
};
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{email::SendError, NotificationsState};

/// The record size the one record of a message declares (RFC 8188): a push message is
/// at most 4096 bytes, header included.
const RECORD_SIZE: u32 = 4096;
/// Header (salt 16, rs 4, idlen 1, key 65) and AEAD tag: what the plaintext may use of
/// the 4096 bytes, less its delimiter.
pub const MAX_PLAINTEXT: usize = RECORD_SIZE as usize - 86 - 16 - 1;

/// The application server's VAPID key pair.
pub struct Vapid {
    signing: SigningKey,
    public: Vec<u8>,
    subject: String,
}

impl Vapid {
    /// The key `[push]` configures, or (for `--target all` only, `may_generate`) one of
    /// this process's own: processes that each made their own would serve one key and sign
    /// with another.
    pub fn from_settings(s: &PushSettings, may_generate: bool) -> anyhow::Result<Self> {
        let secret = match &s.vapid_private_key {
            Some(k) => SecretKey::from_slice(
                &B64.decode(k.expose_secret().trim())
                    .map_err(|_| anyhow::anyhow!("push.vapid_private_key: not base64url"))?,
            )
            .map_err(|_| anyhow::anyhow!("push.vapid_private_key: not a P-256 private key"))?,
            None if may_generate => {
                tracing::warn!("push.vapid_private_key is unset: browsers' push subscriptions last until this process restarts");
                random_secret()?
            }
            None => anyhow::bail!("push.vapid_private_key is required outside --target all"),
        };
        Ok(Self::new(secret, &s.subject))
    }

    pub fn new(secret: SecretKey, subject: &str) -> Self {
        let public = secret
            .public_key()
            .to_encoded_point(false)
            .as_bytes()
            .to_vec();
        Self {
            signing: SigningKey::from(secret),
            public,
            subject: subject.to_owned(),
        }
    }

    /// The uncompressed public key, base64url: the browser's `applicationServerKey`.
    pub fn public_key(&self) -> String {
        B64.encode(&self.public)
    }

    /// The `Authorization` header for a request to `endpoint` (RFC 8292 §3): a JWT
    /// (ES256) for the endpoint's origin, valid 12 hours, and this key.
    pub fn authorization(&self, endpoint: &reqwest::Url, now: DateTime<Utc>) -> String {
        let header = B64.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = B64.encode(
            serde_json::json!({
                "aud": endpoint.origin().ascii_serialization(),
                "exp": (now + chrono::Duration::hours(12)).timestamp(),
                "sub": self.subject,
            })
            .to_string(),
        );
        let input = format!("{header}.{claims}");
        let signature: Signature = self.signing.sign(input.as_bytes());
        format!(
            "vapid t={input}.{}, k={}",
            B64.encode(signature.to_bytes()),
            self.public_key()
        )
    }
}

/// A new P-256 private key, `vapid_private_key`'s format.
pub fn generate_private_key() -> anyhow::Result<String> {
    Ok(B64.encode(random_secret()?.to_bytes()))
}

fn random_secret() -> anyhow::Result<SecretKey> {
    let rng = SystemRandom::new();
    loop {
        let mut bytes = [0u8; 32];
        rng.fill(&mut bytes)
            .map_err(|_| anyhow::anyhow!("no randomness"))?;
        // Out of range (zero or above the group order): about 2^-32; draw again.
        if let Ok(key) = SecretKey::from_slice(&bytes) {
            return Ok(key);
        }
    }
}

/// `plaintext` for the browser whose key is `ua_public` (uncompressed SEC1) and whose
/// auth secret is `auth`, from the sender key `as_secret` with `salt` (RFC 8291 §3-4):
/// the RFC 8188 header and one `aes128gcm` record.
pub fn encrypt(
    ua_public: &[u8],
    auth: &[u8],
    plaintext: &[u8],
    as_secret: &SecretKey,
    salt: &[u8; 16],
) -> Result<Vec<u8>, String> {
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(format!("a push payload over {MAX_PLAINTEXT} bytes"));
    }
    let ua = PublicKey::from_sec1_bytes(ua_public).map_err(|_| "not a P-256 public key")?;
    let as_public = as_secret.public_key().to_encoded_point(false);
    let shared = p256::ecdh::diffie_hellman(as_secret.to_nonzero_scalar(), ua.as_affine());
    // IKM = HKDF(salt = auth, ikm = ECDH, info = "WebPush: info\0" ‖ ua ‖ as, 32)
    let mut info = b"WebPush: info\0".to_vec();
    info.extend_from_slice(ua_public);
    info.extend_from_slice(as_public.as_bytes());
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(auth), shared.raw_secret_bytes())
        .expand(&info, &mut ikm)
        .map_err(|_| "HKDF length")?;
    let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
    let (mut cek, mut nonce) = ([0u8; 16], [0u8; 12]);
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
        .map_err(|_| "HKDF length")?;
    prk.expand(b"Content-Encoding: nonce\0", &mut nonce)
        .map_err(|_| "HKDF length")?;
    // One record, so it is the last: its delimiter is 2, and no padding follows.
    let mut record = plaintext.to_vec();
    record.push(2);
    Aes128Gcm::new_from_slice(&cek)
        .map_err(|_| "AES key length")?
        .encrypt_in_place(Nonce::from_slice(&nonce), b"", &mut record)
        .map_err(|_| "AES-GCM")?;
    let mut out = Vec::with_capacity(86 + record.len());
    out.extend_from_slice(salt);
    out.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    out.push(65);
    out.extend_from_slice(as_public.as_bytes());
    out.extend_from_slice(&record);
    Ok(out)
}

/// Whether `endpoint` belongs to one of `origins` (`scheme://host[:port]`, the host
/// possibly `*.`-prefixed).
pub fn allowed(endpoint: &reqwest::Url, origins: &[String]) -> bool {
    let Some(host) = endpoint.host_str() else {
        return false;
    };
    if !endpoint.username().is_empty() || endpoint.password().is_some() {
        return false;
    }
    origins.iter().any(|o| {
        let Some((scheme, rest)) = o.split_once("://") else {
            return false;
        };
        let (pattern, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().ok()),
            None => (rest, None),
        };
        let port_ok = match port {
            Some(p) => endpoint.port_or_known_default() == Some(p),
            None => endpoint.port().is_none(),
        };
        let host_ok = match pattern.strip_prefix("*.") {
            Some(domain) => host
                .strip_suffix(domain)
                .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
            None => host.eq_ignore_ascii_case(pattern),
        };
        endpoint.scheme() == scheme && port_ok && host_ok
    })
}

/// Sends encrypted messages to push services.
#[derive(Clone)]
pub struct PushSender {
    vapid: Arc<Vapid>,
    http: reqwest::Client,
    ttl_secs: u32,
    origins: Arc<[String]>,
}

/// Where one browser receives pushes.
pub struct Subscription {
    pub id: Uuid,
    pub endpoint: String,
    pub p256dh: Vec<u8>,
    pub auth: Vec<u8>,
}

impl PushSender {
    pub fn new(vapid: Arc<Vapid>, settings: &PushSettings) -> anyhow::Result<Self> {
        Ok(Self {
            vapid,
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            ttl_secs: settings.ttl_secs,
            origins: settings.endpoint_origins.clone().into(),
        })
    }

    /// Encrypts `payload` for `sub` and posts it. A push service that no longer knows the
    /// endpoint (404, 410) is `Gone`; 429 and 5xx are worth a retry; another refusal is
    /// permanent.
    pub async fn send(&self, sub: &Subscription, payload: &[u8]) -> Result<(), PushError> {
        let url = reqwest::Url::parse(&sub.endpoint)
            .map_err(|e| PushError::Send(SendError::Permanent(e.to_string())))?;
        let mut salt = [0u8; 16];
        SystemRandom::new()
            .fill(&mut salt)
            .map_err(|_| PushError::Send(SendError::Transient("no randomness".into())))?;
        let sender_key =
            random_secret().map_err(|e| PushError::Send(SendError::Transient(e.to_string())))?;
        let body = encrypt(&sub.p256dh, &sub.auth, payload, &sender_key, &salt)
            .map_err(|e| PushError::Send(SendError::Permanent(e)))?;
        let response = self
            .http
            .post(url.clone())
            .header("authorization", self.vapid.authorization(&url, Utc::now()))
            .header("content-encoding", "aes128gcm")
            .header("content-type", "application/octet-stream")
            .header("ttl", self.ttl_secs.to_string())
            .header("urgency", "normal")
            .body(body)
            .send()
            .await
            .map_err(|e| PushError::Send(SendError::Transient(e.to_string())))?;
        let status = response.status();
        match status.as_u16() {
            200..=299 => Ok(()),
            404 | 410 => Err(PushError::Gone),
            429 | 500..=599 => Err(PushError::Send(SendError::Transient(format!(
                "push service answered {status}"
            )))),
            _ => Err(PushError::Send(SendError::Permanent(format!(
                "push service answered {status}"
            )))),
        }
    }
}

#[derive(Debug)]
pub enum PushError {
    /// The subscription has expired or was withdrawn.
    Gone,
    Send(SendError),
}

/// The browser's `PushSubscription.toJSON()`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubscription {
    /// The push service's URL for this browser.
    #[schema(example = "https://fcm.googleapis.com/fcm/send/c1KrmpTuRm0")]
    endpoint: String,
    /// As the browser reports it (FitSync does not use it: a gone endpoint answers 410).
    #[serde(rename = "expirationTime", default)]
    #[schema(value_type = Option<i64>)]
    _expiration_time: Option<serde_json::Value>,
    keys: SubscriptionKeys,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionKeys {
    /// The browser's P-256 public key, uncompressed, base64url.
    p256dh: String,
    /// The browser's 16-byte auth secret, base64url.
    auth: String,
}

/// A browser that receives the caller's alerts.
#[derive(Debug, Serialize, ToSchema)]
pub struct PushSubscription {
    id: Uuid,
    /// The push service (the endpoint's origin; the full URL is a secret).
    service: String,
    created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationServerKey {
    /// For `pushManager.subscribe({applicationServerKey})`: P-256, uncompressed, base64url.
    public_key: String,
}

/// `GET /api/notifications/push/key`
#[utoipa::path(
    get, path = "/api/notifications/push/key", tag = "notifications",
    summary = "The VAPID application server key browsers subscribe with",
    responses((status = 200, description = "The key", body = ApplicationServerKey)),
    security(("bearer" = []))
)]
pub async fn key(
    State(state): State<NotificationsState>,
    _user: AuthUser,
) -> Json<ApplicationServerKey> {
    Json(ApplicationServerKey {
        public_key: state.push.vapid.public_key(),
    })
}

/// `POST /api/notifications/push/subscriptions`: the caller's browser. The same endpoint
/// again (a browser re-subscribing, or another user signing in on it) is the same
/// subscription, now the caller's.
#[utoipa::path(
    post, path = "/api/notifications/push/subscriptions", tag = "notifications",
    summary = "Receive alerts as web push in this browser",
    request_body = NewSubscription,
    responses(
        (status = 201, description = "Subscribed", body = PushSubscription),
        (status = 422, description = "Not a push service FitSync posts to, or keys that are not a browser's", body = fitsync_platform::Problem)
    ),
    security(("bearer" = []))
)]
pub async fn subscribe(
    State(state): State<NotificationsState>,
    user: AuthUser,
    ApiJson(body): ApiJson<NewSubscription>,
) -> Result<(StatusCode, Json<PushSubscription>), ApiError> {
    let mut errors = Vec::new();
    let endpoint = reqwest::Url::parse(&body.endpoint)
        .ok()
        .filter(|u| body.endpoint.len() <= 2048 && allowed(u, &state.push.origins));
    if endpoint.is_none() {
        errors.push(FieldError::new(
            "endpoint",
            "is not the URL of a push service FitSync delivers to",
        ));
    }
    let p256dh = B64
        .decode(body.keys.p256dh.trim_end_matches('='))
        .ok()
        .filter(|k| k.len() == 65 && PublicKey::from_sec1_bytes(k).is_ok());
    if p256dh.is_none() {
        errors.push(FieldError::new(
            "keys.p256dh",
            "must be an uncompressed P-256 public key, base64url",
        ));
    }
    let auth = B64
        .decode(body.keys.auth.trim_end_matches('='))
        .ok()
        .filter(|a| a.len() == 16);
    if auth.is_none() {
        errors.push(FieldError::new("keys.auth", "must be 16 bytes, base64url"));
    }
    let (Some(endpoint), Some(p256dh), Some(auth)) = (endpoint, p256dh, auth) else {
        return Err(ApiError::Validation(errors));
    };
    let row = sqlx::query!(
        "insert into push_subscriptions (id, user_id, endpoint, p256dh, auth)
         values ($1, $2, $3, $4, $5)
         on conflict (endpoint) do update set user_id = excluded.user_id,
             p256dh = excluded.p256dh, auth = excluded.auth, created_at = now()
         returning id, created_at",
        Uuid::now_v7(),
        user.id(),
        endpoint.as_str(),
        &p256dh,
        &auth
    )
    .fetch_one(&state.pool)
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(PushSubscription {
            id: row.id,
            service: endpoint.origin().ascii_serialization(),
            created_at: row.created_at,
        }),
    ))
}

/// `GET /api/notifications/push/subscriptions`: the caller's browsers.
#[utoipa::path(
    get, path = "/api/notifications/push/subscriptions", tag = "notifications",
    summary = "The caller's browsers that receive web push",
    responses((status = 200, description = "Newest first", body = Vec<PushSubscription>)),
    security(("bearer" = []))
)]
pub async fn subscriptions(
    State(state): State<NotificationsState>,
    user: AuthUser,
) -> Result<Json<Vec<PushSubscription>>, ApiError> {
    let rows = sqlx::query!(
        "select id, endpoint, created_at from push_subscriptions
         where user_id = $1 order by created_at desc, id desc",
        user.id()
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| PushSubscription {
                id: r.id,
                service: reqwest::Url::parse(&r.endpoint)
                    .map(|u| u.origin().ascii_serialization())
                    .unwrap_or_default(),
                created_at: r.created_at,
            })
            .collect(),
    ))
}

/// `DELETE /api/notifications/push/subscriptions/{id}`: one of the caller's (what is
/// not the caller's is not found).
#[utoipa::path(
    delete, path = "/api/notifications/push/subscriptions/{id}", tag = "notifications",
    summary = "Stop web push to one of the caller's browsers",
    params(("id" = Uuid, Path)),
    responses(
        (status = 204, description = "Unsubscribed"),
        (status = 404, description = "None of the caller's", body = fitsync_platform::Problem)
    ),
    security(("bearer" = []))
)]
pub async fn unsubscribe(
    State(state): State<NotificationsState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    let gone = sqlx::query!(
        "delete from push_subscriptions where id = $1 and user_id = $2",
        id,
        user.id()
    )
    .execute(&state.pool)
    .await?
    .rows_affected();
    if gone == 0 {
        return Err(ApiError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Vec<u8> {
        B64.decode(s).unwrap()
    }

    /// RFC 8291 Appendix A: the sender's key and salt fixed, the message must be the RFC's,
    /// byte for byte.
    #[test]
    fn encrypts_the_rfc_8291_example_exactly() {
        let as_secret =
            SecretKey::from_slice(&d("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw")).unwrap();
        assert_eq!(
            B64.encode(as_secret.public_key().to_encoded_point(false).as_bytes()),
            "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
        );
        let salt: [u8; 16] = d("DGv6ra1nlYgDCS1FRnbzlw").try_into().unwrap();
        let message = encrypt(
            &d("BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"),
            &d("BTBZMqHH6r4Tts7J_aSIgg"),
            b"When I grow up, I want to be a watermelon",
            &as_secret,
            &salt,
        )
        .unwrap();
        assert_eq!(
            B64.encode(message),
            "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
        );
    }

    #[test]
    fn a_vapid_header_verifies_with_its_key_for_the_endpoints_origin() {
        use p256::ecdsa::{signature::Verifier, VerifyingKey};
        let vapid = Vapid::new(random_secret().unwrap(), "mailto:ops@example.com");
        let url = reqwest::Url::parse("https://push.example.net:8443/sub/abc?x=1").unwrap();
        let now = Utc::now();
        let header = vapid.authorization(&url, now);
        let rest = header.strip_prefix("vapid t=").unwrap();
        let (jwt, k) = rest.split_once(", k=").unwrap();
        assert_eq!(k, vapid.public_key());
        let (input, signature) = jwt.rsplit_once('.').unwrap();
        let key = VerifyingKey::from_sec1_bytes(&d(k)).unwrap();
        let signature = Signature::from_slice(&d(signature)).unwrap();
        key.verify(input.as_bytes(), &signature).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&d(input.split_once('.').unwrap().1)).unwrap();
        assert_eq!(claims["aud"], "https://push.example.net:8443");
        assert_eq!(claims["sub"], "mailto:ops@example.com");
        assert_eq!(claims["exp"], now.timestamp() + 12 * 3600);
        // Another key's signature does not verify.
        let other = Vapid::new(random_secret().unwrap(), "mailto:ops@example.com");
        let key = VerifyingKey::from_sec1_bytes(&d(&other.public_key())).unwrap();
        assert!(key.verify(input.as_bytes(), &signature).is_err());
    }

    #[test]
    fn only_the_configured_push_services_are_allowed() {
        let origins = [
            "https://fcm.googleapis.com".to_owned(),
            "https://*.notify.windows.com".to_owned(),
            "http://127.0.0.1:4000".to_owned(),
        ];
        let ok = |u: &str| allowed(&reqwest::Url::parse(u).unwrap(), &origins);
        assert!(ok("https://fcm.googleapis.com/fcm/send/abc"));
        assert!(ok("https://wns2-db5p.notify.windows.com/w/?token=x"));
        assert!(ok("http://127.0.0.1:4000/push/1"));
        assert!(!ok("http://fcm.googleapis.com/fcm/send/abc"));
        assert!(!ok("https://fcm.googleapis.com.evil.example/x"));
        assert!(!ok("https://notify.windows.com/x"));
        assert!(!ok("https://evilnotify.windows.com/x"));
        assert!(!ok("https://fcm.googleapis.com:8443/x"));
        assert!(!ok("http://127.0.0.1:4001/push/1"));
        assert!(!ok("https://user:pw@fcm.googleapis.com/x"));
        assert!(!ok("http://169.254.169.254/latest"));
    }
}
