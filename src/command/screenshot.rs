//! `taskscope __screenshot`: the run screen at one moment, drawn into an
//! SVG picture (the README's pictures).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use super::{create_output, load, scenario_file};
use crate::Error;
use crate::app::App;
use crate::runtime::RunOptions;

/// The run screen at one moment, drawn into an SVG picture.
pub(super) fn screenshot(
    arg: &str,
    at_ms: f64,
    out: &Path,
    width: u16,
    height: u16,
) -> Result<u8, Error> {
    let inputs: Vec<(&str, &Path)> = scenario_file(arg)
        .map(|p| ("the scenario file", p))
        .into_iter()
        .collect();
    crate::export::check_paths(&[("the picture", out)], &inputs).map_err(Error::Input)?;
    let scenario = Arc::new(load(arg)?);
    let mut file = create_output("the picture", out)?;
    // A signal stops the run, and the picture's temporary file goes.
    let temps = file
        .temp_path()
        .map(Path::to_path_buf)
        .into_iter()
        .collect();
    let signals = crate::process::watch_signals(temps, false);
    let (log, interrupted) = crate::headless::record_until(
        scenario.clone(),
        RunOptions::default(),
        Some((&*signals.stop).into()),
    )?;
    if let Some(signal) = interrupted {
        drop(file);
        return Ok((128 + signal) as u8);
    }
    let mut session = crate::app::Session::replay(scenario, log);
    // at_ms is checked finite and in range by the command line.
    session.show_at(std::time::Duration::from_secs_f64(at_ms / 1000.0));
    session.looks_live = true;
    let app = App::with_session(session);
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(width, height))
        .map_err(|e| Error::Failed(e.to_string()))?;
    terminal
        .draw(|f| f.render_widget(&app, f.area()))
        .map_err(|e| Error::Failed(e.to_string()))?;
    let picture = crate::ui::screenshot::from_buffer(terminal.backend().buffer());
    file.writer()
        .write_all(picture.as_bytes())
        .map_err(|e| file.context(e))
        .and_then(|()| file.commit())
        .map_err(|e| Error::Failed(e.to_string()))?;
    Ok(0)
}
