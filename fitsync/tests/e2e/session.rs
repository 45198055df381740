//! Browser sessions (`/api/auth/session`): the tokens in HttpOnly cookies, the CSRF
//! check on unsafe methods, refresh rotation and reuse detection through the cookie,
//! sign-out and sign-out everywhere; and the web app served on the API's origin.

use std::collections::HashMap;

use fitsync::Target;
use reqwest::{header, Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{TestApp, TestEnv, PASSWORD};

/// A browser's cookie jar, kept by hand so the test sees every attribute.
#[derive(Debug, Default, Clone)]
struct Jar {
    cookies: HashMap<String, String>,
    /// The full Set-Cookie lines of the last answer, by cookie name.
    last: HashMap<String, String>,
}

impl Jar {
    fn take(&mut self, response: &reqwest::Response) {
        self.last.clear();
        for line in response.headers().get_all(header::SET_COOKIE) {
            let line = line.to_str().unwrap().to_owned();
            let (name, value) = line.split(';').next().unwrap().split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
            self.last.insert(name.to_owned(), line.clone());
        }
    }

    /// The Cookie header a browser sends to `path` (by each cookie's Path).
    fn header_for(&self, path: &str) -> String {
        let scope = |name: &str| match name {
            "fitsync_access" => "/api",
            "fitsync_refresh" => "/api/auth/session",
            _ => "/",
        };
        self.cookies
            .iter()
            .filter(|(name, _)| path.starts_with(scope(name)))
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn csrf(&self) -> String {
        self.cookies["fitsync_csrf"].clone()
    }
}

async fn send(
    app: &TestApp,
    jar: &mut Jar,
    method: Method,
    path: &str,
    csrf: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app
        .http
        .request(method, app.url(path))
        .header(header::COOKIE, jar.header_for(path));
    if let Some(csrf) = csrf {
        request = request.header("x-csrf-token", csrf);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    jar.take(&response);
    response
}

async fn sign_in(app: &TestApp, email: &str) -> (Jar, Value) {
    let mut jar = Jar::default();
    let response = send(
        app,
        &mut jar,
        Method::POST,
        "/api/auth/session",
        None,
        Some(json!({"email": email, "password": PASSWORD})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    (jar, body)
}

async fn problem(response: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/problem+json"
    );
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_session_lives_in_httponly_cookies_and_unsafe_requests_need_its_csrf_token() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::Users, Target::Notifications]).await;
    let ana = app.register("client").await;
    let ben = app.register("client").await;

    let (mut jar, session) = sign_in(&app, &ana.email).await;
    assert_eq!(session["user_id"], ana.id.to_string());
    assert_eq!(session["role"], "client");
    assert_eq!(session["expires_in"], 900);
    let csrf = session["csrf_token"].as_str().unwrap().to_owned();
    assert_eq!(
        jar.csrf(),
        csrf,
        "the page can read the CSRF token from its cookie"
    );
    // The attributes a browser enforces.
    let access = &jar.last["fitsync_access"];
    let refresh = &jar.last["fitsync_refresh"];
    let csrf_cookie = &jar.last["fitsync_csrf"];
    for line in [access, refresh, csrf_cookie] {
        assert!(line.contains("; Secure"), "{line}");
        assert!(line.contains("; SameSite=Strict"), "{line}");
    }
    assert!(access.contains("; HttpOnly") && access.contains("; Path=/api;"));
    assert!(access.contains("; Max-Age=900;"));
    assert!(refresh.contains("; HttpOnly") && refresh.contains("; Path=/api/auth/session;"));
    assert!(!csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("; Path=/;"));

    // Reads need only the cookie.
    let me = send(&app, &mut jar, Method::GET, "/api/users/me", None, None).await;
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(me.json::<Value>().await.unwrap()["id"], ana.id.to_string());

    // An unsafe request: refused without the header, with a wrong one, and with a
    // planted cookie whose value the header repeats (the check is against the token's
    // signed claim, not the cookie); accepted with the session's token.
    let unsafe_path = "/api/notifications/inbox/read";
    let without = send(
        &app,
        &mut jar,
        Method::POST,
        unsafe_path,
        None,
        Some(json!({})),
    )
    .await;
    let body = problem(without, StatusCode::FORBIDDEN).await;
    assert!(body["detail"].as_str().unwrap().contains("X-CSRF-Token"));
    let wrong = send(
        &app,
        &mut jar,
        Method::POST,
        unsafe_path,
        Some("guess"),
        Some(json!({})),
    )
    .await;
    problem(wrong, StatusCode::FORBIDDEN).await;
    let mut planted = jar.clone();
    planted
        .cookies
        .insert("fitsync_csrf".into(), "attacker-chosen".into());
    let forged = send(
        &app,
        &mut planted,
        Method::POST,
        unsafe_path,
        Some("attacker-chosen"),
        Some(json!({})),
    )
    .await;
    problem(forged, StatusCode::FORBIDDEN).await;
    let ok = send(
        &app,
        &mut jar,
        Method::POST,
        unsafe_path,
        Some(&csrf),
        Some(json!({})),
    )
    .await;
    assert!(ok.status().is_success(), "{}", ok.status());

    // Ben's session cannot read Ana's data; Ana's bearer token wins over Ben's cookie.
    let (mut bens, _) = sign_in(&app, &ben.email).await;
    let other = send(
        &app,
        &mut bens,
        Method::GET,
        &format!("/api/users/{}", ana.id),
        None,
        None,
    )
    .await;
    assert_eq!(other.status(), StatusCode::FORBIDDEN);
    let both: Value = app
        .http
        .get(app.url("/api/users/me"))
        .header(header::COOKIE, bens.header_for("/api/users/me"))
        .bearer_auth(&ana.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(both["id"], ana.id.to_string());

    // A bearer token needs no CSRF header (a browser never attaches one by itself).
    let bearer = app
        .http
        .post(app.url(unsafe_path))
        .bearer_auth(&ana.token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(bearer.status().is_success());

    // Bad sign-ins: problem JSON, no cookies.
    let mut empty = Jar::default();
    let bad = send(
        &app,
        &mut empty,
        Method::POST,
        "/api/auth/session",
        None,
        Some(json!({"email": ana.email, "password": "not the password"})),
    )
    .await;
    problem(bad, StatusCode::UNAUTHORIZED).await;
    assert!(empty.cookies.is_empty());
    let malformed = send(
        &app,
        &mut empty,
        Method::POST,
        "/api/auth/session",
        None,
        Some(json!({"email": ana.email})),
    )
    .await;
    assert!(malformed.status().is_client_error());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cookie_rotates_a_replayed_one_ends_the_family_and_sign_out_clears_it() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::Users]).await;
    let ana = app.register("client").await;

    let (mut jar, first) = sign_in(&app, &ana.email).await;
    let old_refresh = jar.cookies["fitsync_refresh"].clone();
    let old_access = jar.cookies["fitsync_access"].clone();

    // Refresh needs the CSRF header too.
    let refused = send(
        &app,
        &mut jar,
        Method::POST,
        "/api/auth/session/refresh",
        None,
        None,
    )
    .await;
    problem(refused, StatusCode::FORBIDDEN).await;
    let csrf = jar.csrf();
    let rotated = send(
        &app,
        &mut jar,
        Method::POST,
        "/api/auth/session/refresh",
        Some(&csrf),
        None,
    )
    .await;
    assert_eq!(rotated.status(), StatusCode::OK);
    let second: Value = rotated.json().await.unwrap();
    assert_ne!(
        second["csrf_token"], first["csrf_token"],
        "a new CSRF token"
    );
    assert_eq!(jar.csrf(), second["csrf_token"].as_str().unwrap());
    assert_ne!(jar.cookies["fitsync_refresh"], old_refresh);
    assert_ne!(jar.cookies["fitsync_access"], old_access);
    let me = send(&app, &mut jar, Method::GET, "/api/users/me", None, None).await;
    assert_eq!(me.status(), StatusCode::OK);
    // The old CSRF token no longer opens unsafe requests with the new access cookie.
    let stale = send(
        &app,
        &mut jar.clone(),
        Method::POST,
        "/api/auth/logout",
        Some(&csrf),
        None,
    )
    .await;
    problem(stale, StatusCode::FORBIDDEN).await;

    // A copy of the spent refresh cookie (a thief's) is refused, and the family ends:
    // the browser's current refresh cookie dies with it.
    let mut thief = Jar::default();
    thief
        .cookies
        .insert("fitsync_refresh".into(), old_refresh.clone());
    thief.cookies.insert("fitsync_csrf".into(), "t".into());
    let replay = send(
        &app,
        &mut thief,
        Method::POST,
        "/api/auth/session/refresh",
        Some("t"),
        None,
    )
    .await;
    problem(replay, StatusCode::UNAUTHORIZED).await;
    let csrf = jar.csrf();
    let dead = send(
        &app,
        &mut jar,
        Method::POST,
        "/api/auth/session/refresh",
        Some(&csrf),
        None,
    )
    .await;
    problem(dead, StatusCode::UNAUTHORIZED).await;

    // A new sign-in; sign-out revokes the access token and clears the cookies.
    let (mut jar, _) = sign_in(&app, &ana.email).await;
    let kept = jar.clone();
    let csrf = jar.csrf();
    let out = send(
        &app,
        &mut jar,
        Method::POST,
        "/api/auth/session/logout",
        Some(&csrf),
        None,
    )
    .await;
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    for name in ["fitsync_access", "fitsync_refresh", "fitsync_csrf"] {
        assert!(jar.last[name].contains("Max-Age=0"), "{name} cleared");
    }
    assert!(jar.cookies.is_empty());
    // Cookies kept from before the sign-out (a copy) open nothing.
    let mut copy = kept.clone();
    let after = send(&app, &mut copy, Method::GET, "/api/users/me", None, None).await;
    problem(after, StatusCode::UNAUTHORIZED).await;
    let mut copy = kept.clone();
    let refresh = send(
        &app,
        &mut copy,
        Method::POST,
        "/api/auth/session/refresh",
        Some(&kept.csrf()),
        None,
    )
    .await;
    problem(refresh, StatusCode::UNAUTHORIZED).await;

    // Sign-out once the access cookie has run out (the browser dropped it): the refresh
    // cookie, which would sign the browser back in, is revoked all the same.
    let (mut jar, _) = sign_in(&app, &ana.email).await;
    jar.cookies.remove("fitsync_access");
    let kept = jar.clone();
    let csrf = jar.csrf();
    let refused = send(
        &app,
        &mut jar.clone(),
        Method::POST,
        "/api/auth/session/logout",
        None,
        None,
    )
    .await;
    problem(refused, StatusCode::FORBIDDEN).await;
    let out = send(
        &app,
        &mut jar,
        Method::POST,
        "/api/auth/session/logout",
        Some(&csrf),
        None,
    )
    .await;
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let mut copy = kept.clone();
    let refresh = send(
        &app,
        &mut copy,
        Method::POST,
        "/api/auth/session/refresh",
        Some(&kept.csrf()),
        None,
    )
    .await;
    problem(refresh, StatusCode::UNAUTHORIZED).await;

    // Sign out everywhere from a browser ends the API client's tokens too.
    let (mut jar, _) = sign_in(&app, &ana.email).await;
    let bearer = app.sign_in(&ana.email, PASSWORD).await;
    let bearer: Value = bearer.json().await.unwrap();
    let bearer = bearer["access_token"].as_str().unwrap().to_owned();
    let csrf = jar.csrf();
    let all = send(
        &app,
        &mut jar,
        Method::POST,
        "/api/auth/logout-all",
        Some(&csrf),
        None,
    )
    .await;
    assert_eq!(all.status(), StatusCode::NO_CONTENT);
    let me = app
        .http
        .get(app.url("/api/users/me"))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    let mine = send(&app, &mut jar, Method::GET, "/api/users/me", None, None).await;
    assert_eq!(mine.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_app_is_served_on_the_api_origin_and_api_paths_stay_problem_json() {
    let mut env = TestEnv::new().await;
    let root = std::env::temp_dir().join(format!("fitsync-web-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(root.join("assets")).unwrap();
    let index = "<!doctype html><title>FitSync</title><div id=root></div>";
    std::fs::write(root.join("index.html"), index).unwrap();
    std::fs::write(root.join("assets/app-1a2b3c.js"), "console.log(1)").unwrap();
    // The build's gzip copy (web/scripts/bundle-size.mjs writes one beside each file).
    let zipped = std::process::Command::new("gzip")
        .args(["-9", "-k"])
        .arg(root.join("assets/app-1a2b3c.js"))
        .status()
        .unwrap();
    assert!(zipped.success());
    let gz = std::fs::read(root.join("assets/app-1a2b3c.js.gz")).unwrap();
    env.settings.server.web_root = root.clone();
    let app = env.start(&[Target::Users, Target::Web]).await;

    for path in ["/", "/client/dashboard", "/trainer/clients/123"] {
        let page = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        assert_eq!(page.headers()[header::CACHE_CONTROL], "no-cache");
        let csp = page.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert_eq!(page.text().await.unwrap(), index);
    }
    for encoding in ["identity", "gzip"] {
        let asset = app
            .http
            .get(app.url("/assets/app-1a2b3c.js"))
            .header(header::ACCEPT_ENCODING, encoding)
            .send()
            .await
            .unwrap();
        assert_eq!(asset.status(), StatusCode::OK);
        let h = asset.headers().clone();
        assert!(h[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("immutable"));
        assert!(h[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("script-src 'self'"));
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::REFERRER_POLICY], "same-origin");
        assert_eq!(h[header::VARY], "accept-encoding");
        let body = asset.bytes().await.unwrap();
        if encoding == "gzip" {
            assert_eq!(h[header::CONTENT_ENCODING], "gzip");
            assert_eq!(&body[..], &gz[..], "the gzip copy, as it is on disk");
        } else {
            assert!(h.get(header::CONTENT_ENCODING).is_none());
            assert_eq!(&body[..], b"console.log(1)");
        }
    }
    // A script the page names but the server lacks (a build replaced by a deployment)
    // is a 404, not the page.
    let gone = app
        .http
        .get(app.url("/assets/app-old.js"))
        .send()
        .await
        .unwrap();
    problem(gone, StatusCode::NOT_FOUND).await;
    // Unknown API paths, and writes to the app's paths, are problem JSON, not the page.
    let unknown = app
        .http
        .get(app.url("/api/nothing-here"))
        .send()
        .await
        .unwrap();
    problem(unknown, StatusCode::NOT_FOUND).await;
    let post = app
        .http
        .post(app.url("/client/dashboard"))
        .send()
        .await
        .unwrap();
    problem(post, StatusCode::NOT_FOUND).await;
    // The API is still there beside it, and its answers are not for caches to keep.
    let jwks = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.status(), StatusCode::OK);
    let ana = app.register("client").await;
    let me = app.get(&ana, "/api/users/me").await;
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(me.headers()[header::CACHE_CONTROL], "no-store");
    app.stop().await;
    std::fs::remove_dir_all(&root).unwrap();

    // The web target alone refuses to start without a built app.
    let mut settings = env.settings.clone();
    settings.server.web_root = std::env::temp_dir().join("fitsync-web-not-built");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let started = fitsync::app::start(
        settings,
        fitsync::Targets::new(vec![Target::Web]),
        listener,
        tokio_util::sync::CancellationToken::new(),
    )
    .await;
    let error = started.err().expect("refused").to_string();
    assert!(error.contains("npm run build"), "{error}");
}
