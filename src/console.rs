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
/// How long tokio-console is shown a task after it ended.
pub const RETENTION: Duration = Duration::from_secs(5);
/// Tracing events queued for console-subscriber's aggregator at most.
pub const EVENT_BUFFER: usize = 16 * 1024;

/// The command that attaches tokio-console to `addr` (served on every
/// address: attached through loopback).
pub fn attach_command(addr: SocketAddr) -> String {
    let mut at = addr;
    if addr.ip().is_unspecified() {
        at.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    format!("tokio-console http://{at}")
}

/// Parses `--console=ADDR`: `PORT`, `:PORT` and `localhost:PORT` are
/// loopback; any other host must be an IP address (no name is looked up),
/// and a host without a port gets the default port.
pub fn parse_addr(text: &str) -> Result<SocketAddr, Error> {
    let text = text.trim();
    let default_port = || DEFAULT_ADDR.rsplit(':').next().unwrap_or("6669");
    if let Ok(ip) = text.trim_matches(['[', ']']).parse::<std::net::IpAddr>()
        && let Ok(port) = default_port().parse()
    {
        return Ok(SocketAddr::new(ip, port));
    }
    let with_host = if text.starts_with(':') {
        format!("127.0.0.1{text}")
    } else if text.parse::<u16>().is_ok() {
        format!("127.0.0.1:{text}")
    } else if let Some(port) = text.strip_prefix("localhost:") {
        format!("127.0.0.1:{port}")
    } else if text == "localhost" {
        format!("127.0.0.1:{}", default_port())
    } else {
        text.to_string()
    };
    with_host.parse().map_err(|_| {
        Error::Input(format!(
            "--console {text}: not an address; expected HOST:PORT like {DEFAULT_ADDR} (HOST an IP \
             address or localhost), or just a port"
        ))
    })
}

/// What to say when `addr` can be reached from other machines.
pub fn exposure_warning(addr: SocketAddr) -> Option<String> {
    (!addr.ip().is_loopback()).then(|| {
        format!(
            "warning: --console {addr} is reachable from the network: anyone who can reach this \
             machine can watch the run (task names, timings); 127.0.0.1:PORT keeps it local"
        )
    })
}

/// Starts serving tokio-console on `addr`; the returned layer feeds it
/// once installed (see [`install`]).
pub fn serve(addr: SocketAddr) -> Result<(SocketAddr, console_subscriber::ConsoleLayer), Error> {
    let listener = std::net::TcpListener::bind(addr).map_err(|e| {
        // Only "in use" is about another program; anything else (no
        // permission, not an address of this machine) is the OS's reason.
        let why = if e.kind() == std::io::ErrorKind::AddrInUse {
            format!(
                "the address is already in use ({e}): another taskscope or program is \
                 listening there; pick another port with --console=127.0.0.1:PORT"
            )
        } else {
            format!("cannot listen there: {e}")
        };
        Error::Input(format!("--console {addr}: {why}"))
    })?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::Failed(format!("--console {addr}: {e}")))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::Failed(format!("--console {addr}: {e}")))?;
    let (layer, server) = console_subscriber::ConsoleLayer::builder()
        .publish_interval(PUBLISH_EVERY)
        // Ended tasks are kept this long for a console to see, not the hour
        // console-subscriber keeps them by default: a run of 100,000 short
        // tasks would hold every one of them.
        .retention(RETENTION)
        // Events waiting for its aggregator: past this, dropped (counted
        // by console-subscriber), not queued without bound.
        .event_buffer_capacity(EVENT_BUFFER)
        .build();
    let parts = server.into_parts();
    std::thread::Builder::new()
        .name("taskscope-console".into())
        .spawn(move || {
            // The console's own tasks are not part of the scenario.
            let _quiet =
                tracing::subscriber::set_default(tracing::subscriber::NoSubscriber::default());
            let Ok(runtime) = crate::runtime::build::service() else {
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
    Ok((bound, layer))
}

/// tokio's own instrumentation: its runtime spans and events.
fn tokio_only(meta: &tracing::Metadata<'_>) -> bool {
    if meta.is_event() {
        meta.target().starts_with("runtime") || meta.target().starts_with("tokio")
    } else {
        meta.name().starts_with("runtime.") || meta.target().starts_with("tokio")
    }
}

/// Installs the process's tracing subscriber: the console's layer and
/// another (your own code's scope), each seeing only tokio's spans and
/// events (the filter console_subscriber::spawn uses).
pub fn install(
    console: Option<console_subscriber::ConsoleLayer>,
    tokio_layer: Option<crate::runtime::hooks::TokioLayer>,
) -> Result<(), Error> {
    let filter = || FilterFn::new(tokio_only as fn(&tracing::Metadata<'_>) -> bool);
    tracing_subscriber::registry()
        .with(console.map(|l| l.with_filter(filter())))
        .with(tokio_layer.map(|l| l.with_filter(filter())))
        .try_init()
        .map_err(|_| {
            Error::Failed(
                "could not install taskscope's tracing subscriber: this program already set a \
                 global one (taskscope::watch needs to be the one that sees tokio's events)"
                    .into(),
            )
        })
}

/// The same subscriber as [`install`] makes, not installed: for the
/// runtime's threads only, beside your program's own (see
/// `runtime::hooks::fanout`).
pub fn thread_dispatch(
    console: Option<console_subscriber::ConsoleLayer>,
    tokio_layer: crate::runtime::hooks::TokioLayer,
) -> tracing::Dispatch {
    let filter = || FilterFn::new(tokio_only as fn(&tracing::Metadata<'_>) -> bool);
    let ours = tracing_subscriber::registry()
        .with(console.map(|l| l.with_filter(filter())))
        .with(tokio_layer.with_filter(filter()));
    tracing::Dispatch::new(crate::runtime::hooks::fanout::Fanout::new(
        tracing::Dispatch::new(ours),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_loopback_unless_another_host_is_named() {
        let _limit = crate::test_limit::limit();
        let parse = |t: &str| parse_addr(t).unwrap().to_string();
        assert_eq!(parse("7000"), "127.0.0.1:7000");
        assert_eq!(parse(":0"), "127.0.0.1:0");
        assert_eq!(parse("localhost:7000"), "127.0.0.1:7000");
        assert_eq!(parse("localhost"), "127.0.0.1:6669");
        assert_eq!(parse("[::1]:7000"), "[::1]:7000");
        assert_eq!(parse("0.0.0.0"), "0.0.0.0:6669");
        assert_eq!(parse("[::]"), "[::]:6669");
        assert_eq!(parse("2001:db8::1"), "[2001:db8::1]:6669");
        assert!(parse_addr("example.com:80").is_err());
        assert!(parse_addr("localhost:http").is_err());
        for local in ["7000", "localhost:1", "[::1]:1"] {
            assert!(
                exposure_warning(parse_addr(local).unwrap()).is_none(),
                "{local}"
            );
        }
        assert_eq!(
            attach_command(parse_addr("0.0.0.0:7").unwrap()),
            "tokio-console http://127.0.0.1:7"
        );
        assert_eq!(
            attach_command(parse_addr("[::]:7").unwrap()),
            "tokio-console http://[::1]:7"
        );
        for open in ["0.0.0.0:1", "[::]:1", "192.0.2.1:1"] {
            let warning = exposure_warning(parse_addr(open).unwrap()).unwrap();
            assert!(warning.contains("reachable from the network"), "{open}");
        }
    }
}
