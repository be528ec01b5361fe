//! The narration line (what just happened) and the selected task's "why is
//! it not running?" line, in a learner's words.

use std::time::Duration;

use crate::app::Session;
use crate::event::is_cpu;
use crate::format;
use crate::model::{Model, State, TaskView};
use crate::probe::{Change, Kind, Outcome, TaskIdx, Wait, WakeBy};
use crate::scenario::Action;

/// "eggs'" or "toast's".
fn possessive(name: &str) -> String {
    if name.ends_with('s') {
        format!("{name}'")
    } else {
        format!("{name}'s")
    }
}

pub(super) fn name_of(model: &Model, t: TaskIdx) -> String {
    model
        .task(t)
        .map_or("?".to_string(), |t| t.name.to_string())
}

/// What a row is, in a word: "thread", "blocking-pool job", "process".
fn kind_word(kind: Kind) -> &'static str {
    match kind {
        Kind::Task => "task",
        Kind::Thread => "OS thread",
        Kind::Blocking => "blocking-pool job",
        Kind::Process => "child process",
    }
}

/// "the task is" / "all 3 tasks are", as the count says; with the OS
/// rows they started (`os`: how many, and of which kinds), "all 5 tasks
/// and the 2 threads they started are", so the count matches the table's.
fn all(n: usize, os: &[Kind]) -> String {
    let tasks = match n {
        1 => "the task".to_string(),
        2 => "both tasks".to_string(),
        _ => format!("all {n} tasks"),
    };
    if os.is_empty() {
        return format!("{tasks} {}", if n == 1 { "is" } else { "are" });
    }
    let mut kinds: Vec<Kind> = os.to_vec();
    kinds.sort_by_key(|k| *k as u8);
    kinds.dedup();
    let plural = |k: &Kind| match k {
        Kind::Thread => "OS threads",
        Kind::Blocking => "blocking-pool jobs",
        Kind::Process => "child processes",
        Kind::Task => "tasks",
    };
    let what = match kinds.as_slice() {
        [one] if os.len() == 1 => kind_word(*one).to_string(),
        [one] => plural(one).to_string(),
        _ => "threads, jobs and processes".to_string(),
    };
    let they = if n == 1 { "it" } else { "they" };
    format!("{tasks} and the {} {what} {they} started are", os.len())
}

/// One sentence about the newest thing worth saying, with the names,
/// notes and messages from the scenario shown through the sanitizer.
pub fn text(session: &Session) -> String {
    crate::text::visible(&sentence(session)).into_owned()
}

fn sentence(session: &Session) -> String {
    // A held worker is the headline: everyone else is stuck behind it.
    if let Some(s) = headline(session) {
        return s;
    }
    if session.ended && session.history.at_live_edge() {
        return ending(session);
    }
    // A panic stays on screen long enough to read.
    if let Some(s) = recent_panic(session) {
        return s;
    }
    let cursor = session.history.cursor();
    let Some(e) = cursor.checked_sub(1).and_then(|p| session.history.event(p)) else {
        return "starting...".into();
    };
    // The OS switching threads every millisecond is one story, told once.
    let os_slice = matches!(e.change, Change::Running { worker } if is_cpu(worker))
        || matches!(e.change, Change::Ready { by: WakeBy::Os, .. });
    if os_slice {
        return os_story(session.model());
    }
    event(session, &e)
}

/// A worker held by a `cpu` or `block` step: who holds it, who is ready
/// behind it, whose timer is late meanwhile (and whether the viewer's
/// pause, not the held worker, made it so).
fn headline(session: &Session) -> Option<String> {
    let model = session.model();
    let name = |t: u32| name_of(model, t);
    let (worker, task, held) = session.holding().into_iter().max_by_key(|h| h.2)?;
    let label = session
        .step_of(task)
        .map(|(a, _)| session.scenario.label(a).to_string())
        .unwrap_or_default();
    let mut s = match label.as_str() {
        // Your own code has no steps to name.
        "" => format!(
            "{} holds worker {worker} ({})",
            name(task),
            format::time(held)
        ),
        _ => format!(
            "{}: {label} holds worker {worker} ({})",
            name(task),
            format::time(held)
        ),
    };
    if let Some((other, since)) = model
        .tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| t.state == State::Ready && !t.kind.is_os())
        .map(|(i, t)| (i as u32, t.since()))
        .min_by_key(|(_, since)| *since)
    {
        s.push_str(&format!(
            "; {} ready for {}",
            name(other),
            format::time(session.now().saturating_sub(since))
        ));
    }
    if let Some((late_task, (late, paused))) = model
        .tasks
        .iter()
        .enumerate()
        .filter_map(|(i, t)| crate::app::words::overdue(session, t).map(|l| (i as u32, l)))
        .max_by_key(|(_, l)| l.0)
    {
        s.push_str(&format!(
            "; {} {} {} overdue{}",
            possessive(&name(late_task)),
            match model.task(late_task).map(|t| &t.state) {
                Some(State::Waiting(Wait::Io)) => "reply",
                _ => "timer",
            },
            format::time(late),
            if paused {
                " (it came due in the pause)"
            } else {
                ""
            }
        ));
    }
    Some(s)
}

/// The run has ended: how many tasks, when, what panicked and which join
/// got the panic, and what to do next.
fn ending(session: &Session) -> String {
    let model = session.model();
    let wall = model.wall();
    let tasks = model.tasks.iter().filter(|t| !t.kind.is_os()).count();
    let os: Vec<Kind> = model
        .tasks
        .iter()
        .filter(|t| t.kind.is_os())
        .map(|t| t.kind)
        .collect();
    if let Some(note) = &session.end_note {
        return format!("stopped at {}: {note}", format::time(wall));
    }
    let mut s = format!("{} done at {}", all(tasks, &os), format::time(wall));
    // The first few panics by name, the rest counted: a run of thousands
    // of panics is one sentence, found in one pass over the tasks.
    const TOLD: usize = 3;
    let panicked: Vec<usize> = (model.tasks.iter().enumerate())
        .filter(|(_, t)| matches!(t.outcome(), Some(Outcome::Panicked(_))))
        .map(|(i, _)| i)
        .collect();
    let mut joiners_of: Vec<Vec<u32>> = vec![Vec::new(); panicked.len().min(TOLD)];
    for j in 0..model.tasks.len() as u32 {
        if let Some(p) = model.join_error(j)
            && let Some(k) = panicked.iter().take(TOLD).position(|i| *i == p as usize)
        {
            joiners_of[k].push(j);
        }
    }
    for (k, &i) in panicked.iter().take(TOLD).enumerate() {
        let t = &model.tasks[i];
        if let Some(Outcome::Panicked(m)) = t.outcome() {
            s.push_str(&format!("; {} panicked ({m})", t.name));
            let joiners: Vec<String> = joiners_of[k].iter().map(|j| name_of(model, *j)).collect();
            if !joiners.is_empty() {
                s.push_str(&format!(
                    " and {} join got Err(JoinError)",
                    joiners
                        .iter()
                        .map(|j| possessive(j))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    if panicked.len() > TOLD {
        s.push_str(&format!("; and {} more panicked", panicked.len() - TOLD));
    }
    let keys = if session.shows_replay() {
        "r goes back to the start, ← steps back, q quits"
    } else if !session.steps.restartable {
        "← scrubs back, q quits"
    } else {
        "r runs it again, ← scrubs back, ] the next lesson"
    };
    format!("{s}. {keys}")
}

/// How long a panic stays the narration: three seconds as the viewer
/// sees them, at the pace shown.
const PANIC_HOLD: Duration = Duration::from_secs(3);

/// A panic in the last moments shown (three seconds of the viewer's time),
/// told until then whatever came after it.
fn recent_panic(session: &Session) -> Option<String> {
    let cursor = session.history.cursor();
    let now = session.now();
    let hold = PANIC_HOLD.mul_f64(session.control.speed.get());
    let from = now.saturating_sub(hold);
    let pos = (cursor.saturating_sub(256)..cursor).rev().find_map(|p| {
        let (t, _, _, change) = session.history.light(p)?;
        if t < from {
            return Some(None);
        }
        matches!(
            change,
            crate::model::record::Light::Done(crate::model::record::End::Panicked)
        )
        .then_some(Some(p))
    })??;
    let e = session.history.event(pos)?;
    let Change::Done { outcome, .. } = &e.change else {
        return None;
    };
    let who = name_of(session.model(), e.task);
    Some(done(session, e.task, &who, Kind::Task, outcome))
}

/// Which threads and processes are on a CPU now and which wait for one.
fn os_story(model: &Model) -> String {
    let (mut on, mut waiting, mut turns) = (Vec::new(), Vec::new(), 0);
    for t in model.tasks.iter().filter(|t| t.kind.is_os()) {
        turns += t.polls;
        match t.state {
            State::Running { .. } => on.push(t.name.to_string()),
            State::Ready => waiting.push(t.name.to_string()),
            _ => {}
        }
    }
    let mut s = format!(
        "the OS shares the CPUs: {} on a CPU",
        if on.is_empty() {
            "none".into()
        } else {
            on.join(", ")
        }
    );
    if !waiting.is_empty() {
        s.push_str(&format!("; {} waiting for one", waiting.join(", ")));
    }
    let slices = if turns == 1 {
        "time slice"
    } else {
        "time slices"
    };
    s.push_str(&format!(" ({turns} {slices} so far)"));
    s
}

/// The sentence for one transition.
fn event(session: &Session, e: &crate::probe::Event) -> String {
    let model = session.model();
    let name = |t: u32| name_of(model, t);
    let who = name(e.task);
    let task = model.task(e.task);
    let kind = task.map_or(Kind::Task, |t| t.kind);
    let step = session.action(task.map_or(0, |t| t.spec), e.step);
    match &e.change {
        Change::Spawned {
            parent: Some(p), ..
        } if kind.is_os() => format!(
            "{} started {who}, a {}: the OS runs it, tokio only waits for it",
            name(*p),
            kind_word(kind)
        ),
        Change::Spawned {
            parent: Some(p), ..
        } => format!("{} spawned {who}: ready, waiting for a worker", name(*p)),
        Change::Spawned { .. } => format!("{who} was spawned: ready, waiting for a worker"),
        Change::OffCpu { gone } => {
            let worker = match task.map(|t| &t.state) {
                Some(crate::model::State::Running { worker }) => format!("worker {worker}'s"),
                _ => "its worker's".to_string(),
            };
            format!(
                "the OS took {worker} thread away for {} in the middle of {who}'s poll: \
                 the OS pre-empts threads, tokio never pre-empts a task",
                format::time(*gone)
            )
        }
        Change::Running { worker } if is_cpu(*worker) => {
            format!("the OS put {who} on a CPU")
        }
        Change::Running { worker } => match step_label(session, e.task) {
            // Your own code has no steps to name.
            l if l.is_empty() => format!("worker {worker} polls {who}"),
            _ if matches!(step, Some(Action::Io(_))) => io_poll(session, e, &who, *worker),
            l => format!("worker {worker} polls {who}: {l}"),
        },
        Change::Waiting { wait, due } => waits(session, e.task, &who, *wait, *due, step),
        Change::Ready { .. } => woken(session, task, &who, e, step),
        Change::Done { outcome, .. } => done(session, e.task, &who, kind, outcome),
    }
}

/// A poll of an io step, by its phase: the poll that starts connecting,
/// the one that sends the request once connected (the note says what the
/// wait is for), the one that takes the reply.
fn io_poll(session: &Session, e: &crate::probe::Event, who: &str, worker: u16) -> String {
    let label = session
        .step_of(e.task)
        .map(|(a, _)| session.scenario.label(a).to_string())
        .unwrap_or_default();
    let note = session
        .step_of(e.task)
        .and_then(|(_, n)| n)
        .map_or(String::new(), |n| format!(" ({n})"));
    // The wait this poll ends, if it ends one (a step reached mid-poll
    // ends none: it starts the io).
    let ended = (e.task, e.step);
    let before = session.history.cursor().saturating_sub(1);
    let waited = (before.saturating_sub(256)..before)
        .rev()
        .filter_map(|p| session.history.light(p))
        .find(|(_, t, _, _)| *t == ended.0)
        .and_then(|(_, _, step, change)| match change {
            crate::model::record::Light::Ready { .. } => Some(step),
            _ => None,
        })
        .and_then(|_| {
            let t = session.model().task(e.task)?;
            Some(t.due().is_none())
        });
    match waited {
        // Connected: now the request goes out.
        Some(true) => format!("worker {worker} polls {who}: connected, it sends its request{note}"),
        Some(false) => format!("worker {worker} polls {who}: its reply is in"),
        None => format!("worker {worker} polls {who}: {label}, it starts connecting"),
    }
}

/// The task's step, with its note if it has one ("" for your own code,
/// which has no steps).
fn step_label(session: &Session, task: TaskIdx) -> String {
    session
        .step_of(task)
        .map(|(a, note)| match note {
            Some(n) => format!("{} ({n})", session.scenario.label(a)),
            None => session.scenario.label(a).to_string(),
        })
        .unwrap_or_default()
}

/// The sentence for a task that starts waiting for `wait` (due at `due`),
/// at `step`.
fn waits(
    session: &Session,
    task: TaskIdx,
    who: &str,
    wait: Wait,
    due: Option<Duration>,
    step: Option<&Action>,
) -> String {
    let name = |t: u32| name_of(session.model(), t);
    let s = &session.scenario;
    match (wait, step) {
        (Wait::Timer, _) => format!(
            "{who} set a timer: waiting until {}",
            due.map_or("it fires".into(), format::time)
        ),
        (Wait::Io, _) if due.is_none() && session.steps.unnamed_waits => {
            format!("{who} waits on io (a socket, say) until tokio's I/O driver wakes it")
        }
        (Wait::Io, _) if due.is_none() => {
            format!("{who} is connecting to the server (waiting on io)")
        }
        (Wait::Io, _) => format!(
            "{who} sent its request: the reply is due at {}",
            due.map_or("?".into(), format::time)
        ),
        (Wait::Channel, Some(Action::Send(c))) => format!(
            "{who} waits to send on {}: the channel is full",
            s.channels[*c].name
        ),
        (Wait::Channel, Some(Action::Recv(c))) => format!(
            "{who} waits for a message on {}: the channel is empty",
            s.channels[*c].name
        ),
        (Wait::Lock, Some(Action::Lock(m))) => {
            let holder = session.resources().holders.get(*m).copied().flatten();
            format!(
                "{who} waits for the lock on {}{}",
                s.mutexes[*m],
                holder.map_or(String::new(), |h| format!(": {} holds it", name(h)))
            )
        }
        (Wait::Join, Some(Action::Join(t))) => {
            format!("{who} waits for {} to finish", s.tasks[*t].name)
        }
        (Wait::Blocking, Some(Action::SpawnBlocking(_))) => {
            format!("{who} handed its work to tokio's blocking pool and waits")
        }
        (Wait::Blocking, _) => format!("{who} handed its work to an OS thread and waits"),
        (Wait::Process, _) => format!("{who} started a child process and waits for it"),
        (Wait::Yield, _) => format!("{who} yielded: back in the queue, after the others"),
        (Wait::Other, _) => format!(
            "{who} returned Pending on something tokio does not name (a JoinHandle, a \
             channel's recv, a Notify, a socket): its wake will tell"
        ),
        (w, _) => match step_label(session, task) {
            l if l.is_empty() => format!("{who} returned Pending: waiting on {}", w.as_str()),
            l => format!("{who} returned Pending: waiting on {} for {l}", w.as_str()),
        },
    }
}

/// Why a wake at `at` came `late` past due: the worker was busy when it
/// was due, or (the real clock, where time goes on while the scheduler is
/// paused) the viewer's pause held it.
fn late_because(session: &Session, at: Duration, late: Duration) -> &'static str {
    let real = session.scenario.runtime.clock == crate::scenario::Clock::Real;
    if !real {
        "the worker was busy when it was due"
    } else if session.paused_between(at.saturating_sub(late), at) {
        "the run was paused when it was due, not a busy worker"
    } else if session.is_replay() {
        "the worker was busy, or the run was paused, when it was due"
    } else {
        "the worker was busy when it was due"
    }
}

/// The sentence for a task woken by event `e` (a `Ready`), at `step`.
fn woken(
    session: &Session,
    task: Option<&TaskView>,
    who: &str,
    e: &crate::probe::Event,
    step: Option<&Action>,
) -> String {
    let Change::Ready { by, late, waited } = e.change else {
        return String::new();
    };
    let model = session.model();
    let name = |t: u32| name_of(model, t);
    let s = &session.scenario;
    let late = late.map_or(String::new(), |l| {
        format!(
            ", {} late: {}",
            format::time(l),
            late_because(session, e.t, l)
        )
    });
    match (by, step) {
        (WakeBy::Os, _) => {
            format!("the OS took the CPU from {who}: runnable, waiting for a CPU")
        }
        (WakeBy::Task(t), Some(Action::Lock(m))) => {
            format!("{} unlocked {}: {who} is ready", name(t), s.mutexes[*m])
        }
        (WakeBy::Task(t), Some(Action::Recv(c))) => format!(
            "{} sent on {}: {who} is ready",
            name(t),
            s.channels[*c].name
        ),
        (WakeBy::Task(t), Some(Action::Send(c))) => format!(
            "{} took a message from {}: {who} can send",
            name(t),
            s.channels[*c].name
        ),
        (WakeBy::Task(t), Some(Action::Join(_))) => match model.task(t).and_then(|t| t.outcome()) {
            Some(Outcome::Panicked(m)) => format!(
                "{} panicked ({m}): {} join returns Err(JoinError), and {who} goes on",
                name(t),
                possessive(who)
            ),
            _ => format!("{} finished: {who} is ready", name(t)),
        },
        (WakeBy::Task(t), _) if matches!(waited, Some(Wait::Join | Wait::Blocking)) => {
            format!("{} finished: {} join is ready", name(t), possessive(who))
        }
        (WakeBy::Task(t), _) if waited == Some(Wait::Channel) => {
            format!("{} sent on a channel: {who} is ready", name(t))
        }
        (WakeBy::Task(t), _) => format!("{} woke {who}: ready", name(t)),
        (WakeBy::Timer, _) => format!("{} timer fired: ready{late}", possessive(who)),
        (WakeBy::Io, _) if waited.is_some() => {
            format!("the I/O driver woke {who}: its socket is ready")
        }
        (WakeBy::Io, _) if task.is_some_and(|t| t.due().is_none()) => {
            format!(
                "{} connection is up: ready to send its request",
                possessive(who)
            )
        }
        (WakeBy::Io, _) => format!("{} reply came in: ready{late}", possessive(who)),
        (WakeBy::Runtime, Some(Action::Yield | Action::Cpu { .. })) => {
            format!("{who} is ready again after yielding")
        }
        (WakeBy::Runtime, Some(Action::Thread(_) | Action::SpawnBlocking(_))) => {
            format!("{} thread is done: ready", possessive(who))
        }
        (WakeBy::Runtime, Some(Action::Process(_))) => {
            format!("{} child process exited: ready", possessive(who))
        }
        (WakeBy::Runtime, _) => format!("{who} woken by the runtime: ready"),
    }
}

/// The sentence for a task (or OS row, `kind`) that ended with `outcome`.
fn done(session: &Session, task: TaskIdx, who: &str, kind: Kind, outcome: &Outcome) -> String {
    match outcome {
        Outcome::Ok if kind.is_os() => format!("{who} is done"),
        Outcome::Ok => format!("{who} finished"),
        Outcome::Panicked(m) => {
            let joiners = joiners(session, task);
            if joiners.is_empty() {
                format!(
                    "{who} panicked ({m}): tokio caught it at the task's edge; the other tasks go on"
                )
            } else {
                format!(
                    "{who} panicked ({m}): tokio caught it, and {} join returns Err(JoinError); \
                     the other tasks go on",
                    joiners
                        .iter()
                        .map(|j| possessive(j))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        }
        Outcome::Cancelled => format!("{who} was cancelled"),
    }
}

/// The tasks whose steps join the kind of task `task` is.
fn joiners(session: &Session, task: TaskIdx) -> Vec<String> {
    let model = session.model();
    let Some(spec) = model.task(task).map(|t| t.spec as usize) else {
        return Vec::new();
    };
    session
        .scenario
        .tasks
        .iter()
        .filter(|t| {
            t.steps
                .iter()
                .any(|s| matches!(s.action, Action::Join(j) if j == spec))
        })
        .map(|t| t.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_counts_the_tasks_and_the_os_rows_they_started() {
        let _limit = crate::test_limit::limit();
        assert_eq!(all(1, &[]), "the task is");
        assert_eq!(all(3, &[]), "all 3 tasks are");
        assert_eq!(
            all(5, &[Kind::Thread, Kind::Thread]),
            "all 5 tasks and the 2 OS threads they started are"
        );
        assert_eq!(
            all(1, &[Kind::Process]),
            "the task and the 1 child process it started are"
        );
        assert_eq!(
            all(3, &[Kind::Thread, Kind::Process, Kind::Blocking]),
            "all 3 tasks and the 3 threads, jobs and processes they started are"
        );
    }
}
