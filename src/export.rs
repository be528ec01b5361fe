//! Files a run writes, each written whole or not at all.

pub mod svg;
pub mod timeline;
pub mod trace;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::model::{Model, RunInfo};
use crate::probe::Event;
use crate::recording::LineWriter;
use crate::scenario::Scenario;
use timeline::Timeline;

/// A file a run writes, opened before the run starts. A regular file (or
/// a new one) is written to a temporary file beside its target, created
/// exclusively under a random name, and renamed into place on
/// [`AtomicFile::commit`]; dropped uncommitted, it leaves nothing. A device,
/// FIFO or other special file is written to in place, never replaced.
pub struct AtomicFile {
    /// The target as given, for messages.
    shown: String,
    /// The temporary file's path (deleted on drop unless committed), and
    /// the target it becomes; None when writing in place.
    temp: Option<(tempfile::TempPath, PathBuf)>,
    writer: Option<BufWriter<File>>,
}

/// Opens a new file at `path` for writing, created here and now (O_EXCL):
/// whatever already sits at that name, a planted symlink included, is never
/// opened or followed; the call fails instead.
pub fn create_new(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o666)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Opens `path` for reading without waiting: a named pipe nobody writes
/// to reads as empty at once instead of blocking the program (where no
/// Ctrl-C would be heard).
pub fn open_to_read(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    blocking(file)
}

/// Opens the device or pipe at `path` for writing without waiting: a
/// named pipe nobody reads is refused at once, not waited on forever.
fn open_device(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let opened = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path);
    match opened {
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => Err(unusable(
            "the path is a pipe that nothing reads from; start its reader first".into(),
        )),
        opened => blocking(opened?),
    }
}

/// `file` with reads and writes that wait again (opened without waiting).
fn blocking(file: File) -> std::io::Result<File> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor this function owns, flags only.
    #[allow(unsafe_code)]
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(file)
}

/// Why an output path cannot be used, found before a run.
fn unusable(why: String) -> std::io::Error {
    std::io::Error::other(why)
}

impl AtomicFile {
    /// Creates the temporary file (or opens the device) now, so an
    /// unusable path fails before a run starts.
    pub fn create(target: &Path) -> std::io::Result<AtomicFile> {
        if target.as_os_str().as_encoded_bytes().ends_with(b"/") {
            return Err(unusable(
                "the path ends in `/`, so it names a folder; expected a file path".into(),
            ));
        }
        let name = target.file_name().ok_or_else(|| {
            unusable("the path names a folder, not a file; expected a file path".into())
        })?;
        // Following links, as opening does: a link to a device is a device.
        let existing = match std::fs::metadata(target) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        // A link to a file (or to nothing) is neither written through nor
        // replaced: renaming onto it would replace the link itself, and
        // `/dev/stdout` redirected to a file is such a link.
        let is_link = std::fs::symlink_metadata(target).is_ok_and(|m| m.file_type().is_symlink());
        if is_link && existing.as_ref().is_none_or(|m| m.is_file()) {
            return Err(unusable(
                "the path is a symbolic link; taskscope neither writes through it nor replaces \
                 it: expected the path of the file itself"
                    .into(),
            ));
        }
        match &existing {
            Some(m) if m.is_dir() => {
                return Err(unusable(
                    "the path is a folder; expected a file path".into(),
                ));
            }
            Some(m) if !m.is_file() => {
                let file = open_device(target)?;
                return Ok(AtomicFile {
                    shown: target.display().to_string(),
                    temp: None,
                    writer: Some(BufWriter::with_capacity(1 << 16, file)),
                });
            }
            _ => {}
        }
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            return Err(unusable(format!(
                "the folder {} does not exist",
                crate::text::visible(&dir.display().to_string())
            )));
        }
        // `.NAME.XXXXXXXX.taskscope.tmp`, NAME cut so it fits in a file
        // name (255 bytes) whatever NAME's length.
        let mut prefix = std::ffi::OsString::from(".");
        match name.as_encoded_bytes() {
            short if short.len() <= 200 => prefix.push(name),
            // Cut bytes may split a character: the lossy form is still a name.
            long => prefix.push(String::from_utf8_lossy(&long[..200]).as_ref()),
        }
        prefix.push(".");
        let temp = tempfile::Builder::new()
            .prefix(&prefix)
            .suffix(".taskscope.tmp")
            .rand_bytes(8)
            .make_in(dir, create_new)?;
        let (file, path) = temp.into_parts();
        if let Some(m) = existing {
            // The replacement keeps the permissions of the file it replaces.
            file.set_permissions(m.permissions())?;
        }
        Ok(AtomicFile {
            shown: target.display().to_string(),
            temp: Some((path, target.to_path_buf())),
            writer: Some(BufWriter::with_capacity(1 << 16, file)),
        })
    }

    /// It writes to a terminal (`/dev/stdout` of a run in one, say).
    pub fn is_terminal(&self) -> bool {
        use std::io::IsTerminal;
        self.temp.is_none()
            && self
                .writer
                .as_ref()
                .is_some_and(|w| w.get_ref().is_terminal())
    }

    pub fn writer(&mut self) -> &mut BufWriter<File> {
        self.writer.as_mut().expect("present until commit")
    }

    /// The temporary file, if there is one (to remove it when the process
    /// must end at once).
    pub fn temp_path(&self) -> Option<&Path> {
        self.temp.as_ref().map(|(p, _)| p.as_ref())
    }

    /// `e`, saying which file it happened to.
    pub fn context(&self, e: std::io::Error) -> std::io::Error {
        std::io::Error::new(e.kind(), format!("{}: {e}", self.shown))
    }

    /// Flushes and moves the file into place.
    pub fn commit(self) -> std::io::Result<()> {
        let shown = self.shown.clone();
        self.commit_quietly()
            .map_err(|e| std::io::Error::new(e.kind(), format!("{shown}: {e}")))
    }

    fn commit_quietly(mut self) -> std::io::Result<()> {
        let mut writer = self.writer.take().expect("present until commit");
        writer.flush()?;
        match self.temp.take() {
            Some((temp, target)) => {
                writer.get_ref().sync_all()?;
                drop(writer);
                temp.persist(&target).map_err(|e| e.error)
            }
            // A device or FIFO: what was written is all there is to do.
            None => Ok(()),
        }
    }
}

/// What a path stands for, to tell whether two paths are one file: its
/// device and inode when it exists (links followed), else its folder's
/// canonical path and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileId {
    Inode(u64, u64),
    Path(PathBuf),
}

impl FileId {
    pub fn of(path: &Path) -> Option<FileId> {
        use std::os::unix::fs::MetadataExt;
        if let Ok(m) = std::fs::metadata(path) {
            return Some(FileId::Inode(m.dev(), m.ino()));
        }
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        Some(FileId::Path(
            dir.canonicalize().ok()?.join(path.file_name()?),
        ))
    }
}

/// Refuses, before a run, two outputs on one file and an output onto an
/// input (`(what, path)` pairs, `what` as the message names it), the
/// program's own executable included.
pub fn check_paths(outputs: &[(&str, &Path)], inputs: &[(&str, &Path)]) -> Result<(), String> {
    let shown = |p: &Path| crate::text::visible(&p.display().to_string()).into_owned();
    let exe = crate::runtime::os::own_executable();
    let mut inputs = inputs.to_vec();
    if let Some(exe) = &exe {
        inputs.push(("this program's own executable", exe));
    }
    let ids: Vec<Option<FileId>> = outputs.iter().map(|(_, p)| FileId::of(p)).collect();
    for (i, (flag, path)) in outputs.iter().enumerate() {
        let Some(id) = &ids[i] else { continue };
        if let Some((other, other_path)) = outputs[..i]
            .iter()
            .zip(&ids)
            .find(|(_, o)| o.as_ref() == Some(id))
            .map(|(o, _)| *o)
        {
            return Err(format!(
                "{other} {} and {flag} {} are the same file; expected a path of its own for each output",
                shown(other_path),
                shown(path)
            ));
        }
        if let Some((what, _)) = inputs
            .iter()
            .find(|(_, input)| FileId::of(input).as_ref() == Some(id))
        {
            return Err(format!(
                "{flag} {} is {what}, which the run reads; expected a path for a new file",
                shown(path)
            ));
        }
    }
    Ok(())
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

    /// The temporary files not yet in place.
    pub fn temp_paths(&self) -> Vec<PathBuf> {
        let events = self.events.as_ref().map(|(f, _)| f);
        [events, self.trace.as_ref(), self.svg.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(|f| f.temp_path().map(Path::to_path_buf))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_none() && self.timeline.is_none()
    }

    pub fn event(&mut self, e: &Event) -> std::io::Result<()> {
        if let Some((file, lines)) = self.events.as_mut() {
            lines
                .event(file.writer(), e)
                .map_err(|err| file.context(err))?;
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
            lines
                .end(file.writer(), model)
                .map_err(|e| file.context(e))?;
            file.commit()?;
        }
        if let Some(mut timeline) = self.timeline {
            timeline.finish();
            if let Some(mut file) = self.trace {
                trace::write(file.writer(), &timeline, &self.info, scenario)
                    .map_err(|e| file.context(e))?;
                file.commit()?;
            }
            if let Some(mut file) = self.svg {
                file.writer()
                    .write_all(svg::render(&timeline, &self.info, scenario).as_bytes())
                    .map_err(|e| file.context(e))?;
                file.commit()?;
            }
        }
        Ok(())
    }
}
