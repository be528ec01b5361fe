//! What a wait tokio does not name (a socket, a `Notify`, a broadcast or
//! `watch` receive, an mpsc receive) most likely is, while it waits: what
//! the task's own last such wait turned out to be at its wake, or else
//! what the last one of a task of the same name (the same spawn place,
//! for an unnamed task) turned out to be. A guess, said as one: the wake
//! still says what the wait was, and the totals count that.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use crate::event::Wait;

/// Nothing learnt yet.
const NONE: u8 = u8::MAX;
/// Names remembered at most: a program naming every task anew
/// (`conn-1`, `conn-2`, ...) learns per task only, past this.
const NAMES: usize = 4096;

/// A task's own last learnt unnamed wait.
pub(crate) struct Learnt(AtomicU8);

impl Learnt {
    pub(crate) fn new() -> Learnt {
        Learnt(AtomicU8::new(NONE))
    }

    fn get(&self) -> Option<Wait> {
        match self.0.load(Ordering::Relaxed) {
            NONE => None,
            w => Some(Wait::from_u8(w)),
        }
    }
}

/// The last learnt unnamed wait of each task name.
#[derive(Default)]
pub(crate) struct Guesses {
    by_name: Mutex<HashMap<Arc<str>, Wait>>,
}

impl Guesses {
    /// What a task named `name`, which learnt `own` so far, waits on now
    /// that tokio named nothing: `Other` when nothing was learnt.
    pub(crate) fn guess(&self, name: &Arc<str>, own: &Learnt) -> Wait {
        own.get()
            .or_else(|| self.names().get(name).copied())
            .unwrap_or(Wait::Other)
    }

    /// A wake said that the task's unnamed wait was `wait`.
    pub(crate) fn learnt(&self, name: &Arc<str>, own: &Learnt, wait: Wait) {
        if own.0.swap(wait as u8, Ordering::Relaxed) == wait as u8 {
            return;
        }
        let mut names = self.names();
        if names.len() < NAMES || names.contains_key(name) {
            names.insert(name.clone(), wait);
        }
    }

    fn names(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, Wait>> {
        self.by_name.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_guesses_from_its_own_last_wake_then_from_its_names() {
        let _limit = crate::test_limit::limit();
        let g = Guesses::default();
        let conn: Arc<str> = "src/main.rs:40".into();
        let (first, second) = (Learnt::new(), Learnt::new());
        assert_eq!(g.guess(&conn, &first), Wait::Other, "nothing learnt yet");
        g.learnt(&conn, &first, Wait::Io);
        assert_eq!(g.guess(&conn, &first), Wait::Io);
        // Another connection, spawned at the same place: io at once.
        assert_eq!(g.guess(&conn, &second), Wait::Io);
        // Its own wake says otherwise: its own word first.
        g.learnt(&conn, &second, Wait::Channel);
        assert_eq!(g.guess(&conn, &second), Wait::Channel);
        assert_eq!(g.guess(&conn, &first), Wait::Io);
        assert_eq!(g.guess(&"elsewhere".into(), &Learnt::new()), Wait::Other);
    }

    #[test]
    fn names_are_remembered_up_to_a_bound() {
        let _limit = crate::test_limit::limit();
        let g = Guesses::default();
        for n in 0..NAMES + 10 {
            g.learnt(&format!("conn-{n}").into(), &Learnt::new(), Wait::Io);
        }
        assert_eq!(g.names().len(), NAMES);
    }
}
