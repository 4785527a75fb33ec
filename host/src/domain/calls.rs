//! Voice calls waiting for a routing decision.

/// A call the voice connector is holding while the host decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingCall {
    /// The provider's call id.
    pub call_id: String,
    /// The caller's provider id.
    pub caller_id: String,
    /// The caller's phone number, when known.
    pub caller_phone: Option<String>,
    /// The number dialled.
    pub called: String,
    /// The caller's menu choice, if a menu ran first.
    pub menu_choice: Option<String>,
    /// For calls placed with `start-call`, the host's reference (a conversation id).
    pub reference: Option<String>,
}

/// What to do with a waiting call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallDecision {
    /// Ring this agent at this address.
    Connect {
        /// The agent's id.
        agent_id: String,
        /// Where to ring (`client:alice`, a SIP URI, a number).
        address: String,
        /// Seconds to ring.
        ring_seconds: u32,
    },
    /// Hold the caller in a queue.
    Enqueue {
        /// The queue's name.
        queue: String,
        /// 1 for the next caller served.
        position: u32,
        /// Expected wait.
        expected_wait_seconds: u32,
    },
    /// Take a voicemail.
    Voicemail {
        /// Why, to announce.
        reason: String,
    },
}
