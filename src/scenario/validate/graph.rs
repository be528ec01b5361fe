//! Checks across tasks: names resolved to indices, self-joins, spawn and
//! join cycles, tasks nobody starts, and even locking. Every walk is a loop
//! with its own stack and every lookup a map, so a file of 80,000 tasks in a
//! chain is checked in linear time and constant call depth.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use super::{Checker, ReadTask, RefKind};
use crate::scenario::{Action, Scenario};

/// Names listed at most in one message.
const LISTED: usize = 12;

/// `a, b, c` (or the first few and how many more).
fn listing<'a>(names: impl ExactSizeIterator<Item = &'a str>, sep: &str) -> String {
    let total = names.len();
    let mut out: Vec<&str> = names.take(LISTED).collect();
    let more = total - out.len();
    let tail = format!("... and {more} more");
    if more > 0 {
        out.push(&tail);
    }
    out.join(sep)
}

impl Checker<'_> {
    /// Turns names into indices now that every name is known.
    pub(super) fn resolve(&mut self, tasks: &mut [ReadTask], scenario: &Scenario) {
        fn index<'n>(names: impl Iterator<Item = &'n str>) -> HashMap<&'n str, usize> {
            let mut map = HashMap::new();
            for (i, n) in names.enumerate() {
                // The first of two same names wins (the second is reported).
                map.entry(n).or_insert(i);
            }
            map
        }
        let task_names: Vec<String> = tasks.iter().map(|t| t.spec.name.clone()).collect();
        let channel_names: Vec<&str> = scenario.channels.iter().map(|c| c.name.as_str()).collect();
        let mutex_names: Vec<&str> = scenario.mutexes.iter().map(String::as_str).collect();
        let task_index = index(task_names.iter().map(String::as_str));
        let channel_index = index(channel_names.iter().copied());
        let mutex_index = index(mutex_names.iter().copied());
        for task in tasks.iter_mut() {
            for r in std::mem::take(&mut task.refs) {
                let (what, map, names): (&str, _, &[&str]) = match r.kind {
                    RefKind::Spawn | RefKind::Join => ("task", &task_index, &[]),
                    RefKind::Send | RefKind::Recv => ("channel", &channel_index, &channel_names),
                    RefKind::Lock | RefKind::Unlock => ("mutex", &mutex_index, &mutex_names),
                };
                let Some(&i) = map.get(r.name.as_str()) else {
                    if self.full() {
                        continue;
                    }
                    // Listed in file order (tasks have their own list).
                    let known: Vec<&str> = if what == "task" {
                        task_names.iter().map(String::as_str).collect()
                    } else {
                        names.to_vec()
                    };
                    let expected = if known.is_empty() {
                        format!("a [[{what}]] declared in this file (there are none)")
                    } else {
                        format!("one of: {}", listing(known.into_iter(), ", "))
                    };
                    self.at(
                        r.span.clone(),
                        format!("unknown {what} `{}`; expected {expected}", r.name),
                    );
                    continue;
                };
                task.spec.steps[r.step].action = match r.kind {
                    RefKind::Spawn => Action::Spawn(i),
                    RefKind::Join => Action::Join(i),
                    RefKind::Send => Action::Send(i),
                    RefKind::Recv => Action::Recv(i),
                    RefKind::Lock => Action::Lock(i),
                    RefKind::Unlock => Action::Unlock(i),
                };
            }
        }
    }

    /// Self-joins, spawn and join cycles, tasks nobody starts.
    pub(super) fn check_graph(&mut self, tasks: &[ReadTask]) {
        let mut spawned = vec![false; tasks.len()];
        for t in tasks {
            for s in &t.spec.steps {
                if let Action::Spawn(j) = s.action {
                    spawned[j] = true;
                }
            }
        }
        for (ti, t) in tasks.iter().enumerate() {
            for (step, span) in t.spec.steps.iter().zip(&t.step_spans) {
                match step.action {
                    Action::Join(j) if j == ti => self.at(
                        span.clone(),
                        format!("task `{}` joins itself, so it would wait forever; expected another task's name", t.spec.name),
                    ),
                    Action::Spawn(j) if j == ti => self.at(
                        span.clone(),
                        format!("task `{}` spawns itself, which never ends; expected another task's name", t.spec.name),
                    ),
                    _ => {}
                }
            }
            if !t.spec.autostart && !spawned[ti] {
                self.at(
                    t.name_span.clone(),
                    format!("task `{}` has autostart = false but no step spawns it, so it never runs; add `{{ spawn = \"{}\" }}` to another task", t.spec.name, t.spec.name),
                );
            }
        }
        for (verb, pick) in [("spawn", true), ("join", false)] {
            let edges: Vec<Vec<(usize, Range<usize>)>> = tasks
                .iter()
                .enumerate()
                .map(|(ti, t)| {
                    t.spec
                        .steps
                        .iter()
                        .zip(&t.step_spans)
                        .filter_map(|(s, span)| match s.action {
                            Action::Spawn(j) if pick && j != ti => Some((j, span.clone())),
                            Action::Join(j) if !pick && j != ti => Some((j, span.clone())),
                            _ => None,
                        })
                        .collect()
                })
                .collect();
            if let Some((cycle, span)) = find_cycle(&edges) {
                let names = listing(cycle.iter().map(|&i| tasks[i].spec.name.as_str()), " -> ");
                let why = if pick {
                    "they would spawn each other forever"
                } else {
                    "each waits for the other, forever"
                };
                self.at(span, format!("{verb} cycle: {names} ({why})"));
            }
        }
    }

    /// Every unlock follows a lock of the same mutex in the same task, and
    /// every pass of a repeat unlocks what it locks.
    pub(super) fn check_locks(&mut self, tasks: &[ReadTask]) {
        const UNEVEN: &str = "the steps inside this repeat lock and unlock unevenly; \
                              each pass must unlock what it locks";
        for t in tasks {
            let mut held: HashSet<usize> = HashSet::new();
            // Lock changes as (mutex, held before): an open repeat looks only
            // at the changes made since it began, so each is looked at once.
            let mut changes: Vec<(usize, bool)> = Vec::new();
            // Open repeats: (index after the body, changes before it, span).
            let mut frames: Vec<(usize, usize, Range<usize>)> = Vec::new();
            // One past the last step, so repeats that end the task close too.
            for i in 0..=t.spec.steps.len() {
                while let Some((end, _, _)) = frames.last()
                    && *end <= i
                {
                    let (_, from, rspan) = frames.pop().expect("checked");
                    let mut before: HashMap<usize, bool> = HashMap::new();
                    for &(m, was) in &changes[from..] {
                        before.entry(m).or_insert(was);
                    }
                    if before.iter().any(|(m, was)| held.contains(m) != *was) {
                        self.at(rspan, UNEVEN.into());
                        for (m, was) in before {
                            if was {
                                held.insert(m);
                            } else {
                                held.remove(&m);
                            }
                        }
                    }
                    // The pass changes nothing now, for the repeats around it.
                    changes.truncate(from);
                }
                let (Some(step), Some(span)) = (t.spec.steps.get(i), t.step_spans.get(i)) else {
                    break;
                };
                match step.action {
                    Action::Lock(m) if held.contains(&m) => self.at(
                        span.clone(),
                        format!(
                            "task `{}` locks a mutex it already holds; tokio's Mutex would wait for itself forever",
                            t.spec.name
                        ),
                    ),
                    Action::Lock(m) => {
                        held.insert(m);
                        changes.push((m, false));
                    }
                    Action::Unlock(m) if !held.contains(&m) => self.at(
                        span.clone(),
                        format!(
                            "task `{}` unlocks a mutex it does not hold; expected a `lock` step before it",
                            t.spec.name
                        ),
                    ),
                    Action::Unlock(m) => {
                        held.remove(&m);
                        changes.push((m, true));
                    }
                    Action::Repeat { len, .. } => {
                        frames.push((i + 1 + len, changes.len(), span.clone()))
                    }
                    _ => {}
                }
            }
        }
    }
}

/// A cycle in a directed graph (as the nodes on it, first node repeated
/// last), and the span of an edge on it. Depth-first with an explicit
/// stack, so a long chain cannot overflow the call stack.
pub(super) fn find_cycle(
    edges: &[Vec<(usize, Range<usize>)>],
) -> Option<(Vec<usize>, Range<usize>)> {
    const UNSEEN: u8 = 0;
    const ON_PATH: u8 = 1;
    const DONE: u8 = 2;
    let mut state = vec![UNSEEN; edges.len()];
    // The current path: (node, next edge to follow).
    let mut path: Vec<(usize, usize)> = Vec::new();
    for root in 0..edges.len() {
        if state[root] != UNSEEN {
            continue;
        }
        state[root] = ON_PATH;
        path.push((root, 0));
        while let Some((v, next)) = path.last_mut() {
            let v = *v;
            let Some((w, span)) = edges[v].get(*next) else {
                state[v] = DONE;
                path.pop();
                continue;
            };
            *next += 1;
            match state[*w] {
                ON_PATH => {
                    let start = path.iter().position(|(x, _)| x == w).expect("on the path");
                    let mut cycle: Vec<usize> = path[start..].iter().map(|(x, _)| *x).collect();
                    cycle.push(*w);
                    return Some((cycle, span.clone()));
                }
                UNSEEN => {
                    state[*w] = ON_PATH;
                    path.push((*w, 0));
                }
                _ => {}
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[&[usize]]) -> Vec<Vec<(usize, Range<usize>)>> {
        edges
            .iter()
            .map(|out| out.iter().map(|&w| (w, w..w + 1)).collect())
            .collect()
    }

    #[test]
    fn a_cycle_is_found_with_the_nodes_on_it() {
        let _limit = crate::test_limit::limit();
        let (cycle, _) = find_cycle(&graph(&[&[1], &[2], &[0]])).unwrap();
        assert_eq!(cycle, vec![0, 1, 2, 0]);
        let (cycle, _) = find_cycle(&graph(&[&[1], &[2], &[1]])).unwrap();
        assert_eq!(cycle, vec![1, 2, 1]);
        assert!(find_cycle(&graph(&[&[1, 2], &[2], &[]])).is_none());
    }

    #[test]
    fn a_chain_deeper_than_any_stack_is_walked() {
        let _limit = crate::test_limit::limit();
        let n = 1_000_000;
        let mut edges: Vec<Vec<(usize, Range<usize>)>> =
            (0..n).map(|i| vec![(i + 1, 0..0)]).collect();
        edges.push(Vec::new());
        assert!(find_cycle(&edges).is_none());
        edges[n].push((0, 0..0));
        assert_eq!(find_cycle(&edges).unwrap().0.len(), n + 2);
    }

    #[test]
    fn long_listings_are_cut() {
        let _limit = crate::test_limit::limit();
        let names: Vec<String> = (0..100).map(|i| format!("t{i}")).collect();
        let text = listing(names.iter().map(String::as_str), ", ");
        assert!(text.ends_with("... and 88 more"), "{text}");
        assert_eq!(listing(["a", "b"].into_iter(), " -> "), "a -> b");
    }
}
