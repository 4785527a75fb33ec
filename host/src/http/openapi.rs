//! The OpenAPI 3.1 document of the agent and admin API, served at `/openapi.json`.

use serde_json::{Value, json};

fn error_responses(codes: &[u16]) -> serde_json::Map<String, Value> {
    codes
        .iter()
        .map(|code| {
            let text = match code {
                400 => "Malformed request: the message names the field",
                401 => "Missing or invalid bearer token",
                403 => "The token's role may not do this",
                404 => "No such item in the caller's tenant",
                409 => "The request conflicts with the current state",
                422 => "The request is well-formed but refused: the message names the rule",
                _ => "Error",
            };
            (code.to_string(), json!({ "description": text, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }))
        })
        .collect()
}

fn op(summary: &str, body: Option<&str>, ok: (u16, &str), errors: &[u16]) -> Value {
    let mut responses = error_responses(errors);
    responses.insert(ok.0.to_string(), json!({ "description": ok.1, "content": { "application/json": { "schema": { "type": "object" } } } }));
    let mut operation = json!({ "summary": summary, "responses": responses });
    if let Some(schema) = body {
        operation["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } });
    }
    operation
}

fn id_param(name: &str) -> Value {
    json!([{ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }])
}

/// The document.
pub fn document() -> Value {
    let common = [400, 401, 404];
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Switchboard API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The agent and admin API of a Switchboard host. Every call needs `Authorization: Bearer <token>`; data is scoped to the token's tenant.",
        },
        "security": [{ "bearer": [] }],
        "paths": {
            "/v1/conversations": { "get": {
                "summary": "List conversations, newest first",
                "parameters": [
                    { "name": "status", "in": "query", "schema": { "enum": ["open", "pending", "snoozed", "resolved"] } },
                    { "name": "channel_id", "in": "query", "schema": { "type": "string" } },
                    { "name": "assignee_id", "in": "query", "description": "An agent id, `me`, or `none`", "schema": { "type": "string" } },
                    { "name": "contact_id", "in": "query", "schema": { "type": "string" } },
                    { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 100, "default": 25 } },
                    { "name": "cursor", "in": "query", "description": "`next_cursor` of the previous page", "schema": { "type": "string" } }
                ],
                "responses": { "200": { "description": "A page: `items` and `next_cursor`" }, "400": { "description": "Bad parameter" }, "401": { "description": "No token" } }
            }},
            "/v1/conversations/{id}": { "parameters": id_param("id"), "get": op("A conversation with its messages and notes", None, (200, "The conversation"), &common) },
            "/v1/conversations/{id}/messages": { "parameters": id_param("id"), "post": {
                "summary": "Send a message: checked against the channel's rules, queued durably, delivered with retries",
                "parameters": [{ "name": "Idempotency-Key", "in": "header", "schema": { "type": "string", "maxLength": 200 } }],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/SendRequest" } } } },
                "responses": { "202": { "description": "Queued: `id` and `message`" }, "400": { "description": "Malformed" }, "401": { "description": "No token" }, "404": { "description": "No such conversation" }, "422": { "description": "Refused by a rule: reply window, consent, length, content support" } }
            }},
            "/v1/conversations/{id}/assign": { "parameters": id_param("id"), "post": op("Assign to an agent (null unassigns) and optionally a team", Some("AssignRequest"), (200, "The conversation"), &[400, 401, 404, 422]) },
            "/v1/conversations/{id}/claim": { "parameters": id_param("id"), "post": op("Assign to the caller", None, (200, "The conversation"), &common) },
            "/v1/conversations/{id}/status": { "parameters": id_param("id"), "post": op("Change the status", Some("StatusRequest"), (200, "The conversation"), &[400, 401, 404, 422]) },
            "/v1/conversations/{id}/priority": { "parameters": id_param("id"), "post": op("Change the priority", Some("PriorityRequest"), (200, "The conversation"), &[400, 401, 404, 422]) },
            "/v1/conversations/{id}/labels": { "parameters": id_param("id"), "put": op("Replace the labels", Some("LabelsRequest"), (200, "The conversation"), &[400, 401, 404, 422]) },
            "/v1/conversations/{id}/notes": { "parameters": id_param("id"), "post": op("Add an internal note", Some("NoteRequest"), (201, "The note"), &common) },
            "/v1/conversations/{id}/typing": { "parameters": id_param("id"), "post": op("Show or hide the typing indicator", Some("TypingRequest"), (204, "Done"), &[400, 401, 404, 422]) },
            "/v1/conversations/{id}/call": { "parameters": id_param("id"), "post": op("Call the customer from this conversation; the call joins it", Some("CallRequest"), (202, "The provider's call id"), &[400, 401, 404, 422]) },
            "/v1/conversations/{id}/read": { "parameters": id_param("id"), "post": op("Mark the customer's latest message read on the channel", None, (204, "Done"), &[401, 404, 409, 422]) },
            "/v1/messages/{id}/private-reply": { "parameters": id_param("id"), "post": op("Answer a public comment privately, in direct messages", Some("PrivateReplyRequest"), (201, "The recorded reply"), &[400, 401, 404, 422]) },
            "/v1/attachments": { "post": {
                "summary": "Upload a file (the raw body, with its Content-Type) to send as media",
                "parameters": [{ "name": "filename", "in": "query", "schema": { "type": "string" } }],
                "responses": { "201": { "description": "The attachment: id, mime_type, size_bytes, sha256" }, "400": { "description": "Empty body" } }
            }},
            "/v1/attachments/{id}": { "parameters": id_param("id"), "get": { "summary": "Download an attachment's bytes", "responses": { "200": { "description": "The bytes, with their Content-Type" }, "404": { "description": "No such attachment" } } } },
            "/v1/messages/{id}": { "parameters": id_param("id"), "get": op("One message, with its delivery status and any provider error", None, (200, "The message"), &common) },
            "/v1/contacts": { "get": {
                "summary": "Search contacts by name, phone or email",
                "parameters": [{ "name": "q", "in": "query", "required": true, "schema": { "type": "string" } }, { "name": "limit", "in": "query", "schema": { "type": "integer" } }],
                "responses": { "200": { "description": "`items`" }, "400": { "description": "Bad parameter" } }
            }},
            "/v1/contacts/{id}": { "parameters": id_param("id"), "get": op("A contact: identities, attributes, notes and the cross-channel timeline", None, (200, "The contact"), &common) },
            "/v1/contacts/{id}/attributes": { "parameters": id_param("id"), "patch": op("Merge attributes (null removes one)", Some("Attributes"), (200, "The contact"), &common) },
            "/v1/contacts/{id}/notes": { "parameters": id_param("id"), "post": op("Add a note about the customer", Some("NoteRequest"), (201, "The note"), &common) },
            "/v1/contacts/{id}/merge": { "parameters": id_param("id"), "post": op("Merge another contact into this one", Some("MergeRequest"), (200, "The surviving contact"), &common) },
            "/v1/channels": {
                "get": op("The tenant's channels (secrets masked)", None, (200, "`items`"), &[401]),
                "post": op("Add or replace a channel (admin)", Some("ChannelRequest"), (201, "The channel, with its webhook URL"), &[400, 401, 403, 409, 422])
            },
            "/v1/channels/{id}": { "parameters": id_param("id"),
                "get": op("One channel (secrets masked)", None, (200, "The channel"), &common),
                "delete": op("Remove a channel (admin); its history stays", None, (204, "Removed"), &[401, 403, 404])
            },
            "/v1/users": {
                "get": op("The tenant's users", None, (200, "`items`"), &[401]),
                "post": op("Create a user with a token (admin)", Some("UserRequest"), (201, "The user and its token, shown once"), &[400, 401, 403, 422])
            },
            "/v1/me": { "get": op("The caller", None, (200, "Tenant and user"), &[401]) },
            "/v1/me/presence": { "put": op("Set presence and per-channel-kind capacity", Some("PresenceRequest"), (200, "The caller"), &[400, 401, 422]) },
            "/v1/events": { "get": {
                "summary": "Server-Sent Events for agent desks; resume with Last-Event-ID",
                "parameters": [{ "name": "Last-Event-ID", "in": "header", "schema": { "type": "string" } }, { "name": "after", "in": "query", "schema": { "type": "integer" } }],
                "responses": { "200": { "description": "text/event-stream: each event has an id, a kind (`message.created`, `message.status`, `conversation.assigned`, ...) and JSON data" } }
            }},
            "/hooks/{channel}": { "parameters": id_param("channel"), "post": {
                "summary": "Provider webhooks; answered only after the events are committed",
                "security": [],
                "responses": { "200": { "description": "The connector's reply" }, "401": { "description": "Bad signature" }, "404": { "description": "Unknown channel" }, "413": { "description": "Body too large" } }
            }}
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Error": { "type": "object", "properties": { "error": { "type": "object", "properties": { "code": { "type": "string" }, "message": { "type": "string" } } } } },
                "SendRequest": { "type": "object", "additionalProperties": false, "description": "Either `text` or `content`", "properties": {
                    "text": { "type": "string" },
                    "content": { "$ref": "#/components/schemas/Content" },
                    "reply_to": { "type": "string", "description": "Id of a message in this conversation" }
                }},
                "Content": { "oneOf": [
                    { "type": "object", "required": ["type", "text"], "properties": { "type": { "const": "text" }, "text": { "type": "string" } } },
                    { "type": "object", "required": ["type", "media"], "properties": { "type": { "const": "media" }, "media": { "type": "object", "required": ["kind", "url"], "properties": { "kind": { "enum": ["image", "audio", "voice", "video", "document", "sticker", "file"] }, "url": { "type": "string" }, "caption": { "type": "string" }, "filename": { "type": "string" }, "mime_type": { "type": "string" } } } } },
                    { "type": "object", "required": ["type", "template"], "properties": { "type": { "const": "template" }, "template": { "type": "object", "required": ["name", "language"], "properties": { "name": { "type": "string" }, "language": { "type": "string" }, "components": { "type": "array" } } } } },
                    { "type": "object", "required": ["type", "interactive"], "properties": { "type": { "const": "interactive" }, "interactive": { "type": "object", "required": ["body"], "properties": { "header": { "type": "string" }, "body": { "type": "string" }, "footer": { "type": "string" }, "buttons": { "type": "array" }, "list": { "type": "object" } } } } }
                ]},
                "AssignRequest": { "type": "object", "additionalProperties": false, "properties": { "assignee_id": { "type": ["string", "null"] }, "team": { "type": "string" } } },
                "StatusRequest": { "type": "object", "additionalProperties": false, "required": ["status"], "properties": { "status": { "enum": ["open", "pending", "snoozed", "resolved"] } } },
                "PriorityRequest": { "type": "object", "additionalProperties": false, "required": ["priority"], "properties": { "priority": { "enum": ["low", "normal", "high", "urgent"] } } },
                "LabelsRequest": { "type": "object", "additionalProperties": false, "required": ["labels"], "properties": { "labels": { "type": "array", "maxItems": 50, "items": { "type": "string", "maxLength": 64 } } } },
                "NoteRequest": { "type": "object", "additionalProperties": false, "required": ["body"], "properties": { "body": { "type": "string", "maxLength": 10000 } } },
                "PrivateReplyRequest": { "type": "object", "additionalProperties": false, "required": ["text"], "properties": { "text": { "type": "string", "maxLength": 1000 } } },
                "CallRequest": { "type": "object", "additionalProperties": false, "properties": { "channel_id": { "type": "string" } } },
                "TypingRequest": { "type": "object", "additionalProperties": false, "required": ["active"], "properties": { "active": { "type": "boolean" } } },
                "Attributes": { "type": "object", "maxProperties": 100 },
                "MergeRequest": { "type": "object", "additionalProperties": false, "required": ["from"], "properties": { "from": { "type": "string" } } },
                "ChannelRequest": { "type": "object", "additionalProperties": false, "required": ["id", "connector"], "properties": { "id": { "type": "string" }, "connector": { "type": "string" }, "settings": { "type": "object", "additionalProperties": { "type": "string" } }, "egress": { "type": "array", "items": { "type": "string" } }, "allow_private_egress": { "type": "boolean" } } },
                "UserRequest": { "type": "object", "additionalProperties": false, "required": ["name", "role"], "properties": { "name": { "type": "string" }, "role": { "enum": ["admin", "agent"] } } },
                "PresenceRequest": { "type": "object", "additionalProperties": false, "required": ["presence"], "properties": { "presence": { "enum": ["available", "away", "offline"] }, "capacity": { "type": "object", "additionalProperties": { "type": "integer", "maximum": 100 } }, "voice_address": { "type": "string" } } }
            }
        }
    })
}
