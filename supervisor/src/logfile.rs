//! One log file per process with size-based rotation: `name.log`, then `name.log.1` … up to
//! [`KEEP`] old files. Lines from a child's stdout and stderr are appended as they arrive.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
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

/// How much of a file one backward read takes while looking for line starts.
const TAIL_CHUNK: u64 = 64 * 1024;

/// The last `n` lines of a log, oldest first. Only the end of the file is read (backwards, a
/// chunk at a time), so a 10 MiB log costs what its last lines weigh. When the live file holds
/// fewer than `n` lines (it just rotated), the rest comes from the end of `name.log.1`. Bytes
/// that are not UTF-8 are replaced, never an error.
pub fn tail(path: &Path, n: usize) -> std::io::Result<Vec<String>> {
    let mut lines = tail_of_one(path, n)?;
    if lines.len() < n {
        match tail_of_one(&rotated(path, 1), n - lines.len()) {
            Ok(mut older) => {
                older.append(&mut lines);
                lines = older;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(lines)
}

/// The last `n` lines of one file.
fn tail_of_one(path: &Path, n: usize) -> std::io::Result<Vec<String>> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    if n == 0 || len == 0 {
        return Ok(Vec::new());
    }
    // Read backwards until the buffer holds `n` line ends before the final line (or the start).
    let mut start = len;
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let newlines = buf.iter().filter(|b| **b == b'\n').count();
        let trailing = usize::from(buf.last() == Some(&b'\n'));
        if start == 0 || newlines >= n + trailing {
            break;
        }
        let step = TAIL_CHUNK.min(start);
        start -= step;
        let mut chunk = vec![0; step as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut chunk)?;
        chunk.append(&mut buf);
        buf = chunk;
    }
    let text = String::from_utf8_lossy(&buf);
    let mut lines: Vec<&str> = text.lines().collect();
    if start > 0 && !lines.is_empty() {
        // The first line read is cut (the file does not start there); the loop read `n` whole
        // lines after it.
        lines.remove(0);
    }
    let from = lines.len().saturating_sub(n);
    Ok(lines[from..].iter().map(|s| (*s).to_string()).collect())
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
        // One line per file at this size: the live file's, topped up from the newest rotated one.
        assert_eq!(tail(&path, 5).unwrap(), vec!["line number 8", "line number 9"]);
        assert!(rotated(&path, KEEP).exists());
        assert!(!rotated(&path, KEEP + 1).exists());
    }

    fn numbered(from: usize, to: usize) -> Vec<String> {
        (from..to).map(|i| format!("line {i} {}", "x".repeat(i % 97))).collect()
    }

    #[test]
    fn the_tail_of_a_file_larger_than_a_chunk_is_its_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.log");
        let all = numbered(0, 5000);
        std::fs::write(&path, all.join("\n") + "\n").unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > 3 * TAIL_CHUNK);
        assert_eq!(tail(&path, 3).unwrap(), all[4997..].to_vec());
        assert_eq!(tail(&path, 2000).unwrap(), all[3000..].to_vec());
        assert_eq!(tail(&path, 9000).unwrap(), all);
    }

    #[test]
    fn a_last_line_without_a_newline_counts_and_bad_bytes_are_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.log");
        std::fs::write(&path, b"one\ntwo \xff\nthree").unwrap();
        assert_eq!(tail(&path, 2).unwrap(), vec!["two \u{fffd}".to_string(), "three".to_string()]);
        assert_eq!(tail(&path, 0).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_freshly_rotated_log_is_topped_up_from_the_file_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.log");
        std::fs::write(rotated(&path, 1), "a\nb\nc\n").unwrap();
        std::fs::write(&path, "d\n").unwrap();
        assert_eq!(tail(&path, 3).unwrap(), vec!["b", "c", "d"]);
        assert_eq!(tail(&path, 1).unwrap(), vec!["d"]);
    }

    #[test]
    fn an_empty_log_has_no_lines_and_a_missing_one_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.log");
        assert_eq!(tail(&path, 5).unwrap_err().kind(), std::io::ErrorKind::NotFound);
        std::fs::write(&path, "").unwrap();
        assert_eq!(tail(&path, 5).unwrap(), Vec::<String>::new());
    }
}
