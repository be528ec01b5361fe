//! taskscope: watch a tokio scheduler at work.
//!
//! Run your own async Rust under [`watch`] and see every task's state as
//! it changes (ready, running, waiting on a timer, I/O, a channel or a
//! lock, done), which worker runs what and who woke whom, live in the
//! terminal, with pause, one poll at a time, and scrubbing back:
//!
//! ```no_run
//! use std::time::Duration;
//!
//! fn main() -> std::process::ExitCode {
//!     taskscope::watch(async {
//!         let eggs = tokio::task::Builder::new()
//!             .name("eggs")
//!             .spawn(tokio::time::sleep(Duration::from_millis(300)))
//!             .unwrap();
//!         let toast = tokio::task::Builder::new()
//!             .name("toast")
//!             .spawn(async {
//!                 // Hands-on work: the task keeps its worker for 20 ms.
//!                 taskscope::lesson::cpu(Duration::from_millis(20));
//!                 tokio::time::sleep(Duration::from_millis(200)).await;
//!             })
//!             .unwrap();
//!         let _ = tokio::join!(eggs, toast);
//!     })
//! }
//! ```
//!
//! Your crate needs tokio's instrumentation, as tokio-console does:
//! `--cfg tokio_unstable` in its `.cargo/config.toml` and tokio's
//! `tracing` feature (the README says how). [`Watch`] picks the runtime
//! (`current_thread` or `multi_thread`, the real or the virtual clock);
//! [`lesson`] gives your code the lessons' hands-on work, blocking calls,
//! I/O and child processes, shown exactly as a lesson's steps are.
//!
//! The rest of the crate is the `taskscope` program itself (README, "How
//! the code is laid out"): it is public for its own tests and tools, and
//! hidden here.

pub mod lesson;
#[doc(hidden)]
pub mod watch;

pub use watch::{MainOutput, Watch, watch};

/// `#[taskscope::main]` in place of `#[tokio::main]` (the same arguments:
/// `flavor`, `worker_threads`; the same runtime): your program runs as it
/// did, watched. taskscope's options come from the `TASKSCOPE` environment
/// variable (`TASKSCOPE="--json --events run.jsonl"`), so the command line
/// stays your program's; your program's tracing subscriber, logs and
/// Ctrl-C handling stay its own; `main`'s `Err` is said and fails the run,
/// as with tokio.
///
/// ```no_run
/// #[taskscope::main]
/// async fn main() -> Result<(), std::io::Error> {
///     let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
///     let (_socket, _) = listener.accept().await?;
///     Ok(())
/// }
/// ```
pub use taskscope_macros::main;

#[doc(hidden)]
pub mod app;
#[doc(hidden)]
pub mod cli;
#[doc(hidden)]
pub mod command;
#[doc(hidden)]
pub mod compare;
#[doc(hidden)]
pub mod console;
#[doc(hidden)]
pub mod error;
#[doc(hidden)]
pub mod event;
#[doc(hidden)]
pub mod export;
#[doc(hidden)]
pub mod feed;
#[doc(hidden)]
pub mod format;
#[doc(hidden)]
pub mod headless;
#[doc(hidden)]
pub mod keys;
#[doc(hidden)]
pub mod model;
#[doc(hidden)]
pub mod probe;
#[doc(hidden)]
pub mod process;
#[doc(hidden)]
pub mod program;
#[doc(hidden)]
pub mod recording;
#[doc(hidden)]
pub mod runner;
#[doc(hidden)]
pub mod runtime;
#[doc(hidden)]
pub mod scenario;
#[doc(hidden)]
pub mod speed;
#[doc(hidden)]
pub mod summary;
#[doc(hidden)]
pub mod target;
#[doc(hidden)]
pub mod text;
#[doc(hidden)]
pub mod tui;
#[doc(hidden)]
pub mod ui;

#[doc(hidden)]
pub use error::Error;

/// The unit tests' time limits, shared with the integration tests.
#[cfg(test)]
#[path = "../tests/integration/util/limit.rs"]
#[allow(dead_code)]
mod test_limit;
