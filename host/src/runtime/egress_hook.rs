//! A call's way out: every outgoing request of a connector, whether through `wasi:http` or the
//! contract's own `http` import, is checked against the channel's
//! [`EgressPolicy`](super::egress::EgressPolicy), then sent over the host's
//! [`EgressPool`](super::egress_pool::EgressPool) to the address it checked.

use super::egress_pool::EgressPool;
use super::state::ChannelContext;
use super::stats::RuntimeStats;
use http::uri::Scheme;
use std::sync::Arc;
use std::time::Duration;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// Why a request did not get a response.
#[derive(Debug)]
pub enum Refused {
    /// The channel's egress rules refuse the destination (logged and counted); `reason` says
    /// which rule, `code` is the `wasi:http` error for it.
    Denied { reason: String, code: Error },
    /// The destination could not be resolved, reached or read.
    Failed(Error),
}

impl From<Error> for Refused {
    fn from(error: Error) -> Refused {
        Refused::Failed(error)
    }
}

/// Checks and sends the outgoing requests of one call.
#[derive(Clone)]
pub struct Egress {
    channel: Arc<ChannelContext>,
    connector_id: Arc<str>,
    stats: Arc<RuntimeStats>,
    pool: Arc<EgressPool>,
    connect_timeout: Duration,
}

impl Egress {
    /// The way out for one call.
    pub fn new(channel: Arc<ChannelContext>, connector_id: Arc<str>, stats: Arc<RuntimeStats>, pool: Arc<EgressPool>, connect_timeout: Duration) -> Self {
        Egress { channel, connector_id, stats, pool, connect_timeout }
    }

    /// Check `request`'s destination and send it. The response body returns its connection to
    /// the pool once read to the end.
    pub async fn send(&self, request: http::Request<WasiBody>, options: Option<RequestOptions>) -> Result<http::Response<WasiBody>, Refused> {
        let uri = request.uri().clone();
        let Some(authority) = uri.authority() else {
            return Err(self.deny("the request has no host".into(), Error::HttpRequestUriInvalid));
        };
        let tls = uri.scheme() == Some(&Scheme::HTTPS);
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_string();
        if let Err(denial) = self.channel.egress.check_host(&host, port) {
            return Err(self.deny(denial.to_string(), Error::HttpRequestDenied));
        }
        let resolved = self
            .pool
            .resolve(&host, port)
            .await
            .map_err(|e| Refused::Failed(Error::DnsError { rcode: Some(e.to_string()), info_code: None }))?;
        if resolved.looked_up {
            RuntimeStats::bump(&self.stats.dns_lookups);
        }
        let addresses = resolved.addresses;
        if addresses.is_empty() {
            return Err(Refused::Failed(Error::DestinationNotFound));
        }
        for address in addresses.iter() {
            if let Err(denial) = self.channel.egress.check_address(&host, port, address.ip()) {
                return Err(self.deny(denial.to_string(), Error::DestinationIpProhibited));
            }
        }
        let mut options = options.unwrap_or_default();
        options.connect_timeout = Some(options.connect_timeout.unwrap_or(self.connect_timeout).min(self.connect_timeout));
        // Connect to the addresses just checked, not to the name again: a second lookup could
        // answer differently.
        Ok(self.pool.send(request, &host, &addresses, tls, options).await?)
    }

    /// Log and count a refused destination.
    fn deny(&self, reason: String, code: Error) -> Refused {
        RuntimeStats::bump(&self.stats.egress_denied);
        let channel = &self.channel;
        tracing::warn!(tenant = %channel.tenant, channel = %channel.channel_id, connector = %self.connector_id, "egress denied: {reason}");
        Refused::Denied { reason, code }
    }
}

/// The `wasi:http` hook of one call: its requests go through [`Egress`].
pub struct EgressHook(pub Egress);

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
        let egress = self.0.clone();
        Box::new(async move {
            match egress.send(request, options).await {
                // The pool drives its connections itself; nothing is left for the call to run.
                Ok(response) => Ok((response, Box::new(async { Ok(()) }) as Box<dyn Future<Output = Result<(), Error>> + Send>)),
                Err(Refused::Denied { code, .. }) | Err(Refused::Failed(code)) => Err(code),
            }
        })
    }
}
