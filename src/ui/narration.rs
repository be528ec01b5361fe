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

fn name_of(model: &Model, t: TaskIdx) -> String {
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
    let tasks = if n == 1 {
        "the task".to_string()
    } else {
        format!("all {n} tasks")
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
    let model = session.model();
    let name = |t: u32| name_of(model, t);
    // A held worker is the headline: everyone else is stuck behind it.
    if let Some((worker, task, held)) = session.holding().into_iter().max_by_key(|h| h.2) {
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
        if let Some((late_task, late)) = model
            .tasks
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.overdue(session.now()).map(|l| (i as u32, l)))
            .max_by_key(|(_, l)| *l)
        {
            s.push_str(&format!(
                "; {} {} {} overdue",
                possessive(&name(late_task)),
                match model.task(late_task).map(|t| &t.state) {
                    Some(State::Waiting(Wait::Io)) => "reply",
                    _ => "timer",
                },
                format::time(late)
            ));
        }
        return s;
    }
    if session.ended && session.history.at_live_edge() {
        let wall = model.wall();
        let tasks = model.tasks.iter().filter(|t| !t.kind.is_os()).count();
        let os: Vec<Kind> = model
            .tasks
            .iter()
            .filter(|t| t.kind.is_os())
            .map(|t| t.kind)
            .collect();
        return match &session.end_note {
            Some(note) => format!("stopped at {}: {note}", format::time(wall)),
            None if session.shows_replay() => format!(
                "{} done at {}. r goes back to the start, ← steps back, q quits",
                all(tasks, &os),
                format::time(wall)
            ),
            None if !session.steps.restartable => format!(
                "{} done at {}. ← scrubs back, q quits",
                all(tasks, &os),
                format::time(wall)
            ),
            None => format!(
                "{} done at {}. r runs it again, ← scrubs back, ] the next lesson",
                all(tasks, &os),
                format::time(wall)
            ),
        };
    }
    let cursor = session.history.cursor();
    let Some(e) = cursor.checked_sub(1).and_then(|p| session.history.event(p)) else {
        return "starting...".into();
    };
    // The OS switching threads every millisecond is one story, told once.
    let os_slice = matches!(e.change, Change::Running { worker } if is_cpu(worker))
        || matches!(e.change, Change::Ready { by: WakeBy::Os, .. });
    if os_slice {
        return os_story(model);
    }
    event(session, &e)
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
            l => format!("worker {worker} polls {who}: {l}"),
        },
        Change::Waiting { wait, due } => waits(session, e.task, &who, *wait, *due, step),
        Change::Ready { by, late, waited } => woken(session, task, &who, *by, *late, *waited, step),
        Change::Done { outcome, .. } => done(session, e.task, &who, kind, outcome),
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

/// The sentence for a task woken by `by` (`late` past due, after waiting
/// for `waited`), at `step`.
fn woken(
    session: &Session,
    task: Option<&TaskView>,
    who: &str,
    by: WakeBy,
    late: Option<Duration>,
    waited: Option<Wait>,
    step: Option<&Action>,
) -> String {
    let model = session.model();
    let name = |t: u32| name_of(model, t);
    let s = &session.scenario;
    // On the real clock time goes on while the scheduler is paused.
    let why = match s.runtime.clock {
        crate::scenario::Clock::Real => "the worker was busy, or the run paused",
        crate::scenario::Clock::Virtual => "the worker was busy",
    };
    let late = late.map_or(String::new(), |l| {
        format!(", {} late: {why} when it was due", format::time(l))
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
                format!("{who} panicked: {m} (the other tasks go on)")
            } else {
                format!(
                    "{who} panicked: {m}. {}'s join gets a JoinError; the other tasks go on",
                    joiners.join(", ")
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

/// Why the task is not running now (or what it is doing), in one line.
pub fn why(session: &Session, task: TaskIdx) -> String {
    crate::text::visible(&why_sentence(session, task)).into_owned()
}

fn why_sentence(session: &Session, task: TaskIdx) -> String {
    let model = session.model();
    let Some(t) = model.task(task) else {
        return String::new();
    };
    let now = session.now();
    let name = |i: u32| name_of(model, i);
    let since = format::time(now.saturating_sub(t.since()));
    let s = &session.scenario;
    let step = session.action(t.spec, t.step);
    let body = match &t.state {
        State::Running { worker } if is_cpu(*worker) => format!("on a CPU for {since}"),
        State::Ready if t.kind.is_os() => {
            format!("runnable for {since}: the OS gave the CPU to someone else")
        }
        State::Running { worker } => {
            if session.holding().iter().any(|h| h.1 == task) {
                format!(
                    "running on worker {worker} for {since}, holding it: nobody else can run there"
                )
            } else {
                format!("running on worker {worker} for {since}")
            }
        }
        State::Ready => format!("ready for {since}: {}", behind(session, model)),
        State::Waiting(w) => waiting(session, task, t, *w, step, now, &since, &name, s),
        State::Done(Outcome::Ok) => format!("done at {}", format::time(t.since())),
        State::Done(Outcome::Panicked(m)) => format!("panicked: {m}"),
        State::Done(Outcome::Cancelled) => "cancelled".into(),
    };
    format!("{}: {body}", t.name)
}

/// What a ready task waits behind.
fn behind(session: &Session, model: &Model) -> String {
    if let Some((w, holder, held)) = session.holding().into_iter().max_by_key(|h| h.2) {
        return format!(
            "{} holds worker {w} ({} so far)",
            name_of(model, holder),
            format::time(held)
        );
    }
    let busy: Vec<String> = model
        .workers
        .iter()
        .enumerate()
        .filter_map(|(w, lane)| {
            lane.current
                .map(|c| format!("worker {w} runs {}", name_of(model, c)))
        })
        .collect();
    if busy.is_empty() {
        "next in the queue".into()
    } else {
        busy.join(", ")
    }
}

#[allow(clippy::too_many_arguments)]
fn waiting(
    session: &Session,
    task: TaskIdx,
    t: &TaskView,
    w: Wait,
    step: Option<&Action>,
    now: Duration,
    since: &str,
    name: &dyn Fn(u32) -> String,
    s: &crate::scenario::Scenario,
) -> String {
    let due = |what: &str| match t.due() {
        Some(d) if now > d + Duration::from_millis(1) => format!(
            "{what} was due at {}: {} overdue, the worker was busy then",
            format::time(d),
            format::time(now - d)
        ),
        Some(d) => format!(
            "{what} is due at {} ({} from now)",
            format::time(d),
            format::time(d.saturating_sub(now))
        ),
        None => format!("waiting on {what}"),
    };
    match (w, step) {
        (Wait::Timer, _) => due("its timer"),
        (Wait::Io, _) if t.due().is_none() => {
            format!("connecting for {since}: it can send its request once polled again")
        }
        (Wait::Io, _) => due("its reply"),
        (Wait::Lock, Some(Action::Lock(m))) => {
            let r = session.resources();
            let holder = r.holders.get(*m).copied().flatten();
            format!(
                "waiting {since} for {}{}",
                s.mutexes[*m],
                holder.map_or(String::new(), |h| format!(", held by {}", name(h)))
            )
        }
        (Wait::Channel, Some(Action::Send(c))) => {
            let r = session.resources();
            format!(
                "waiting {since} to send on {}: full ({} of {})",
                s.channels[*c].name,
                r.fill.get(*c).copied().unwrap_or(0),
                s.channels[*c].capacity
            )
        }
        (Wait::Channel, Some(Action::Recv(c))) => {
            format!(
                "waiting {since} for a message on {}: empty",
                s.channels[*c].name
            )
        }
        (Wait::Join, Some(Action::Join(j))) => {
            format!("waiting {since} for {} to finish", s.tasks[*j].name)
        }
        (Wait::Blocking | Wait::Process, _) => {
            let model = session.model();
            let rows: Vec<String> = model
                .tasks
                .iter()
                .enumerate()
                .filter(|(_, r)| {
                    r.kind.is_os() && r.parent == Some(task) && !matches!(r.state, State::Done(_))
                })
                .map(|(i, r)| format!("{} {}", name(i as u32), crate::app::state_name(&r.state)))
                .collect();
            if rows.is_empty() {
                format!(
                    "waiting {since} for its {}",
                    if w == Wait::Process {
                        "process"
                    } else {
                        "thread"
                    }
                )
            } else {
                format!("waiting {since} for {}", rows.join(", "))
            }
        }
        (Wait::Yield, _) => format!("yielded {since} ago: waiting for its turn"),
        (w, _) => format!("waiting {since} on {}", w.as_str()),
    }
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
