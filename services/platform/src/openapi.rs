//! One OpenAPI 3.1 document merged from every service's fragment.

use serde_json::{json, Map, Value};

/// Merges `paths` and `components.schemas` of each fragment into one document.
pub fn merge(fragments: &[Value]) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for fragment in fragments {
        if let Some(p) = fragment.get("paths").and_then(Value::as_object) {
            paths.extend(p.clone());
        }
        if let Some(s) = fragment
            .pointer("/components/schemas")
            .and_then(Value::as_object)
        {
            schemas.extend(s.clone());
        }
    }
    schemas.insert(
        "Problem".into(),
        json!({
            "type": "object",
            "description": "RFC 9457 problem details",
            "required": ["type", "title", "status"],
            "properties": {
                "type": {"type": "string"}, "title": {"type": "string"},
                "status": {"type": "integer"}, "detail": {"type": "string"},
                "errors": {"type": "array", "items": {"type": "object", "properties": {
                    "field": {"type": "string"}, "message": {"type": "string"}}}}
            }
        }),
    );
    json!({
        "openapi": "3.1.0",
        "info": {"title": "FitSync API", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
        },
    })
}

/// An operation's `responses`: `specific` plus the problem responses every operation
/// shares (400, 401, 403, 422), unless `specific` already names them.
pub fn responses(specific: Value) -> Value {
    let problem =
        json!({"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}});
    let mut all = json!({
        "400": {"description": "Malformed request", "content": problem},
        "401": {"description": "Missing or invalid token", "content": problem},
        "403": {"description": "Not allowed for this caller", "content": problem},
        "422": {"description": "Invalid field values", "content": problem},
    });
    if let (Some(all), Value::Object(specific)) = (all.as_object_mut(), specific) {
        all.extend(specific);
    }
    all
}
