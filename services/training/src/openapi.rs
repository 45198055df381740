use fitsync_platform::openapi::responses;
use serde_json::{json, Value};

pub fn openapi() -> Value {
    let set = json!({"$ref": "#/components/schemas/WorkoutSet"});
    json!({
        "paths": {
            "/api/workouts/sets": {
                "post": {
                    "summary": "Log one working set (clients, for themselves)",
                    "security": [{"bearer": []}],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {
                        "type": "object", "additionalProperties": false,
                        "required": ["exercise", "reps", "weight_kg"],
                        "properties": {
                            "exercise": {"type": "string", "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$", "maxLength": 64},
                            "reps": {"type": "integer", "minimum": 1, "maximum": 100},
                            "weight_kg": {"type": "number", "minimum": 0, "maximum": 1000},
                            "rir": {"type": "integer", "minimum": 0, "maximum": 10},
                            "performed_at": {"type": "string", "format": "date-time"}
                        }}}}},
                    "responses": responses(json!({"201": {"description": "Logged", "content": {"application/json": {"schema": set}}}}))
                },
                "get": {
                    "summary": "A client's logged sets, newest first",
                    "security": [{"bearer": []}],
                    "parameters": [
                        {"name": "client_id", "in": "query", "schema": {"type": "string", "format": "uuid"}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}
                    ],
                    "responses": responses(json!({"200": {"description": "Sets", "content": {"application/json": {"schema": {"type": "array", "items": set}}}}}))
                }
            }
        },
        "components": {"schemas": {"WorkoutSet": {"type": "object", "properties": {
            "id": {"type": "string", "format": "uuid"}, "client_id": {"type": "string", "format": "uuid"},
            "exercise": {"type": "string"}, "reps": {"type": "integer"}, "weight_kg": {"type": "number"},
            "rir": {"type": ["integer", "null"]}, "performed_at": {"type": "string", "format": "date-time"},
            "logged_at": {"type": "string", "format": "date-time"}}}}}
    })
}
