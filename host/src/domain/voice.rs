//! Routing a waiting call: to an available agent with voice capacity, into the queue, or to
//! voicemail when the business is closed or the queue is full.

use super::calls::{CallDecision, IncomingCall};

/// An agent as routing sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    /// Their id.
    pub id: String,
    /// Available (not away or offline).
    pub available: bool,
    /// Where to ring them (`client:...`, `sip:...`, a number), if they take calls.
    pub voice_address: Option<String>,
    /// Calls they can take at once.
    pub voice_capacity: u32,
    /// Calls they are on now.
    pub active_calls: u32,
    /// When their last call ended, Unix ms (longest idle goes first).
    pub last_call_ended_ms: i64,
}

/// The routing policy.
#[derive(Debug, Clone)]
pub struct VoicePolicy {
    /// Seconds to ring an agent.
    pub ring_seconds: u32,
    /// Callers allowed to wait at once.
    pub max_queue: u32,
    /// Average time an agent spends on a call, for the expected wait.
    pub average_handle_seconds: u32,
}

/// What routing knows when it decides.
#[derive(Debug, Clone)]
pub struct Situation<'a> {
    /// The business is open.
    pub open: bool,
    /// The tenant's agents.
    pub agents: &'a [Agent],
    /// Callers already waiting.
    pub waiting: u32,
    /// For a callback the host placed: the agent who asked for it.
    pub requested_agent: Option<&'a str>,
}

/// Decide for one call.
pub fn decide(call: &IncomingCall, situation: &Situation<'_>, policy: &VoicePolicy) -> CallDecision {
    let free = |a: &&Agent| a.available && a.voice_address.is_some() && a.active_calls < a.voice_capacity;
    if let Some(requested) = situation.requested_agent
        && let Some(agent) = situation.agents.iter().filter(free).find(|a| a.id == requested)
    {
        return connect(agent, policy);
    }
    if !situation.open && call.reference.is_none() {
        return CallDecision::Voicemail { reason: "We are closed right now".into() };
    }
    if let Some(agent) = situation.agents.iter().filter(free).min_by_key(|a| (a.last_call_ended_ms, a.id.clone())) {
        return connect(agent, policy);
    }
    let staffed = situation.agents.iter().any(|a| a.available && a.voice_address.is_some() && a.voice_capacity > 0);
    if !staffed {
        return CallDecision::Voicemail { reason: "No agents are available".into() };
    }
    if situation.waiting >= policy.max_queue {
        return CallDecision::Voicemail { reason: "All our agents are busy".into() };
    }
    let position = situation.waiting + 1;
    let agents = situation.agents.iter().filter(|a| a.available && a.voice_capacity > 0).map(|a| a.voice_capacity).sum::<u32>().max(1);
    CallDecision::Enqueue {
        queue: call.menu_choice.clone().unwrap_or_else(|| "main".into()),
        position,
        expected_wait_seconds: (position * policy.average_handle_seconds).div_ceil(agents),
    }
}

fn connect(agent: &Agent, policy: &VoicePolicy) -> CallDecision {
    CallDecision::Connect {
        agent_id: agent.id.clone(),
        address: agent.voice_address.clone().unwrap_or_default(),
        ring_seconds: policy.ring_seconds,
    }
}

/// Opening hours: `always`, or day ranges with hours, e.g. `mon-fri 09:00-17:00, sat 10:00-14:00`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessHours {
    /// (first weekday, last weekday, opening minute of day, closing minute of day); Monday is 0.
    spans: Option<Vec<(u32, u32, u32, u32)>>,
}

impl BusinessHours {
    /// Parse the configuration's form; the error names what is wrong.
    pub fn parse(text: &str) -> Result<BusinessHours, String> {
        let text = text.trim().to_ascii_lowercase();
        if text == "always" || text.is_empty() {
            return Ok(BusinessHours { spans: None });
        }
        let day = |d: &str| ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].iter().position(|x| *x == d).map(|p| p as u32);
        let minute = |t: &str| -> Option<u32> {
            let (h, m) = t.split_once(':')?;
            let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
            (h <= 24 && m < 60 && h * 60 + m <= 1440).then_some(h * 60 + m)
        };
        let mut spans = Vec::new();
        for part in text.split(',').map(str::trim) {
            let bad = || format!("`{part}` is not like `mon-fri 09:00-17:00`");
            let (days, hours) = part.split_once(' ').ok_or_else(bad)?;
            let (d1, d2) = days.split_once('-').unwrap_or((days, days));
            let (h1, h2) = hours.trim().split_once('-').ok_or_else(bad)?;
            let span = (day(d1).ok_or_else(bad)?, day(d2).ok_or_else(bad)?, minute(h1).ok_or_else(bad)?, minute(h2).ok_or_else(bad)?);
            if span.0 > span.1 || span.2 >= span.3 {
                return Err(bad());
            }
            spans.push(span);
        }
        Ok(BusinessHours { spans: Some(spans) })
    }

    /// Open at `unix_ms`, in a zone `utc_offset_minutes` from UTC.
    pub fn is_open(&self, unix_ms: i64, utc_offset_minutes: i32) -> bool {
        let Some(spans) = &self.spans else { return true };
        let local_minutes = unix_ms.div_euclid(60_000) + i64::from(utc_offset_minutes);
        let days = local_minutes.div_euclid(1440);
        // 1970-01-01 was a Thursday (3 with Monday as 0).
        let weekday = (days + 3).rem_euclid(7) as u32;
        let minute = local_minutes.rem_euclid(1440) as u32;
        spans.iter().any(|(d1, d2, open, close)| (*d1..=*d2).contains(&weekday) && (*open..*close).contains(&minute))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(id: &str, active: u32, idle_since: i64) -> Agent {
        Agent { id: id.into(), available: true, voice_address: Some(format!("client:{id}")), voice_capacity: 1, active_calls: active, last_call_ended_ms: idle_since }
    }

    fn call(reference: Option<&str>) -> IncomingCall {
        IncomingCall { call_id: "CA1".into(), caller_id: "+1".into(), caller_phone: None, called: "+2".into(), menu_choice: None, reference: reference.map(str::to_string) }
    }

    const POLICY: VoicePolicy = VoicePolicy { ring_seconds: 20, max_queue: 2, average_handle_seconds: 180 };

    #[test]
    fn longest_idle_free_agent_first() {
        let agents = [agent("a", 0, 500), agent("b", 0, 100), agent("c", 1, 0)];
        let d = decide(&call(None), &Situation { open: true, agents: &agents, waiting: 0, requested_agent: None }, &POLICY);
        assert_eq!(d, CallDecision::Connect { agent_id: "b".into(), address: "client:b".into(), ring_seconds: 20 });
    }

    #[test]
    fn queue_then_voicemail() {
        let agents = [agent("a", 1, 0)];
        let s = |waiting| Situation { open: true, agents: &agents, waiting, requested_agent: None };
        assert_eq!(decide(&call(None), &s(0), &POLICY), CallDecision::Enqueue { queue: "main".into(), position: 1, expected_wait_seconds: 180 });
        assert_eq!(decide(&call(None), &s(1), &POLICY), CallDecision::Enqueue { queue: "main".into(), position: 2, expected_wait_seconds: 360 });
        assert!(matches!(decide(&call(None), &s(2), &POLICY), CallDecision::Voicemail { .. }));
        assert!(matches!(decide(&call(None), &Situation { open: true, agents: &[], waiting: 0, requested_agent: None }, &POLICY), CallDecision::Voicemail { .. }));
        let closed = decide(&call(None), &Situation { open: false, agents: &[agent("z", 0, 0)], waiting: 0, requested_agent: None }, &POLICY);
        assert_eq!(closed, CallDecision::Voicemail { reason: "We are closed right now".into() });
    }

    #[test]
    fn callbacks_go_to_the_agent_who_asked() {
        let agents = [agent("a", 0, 0), agent("b", 0, 9)];
        let d = decide(&call(Some("conv-1")), &Situation { open: false, agents: &agents, waiting: 0, requested_agent: Some("b") }, &POLICY);
        assert!(matches!(d, CallDecision::Connect { ref agent_id, .. } if agent_id == "b"));
    }

    #[test]
    fn business_hours() {
        let hours = BusinessHours::parse("mon-fri 09:00-17:00, sat 10:00-12:00").unwrap();
        // 2026-11-23 is a Monday.
        let monday_10 = 1_795_428_000_000; // 2026-11-23T10:00:00Z
        assert!(hours.is_open(monday_10, 0));
        assert!(!hours.is_open(monday_10, -120), "08:00 local is before opening");
        assert!(!hours.is_open(monday_10 + 6 * 86_400_000, 0), "Sunday");
        assert!(hours.is_open(monday_10 + 5 * 86_400_000, 0), "Saturday 10:00");
        assert!(BusinessHours::parse("always").unwrap().is_open(0, 0));
        assert!(BusinessHours::parse("someday 9-5").is_err());
        assert!(BusinessHours::parse("fri-mon 09:00-17:00").is_err());
    }
}
