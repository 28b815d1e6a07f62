//! Serving the router on a TCP port, with the limits a public port needs.
//!
//! `axum::serve` gives hyper no timer, so hyper's header timeout never fires: a client that sends
//! its request head a byte a minute, or opens connections and sends nothing, holds them for
//! ever, and enough such clients exhaust the process's file descriptors. Here every connection
//! has a deadline for each request head (an idle keep-alive connection too, since waiting for
//! the next request is reading a head), and the number of open connections is capped: past the
//! cap, new connections wait in the kernel's listen backlog instead of being accepted. Slow
//! *bodies* are the router's business: its request timeout covers reading the body, because
//! extractors run inside the handler.
//!
//! ```no_run
//! # async fn run(router: axum::Router) -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! let stop = async { let _ = tokio::signal::ctrl_c().await; };
//! tributary_api::serve(listener, router, tributary_api::ServeLimits::default(), stop).await
//! # }
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

/// The limits of [`serve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// A request head (request line and headers) must arrive within this, counted from when the
    /// server starts waiting for it; otherwise the connection is closed.
    pub header_timeout: Duration,
    /// At most this many connections are open at once.
    pub max_connections: usize,
    /// After the stop signal, connections get this long to finish what they are answering.
    pub drain_timeout: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            max_connections: 512,
            drain_timeout: Duration::from_secs(5),
        }
    }
}

/// Serves `router` on `listener` (HTTP/1.1) until `stop` completes, then lets open connections
/// finish their current answer for up to [`ServeLimits::drain_timeout`].
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServeLimits,
    stop: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (closing_tx, closing) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        // Finished connections are reaped as we go, so the set holds only open ones.
        while connections.try_join_next().is_some() {}
        let permit = tokio::select! {
            _ = &mut stop => break,
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let stream = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection; trying again in 100 ms");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let mut closing = closing.clone();
        connections.spawn(async move {
            let _permit = permit;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            let served = tokio::select! {
                served = connection.as_mut() => served,
                _ = stopped(&mut closing) => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = served {
                // A client that went away or was cut off: not the server's problem.
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = closing_tx.send(true);
    let drained = tokio::time::timeout(limits.drain_timeout, async {
        while connections.join_next().await.is_some() {}
    });
    if drained.await.is_err() {
        tracing::warn!(
            open = connections.len(),
            "connections still open after the drain timeout; closing them"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// Completes when `closing` turns true (or its sender is gone).
async fn stopped(closing: &mut watch::Receiver<bool>) {
    let _ = closing.wait_for(|closing| *closing).await;
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    async fn start(limits: ServeLimits) -> (SocketAddr, watch::Sender<bool>, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let router = Router::new().route("/healthz", get(|| async { "ok" }));
        let (stop_tx, mut stop) = watch::channel(false);
        let server = tokio::spawn(async move {
            let stop = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            serve(listener, router, limits, stop).await.unwrap();
        });
        (address, stop_tx, server)
    }

    /// Reads until the server closes the connection; what it sent.
    async fn read_to_close(stream: &mut TcpStream) -> String {
        let mut answer = Vec::new();
        // Generous: this waits for an event, it does not time the server.
        tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer))
            .await
            .expect("the server closed the connection")
            .unwrap();
        String::from_utf8_lossy(&answer).into_owned()
    }

    const REQUEST: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

    #[tokio::test]
    async fn a_client_that_sends_its_head_slowly_or_nothing_is_cut_off() {
        let limits = ServeLimits { header_timeout: Duration::from_millis(200), ..ServeLimits::default() };
        let (address, _stop, _server) = start(limits).await;
        // Half a request head, then silence.
        let mut slow = TcpStream::connect(address).await.unwrap();
        slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        let answer = read_to_close(&mut slow).await;
        assert!(!answer.contains("200 OK"), "{answer}");
        // Nothing at all.
        let mut silent = TcpStream::connect(address).await.unwrap();
        assert!(!read_to_close(&mut silent).await.contains("200 OK"));
        // A client in time is answered.
        let mut prompt = TcpStream::connect(address).await.unwrap();
        prompt.write_all(REQUEST).await.unwrap();
        assert!(read_to_close(&mut prompt).await.contains("200 OK"));
    }

    #[tokio::test]
    async fn past_the_connection_cap_new_clients_wait_until_one_closes() {
        let limits = ServeLimits { max_connections: 2, ..ServeLimits::default() };
        let (address, stop, server) = start(limits).await;
        let idle: Vec<TcpStream> =
            vec![TcpStream::connect(address).await.unwrap(), TcpStream::connect(address).await.unwrap()];
        // The two idle connections are accepted before the third (each accept is in order).
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut third = TcpStream::connect(address).await.unwrap();
        third.write_all(REQUEST).await.unwrap();
        let mut first_bytes = [0u8; 1];
        let waited = tokio::time::timeout(Duration::from_millis(300), third.read(&mut first_bytes)).await;
        assert!(waited.is_err(), "the third connection was served while two were open");
        drop(idle);
        assert!(read_to_close(&mut third).await.contains("200 OK"));
        // The stop signal ends the server.
        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(30), server).await.unwrap().unwrap();
    }
}
