//! The runtime against a local HTTP server: the loop on a `TestBackend` with injected keys,
//! calls, streams, and the connection state.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pretty_assertions::assert_eq;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{Event, KeyCode, KeyModifiers};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::*;
use crate::event::{ApiError, AppEvent, Connection, Method, PaneId, Request, StreamItem, StreamRequest};
use crate::testing::{key, key_with, screen};
use crate::theme::Theme;

/// How long any one wait in these tests may take before it fails.
const LIMIT: Duration = Duration::from_secs(10);

/// A request the server saw.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// What the server answers.
enum Reply {
    Json(u16, Value),
    /// An event stream: these chunks, then the end (or staying open when `hold`).
    Sse {
        chunks: Vec<String>,
        hold: bool,
    },
}

type Answer = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

/// A minimal HTTP/1.1 server: one request per connection, answered by `answer`.
struct Server {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(answer: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::on(listener, Arc::new(answer))
    }

    fn on(listener: TcpListener, answer: Answer) -> Self {
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (answer, log) = (answer.clone(), log.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, answer, log).await;
                });
            }
        });
        Self { base, seen, task }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut stream: TcpStream, answer: Answer, log: Arc<Mutex<Vec<Seen>>>) -> std::io::Result<()> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let (method, path) = (first.next().unwrap_or_default().to_string(), first.next().unwrap_or_default().to_string());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize =
        headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    while raw.len() < head_end + length {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let body = String::from_utf8_lossy(&raw[head_end..]).to_string();
    let seen = Seen { method, path, headers, body };
    log.lock().unwrap().push(seen.clone());
    match answer(&seen) {
        Reply::Json(status, value) => {
            let body = value.to_string();
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(body.as_bytes()).await?;
        }
        Reply::Sse { chunks, hold } => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n")
                .await?;
            for chunk in chunks {
                stream.write_all(chunk.as_bytes()).await?;
                stream.flush().await?;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            if hold {
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
        }
    }
    stream.shutdown().await
}

fn not_found() -> Reply {
    Reply::Json(404, json!({"error": {"code": "route_not_found", "message": "no route"}}))
}

fn workers() -> Value {
    json!({"workers": [
        {"name": "realm", "description": "Realms", "state": "ready", "pid": 4242, "restarts": 0, "uptime_ms": 61000,
         "functions_registered": 12, "functions_expected": 12, "last_error": null},
        {"name": "approval", "description": "Approvals", "state": "failed", "pid": null, "restarts": 5,
         "uptime_ms": null, "functions_registered": 0, "functions_expected": 9, "last_error": "exited with code 1"},
    ]})
}

fn endpoint(base: &str) -> Endpoint {
    Endpoint::new(base, Some("k-123".into()), "ada".into()).unwrap()
}

/// The next app event that `pick` selects, within [`LIMIT`].
async fn next_matching<T>(
    rx: &mut mpsc::UnboundedReceiver<AppEvent>,
    mut pick: impl FnMut(AppEvent) -> Option<T>,
) -> T {
    tokio::time::timeout(LIMIT, async {
        loop {
            let event = rx.recv().await.expect("the channel stays open");
            if let Some(found) = pick(event) {
                return found;
            }
        }
    })
    .await
    .expect("the event came in time")
}

/// The stream items of the executor until a `Closed`, within [`LIMIT`].
async fn stream_items(io: &mut Executor) -> Vec<StreamItem> {
    let mut items = Vec::new();
    tokio::time::timeout(LIMIT, async {
        loop {
            let (id, event) = io.next_item().await.expect("the executor lives");
            if let Some(AppEvent::Stream { item, .. }) = io.accept(id, event) {
                let closed = matches!(item, StreamItem::Closed(_));
                items.push(item);
                if closed {
                    return;
                }
            }
        }
    })
    .await
    .expect("the stream ended in time");
    items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_press_reaches_the_workers_pane_whose_request_goes_out_and_whose_answer_is_drawn() {
    let server = Server::start(|seen| match (seen.method.as_str(), seen.path.as_str()) {
        ("GET", "/v1/workers") => Reply::Json(200, workers()),
        ("GET", p) if p.starts_with("/v1/workers/") && p.contains("/logs") => Reply::Json(
            200,
            json!({"worker": "x", "path": "/tmp/x.log", "lines": ["2026-03-02T09:14:01Z  INFO hello from the log"]}),
        ),
        ("GET", "/v1/health") => Reply::Json(200, json!({"status": "ok"})),
        _ => not_found(),
    })
    .await;
    let (tx, mut rx) = AppEventSender::channel();
    let mut io = Executor::new(endpoint(&server.base), tx.clone());
    let options = AppOptions { theme: Theme::PLAIN, ..AppOptions::default() };
    let mut app = App::new(tx, options);
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let (keys, input) = input_channel();
    // Switch to the workers pane with Alt-5, as a person would (the chat's composer takes a bare 5).
    keys.send(Ok(Event::Key(key_with(KeyCode::Char('5'), KeyModifiers::ALT)))).unwrap();
    let frames = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen_frames = frames.clone();
    let quit = keys.clone();
    let run = run_loop(&mut terminal, input, &mut app, &mut rx, &mut io, std::future::pending(), move |t| {
        let text = screen(t.backend());
        if text.contains("approval") && text.contains("hello from the log") {
            let _ = quit.send(Ok(Event::Key(key(KeyCode::Char('q')))));
        }
        seen_frames.lock().unwrap().push(text);
    });
    tokio::time::timeout(LIMIT, run).await.expect("the loop ended on q").unwrap();
    let last = frames.lock().unwrap().last().cloned().unwrap_or_default();
    assert!(last.contains("realm") && last.contains("ready") && last.contains("exited with code 1"), "{last}");
    let seen = server.seen();
    let list = seen.iter().find(|s| s.path == "/v1/workers").expect("GET /v1/workers went out");
    assert_eq!(list.header("authorization"), Some("Bearer k-123"));
    assert_eq!(list.header("x-agentos-user"), Some("ada"));
    assert!(seen.iter().any(|s| s.path == "/v1/workers/approval/logs?lines=200"), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_answers_json_and_an_api_error_answers_its_code_and_message() {
    let server = Server::start(|seen| match seen.path.as_str() {
        "/v1/realms" => {
            Reply::Json(201, json!({"id": "r1", "echo": serde_json::from_str::<Value>(&seen.body).unwrap()}))
        }
        "/v1/empty" => Reply::Json(202, Value::Null),
        _ => Reply::Json(404, json!({"error": {"code": "NOT_FOUND", "message": "no realm named 'x'; known: default"}})),
    })
    .await;
    let (tx, mut rx) = AppEventSender::channel();
    let mut io = Executor::new(endpoint(&server.base), tx);
    let call = |key: &str, method, path: &str, body| {
        AppEvent::Request(Request { to: PaneId::Chat, key: key.into(), method, path: path.into(), body })
    };
    io.carry_out(&call("made", Method::Post, "/v1/realms", Some(json!({"id": "r1"}))));
    let made = next_matching(&mut rx, |e| match e {
        AppEvent::Response { key, result, .. } if key == "made" => Some(result),
        _ => None,
    })
    .await;
    assert_eq!(made, Ok(json!({"id": "r1", "echo": {"id": "r1"}})));
    io.carry_out(&call("missing", Method::Delete, "/v1/realms/x", None));
    let missing = next_matching(&mut rx, |e| match e {
        AppEvent::Response { key, result, .. } if key == "missing" => Some(result),
        _ => None,
    })
    .await;
    assert_eq!(
        missing,
        Err(ApiError { status: 404, code: "NOT_FOUND".into(), message: "no realm named 'x'; known: default".into() })
    );
    let seen = server.seen();
    assert_eq!(seen[0].header("content-type"), Some("application/json"));
    assert_eq!(seen[1].method, "DELETE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_stack_answers_unreachable_marks_the_connection_lost_and_health_brings_it_back() {
    // A port nobody listens on, for now.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let (tx, mut rx) = AppEventSender::channel();
    let mut io = Executor::new(endpoint(&format!("http://{address}")), tx);
    io.carry_out(&AppEvent::Request(Request {
        to: PaneId::Workers,
        key: "list".into(),
        method: Method::Get,
        path: "/v1/workers".into(),
        body: None,
    }));
    let mut answer = None;
    let mut lost = None;
    while answer.is_none() || lost.is_none() {
        match next_matching(&mut rx, Some).await {
            AppEvent::Response { result: Err(err), .. } => answer = Some(err),
            AppEvent::Connection(state) => lost = Some(state),
            other => panic!("unexpected {other:?}"),
        }
    }
    let err = answer.unwrap();
    assert_eq!((err.status, err.code.as_str()), (0, "UNREACHABLE"));
    assert!(err.message.starts_with(&format!("cannot reach agentos at http://{address}: ")), "{}", err.message);
    assert!(matches!(lost, Some(Connection::Lost(_))), "{lost:?}");
    // The stack comes back on the same port: health answers, the connection is up again.
    let listener = TcpListener::bind(address).await.unwrap();
    let _server = Server::on(listener, Arc::new(|_: &Seen| Reply::Json(200, json!({"status": "ok"}))));
    let up = next_matching(&mut rx, |e| match e {
        AppEvent::Connection(state) => Some(state),
        _ => None,
    })
    .await;
    assert_eq!(up, Connection::Up);
}

fn chat_stream() -> StreamRequest {
    StreamRequest {
        to: PaneId::Chat,
        key: "turn".into(),
        method: Method::Post,
        path: "/v1/chat/stream".into(),
        body: Some(json!({"message": "hi"})),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_delivers_each_event_then_closed() {
    let server = Server::start(|_| Reply::Sse {
        chunks: vec![
            ": open\n\n".into(),
            "event: token\ndata: {\"text\": \"Hel\"}\n\n".into(),
            "event: token\ndata: {\"text\": \"lo\"}\n\nevent: done\n".into(),
            "data: {\"reply\": \"Hello\"}\n\n".into(),
        ],
        hold: false,
    })
    .await;
    let (tx, _rx) = AppEventSender::channel();
    let mut io = Executor::new(endpoint(&server.base), tx);
    io.carry_out(&AppEvent::OpenStream(chat_stream()));
    let items = stream_items(&mut io).await;
    assert_eq!(
        items,
        vec![
            StreamItem::Event { name: "token".into(), data: json!({"text": "Hel"}) },
            StreamItem::Event { name: "token".into(), data: json!({"text": "lo"}) },
            StreamItem::Event { name: "done".into(), data: json!({"reply": "Hello"}) },
            StreamItem::Closed(None),
        ]
    );
    assert_eq!(io.open_streams(), 0);
    assert_eq!(server.seen()[0].body, r#"{"message":"hi"}"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_stream_closes_with_the_apis_error() {
    let server = Server::start(|_| {
        Reply::Json(503, json!({"error": {"code": "NO_PROVIDER", "message": "no LLM provider is configured"}}))
    })
    .await;
    let (tx, _rx) = AppEventSender::channel();
    let mut io = Executor::new(endpoint(&server.base), tx);
    io.carry_out(&AppEvent::OpenStream(chat_stream()));
    assert_eq!(
        stream_items(&mut io).await,
        vec![StreamItem::Closed(Some(ApiError {
            status: 503,
            code: "NO_PROVIDER".into(),
            message: "no LLM provider is configured".into()
        }))]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stream_delivers_nothing_more_not_even_closed() {
    let server =
        Server::start(|_| Reply::Sse { chunks: vec!["event: token\ndata: {\"text\": \"a\"}\n\n".into()], hold: true })
            .await;
    let (tx, _rx) = AppEventSender::channel();
    let mut io = Executor::new(endpoint(&server.base), tx);
    io.carry_out(&AppEvent::OpenStream(chat_stream()));
    let (id, first) = tokio::time::timeout(LIMIT, io.next_item()).await.unwrap().unwrap();
    assert!(io.accept(id, first).is_some());
    io.carry_out(&AppEvent::CloseStream { to: PaneId::Chat, key: "turn".into() });
    assert_eq!(io.open_streams(), 0);
    // Whatever was already on its way is dropped, and the aborted task sends nothing else.
    let late = tokio::time::timeout(Duration::from_millis(300), async {
        loop {
            let (id, event) = io.next_item().await.expect("the executor lives");
            if let Some(event) = io.accept(id, event) {
                return event;
            }
        }
    })
    .await;
    assert!(late.is_err(), "{late:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_feed_turns_each_event_into_a_bus_event() {
    let server = Server::start(|seen| match seen.path.as_str() {
        "/v1/events" => Reply::Sse {
            chunks: vec![
                ": keepalive\n\n".into(),
                "event: approval_requested\ndata: {\"id\": \"apr-1\"}\n\n".into(),
                "event: session_renamed\ndata: {\"id\": \"s-1\", \"name\": \"fix\"}\n\n".into(),
            ],
            hold: true,
        },
        _ => not_found(),
    })
    .await;
    let (tx, mut rx) = AppEventSender::channel();
    let mut io = Executor::new(endpoint(&server.base), tx);
    io.watch_bus();
    let mut bus = Vec::new();
    while bus.len() < 2 {
        bus.push(
            next_matching(&mut rx, |e| match e {
                AppEvent::Bus { event, data } => Some((event, data)),
                _ => None,
            })
            .await,
        );
    }
    assert_eq!(
        bus,
        vec![
            ("approval_requested".to_string(), json!({"id": "apr-1"})),
            ("session_renamed".to_string(), json!({"id": "s-1", "name": "fix"})),
        ]
    );
    assert_eq!(server.seen()[0].header("authorization"), Some("Bearer k-123"));
}
