//! The `wasi:http` hook that enforces a channel's [`EgressPolicy`](super::egress::EgressPolicy),
//! then sends the request over the host's [`EgressPool`](super::egress_pool::EgressPool) to the
//! address it checked.

use super::egress_pool::EgressPool;
use super::state::ChannelContext;
use super::stats::RuntimeStats;
use http::uri::Scheme;
use std::sync::Arc;
use std::time::Duration;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// Checks every outgoing request of one call before it leaves the host.
pub struct EgressHook {
    channel: Arc<ChannelContext>,
    connector_id: Arc<str>,
    stats: Arc<RuntimeStats>,
    pool: Arc<EgressPool>,
    connect_timeout: Duration,
}

impl EgressHook {
    /// A hook for one call.
    pub fn new(channel: Arc<ChannelContext>, connector_id: Arc<str>, stats: Arc<RuntimeStats>, pool: Arc<EgressPool>, connect_timeout: Duration) -> Self {
        EgressHook { channel, connector_id, stats, pool, connect_timeout }
    }
}

type ResponseFuture = Box<
    dyn Future<
            Output = Result<(http::Response<WasiBody>, Box<dyn Future<Output = Result<(), Error>> + Send>), Error>,
        > + Send,
>;

impl WasiHttpHooks for EgressHook {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> ResponseFuture {
        let channel = self.channel.clone();
        let connector = self.connector_id.clone();
        let stats = self.stats.clone();
        let pool = self.pool.clone();
        let connect_timeout = self.connect_timeout;
        Box::new(async move {
            let deny = |reason: String, error: Error| {
                RuntimeStats::bump(&stats.egress_denied);
                tracing::warn!(
                    tenant = %channel.tenant, channel = %channel.channel_id, connector = %connector,
                    "egress denied: {reason}"
                );
                Err(error)
            };
            let uri = request.uri().clone();
            let Some(authority) = uri.authority() else {
                return deny("the request has no host".into(), Error::HttpRequestUriInvalid);
            };
            let tls = uri.scheme() == Some(&Scheme::HTTPS);
            let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
            let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_string();
            if let Err(denial) = channel.egress.check_host(&host, port) {
                return deny(denial.to_string(), Error::HttpRequestDenied);
            }
            let addresses = match pool.resolve(&host, port).await {
                Ok(resolved) => {
                    if resolved.looked_up {
                        RuntimeStats::bump(&stats.dns_lookups);
                    }
                    resolved.addresses
                }
                Err(e) => {
                    return Err(Error::DnsError { rcode: Some(e.to_string()), info_code: None });
                }
            };
            if addresses.is_empty() {
                return Err(Error::DestinationNotFound);
            }
            for address in addresses.iter() {
                if let Err(denial) = channel.egress.check_address(&host, port, address.ip()) {
                    return deny(denial.to_string(), Error::DestinationIpProhibited);
                }
            }
            let mut options = options.unwrap_or_default();
            options.connect_timeout = Some(options.connect_timeout.unwrap_or(connect_timeout).min(connect_timeout));
            // Connect to the addresses just checked, not to the name again: a second lookup
            // could answer differently.
            let response = pool.send(request, &host, &addresses, tls, options).await?;
            // The pool drives its connections itself; nothing is left for the call to run.
            Ok((response, Box::new(async { Ok(()) }) as Box<dyn Future<Output = Result<(), Error>> + Send>))
        })
    }
}
