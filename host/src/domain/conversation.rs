//! Conversations: their lifecycle, and which conversation a new inbound message joins.

use serde::{Deserialize, Serialize};

/// Where a conversation is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationStatus {
    /// Needs the business's attention.
    Open,
    /// Waiting on the customer or a third party.
    Pending,
    /// Put aside until a time; a new inbound message wakes it.
    Snoozed,
    /// Done.
    Resolved,
}

impl ConversationStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationStatus::Open => "open",
            ConversationStatus::Pending => "pending",
            ConversationStatus::Snoozed => "snoozed",
            ConversationStatus::Resolved => "resolved",
        }
    }

    /// Parse a stored or requested name.
    pub fn parse(text: &str) -> Option<ConversationStatus> {
        Some(match text {
            "open" => ConversationStatus::Open,
            "pending" => ConversationStatus::Pending,
            "snoozed" => ConversationStatus::Snoozed,
            "resolved" => ConversationStatus::Resolved,
            _ => return None,
        })
    }
}

/// How urgent a conversation is. Higher priorities are routed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Routine.
    Low,
    /// The default.
    Normal,
    /// Needs attention soon.
    High,
    /// Needs attention now.
    Urgent,
}

impl Priority {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    /// Parse a stored or requested name.
    pub fn parse(text: &str) -> Option<Priority> {
        Some(match text {
            "low" => Priority::Low,
            "normal" => Priority::Normal,
            "high" => Priority::High,
            "urgent" => Priority::Urgent,
            _ => return None,
        })
    }
}

/// The contact's latest conversation on a channel, as threading needs to see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatestConversation {
    /// Its id.
    pub id: String,
    /// Its status.
    pub status: ConversationStatus,
    /// When it was resolved, in Unix milliseconds, if it is.
    pub resolved_at_ms: Option<i64>,
}

/// Where a new inbound message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Threading {
    /// Into this conversation, which is not resolved (a snoozed one wakes up).
    Join(String),
    /// Into this resolved conversation, which reopens.
    Reopen(String),
    /// Into a new conversation.
    Start,
}

/// Decide where an inbound message at `now_ms` goes, given the contact's latest conversation on
/// the channel and how long after resolution a conversation may reopen.
pub fn thread_inbound(latest: Option<&LatestConversation>, now_ms: i64, reopen_window_ms: i64) -> Threading {
    match latest {
        None => Threading::Start,
        Some(c) if c.status != ConversationStatus::Resolved => Threading::Join(c.id.clone()),
        Some(c) => match c.resolved_at_ms {
            Some(at) if now_ms - at <= reopen_window_ms => Threading::Reopen(c.id.clone()),
            _ => Threading::Start,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latest(status: ConversationStatus, resolved_at_ms: Option<i64>) -> LatestConversation {
        LatestConversation { id: "c1".into(), status, resolved_at_ms }
    }

    #[test]
    fn threading() {
        assert_eq!(thread_inbound(None, 0, 1000), Threading::Start);
        for s in [ConversationStatus::Open, ConversationStatus::Pending, ConversationStatus::Snoozed] {
            assert_eq!(thread_inbound(Some(&latest(s, None)), 5, 1000), Threading::Join("c1".into()));
        }
        let resolved = latest(ConversationStatus::Resolved, Some(10_000));
        assert_eq!(thread_inbound(Some(&resolved), 10_500, 1000), Threading::Reopen("c1".into()));
        assert_eq!(thread_inbound(Some(&resolved), 11_000, 1000), Threading::Reopen("c1".into()));
        assert_eq!(thread_inbound(Some(&resolved), 11_001, 1000), Threading::Start);
    }
}
