//! `agentos chat`: one turn or an interactive session over `POST /v1/chat/stream`.
//!
//! Rules it keeps:
//! - With a message: one turn. Without one, a terminal on stdin means interactive (`you › `
//!   prompt, one turn per line in the same session, `/new`, `/exit`, Ctrl-D); anything else on
//!   stdin is read whole as the message (`echo hi | agentos chat`).
//! - Tokens are written and flushed as they arrive; what they look like is [`render`]'s job.
//! - The session id is taken from the first `session` event (and from `done`), so the next
//!   interactive turn continues the session even after an interrupted turn.
//! - An `error` event, a non-2xx answer or a stream that ends before `done` is an error naming
//!   the fix; one-shot chat then exits 1, interactive chat prints it and prompts again.
//! - Ctrl-C during an interactive turn drops the stream (the connection closes) and returns to
//!   the prompt; one-shot chat keeps the default Ctrl-C (the process ends).

pub mod events;
pub mod render;

use std::io::{BufRead, IsTerminal, Read, Write};

use agentos_supervisor::Home;
use anyhow::{Context, anyhow};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;

use crate::client::{Client, describe_error};
use crate::status::block_on;
use crate::theme::Theme;
use events::{ChatEvent, ChatRequest, as_sent, parse_event};
use render::Renderer;

/// The streaming chat route.
pub const STREAM_ROUTE: &str = "/v1/chat/stream";

/// The routes `agentos chat` calls (for `doctor`).
pub const ROUTES: &[(&str, &str)] = &[("POST", STREAM_ROUTE)];

/// `agentos chat`'s arguments.
#[derive(Debug, clap::Args)]
pub struct ChatArgs {
    /// The hand (persona) to chat with.
    #[arg(long)]
    pub hand: Option<String>,
    /// The agent to chat with.
    #[arg(long)]
    pub agent: Option<String>,
    /// The realm the session belongs to (default: `default`).
    #[arg(long)]
    pub realm: Option<String>,
    /// The model to use instead of the hand's or the configured default.
    #[arg(long)]
    pub model: Option<String>,
    /// Continue this session instead of starting a new one.
    #[arg(long)]
    pub session: Option<String>,
    /// Print the final answer (the `done` payload) as JSON instead of the rendering.
    #[arg(long)]
    pub json: bool,
    /// What to say; without it, an interactive session (or stdin, when it is not a terminal).
    pub message: Option<String>,
}

/// Runs `agentos chat`.
pub fn run(args: ChatArgs) -> anyhow::Result<()> {
    let home = Home::discover()?;
    let client = Client::discover(&home)?;
    let theme = Theme::for_stdout();
    let base = ChatRequest {
        message: String::new(),
        session_id: args.session,
        hand: args.hand,
        agent: args.agent,
        realm: args.realm,
        model: args.model,
    };
    let message = match args.message {
        Some(message) => message,
        None if std::io::stdin().is_terminal() => return interactive(&client, base, args.json, theme),
        None => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).context("reading the message from stdin")?;
            // `echo hi |` ends in a newline that is not part of the message.
            text.trim_end().to_string()
        }
    };
    if message.trim().is_empty() {
        return Err(anyhow!(
            "the message is empty; fix: pass one (`agentos chat \"hello\"`), pipe one on stdin, or run `agentos chat` in a terminal to chat interactively"
        ));
    }
    let request = ChatRequest { message, ..base };
    let mut session = request.session_id.clone();
    let mut out = std::io::stdout();
    block_on(turn(&client, &request, &mut out, &mut Renderer::new(theme), args.json, &mut session))
}

/// Runs one turn: streams the answer to `out` (rendered, or the `done` payload as JSON) and
/// records the session id in `session` as soon as the server names it.
pub async fn turn<W: Write>(
    client: &Client,
    request: &ChatRequest,
    out: &mut W,
    renderer: &mut Renderer,
    json: bool,
    session: &mut Option<String>,
) -> anyhow::Result<()> {
    let response = client.post_stream(STREAM_ROUTE, request).await?;
    let mut stream = response.bytes_stream().eventsource();
    while let Some(next) = stream.next().await {
        let sse = next.map_err(|e| {
            anyhow!(
                "the chat stream broke: {e}; fix: check that the stack is still up (`agentos status`) and try again"
            )
        })?;
        let event = parse_event(&sse.event, &sse.data)?;
        match &event {
            ChatEvent::Session(info) => *session = Some(info.session_id.clone()),
            ChatEvent::Done(answer) => *session = Some(answer.session_id.clone()),
            ChatEvent::Unknown { event, data } => {
                tracing::debug!(event = %event, %data, "a chat event this CLI does not know")
            }
            _ => {}
        }
        let text = match (&event, json) {
            (ChatEvent::Done(_), true) => format!("{}\n", as_sent(&sse.event, &sse.data)?),
            (_, true) => String::new(),
            (_, false) => renderer.event(&event),
        };
        if !text.is_empty() {
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
        match event {
            ChatEvent::Done(..) => return Ok(()),
            ChatEvent::Error(e) => return Err(anyhow!(describe_error(&e.code, &e.message))),
            _ => {}
        }
    }
    if !json {
        out.write_all(renderer.end_line().as_bytes())?;
    }
    Err(anyhow!(
        "the chat stream ended before the turn finished; fix: see `agentos status` and the chat worker's log (`agentos logs <worker>`), then try again"
    ))
}

/// What one line typed at the interactive prompt asks for.
#[derive(Debug, PartialEq, Eq)]
enum Input {
    /// Nothing; prompt again.
    Empty,
    /// `/exit` (or `/quit`).
    Exit,
    /// `/new`: forget the session.
    New,
    /// `/help`, or a slash command this CLI does not know.
    Help,
    /// A message for the model.
    Message(String),
}

/// Reads one prompt line.
fn parse_input(line: &str) -> Input {
    let trimmed = line.trim();
    match trimmed {
        "" => Input::Empty,
        "/exit" | "/quit" => Input::Exit,
        "/new" => Input::New,
        _ if trimmed.starts_with('/') && !trimmed.contains(char::is_whitespace) => Input::Help,
        _ => Input::Message(trimmed.to_string()),
    }
}

/// The interactive loop: prompt, turn, repeat.
fn interactive(client: &Client, base: ChatRequest, json: bool, theme: Theme) -> anyhow::Result<()> {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    // Stdin is read on its own thread so that a turn and Ctrl-C can be awaited together; the
    // thread ends at EOF (Ctrl-D), which closes the channel.
    let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let help = theme.dim("/new starts a new session, /exit or Ctrl-D quits, Ctrl-C stops a turn");
    println!("{help}");
    runtime.block_on(async {
        let mut session = base.session_id.clone();
        let mut renderer = Renderer::new(theme);
        loop {
            print!("{}", theme.cyan("you › "));
            std::io::stdout().flush()?;
            let line = tokio::select! {
                line = lines.recv() => line,
                _ = tokio::signal::ctrl_c() => {
                    println!("\n{}", theme.dim("(/exit or Ctrl-D to quit)"));
                    continue;
                }
            };
            let Some(line) = line else {
                println!();
                return Ok(());
            };
            let message = match parse_input(&line) {
                Input::Empty => continue,
                Input::Exit => return Ok(()),
                Input::New => {
                    session = None;
                    println!("{}", theme.dim("new session"));
                    continue;
                }
                Input::Help => {
                    println!("{help}");
                    continue;
                }
                Input::Message(message) => message,
            };
            let request = ChatRequest { message, session_id: session.clone(), ..base.clone() };
            let mut out = std::io::stdout();
            let finished = tokio::select! {
                result = turn(client, &request, &mut out, &mut renderer, json, &mut session) => Some(result),
                _ = tokio::signal::ctrl_c() => None,
            };
            match finished {
                None => print!("{}", renderer.interrupted()),
                Some(Err(e)) => eprintln!("{}", theme.red(&format!("agentos: {e:#}"))),
                Some(Ok(())) => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn prompt_lines_are_messages_unless_they_are_commands() {
        assert_eq!(parse_input("  \n"), Input::Empty);
        assert_eq!(parse_input("/exit\n"), Input::Exit);
        assert_eq!(parse_input(" /new "), Input::New);
        assert_eq!(parse_input("/nwe"), Input::Help);
        assert_eq!(parse_input("what is in src/?\n"), Input::Message("what is in src/?".into()));
        // A path is a message, not a command.
        assert_eq!(parse_input("/etc/hosts has what"), Input::Message("/etc/hosts has what".into()));
    }
}
