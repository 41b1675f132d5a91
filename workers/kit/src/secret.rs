//! Secrets on disk: random tokens and files only their owner can read.

use std::io::Write;
use std::path::Path;

/// 256 random bits as hex (two v4 UUIDs come from the OS random source).
pub fn mint() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

/// Writes `bytes` to a new file at `path` readable by its owner only (mode 0600 on Unix) and
/// syncs it. Fails when the file exists, so two writers never share one.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_hex_in_private_files_never_overwritten() {
        let (a, b) = (mint(), mint());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()) && a != b);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        write_private(&path, a.as_bytes()).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), a);
        assert!(write_private(&path, b.as_bytes()).is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
