//! One log file per process with size-based rotation: `name.log`, then `name.log.1` … up to
//! [`KEEP`] old files. Lines from a child's stdout and stderr are appended as they arrive.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Size at which the file rotates: large enough for hours of normal logging, small enough to
/// open in an editor.
pub const MAX_BYTES: u64 = 10 * 1024 * 1024;
/// Rotated files kept beside the live one.
pub const KEEP: usize = 3;

/// An append-only log file that rotates by size.
pub struct LogFile {
    path: PathBuf,
    file: File,
    written: u64,
    max_bytes: u64,
}

impl LogFile {
    /// Opens (appending) the file at `path`.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        Self::open_with_limit(path, MAX_BYTES)
    }

    /// Opens with a custom rotation size (tests).
    pub fn open_with_limit(path: &Path, max_bytes: u64) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let written = file.metadata()?.len();
        Ok(Self { path: path.to_path_buf(), file, written, max_bytes })
    }

    /// Appends one line (a newline is added).
    pub fn line(&mut self, text: &str) -> std::io::Result<()> {
        if self.written + text.len() as u64 + 1 > self.max_bytes && self.written > 0 {
            self.rotate()?;
        }
        self.file.write_all(text.as_bytes())?;
        self.file.write_all(b"\n")?;
        self.written += text.len() as u64 + 1;
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        for i in (1..KEEP).rev() {
            let from = rotated(&self.path, i);
            if from.exists() {
                std::fs::rename(&from, rotated(&self.path, i + 1))?;
            }
        }
        std::fs::rename(&self.path, rotated(&self.path, 1))?;
        self.file = OpenOptions::new().create(true).append(true).open(&self.path)?;
        self.written = 0;
        Ok(())
    }
}

fn rotated(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// The last `n` lines of a log file.
pub fn tail(path: &Path, n: usize) -> std::io::Result<Vec<String>> {
    let text = std::fs::read_to_string(path)?;
    let lines: Vec<&str> = text.lines().collect();
    Ok(lines[lines.len().saturating_sub(n)..].iter().map(|s| s.to_string()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_file_rotates_and_old_files_are_capped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.log");
        let mut log = LogFile::open_with_limit(&path, 20).unwrap();
        for i in 0..10 {
            log.line(&format!("line number {i}")).unwrap();
        }
        assert_eq!(tail(&path, 5).unwrap(), vec!["line number 9"]);
        assert!(rotated(&path, KEEP).exists());
        assert!(!rotated(&path, KEEP + 1).exists());
    }
}
