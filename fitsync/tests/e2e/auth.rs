//! The token service: refresh rotation and reuse detection, logout, log out everywhere,
//! lockout and address throttling, service accounts, key rotation, discovery.

use base64::{engine::general_purpose::STANDARD, Engine};
use fitsync::Target;
use fitsync_platform::auth::generate_pem;
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::harness::{start_of_a_minute, Account, TestApp, TestEnv, PASSWORD};

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.grant(&[("grant_type", "refresh_token"), ("refresh_token", token)])
        .await
}

async fn me(app: &TestApp, token: &str) -> StatusCode {
    app.http
        .get(app.url("/api/users/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_its_family() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::Users]).await;
    let ana = app.register("client").await;
    let first = ana.refresh.clone().unwrap();

    let rotated: Value = refresh(&app, &first).await.json().await.unwrap();
    let second = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    assert_eq!(
        me(&app, rotated["access_token"].as_str().unwrap()).await,
        StatusCode::OK
    );

    // The spent token comes back (a thief's copy): refused, and the family dies with it.
    assert_eq!(
        refresh(&app, &first).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        refresh(&app, &second).await.status(),
        StatusCode::UNAUTHORIZED,
        "the family is revoked"
    );

    // Garbage and tampered tokens.
    for bad in [
        "",
        "nonsense",
        &format!("{}x", &second[..second.len() - 1]),
        "0123456789abcdef0123456789abcdef.AAAA",
    ] {
        assert_eq!(
            refresh(&app, bad).await.status(),
            StatusCode::UNAUTHORIZED,
            "{bad:?}"
        );
    }
    // A fresh sign-in starts a new family.
    let again: Value = app
        .sign_in(&ana.email, PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        refresh(&app, again["refresh_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::OK
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_and_logout_everywhere_revoke() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::Users]).await;
    let ana = app.register("client").await;
    let laptop: Value = app
        .sign_in(&ana.email, PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let laptop_access = laptop["access_token"].as_str().unwrap();

    // Logout ends this access token and this refresh family only.
    let out = app
        .http
        .post(app.url("/api/auth/logout"))
        .bearer_auth(&ana.token)
        .json(&json!({"refresh_token": ana.refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert_eq!(me(&app, &ana.token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        refresh(&app, ana.refresh.as_deref().unwrap())
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        me(&app, laptop_access).await,
        StatusCode::OK,
        "the other session lives on"
    );

    // Someone else's refresh token cannot be logged out by you.
    let bob = app.register("client").await;
    let other = app
        .http
        .post(app.url("/api/auth/logout"))
        .bearer_auth(laptop_access)
        .json(&json!({"refresh_token": bob.refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        refresh(&app, bob.refresh.as_deref().unwrap())
            .await
            .status(),
        StatusCode::OK
    );

    // Log out everywhere: every access and refresh token of the user, and no one else's.
    let phone: Value = app
        .sign_in(&ana.email, PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let all = app
        .http
        .post(app.url("/api/auth/logout-all"))
        .bearer_auth(laptop_access)
        .send()
        .await
        .unwrap();
    assert_eq!(all.status(), StatusCode::NO_CONTENT);
    assert_eq!(me(&app, laptop_access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        me(&app, phone["access_token"].as_str().unwrap()).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        refresh(&app, laptop["refresh_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        refresh(&app, phone["refresh_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(me(&app, &bob.token).await, StatusCode::OK);
    // Signing in again afterwards works at once.
    let fresh: Value = app
        .sign_in(&ana.email, PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        me(&app, fresh["access_token"].as_str().unwrap()).await,
        StatusCode::OK
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_lock_the_account_and_addresses_are_throttled() {
    let mut env = TestEnv::new().await;
    env.settings.auth.max_login_failures = 3;
    env.settings.auth.login_attempts_per_address_per_minute = 14;
    let app = env.start(&[Target::Users]).await;
    start_of_a_minute().await;
    let ana = app.register("client").await;

    for _ in 0..3 {
        assert_eq!(
            app.sign_in(&ana.email, "wrong password").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let locked = app.sign_in(&ana.email, PASSWORD).await;
    assert_eq!(
        locked.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "locked even with the right password"
    );
    assert_eq!(locked.headers()["content-type"], "application/problem+json");
    // An account that does not exist answers the same way, so lockout reveals nothing.
    for _ in 0..3 {
        assert_eq!(
            app.sign_in("ghost@example.com", "wrong password")
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        app.sign_in("ghost@example.com", "wrong password")
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );

    // 10 attempts so far from this address (each registration signs in once); the
    // budget is 14 a minute.
    let bob = app.register("client").await;
    for _ in 0..4 {
        assert_eq!(
            app.sign_in(&bob.email, PASSWORD).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(
        app.sign_in(&bob.email, PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_accounts_use_client_credentials() {
    let env = TestEnv::new().await;
    let app = env
        .start(&[Target::Users, Target::Training, Target::Progress])
        .await;
    let admin = app.admin(&env).await;
    let client = app.register("client").await;

    let create = |who: &Account, id: &str| {
        app.http
            .post(app.url("/api/auth/service-accounts"))
            .bearer_auth(&who.token)
            .json(&json!({"client_id": id}))
            .send()
    };
    assert_eq!(
        create(&client, "reporting").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        create(&admin, "Not Valid").await.unwrap().status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let created: Value = create(&admin, "reporting")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    assert_eq!(
        create(&admin, "reporting").await.unwrap().status(),
        StatusCode::CONFLICT
    );

    let post: Value = app
        .grant(&[
            ("grant_type", "client_credentials"),
            ("client_id", "reporting"),
            ("client_secret", secret),
        ])
        .await
        .json()
        .await
        .unwrap();
    assert!(
        post.get("refresh_token").is_none(),
        "no refresh token for a service"
    );
    let basic = app
        .http
        .post(app.url("/api/auth/token"))
        .header(
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("reporting:{secret}"))),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::OK);
    let wrong = app
        .grant(&[
            ("grant_type", "client_credentials"),
            ("client_id", "reporting"),
            ("client_secret", "guess"),
        ])
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    let service = Account {
        id: created["id"].as_str().unwrap().parse().unwrap(),
        email: String::new(),
        token: post["access_token"].as_str().unwrap().to_owned(),
        refresh: None,
    };
    let path = format!("/api/progress/{}/e1rm", client.id);
    assert_eq!(
        app.get(&service, &path).await.status(),
        StatusCode::OK,
        "services read across clients"
    );
    let set = json!({"exercise": "barbell-deadlift", "reps": 5, "weight_kg": 100});
    assert_eq!(
        app.log_set(&service, set).await.status(),
        StatusCode::FORBIDDEN,
        "but write nobody's log"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_without_downtime_and_discovery_names_them() {
    let mut env = TestEnv::new().await;
    let old = generate_pem().unwrap();
    let new = generate_pem().unwrap();
    env.settings.auth.signing_key_pem = Some(SecretString::from(old.clone()));
    let before = env.start(&[Target::Users]).await;
    let ana = before.register("client").await;
    before.stop().await;

    // Rotated: the new key signs, the old one still verifies.
    env.settings.auth.signing_key_pem = Some(SecretString::from(new.clone()));
    env.settings.auth.retired_keys_pem = vec![SecretString::from(old)];
    let during = env.start(&[Target::Users]).await;
    assert_eq!(me(&during, &ana.token).await, StatusCode::OK);
    let jwks: Value = during.public_json("/.well-known/jwks.json").await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    let discovery: Value = during
        .public_json("/.well-known/openid-configuration")
        .await;
    assert_eq!(
        discovery["issuer"],
        env.settings.auth.issuer.trim_end_matches('/')
    );
    assert!(discovery["jwks_uri"]
        .as_str()
        .unwrap()
        .ends_with("/.well-known/jwks.json"));
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        json!(["ES256"])
    );
    during.stop().await;

    // Retired key dropped: its tokens no longer verify (unknown kid).
    env.settings.auth.retired_keys_pem = vec![];
    let after = env.start(&[Target::Users]).await;
    assert_eq!(me(&after, &ana.token).await, StatusCode::UNAUTHORIZED);
    after.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_of_one_email_make_one_account() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::Users]).await;
    let attempts =
        (0..8).map(|i| {
            app.http
            .post(app.url("/api/auth/register"))
            .json(&json!({"email": if i % 2 == 0 { "Same@Example.com" } else { "same@example.com" },
                          "password": PASSWORD, "display_name": "Twin"}))
            .send()
        });
    let statuses: Vec<u16> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    assert!(
        statuses.iter().all(|s| *s == 202),
        "the same answer for all: {statuses:?}"
    );
    let n: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&env.users_db())
        .await
        .unwrap();
    assert_eq!(n, 1);
    let events: i64 =
        sqlx::query_scalar("select count(*) from outbox where topic = 'fitsync.users'")
            .fetch_one(&env.users_db())
            .await
            .unwrap();
    assert_eq!(events, 1, "one account, one event");
    app.stop().await;
}
