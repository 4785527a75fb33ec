//! Delivery states of messages the business sent, and how reports move them.
//!
//! Providers deliver statuses late, twice, and out of order (read before delivered). The rule:
//! the furthest state wins and never moves back. `failed` ends the progression unless the message
//! was already delivered or read, since a later failure report cannot undo a delivery. An unsend
//! (`deleted`) applies to any message, and nothing moves a deleted one.

use serde::{Deserialize, Serialize};

/// Where a message is on its way to the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Stored, waiting for the dispatcher.
    Pending,
    /// Accepted by the provider, not yet sent on.
    Queued,
    /// Sent by the provider.
    Sent,
    /// On the customer's device.
    Delivered,
    /// Seen by the customer.
    Read,
    /// Will not be delivered; the reason is on the message.
    Failed,
    /// Inbound messages: received from the customer.
    Received,
    /// Withdrawn by its author.
    Deleted,
}

impl DeliveryState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Queued => "queued",
            DeliveryState::Sent => "sent",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Read => "read",
            DeliveryState::Failed => "failed",
            DeliveryState::Received => "received",
            DeliveryState::Deleted => "deleted",
        }
    }

    /// Parse a stored name.
    pub fn parse(text: &str) -> Option<DeliveryState> {
        Some(match text {
            "pending" => DeliveryState::Pending,
            "queued" => DeliveryState::Queued,
            "sent" => DeliveryState::Sent,
            "delivered" => DeliveryState::Delivered,
            "read" => DeliveryState::Read,
            "failed" => DeliveryState::Failed,
            "received" => DeliveryState::Received,
            "deleted" => DeliveryState::Deleted,
            _ => return None,
        })
    }

    fn rank(self) -> u8 {
        match self {
            DeliveryState::Pending => 0,
            DeliveryState::Queued => 1,
            DeliveryState::Sent => 2,
            DeliveryState::Delivered => 3,
            DeliveryState::Read => 4,
            DeliveryState::Failed | DeliveryState::Received | DeliveryState::Deleted => 5,
        }
    }

    /// The state after a report of `reported` arrives at a message in `self`; `None` when the
    /// report changes nothing.
    pub fn advance(self, reported: DeliveryState) -> Option<DeliveryState> {
        use DeliveryState::*;
        match (self, reported) {
            (Deleted, _) => None,
            // Its author withdrew it (an unsend): true whichever way it went.
            (_, Deleted) => Some(Deleted),
            (Failed | Received, _) => None,
            (_, Received | Pending) => None,
            (Delivered | Read, Failed) => None,
            (_, Failed) => Some(Failed),
            (current, reported) if reported.rank() > current.rank() => Some(reported),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DeliveryState::*;

    #[test]
    fn the_furthest_state_wins_and_never_moves_back() {
        assert_eq!(Pending.advance(Sent), Some(Sent));
        assert_eq!(Sent.advance(Read), Some(Read));
        assert_eq!(Read.advance(Delivered), None);
        assert_eq!(Delivered.advance(Sent), None);
        assert_eq!(Sent.advance(Sent), None);
        assert_eq!(Sent.advance(Failed), Some(Failed));
        assert_eq!(Failed.advance(Delivered), None);
        assert_eq!(Read.advance(Failed), None);
        assert_eq!(Received.advance(Read), None);
        assert_eq!(Received.advance(Deleted), Some(Deleted));
        assert_eq!(Deleted.advance(Read), None);
        assert_eq!(Delivered.advance(Deleted), Some(Deleted));
    }

    #[test]
    fn names_round_trip() {
        for s in [Pending, Queued, Sent, Delivered, Read, Failed, Received, Deleted] {
            assert_eq!(super::DeliveryState::parse(s.as_str()), Some(s));
        }
    }
}
