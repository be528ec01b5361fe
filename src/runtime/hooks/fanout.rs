//! Your program keeps its logs: on the runtime's threads, tracing goes to
//! taskscope's own subscriber (tokio's instrumentation, and tokio-console's
//! layer with `--console`) and to whatever global subscriber your program
//! installs (`tracing_subscriber::fmt::try_init()`, a registry of its own),
//! which taskscope leaves unset for it. Elsewhere only your program's sees
//! anything, as without taskscope.
//!
//! Each span is made in both, under the ids each gives it (taskscope's are
//! the ones handed out; the program's are looked up by them).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Metadata, Subscriber};

/// The subscriber set as the default of every runtime thread.
pub struct Fanout {
    ours: Dispatch,
    /// Our span id -> the program's, for spans the program's subscriber
    /// made too.
    theirs: Mutex<HashMap<u64, Id>>,
}

/// The program's global subscriber, once it has set one.
static PROGRAMS: OnceLock<Dispatch> = OnceLock::new();
/// Until when to look for it (ns after [`since`]): a while after any
/// subscriber was made (the program's is made just before it is set).
/// Read on every span and event of the runtime's threads: no lock.
static LOOK_UNTIL: AtomicU64 = AtomicU64::new(0);
const LOOK_FOR: Duration = Duration::from_secs(2);

/// The instant [`LOOK_UNTIL`] counts from.
fn since() -> Instant {
    static SINCE: OnceLock<Instant> = OnceLock::new();
    *SINCE.get_or_init(Instant::now)
}

fn program() -> Option<&'static Dispatch> {
    if let Some(d) = PROGRAMS.get() {
        return Some(d);
    }
    let now = since().elapsed().as_nanos() as u64;
    if now >= LOOK_UNTIL.load(Ordering::Relaxed) {
        return None;
    }
    let global = global_default()?;
    if global.is::<tracing::subscriber::NoSubscriber>() {
        return None;
    }
    Some(PROGRAMS.get_or_init(|| global))
}

/// Keeps looking for the program's subscriber a while from now.
fn look() {
    let until = (since().elapsed() + LOOK_FOR).as_nanos() as u64;
    LOOK_UNTIL.fetch_max(until, Ordering::Relaxed);
}

/// The global default, as a thread with no default of its own sees it
/// (ours is the default on the runtime's threads): asked of one such
/// thread, kept for the purpose.
fn global_default() -> Option<Dispatch> {
    type Ask = (Sender<()>, Receiver<Dispatch>);
    static ASK: OnceLock<Option<Mutex<Ask>>> = OnceLock::new();
    let ask = ASK.get_or_init(|| {
        let (ask, asked) = channel::<()>();
        let (tell, told) = channel();
        std::thread::Builder::new()
            .name("taskscope-logs".into())
            .spawn(move || {
                while asked.recv().is_ok() {
                    if tell
                        .send(tracing::dispatcher::get_default(Dispatch::clone))
                        .is_err()
                    {
                        return;
                    }
                }
            })
            .ok()?;
        Some(Mutex::new((ask, told)))
    });
    let ask = ask.as_ref()?.lock().unwrap_or_else(|e| e.into_inner());
    ask.0.send(()).ok()?;
    ask.1.recv().ok()
}

impl Fanout {
    pub fn new(ours: Dispatch) -> Fanout {
        look();
        Fanout {
            ours,
            theirs: Mutex::new(HashMap::new()),
        }
    }

    fn theirs(&self, id: &Id) -> Option<(&'static Dispatch, Id)> {
        let program = program()?;
        let map = self.theirs.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&id.into_u64()).map(|t| (program, t.clone()))
    }
}

impl Subscriber for Fanout {
    /// Asked whenever a subscriber is made: perhaps the program's.
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        if PROGRAMS.get().is_none() {
            look();
        }
        None
    }

    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // Asked each time: the program's subscriber may come later.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.ours.enabled(metadata) || program().is_some_and(|p| p.enabled(metadata))
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let id = self.ours.new_span(attrs);
        if let Some(p) = program().filter(|p| p.enabled(attrs.metadata())) {
            let theirs = p.new_span(attrs);
            self.theirs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id.into_u64(), theirs);
        }
        id
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        self.ours.record(span, values);
        if let Some((p, theirs)) = self.theirs(span) {
            p.record(&theirs, values);
        }
    }

    fn record_follows_from(&self, span: &Id, follows: &Id) {
        self.ours.record_follows_from(span, follows);
        if let (Some((p, a)), Some((_, b))) = (self.theirs(span), self.theirs(follows)) {
            p.record_follows_from(&a, &b);
        }
    }

    fn event(&self, event: &Event<'_>) {
        if self.ours.enabled(event.metadata()) {
            self.ours.event(event);
        }
        if let Some(p) = program().filter(|p| p.enabled(event.metadata())) {
            p.event(event);
        }
    }

    fn enter(&self, span: &Id) {
        self.ours.enter(span);
        if let Some((p, theirs)) = self.theirs(span) {
            p.enter(&theirs);
        }
    }

    fn exit(&self, span: &Id) {
        self.ours.exit(span);
        if let Some((p, theirs)) = self.theirs(span) {
            p.exit(&theirs);
        }
    }

    fn clone_span(&self, id: &Id) -> Id {
        if let Some((p, theirs)) = self.theirs(id) {
            p.clone_span(&theirs);
        }
        self.ours.clone_span(id)
    }

    fn try_close(&self, id: Id) -> bool {
        if let Some((p, theirs)) = self.theirs(&id) {
            p.try_close(theirs);
        }
        let closed = self.ours.try_close(id.clone());
        if closed {
            self.theirs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id.into_u64());
        }
        closed
    }
}
