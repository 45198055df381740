//! Account takeover and abuse, tried as an attacker would: links from unverified
//! accounts, reset floods, lockout collisions and races, reset tokens that outlive a
//! reset or travel in the clear, endless refresh, unlimited resends, service accounts
//! that cannot be switched off.

use std::time::Duration;

use fitsync::Target;
use futures::future::join_all;
use rdkafka::Message;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::{
    harness::{eventually, start_of_a_minute, token_in, Account, TestApp, TestEnv, PASSWORD},
    matrix::train,
};

async fn post(app: &TestApp, who: &Account, path: &str, body: Value) -> reqwest::Response {
    app.http
        .post(app.url(path))
        .bearer_auth(&who.token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn hashes(app: &TestApp) -> f64 {
    let text = app.metrics_with("fitsync_password_hashes_total", 10).await;
    text.lines()
        .filter(|l| l.starts_with("fitsync_password_hashes_total{operation=\"hash\"}"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unverified_accounts_cannot_link_and_a_recovery_ends_links_made_before() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let trainer = app.register("trainer").await;
    let unverified = app.register_unverified("client").await;

    // An unverified account can neither accept nor ask for a link.
    let invite = post(
        &app,
        &trainer,
        "/api/users/relationships",
        json!({"client_id": unverified.id}),
    )
    .await;
    assert_eq!(invite.status(), 201, "inviting is harmless");
    let id = invite.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let accept = post(
        &app,
        &unverified,
        &format!("/api/users/relationships/{id}/accept"),
        json!({}),
    )
    .await;
    assert_eq!(accept.status(), 403);
    let problem: Value = accept.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("verify"),
        "{problem}"
    );
    let ask = post(
        &app,
        &unverified,
        "/api/users/relationships",
        json!({"trainer_id": trainer.id}),
    )
    .await;
    assert_eq!(ask.status(), 403);
    let owner = app.register_unverified("gym").await;
    assert_eq!(
        post(&app, &owner, "/api/gyms", json!({"name": "Not Yet"}))
            .await
            .status(),
        403
    );
    let gym_owner = app.register("gym").await;
    let gym: Value = post(&app, &gym_owner, "/api/gyms", json!({"name": "Real Gym"}))
        .await
        .json()
        .await
        .unwrap();
    let gym_owner = crate::matrix::refreshed(&app, gym_owner).await;
    let invitation: Value = post(
        &app,
        &gym_owner,
        &format!("/api/gyms/{}/invitations", gym["id"].as_str().unwrap()),
        json!({"email": unverified.email, "role": "client"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let join = post(
        &app,
        &unverified,
        &format!(
            "/api/gyms/invitations/{}/accept",
            invitation["id"].as_str().unwrap()
        ),
        json!({}),
    )
    .await;
    assert_eq!(join.status(), 403);

    // The attack as it was possible before: an attacker registered the victim's address
    // and linked it to a trainer (the link is made here with the address briefly marked
    // verified, then unmarked, as an account from before this rule would be).
    let users = env.users_db();
    let victim = app.register_unverified("client").await;
    let mark = |verified: bool| {
        let users = users.clone();
        let id = victim.id;
        async move {
            sqlx::query(
                "update users set email_verified_at = case when $2 then now() end where id = $1",
            )
            .bind(id)
            .bind(verified)
            .execute(&users)
            .await
            .unwrap();
        }
    };
    mark(true).await;
    let link = train(&app, &trainer, &victim).await;
    mark(false).await;
    let sets = format!("/api/workouts/sets?client_id={}", victim.id);
    eventually(60, "the attacker's trainer to have access", || async {
        (app.get(&trainer, &sets).await.status() == 200).then_some(())
    })
    .await;

    // The real owner recovers the account by email: the link ends, and with it access.
    let reset = app
        .http
        .post(app.url("/api/auth/password-reset"))
        .json(&json!({"email": victim.email}))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 202);
    let email = TestEnv::email_to(&victim.email, "Reset your FitSync password").await;
    let confirm = app
        .http
        .post(app.url("/api/auth/password-reset/confirm"))
        .json(&json!({"token": token_in(&email, "/reset-password"), "password": "the owner's own password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(confirm.status(), 204);
    assert_eq!(
        app.get(&trainer, &sets).await.status(),
        403,
        "the link made before verification ended at once"
    );
    let status: String = sqlx::query_scalar("select status from trainer_clients where id = $1")
        .bind(link)
        .fetch_one(&users)
        .await
        .unwrap();
    assert_eq!(status, "ended");
    assert_eq!(
        app.get(&victim, "/api/users/me").await.status(),
        401,
        "the attacker's session ended"
    );
    // A verified account's links survive a reset (the positive control).
    let client = app.register("client").await;
    train(&app, &trainer, &client).await;
    let reset = app
        .http
        .post(app.url("/api/auth/password-reset"))
        .json(&json!({"email": client.email}))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 202);
    let email = TestEnv::email_to(&client.email, "Reset your FitSync password").await;
    let confirm = app
        .http
        .post(app.url("/api/auth/password-reset/confirm"))
        .json(&json!({"token": token_in(&email, "/reset-password"), "password": "a new password here"}))
        .send()
        .await
        .unwrap();
    assert_eq!(confirm.status(), 204);
    let open: i64 = sqlx::query_scalar(
        "select count(*) from trainer_clients where client_id = $1 and status = 'active'",
    )
    .bind(client.id)
    .fetch_one(&users)
    .await
    .unwrap();
    assert_eq!(open, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_confirmations_check_the_token_before_hashing_and_are_throttled() {
    let env = TestEnv::new().await;
    // A process of its own: its Argon2 counter moves only with its own requests.
    let (_process, app) = env
        .spawn_app(
            "users",
            &[("FITSYNC__AUTH__LOGIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE", "8")],
        )
        .await;
    let confirm = || {
        app.http
            .post(app.url("/api/auth/password-reset/confirm"))
            .json(&json!({"token": "not-a-token-at-all-not-a-token-at-all", "password": "a long enough password"}))
            .send()
    };
    // The positive control: a registration hashes (the counter moves).
    let before_registration = hashes(&app).await;
    app.register("client").await;
    let before = hashes(&app).await;
    assert!(
        before > before_registration,
        "registering hashes a password"
    );

    start_of_a_minute().await;
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(confirm().await.unwrap().status());
    }
    assert_eq!(
        hashes(&app).await,
        before,
        "invalid tokens cost no Argon2 run"
    );
    assert!(
        statuses[..8].iter().all(|s| *s == StatusCode::NOT_FOUND),
        "{statuses:?}"
    );
    assert_eq!(
        &statuses[8..],
        &[StatusCode::TOO_MANY_REQUESTS; 2],
        "the 9th and 10th: {statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockout_counters_do_not_collide_or_race_and_names_are_bounded() {
    let mut env = TestEnv::new().await;
    env.settings.auth.max_login_failures = 5;
    env.settings.auth.login_attempts_per_address_per_minute = 1000;
    let app = env.start(&[Target::Users]).await;
    let victim = app.register("client").await;

    // 20 wrong guesses at once: each takes its slot before the password is checked, so
    // at most 5 are checked at all.
    let wrong: Vec<String> = (0..20).map(|i| format!("wrong guess {i}")).collect();
    let guesses = wrong.iter().map(|w| app.sign_in(&victim.email, w));
    let statuses: Vec<StatusCode> = join_all(guesses)
        .await
        .into_iter()
        .map(|r| r.status())
        .collect();
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((checked, refused), (5, 15), "{statuses:?}");
    assert_eq!(
        app.sign_in(&victim.email, PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "locked, even with the right password"
    );

    // A user name that spells a service account's counter key locks no service account.
    let admin = app.admin(&env).await;
    let created: Value = post(
        &app,
        &admin,
        "/api/auth/service-accounts",
        json!({"client_id": "reports-job"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let mut spelled = Vec::new();
    for _ in 0..6 {
        spelled.push(
            app.sign_in("client:reports-job", "whatever it is")
                .await
                .status(),
        );
    }
    // The positive control: that name's own counter counted its failures and locked it.
    assert_eq!(spelled[5], StatusCode::TOO_MANY_REQUESTS, "{spelled:?}");
    let token = app
        .grant(&[
            ("grant_type", "client_credentials"),
            ("client_id", "reports-job"),
            ("client_secret", created["client_secret"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(token.status(), StatusCode::OK);

    // Names longer than any valid one never become keys.
    let long = "x".repeat(10_000);
    assert_eq!(
        app.sign_in(&long, "whatever it is").await.status(),
        StatusCode::BAD_REQUEST
    );
    let long_client = app
        .grant(&[
            ("grant_type", "client_credentials"),
            ("client_id", &long),
            ("client_secret", "whatever"),
        ])
        .await;
    assert_eq!(long_client.status(), StatusCode::BAD_REQUEST);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_tokens_die_with_a_reset_and_never_travel_in_the_clear() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let ana = app.register("client").await;
    let ask = || {
        app.http
            .post(app.url("/api/auth/password-reset"))
            .json(&json!({"email": ana.email}))
            .send()
    };
    assert_eq!(ask().await.unwrap().status(), 202);
    let first = TestEnv::email_to(&ana.email, "Reset your FitSync password").await;
    let first = token_in(&first, "/reset-password");
    assert_eq!(ask().await.unwrap().status(), 202);
    let second = eventually(60, "a second reset email", || async {
        crate::harness::emails_to_now(&ana.email)
            .iter()
            .filter(|e| e.contains("Reset your FitSync password"))
            .map(|e| token_in(e, "/reset-password"))
            .find(|t| *t != first)
    })
    .await;

    let confirm = |token: String, password: &'static str| {
        app.http
            .post(app.url("/api/auth/password-reset/confirm"))
            .json(&json!({"token": token, "password": password}))
            .send()
    };
    assert_eq!(
        confirm(second.clone(), "the newest password")
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        confirm(first.clone(), "an older link's password")
            .await
            .unwrap()
            .status(),
        404,
        "the other outstanding link died with the reset"
    );

    // Neither token is anywhere on the stream: not in Kafka, not left in the outbox.
    let messages = env.read_topic(&env.topic("fitsync.notifications"), 3).await;
    assert!(messages.len() >= 3, "the requests are on the stream");
    for m in &messages {
        let text = String::from_utf8_lossy(m.payload().unwrap());
        for token in [&first, &second] {
            assert!(
                !text.contains(token.as_str()),
                "a token in the clear: {text}"
            );
        }
        assert!(text.contains("sealed_token"), "{text}");
    }
    let left: i64 = sqlx::query_scalar("select count(*) from outbox")
        .fetch_one(&env.users_db())
        .await
        .unwrap();
    assert_eq!(left, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_ends_at_its_absolute_lifetime_and_is_throttled() {
    let mut env = TestEnv::new().await;
    env.settings.auth.refresh_token_max_lifetime_secs = 3;
    env.settings.auth.login_attempts_per_address_per_minute = 10;
    let app = env.start(&[Target::Users]).await;
    let ana = app.register("client").await;
    let signed_in = tokio::time::Instant::now();
    let client = &app;
    let refresh = |token: String| async move {
        client
            .grant(&[("grant_type", "refresh_token"), ("refresh_token", &token)])
            .await
    };
    let rotated: Value = refresh(ana.refresh.clone().unwrap())
        .await
        .json()
        .await
        .unwrap();
    let token = rotated["refresh_token"]
        .as_str()
        .expect("rotation works")
        .to_owned();
    // Not a synchronisation: the lifetime is time itself.
    tokio::time::sleep_until(signed_in + Duration::from_secs(4)).await;
    assert_eq!(
        refresh(token).await.status(),
        StatusCode::UNAUTHORIZED,
        "rotation does not extend a session past its lifetime"
    );

    // Twelve attempts within one minute against a budget of ten per minute: whatever
    // the earlier requests of this minute were, the last ones are refused.
    start_of_a_minute().await;
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(
            refresh("0123456789abcdef0123456789abcdef.nope".into())
                .await
                .status(),
        );
    }
    assert_eq!(statuses[0], StatusCode::UNAUTHORIZED, "{statuses:?}");
    assert_eq!(
        &statuses[10..],
        &[StatusCode::TOO_MANY_REQUESTS; 2],
        "refresh attempts are throttled: {statuses:?}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_resends_are_limited() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::Users]).await;
    let ana = app.register_unverified("client").await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            post(&app, &ana, "/api/auth/verify-email/request", json!({}))
                .await
                .status(),
        );
    }
    assert_eq!(&statuses[..5], &[StatusCode::ACCEPTED; 5], "{statuses:?}");
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_accounts_can_be_disabled_and_their_tokens_stop_at_once() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::Users, Target::Progress]).await;
    let admin = app.admin(&env).await;
    let client = app.register("client").await;
    let created: Value = post(
        &app,
        &admin,
        "/api/auth/service-accounts",
        json!({"client_id": "exporter"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    let credentials = [
        ("grant_type", "client_credentials"),
        ("client_id", "exporter"),
        ("client_secret", secret.as_str()),
    ];
    let body: Value = app.grant(&credentials).await.json().await.unwrap();
    let service = Account {
        id: id.parse().unwrap(),
        email: String::new(),
        token: body["access_token"].as_str().unwrap().to_owned(),
        refresh: None,
    };
    let read = format!("/api/progress/{}/e1rm", client.id);
    assert_eq!(app.get(&service, &read).await.status(), 200);

    let path = format!("/api/auth/service-accounts/{id}/disable");
    assert_eq!(post(&app, &client, &path, json!({})).await.status(), 403);
    let disabled = post(&app, &admin, &path, json!({})).await;
    assert_eq!(disabled.status(), 200);
    let disabled: Value = disabled.json().await.unwrap();
    assert!(disabled["disabled_at"].is_string(), "{disabled}");
    assert_eq!(
        app.get(&service, &read).await.status(),
        401,
        "its token stopped"
    );
    assert_eq!(app.grant(&credentials).await.status(), 401, "no new token");
    let listed: Value = app
        .get(&admin, "/api/auth/service-accounts")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["client_id"], "exporter");
    assert!(listed[0]["disabled_at"].is_string());
    app.stop().await;
}
