//! The media worker: downloads media the provider holds (WhatsApp media ids, Instagram and
//! Twilio URLs) through the channel's connector, and keeps the bytes as attachments.

use crate::channels::ChannelDirectory;
use crate::domain::backoff::retry_delay_ms;
use crate::ingest::translate;
use crate::runtime::bindings::v0_1::switchboard::connector::types as wit;
use crate::runtime::registry::ConnectorRegistry;
use crate::store::attachments::{self, MediaJob};
use crate::store::{Db, now_ms};
use std::sync::Arc;
use std::time::Duration;

/// Attempts before a download is given up.
const MAX_ATTEMPTS: i64 = 6;

/// Start the worker.
pub fn spawn(db: Db, connectors: Arc<ConnectorRegistry>, channels: Arc<ChannelDirectory>, max_bytes: usize, poll: Duration, retry_base_ms: u64) {
    let owner = format!("media-{}", uuid::Uuid::new_v4());
    tokio::spawn(async move {
        loop {
            let jobs = match attachments::claim(&db, &owner, 8, 120_000).await {
                Ok(jobs) => jobs,
                Err(e) => {
                    tracing::warn!(error = %e, "media job claim failed");
                    Vec::new()
                }
            };
            if jobs.is_empty() {
                tokio::time::sleep(poll).await;
                continue;
            }
            for job in jobs {
                let result = fetch(&connectors, &channels, &job, max_bytes).await;
                let recorded = match result {
                    Ok((mime, filename, data)) => {
                        match attachments::create(&db, &job.tenant, Some(&job.message_id), mime.as_deref(), filename.as_deref(), &data).await {
                            Ok(info) => attachments::finish(&db, &job, Ok(&info)).await,
                            Err(e) => Err(e),
                        }
                    }
                    Err((why, retry)) if retry && job.attempts + 1 < MAX_ATTEMPTS => {
                        let delay = retry_delay_ms(job.attempts as u32 + 1, retry_base_ms, 600_000, None, rand::random());
                        tracing::info!(message = %job.message_id, "media download will be retried: {why}");
                        attachments::retry_later(&db, &job, now_ms() + delay as i64).await
                    }
                    Err((why, _)) => {
                        tracing::warn!(message = %job.message_id, "media download failed: {why}");
                        attachments::finish(&db, &job, Err(&why)).await
                    }
                };
                if let Err(e) = recorded {
                    tracing::error!(message = %job.message_id, error = %e, "could not record a media download");
                }
            }
        }
    });
}

type Fetched = (Option<String>, Option<String>, Vec<u8>);

async fn fetch(connectors: &ConnectorRegistry, channels: &ChannelDirectory, job: &MediaJob, max_bytes: usize) -> Result<Fetched, (String, bool)> {
    let channel = channels.get(&job.channel_id).ok_or(("the channel was removed".to_string(), false))?;
    let connector = connectors.get(&channel.connector).ok_or((format!("connector `{}` is not loaded", channel.connector), true))?;
    let context = channels.context(&job.channel_id, &connector).map_err(|e| (e, true))?;
    let media = translate::to_wit_media(&job.media);
    match connectors.runtime().fetch_media(&connector, context, media).await {
        Ok(Ok(fetched)) if fetched.data.len() > max_bytes => Err((format!("the media is larger than {max_bytes} bytes"), false)),
        Ok(Ok(fetched)) => Ok((fetched.mime_type, fetched.filename, fetched.data)),
        Ok(Err(e)) => {
            let (category, error, _) = translate::send_error_parts(&e);
            let retry = matches!(category, wit::FailureCategory::Transient | wit::FailureCategory::RateLimited);
            let error = translate::provider_error(translate::category(category), error);
            Err((format!("{} {}: {}", error.category, error.code, error.title), retry))
        }
        Err(call) => Err((call.to_string(), true)),
    }
}
