//! Routing tiers (PRODUCT.md C1): how fast each kind of work must be answered.

/// The tier of a channel kind's direct conversations: `immediate` for voice and live chat,
/// `reactive` for messaging and email. Comments and mentions are `proactive` whatever the channel.
pub fn tier_of(channel_kind: &str) -> &'static str {
    match channel_kind {
        "voice" | "live-chat" => "immediate",
        _ => "reactive",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tiers() {
        assert_eq!(super::tier_of("voice"), "immediate");
        assert_eq!(super::tier_of("whatsapp"), "reactive");
        assert_eq!(super::tier_of("other"), "reactive");
    }
}
