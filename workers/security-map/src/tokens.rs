//! Engine tokens: who a worker connection is and which namespaces it owns.
//!
//! Rules it keeps:
//! - The file (`engine_tokens.json` in the state dir, mode 0600) holds only SHA-256 digests of
//!   tokens, never a token; a token is shown once, when it is made.
//! - `agentos up` replaces every `worker` entry with fresh tokens each start (one per built-in
//!   worker); `external` entries (`agentos token create`) stay until removed.
//! - A token is 256 random bits in hex; comparisons are of digests, in constant time.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Whose token it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A built-in worker started by `agentos up` (or the supervisor itself).
    Worker,
    /// A third-party worker, from `agentos token create`.
    External,
}

/// One identity and the digest of its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The identity's name (a worker name, or the name given to `token create`).
    pub identity: String,
    /// Whose it is.
    pub kind: Kind,
    /// The namespaces it owns: it may register functions only there.
    pub namespaces: Vec<String>,
    /// Function patterns it may call beyond its own namespaces (external identities only).
    #[serde(default)]
    pub calls: Vec<String>,
    /// Hex SHA-256 of the token.
    pub token_sha256: String,
}

/// The token file's content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenFile {
    /// Every identity.
    #[serde(default)]
    pub entries: Vec<Entry>,
}

/// Why the token file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Reading or writing failed.
    #[error("token file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("token file {path} is damaged ({source}); remove it and restart `agentos up`")]
    Damaged {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// A name or namespace breaks the rules.
    #[error("{0}")]
    Invalid(String),
}

/// A new token: 256 random bits as hex.
pub use agentos_kit::secret::mint;

/// The hex SHA-256 of a token.
pub fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

impl TokenFile {
    /// Reads the file; a missing file is empty.
    pub fn load(path: &Path) -> Result<Self, TokenError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|source| TokenError::Damaged { path: path.to_path_buf(), source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(TokenError::Io { path: path.to_path_buf(), source }),
        }
    }

    /// Writes the file atomically (a private temp file renamed over it), mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), TokenError> {
        let io = |source| TokenError::Io { path: path.to_path_buf(), source };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        let text = serde_json::to_vec_pretty(self).map_err(|e| io(std::io::Error::other(e)))?;
        // A leftover of a crashed writer with the same pid would make the private write fail.
        let _ = std::fs::remove_file(&tmp);
        agentos_kit::secret::write_private(&tmp, &text).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// The entry whose token this is.
    pub fn verify(&self, token: &str) -> Option<&Entry> {
        let wanted = digest(token);
        self.entries.iter().find(|e| agentos_kit::http::constant_time_eq(e.token_sha256.as_bytes(), wanted.as_bytes()))
    }

    /// Replaces every `worker` entry with `workers` (name, namespaces); returns each worker's
    /// new token.
    pub fn reissue_workers(&mut self, workers: &[(String, Vec<String>)]) -> Vec<(String, String)> {
        self.entries.retain(|e| e.kind != Kind::Worker);
        workers
            .iter()
            .map(|(name, namespaces)| {
                let token = mint();
                self.entries.push(Entry {
                    identity: name.clone(),
                    kind: Kind::Worker,
                    namespaces: namespaces.clone(),
                    calls: Vec::new(),
                    token_sha256: digest(&token),
                });
                (name.clone(), token)
            })
            .collect()
    }

    /// Adds (or replaces) an external identity; returns its token.
    ///
    /// Errors: a name or namespace that is not kebab/snake case, a namespace a built-in worker
    /// owns, or the reserved `engine`, `state`, `stream`, `security`, `sandbox` namespaces.
    pub fn create_external(
        &mut self,
        identity: &str,
        namespaces: &[String],
        calls: &[String],
        reserved: &[String],
    ) -> Result<String, TokenError> {
        if !valid_name(identity) {
            return Err(TokenError::Invalid(format!(
                "token name {identity:?} must be lower-case letters, digits, '-' or '_'"
            )));
        }
        if namespaces.is_empty() {
            return Err(TokenError::Invalid("give at least one namespace: --namespaces ns1,ns2".into()));
        }
        for ns in namespaces {
            if !valid_name(ns) {
                return Err(TokenError::Invalid(format!(
                    "namespace {ns:?} must be lower-case letters, digits, '-' or '_'"
                )));
            }
            if RESERVED.contains(&ns.as_str()) || reserved.contains(ns) {
                return Err(TokenError::Invalid(format!(
                    "namespace {ns} belongs to agentos; pick a namespace of your own"
                )));
            }
            if let Some(owner) = self.entries.iter().find(|e| e.identity != identity && e.namespaces.contains(ns)) {
                return Err(TokenError::Invalid(format!(
                    "namespace {ns} is already owned by {}; pick another or remove that token",
                    owner.identity
                )));
            }
        }
        self.entries.retain(|e| e.identity != identity);
        let token = mint();
        self.entries.push(Entry {
            identity: identity.to_string(),
            kind: Kind::External,
            namespaces: namespaces.to_vec(),
            calls: calls.to_vec(),
            token_sha256: digest(&token),
        });
        Ok(token)
    }

    /// Removes an external identity; whether it existed.
    pub fn remove_external(&mut self, identity: &str) -> bool {
        let before = self.entries.len();
        self.entries.retain(|e| !(e.kind == Kind::External && e.identity == identity));
        before != self.entries.len()
    }
}

/// Namespaces no token may own: the engine's built-ins and the security functions.
pub const RESERVED: &[&str] = &["engine", "state", "stream", "security", "sandbox", "iii", "publish"];

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The token file, re-read when it changes on disk (its modification time or length), so a
/// running engine sees `agentos token create` and a new `up` without restarting.
pub struct TokenCache {
    path: PathBuf,
    cached: Mutex<Option<(Option<SystemTime>, u64, TokenFile)>>,
}

impl TokenCache {
    /// A cache over `path`.
    pub fn new(path: PathBuf) -> Self {
        Self { path, cached: Mutex::new(None) }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The entry a token belongs to, from the file as it is now.
    ///
    /// Errors: the file cannot be read or is damaged.
    pub fn verify(&self, token: &str) -> Result<Option<Entry>, TokenError> {
        let stamp = std::fs::metadata(&self.path).ok().map(|m| (m.modified().ok(), m.len()));
        let mut cached = self.cached.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let fresh = matches!((&*cached, stamp), (Some((t, l, _)), Some((t2, l2))) if *t == t2 && *l == l2);
        if !fresh {
            let file = TokenFile::load(&self.path)?;
            let (t, l) = stamp.unwrap_or((None, 0));
            *cached = Some((t, l, file));
        }
        Ok(cached.as_ref().and_then(|(_, _, f)| f.verify(token).cloned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stored_as_digests_and_verified() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("engine_tokens.json");
        let mut file = TokenFile::default();
        let issued = file.reissue_workers(&[("realm".into(), vec!["realm".into()])]);
        let token = issued[0].1.clone();
        assert_eq!(token.len(), 64);
        file.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&token), "the file must not hold the token");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let cache = TokenCache::new(path.clone());
        assert_eq!(cache.verify(&token).unwrap().unwrap().identity, "realm");
        assert!(cache.verify("wrong").unwrap().is_none());
        // A reissue invalidates the old token, and the cache notices the new file.
        let mut file = TokenFile::load(&path).unwrap();
        let issued = file.reissue_workers(&[("realm".into(), vec!["realm".into()]), ("memory".into(), vec![])]);
        file.save(&path).unwrap();
        assert!(cache.verify(&token).unwrap().is_none());
        assert_eq!(cache.verify(&issued[1].1).unwrap().unwrap().identity, "memory");
    }

    #[test]
    fn external_tokens_keep_to_their_own_namespaces() {
        let mut file = TokenFile::default();
        file.reissue_workers(&[("approval".into(), vec!["approval".into()])]);
        let reserved = vec!["approval".to_string()];
        let err = file.create_external("evil", &["approval".into()], &[], &reserved).unwrap_err();
        assert_eq!(err.to_string(), "namespace approval belongs to agentos; pick a namespace of your own");
        assert!(file.create_external("evil", &["state".into()], &[], &[]).is_err());
        assert!(file.create_external("Bad Name", &["x".into()], &[], &[]).is_err());
        let token = file.create_external("py", &["py".into()], &["llm::*".into()], &reserved).unwrap();
        assert_eq!(file.verify(&token).unwrap().kind, Kind::External);
        let err = file.create_external("other", &["py".into()], &[], &reserved).unwrap_err();
        assert!(err.to_string().contains("already owned by py"), "{err}");
        // Recreating an identity replaces its token.
        let again = file.create_external("py", &["py".into()], &[], &reserved).unwrap();
        assert!(file.verify(&token).is_none());
        assert!(file.verify(&again).is_some());
        assert!(file.remove_external("py"));
        assert!(file.verify(&again).is_none());
    }
}
