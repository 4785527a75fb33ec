//! # switchboard-sdk
//!
//! Everything a Switchboard channel connector needs, so that the connector itself is only its
//! business logic: translating one provider's webhooks and API into the contract in
//! `wit/connector.wit` (0.1.0) and `wit/v0.2/connector.wit` (0.2.0, whose `http` import the
//! SDK's [`http`] client uses, and whose `crypto` import [`signature`] uses).
//!
//! ```ignore
//! use switchboard_sdk::prelude::*;
//!
//! struct MyChannel;
//!
//! impl Connector for MyChannel {
//!     fn describe() -> ConnectorInfo { /* id, capabilities, settings, egress */ }
//!     fn handle_webhook(request: HttpRequest) -> Result<WebhookOutcome, WebhookRejection> { /* ... */ }
//!     fn send(message: OutboundMessage) -> Result<SendReceipt, SendError> { /* ... */ }
//! }
//!
//! switchboard_sdk::export_connector!(MyChannel);
//! ```
//!
//! The complete, compiled example lives in `examples/signed-webhook`.

pub mod alloc;
pub mod errors;
pub mod form;
pub mod http;
pub mod json;
pub mod signature;
#[cfg(target_arch = "wasm32")]
pub mod stdio;
pub mod webhook;

/// Bindings generated from the contract's newest version, `wit/v0.2/connector.wit` (world
/// `channel`), which adds the host's `http` and `crypto` imports to everything in
/// `wit/connector.wit`.
#[allow(missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        path: ["../wit", "../wit/v0.2"],
        world: "switchboard:connector/channel@0.2.0",
        pub_export_macro: true,
        export_macro_name: "__export_channel",
        default_bindings_module: "switchboard_sdk::bindings",
        generate_all,
    });
}

pub use serde_json;

/// The contract's types, under short names.
pub mod types {
    pub use crate::bindings::switchboard::connector0_1_0::types::*;
}

/// The host's imports for the channel being called: settings, state, logging, call routing.
pub mod host {
    pub use crate::bindings::switchboard::connector0_1_0::call_routing::{
        self, AgentTarget, CallDecision, IncomingCall, QueuePosition, route_call,
    };
    pub use crate::bindings::switchboard::connector0_1_0::host::{
        LogLevel, log, setting, state_delete, state_get, state_set, webhook_url,
    };

    /// The value of a setting, or an error naming the missing key (for `send` and `act`).
    pub fn require_setting(key: &str) -> Result<String, crate::types::SendError> {
        setting(key).filter(|v| !v.is_empty()).ok_or_else(|| {
            crate::types::SendError::Auth(crate::errors::provider_error(
                "missing-setting",
                &format!("the channel has no value for setting `{key}`: set it in the channel's settings"),
            ))
        })
    }

    /// Log at info level.
    pub fn info(message: &str) {
        log(LogLevel::Info, message)
    }

    /// Log at warn level.
    pub fn warn(message: &str) {
        log(LogLevel::Warn, message)
    }
}

/// What a connector printed without ending its line goes to the host's log (see [`stdio`]);
/// [`export_connector!`] calls this as each call returns. Outside the host it does nothing.
#[doc(hidden)]
pub fn __end_of_call() {
    #[cfg(target_arch = "wasm32")]
    stdio::flush();
}

/// What most connectors import.
pub mod prelude {
    pub use crate::Connector;
    pub use crate::errors::{classify_http_failure, provider_error};
    pub use crate::host::{self, require_setting};
    pub use crate::types::*;
    pub use crate::webhook::{RequestExt, reject, respond};
}

use types::{
    Action, ActionReceipt, ConnectorInfo, FetchedMedia, HttpRequest, Media, OutboundMessage,
    SendError, SendReceipt, WebhookOutcome, WebhookRejection,
};

impl types::Capabilities {
    /// A channel with nothing beyond plain text: no reply window, no length limit, no media and
    /// no extras. Start from it and set what the channel has:
    /// `Capabilities { calls: true, ..Capabilities::none() }`.
    pub fn none() -> types::Capabilities {
        types::Capabilities {
            reply_window_seconds: None,
            human_agent_window_seconds: None,
            max_text_length: None,
            attachment_kinds: Vec::new(),
            templates: false,
            interactive: false,
            reactions: false,
            replies: false,
            typing: false,
            read_receipts: false,
            comments: false,
            calls: false,
        }
    }
}

/// A channel connector. Implement it on a unit struct and pass the struct to
/// [`export_connector!`]. Only `describe`, `handle_webhook` and `send` are required; the others
/// answer that the channel does not support them.
pub trait Connector {
    /// Describe the connector: id, version, capabilities, settings, egress hosts.
    fn describe() -> ConnectorInfo;

    /// Verify and translate one webhook request.
    fn handle_webhook(request: HttpRequest) -> Result<WebhookOutcome, WebhookRejection>;

    /// Deliver one message to the provider.
    fn send(message: OutboundMessage) -> Result<SendReceipt, SendError>;

    /// Perform an action (typing, mark-read, start-call, private reply).
    fn act(action: Action) -> Result<ActionReceipt, SendError> {
        let name = match action {
            Action::Typing(_) => "typing",
            Action::MarkRead(_) => "mark-read",
            Action::StartCall(_) => "start-call",
            Action::PrivateReply(_) => "private-reply",
        };
        Err(SendError::Rejected(errors::provider_error(
            "unsupported-action",
            &format!("this channel does not support the `{name}` action"),
        )))
    }

    /// Download an inbound media item's bytes. The default downloads `media.url` when present.
    fn fetch_media(media: Media) -> Result<FetchedMedia, SendError> {
        let Some(url) = media.url else {
            return Err(SendError::Rejected(errors::provider_error(
                "no-media-url",
                "this media item has no URL and the channel does not fetch media by id",
            )));
        };
        let response = http::Request::get(&url).send().map_err(errors::from_http_error)?;
        if !response.is_success() {
            return Err(errors::classify_http_failure(&response));
        }
        Ok(FetchedMedia {
            mime_type: response.header("content-type").map(str::to_owned).or(media.mime_type),
            filename: media.filename,
            data: response.body,
        })
    }
}

/// Export a [`Connector`] implementation as the component's `connector` interface, and install
/// [`alloc::CallArena`] as the component's allocator.
///
/// ```ignore
/// switchboard_sdk::export_connector!(MyChannel);
/// // or, to keep Rust's default allocator (or to install your own):
/// switchboard_sdk::export_connector!(MyChannel, system_allocator);
/// ```
#[macro_export]
macro_rules! export_connector {
    ($connector:ty) => {
        #[global_allocator]
        static __SWITCHBOARD_ALLOCATOR: $crate::alloc::CallArena = $crate::alloc::CallArena::new();

        $crate::export_connector!($connector, system_allocator);
    };
    ($connector:ty, system_allocator) => {
        #[doc(hidden)]
        pub struct __SwitchboardExport;

        impl $crate::bindings::exports::switchboard::connector0_1_0::connector::Guest for __SwitchboardExport {
            fn describe() -> $crate::types::ConnectorInfo {
                let result = <$connector as $crate::Connector>::describe();
                $crate::__end_of_call();
                result
            }
            fn handle_webhook(
                request: $crate::types::HttpRequest,
            ) -> Result<$crate::types::WebhookOutcome, $crate::types::WebhookRejection> {
                let result = <$connector as $crate::Connector>::handle_webhook(request);
                $crate::__end_of_call();
                result
            }
            fn send(
                message: $crate::types::OutboundMessage,
            ) -> Result<$crate::types::SendReceipt, $crate::types::SendError> {
                let result = <$connector as $crate::Connector>::send(message);
                $crate::__end_of_call();
                result
            }
            fn act(
                action: $crate::types::Action,
            ) -> Result<$crate::types::ActionReceipt, $crate::types::SendError> {
                let result = <$connector as $crate::Connector>::act(action);
                $crate::__end_of_call();
                result
            }
            fn fetch_media(
                media: $crate::types::Media,
            ) -> Result<$crate::types::FetchedMedia, $crate::types::SendError> {
                let result = <$connector as $crate::Connector>::fetch_media(media);
                $crate::__end_of_call();
                result
            }
        }

        $crate::bindings::__export_channel!(__SwitchboardExport with_types_in $crate::bindings);
    };
}
