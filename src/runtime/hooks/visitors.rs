//! What taskscope reads off tokio's spans and events: one visitor per
//! shape, with tokio's field names as constants (tokio's
//! `tokio_unstable` + `tracing` instrumentation).

use std::fmt::Debug;

use tracing::field::{Field, Visit};

use crate::event::Wait;

/// The span tokio opens for every task (and blocking job).
pub(super) const SPAWN_SPAN: &str = "runtime.spawn";
/// The span of a tokio resource (a timer, a lock, a channel...).
pub(super) const RESOURCE_SPAN: &str = "runtime.resource";
/// Events: a waker's use, a resource's poll, a resource's new state.
pub(super) const WAKER_TARGET: &str = "tokio::task::waker";
pub(super) const POLL_OP_TARGET: &str = "runtime::resource::poll_op";
pub(super) const STATE_UPDATE_TARGET: &str = "runtime::resource::state_update";

const KIND: &str = "kind";
const TASK_NAME: &str = "task.name";
const TASK_ID: &str = "task.id";
const LOC_FILE: &str = "loc.file";
const LOC_LINE: &str = "loc.line";
const CONCRETE_TYPE: &str = "concrete_type";
const IS_INTERNAL: &str = "is_internal";
const OP: &str = "op";
const IS_READY: &str = "is_ready";
const DURATION: &str = "duration";

/// A `runtime.spawn` span: `kind` (task, local, blocking), `task.name`,
/// `task.id`, and where it was spawned (`loc.file`, `loc.line`).
#[derive(Default)]
pub(super) struct SpawnFields {
    pub kind: String,
    pub name: String,
    pub id: u64,
    pub file: String,
    pub line: u64,
}

impl SpawnFields {
    /// Where the task was spawned, `file:line` (as tokio-console shows),
    /// if tokio said.
    pub fn place(&self) -> Option<String> {
        (!self.file.is_empty()).then(|| format!("{}:{}", self.file, self.line))
    }
}

/// A task's name as your program gave it, at most
/// [`crate::text::MAX_NAME_CHARS`] characters (what a recording
/// keeps and `replay` opens).
fn bounded(name: &str) -> String {
    name.chars().take(crate::text::MAX_NAME_CHARS).collect()
}

impl Visit for SpawnFields {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        match field.name() {
            KIND => self.kind = format!("{value:?}"),
            TASK_NAME => self.name = bounded(&format!("{value:?}")),
            _ => {}
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            KIND => self.kind = value.into(),
            TASK_NAME => self.name = bounded(value),
            // Bounded: a path is the program's own, but kept short.
            LOC_FILE => self.file = value.chars().take(200).collect(),
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            TASK_ID => self.id = value,
            LOC_LINE => self.line = value,
            _ => {}
        }
    }
}

/// A `runtime.resource` span: its type, and whether it lives inside
/// another resource.
#[derive(Default)]
pub(super) struct ResourceFields {
    pub concrete_type: String,
    pub internal: bool,
}

impl Visit for ResourceFields {
    fn record_debug(&mut self, _: &Field, _: &dyn Debug) {}

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == CONCRETE_TYPE {
            self.concrete_type = value.into();
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == IS_INTERNAL {
            self.internal = value;
        }
    }
}

impl ResourceFields {
    /// What waiting on a tokio resource of this type is.
    pub fn wait(&self) -> Wait {
        match self.concrete_type.as_str() {
            "Sleep" | "Interval" => Wait::Timer,
            // Alone, an internal semaphore is a bounded channel's send.
            "Semaphore" if self.internal => Wait::Channel,
            "Mutex" | "RwLock" | "Semaphore" => Wait::Lock,
            "Sender|Receiver" => Wait::Channel,
            _ => Wait::Other,
        }
    }
}

/// A waker event: what was done with a task's waker (`waker.wake`, ...).
#[derive(Default)]
pub(super) struct WakerFields {
    pub op: String,
    /// The span id of the task the waker wakes.
    pub task_span: u64,
}

impl WakerFields {
    /// The waker woke its task (rather than being cloned or dropped).
    pub fn is_wake(&self) -> bool {
        self.op == "waker.wake" || self.op == "waker.wake_by_ref"
    }
}

impl Visit for WakerFields {
    fn record_debug(&mut self, _: &Field, _: &dyn Debug) {}

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == OP {
            self.op = value.into();
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == TASK_ID {
            self.task_span = value;
        }
    }
}

/// A resource's poll: whether it was ready.
#[derive(Default)]
pub(super) struct PollOpFields {
    pub is_ready: Option<bool>,
}

impl Visit for PollOpFields {
    fn record_debug(&mut self, _: &Field, _: &dyn Debug) {}

    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == IS_READY {
            self.is_ready = Some(value);
        }
    }
}

/// A resource's new state: a timer's `duration` (ms) when it is set.
#[derive(Default)]
pub(super) struct StateUpdateFields {
    pub duration_ms: Option<u64>,
}

impl Visit for StateUpdateFields {
    fn record_debug(&mut self, _: &Field, _: &dyn Debug) {}

    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == DURATION {
            self.duration_ms = Some(value);
        }
    }
}
