use fitsync_platform::openapi::responses;
use serde_json::{json, Value};

pub fn openapi() -> Value {
    let client = json!({"name": "client_id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}});
    json!({
        "paths": {
            "/api/progress/{client_id}/e1rm": {"get": {
                "summary": "Best estimated one-rep max per exercise (Epley; Brzycki alongside)",
                "security": [{"bearer": []}],
                "parameters": [client],
                "responses": responses(json!({"200": {"description": "Estimates", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {
                        "client_id": {"type": "string", "format": "uuid"},
                        "exercises": {"type": "array", "items": {"type": "object", "properties": {
                            "exercise": {"type": "string"}, "e1rm_kg": {"type": "number"},
                            "e1rm_brzycki_kg": {"type": ["number", "null"]}, "set_id": {"type": "string", "format": "uuid"},
                            "achieved_at": {"type": "string", "format": "date-time"},
                            "updated_at": {"type": "string", "format": "date-time"}}}}}}}}}}))
            }},
            "/api/progress/{client_id}/volume": {"get": {
                "summary": "Weekly volume load (Σ weight × reps), oldest week first",
                "security": [{"bearer": []}],
                "parameters": [client, {"name": "weeks", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 260}}],
                "responses": responses(json!({"200": {"description": "Weeks", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {
                        "client_id": {"type": "string", "format": "uuid"},
                        "weeks": {"type": "array", "items": {"type": "object", "properties": {
                            "week_start": {"type": "string", "format": "date"}, "volume_kg": {"type": "number"},
                            "sets": {"type": "integer"}}}}}}}}}}))
            }}
        }
    })
}
