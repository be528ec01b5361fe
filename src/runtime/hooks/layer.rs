//! The tracing layer: tokio's task and resource spans, wakes and resource
//! polls, handed to the `Watcher` of the run.

use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use tracing::span::{Attributes, Id};
use tracing::{Event as TraceEvent, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::visitors::{
    POLL_OP_TARGET, PollOpFields, RESOURCE_SPAN, ResourceFields, SPAWN_SPAN, STATE_UPDATE_TARGET,
    SpawnFields, StateUpdateFields, WAKER_TARGET, WakerFields,
};
use super::watcher::CodeTask;
use super::watcher::Watcher;
use super::{HIDE, JUST_CREATED, POLL, Phase, RESOURCES, active};
use crate::event::{Kind, Wait};
use crate::runtime::control::Due;

/// A task's span: which task it is.
struct TaskExt(Arc<CodeTask>);

/// A tokio resource's span: what waiting on it is.
struct Resource {
    wait: Wait,
    /// A timer: when it is due, registered with the pacer.
    due: Option<(Duration, Option<Due>)>,
}

/// The tracing layer that feeds your own code's run (installed by
/// [`crate::console::install`] for a program under `taskscope::watch`).
#[derive(Debug, Default)]
pub struct TokioLayer;

impl<S> Layer<S> for TokioLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(watcher) = active() else { return };
        let Some(span) = ctx.span(id) else { return };
        match attrs.metadata().name() {
            RESOURCE_SPAN => {
                let mut f = ResourceFields::default();
                attrs.record(&mut f);
                span.extensions_mut().insert(Resource {
                    wait: f.wait(),
                    due: None,
                });
            }
            SPAWN_SPAN => {
                let mut f = SpawnFields::default();
                attrs.record(&mut f);
                if let Some(task) = task_created(watcher, f) {
                    span.extensions_mut().insert(TaskExt(task));
                }
            }
            _ => {}
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(watcher) = active() else { return };
        let Some(span) = ctx.span(id) else { return };
        let ext = span.extensions();
        if ext.get::<Resource>().is_some() {
            RESOURCES.with(|r| r.borrow_mut().push(id.clone()));
        } else if let Some(TaskExt(task)) = ext.get::<TaskExt>() {
            let task = task.clone();
            drop(ext);
            watcher.poll_started(&task);
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(watcher) = active() else { return };
        let Some(span) = ctx.span(id) else { return };
        let ext = span.extensions();
        if ext.get::<Resource>().is_some() {
            RESOURCES.with(|r| {
                let mut r = r.borrow_mut();
                if let Some(at) = r.iter().rposition(|x| x == id) {
                    r.remove(at);
                }
            });
        } else if let Some(TaskExt(task)) = ext.get::<TaskExt>() {
            let task = task.clone();
            drop(ext);
            watcher.poll_returned(&task);
        }
    }

    fn on_event(&self, event: &TraceEvent<'_>, ctx: Context<'_, S>) {
        let Some(watcher) = active() else { return };
        match event.metadata().target() {
            WAKER_TARGET => {
                let mut f = WakerFields::default();
                event.record(&mut f);
                if f.is_wake() {
                    woken(watcher, &f, &ctx);
                }
            }
            POLL_OP_TARGET => {
                let mut f = PollOpFields::default();
                event.record(&mut f);
                resource_polled(&f, &ctx);
            }
            STATE_UPDATE_TARGET => {
                let mut f = StateUpdateFields::default();
                event.record(&mut f);
                if let Some(ms) = f.duration_ms {
                    timer_set(watcher, ms, &ctx);
                }
            }
            _ => {}
        }
    }
}

/// A task or blocking job's span was created: the task as the watcher
/// records it, unless it is tokio's or taskscope's own.
fn task_created(watcher: &Watcher, f: SpawnFields) -> Option<Arc<CodeTask>> {
    let kind = match f.kind.as_str() {
        "task" | "local" => Kind::Task,
        "blocking" => Kind::Blocking,
        _ => return None,
    };
    // Before your code starts, tokio's own: its workers are blocking
    // jobs of a multi_thread runtime.
    if HIDE.with(Cell::get) > 0 || !watcher.has_started() {
        return None;
    }
    let parent = POLL.with(|p| {
        let p = p.borrow();
        match p.phase {
            // Spawned by a task taskscope does not show: its own.
            Phase::Before => Err(()),
            Phase::InPoll | Phase::After => Ok(p.task.clone()),
            Phase::Idle => Ok(None),
        }
    });
    let parent = parent.ok()?;
    let shown: Arc<str> = match (f.name.is_empty(), kind, &parent) {
        (false, _, _) => f.name.into(),
        // Named after the task that handed it over, as a scenario's are.
        (true, Kind::Blocking, Some(p)) => p.job_name().into(),
        // Where it was spawned, as tokio-console shows it.
        (true, _, _) => f.place().unwrap_or_else(|| format!("task-{}", f.id)).into(),
    };
    let task = watcher.created(shown, f.id, kind, parent.map(|p| p.idx()));
    if kind == Kind::Task {
        JUST_CREATED.with(|j| j.set(f.id));
    }
    Some(task)
}

/// A waker woke the task whose span it names.
fn woken<S>(watcher: &Watcher, f: &WakerFields, ctx: &Context<'_, S>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let Some(span) = ctx.span(&Id::from_u64(f.task_span.max(1))) else {
        return;
    };
    let task = span.extensions().get::<TaskExt>().map(|t| t.0.clone());
    if let Some(task) = task {
        watcher.woken(&task);
    }
}

/// A resource was polled in the poll on this thread: Pending says what
/// the poll waits on.
fn resource_polled<S>(f: &PollOpFields, ctx: &Context<'_, S>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    // The outermost resource entered: a Mutex, not its semaphore.
    let Some(outer) = RESOURCES.with(|r| r.borrow().first().cloned()) else {
        return;
    };
    let Some(span) = ctx.span(&outer) else { return };
    let ext = span.extensions();
    let Some(res) = ext.get::<Resource>() else {
        return;
    };
    let (wait, due) = (res.wait, res.due.as_ref().map(|d| d.0));
    drop(ext);
    if f.is_ready == Some(false) {
        POLL.with(|p| p.borrow_mut().wait = Some((wait, due)));
    }
}

/// A timer was set or reset, due in `ms`: when it is due, told to the
/// pacer. Every timer resource entered gets it: an `Interval` is a
/// resource of its own around its `Sleep`, and a poll reads the outer one.
fn timer_set<S>(watcher: &Watcher, ms: u64, ctx: &Context<'_, S>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let entered = RESOURCES.with(|r| r.borrow().clone());
    let at = watcher.now() + Duration::from_millis(ms);
    let mut registered = false;
    for id in entered.iter().rev() {
        let Some(span) = ctx.span(id) else { continue };
        let mut ext = span.extensions_mut();
        let Some(res) = ext.get_mut::<Resource>() else {
            continue;
        };
        if res.wait == Wait::Timer {
            // The pacer is told once (by the innermost: the timer itself).
            let guard = if registered {
                None
            } else {
                registered = true;
                watcher.control().and_then(|c| c.due(at))
            };
            res.due = Some((at, guard));
        }
    }
}
