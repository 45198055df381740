//! RFC 9457 problem details: the only shape an error leaves a FitSync service in.

use axum::{
    extract::rejection::{JsonRejection, PathRejection, QueryRejection},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;

/// RFC 9457 problem details.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Field-level reasons for a 422.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The error every handler returns. Internal causes are logged once (by
/// `IntoResponse`) and never sent to the caller.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid request: {0}")]
    BadRequest(String),
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("authentication required")]
    Unauthenticated,
    #[error("forbidden")]
    Forbidden,
    /// Refused for a reason the caller can act on (e.g. "verify your address first").
    #[error("forbidden: {0}")]
    ForbiddenBecause(&'static str),
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("too many requests")]
    TooManyRequests,
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// No database connection within the pool's acquire timeout (every one busy, or the
    /// database unreachable: sqlx reports both as `PoolTimedOut`): 503 with
    /// `Retry-After`, as the caller may well succeed on a retry.
    #[error("no database connection: {0}")]
    NoConnection(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl ApiError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError {
            field: field.to_owned(),
            message: message.into(),
        }])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden | ApiError::ForbiddenBecause(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) | ApiError::NoConnection(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn problem(&self) -> Problem {
        let status = self.status();
        let (slug, detail, errors) = match self {
            ApiError::BadRequest(d) => ("bad-request", Some(d.clone()), vec![]),
            ApiError::Validation(e) => ("validation", None, e.clone()),
            ApiError::Unauthenticated => ("unauthenticated", None, vec![]),
            ApiError::Forbidden => ("forbidden", None, vec![]),
            ApiError::ForbiddenBecause(why) => ("forbidden", Some((*why).to_owned()), vec![]),
            ApiError::NotFound => ("not-found", None, vec![]),
            ApiError::Conflict(d) => ("conflict", Some(d.clone()), vec![]),
            ApiError::TooManyRequests => ("rate-limited", None, vec![]),
            ApiError::Unavailable(_) | ApiError::NoConnection(_) => ("unavailable", None, vec![]),
            ApiError::Unexpected(_) => ("internal", None, vec![]),
        };
        Problem {
            problem_type: format!("https://fitsync.dev/problems/{slug}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            errors,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Unexpected(e) => tracing::error!(error = ?e, "request failed"),
            ApiError::Unavailable(why) => tracing::warn!(%why, "dependency unavailable"),
            ApiError::NoConnection(why) => tracing::warn!(%why, "no database connection"),
            _ => {}
        }
        let mut response = self.problem().into_response();
        if matches!(self, ApiError::NoConnection(_)) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        response
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(self)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

/// Database errors: constraint violations become 4xx here, in one place; no connection
/// in time 503 with `Retry-After`; anything else is unexpected.
impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        // A row the request named does not exist.
        if matches!(err, sqlx::Error::RowNotFound) {
            return ApiError::NotFound;
        }
        if matches!(err, sqlx::Error::PoolTimedOut) {
            return ApiError::NoConnection(err.to_string());
        }
        if let sqlx::Error::Database(db) = &err {
            let constraint = db.constraint().unwrap_or_default().to_owned();
            match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => {
                    return ApiError::Conflict("already exists".into())
                }
                sqlx::error::ErrorKind::ForeignKeyViolation => {
                    return ApiError::field(&constraint, "refers to something that does not exist")
                }
                sqlx::error::ErrorKind::CheckViolation => {
                    return ApiError::field(&constraint, "is out of range")
                }
                _ => {}
            }
            // 23P01: exclusion_violation (overlapping time ranges).
            if db.code().as_deref() == Some("23P01") {
                return ApiError::Conflict("overlaps an existing entry".into());
            }
        }
        ApiError::Unexpected(anyhow::Error::new(err).context("database"))
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => ApiError::Validation(vec![FieldError {
                field: "body".into(),
                message: e.body_text(),
            }]),
            other => ApiError::BadRequest(other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

/// The JSON body extractor every handler uses: rejections become problem JSON.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// The path extractor every handler uses.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

/// The query extractor every handler uses.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

/// PostgreSQL's text cannot hold NUL, so a NUL in a parameter would fail the query: it is
/// refused first, naming where it was. (In a URI it can only be percent-encoded.)
fn without_nul(part: &str, what: &str) -> Result<(), ApiError> {
    if part.to_ascii_lowercase().contains("%00") {
        Err(ApiError::field(what, "must not contain NUL characters"))
    } else {
        Ok(())
    }
}

impl<T, S> axum::extract::FromRequestParts<S> for ApiPath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        without_nul(parts.uri.path(), "path")?;
        let axum::extract::Path(value) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(ApiPath(value))
    }
}

impl<T, S> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        without_nul(parts.uri.query().unwrap_or_default(), "query")?;
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(ApiQuery(value))
    }
}

/// Fallback for unknown routes.
pub async fn not_found() -> ApiError {
    ApiError::NotFound
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_in_a_parameter_is_refused_before_any_query() {
        for (part, refused) in [
            ("metric=a%00b", true),
            ("metric=a%2500b", false),
            ("x=%0A", false),
            ("/api/x%00", true),
        ] {
            assert_eq!(without_nul(part, "query").is_err(), refused, "{part}");
        }
    }

    #[test]
    fn unexpected_errors_hide_their_cause() {
        let err = ApiError::Unexpected(anyhow::anyhow!("relation \"secret_table\" does not exist"));
        let p = err.problem();
        assert_eq!(p.status, 500);
        assert!(!serde_json::to_string(&p).unwrap().contains("secret_table"));
    }
}

/// JSON numbers for integer fields: JSON Schema's `integer` is any number without a
/// fractional part (`5` and `5.0` alike), so the server accepts both, as its contract
/// says.
pub mod integer {
    use serde::{de::Error, Deserialize, Deserializer};

    fn whole(n: &serde_json::Number) -> Option<i64> {
        n.as_i64().or_else(|| {
            let f = n.as_f64()?;
            (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
        })
    }

    pub fn required<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let n = serde_json::Number::deserialize(d)?;
        whole(&n).ok_or_else(|| D::Error::custom(format!("{n} is not an integer")))
    }

    pub fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        Option::<serde_json::Number>::deserialize(d)?
            .map(|n| whole(&n).ok_or_else(|| D::Error::custom(format!("{n} is not an integer"))))
            .transpose()
    }
}
