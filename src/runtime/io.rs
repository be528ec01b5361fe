//! A loopback TCP server whose replies come after a delay on the scenario
//! clock, so an `io` step is a real socket wait.
//!
//! On the virtual clock tokio jumps time forward whenever it has nothing to
//! run, even while bytes are crossing loopback, which would make replies
//! arrive "late" by whatever timer came next. So while any request or reply
//! is in flight, time is held: tokio does not auto-advance while a
//! `spawn_blocking` job lives, and one such job waits for as long as
//! anything is in flight. During the delay itself nothing is held and time
//! moves as usual.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use super::control::Control;

pub(crate) struct IoServer {
    addr: SocketAddr,
    /// Reply times are sent as offsets from this instant.
    base: Instant,
    /// None on the real clock, where nothing needs holding.
    flight: Option<Arc<InFlight>>,
    next: AtomicU64,
    /// Connections open at once (each costs two file descriptors); more
    /// `io` steps than this wait their turn instead of failing.
    slots: tokio::sync::Semaphore,
    /// The pacer, told when replies are due.
    control: Option<Arc<Control>>,
}

/// How many requests may be in flight: a quarter of the file descriptors
/// this process may open, and at most 256, well inside the listen backlog
/// (connections beyond it would wait for TCP's retransmission, seconds of
/// real time).
fn connection_slots() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    let soft = if rc == 0 {
        limit.rlim_cur as usize
    } else {
        1024
    };
    (soft / 4).clamp(16, 256)
}

/// What is in flight: requests by id (sent, not yet read by the server)
/// and replies (written, not yet read by the client).
#[derive(Default)]
struct InFlight {
    state: Mutex<Flight>,
    changed: Condvar,
    /// Told while the clock is held, so pacing does not wait then.
    control: Option<Arc<Control>>,
}

#[derive(Default)]
struct Flight {
    requests: HashSet<u64>,
    replies: usize,
    /// Bumped each time nothing is left in flight, so the waiting job of
    /// that stretch ends even if a new stretch starts at once.
    stretch: u64,
}

impl Flight {
    fn busy(&self) -> bool {
        !self.requests.is_empty() || self.replies > 0
    }
}

impl InFlight {
    fn lock(&self) -> MutexGuard<'_, Flight> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Call after adding to the flight: the first item starts a job that
    /// holds the clock until the flight is empty again.
    fn started(self: &Arc<Self>, was_busy: bool, stretch: u64) {
        if was_busy {
            return;
        }
        if let Some(c) = &self.control {
            c.hold_clock(true);
        }
        let me = self.clone();
        // taskscope's own machinery, not part of the lesson: spawned with
        // tracing off, so tokio-console does not list it as a busy task.
        tracing::dispatcher::with_default(&tracing::Dispatch::none(), || {
            tokio::task::spawn_blocking(move || {
                let mut f = me.lock();
                while f.busy() && f.stretch == stretch {
                    f = me.changed.wait(f).unwrap_or_else(|e| e.into_inner());
                }
            })
        });
    }

    fn ended(&self, mut f: MutexGuard<'_, Flight>) {
        if !f.busy() {
            f.stretch += 1;
            self.changed.notify_all();
            drop(f);
            if let Some(c) = &self.control {
                c.hold_clock(false);
            }
        }
    }

    fn add_request(self: &Arc<Self>, id: u64) {
        let mut f = self.lock();
        let was_busy = f.busy();
        f.requests.insert(id);
        let stretch = f.stretch;
        drop(f);
        self.started(was_busy, stretch);
    }

    /// Idempotent: the server and a cancelled client may both call it.
    fn remove_request(&self, id: u64) {
        let mut f = self.lock();
        if f.requests.remove(&id) {
            self.ended(f);
        }
    }

    fn add_reply(self: &Arc<Self>) -> ReplyInFlight {
        let mut f = self.lock();
        let was_busy = f.busy();
        f.replies += 1;
        let stretch = f.stretch;
        drop(f);
        self.started(was_busy, stretch);
        ReplyInFlight(self.clone())
    }
}

/// A reply on its way: holds the clock until dropped.
struct ReplyInFlight(Arc<InFlight>);

impl Drop for ReplyInFlight {
    fn drop(&mut self) {
        let mut f = self.0.lock();
        f.replies -= 1;
        self.0.ended(f);
    }
}

/// Removes a request from the flight however the request ends.
struct RequestGuard<'a>(&'a IoServer, u64);

impl Drop for RequestGuard<'_> {
    fn drop(&mut self) {
        if let Some(f) = &self.0.flight {
            f.remove_request(self.1);
        }
    }
}

impl IoServer {
    /// Binds 127.0.0.1 on an ephemeral port and serves on the current runtime.
    pub(crate) async fn start(
        virtual_clock: bool,
        base: Instant,
        control: Option<Arc<Control>>,
    ) -> std::io::Result<Arc<IoServer>> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let server = Arc::new(IoServer {
            addr: listener.local_addr()?,
            base,
            flight: virtual_clock.then(|| {
                Arc::new(InFlight {
                    control: control.clone(),
                    ..InFlight::default()
                })
            }),
            next: AtomicU64::new(0),
            slots: tokio::sync::Semaphore::new(connection_slots()),
            control,
        });
        let s = server.clone();
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        let s = s.clone();
                        tokio::spawn(async move {
                            let _ = s.serve(stream).await;
                        });
                    }
                    // Out of file descriptors, say: that client fails, the
                    // server stays up for the others.
                    Err(_) => tokio::task::yield_now().await,
                }
            }
        });
        Ok(server)
    }

    async fn serve(&self, mut stream: TcpStream) -> std::io::Result<()> {
        let mut request = [0u8; 16];
        stream.read_exact(&mut request).await?;
        let id = u64::from_le_bytes(request[..8].try_into().expect("8 bytes"));
        let due = u64::from_le_bytes(request[8..].try_into().expect("8 bytes"));
        if let Some(f) = &self.flight {
            f.remove_request(id);
        }
        // Due when the client sent it, however late this server got to it
        // (a remote server would not have waited for our runtime).
        let due = Duration::from_nanos(due);
        let _due = self.control.as_ref().and_then(|c| c.due(due));
        tokio::time::sleep_until(self.base + due).await;
        // Held until the client has read the reply and closed the connection
        // (or gone away): then nothing of this request is in flight.
        let _reply = self.flight.as_ref().map(InFlight::add_reply);
        stream.write_all(&[1]).await?;
        let mut eof = [0u8; 1];
        let _ = stream.read(&mut eof).await;
        Ok(())
    }

    /// The run is over: stop holding the clock, so the runtime can shut down
    /// (it waits for blocking jobs before it drops the server's tasks).
    pub(crate) fn close(&self) {
        if let Some(f) = &self.flight {
            f.lock().stretch += 1;
            f.changed.notify_all();
        }
    }

    /// One request whose reply comes `delay` after it is sent (as a remote
    /// server's would); `sent` is called when it is, with how long it
    /// waited for a free connection (a limit of this machine, not of the
    /// lesson: that wait is not counted).
    pub(crate) async fn request(
        &self,
        delay: Duration,
        sent: impl FnOnce(Duration),
    ) -> std::io::Result<()> {
        let asked = Instant::now();
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| std::io::Error::other("the io server has stopped"))?;
        let queued = asked.elapsed();
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        if let Some(f) = &self.flight {
            f.add_request(id);
        }
        let _request = RequestGuard(self, id);
        let mut stream = TcpStream::connect(self.addr).await?;
        let due = (Instant::now() + delay)
            .checked_sub(queued)
            .unwrap_or(asked)
            .saturating_duration_since(self.base);
        sent(queued);
        let mut request = [0u8; 16];
        request[..8].copy_from_slice(&id.to_le_bytes());
        request[8..].copy_from_slice(&(due.as_nanos() as u64).to_le_bytes());
        stream.write_all(&request).await?;
        let mut reply = [0u8; 1];
        stream.read_exact(&mut reply).await?;
        Ok(())
    }
}
