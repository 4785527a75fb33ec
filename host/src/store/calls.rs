//! Calls being routed, and the router that reads agents' presence and capacity from the store.

use super::{Db, now_ms};
use crate::domain::calls::{CallDecision, IncomingCall};
use crate::domain::voice::{Agent, BusinessHours, Situation, VoicePolicy, decide};
use sqlx::Row;

/// Decides calls from the agents' presence, capacity and current calls in the database.
pub struct DbCallRouter {
    db: Db,
    policy: VoicePolicy,
    hours: BusinessHours,
    utc_offset_minutes: i32,
}

impl DbCallRouter {
    /// A router on this database with this policy.
    pub fn new(db: Db, policy: VoicePolicy, hours: BusinessHours, utc_offset_minutes: i32) -> DbCallRouter {
        DbCallRouter { db, policy, hours, utc_offset_minutes }
    }

    async fn agents(&self, tenant: &str) -> sqlx::Result<Vec<Agent>> {
        let rows = sqlx::query(
            "SELECT u.id, u.presence, u.capacity, u.voice_address, u.last_call_ended_at,
                    (SELECT COUNT(*) FROM call_sessions s WHERE s.agent_id = u.id AND s.state = 'connected') AS active
             FROM users u WHERE u.tenant_id = $1",
        )
        .bind(tenant)
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let capacity: serde_json::Value = serde_json::from_str(&r.get::<String, _>("capacity")).unwrap_or_default();
                Agent {
                    id: r.get("id"),
                    available: r.get::<String, _>("presence") == "available",
                    voice_address: r.get("voice_address"),
                    voice_capacity: capacity.get("voice").and_then(|v| v.as_u64()).unwrap_or(0) as u32,
                    active_calls: r.get::<i64, _>("active") as u32,
                    last_call_ended_ms: r.get("last_call_ended_at"),
                }
            })
            .collect())
    }

    async fn route(&self, tenant: &str, channel: &str, call: IncomingCall) -> sqlx::Result<CallDecision> {
        let agents = self.agents(tenant).await?;
        let waiting: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM call_sessions WHERE tenant_id = $1 AND state = 'queued' AND call_id <> $2")
            .bind(tenant)
            .bind(&call.call_id)
            .fetch_one(&self.db.pool)
            .await?;
        let requested: Option<String> = match &call.reference {
            Some(conversation) => sqlx::query_scalar("SELECT assignee_id FROM conversations WHERE id = $1 AND tenant_id = $2")
                .bind(conversation)
                .bind(tenant)
                .fetch_optional(&self.db.pool)
                .await?
                .flatten(),
            None => None,
        };
        let situation = Situation {
            open: self.hours.is_open(now_ms(), self.utc_offset_minutes),
            agents: &agents,
            waiting: waiting as u32,
            requested_agent: requested.as_deref(),
        };
        let decision = decide(&call, &situation, &self.policy);
        let (agent, state, queue) = match &decision {
            CallDecision::Connect { agent_id, .. } => (Some(agent_id.clone()), "connected", None),
            CallDecision::Enqueue { queue, .. } => (None, "queued", Some(queue.clone())),
            CallDecision::Voicemail { .. } => (None, "voicemail", None),
        };
        let now = now_ms();
        sqlx::query(
            "INSERT INTO call_sessions (call_id, tenant_id, channel_id, agent_id, state, queue, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
             ON CONFLICT (call_id) DO UPDATE SET agent_id = excluded.agent_id, state = excluded.state, queue = excluded.queue, updated_at = excluded.updated_at",
        )
        .bind(&call.call_id)
        .bind(tenant)
        .bind(channel)
        .bind(agent)
        .bind(state)
        .bind(queue)
        .bind(now)
        .execute(&self.db.pool)
        .await?;
        Ok(decision)
    }
}

#[async_trait::async_trait]
impl crate::runtime::CallRouter for DbCallRouter {
    async fn route_call(&self, tenant: &str, channel: &str, call: IncomingCall) -> CallDecision {
        match self.route(tenant, channel, call).await {
            Ok(decision) => decision,
            Err(e) => {
                tracing::error!(tenant, channel, error = %e, "call routing failed; sending the caller to voicemail");
                CallDecision::Voicemail { reason: "We cannot take your call right now".into() }
            }
        }
    }
}

/// A call ended: free its agent.
pub async fn end(tx: &mut super::sql::Conn<'_>, call_id: &str, now: i64) -> sqlx::Result<()> {
    let session = tx.fetch_optional("SELECT agent_id FROM call_sessions WHERE call_id = $1 AND state <> 'ended'", &[call_id.into()]).await?;
    let agent: Option<String> = session.and_then(|row| row.get("agent_id"));
    tx.execute("UPDATE call_sessions SET state = 'ended', updated_at = $1 WHERE call_id = $2", &[now.into(), call_id.into()]).await?;
    if let Some(agent) = agent {
        tx.execute("UPDATE users SET last_call_ended_at = $1 WHERE id = $2", &[now.into(), agent.into()]).await?;
    }
    Ok(())
}
