//! Files a run writes, each written whole or not at all.

pub mod jsonl;
pub mod svg;
pub mod timeline;
pub mod trace;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::model::{Model, RunInfo};
use crate::probe::Event;
use crate::scenario::Scenario;
use jsonl::LineWriter;
use timeline::Timeline;

/// A file written to a temporary name beside its target and renamed into
/// place on [`AtomicFile::commit`]; dropped uncommitted, it leaves nothing.
pub struct AtomicFile {
    target: PathBuf,
    temp: PathBuf,
    writer: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Creates the temporary file now, so an unwritable path fails before a
    /// run starts.
    pub fn create(target: &Path) -> std::io::Result<AtomicFile> {
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = target
            .file_name()
            .ok_or_else(|| std::io::Error::other("the path names a directory, not a file"))?;
        if target.is_dir() {
            return Err(std::io::Error::other("the path is a directory"));
        }
        let temp = dir.join(format!(
            ".{}.taskscope-{}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file = File::create(&temp)?;
        Ok(AtomicFile {
            target: target.to_path_buf(),
            temp,
            writer: Some(BufWriter::with_capacity(1 << 16, file)),
        })
    }

    pub fn writer(&mut self) -> &mut BufWriter<File> {
        self.writer.as_mut().expect("present until commit")
    }

    /// Flushes and moves the file into place.
    pub fn commit(mut self) -> std::io::Result<()> {
        let mut writer = self.writer.take().expect("present until commit");
        writer.flush()?;
        writer.get_ref().sync_all()?;
        drop(writer);
        std::fs::rename(&self.temp, &self.target)
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// The files one run writes: events (JSON lines, streamed), a Chrome trace
/// and an SVG timeline (both drawn at the end from the same events).
pub struct Outputs {
    info: RunInfo,
    scenario: Option<Arc<Scenario>>,
    events: Option<(AtomicFile, LineWriter)>,
    trace: Option<AtomicFile>,
    svg: Option<AtomicFile>,
    timeline: Option<Timeline>,
}

impl Outputs {
    /// `events`, `trace` and `svg` are already created (so writable).
    pub fn new(
        info: RunInfo,
        scenario: Option<Arc<Scenario>>,
        events: Option<AtomicFile>,
        trace: Option<AtomicFile>,
        svg: Option<AtomicFile>,
    ) -> std::io::Result<Outputs> {
        let events = match events {
            Some(mut file) => {
                let mut lines = LineWriter::default();
                lines.header(file.writer(), &info)?;
                Some((file, lines))
            }
            None => None,
        };
        let timeline = (trace.is_some() || svg.is_some()).then(Timeline::default);
        Ok(Outputs {
            info,
            scenario,
            events,
            trace,
            svg,
            timeline,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_none() && self.timeline.is_none()
    }

    pub fn event(&mut self, e: &Event) -> std::io::Result<()> {
        if let Some((file, lines)) = self.events.as_mut() {
            lines.event(file.writer(), e)?;
        }
        if let Some(t) = self.timeline.as_mut() {
            t.apply(e);
        }
        Ok(())
    }

    /// Writes the ends and moves every file into place.
    pub fn finish(self, model: &Model) -> std::io::Result<()> {
        let scenario = self.scenario.as_deref();
        if let Some((mut file, mut lines)) = self.events {
            lines.end(file.writer(), model)?;
            file.commit()?;
        }
        if let Some(mut timeline) = self.timeline {
            timeline.finish();
            if let Some(mut file) = self.trace {
                trace::write(file.writer(), &timeline, &self.info, scenario)?;
                file.commit()?;
            }
            if let Some(mut file) = self.svg {
                file.writer()
                    .write_all(svg::render(&timeline, &self.info, scenario).as_bytes())?;
                file.commit()?;
            }
        }
        Ok(())
    }
}
