//! The HTTP contract: problem JSON for bad input (and nothing written), authentication,
//! per-role authorization, health, metrics and the merged OpenAPI document.

use fitsync::Target;
use serde_json::{json, Value};

use crate::harness::TestEnv;

async fn counts(env: &TestEnv) -> (i64, i64) {
    let db = env.training_db();
    let sets: i64 = sqlx::query_scalar("select count(*) from workout_sets")
        .fetch_one(&db)
        .await
        .unwrap();
    let outbox: i64 = sqlx::query_scalar("select count(*) from outbox")
        .fetch_one(&db)
        .await
        .unwrap();
    (sets, outbox)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_problem_json_and_change_nothing() {
    let env = TestEnv::new().await;
    // No relay: the outbox keeps whatever a handler wrote, so the check below is exact.
    let app = env
        .start(&[Target::Users, Target::Training, Target::Progress])
        .await;
    let client = app.register("client").await;

    let cases = [
        (
            json!({"exercise": "barbell-squat", "reps": 0, "weight_kg": 100}),
            422,
            "reps",
        ),
        (
            json!({"exercise": "barbell-squat", "reps": 5, "weight_kg": -1}),
            422,
            "weight_kg",
        ),
        (
            json!({"exercise": "Back Squat", "reps": 5, "weight_kg": 100}),
            422,
            "exercise",
        ),
        (
            json!({"exercise": "barbell-squat", "reps": 5, "weight_kg": 100, "rir": 11}),
            422,
            "rir",
        ),
        (
            json!({"exercise": "barbell-squat", "reps": 5, "weight_kg": 100, "performed_at": "2999-01-01T00:00:00Z"}),
            422,
            "performed_at",
        ),
        (
            json!({"exercise": "barbell-squat", "reps": "five", "weight_kg": 100}),
            422,
            "body",
        ),
        (
            json!({"exercise": "barbell-squat", "reps": 5, "weight_kg": 100, "extra": 1}),
            422,
            "body",
        ),
        (json!({"reps": 5}), 422, "body"),
    ];
    for (body, status, field) in cases {
        let response = app.log_set(&client, body.clone()).await;
        assert_eq!(response.status().as_u16(), status, "{body}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["status"], status);
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "{body} → {problem}");
    }
    // Several wrong fields are reported together.
    let problem: Value = app
        .log_set(
            &client,
            json!({"exercise": "", "reps": 0, "weight_kg": 2000}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(problem["errors"].as_array().unwrap().len(), 3, "{problem}");

    // Not JSON at all.
    let response = app
        .http
        .post(app.url("/api/workouts/sets"))
        .bearer_auth(&client.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );

    assert_eq!(
        counts(&env).await,
        (0, 0),
        "a rejected request wrote something"
    );

    // Registration input.
    for body in [
        json!({"email": "not-an-email", "password": "long enough password", "display_name": "A"}),
        json!({"email": "a@example.com", "password": "short", "display_name": "A"}),
        json!({"email": "a@example.com", "password": "long enough password", "display_name": ""}),
        json!({"email": "a@example.com", "password": "long enough password", "display_name": "A", "role": "admin"}),
    ] {
        let response = app
            .http
            .post(app.url("/api/auth/register"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "{body}");
    }
    let users: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&env.users_db())
        .await
        .unwrap();
    assert_eq!(users, 1);

    // Internal details never leak: an unknown route is a problem too.
    let response = app.http.get(app.url("/api/nope")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_sees_only_what_it_may() {
    let env = TestEnv::new().await;
    // With the relay and the projector: without them the services' access projections
    // are never current, and every non-owner read fails closed (503).
    let app = env
        .start(&[
            Target::Users,
            Target::Training,
            Target::Progress,
            Target::Relay,
            Target::Projector,
        ])
        .await;
    let alice = app.register("client").await;
    let bob = app.register("client").await;
    let trainer = app.register("trainer").await;
    let admin = app.admin(&env).await;

    let set = json!({"exercise": "barbell-deadlift", "reps": 5, "weight_kg": 140});
    assert_eq!(app.log_set(&alice, set.clone()).await.status(), 201);
    // Trainers and admins do not log sets (a trainer logging for a client comes with
    // the trainer–client relationship).
    assert_eq!(app.log_set(&trainer, set.clone()).await.status(), 403);
    assert_eq!(app.log_set(&admin, set.clone()).await.status(), 403);

    let alices = [
        format!("/api/progress/{}/e1rm", alice.id),
        format!("/api/progress/{}/volume", alice.id),
        format!("/api/workouts/sets?client_id={}", alice.id),
        format!("/api/users/{}", alice.id),
    ];
    for path in &alices {
        assert_eq!(app.get(&alice, path).await.status(), 200, "owner {path}");
        assert_eq!(app.get(&admin, path).await.status(), 200, "admin {path}");
        assert_eq!(
            app.get(&bob, path).await.status(),
            403,
            "other client {path}"
        );
        // Not (yet) alice's trainer.
        assert_eq!(
            app.get(&trainer, path).await.status(),
            403,
            "unrelated trainer {path}"
        );
        let anonymous = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(anonymous.status(), 401, "anonymous {path}");
        let forged = app
            .http
            .get(app.url(path))
            .bearer_auth("eyJhbGciOiJub25lIn0.e30.")
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 401, "forged {path}");
    }
    let mine: Value = app
        .get(&bob, "/api/workouts/sets")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine, json!([]), "bob's own list holds nothing of alice's");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_health_metrics_and_openapi() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let client = app.register("client").await;
    let me: Value = app
        .get(&client, "/api/users/me")
        .await
        .json()
        .await
        .unwrap();
    let email = me["email"].as_str().unwrap().to_owned();

    let ok: Value = app
        .sign_in(&email, crate::harness::PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ok["token_type"], "Bearer");
    let response = app
        .http
        .get(app.url("/api/users/me"))
        .bearer_auth(ok["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(app.sign_in(&email, "wrong password!").await.status(), 401);
    let unknown = app.sign_in("nobody@example.com", "whatever123").await;
    assert_eq!(
        unknown.status(),
        401,
        "unknown account answers like a wrong password"
    );

    let jwks: Value = app.public_json("/.well-known/jwks.json").await;
    assert_eq!(jwks["keys"][0]["alg"], "ES256");

    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let ready: Value = app.public_json("/readyz").await;
    assert_eq!(ready["status"], "ok", "{ready}");

    let metrics = app.metrics_with("fitsync_http_requests_total", 10).await;
    assert!(
        metrics.contains(r#"route="/api/users/me""#),
        "route templates label requests"
    );
    assert!(
        !metrics.contains(&client.id.to_string()),
        "no ids in metric labels"
    );

    let doc: Value = app.public_json("/api/openapi.json").await;
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/api/auth/register",
        "/api/auth/token",
        "/api/auth/logout",
        "/api/auth/logout-all",
        "/api/auth/service-accounts",
        "/.well-known/jwks.json",
        "/.well-known/openid-configuration",
        "/api/users/relationships",
        "/api/users/relationships/{id}/accept",
        "/api/users/relationships/{id}/end",
        "/api/gyms",
        "/api/auth/verify-email",
        "/api/auth/password-reset",
        "/api/auth/password-reset/confirm",
        "/api/profiles/me",
        "/api/profiles/{id}",
        "/api/notifications/deliveries",
        "/api/gyms/{id}/members",
        "/api/gyms/{id}/invitations",
        "/api/users/me",
        "/api/users/{id}",
        "/api/workouts/sets",
        "/api/progress/{client_id}/e1rm",
        "/api/progress/{client_id}/volume",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    app.stop().await;
}

/// Row counts of every table a request could write.
async fn footprint(env: &TestEnv) -> Vec<i64> {
    let users = env.users_db();
    let mut rows = Vec::new();
    for table in [
        "users",
        "trainer_clients",
        "gyms",
        "gym_invitations",
        "service_accounts",
        "email_tokens",
        "client_profiles",
        "trainer_profiles",
        "outbox",
    ] {
        rows.push(
            sqlx::query_scalar(&format!("select count(*) from {table}"))
                .fetch_one(&users)
                .await
                .unwrap(),
        );
    }
    let (sets, training_outbox) = counts(env).await;
    rows.extend([sets, training_outbox]);
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_on_every_endpoint_gets_problem_json_and_changes_nothing() {
    let env = TestEnv::new().await;
    // No relay: outbox rows stay where handlers wrote them, so any write would show.
    let app = env
        .start(&[
            Target::Users,
            Target::Training,
            Target::Progress,
            Target::Notifications,
        ])
        .await;
    let client = app.register("client").await;
    let trainer = app.register("trainer").await;
    let owner = app.register("gym").await;
    let admin = app.admin(&env).await;
    let gym: Value = app
        .http
        .post(app.url("/api/gyms"))
        .bearer_auth(&owner.token)
        .json(&json!({"name": "Bad Input Gym"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let gym = gym["id"].as_str().unwrap().to_owned();
    let before = footprint(&env).await;

    let c = client.id;
    let cases: Vec<(&str, String, Option<&str>, &str, u16)> = vec![
        ("POST", "/api/auth/register".into(), None, "{not json", 400),
        (
            "POST",
            "/api/auth/register".into(),
            None,
            r#"{"email": 1}"#,
            422,
        ),
        (
            "POST",
            "/api/users/relationships".into(),
            Some(&trainer.token),
            r#"{"client_id": "not-a-uuid"}"#,
            422,
        ),
        (
            "POST",
            "/api/users/relationships/not-a-uuid/accept".into(),
            Some(&client.token),
            "{}",
            400,
        ),
        (
            "POST",
            "/api/gyms".into(),
            Some(&owner.token),
            r#"{"name": ""}"#,
            422,
        ),
        (
            "POST",
            format!("/api/gyms/{gym}/invitations"),
            Some(&owner.token),
            r#"{"email": "nope", "role": "client"}"#,
            422,
        ),
        (
            "POST",
            format!("/api/gyms/{gym}/invitations"),
            Some(&owner.token),
            r#"{"email": "a@b.co", "role": "admin"}"#,
            422,
        ),
        (
            "POST",
            "/api/auth/verify-email".into(),
            Some(&client.token),
            r#"{"token": 5}"#,
            422,
        ),
        (
            "POST",
            "/api/auth/password-reset".into(),
            None,
            r#"{"email": "nope"}"#,
            422,
        ),
        (
            "POST",
            "/api/auth/password-reset/confirm".into(),
            None,
            r#"{"token": "x"}"#,
            422,
        ),
        (
            "PUT",
            "/api/profiles/me/client".into(),
            Some(&client.token),
            r#"{"height_cm": "tall"}"#,
            422,
        ),
        (
            "PUT",
            "/api/profiles/me/trainer".into(),
            Some(&trainer.token),
            r#"{"time_zone": "not a zone!"}"#,
            422,
        ),
        (
            "POST",
            "/api/auth/service-accounts".into(),
            Some(&admin.token),
            r#"{"client_id": "A B"}"#,
            422,
        ),
        (
            "POST",
            "/api/auth/logout".into(),
            Some(&client.token),
            r#"{"refresh_token": 5}"#,
            422,
        ),
        (
            "POST",
            "/api/workouts/sets".into(),
            Some(&client.token),
            r#"{"exercise": "row", "reps": 5, "weight_kg": "heavy"}"#,
            422,
        ),
        (
            "GET",
            format!("/api/progress/{c}/volume?weeks=0"),
            Some(&client.token),
            "",
            422,
        ),
        (
            "GET",
            "/api/workouts/sets?limit=abc".into(),
            Some(&client.token),
            "",
            400,
        ),
        (
            "GET",
            "/api/notifications/deliveries?user_id=nope".into(),
            Some(&client.token),
            "",
            400,
        ),
    ];
    for (method, path, token, body, status) in &cases {
        let mut request = app
            .http
            .request(method.parse().unwrap(), app.url(path))
            .header("content-type", "application/json");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if !body.is_empty() {
            request = request.body(body.to_string());
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.status().as_u16(),
            *status,
            "{method} {path} {body}"
        );
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{method} {path}"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["status"], *status);
    }
    // The token endpoint speaks forms.
    let no_grant = app
        .http
        .post(app.url("/api/auth/token"))
        .form(&[("username", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(no_grant.status(), 400);
    assert_eq!(
        footprint(&env).await,
        before,
        "a rejected request wrote something"
    );
    app.stop().await;
}

/// A gym's owner lists the invitations it has sent, newest first, open and accepted;
/// another gym's owner and the invited client are refused them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gym_lists_the_invitations_it_sent_and_nobody_else_reads_them() {
    use crate::{harness::call, schedule::open_gym};
    use reqwest::Method;
    let env = TestEnv::new().await;
    let app = env.start(&[Target::Users]).await;
    let (owner, gym) = open_gym(&app, "Invitations Gym").await;
    let (other_owner, _) = open_gym(&app, "Another Gym").await;
    let client = app.register("client").await;
    let mut sent = Vec::new();
    for (email, role) in [
        (client.email.clone(), "client"),
        (
            format!("coach-{}@example.com", uuid::Uuid::now_v7()),
            "trainer",
        ),
    ] {
        let (status, invitation) = call(
            &app,
            &owner,
            Method::POST,
            &format!("/api/gyms/{gym}/invitations"),
            Some(json!({"email": email, "role": role})),
        )
        .await;
        assert_eq!(status, 201, "{invitation}");
        sent.push(invitation);
    }
    let (to_client, to_trainer) = (&sent[0], &sent[1]);
    let accept = format!(
        "/api/gyms/invitations/{}/accept",
        to_client["id"].as_str().unwrap()
    );
    let (status, body) = call(&app, &client, Method::POST, &accept, None).await;
    assert_eq!(status, 200, "{body}");

    let path = format!("/api/gyms/{gym}/invitations");
    let (status, listed) = call(&app, &owner, Method::GET, &path, None).await;
    assert_eq!(status, 200, "{listed}");
    let listed = listed.as_array().unwrap();
    let ids: Vec<&Value> = listed.iter().map(|i| &i["id"]).collect();
    assert_eq!(ids, [&to_trainer["id"], &to_client["id"]], "newest first");
    assert_eq!(listed[0]["email"], to_trainer["email"]);
    assert_eq!(listed[0]["role"], "trainer");
    assert!(listed[0]["accepted_at"].is_null(), "still open");
    assert!(listed[1]["accepted_at"].is_string(), "accepted");

    for who in [&other_owner, &client] {
        let refused = app.get(who, &path).await;
        assert_eq!(refused.status(), 403);
        assert_eq!(
            refused.headers()["content-type"],
            "application/problem+json"
        );
    }
    app.stop().await;
}
