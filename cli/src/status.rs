//! `agentos status`, `agentos restart <worker>` and `agentos logs <worker>`.

use std::io::{Seek, SeekFrom};
use std::time::Duration;

use agentos_supervisor::Home;
use anyhow::{Context, anyhow};
use serde_json::json;

use agentos_protocol::status::WorkerList;

use crate::client::{Client, read};

/// `agentos status [--json]`.
pub fn status(json_out: bool) -> anyhow::Result<()> {
    let home = Home::discover()?;
    let client = Client::discover(&home)?;
    let body = block_on(client.get("/v1/workers"))?;
    if json_out {
        println!("{}", serde_json::to_string_pretty(&body)?);
        return Ok(());
    }
    println!(
        "{:<16} {:>8} {:<9} {:>8} {:>9} {:>9}  LAST ERROR",
        "WORKER", "PID", "STATE", "RESTARTS", "UPTIME", "FUNCTIONS"
    );
    let list: WorkerList = read("GET /v1/workers", body)?;
    for w in &list.workers {
        let pid = w.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into());
        let uptime = w.uptime_ms.map(human_duration).unwrap_or_else(|| "-".into());
        let functions = format!("{}/{}", w.functions_registered, w.functions_expected);
        println!(
            "{:<16} {:>8} {:<9} {:>8} {:>9} {:>9}  {}",
            if w.name.is_empty() { "?" } else { w.name.as_str() },
            pid,
            w.state.as_str(),
            w.restarts,
            uptime,
            functions,
            w.last_error.as_deref().unwrap_or("")
        );
    }
    Ok(())
}

fn human_duration(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// `agentos restart <worker>`.
pub fn restart(name: &str) -> anyhow::Result<()> {
    let home = Home::discover()?;
    let client = Client::discover(&home)?;
    block_on(client.post(&format!("/v1/workers/{name}/restart"), &json!({})))?;
    println!("restarting {name}");
    Ok(())
}

/// `agentos logs <worker> [-f] [-n N]`.
pub fn logs(name: &str, follow: bool, lines: usize) -> anyhow::Result<()> {
    let home = Home::discover()?;
    let path = home.log_file(name);
    if !path.exists() {
        let known = crate::catalogue::names().join(", ");
        return Err(anyhow!("no log for '{name}' at {}; logs exist for: engine, supervisor, {known}", path.display()));
    }
    for line in agentos_supervisor::logfile::tail(&path, lines)? {
        println!("{line}");
    }
    if !follow {
        return Ok(());
    }
    let mut file = std::fs::File::open(&path)?;
    let mut pos = file.seek(SeekFrom::End(0))?;
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if len < pos {
            // Rotated: start over on the new file.
            file = std::fs::File::open(&path)?;
            pos = 0;
        }
        if len > pos {
            file.seek(SeekFrom::Start(pos))?;
            let mut buf = String::new();
            std::io::Read::read_to_string(&mut file, &mut buf)?;
            print!("{buf}");
            pos = len;
        }
    }
}

/// Runs a future on a small runtime (the CLI commands are one request each).
pub fn block_on<T>(fut: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(fut)
}
