//! A minimal Server-Sent Events parser, for tests that assert on streamed frames.

/// One SSE event: its `event:` name (if any) and its `data:` lines joined by `\n`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, absent for OpenAI's unnamed `data:` frames.
    pub event: Option<String>,
    /// The `data:` payload.
    pub data: String,
}

/// Parses a complete SSE body into its events. Comment lines (`:`) and fields other than
/// `event` and `data` are ignored; an event without data lines is dropped, as the spec says.
pub fn parse_sse(body: &str) -> Vec<SseEvent> {
    let normalized = body.replace("\r\n", "\n");
    normalized
        .split("\n\n")
        .filter_map(|block| {
            let mut event = None;
            let mut data: Vec<&str> = Vec::new();
            for line in block.lines() {
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "event" => event = Some(value.to_owned()),
                    "data" => data.push(value),
                    _ => {}
                }
            }
            (!data.is_empty()).then(|| SseEvent { event, data: data.join("\n") })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn named_and_unnamed_events_are_parsed_and_comments_skipped() {
        let body = ": hi\n\nevent: ping\ndata: {}\n\ndata: a\ndata: b\n\ndata: [DONE]\n\n";
        assert_eq!(
            parse_sse(body),
            vec![
                SseEvent { event: Some("ping".into()), data: "{}".into() },
                SseEvent { event: None, data: "a\nb".into() },
                SseEvent { event: None, data: "[DONE]".into() },
            ]
        );
    }
}
