//! The OpenAPI 3.1 document, generated from the handlers' types: each service builds its
//! router with `utoipa_axum::router::OpenApiRouter` from handlers annotated with
//! `#[utoipa::path]`, so a route cannot exist without its operation in the document.
//! The binary merges the services' documents and `finish` adds what every operation
//! shares: the bearer and session-cookie schemes (every bearer operation also takes the
//! browser session's cookie), the `Problem` schema, and the problem responses.

use utoipa::{
    openapi::{
        path::Operation,
        request_body::RequestBody,
        security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
        },
        ComponentsBuilder, Content, OpenApi, Ref, RefOr, Response, ResponseBuilder,
    },
    PartialSchema, ToSchema,
};

use crate::problem::{FieldError, Problem};

/// The security requirement name handlers use: `security(("bearer" = []))`.
pub const BEARER: &str = "bearer";

/// The browser session's access cookie (`POST /api/auth/session`); unsafe methods also
/// need the `X-CSRF-Token` header.
pub const SESSION: &str = "session";

/// A fresh document with FitSync's title and version.
pub fn document() -> OpenApi {
    let mut doc = OpenApi::new(
        utoipa::openapi::Info::new("FitSync API", env!("CARGO_PKG_VERSION")),
        utoipa::openapi::Paths::new(),
    );
    doc.openapi = utoipa::openapi::OpenApiVersion::Version31;
    doc
}

fn problem_response(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                Content::new(Some(Ref::from_schema_name("Problem"))),
            )
            .build(),
    )
}

/// Adds the shared parts to a merged document.
pub fn finish(mut doc: OpenApi) -> OpenApi {
    let components = doc.components.take().unwrap_or_default();
    let builder = ComponentsBuilder::from(components)
        .schema("Problem", Problem::schema())
        .schema("FieldError", FieldError::schema())
        .security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        )
        .security_scheme(
            SESSION,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::cookies::ACCESS,
                "The browser session (POST /api/auth/session); unsafe methods repeat the CSRF token in X-CSRF-Token",
            ))),
        );
    doc.components = Some(builder.build());
    unique_operation_ids(&mut doc);
    for item in doc.paths.paths.values_mut() {
        for operation in operations_mut(item) {
            problem_content_type(operation);
            add_problems(operation);
            session_alternative(operation);
        }
    }
    doc
}

/// Problems are `application/problem+json`, whatever a handler's annotation said.
fn problem_content_type(operation: &mut Operation) {
    for response in operation.responses.responses.values_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        let is_problem = response.content.get("application/json").is_some_and(
            |c| matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem")),
        );
        if is_problem {
            if let Some(content) = response.content.shift_remove("application/json") {
                response
                    .content
                    .insert("application/problem+json".to_owned(), content);
            }
        }
    }
}

/// Every operation can answer 400 (malformed), 422 (invalid fields when it takes input),
/// 429 and 503 (a dependency down); operations behind a token also 401 and 403.
/// Handlers of different services share names (`get`, `list`, `create`), and utoipa
/// names operations after them; generated clients key their types by operation id, so
/// a repeated id becomes `<first path segment after /api/>_<id>` (`workouts_get`).
fn unique_operation_ids(doc: &mut OpenApi) {
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for item in doc.paths.paths.values() {
        for operation in operations(item) {
            if let Some(id) = &operation.operation_id {
                *seen.entry(id.clone()).or_default() += 1;
            }
        }
    }
    for (path, item) in doc.paths.paths.iter_mut() {
        let segment: String = path
            .strip_prefix("/api/")
            .unwrap_or(path)
            .split('/')
            .next()
            .unwrap_or_default()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        for operation in operations_mut(item) {
            if let Some(id) = operation.operation_id.as_mut() {
                if seen.get(id.as_str()).is_some_and(|n| *n > 1) {
                    *id = format!("{segment}_{id}");
                }
            }
        }
    }
}

fn operations(item: &utoipa::openapi::PathItem) -> impl Iterator<Item = &Operation> {
    [&item.get, &item.put, &item.post, &item.delete, &item.patch]
        .into_iter()
        .flatten()
}

fn operations_mut(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .flatten()
}

/// Every operation a bearer token opens, the session cookie opens too.
fn session_alternative(operation: &mut Operation) {
    let Some(security) = operation.security.as_mut() else {
        return;
    };
    let named = serde_json::to_string(&*security).unwrap_or_default();
    let (bearer, has_session) = (
        named.contains(&format!("\"{BEARER}\"")),
        named.contains(&format!("\"{SESSION}\"")),
    );
    if bearer && !has_session {
        security.push(SecurityRequirement::new(SESSION, Vec::<String>::new()));
    }
}

fn add_problems(operation: &mut Operation) {
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let takes_input = operation.request_body.is_some()
        || operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let mut shared = vec![
        ("400", "Malformed request"),
        ("429", "Too many requests"),
        ("503", "A dependency is unavailable"),
    ];
    if takes_input {
        shared.push(("422", "Invalid field values"));
    }
    if secured {
        shared.push(("401", "Missing, invalid or revoked token"));
        shared.push(("403", "Not allowed for this caller"));
    }
    for (status, description) in shared {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| problem_response(description));
    }
}

/// A request body as form fields (`application/x-www-form-urlencoded`).
pub fn form_body<T: ToSchema>() -> RequestBody {
    utoipa::openapi::request_body::RequestBodyBuilder::new()
        .content(
            "application/x-www-form-urlencoded",
            Content::new(Some(T::schema())),
        )
        .required(Some(utoipa::openapi::Required::True))
        .build()
}
