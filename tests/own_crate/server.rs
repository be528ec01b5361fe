//! A small server of the usual kind, as its author wrote it for
//! `#[tokio::main]`: its own flags (clap), its own logs
//! (`tracing_subscriber::fmt`), an accept loop, a task per connection, a
//! broadcast that tells the connections to stop, and a graceful shutdown
//! on Ctrl-C. The one change for taskscope: `#[taskscope::main]`.
//!
//! A line protocol: `PING` gets `PONG`, anything else `ERR`.
use std::time::Duration;

use clap::Parser;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio::task::JoinSet;

#[derive(Parser)]
struct Args {
    /// The port to listen on (127.0.0.1).
    #[arg(long, default_value_t = 6380)]
    port: u16,
}

#[taskscope::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args = Args::parse();
    tracing_subscriber::fmt::try_init()?;
    let listener = TcpListener::bind(("127.0.0.1", args.port)).await?;
    tracing::info!("listening on {}", listener.local_addr()?);
    let (stop, _) = broadcast::channel::<()>(1);
    let mut connections = JoinSet::new();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (socket, _) = accepted?;
                let stop = stop.subscribe();
                connections.spawn(serve(socket, stop));
            }
            _ = &mut ctrl_c => break,
        }
    }
    tracing::info!("shutting down gracefully");
    let _ = stop.send(());
    while connections.join_next().await.is_some() {}
    // A last bit of tidying up, as a real server flushes and closes.
    tokio::time::sleep(Duration::from_millis(10)).await;
    tracing::info!("all connections closed");
    Ok(())
}

async fn serve(socket: TcpStream, mut stop: broadcast::Receiver<()>) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    loop {
        tokio::select! {
            line = lines.next_line() => {
                let Ok(Some(line)) = line else { return };
                let reply: &[u8] = if line == "PING" { b"PONG\n" } else { b"ERR\n" };
                if write.write_all(reply).await.is_err() {
                    return;
                }
            }
            _ = stop.recv() => return,
        }
    }
}
