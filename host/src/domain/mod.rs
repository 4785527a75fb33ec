//! The domain: customers, conversations, routing and service levels, as plain Rust without I/O.

pub mod backoff;
pub mod calls;
pub mod content;
pub mod conversation;
pub mod delivery;
pub mod ids;
pub mod outbound;
pub mod policy;
pub mod routing;
pub mod voice;
