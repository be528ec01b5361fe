//! A loopback TCP server whose replies come after a delay on the scenario
//! clock, so an `io` step is a real socket wait.
//!
//! On the virtual clock tokio jumps time forward whenever it has nothing to
//! run, even while bytes are crossing loopback, which would make replies
//! arrive "late" by whatever timer came next. So while a request or a reply
//! is in flight the server holds auto-advance off (tokio does that for as
//! long as a `spawn_blocking` job lives); during the delay itself nothing is
//! held and time moves as usual.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

pub(crate) struct IoServer {
    addr: SocketAddr,
    /// Reply times are sent as offsets from this instant.
    base: Instant,
    virtual_clock: bool,
    holds: Mutex<HashMap<u64, Hold>>,
    next: AtomicU64,
}

/// Keeps tokio's paused clock from auto-advancing while it lives.
struct Hold(#[allow(dead_code)] std::sync::mpsc::Sender<()>);

impl Hold {
    fn new() -> Hold {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        // Returns when the sender is dropped.
        tokio::task::spawn_blocking(move || {
            let _ = rx.recv();
        });
        Hold(tx)
    }
}

impl IoServer {
    /// Binds 127.0.0.1 on an ephemeral port and serves on the current runtime.
    pub(crate) async fn start(virtual_clock: bool) -> std::io::Result<Arc<IoServer>> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let server = Arc::new(IoServer {
            addr: listener.local_addr()?,
            base: Instant::now(),
            virtual_clock,
            holds: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
        });
        let s = server.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    let _ = s.serve(stream).await;
                });
            }
        });
        Ok(server)
    }

    fn hold(&self, id: u64) {
        if self.virtual_clock {
            self.lock().insert(id, Hold::new());
        }
    }

    fn release(&self, id: u64) {
        if self.virtual_clock {
            self.lock().remove(&id);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Hold>> {
        self.holds.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn serve(&self, mut stream: TcpStream) -> std::io::Result<()> {
        let mut request = [0u8; 16];
        stream.read_exact(&mut request).await?;
        let id = u64::from_le_bytes(request[..8].try_into().expect("8 bytes"));
        let due = u64::from_le_bytes(request[8..].try_into().expect("8 bytes"));
        let _release = Release(self, id);
        self.release(id);
        // Due when the client sent it, however late this server got to it
        // (a remote server would not have waited for our runtime).
        tokio::time::sleep_until(self.base + Duration::from_nanos(due)).await;
        self.hold(id);
        stream.write_all(&[1]).await?;
        Ok(())
    }

    /// One request whose reply comes `delay` later.
    pub(crate) async fn request(&self, delay: Duration) -> std::io::Result<()> {
        let due = (Instant::now() + delay).saturating_duration_since(self.base);
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.hold(id);
        // Released however this ends, cancellation included.
        let _release = Release(self, id);
        async {
            let mut stream = TcpStream::connect(self.addr).await?;
            let mut request = [0u8; 16];
            request[..8].copy_from_slice(&id.to_le_bytes());
            request[8..].copy_from_slice(&(due.as_nanos() as u64).to_le_bytes());
            stream.write_all(&request).await?;
            let mut reply = [0u8; 1];
            stream.read_exact(&mut reply).await?;
            Ok(())
        }
        .await
    }
}

struct Release<'a>(&'a IoServer, u64);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.release(self.1);
    }
}
