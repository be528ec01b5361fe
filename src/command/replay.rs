//! `taskscope replay`: a recorded run, folded into a summary as it is
//! read, or read into the dashboard's history to scrub through.

use std::path::Path;
use std::sync::Arc;

use super::{dashboard, interactive, print_summary, say};
use crate::Error;
use crate::app::App;
use crate::model::{Model, RunInfo};
use crate::scenario::{Clock, Flavor, Scenario, bundled};

pub(super) fn replay(path: &Path, as_json: bool, headless: bool) -> Result<u8, Error> {
    use crate::recording::{self, LogError, MAX_LOG_BYTES};
    let origin = path.display().to_string();
    let file = crate::export::open_to_read(path)
        .map_err(|e| Error::Input(format!("{origin}: cannot read: {e}")))?;
    // Refused before reading a byte when the size is known; the reader
    // stops at the limit whatever the file is (a pipe, /dev/zero).
    if let Ok(m) = file.metadata()
        && m.is_file()
        && m.len() > MAX_LOG_BYTES
    {
        return Err(Error::Log(LogError {
            origin,
            line: 1,
            message: format!(
                "the file is {} bytes; at most {MAX_LOG_BYTES} are replayed",
                m.len()
            ),
        }));
    }
    let reader = std::io::BufReader::new(file);
    if as_json || headless || !interactive() {
        // Folded as it is read: nothing of the recording is kept.
        let mut model: Option<crate::model::Model> = None;
        let log = recording::read_into(&origin, reader, &mut |info, e| {
            model
                .get_or_insert_with(|| crate::model::Model::new(info.clone()))
                .apply(&e)
        })?;
        if let Some(note) = log.incomplete_note() {
            say(&format!("{origin}: {note}"));
        }
        let mut model = model.unwrap_or_else(|| crate::model::Model::new(log.info.clone()));
        model.finish(log.dropped, log.stalled.clone(), log.runtime.clone());
        print_summary(as_json, |rows| {
            crate::summary::Summary::first_rows(&model, rows)
        })?;
        return Ok(0);
    }
    // Read straight into the dashboard's packed history.
    let mut history: Option<crate::model::history::History> = None;
    let log = recording::read_into(&origin, reader, &mut |info, e| {
        history
            .get_or_insert_with(|| {
                crate::model::history::History::new(
                    info.clone(),
                    crate::model::history::REPLAY_LIMIT,
                )
            })
            .push(e)
    })?;
    let history = history.unwrap_or_else(|| {
        crate::model::history::History::new(log.info.clone(), crate::model::history::REPLAY_LIMIT)
    });
    let scenario = shown_scenario(&log.info, history.live());
    let session = crate::app::Session::replay_history(Arc::new(scenario), history, log);
    dashboard(App::with_session(session), Vec::new(), None)
}

/// The scenario a recording is shown with: the bundled lesson of its name
/// (its text, step labels and notes) only when the recording is that
/// lesson's (the same runtime, and every task one of its tasks by name and
/// kind); else one standing for it, with the header's runtime.
fn shown_scenario(info: &RunInfo, model: &Model) -> Scenario {
    let bundled = bundled::get(&info.scenario)
        .and_then(Result::ok)
        .filter(|s| {
            s.runtime.flavor.as_str() == info.flavor
                && s.runtime.workers == info.workers
                && s.runtime.clock.as_str() == info.clock
        })
        .filter(|s| {
            model.tasks.iter().filter(|t| !t.kind.is_os()).all(|t| {
                s.tasks.get(t.spec as usize).is_some_and(|spec| {
                    *t.name == spec.name
                        || t.name
                            .strip_prefix(spec.name.as_str())
                            .is_some_and(|rest| rest.starts_with('-'))
                })
            })
        });
    bundled.unwrap_or_else(|| {
        let mut s = Scenario::unknown(&info.scenario);
        s.runtime.flavor = if info.flavor == "multi_thread" {
            Flavor::MultiThread
        } else {
            Flavor::CurrentThread
        };
        s.runtime.workers = info.workers;
        s.runtime.clock = if info.clock == "real" {
            Clock::Real
        } else {
            Clock::Virtual
        };
        s
    })
}
