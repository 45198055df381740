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
                "summary": "OAuth2 token endpoint: password, refresh_token and client_credentials grants",
                "description": "Client credentials may also come as HTTP Basic. Refresh tokens are single-use; a reused one revokes its family.",
                "requestBody": {"required": true, "content": {"application/x-www-form-urlencoded": {"schema": {
                    "type": "object", "required": ["grant_type"],
                    "properties": {"grant_type": {"enum": ["password", "refresh_token", "client_credentials"]},
                                   "username": {"type": "string"}, "password": {"type": "string"},
                                   "refresh_token": {"type": "string"},
                                   "client_id": {"type": "string"}, "client_secret": {"type": "string"}}}}}},
                "responses": responses(json!({"200": {"description": "Token", "content": {"application/json": {"schema": token}}},
                                              "429": {"description": "Account locked or address throttled"}}))
            }},
            "/api/auth/logout": {"post": {
                "summary": "Revoke this access token and, if given, the refresh token's family",
                "security": [{"bearer": []}],
                "requestBody": {"required": false, "content": {"application/json": {"schema": {
                    "type": "object", "additionalProperties": false, "properties": {"refresh_token": {"type": "string"}}}}}},
                "responses": responses(json!({"204": {"description": "Logged out"}}))
            }},
            "/api/auth/logout-all": {"post": {
                "summary": "Revoke every access and refresh token of the caller",
                "security": [{"bearer": []}],
                "responses": responses(json!({"204": {"description": "Logged out everywhere"}}))
            }},
            "/api/auth/service-accounts": {"post": {
                "summary": "Create a service account (admins); the secret is shown once",
                "security": [{"bearer": []}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "additionalProperties": false, "required": ["client_id"],
                    "properties": {"client_id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{2,62}$"}}}}}},
                "responses": responses(json!({"201": {"description": "Created"}, "409": {"description": "client_id taken"}}))
            }},
            "/.well-known/jwks.json": {"get": {"summary": "JSON Web Key Set (signing and retired keys)", "responses": {"200": {"description": "JWKS"}}}},
            "/.well-known/openid-configuration": {"get": {"summary": "OpenID discovery", "responses": {"200": {"description": "Discovery document"}}}},
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
                "access_token": {"type": "string"}, "token_type": {"const": "Bearer"}, "expires_in": {"type": "integer"},
                "refresh_token": {"type": "string"}}},
            "User": {"type": "object", "properties": {
                "id": {"type": "string", "format": "uuid"}, "email": {"type": "string"},
                "role": {"enum": ["admin", "gym", "trainer", "client", "service"]},
                "display_name": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"}}}
        }}
    })
}
