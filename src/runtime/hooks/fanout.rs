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
use std::sync::{Mutex, OnceLock};

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

/// The program's global subscriber, once it has set one (found from a
/// thread with no default of its own: ours is the default on this one).
fn program() -> Option<&'static Dispatch> {
    static PROGRAMS: OnceLock<Dispatch> = OnceLock::new();
    if let Some(d) = PROGRAMS.get() {
        return Some(d);
    }
    if !tracing::dispatcher::has_been_set() {
        return None;
    }
    let global = std::thread::spawn(|| tracing::dispatcher::get_default(Dispatch::clone))
        .join()
        .ok()?;
    Some(PROGRAMS.get_or_init(|| global))
}

impl Fanout {
    pub fn new(ours: Dispatch) -> Fanout {
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
