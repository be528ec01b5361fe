//! tokio-console pairing: console-subscriber's server in this process, on
//! an address we bind ourselves first, so "address in use" is a clear error
//! (exit 2) rather than a panic in a background thread.

use std::net::SocketAddr;
use std::time::Duration;

use tracing_subscriber::Layer;
use tracing_subscriber::filter::FilterFn;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::Error;

/// console-subscriber's default address.
pub const DEFAULT_ADDR: &str = "127.0.0.1:6669";
/// How often the console gets updates.
pub const PUBLISH_EVERY: Duration = Duration::from_millis(200);

/// The command that attaches tokio-console to `addr`.
pub fn attach_command(addr: SocketAddr) -> String {
    format!("tokio-console http://{addr}")
}

/// Parses `--console=ADDR`: loopback unless the user names another host.
pub fn parse_addr(text: &str) -> Result<SocketAddr, Error> {
    let text = text.trim();
    let with_host = if text.starts_with(':') {
        format!("127.0.0.1{text}")
    } else if text.parse::<u16>().is_ok() {
        format!("127.0.0.1:{text}")
    } else {
        text.to_string()
    };
    with_host.parse().map_err(|_| {
        Error::Input(format!(
            "--console {text}: not an address; expected HOST:PORT like {DEFAULT_ADDR}, or just a port"
        ))
    })
}

/// Starts serving tokio-console on `addr` and installs the tracing layer
/// that feeds it. Must run before the scenario's runtime is built.
pub fn start(addr: SocketAddr) -> Result<(), Error> {
    let listener = std::net::TcpListener::bind(addr).map_err(|e| {
        Error::Input(format!(
            "--console {addr}: cannot listen there ({e}); another taskscope or program may be \
             using it: pick another address with --console=127.0.0.1:PORT"
        ))
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::Failed(format!("--console {addr}: {e}")))?;
    let (layer, server) = console_subscriber::ConsoleLayer::builder()
        .publish_interval(PUBLISH_EVERY)
        .build();
    let parts = server.into_parts();
    std::thread::Builder::new()
        .name("taskscope-console".into())
        .spawn(move || {
            // The console's own tasks are not part of the scenario.
            let _quiet =
                tracing::subscriber::set_default(tracing::subscriber::NoSubscriber::default());
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                let aggregate = tokio::spawn(parts.aggregator.run());
                let _ = tonic::transport::Server::builder()
                    .add_service(parts.instrument_server)
                    .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                    .await;
                aggregate.abort();
            });
        })
        .map_err(|e| Error::Failed(format!("could not start the console server: {e}")))?;
    // The same filter console_subscriber::spawn uses: tokio's runtime spans.
    let filter = FilterFn::new(|meta| {
        if meta.is_event() {
            meta.target().starts_with("runtime") || meta.target().starts_with("tokio")
        } else {
            meta.name().starts_with("runtime.") || meta.target().starts_with("tokio")
        }
    });
    tracing_subscriber::registry()
        .with(layer.with_filter(filter))
        .try_init()
        .map_err(|e| Error::Failed(format!("could not install the console layer: {e}")))
}
