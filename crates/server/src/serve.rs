//! Serving HTTP/1.1 ourselves rather than through `axum::serve`, which cannot bound how long a
//! client may take to send its request headers: a client that opens connections and never
//! finishes a request line would otherwise hold them (and their tasks) forever.
//!
//! Each connection is served by hyper with a header read timeout, keeps WebSocket upgrades
//! (OCPP) and carries `ConnectInfo<SocketAddr>` as `axum::serve` would. When the shutdown token
//! is cancelled no new connection is accepted, every open one finishes the request it is serving
//! and closes (streams such as SSE end on the same token), and `serve` returns once they are all
//! closed or the drain limit has passed.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// How long shutdown waits for open connections to finish their current request.
const DRAIN_LIMIT: Duration = Duration::from_secs(20);

/// Serves `router` on `listener` until `shutdown` is cancelled, then drains open connections.
pub async fn serve(listener: TcpListener, router: Router, header_read_timeout: Duration, shutdown: CancellationToken) {
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.cancelled() => break,
        };
        let (stream, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        connections.spawn(connection(stream, remote, router.clone(), header_read_timeout, shutdown.clone()));
    }
    drop(listener);
    connections.close();
    if tokio::time::timeout(DRAIN_LIMIT, connections.wait()).await.is_err() {
        tracing::warn!(open = connections.len(), "connections still open after the drain limit; closing them");
    }
}

/// One client connection, until it closes or shutdown has let its current request finish.
async fn connection(stream: tokio::net::TcpStream, remote: SocketAddr, router: Router, header_read_timeout: Duration, shutdown: CancellationToken) {
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(remote));
        router.clone().oneshot(request.map(axum::body::Body::new))
    });
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_read_timeout);
    let conn = builder.serve_connection(TokioIo::new(stream), service).with_upgrades();
    let mut conn = std::pin::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        // Header timeouts, resets and clients gone mid-request: routine, not the server's fault.
        tracing::debug!(%remote, error = %e, "connection ended with an error");
    }
}
