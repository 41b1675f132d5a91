//! The chat vocabulary lives in [`agentos_kit::chat`]; this module adds what only the router
//! needs: the normalisation of the providers' stop reasons.

pub use agentos_kit::chat::{ChatMessage, Completion, CompletionRequest, Role, ToolCall, ToolSpec, Usage};

/// Maps both providers' stop reasons onto the neutral vocabulary.
pub(crate) fn normalise_finish(reason: &str) -> String {
    match reason {
        "end_turn" | "stop_sequence" => "stop",
        "tool_use" => "tool_calls",
        "max_tokens" => "length",
        other => other,
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn finish_reasons_of_both_providers_share_one_vocabulary() {
        let got: Vec<String> = ["end_turn", "tool_use", "max_tokens", "stop", "tool_calls", "content_filter"]
            .into_iter()
            .map(normalise_finish)
            .collect();
        assert_eq!(got, ["stop", "tool_calls", "length", "stop", "tool_calls", "content_filter"]);
    }
}
