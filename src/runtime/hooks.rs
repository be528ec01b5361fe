//! Code taskscope did not write (your own program's), seen through tokio's
//! runtime hooks (`watcher`) and its tracing instrumentation
//! ([`layer`]), turned into taskscope's events. This module holds what the
//! two share: where this thread is in a poll.
//!
//! A poll is seen three ways, on the thread that runs it: the hooks open it
//! (`on_before_task_poll`, where pause and step hold it) and close it
//! (`on_after_task_poll`); in between, tokio enters the task's span for the
//! poll of its future, and leaves it when the future returns. What happens
//! after that, before the poll closes, is tokio finishing the task: a wake
//! then is the task's end waking whoever joins it.
//!
//! What a task waits on comes from the tokio resource whose poll returned
//! Pending last in the poll, read from the resources entered on the thread
//! at that moment (the outermost: a Mutex, not the semaphore inside it).
//! tokio traces timers, locks, semaphores, oneshot channels and a bounded
//! channel's send (its permit); a join, a channel's recv, a Notify or a
//! socket are not traced: such a wait is `other` until its wake says more
//! (the joined task's end: a join; the I/O driver: io; a task that just
//! sent on a channel: channel).

pub mod fanout;
mod guess;
pub mod layer;
mod signals;
mod visitors;
pub(crate) mod watcher;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use tracing::span::Id;

use crate::event::Wait;
pub use layer::TokioLayer;
use watcher::CodeTask;
pub(crate) use watcher::Watcher;

/// The run being watched (one a process: your program's).
static ACTIVE: OnceLock<Arc<Watcher>> = OnceLock::new();

pub(crate) fn active() -> Option<&'static Arc<Watcher>> {
    ACTIVE.get()
}

/// Numbers the threads, for [`turn`].
static THREADS: AtomicU64 = AtomicU64::new(1);

/// Where this thread is in a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Phase {
    #[default]
    Idle,
    /// The hooks opened a poll; the task's future is not polled yet.
    Before,
    /// The task's future is being polled.
    InPoll,
    /// The future returned; tokio is finishing the poll (or the task).
    After,
}

#[derive(Default)]
struct PollCtx {
    /// tokio's id of the task the hooks opened a poll of.
    id: u64,
    phase: Phase,
    task: Option<Arc<CodeTask>>,
    /// What the poll waits on, as the last Pending resource said.
    wait: Option<(Wait, Option<Duration>)>,
    /// It panicked, with this message.
    panic: Option<String>,
}

thread_local! {
    static POLL: RefCell<PollCtx> = RefCell::default();
    /// tokio resources entered on this thread, outermost first.
    static RESOURCES: RefCell<Vec<Id>> = const { RefCell::new(Vec::new()) };
    /// Tasks spawned now are taskscope's own (see [`Hidden`]).
    static HIDE: Cell<u32> = const { Cell::new(0) };
    /// The task a spawn just created, for the spawn hook.
    static JUST_CREATED: Cell<u64> = const { Cell::new(0) };
    /// This thread's number, and how many times it parked.
    static THREAD: Cell<u64> = const { Cell::new(0) };
    static PARKS: Cell<u64> = const { Cell::new(0) };
}

/// This thread's turn: which thread, and how often it has parked so far.
/// tokio hands a `yield_now` back in the same turn (it defers the wake to
/// the worker's next look at its drivers, without parking): a wake off any
/// poll in the turn its wait began is a yield, a later one is the driver's.
fn turn() -> (u64, u64) {
    let thread = THREAD.with(|t| {
        if t.get() == 0 {
            t.set(THREADS.fetch_add(1, Ordering::Relaxed));
        }
        t.get()
    });
    (thread, PARKS.with(Cell::get))
}

/// This thread parked: its turn is over.
fn parked() {
    PARKS.with(|p| p.set(p.get() + 1));
}

/// A panic in a task being polled on this thread: its outcome.
pub(crate) fn note_panic(message: &str) {
    let _ = POLL.try_with(|p| {
        if let Ok(mut p) = p.try_borrow_mut()
            && p.task.is_some()
        {
            p.panic = Some(message.to_string());
        }
    });
}

/// Runs a future whose spawns are taskscope's own (not shown).
struct Hidden<F>(Pin<Box<F>>);

impl<F: Future> Future for Hidden<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        HIDE.with(|h| h.set(h.get() + 1));
        let out = self.0.as_mut().poll(cx);
        HIDE.with(|h| h.set(h.get() - 1));
        out
    }
}

/// `future`, whose Pending is a wait on `wait` (due when `due` says, in ns
/// of scenario time; u64::MAX: not known): for taskscope's own helpers
/// ([`crate::lesson`]), which know what they wait on better than tokio says.
pub(crate) fn hinted<F: Future>(wait: Wait, due: Arc<AtomicU64>, future: F) -> Hinted<F> {
    Hinted {
        inner: Box::pin(future),
        wait,
        due,
    }
}

pub(crate) struct Hinted<F> {
    inner: Pin<Box<F>>,
    wait: Wait,
    due: Arc<AtomicU64>,
}

impl<F: Future> Future for Hinted<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let out = self.inner.as_mut().poll(cx);
        if out.is_pending() {
            let due = self.due.load(Ordering::Relaxed);
            let due = crate::event::from_opt_nanos(due);
            let wait = self.wait;
            POLL.with(|p| p.borrow_mut().wait = Some((wait, due)));
        }
        out
    }
}
