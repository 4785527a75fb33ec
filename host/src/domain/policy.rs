//! What the host checks before it accepts an agent's message: the channel's reply window, the
//! customer's consent, the channel's length limit and content support.

/// What the send looks like, for the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendKind {
    /// Free-form text.
    Text {
        /// Its length in characters.
        chars: usize,
    },
    /// Media of this kind (`image`, ...), with an optional caption length.
    Media {
        /// The media kind.
        kind: String,
    },
    /// A pre-approved template.
    Template,
    /// An interactive message.
    Interactive,
}

/// What the channel allows, from the connector's capabilities.
#[derive(Debug, Clone, Default)]
pub struct ChannelRules {
    /// Reply window in seconds, if the channel has one.
    pub reply_window_seconds: Option<u64>,
    /// Longest text.
    pub max_text_length: Option<u32>,
    /// Media kinds it sends.
    pub attachment_kinds: Vec<String>,
    /// Templates supported.
    pub templates: bool,
    /// Interactive messages supported.
    pub interactive: bool,
    /// How long after the customer's last message a human agent may still answer with the
    /// channel's human-agent tag, when the operator enabled it for the channel.
    pub human_agent_window_seconds: Option<u64>,
}

/// What the host knows about the conversation.
#[derive(Debug, Clone, Default)]
pub struct ConversationFacts {
    /// The customer's last inbound message, Unix ms.
    pub last_inbound_ms: Option<i64>,
    /// The provider said the window is closed (e.g. WhatsApp 131047).
    pub window_closed: bool,
    /// The customer opted out on this channel.
    pub opted_out: bool,
}

/// A refused send: a stable code and a sentence that says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Machine-readable rule name.
    pub code: &'static str,
    /// What went wrong and what to do.
    pub message: String,
}

/// How an accepted send must go out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowed {
    /// As it is.
    Plain,
    /// With the channel's human-agent tag: outside the reply window, inside the tag's window.
    HumanAgentTag,
}

/// Check a send against the channel's rules and the conversation's facts at `now_ms`.
pub fn check_send(kind: &SendKind, rules: &ChannelRules, facts: &ConversationFacts, now_ms: i64) -> Result<Allowed, Refusal> {
    if facts.opted_out {
        return Err(Refusal {
            code: "opted_out",
            message: "the customer opted out of messages on this channel; they must opt in again (e.g. reply START)".into(),
        });
    }
    match kind {
        SendKind::Text { chars } => {
            if let Some(max) = rules.max_text_length
                && *chars > max as usize
            {
                return Err(Refusal {
                    code: "text_too_long",
                    message: format!("the text is {chars} characters; this channel allows {max}: shorten it or split it"),
                });
            }
        }
        SendKind::Media { kind } if !rules.attachment_kinds.iter().any(|k| k == kind) => {
            return Err(Refusal {
                code: "unsupported_media",
                message: format!(
                    "this channel does not send {kind} media (it sends: {})",
                    if rules.attachment_kinds.is_empty() { "none".to_string() } else { rules.attachment_kinds.join(", ") }
                ),
            });
        }
        SendKind::Template if !rules.templates => {
            return Err(Refusal { code: "templates_unsupported", message: "this channel has no templates: send text".into() });
        }
        SendKind::Interactive if !rules.interactive => {
            return Err(Refusal {
                code: "interactive_unsupported",
                message: "this channel has no interactive messages: send text".into(),
            });
        }
        _ => {}
    }
    if *kind != SendKind::Template
        && let Some(window) = rules.reply_window_seconds
    {
        let within = |seconds: u64| facts.last_inbound_ms.is_some_and(|last| now_ms - last <= (seconds as i64) * 1000);
        let open = !facts.window_closed && within(window);
        if !open && rules.human_agent_window_seconds.is_some_and(within) {
            return Ok(Allowed::HumanAgentTag);
        }
        if !open {
            return Err(Refusal {
                code: "reply_window_closed",
                message: format!(
                    "reply window closed: the customer has not written in the last {} hours; send a template",
                    window / 3600
                ),
            });
        }
    }
    Ok(Allowed::Plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whatsapp() -> ChannelRules {
        ChannelRules {
            reply_window_seconds: Some(86_400),
            max_text_length: Some(4096),
            attachment_kinds: vec!["image".into()],
            templates: true,
            interactive: true,
            human_agent_window_seconds: None,
        }
    }

    #[test]
    fn reply_window() {
        let text = SendKind::Text { chars: 5 };
        let recent = ConversationFacts { last_inbound_ms: Some(1_000), ..Default::default() };
        assert!(check_send(&text, &whatsapp(), &recent, 1_000 + 86_400_000).is_ok());
        let err = check_send(&text, &whatsapp(), &recent, 1_001 + 86_400_000).unwrap_err();
        assert_eq!(err.code, "reply_window_closed");
        assert!(err.message.contains("send a template"));
        assert!(check_send(&SendKind::Template, &whatsapp(), &recent, 1_001 + 86_400_000).is_ok());
        let closed = ConversationFacts { last_inbound_ms: Some(1_000), window_closed: true, ..Default::default() };
        assert_eq!(check_send(&text, &whatsapp(), &closed, 2_000).unwrap_err().code, "reply_window_closed");
        let never = ConversationFacts::default();
        assert_eq!(check_send(&text, &whatsapp(), &never, 2_000).unwrap_err().code, "reply_window_closed");
        assert!(check_send(&text, &ChannelRules::default(), &never, 2_000).is_ok());
    }

    #[test]
    fn human_agent_tag_extends_the_window_when_enabled() {
        let day = 86_400_000;
        let instagram = ChannelRules { human_agent_window_seconds: Some(7 * 86_400), ..whatsapp() };
        let facts = ConversationFacts { last_inbound_ms: Some(0), ..Default::default() };
        let text = SendKind::Text { chars: 5 };
        assert_eq!(check_send(&text, &instagram, &facts, day / 2), Ok(Allowed::Plain));
        assert_eq!(check_send(&text, &instagram, &facts, 3 * day), Ok(Allowed::HumanAgentTag));
        assert_eq!(check_send(&text, &instagram, &facts, 8 * day).unwrap_err().code, "reply_window_closed");
    }

    #[test]
    fn length_media_consent() {
        let facts = ConversationFacts { last_inbound_ms: Some(0), ..Default::default() };
        assert_eq!(check_send(&SendKind::Text { chars: 4097 }, &whatsapp(), &facts, 1).unwrap_err().code, "text_too_long");
        assert_eq!(
            check_send(&SendKind::Media { kind: "video".into() }, &whatsapp(), &facts, 1).unwrap_err().code,
            "unsupported_media"
        );
        let out = ConversationFacts { opted_out: true, ..facts };
        assert_eq!(check_send(&SendKind::Template, &whatsapp(), &out, 1).unwrap_err().code, "opted_out");
    }
}
