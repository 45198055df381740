//! Packages (`/api/packages`), buying them through a payment gateway (checkout, then the
//! gateway's signed webhook at `/api/payments/webhook`, replay-safe by event id), and a
//! client's credits (`/api/credits`). Payments are simulated: `SimulatedGateway` stands
//! in for a real provider behind the `PaymentGateway` interface, with hosted checkout
//! pages (`/simulator/checkouts/{ref}`, outside the API) that deliver signed webhooks
//! over HTTP as a provider would.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    routing::post,
    Json, Router,
};
use chrono::{DateTime, Duration, Utc};
use fitsync_events::{
    CloudEvent, PackagePurchased, PackageSaved, Topic, PACKAGE_PURCHASED_V1, PACKAGE_SAVED_V1,
};
use fitsync_platform::{outbox, ApiError, ApiJson, ApiPath, ApiQuery, AuthUser, FieldError};
use ring::hmac;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    access::may_book_with,
    credits::{self, Entry},
    ScheduleState, SOURCE,
};

/// A checkout started with a gateway: its reference and the page the client pays on.
#[derive(Debug, Clone)]
pub struct Checkout {
    pub reference: String,
    pub url: String,
}

/// What a verified webhook says about a checkout.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct GatewayEvent {
    /// The gateway's event id (deliveries of one event share it).
    pub id: String,
    /// `checkout.completed` or `checkout.failed`.
    #[serde(rename = "type")]
    pub kind: String,
    pub checkout: String,
    pub amount_cents: i64,
    pub currency: String,
}

/// A payment provider, as the schedule service needs one.
pub trait PaymentGateway: Send + Sync {
    fn name(&self) -> &'static str;
    fn checkout(&self, purchase: Uuid) -> Checkout;
    /// The event a webhook delivery carries, once its signature is verified.
    fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<GatewayEvent, String>;
}

/// The header a webhook's signature travels in: `t=<unix seconds>,v1=<hex HMAC-SHA256
/// of "<t>.<body>">` (the scheme Stripe and others use).
pub const SIGNATURE_HEADER: &str = "gateway-signature";

/// A local stand-in for a payment provider.
pub struct SimulatedGateway {
    key: hmac::Key,
    tolerance: Duration,
    public_url: String,
    webhook_url: String,
    http: reqwest::Client,
}

impl SimulatedGateway {
    /// The gateway `[schedule]` configures: its webhook key (without one, a key of this
    /// process's own, which only `--target all` may use), and where its webhooks go
    /// (default: `own_webhook`).
    pub fn from_settings(
        s: &fitsync_platform::config::ScheduleSettings,
        public_url: &str,
        own_webhook: &str,
        allow_generated: bool,
    ) -> anyhow::Result<Self> {
        use base64::Engine;
        use secrecy::ExposeSecret;
        anyhow::ensure!(
            s.payment_gateway == "simulated",
            "schedule.payment_gateway: only `simulated` exists"
        );
        let secret = match &s.webhook_secret {
            Some(key) => base64::engine::general_purpose::STANDARD
                .decode(key.expose_secret().trim())
                .map_err(|_| anyhow::anyhow!("schedule.webhook_secret: not base64"))?,
            None if allow_generated => {
                let mut key = vec![0u8; 32];
                ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
                    .map_err(|_| anyhow::anyhow!("no randomness for a webhook key"))?;
                key
            }
            None => anyhow::bail!("schedule.webhook_secret is required outside --target all"),
        };
        anyhow::ensure!(
            secret.len() >= 32,
            "schedule.webhook_secret: at least 32 bytes"
        );
        Ok(Self::new(
            &secret,
            s.webhook_tolerance_secs,
            public_url,
            s.webhook_url.as_deref().unwrap_or(own_webhook),
        ))
    }

    pub fn new(secret: &[u8], tolerance_secs: i64, public_url: &str, webhook_url: &str) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            tolerance: Duration::seconds(tolerance_secs),
            public_url: public_url.trim_end_matches('/').to_owned(),
            webhook_url: webhook_url.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// The signature header for `body` sent at `t`.
    pub fn sign(&self, body: &[u8], t: i64) -> String {
        fitsync_platform::signature::sign(&self.key, body, t)
    }

    /// What the hosted page does when the client pays (or the payment fails): the
    /// provider's webhook, signed, delivered over HTTP. Answers the webhook's status.
    async fn deliver(&self, event: &GatewayEvent) -> Result<u16, reqwest::Error> {
        let body = serde_json::to_vec(event).unwrap_or_default();
        let signature = self.sign(&body, Utc::now().timestamp());
        let response = self
            .http
            .post(&self.webhook_url)
            .header(SIGNATURE_HEADER, signature)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        Ok(response.status().as_u16())
    }
}

impl PaymentGateway for SimulatedGateway {
    fn name(&self) -> &'static str {
        "simulated"
    }

    fn checkout(&self, purchase: Uuid) -> Checkout {
        let reference = format!("sim_cs_{}", purchase.simple());
        Checkout {
            url: format!("{}/simulator/checkouts/{reference}", self.public_url),
            reference,
        }
    }

    fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<GatewayEvent, String> {
        fitsync_platform::signature::verify_header(
            &self.key,
            headers,
            SIGNATURE_HEADER,
            body,
            now.timestamp(),
            self.tolerance.num_seconds(),
        )?;
        let event: GatewayEvent =
            serde_json::from_slice(body).map_err(|e| format!("an unreadable event: {e}"))?;
        if event.id.contains('\0') || event.checkout.contains('\0') {
            return Err("an unreadable event: NUL in an identifier".into());
        }
        Ok(event)
    }
}

/// A package a trainer or a gym sells.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Package {
    id: Uuid,
    /// `trainer` or `gym`: its credits pay for this owner's session types.
    owner_kind: String,
    owner_id: Uuid,
    name: String,
    sessions: i32,
    validity_days: i32,
    price_cents: i64,
    currency: String,
    created_at: DateTime<Utc>,
}

/// A new package.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PackageRequest {
    #[schema(min_length = 1, max_length = 120)]
    name: String,
    /// Credits it gives.
    #[schema(minimum = 1, maximum = 1000)]
    sessions: i32,
    /// Days the credits stay valid once paid.
    #[schema(minimum = 1, maximum = 1095)]
    validity_days: i32,
    #[schema(minimum = 0, maximum = 100_000_000)]
    price_cents: i64,
    /// ISO 4217, e.g. `EUR`.
    #[schema(pattern = "^[A-Z]{3}$", example = "EUR")]
    currency: String,
}

/// `POST /api/packages`
#[utoipa::path(
    post, path = "/api/packages", tag = "schedule",
    summary = "Sell a package of session credits (trainers for themselves, gyms)",
    request_body = PackageRequest,
    responses((status = 201, description = "Created", body = Package)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn create(
    State(state): State<ScheduleState>,
    user: AuthUser,
    ApiJson(req): ApiJson<PackageRequest>,
) -> Result<(StatusCode, Json<Package>), ApiError> {
    let (owner_kind, owner_id) = crate::access::owner_of(&user)?;
    let mut errors = Vec::new();
    let name = req.name.trim().to_owned();
    if !crate::access::name_ok(&name) {
        errors.push(FieldError::new("name", "1 to 120 characters, no NUL"));
    }
    if !(1..=1000).contains(&req.sessions) {
        errors.push(FieldError::new("sessions", "1 to 1000"));
    }
    if !(1..=1095).contains(&req.validity_days) {
        errors.push(FieldError::new("validity_days", "1 to 1095"));
    }
    if !(0..=100_000_000).contains(&req.price_cents) {
        errors.push(FieldError::new("price_cents", "0 to 100000000"));
    }
    if req.currency.len() != 3 || !req.currency.bytes().all(|b| b.is_ascii_uppercase()) {
        errors.push(FieldError::new("currency", "an ISO 4217 code such as EUR"));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let mut tx = state.pool.begin().await?;
    let p = sqlx::query_as!(
        Package,
        "insert into packages (id, owner_kind, owner_id, name, sessions, validity_days, price_cents, currency)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         returning id, owner_kind, owner_id, name, sessions, validity_days, price_cents, currency, created_at",
        Uuid::now_v7(),
        owner_kind,
        owner_id,
        name,
        req.sessions,
        req.validity_days,
        req.price_cents,
        req.currency
    )
    .fetch_one(&mut *tx)
    .await?;
    let event = CloudEvent::new(
        SOURCE,
        PACKAGE_SAVED_V1,
        owner_id.to_string(),
        PackageSaved {
            package_id: p.id,
            owner_kind: p.owner_kind.clone(),
            owner_id,
            name: p.name.clone(),
            sessions: p.sessions,
            validity_days: p.validity_days,
            price_cents: p.price_cents,
            currency: p.currency.clone(),
        },
    );
    outbox::enqueue(&mut tx, Topic::Schedule, &event).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(p)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PackagesQuery {
    /// The trainer or gym that sells them.
    owner_id: Uuid,
}

/// `GET /api/packages?owner_id=`
#[utoipa::path(
    get, path = "/api/packages", tag = "schedule",
    summary = "The packages a trainer or a gym sells (anyone signed in)",
    params(PackagesQuery),
    responses((status = 200, description = "Packages", body = Vec<Package>)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn list(
    State(state): State<ScheduleState>,
    user: AuthUser,
    ApiQuery(q): ApiQuery<PackagesQuery>,
) -> Result<Json<Vec<Package>>, ApiError> {
    Ok(Json(
        sqlx::query_as!(
            Package,
            "select id, owner_kind, owner_id, name, sessions, validity_days, price_cents, currency, created_at
             from packages where owner_id = $1 order by price_cents, id",
            q.owner_id
        )
        .fetch_all(&state.pool)
        .await?,
    ))
}

/// A purchase and where to pay for it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckoutStarted {
    purchase_id: Uuid,
    /// `pending` until the gateway confirms the payment.
    status: String,
    /// The gateway's page the client pays on.
    checkout_url: String,
    price_cents: i64,
    currency: String,
}

/// `POST /api/packages/{id}/checkout`
#[utoipa::path(
    post, path = "/api/packages/{id}/checkout", tag = "schedule",
    summary = "Buy a package: a pending purchase and the gateway's checkout page (clients who may book with its seller)",
    params(("id" = Uuid, Path, description = "The package")),
    responses((status = 201, description = "Checkout started", body = CheckoutStarted), (status = 404, description = "No such package", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn checkout(
    State(state): State<ScheduleState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<(StatusCode, Json<CheckoutStarted>), ApiError> {
    let client = user.id();
    user.may_write_client(client)?;
    let p = sqlx::query_as!(
        Package,
        "select id, owner_kind, owner_id, name, sessions, validity_days, price_cents, currency, created_at
         from packages where id = $1",
        id
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(ApiError::NotFound)?;
    if !may_book_with(&state, client, p.owner_id, &p.owner_kind, p.owner_id).await? {
        return Err(ApiError::ForbiddenBecause(
            "only their clients and members buy a trainer's or a gym's packages",
        ));
    }
    let purchase = Uuid::now_v7();
    let started = state.gateway.checkout(purchase);
    sqlx::query!(
        "insert into purchases (id, package_id, client_id, owner_id, sessions, validity_days, price_cents,
                                currency, provider, provider_ref)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        purchase,
        p.id,
        client,
        p.owner_id,
        p.sessions,
        p.validity_days,
        p.price_cents,
        p.currency,
        state.gateway.name(),
        started.reference
    )
    .execute(&state.pool)
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CheckoutStarted {
            purchase_id: purchase,
            status: "pending".into(),
            checkout_url: started.url,
            price_cents: p.price_cents,
            currency: p.currency,
        }),
    ))
}

/// What the webhook did.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookOutcome {
    /// `paid`, `failed`, or `duplicate` (an event already handled: nothing changed).
    outcome: String,
}

/// `POST /api/payments/webhook`
#[utoipa::path(
    post, path = "/api/payments/webhook", tag = "schedule",
    summary = "The payment gateway's webhook: a signed event about a checkout; each event id counts once",
    request_body(content = String, content_type = "application/json", description = "The gateway's event, as signed"),
    params(("gateway-signature" = String, Header, description = "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">")),
    responses(
        (status = 200, description = "Handled (or already handled)", body = WebhookOutcome),
        (status = 400, description = "Unsigned, badly signed, too old, or unreadable", body = fitsync_platform::Problem),
        (status = 404, description = "No such checkout", body = fitsync_platform::Problem)
    )
)]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn webhook(
    State(state): State<ScheduleState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<WebhookOutcome>, ApiError> {
    let event = state
        .gateway
        .verify(&headers, &body, Utc::now())
        .map_err(|why| ApiError::BadRequest(format!("webhook refused: {why}")))?;
    let mut tx = state.pool.begin().await?;
    let first = sqlx::query_scalar!(
        "insert into payment_events (id) values ($1) on conflict (id) do nothing returning id",
        event.id
    )
    .fetch_optional(&mut *tx)
    .await?;
    if first.is_none() {
        return Ok(Json(WebhookOutcome {
            outcome: "duplicate".into(),
        }));
    }
    let purchase = sqlx::query!(
        "select p.id, p.package_id, p.client_id, p.owner_id, p.sessions, p.validity_days, p.price_cents,
                p.currency, p.status, k.owner_kind, k.name
         from purchases p join packages k on k.id = p.package_id
         where p.provider_ref = $1 for update of p",
        event.checkout
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ApiError::NotFound)?;
    if purchase.status != "pending" {
        // Another event about a settled checkout: recorded, nothing else.
        tx.commit().await?;
        return Ok(Json(WebhookOutcome {
            outcome: purchase.status,
        }));
    }
    let outcome = match event.kind.as_str() {
        "checkout.completed" => {
            if event.amount_cents != purchase.price_cents || event.currency != purchase.currency {
                return Err(ApiError::BadRequest(
                    "webhook refused: the amount paid is not the price".into(),
                ));
            }
            let now = Utc::now();
            let expires_at = now + Duration::days(purchase.validity_days.into());
            sqlx::query!(
                "update purchases set status = 'paid', paid_at = $2, expires_at = $3 where id = $1",
                purchase.id,
                now,
                expires_at
            )
            .execute(&mut *tx)
            .await?;
            credits::append(
                &mut tx,
                purchase.client_id,
                purchase.owner_id,
                purchase.id,
                None,
                Entry::Purchase,
                purchase.sessions,
            )
            .await?;
            let event = CloudEvent::new(
                SOURCE,
                PACKAGE_PURCHASED_V1,
                purchase.client_id.to_string(),
                PackagePurchased {
                    purchase_id: purchase.id,
                    package_id: purchase.package_id,
                    client_id: purchase.client_id,
                    owner_kind: purchase.owner_kind,
                    owner_id: purchase.owner_id,
                    name: purchase.name,
                    sessions: purchase.sessions,
                    price_cents: purchase.price_cents,
                    currency: purchase.currency,
                    paid_at: now,
                    expires_at,
                },
            );
            outbox::enqueue(&mut tx, Topic::Schedule, &event).await?;
            "paid"
        }
        "checkout.failed" => {
            sqlx::query!(
                "update purchases set status = 'failed' where id = $1",
                purchase.id
            )
            .execute(&mut *tx)
            .await?;
            "failed"
        }
        other => {
            return Err(ApiError::BadRequest(format!(
                "webhook refused: an unknown event type {other:?}"
            )))
        }
    };
    tx.commit().await?;
    Ok(Json(WebhookOutcome {
        outcome: outcome.into(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CreditsQuery {
    /// Whose credits (default: the caller's).
    client_id: Option<Uuid>,
}

/// Credits left in one paid purchase.
#[derive(Debug, Serialize, ToSchema)]
pub struct Lot {
    purchase_id: Uuid,
    package_id: Uuid,
    owner_id: Uuid,
    remaining: i64,
    expires_at: DateTime<Utc>,
}

/// A purchase and its state.
#[derive(Debug, Serialize, ToSchema)]
pub struct Purchase {
    id: Uuid,
    package_id: Uuid,
    owner_id: Uuid,
    sessions: i32,
    price_cents: i64,
    currency: String,
    /// `pending`, `paid` or `failed`.
    status: String,
    created_at: DateTime<Utc>,
    paid_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
}

/// One ledger entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerEntry {
    id: Uuid,
    owner_id: Uuid,
    purchase_id: Uuid,
    booking_id: Option<Uuid>,
    /// `purchase`, `consume`, `refund`, `forfeit` or `expire`.
    kind: String,
    amount: i32,
    created_at: DateTime<Utc>,
}

/// A client's balance per seller (the sum of the ledger), lots, purchases and ledger.
#[derive(Debug, Serialize, ToSchema)]
pub struct Credits {
    client_id: Uuid,
    balances: Vec<Balance>,
    lots: Vec<Lot>,
    purchases: Vec<Purchase>,
    /// Newest first, at most 500.
    ledger: Vec<LedgerEntry>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Balance {
    owner_id: Uuid,
    balance: i64,
}

/// `GET /api/credits`
#[utoipa::path(
    get, path = "/api/credits", tag = "schedule",
    summary = "A client's credits: balance per seller (the sum of the ledger), lots, purchases and the ledger (the client, their trainer, their gym, admins)",
    params(CreditsQuery),
    responses((status = 200, description = "Credits", body = Credits)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn credits(
    State(state): State<ScheduleState>,
    user: AuthUser,
    ApiQuery(q): ApiQuery<CreditsQuery>,
) -> Result<Json<Credits>, ApiError> {
    let client = q.client_id.unwrap_or(user.id());
    user.may_read_client(
        client,
        &fitsync_platform::auth::Grants::new(&state.pool, &state.auth),
    )
    .await?;
    let balances = sqlx::query_as!(
        Balance,
        r#"select owner_id, sum(amount)::bigint as "balance!" from credit_ledger
           where client_id = $1 group by owner_id order by owner_id"#,
        client
    )
    .fetch_all(&state.pool)
    .await?;
    let lots = sqlx::query_as!(
        Lot,
        r#"select p.id as purchase_id, p.package_id, p.owner_id,
                  (select coalesce(sum(amount), 0) from credit_ledger l where l.purchase_id = p.id)::bigint as "remaining!",
                  p.expires_at as "expires_at!"
           from purchases p where p.client_id = $1 and p.status = 'paid'
           order by p.expires_at, p.id"#,
        client
    )
    .fetch_all(&state.pool)
    .await?;
    let purchases = sqlx::query_as!(
        Purchase,
        "select id, package_id, owner_id, sessions, price_cents, currency, status, created_at, paid_at, expires_at
         from purchases where client_id = $1 order by created_at desc limit 200",
        client
    )
    .fetch_all(&state.pool)
    .await?;
    let ledger = sqlx::query_as!(
        LedgerEntry,
        "select id, owner_id, purchase_id, booking_id, kind, amount, created_at from credit_ledger
         where client_id = $1 order by created_at desc, id desc limit 500",
        client
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(Credits {
        client_id: client,
        balances,
        lots,
        purchases,
        ledger,
    }))
}

#[derive(Debug, Deserialize)]
pub struct PayQuery {
    /// `paid` (default) or `failed`.
    #[serde(default)]
    outcome: Option<String>,
}

/// The simulated gateway's hosted checkout page, as an endpoint: "pay" (or fail) a
/// checkout, which delivers the gateway's signed webhook. Not part of the API.
pub fn simulator(gateway: Arc<SimulatedGateway>, pool: sqlx::PgPool) -> Router {
    Router::new()
        .route("/simulator/checkouts/{reference}/pay", post(pay))
        .with_state((gateway, pool))
}

async fn pay(
    State((gateway, pool)): State<(Arc<SimulatedGateway>, sqlx::PgPool)>,
    Path(reference): Path<String>,
    Query(q): Query<PayQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let purchase = sqlx::query!(
        "select price_cents, currency from purchases where provider_ref = $1",
        reference
    )
    .fetch_optional(&pool)
    .await?
    .ok_or(ApiError::NotFound)?;
    let kind = match q.outcome.as_deref() {
        None | Some("paid") => "checkout.completed",
        Some("failed") => "checkout.failed",
        Some(_) => return Err(ApiError::field("outcome", "paid or failed")),
    };
    let event = GatewayEvent {
        id: format!("evt_{}", Uuid::now_v7().simple()),
        kind: kind.into(),
        checkout: reference,
        amount_cents: purchase.price_cents,
        currency: purchase.currency,
    };
    let status = gateway
        .deliver(&event)
        .await
        .map_err(|e| ApiError::Unavailable(format!("the webhook could not be delivered: {e}")))?;
    Ok(Json(
        serde_json::json!({"event": event, "webhook_status": status}),
    ))
}
