//! `agentos up`: boot the engine and every enabled worker, print the start-up report, and
//! supervise until Ctrl-C, SIGTERM or `agentos down`.
//!
//! On a terminal (stdin and stdout), without `--headless`, the dashboard opens once the stack is
//! up, and closing it stops the stack as Ctrl-C does; meanwhile logs go to the supervisor's log
//! file, since the dashboard owns the screen. Off a terminal, or with `--headless`, `up` prints
//! the report and logs to stderr.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use agentos_supervisor::policy::RestartLimits;
use agentos_supervisor::settings::Settings;
use agentos_supervisor::{Home, Supervisor, UpOptions, WorkerStatus};
use anyhow::{Context, anyhow};
use clap::Args;
use tokio::sync::oneshot;

/// Flags of `agentos up`.
#[derive(Args, Debug, Clone)]
pub struct UpArgs {
    /// No dashboard: print the start-up report, log to stderr and supervise until Ctrl-C (what
    /// `up` does anyway when stdin or stdout is not a terminal).
    #[arg(long)]
    headless: bool,
    /// Start in the background and return once every worker is ready.
    #[arg(long)]
    detach: bool,
    #[command(flatten)]
    ports: crate::ports::PortFlags,
    /// Run a real iii engine binary (with a generated config on the same ports) instead of the
    /// embedded engine.
    #[arg(long)]
    engine_bin: Option<PathBuf>,
    /// Let workers connect to the engine without a token. Anyone on this machine can then call
    /// every function (run commands, approve requests): for experiments only.
    #[arg(long)]
    insecure_no_auth: bool,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn pick(flag: Option<u16>, configured: u16) -> anyhow::Result<u16> {
    match flag.unwrap_or(configured) {
        0 => free_port(),
        p => Ok(p),
    }
}

/// Runs `up`.
pub fn run(args: UpArgs) -> anyhow::Result<()> {
    let home = Home::discover()?;
    home.create_all().context("creating the agentos folders")?;
    // Before the workers start (and before --detach hands over), so the embedding worker finds
    // its model; never fails `up` (see crate::models).
    crate::models::ensure_for_up(&home);
    if args.detach {
        return detach(&home, &args);
    }
    let dashboard = !args.headless && crate::tui::on_terminal();
    if dashboard {
        log_to_file(&home.log_file("supervisor"))?;
    } else {
        crate::logging::init_stderr();
    }
    let settings = Settings::load(&home.config_file())?;
    let lock = agentos_supervisor::lock::acquire(&home.lock_file())?;
    let (api_key, source) = agentos_supervisor::api_key::load_or_create(&home).context("preparing the API key")?;
    if source == agentos_supervisor::api_key::KeySource::Generated {
        println!("created an API key in {} (mode 0600)", home.api_key_file().display());
    }
    let workers: Vec<_> =
        crate::catalogue::all().into_iter().filter(|e| settings.enabled(e.manifest.name)).map(|e| e.manifest).collect();
    let opts = UpOptions {
        exe: std::env::current_exe().context("finding the agentos binary")?,
        workers,
        engine_port: pick(args.ports.engine_port, settings.ports.engine)?,
        http_port: pick(args.ports.http_port, settings.ports.http)?,
        stream_port: pick(args.ports.stream_port, settings.ports.stream)?,
        engine_bin: args.engine_bin.or(settings.engine.binary.clone()),
        grace: Duration::from_secs(settings.restart.grace_secs),
        limits: RestartLimits {
            max_restarts: settings.restart.max_restarts,
            window: Duration::from_secs(settings.restart.window_secs),
        },
        log_level: std::env::var("AGENTOS_LOG").unwrap_or_else(|_| "info".into()),
        worker_env: settings.workers.env.clone(),
        insecure_no_auth: args.insecure_no_auth,
        workspace: std::env::var_os("AGENTOS_WORKSPACE")
            .map(PathBuf::from)
            .map_or_else(std::env::current_dir, Ok)
            .context("finding the workspace directory")?,
        home,
    };
    let (engine_port, http_port) = (opts.engine_port, opts.http_port);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = if dashboard {
        runtime.block_on(supervise_with_dashboard(opts, api_key))
    } else {
        runtime.block_on(async move {
            let supervisor = Supervisor::new(opts, api_key);
            supervisor
                .run(
                    move |rows| {
                        println!("{}", up_line(engine_port, http_port));
                        print!("{}", report(rows));
                        println!("Ctrl-C or `agentos down` stops everything.");
                    },
                    crate::signals::stop_signal(),
                )
                .await
                .map_err(|e| anyhow!(e))
        })
    };
    drop(lock);
    result
}

fn up_line(engine_port: u16, http_port: u16) -> String {
    format!("agentos is up: engine ws://127.0.0.1:{engine_port} · API http://127.0.0.1:{http_port}")
}

/// Supervises with the dashboard open: it opens once the stack is up (after the report is
/// printed), closing it stops the stack, and a stop signal or `agentos down` closes it.
async fn supervise_with_dashboard(opts: UpOptions, api_key: String) -> anyhow::Result<()> {
    let (engine_port, http_port) = (opts.engine_port, opts.http_port);
    let run = agentos_tui::RunOptions {
        base_url: format!("http://127.0.0.1:{http_port}"),
        api_key: Some(api_key.clone()),
        user: crate::tui::user(),
        app: crate::tui::options(agentos_tui::PaneId::Chat),
    };
    let (ready_tx, ready_rx) = oneshot::channel::<()>();
    let (closed_tx, closed_rx) = oneshot::channel::<()>();
    let (stopped_tx, stopped_rx) = oneshot::channel::<()>();
    let by_signal = Arc::new(AtomicBool::new(false));
    let supervisor = async move {
        let on_ready = move |rows: &[WorkerStatus]| {
            println!("{}", up_line(engine_port, http_port));
            print!("{}", report(rows));
            let _ = ready_tx.send(());
        };
        // The dashboard closing (or never opening) stops the stack, as a signal does.
        let stop = async move {
            tokio::select! {
                () = crate::signals::stop_signal() => {}
                _ = closed_rx => {}
            }
        };
        let result = Supervisor::new(opts, api_key).run(on_ready, stop).await;
        let _ = stopped_tx.send(());
        result.map_err(|e| anyhow!(e))
    };
    let signalled = by_signal.clone();
    let dashboard = async move {
        if ready_rx.await.is_err() {
            // The stack ended before it was up: its error says why.
            return Ok(());
        }
        let stop = async move {
            tokio::select! {
                () = crate::signals::stop_signal() => signalled.store(true, Ordering::SeqCst),
                _ = stopped_rx => signalled.store(true, Ordering::SeqCst),
            }
        };
        let shown = agentos_tui::runtime::run_until(run, stop).await;
        if !by_signal.load(Ordering::SeqCst) {
            println!("dashboard closed: stopping agentos (workers first, the engine last)…");
        }
        let _ = closed_tx.send(());
        shown
    };
    let (supervised, shown) = tokio::join!(supervisor, dashboard);
    supervised.and(shown)
}

/// Sends the log to `path`: the dashboard owns the terminal, so nothing else may write to it.
fn log_to_file(path: &Path) -> anyhow::Result<()> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening the log file {}", path.display()))?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("AGENTOS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init();
    Ok(())
}

/// The start-up report: each worker's launch offset and time to ready, slowest first.
pub fn report(rows: &[WorkerStatus]) -> String {
    let mut rows: Vec<&WorkerStatus> = rows.iter().collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.launched_at_ms.unwrap_or(0) + r.ready_after_ms.unwrap_or(u64::MAX / 2)));
    let mut out = String::new();
    if rows.is_empty() {
        out.push_str("no workers enabled\n");
    }
    for r in rows {
        let state = match (r.state, r.ready_after_ms) {
            (agentos_supervisor::WorkerState::Ready, Some(ms)) => format!("ready after {ms} ms"),
            (state, _) => {
                format!("{state:?}").to_lowercase()
                    + &r.last_error.as_ref().map(|e| format!(": {e}")).unwrap_or_default()
            }
        };
        let launched = r.launched_at_ms.map(|ms| format!("+{ms} ms")).unwrap_or_else(|| "-".into());
        out.push_str(&format!("  {:<20} launched {:>9}  {}\n", r.name, launched, state));
    }
    out
}

fn detach(home: &Home, args: &UpArgs) -> anyhow::Result<()> {
    if let Some(pid) = agentos_supervisor::lock::running_pid(&home.lock_file()) {
        return Err(anyhow!("agentos is already running (pid {pid}); stop it with `agentos down`"));
    }
    let log = home.log_file("supervisor");
    let out = std::fs::OpenOptions::new().create(true).append(true).open(&log)?;
    let mut command = std::process::Command::new(std::env::current_exe()?);
    command.arg("up").arg("--headless");
    for (flag, value) in [
        ("--engine-port", args.ports.engine_port),
        ("--http-port", args.ports.http_port),
        ("--stream-port", args.ports.stream_port),
    ] {
        if let Some(v) = value {
            command.arg(flag).arg(v.to_string());
        }
    }
    if let Some(bin) = &args.engine_bin {
        command.arg("--engine-bin").arg(bin);
    }
    if args.insecure_no_auth {
        command.arg("--insecure-no-auth");
    }
    use std::os::unix::process::CommandExt;
    // Its own process group: Ctrl-C in this terminal must not reach the background stack.
    command.process_group(0).stdin(std::process::Stdio::null()).stdout(out.try_clone()?).stderr(out);
    let mut child = command.spawn().context("starting agentos in the background")?;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            return Err(anyhow!("agentos exited at start ({status}); see {}", log.display()));
        }
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(start) = text.rfind("agentos is up:") {
            print!("{}", &text[start..]);
            println!("running in the background (pid {}); logs in {}", child.id(), home.log_dir.display());
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(anyhow!("agentos did not come up within 30 s; see {}", log.display()))
}
