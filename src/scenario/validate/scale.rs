//! What one run may cost, worked out from the checked steps before anything
//! runs: tasks started, polls, steps taken, work done and scenario time,
//! every copy and every pass of every repeat multiplied out. The sums
//! saturate, so no count from the file can wrap around into a small one.

use std::time::Duration;

use super::{Checker, ReadTask};
use crate::scenario::{Action, Cost, MAX_POLLS, MAX_RUN_TIME, MAX_STEPS, MAX_TASKS, MAX_WORK};

/// One copy of a task: what its steps add up to.
#[derive(Default)]
struct PerCopy {
    polls: u64,
    steps: u64,
    /// cpu, block, spawn_blocking, thread and process time, in ns.
    work: u128,
    /// Every timed step one after another, in ns.
    time: u128,
}

fn nanos(d: Duration) -> u128 {
    d.as_nanos()
}

/// The least work a `thread` step counts for: starting and ending a thread.
pub const THREAD_START: Duration = Duration::from_micros(100);
/// The least work a `process` step counts for: starting this program again
/// as a child (fork, exec, its start-up) and waiting for it.
pub const PROCESS_START: Duration = Duration::from_millis(5);

fn per_copy(task: &ReadTask) -> PerCopy {
    let mut c = PerCopy {
        polls: 1,
        ..PerCopy::default()
    };
    for (s, &m) in task.spec.steps.iter().zip(&task.multiplicity) {
        let times = |d: Duration| nanos(d).saturating_mul(u128::from(m));
        let polls = match &s.action {
            Action::Cpu {
                work,
                yield_every: Some(e),
            } => u64::try_from(work.as_nanos().div_ceil(e.as_nanos().max(1))).unwrap_or(u64::MAX),
            Action::Cpu { .. }
            | Action::Block(_)
            | Action::Spawn(_)
            | Action::Unlock(_)
            | Action::Fail(_)
            | Action::Repeat { .. } => 0,
            _ => 1,
        };
        c.polls = c.polls.saturating_add(polls.saturating_mul(m));
        c.steps = c.steps.saturating_add(m);
        let (work, time) = match &s.action {
            // Starting a thread or a child process takes time of its own,
            // however short its work: counted as at least that.
            Action::Thread(d) => (times((*d).max(THREAD_START)), times(*d)),
            Action::Process(d) => (times((*d).max(PROCESS_START)), times(*d)),
            Action::Cpu { work: d, .. } | Action::Block(d) | Action::SpawnBlocking(d) => {
                (times(*d), times(*d))
            }
            Action::Sleep(d) | Action::Io(d) => (0, times(*d)),
            _ => (0, 0),
        };
        c.work = c.work.saturating_add(work);
        c.time = c.time.saturating_add(time);
    }
    c
}

/// Tasks in an order where every spawner comes before the tasks it spawns
/// (Kahn's algorithm: a loop, not recursion). None if spawns form a cycle.
fn spawn_order(tasks: &[ReadTask]) -> Option<Vec<usize>> {
    let mut spawns: Vec<Vec<usize>> = vec![Vec::new(); tasks.len()];
    let mut incoming = vec![0usize; tasks.len()];
    for (t, task) in tasks.iter().enumerate() {
        for s in &task.spec.steps {
            if let Action::Spawn(j) = s.action {
                spawns[t].push(j);
                incoming[j] += 1;
            }
        }
    }
    let mut ready: Vec<usize> = (0..tasks.len()).filter(|&t| incoming[t] == 0).collect();
    let mut order = Vec::with_capacity(tasks.len());
    while let Some(t) = ready.pop() {
        order.push(t);
        for &j in &spawns[t] {
            incoming[j] -= 1;
            if incoming[j] == 0 {
                ready.push(j);
            }
        }
    }
    (order.len() == tasks.len()).then_some(order)
}

/// `ns` made `by` times longer (saturating).
fn stretched(ns: u128, by: f64) -> u128 {
    if by == 1.0 {
        ns
    } else {
        // f64 to u128 saturates; `by` is at most 100.
        (ns as f64 * by) as u128
    }
}

/// A duration for a message: exact when small, rounded when huge.
fn rough(ns: u128) -> String {
    match u64::try_from(ns) {
        Ok(ns) if ns < 3_600_000_000_000 => crate::format::exact(Duration::from_nanos(ns)),
        _ => format!("about {}h", ns / 3_600_000_000_000),
    }
}

/// Copies started of each task: its own `count` if it starts, plus
/// every copy its spawners start (spawners first, in `order`).
fn instances(tasks: &[ReadTask], order: &[usize]) -> Vec<u64> {
    let mut instances = vec![0u64; tasks.len()];
    for &t in order {
        let task = &tasks[t];
        if task.spec.autostart {
            instances[t] = instances[t].saturating_add(u64::from(task.spec.count));
        }
        for (s, m) in task.spec.steps.iter().zip(&task.multiplicity) {
            if let Action::Spawn(j) = s.action {
                let add = instances[t]
                    .saturating_mul(*m)
                    .saturating_mul(u64::from(tasks[j].spec.count));
                instances[j] = instances[j].saturating_add(add);
            }
        }
    }
    instances
}

/// The longest chain from each task: its own timed steps, then the longest
/// of the tasks it spawns (at the latest, they start when it ends), joins
/// or receives from (it may wait for them to end): a chain of tasks each
/// waiting for the next before its own long sleep lasts their sum. Walked
/// without recursion (chains of 80,000 tasks); a wait that closes a loop
/// (two tasks passing messages to and fro) adds nothing more.
fn chains(tasks: &[ReadTask], copies: &[PerCopy]) -> Vec<u128> {
    // Nodes: the tasks, then one per channel (the longest of its senders),
    // so many receivers of many senders cost their sum, not their product.
    let n = tasks.len();
    let mut senders: Vec<Vec<usize>> = Vec::new();
    for (t, task) in tasks.iter().enumerate() {
        for s in &task.spec.steps {
            if let Action::Send(c) = s.action {
                if senders.len() <= c {
                    senders.resize(c + 1, Vec::new());
                }
                senders[c].push(t);
            }
        }
    }
    let waits_on = |node: usize| -> Vec<usize> {
        if let Some(c) = node.checked_sub(n) {
            return senders[c].clone();
        }
        let mut on: Vec<usize> = tasks[node]
            .spec
            .steps
            .iter()
            .filter_map(|s| match s.action {
                Action::Spawn(j) | Action::Join(j) => Some(j),
                Action::Recv(c) if c < senders.len() => Some(n + c),
                _ => None,
            })
            .filter(|&j| j != node)
            .collect();
        on.sort_unstable();
        on.dedup();
        on
    };
    let own = |node: usize| copies.get(node).map_or(0, |c| c.time);
    // 0: not seen, 1: being walked, 2: done.
    let nodes = n + senders.len();
    let mut state = vec![0u8; nodes];
    let mut chain = vec![0u128; nodes];
    for root in 0..nodes {
        if state[root] != 0 {
            continue;
        }
        let mut stack = vec![(root, waits_on(root), 0usize)];
        state[root] = 1;
        while let Some((t, on, next)) = stack.last_mut() {
            if let Some(&j) = on.get(*next) {
                *next += 1;
                if state[j] == 0 {
                    state[j] = 1;
                    stack.push((j, waits_on(j), 0));
                }
                continue;
            }
            let t = *t;
            let longest = on
                .iter()
                .filter(|&&j| state[j] == 2)
                .map(|&j| chain[j])
                .max()
                .unwrap_or(0);
            chain[t] = own(t).saturating_add(longest);
            state[t] = 2;
            stack.pop();
        }
    }
    chain.truncate(n);
    chain
}

impl Checker<'_> {
    /// Tasks, polls, steps, work and scenario time stay within what one
    /// run may do (the limits in `scenario.rs`, named in each message).
    /// `stretch`: how much longer than written every duration lasts (a
    /// slow-motion lesson on the real clock); work and time count so.
    pub(super) fn check_scale(&mut self, tasks: &[ReadTask], stretch: f64) -> Option<Cost> {
        if !self.diagnostics.is_empty() {
            return None; // cycles would make the counts meaningless
        }
        let order = spawn_order(tasks)?;
        let instances = instances(tasks, &order);
        let total: u64 = instances.iter().fold(0, |a, b| a.saturating_add(*b));
        if total > MAX_TASKS {
            let worst = worst(&instances, |_, n| u128::from(n));
            self.at(
                tasks[worst].count_span.clone(),
                format!("this scenario would start {total} tasks; at most {MAX_TASKS} are allowed in one run"),
            );
            return None;
        }
        let copies: Vec<PerCopy> = tasks
            .iter()
            .map(|t| {
                let mut c = per_copy(t);
                c.work = stretched(c.work, stretch);
                c.time = stretched(c.time, stretch);
                c
            })
            .collect();
        let at_speed = if stretch > 1.0 {
            format!(" (at the lesson's speed = {:.2})", 1.0 / stretch)
        } else {
            String::new()
        };
        if self.check_totals(tasks, &instances, &copies, &at_speed) {
            self.check_run_time(tasks, &copies, &at_speed);
            self.check_lock_time(tasks, &instances, stretch, &at_speed);
        }
        // What one run costs at the pace written (stretched by another
        // speed when it runs: see `Cost::check_at`).
        let plain: Vec<PerCopy> = tasks.iter().map(per_copy).collect();
        let work = plain.iter().zip(&instances).fold(0u128, |a, (c, n)| {
            a.saturating_add(c.work.saturating_mul(u128::from(*n)))
        });
        let time = chains(tasks, &plain)
            .iter()
            .enumerate()
            .filter(|(t, _)| tasks[*t].spec.autostart)
            .map(|(_, t)| *t)
            .chain(lock_times(tasks, &instances))
            .max()
            .unwrap_or(0);
        let polls = copies.iter().zip(&instances).fold(0u64, |a, (c, n)| {
            a.saturating_add(c.polls.saturating_mul(*n))
        });
        let os_rows = tasks.iter().zip(&instances).fold(0u64, |a, (t, n)| {
            let leaves = t
                .spec
                .steps
                .iter()
                .zip(&t.multiplicity)
                .filter(|(s, _)| s.action.leaves_runtime())
                .fold(0u64, |a, (_, m)| a.saturating_add(*m));
            a.saturating_add(leaves.saturating_mul(*n))
        });
        // A row that fails keeps its message (one: it fails once).
        let messages = tasks.iter().zip(&instances).fold(0u64, |a, (t, n)| {
            let longest = (t.spec.steps.iter())
                .filter_map(|s| match &s.action {
                    Action::Fail(m) => Some(m.len() as u64),
                    _ => None,
                })
                .max()
                .unwrap_or(0);
            a.saturating_add(longest.saturating_mul(*n))
        });
        Some(Cost {
            tasks: total.saturating_add(os_rows),
            polls,
            work: Duration::from_nanos(u64::try_from(work).unwrap_or(u64::MAX)),
            time: Duration::from_nanos(u64::try_from(time).unwrap_or(u64::MAX)),
            reading: 0,
            messages,
        })
    }

    /// Polls, steps and work summed over every copy of every task; the
    /// first over its limit is reported at the task with the largest
    /// share. Whether all are within their limits.
    fn check_totals(
        &mut self,
        tasks: &[ReadTask],
        instances: &[u64],
        copies: &[PerCopy],
        at_speed: &str,
    ) -> bool {
        let sum = |f: &dyn Fn(&PerCopy) -> u128| -> u128 {
            copies
                .iter()
                .zip(instances)
                .map(|(c, n)| f(c).saturating_mul(u128::from(*n)))
                .fold(0, u128::saturating_add)
        };
        let polls = sum(&|c| u128::from(c.polls));
        if polls > u128::from(MAX_POLLS) {
            let t = worst(instances, |t, n| {
                u128::from(copies[t].polls).saturating_mul(u128::from(n))
            });
            self.at(
                tasks[t].name_span.clone(),
                format!("this scenario would make about {polls} polls; at most {MAX_POLLS} are allowed in one run"),
            );
            return false;
        }
        let steps = sum(&|c| u128::from(c.steps));
        if steps > u128::from(MAX_STEPS) {
            let t = worst(instances, |t, n| {
                u128::from(copies[t].steps).saturating_mul(u128::from(n))
            });
            self.at(
                tasks[t].name_span.clone(),
                format!(
                    "this scenario would take {steps} steps (every copy and every pass of a repeat); \
                     the step limit is {MAX_STEPS} in one run"
                ),
            );
            return false;
        }
        let work = sum(&|c| c.work);
        if work > nanos(MAX_WORK) {
            let t = worst(instances, |t, n| {
                copies[t].work.saturating_mul(u128::from(n))
            });
            self.at(
                tasks[t].name_span.clone(),
                format!(
                    "this scenario would do {} of work{at_speed} (cpu, block, spawn_blocking, thread \
                     and process steps, every copy and every pass of a repeat; starting a thread \
                     counts at least {}, a process {}); the work limit is {} in one run",
                    rough(work),
                    crate::format::exact(THREAD_START),
                    crate::format::exact(PROCESS_START),
                    crate::format::exact(MAX_WORK)
                ),
            );
            return false;
        }
        true
    }

    /// The longest chain of timed steps a starting task sets off stays
    /// within the scenario time limit.
    /// The time a mutex is held, by all its holders one after another,
    /// within the scenario time limit (waits behind it are scenario time
    /// too).
    fn check_lock_time(
        &mut self,
        tasks: &[ReadTask],
        instances: &[u64],
        stretch: f64,
        at_speed: &str,
    ) {
        let held = lock_times(tasks, instances);
        let Some((m, &time)) = held.iter().enumerate().max_by_key(|(_, t)| **t) else {
            return;
        };
        let time = (time as f64 * stretch) as u128;
        if time <= nanos(MAX_RUN_TIME) {
            return;
        }
        // Reported at the first task that takes it.
        let Some(t) = tasks.iter().position(|t| {
            t.spec
                .steps
                .iter()
                .any(|s| matches!(s.action, Action::Lock(x) if x == m))
        }) else {
            return;
        };
        self.at(
            tasks[t].name_span.clone(),
            format!(
                "the tasks that lock the same mutex would hold it {} in all{at_speed}, one after \
                 another (waits behind a lock last too); the scenario time limit is {} in one run",
                rough(time),
                crate::format::exact(MAX_RUN_TIME)
            ),
        );
    }

    fn check_run_time(&mut self, tasks: &[ReadTask], copies: &[PerCopy], at_speed: &str) {
        let chain = chains(tasks, copies);
        if let Some((t, &time)) = chain
            .iter()
            .enumerate()
            .filter(|(t, _)| tasks[*t].spec.autostart)
            .max_by_key(|(_, time)| **time)
            && time > nanos(MAX_RUN_TIME)
        {
            self.at(
                tasks[t].name_span.clone(),
                format!(
                    "this scenario would last {} of scenario time{at_speed} (this task's timed steps one after \
                     another, repeats multiplied out, then the tasks it spawns, joins or receives from); the scenario time \
                     limit is {} in one run",
                    rough(time),
                    crate::format::exact(MAX_RUN_TIME)
                ),
            );
        }
    }
}

/// Per mutex, its holders' timed steps added up (ns): they hold it one
/// after another, so a run lasts at least that long, however the tasks
/// are spread out.
fn lock_times(tasks: &[ReadTask], instances: &[u64]) -> Vec<u128> {
    let mut held_for: Vec<u128> = Vec::new();
    for (task, &n) in tasks.iter().zip(instances) {
        let mut held: Vec<usize> = Vec::new();
        for (s, &m) in task.spec.steps.iter().zip(&task.multiplicity) {
            match &s.action {
                Action::Lock(x) => held.push(*x),
                Action::Unlock(x) => held.retain(|h| h != x),
                Action::Sleep(d)
                | Action::Io(d)
                | Action::Cpu { work: d, .. }
                | Action::Block(d)
                | Action::SpawnBlocking(d)
                | Action::Thread(d)
                | Action::Process(d) => {
                    let time = nanos(*d)
                        .saturating_mul(u128::from(m))
                        .saturating_mul(u128::from(n));
                    for &x in &held {
                        if held_for.len() <= x {
                            held_for.resize(x + 1, 0);
                        }
                        held_for[x] = held_for[x].saturating_add(time);
                    }
                }
                _ => {}
            }
        }
    }
    held_for
}

/// The task with the largest share of a total.
fn worst(instances: &[u64], share: impl Fn(usize, u64) -> u128) -> usize {
    instances
        .iter()
        .enumerate()
        .max_by_key(|(t, n)| share(*t, **n))
        .map_or(0, |(t, _)| t)
}
