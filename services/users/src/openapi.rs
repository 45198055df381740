use fitsync_platform::openapi::responses;
use serde_json::{json, Value};

pub fn openapi() -> Value {
    let token = json!({"$ref": "#/components/schemas/TokenResponse"});
    let id = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}});
    json!({
        "paths": {
            "/api/auth/register": {"post": {
                "summary": "Register a client, trainer or gym-owner account; always 202 (no account enumeration), then sign in",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "additionalProperties": false,
                    "required": ["email", "password", "display_name"],
                    "properties": {
                        "email": {"type": "string", "format": "email"},
                        "password": {"type": "string", "minLength": 10, "maxLength": 128},
                        "display_name": {"type": "string", "minLength": 1, "maxLength": 100},
                        "role": {"enum": ["client", "trainer", "gym"]}
                    }}}}},
                "responses": responses(json!({"202": {"description": "Accepted: a verification email, or (address taken) an email to its owner"},
                                          "429": {"description": "Throttled"}}))
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
            "/api/users/relationships": {
                "post": {"summary": "Invite: a trainer names a client_id, a client names a trainer_id", "security": [{"bearer": []}],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false,
                        "properties": {"client_id": {"type": "string", "format": "uuid"}, "trainer_id": {"type": "string", "format": "uuid"}}}}}},
                    "responses": responses(json!({"201": {"description": "Invited"}, "409": {"description": "Already invited or active"}}))},
                "get": {"summary": "The caller's relationships, current and past", "security": [{"bearer": []}],
                    "responses": responses(json!({"200": {"description": "Relationships"}}))}
            },
            "/api/users/relationships/{id}/accept": {"post": {"summary": "Accept (the invited side only)", "security": [{"bearer": []}],
                "parameters": [id.clone()], "responses": responses(json!({"200": {"description": "Active"}, "404": {"description": "Not yours"}, "409": {"description": "Not open"}}))}},
            "/api/users/relationships/{id}/decline": {"post": {"summary": "Decline (the invited side only)", "security": [{"bearer": []}],
                "parameters": [id.clone()], "responses": responses(json!({"200": {"description": "Declined"}, "404": {"description": "Not yours"}, "409": {"description": "Not open"}}))}},
            "/api/users/relationships/{id}/end": {"post": {"summary": "End (either side); the trainer loses access", "security": [{"bearer": []}],
                "parameters": [id.clone()], "responses": responses(json!({"200": {"description": "Ended"}, "404": {"description": "Not yours"}, "409": {"description": "Already over"}}))}},
            "/api/gyms": {"post": {"summary": "Create the caller's gym (role gym, once)", "security": [{"bearer": []}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false,
                    "required": ["name"], "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 100}}}}}},
                "responses": responses(json!({"201": {"description": "Created"}, "409": {"description": "Already has a gym"}}))}},
            "/api/gyms/invitations": {"get": {"summary": "Open invitations to the caller's email", "security": [{"bearer": []}],
                "responses": responses(json!({"200": {"description": "Invitations"}}))}},
            "/api/gyms/invitations/{id}/accept": {"post": {"summary": "Join the gym (the invited address, in the invited role)", "security": [{"bearer": []}],
                "parameters": [id.clone()], "responses": responses(json!({"200": {"description": "Joined"}, "404": {"description": "Not yours"}, "409": {"description": "Not open, or already in a gym"}}))}},
            "/api/gyms/{id}/members": {"get": {"summary": "Members (owner, admins)", "security": [{"bearer": []}],
                "parameters": [id.clone()], "responses": responses(json!({"200": {"description": "Members"}, "404": {"description": "No such gym"}}))}},
            "/api/gyms/{id}/invitations": {"post": {"summary": "Invite a trainer or client by email (owner, admins)", "security": [{"bearer": []}],
                "parameters": [id.clone()],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false,
                    "required": ["email", "role"], "properties": {"email": {"type": "string", "format": "email"}, "role": {"enum": ["trainer", "client"]}}}}}},
                "responses": responses(json!({"201": {"description": "Invited"}, "404": {"description": "No such gym"}}))}},
            "/api/gyms/{id}/members/{user_id}/remove": {"post": {"summary": "Remove a member (owner, admins) or leave", "security": [{"bearer": []}],
                "parameters": [id.clone(), {"name": "user_id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
                "responses": responses(json!({"204": {"description": "Removed"}, "404": {"description": "Not a member"}}))}},
            "/api/auth/verify-email": {"post": {"summary": "Verify the address with the emailed token",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false,
                    "required": ["token"], "properties": {"token": {"type": "string"}}}}}},
                "responses": responses(json!({"204": {"description": "Verified"}}))}},
            "/api/auth/verify-email/request": {"post": {"summary": "Send the verification email again", "security": [{"bearer": []}],
                "responses": responses(json!({"202": {"description": "Requested"}, "409": {"description": "Already verified"}}))}},
            "/api/auth/password-reset": {"post": {"summary": "Email a reset link (202 whether or not the address has an account)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false,
                    "required": ["email"], "properties": {"email": {"type": "string", "format": "email"}}}}}},
                "responses": responses(json!({"202": {"description": "Requested"}, "429": {"description": "Throttled"}}))}},
            "/api/auth/password-reset/confirm": {"post": {"summary": "Set a new password with the emailed token; every session ends",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false,
                    "required": ["token", "password"], "properties": {"token": {"type": "string"}, "password": {"type": "string", "minLength": 10, "maxLength": 128}}}}}},
                "responses": responses(json!({"204": {"description": "Changed"}}))}},
            "/api/profiles/me": {
                "get": {"summary": "The caller's profile", "security": [{"bearer": []}], "responses": responses(json!({"200": {"description": "Profile"}}))},
                "put": {"summary": "Replace the caller's profile (client or trainer fields)", "security": [{"bearer": []}],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"oneOf": [
                        {"type": "object", "additionalProperties": false, "properties": {
                            "goals": {"type": "string", "maxLength": 2000}, "birthdate": {"type": "string", "format": "date"},
                            "height_cm": {"type": "number", "minimum": 50, "maximum": 272},
                            "experience": {"enum": ["beginner", "intermediate", "advanced"]},
                            "health_notes": {"type": "string", "maxLength": 4000}}},
                        {"type": "object", "additionalProperties": false, "properties": {
                            "bio": {"type": "string", "maxLength": 4000}, "specialties": {"type": "array", "items": {"type": "string"}},
                            "certifications": {"type": "array", "items": {"type": "string"}}, "time_zone": {"type": "string"}}}]}}}},
                    "responses": responses(json!({"200": {"description": "Profile"}}))}
            },
            "/api/profiles/{id}": {"get": {"summary": "A profile: trainers' for anyone signed in; a client's as for their data, health notes only for them, their trainer and admins (audited)",
                "security": [{"bearer": []}], "parameters": [id.clone()],
                "responses": responses(json!({"200": {"description": "Profile"}, "404": {"description": "No such user"}}))}},
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
