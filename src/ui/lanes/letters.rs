//! Each task's letter on the worker lanes.

use crate::model::Model;

/// Letters for tasks past the 26 of A-Z: lower-case Greek, without those
/// that look like a Latin letter (the lanes' waits are lower-case Latin
/// letters: `t` timer, `c` channel, `o` other).
const MORE_LETTERS: &str = "αβγδεζηθλμξπσφχψω";

/// A letter for each task on the worker lanes, as unique as can be: its
/// initial if free, else another letter of its name, else any free one;
/// never one the lanes use for something else (a wait's lower-case
/// letter, a channel's digits): past the letters, `*`.
pub fn lane_letters(model: &Model) -> Vec<char> {
    const MANY: usize = 300;
    let mut used = std::collections::HashSet::new();
    model
        .tasks
        .iter()
        .map(|t| {
            // Its first ASCII letter (never a control or bidi character:
            // the name need not be made visible first, for 100,000 tasks
            // a frame).
            let initial = t
                .name
                .chars()
                .find(char::is_ascii_alphabetic)
                .map_or('*', |c| c.to_ascii_uppercase());
            if model.tasks.len() > MANY {
                return initial;
            }
            let pick = t
                .name
                .chars()
                .filter(char::is_ascii_alphabetic)
                .map(|c| c.to_ascii_uppercase())
                .chain('A'..='Z')
                .chain(MORE_LETTERS.chars())
                .find(|c| !used.contains(c))
                .unwrap_or(initial);
            used.insert(pick);
            pick
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn task_letters_are_never_a_waits_letter_or_a_digit() {
        let _limit = crate::test_limit::limit();
        for tasks in [60, 400] {
            let mut model = Model::new(crate::model::RunInfo {
                scenario: "t".into(),
                flavor: "current_thread".into(),
                workers: 1,
                clock: "virtual".into(),
                worker_cpus: Vec::new(),
            });
            for i in 0..tasks {
                let name = ["timer-task", "1st", "42"][i as usize % 3];
                model.apply(&crate::probe::Event {
                    t: Duration::ZERO,
                    task: i,
                    step: 0,
                    change: crate::probe::Change::Spawned {
                        name: name.into(),
                        id: u64::from(i) + 1,
                        spec: 0,
                        parent: None,
                        kind: crate::probe::Kind::Task,
                    },
                });
            }
            let letters = lane_letters(&model);
            assert_eq!(letters.len(), tasks as usize);
            for (i, c) in letters.iter().enumerate() {
                assert!(
                    !c.is_ascii_lowercase() && !c.is_ascii_digit(),
                    "{tasks} tasks: task {i} drawn as {c:?}, a wait's letter or a digit"
                );
                let entry =
                    crate::ui::theme::legend_entry(*c).map(|e| crate::ui::theme::LEGEND[e].1);
                assert!(
                    entry.is_some_and(|words| words.ends_with("task letters")),
                    "{c:?} is in the legend as {entry:?}, not as a task letter"
                );
            }
            if tasks < 300 {
                let unique: std::collections::HashSet<_> = letters.iter().collect();
                assert_eq!(unique.len(), 26 + MORE_LETTERS.chars().count() + 1);
            }
        }
    }
}
