//! The agent and admin JSON API, under `/v1`. Every route needs a bearer token; every query is
//! scoped to the token's tenant, so another tenant's rows answer 404 exactly like missing ones.

pub mod attachments;
pub mod auth;
pub mod channels;
pub mod contacts;
pub mod conversations;
pub mod events;
pub mod json;
pub mod users;

use super::AppState;
use axum::Router;
use axum::routing::{get, post, put};

/// The `/v1` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/conversations", get(conversations::list))
        .route("/v1/conversations/{id}", get(conversations::get))
        .route("/v1/conversations/{id}/messages", post(conversations::send))
        .route("/v1/conversations/{id}/assign", post(conversations::assign))
        .route("/v1/conversations/{id}/claim", post(conversations::claim))
        .route("/v1/conversations/{id}/status", post(conversations::set_status))
        .route("/v1/conversations/{id}/priority", post(conversations::set_priority))
        .route("/v1/conversations/{id}/labels", put(conversations::set_labels))
        .route("/v1/conversations/{id}/notes", post(conversations::add_note))
        .route("/v1/conversations/{id}/typing", post(conversations::typing))
        .route("/v1/conversations/{id}/read", post(conversations::mark_read))
        .route("/v1/conversations/{id}/call", post(conversations::call))
        .route("/v1/messages/{id}", get(conversations::get_message))
        .route("/v1/messages/{id}/private-reply", post(conversations::private_reply))
        .route("/v1/attachments", post(attachments::upload))
        .route("/v1/attachments/{id}", get(attachments::download))
        .route("/v1/contacts", get(contacts::search))
        .route("/v1/contacts/{id}", get(contacts::get))
        .route("/v1/contacts/{id}/attributes", axum::routing::patch(contacts::set_attributes))
        .route("/v1/contacts/{id}/notes", post(contacts::add_note))
        .route("/v1/contacts/{id}/merge", post(contacts::merge))
        .route("/v1/channels", get(channels::list).post(channels::create))
        .route("/v1/channels/{id}", get(channels::get).delete(channels::remove))
        .route("/v1/users", get(users::list).post(users::create))
        .route("/v1/me", get(users::me))
        .route("/v1/me/presence", put(users::set_presence))
        .route("/v1/events", get(events::stream))
}
