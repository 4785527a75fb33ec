//! Keep-alive connections for connectors' outgoing requests.
//!
//! A connector runs in a fresh instance for every call, but the provider it talks to is the same
//! from one call to the next: opening a TCP (and TLS) connection per request would cost more than
//! the call itself. The pool keeps HTTP/1.1 connections open between calls, keyed by scheme, host
//! and the exact address the egress check allowed, so a connection is only ever reused for a
//! destination that passed the same check.
//!
//! A connection goes back to the pool when its response body has been read to the end; one
//! whose body was dropped early, or that the server closed, is discarded. Destinations' names
//! are resolved through the pool too, so an answer is reused between calls.

use super::resolver::{Resolved, Resolver};
use bytes::Bytes;
use http::Request;
use http_body::{Body, Frame, SizeHint};
use hyper::client::conn::http1::SendRequest;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

/// Where a pooled connection goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Destination {
    tls: bool,
    host: String,
    address: SocketAddr,
}

struct Idle {
    sender: SendRequest<WasiBody>,
    since: Instant,
}

/// Open connections, by destination.
pub struct EgressPool {
    idle: Mutex<HashMap<Destination, Vec<Idle>>>,
    tls: Arc<rustls::ClientConfig>,
    idle_timeout: Duration,
    max_idle_per_destination: usize,
    resolver: Resolver,
}

impl EgressPool {
    /// A pool that keeps up to `max_idle_per_destination` idle connections per destination, for
    /// at most `idle_timeout` each, and resolves destinations' names with `resolver`.
    pub fn new(idle_timeout: Duration, max_idle_per_destination: usize, resolver: Resolver) -> EgressPool {
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.into() };
        let tls = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
        EgressPool { idle: Mutex::new(HashMap::new()), tls: Arc::new(tls), idle_timeout, max_idle_per_destination, resolver }
    }

    /// Send `request` to one of `addresses` (addresses of `host` that the egress check allowed,
    /// tried in order until one connects), over a pooled connection or a new one.
    pub async fn send(
        self: &Arc<Self>,
        mut request: Request<WasiBody>,
        host: &str,
        addresses: &[SocketAddr],
        tls: bool,
        options: RequestOptions,
    ) -> Result<http::Response<WasiBody>, Error> {
        let (destination, mut sender) = self.sender(host, addresses, tls, options.connect_timeout).await?;
        // The request line carries only the path: the scheme and authority are for proxies.
        let path = request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/").to_string();
        *request.uri_mut() = http::Uri::builder().path_and_query(path).build().map_err(|_| Error::HttpRequestUriInvalid)?;
        let first_byte = options.first_byte_timeout.unwrap_or(NO_TIMEOUT);
        let response = match tokio::time::timeout(first_byte, sender.send_request(request)).await {
            Ok(response) => response.map_err(Error::from)?,
            Err(_) => return Err(Error::ConnectionReadTimeout),
        };
        let between_bytes = options.between_bytes_timeout.unwrap_or(NO_TIMEOUT);
        let pool = self.clone();
        Ok(response.map(|incoming| {
            let body = PooledBody { incoming, gap: between_bytes, deadline: None, home: Some((pool, destination, sender)) };
            http_body_util::BodyExt::boxed_unsync(body)
        }))
    }

    /// A connection ready for a request: a pooled one to the first address that has one, or else
    /// a new one to the first address that accepts it.
    async fn sender(
        &self,
        host: &str,
        addresses: &[SocketAddr],
        tls: bool,
        timeout: Option<Duration>,
    ) -> Result<(Destination, SendRequest<WasiBody>), Error> {
        for &address in addresses {
            let destination = Destination { tls, host: host.to_string(), address };
            while let Some(mut sender) = self.checkout(&destination) {
                // A connection is ready again once its task has seen the previous body end.
                if let Ok(Ok(())) = tokio::time::timeout(READY_WAIT, sender.ready()).await {
                    return Ok((destination, sender));
                }
            }
        }
        let mut failure = Error::DestinationNotFound;
        for &address in addresses {
            let destination = Destination { tls, host: host.to_string(), address };
            match self.connect(&destination, timeout).await {
                Ok(sender) => return Ok((destination, sender)),
                Err(e) => failure = e,
            }
        }
        Err(failure)
    }

    /// The addresses of `host` at `port`, resolved or reused (see [`Resolver`]).
    pub async fn resolve(&self, host: &str, port: u16) -> std::io::Result<Resolved> {
        self.resolver.resolve(host, port).await
    }

    /// An idle connection to `destination` that is still open.
    fn checkout(&self, destination: &Destination) -> Option<SendRequest<WasiBody>> {
        let mut idle = self.idle.lock().unwrap();
        let connections = idle.get_mut(destination)?;
        while let Some(candidate) = connections.pop() {
            if candidate.since.elapsed() < self.idle_timeout && !candidate.sender.is_closed() {
                return Some(candidate.sender);
            }
        }
        None
    }

    /// Put a connection whose exchange is over back in the pool.
    fn checkin(&self, destination: Destination, sender: SendRequest<WasiBody>) {
        if sender.is_closed() {
            return;
        }
        let now = Instant::now();
        let mut idle = self.idle.lock().unwrap();
        let connections = idle.entry(destination).or_default();
        connections.retain(|c| now.saturating_duration_since(c.since) < self.idle_timeout && !c.sender.is_closed());
        if connections.len() < self.max_idle_per_destination {
            connections.push(Idle { sender, since: now });
        }
    }

    async fn connect(&self, destination: &Destination, timeout: Option<Duration>) -> Result<SendRequest<WasiBody>, Error> {
        let timeout = timeout.unwrap_or(NO_TIMEOUT);
        let stream = match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(destination.address)).await {
            Ok(stream) => stream.map_err(Error::Connect)?,
            Err(_) => return Err(Error::ConnectionTimeout),
        };
        let _ = stream.set_nodelay(true);
        let handshake = async {
            if destination.tls {
                let name = rustls::pki_types::ServerName::try_from(destination.host.clone()).map_err(Error::InvalidDnsNameError)?;
                let tls = tokio_rustls::TlsConnector::from(self.tls.clone()).connect(name, stream).await.map_err(Error::Tls)?;
                let (sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls)).await?;
                tokio::spawn(connection);
                Ok(sender)
            } else {
                let (sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
                tokio::spawn(connection);
                Ok(sender)
            }
        };
        match tokio::time::timeout(timeout, handshake).await {
            Ok(result) => result,
            Err(_) => Err(Error::ConnectionTimeout),
        }
    }
}

/// No timeout (a call's own deadline still bounds it).
const NO_TIMEOUT: Duration = Duration::from_secs(600);

/// How long a pooled connection may take to become ready for its next request before a new
/// connection is opened instead.
const READY_WAIT: Duration = Duration::from_millis(100);

/// A response body that returns its connection to the pool once read to the end, and fails when
/// the server pauses longer than `gap` between frames.
struct PooledBody {
    incoming: hyper::body::Incoming,
    gap: Duration,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    home: Option<(Arc<EgressPool>, Destination, SendRequest<WasiBody>)>,
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.incoming).poll_frame(cx) {
            Poll::Ready(None) => {
                if let Some((pool, destination, sender)) = this.home.take() {
                    pool.checkin(destination, sender);
                }
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                this.home = None;
                Poll::Ready(Some(Err(if e.is_timeout() { Error::HttpResponseTimeout } else { Error::from(e) })))
            }
            Poll::Ready(Some(Ok(frame))) => {
                this.deadline = None;
                // A reader may stop at the end of the stream without asking for more.
                if this.incoming.is_end_stream()
                    && let Some((pool, destination, sender)) = this.home.take()
                {
                    pool.checkin(destination, sender);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                let gap = this.gap;
                let deadline = this.deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep(gap)));
                ready!(deadline.as_mut().poll(cx));
                this.home = None;
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_address_that_refuses_is_skipped_for_the_next_one() {
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
        let open = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let pool = EgressPool::new(Duration::from_secs(5), 4, Resolver::new(Duration::from_secs(5), 4));
        let timeout = Some(Duration::from_secs(5));
        let (destination, _sender) = pool.sender("provider.test", &[closed, open.local_addr().unwrap()], false, timeout).await.unwrap();
        assert_eq!(destination.address, open.local_addr().unwrap());
        assert!(matches!(pool.sender("provider.test", &[closed], false, timeout).await, Err(Error::Connect(_))));
        assert!(matches!(pool.sender("provider.test", &[], false, timeout).await, Err(Error::DestinationNotFound)));
    }
}
