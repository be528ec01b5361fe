//! Files a run writes, each written whole or not at all.

pub mod jsonl;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

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
