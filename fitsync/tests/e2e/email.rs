//! Email verification and password reset, delivered by the notifications service over
//! a real SMTP server (aiosmtpd into a Maildir, started by scripts/stack.sh).

use fitsync::Target;
use opensearch::{http::transport::Transport, OpenSearch, SearchParts};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{decoded, eventually, token_in, TestEnv, PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_account_verifies_its_address_by_email() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let ana = app.register_unverified("client").await;
    let me: Value = app.get(&ana, "/api/users/me").await.json().await.unwrap();
    assert_eq!(me["email_verified"], false);

    let email = TestEnv::email_to(&ana.email, "Confirm your FitSync email").await;
    assert!(
        email.contains("Subject: Confirm your FitSync email address"),
        "{email}"
    );
    let token = token_in(&email, "/verify-email");
    assert!(token.len() >= 40, "{token}");

    let verify = |as_who: &str, token: String| {
        app.http
            .post(app.url("/api/auth/verify-email"))
            .bearer_auth(as_who)
            .json(&json!({"token": token}))
            .send()
    };
    assert_eq!(
        verify(&ana.token, "forged-token-value-that-is-long-enough".into())
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    // Holding the mailbox is not enough: another account cannot spend ana's token, and
    // neither can a caller without a session.
    let mallory = app.register_unverified("client").await;
    assert_eq!(
        verify(&mallory.token, token.clone())
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    let anonymous = app
        .http
        .post(app.url("/api/auth/verify-email"))
        .json(&json!({"token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        verify(&ana.token, token.clone()).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        verify(&ana.token, token).await.unwrap().status(),
        StatusCode::NOT_FOUND,
        "single use"
    );
    let me: Value = app.get(&ana, "/api/users/me").await.json().await.unwrap();
    assert_eq!(me["email_verified"], true);
    let again = app
        .http
        .post(app.url("/api/auth/verify-email/request"))
        .bearer_auth(&ana.token)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);

    // The delivery is on record, visible to its recipient and admins only.
    let deliveries: Value = eventually(30, "the delivery record", || async {
        let body: Value = app
            .get(&ana, "/api/notifications/deliveries")
            .await
            .json()
            .await
            .ok()?;
        (body.as_array()?.len() == 1).then_some(body)
    })
    .await;
    assert_eq!(deliveries[0]["status"], "sent");
    assert_eq!(deliveries[0]["template"], "verify_email");
    let bob = app.register("client").await;
    let peek = app
        .get(
            &bob,
            &format!("/api/notifications/deliveries?user_id={}", ana.id),
        )
        .await;
    assert_eq!(peek.status(), StatusCode::FORBIDDEN);

    // Tokens travel on fitsync.notifications, which is not indexed for search. The
    // positive control: ana's registration, published before her email request, is.
    let search = OpenSearch::new(Transport::single_node(&env.settings.opensearch.url).unwrap());
    let index = format!("{}events", env.settings.opensearch.index_prefix);
    let subject = ana.id.to_string();
    eventually(60, "the registration indexed", || async {
        let body: Value = search
            .search(SearchParts::Index(&[&index]))
            .body(json!({"query": {"bool": {"filter": [
                {"term": {"type": "fitsync.user.registered.v1"}},
                {"term": {"subject": subject}}]}}}))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (body["hits"]["total"]["value"].as_u64()? == 1).then_some(())
    })
    .await;
    let hits: Value = search
        .search(SearchParts::Index(&[&index]))
        .body(json!({"query": {"term": {"type": "fitsync.notification.email_requested.v2"}}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(hits["hits"]["total"]["value"], 0, "{hits}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_reset_by_email_ends_every_session() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let ana = app.register("client").await;
    let ghost = format!("ghost-{}@example.com", uuid::Uuid::new_v4().simple());

    // The same answer whether or not the address has an account.
    for address in [&ana.email, &ghost] {
        let r = app
            .http
            .post(app.url("/api/auth/password-reset"))
            .json(&json!({"email": address}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
    }
    let email = TestEnv::email_to(&ana.email, "Reset your FitSync password").await;

    // Registering a taken address answers like any registration; the owner is told.
    let again = app
        .http
        .post(app.url("/api/auth/register"))
        .json(&json!({"email": ana.email, "password": "someone else's password", "display_name": "Mallory"}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    let warning = TestEnv::email_to(&ana.email, "Subject: Your FitSync account").await;
    assert!(decoded(&warning).contains("already has one"));
    assert_eq!(
        app.sign_in(&ana.email, "someone else's password")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let token = token_in(&email, "/reset-password");

    let confirm = |token: &str, password: &str| {
        app.http
            .post(app.url("/api/auth/password-reset/confirm"))
            .json(&json!({"token": token, "password": password}))
            .send()
    };
    assert_eq!(
        confirm(&token, "short").await.unwrap().status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        confirm(&token, "a brand new password")
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        confirm(&token, "another new password")
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND,
        "single use"
    );

    assert_eq!(
        app.sign_in(&ana.email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.sign_in(&ana.email, "a brand new password")
            .await
            .status(),
        StatusCode::OK
    );
    let me = app
        .http
        .get(app.url("/api/users/me"))
        .bearer_auth(&ana.token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.status(),
        StatusCode::UNAUTHORIZED,
        "sessions from before the reset end"
    );
    let refreshed = app
        .grant(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", ana.refresh.as_deref().unwrap()),
        ])
        .await;
    assert_eq!(refreshed.status(), StatusCode::UNAUTHORIZED);

    // Nothing was asked for, or sent to, the address without an account; ana's requests
    // (made in the same loop) are the positive control.
    let requests = env.read_topic(&env.topic("fitsync.notifications"), 2).await;
    let mentions = |who: &str| {
        requests
            .iter()
            .filter(|m| {
                String::from_utf8_lossy(rdkafka::Message::payload(*m).unwrap()).contains(who)
            })
            .count()
    };
    assert!(
        mentions(&ana.email) >= 2,
        "ana's requests are on the stream"
    );
    assert_eq!(mentions(&ghost), 0);
    let dir = TestEnv::maildir().join("new");
    let to_ghost = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read_to_string(e.path())
                .unwrap_or_default()
                .contains(&ghost)
        })
        .count();
    assert_eq!(to_ghost, 0);
    let recorded: i64 = sqlx::query_scalar("select count(*) from deliveries where address = $1")
        .bind(&ghost)
        .fetch_one(&env.notifications_db())
        .await
        .unwrap();
    assert_eq!(recorded, 0);
    app.stop().await;
}

/// The `Message-ID` header of a raw message.
fn message_id(raw: &str) -> Option<String> {
    raw.lines()
        .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
        .map(|l| l["message-id:".len()..].trim().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_killed_between_sending_and_recording_resends_once_with_the_same_message_id() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::Users, Target::Relay]).await;
    // Two verification emails wait on the stream before any sender runs.
    let ana = app.register_unverified("client").await;
    let bob = app.register_unverified("client").await;

    // The sender hands its second message to the SMTP server, then dies before
    // recording it (and before committing its Kafka offsets).
    let sender = env.spawn_process("notifications", &[("FITSYNC_FAULT", "email.after_send:2")]);
    crate::crash::aborted(sender).await;
    let sent: Vec<(uuid::Uuid, String, i32)> =
        sqlx::query_as("select user_id, status, attempts from deliveries order by user_id")
            .fetch_all(&env.notifications_db())
            .await
            .unwrap();
    assert_eq!(sent.len(), 2, "{sent:?}");
    let interrupted = sent
        .iter()
        .find(|(_, status, _)| status == "sending")
        .expect("one send interrupted")
        .0;

    // Restarted, it finds the interrupted claim (once its lease is over) and sends again,
    // under the same Message-ID; the completed one is not sent again.
    let (_sender, sender) = env.spawn_app("notifications", &[]).await;
    let db = env.notifications_db();
    eventually(120, "the interrupted send completed", || async {
        let (status, attempts): (String, i32) =
            sqlx::query_as("select status, attempts from deliveries where user_id = $1")
                .bind(interrupted)
                .fetch_one(&db)
                .await
                .ok()?;
        (status == "sent" && attempts == 2).then_some(())
    })
    .await;
    let (twice, once) = if interrupted == ana.id {
        (&ana, &bob)
    } else {
        (&bob, &ana)
    };
    let copies = crate::harness::emails_to_now(&twice.email);
    assert_eq!(copies.len(), 2, "at least once: sent again after the crash");
    let ids: Vec<Option<String>> = copies.iter().map(|c| message_id(c)).collect();
    assert!(
        ids[0].is_some() && ids[0] == ids[1],
        "the same Message-ID: {ids:?}"
    );

    // The completed one was read again too (the sender counts it as a duplicate), and
    // not sent again.
    sender
        .metrics_with(
            r#"fitsync_job_events_total{job="email",outcome="duplicate"} 1"#,
            60,
        )
        .await;
    assert_eq!(
        crate::harness::emails_to_now(&once.email).len(),
        1,
        "a recorded send is never repeated"
    );
    app.stop().await;
}
