use fitsync_platform::openapi::responses;
use serde_json::{json, Value};

pub fn openapi() -> Value {
    let token = json!({"$ref": "#/components/schemas/TokenResponse"});
    json!({
        "paths": {
            "/api/auth/register": {"post": {
                "summary": "Register a client or trainer account and receive a token",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "additionalProperties": false,
                    "required": ["email", "password", "display_name"],
                    "properties": {
                        "email": {"type": "string", "format": "email"},
                        "password": {"type": "string", "minLength": 10, "maxLength": 128},
                        "display_name": {"type": "string", "minLength": 1, "maxLength": 100},
                        "role": {"enum": ["client", "trainer"]}
                    }}}}},
                "responses": responses(json!({"201": {"description": "Registered", "content": {"application/json": {"schema": token}}},
                                          "409": {"description": "Email already registered"}}))
            }},
            "/api/auth/token": {"post": {
                "summary": "OAuth2 token endpoint (password grant)",
                "requestBody": {"required": true, "content": {"application/x-www-form-urlencoded": {"schema": {
                    "type": "object", "required": ["grant_type"],
                    "properties": {"grant_type": {"const": "password"}, "username": {"type": "string"}, "password": {"type": "string"}}}}}},
                "responses": responses(json!({"200": {"description": "Token", "content": {"application/json": {"schema": token}}}}))
            }},
            "/.well-known/jwks.json": {"get": {"summary": "JSON Web Key Set", "responses": {"200": {"description": "JWKS"}}}},
            "/api/auth/jwks.json": {"get": {"summary": "JSON Web Key Set", "responses": {"200": {"description": "JWKS"}}}},
            "/api/users/me": {"get": {"summary": "The caller's account", "security": [{"bearer": []}],
                "responses": responses(json!({"200": {"description": "Account", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/User"}}}}}))}},
            "/api/users/{id}": {"get": {"summary": "An account (self or admin)", "security": [{"bearer": []}],
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
                "responses": responses(json!({"200": {"description": "Account", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/User"}}}},
                                          "404": {"description": "No such account"}}))}}
        },
        "components": {"schemas": {
            "TokenResponse": {"type": "object", "required": ["access_token", "token_type", "expires_in"], "properties": {
                "user_id": {"type": "string", "format": "uuid"},
                "access_token": {"type": "string"}, "token_type": {"const": "Bearer"}, "expires_in": {"type": "integer"}}},
            "User": {"type": "object", "properties": {
                "id": {"type": "string", "format": "uuid"}, "email": {"type": "string"},
                "role": {"enum": ["admin", "gym", "trainer", "client"]},
                "display_name": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"}}}
        }}
    })
}
