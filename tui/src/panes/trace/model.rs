//! A trace as the pane works with it: the span tree of `GET /v1/traces/:id` flattened into
//! one vector in depth-first order, with the critical path marked, plus the trace list's rows.
//!
//! Rules it keeps:
//! - Spans are read as the trace contract's [`trace::Span`], which takes the engine's JSON and the
//!   OTLP spellings (times as strings, `attributes` as an object); a span without its times
//!   still shows, with zero length.
//! - Children are ordered by start time. A subtree is a contiguous range of the vector
//!   (`index..subtree_end`), so collapsing skips it in one step and the visible rows are
//!   computed in one pass.
//! - The tree is walked with an explicit stack, never by recursion: a deep trace cannot
//!   overflow the stack.
//! - The critical path starts at the root that ends last and follows, level by level, the
//!   child that ends last: the chain of calls that decided when the trace finished.

use agentos_protocol::trace::{self, SpanNode, TraceList, TraceTree};
use serde::Deserialize;
use serde_json::Value;

/// A span's error, as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanError {
    pub code: String,
    pub message: String,
}

/// One span of a trace, placed in the flattened tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    pub function_id: Option<String>,
    pub worker_id: Option<String>,
    pub start_ns: i64,
    pub end_ns: i64,
    pub status: String,
    pub error: Option<SpanError>,
    pub attributes: Vec<(String, String)>,
    /// The parent's index in [`SpanTree::spans`], `None` for a root.
    pub parent: Option<usize>,
    /// The children's indices, by start time.
    pub children: Vec<usize>,
    /// One past the last index of this span's subtree.
    pub subtree_end: usize,
    /// How deep in the tree (roots are 0).
    pub depth: usize,
    /// Whether it is the last child of its parent (the tree guides end there).
    pub last: bool,
    /// Whether it lies on the critical path.
    pub critical: bool,
}

impl Span {
    /// What the tree shows: the function it called, else the span's name.
    pub fn label(&self) -> &str {
        self.function_id.as_deref().filter(|f| !f.is_empty()).unwrap_or(&self.name)
    }

    /// Whether the span failed.
    pub fn failed(&self) -> bool {
        self.error.is_some() || self.status.eq_ignore_ascii_case("error")
    }

    /// How long it took, in ms.
    pub fn duration_ms(&self) -> f64 {
        (self.end_ns - self.start_ns).max(0) as f64 / 1e6
    }
}

/// A whole trace, flattened.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpanTree {
    pub trace_id: String,
    /// Every span, depth first, children by start time.
    pub spans: Vec<Span>,
    /// The earliest start of any span (ns since the epoch).
    pub start_ns: i64,
    /// The latest end of any span.
    pub end_ns: i64,
    /// How many spans failed.
    pub errors: usize,
}

impl SpanTree {
    /// The tree of a `GET /v1/traces/:id` answer (`{trace_id, roots}`).
    pub fn from_json(answer: &Value) -> Self {
        let answer = TraceTree::deserialize(answer).unwrap_or_else(|e| {
            tracing::debug!("not a trace tree ({e}): {answer}");
            TraceTree::default()
        });
        let roots = answer.nodes();
        let mut tree = Self { trace_id: answer.trace_id, ..Self::default() };
        tree.flatten(&roots);
        tree.link_subtrees();
        tree.bounds();
        tree.mark_critical_path();
        tree
    }

    /// The spans of the trace in depth-first order, built with an explicit stack.
    fn flatten(&mut self, roots: &[SpanNode]) {
        // Each entry: the span's node, its parent's index, its depth, whether it is a last child.
        let mut stack: Vec<(&SpanNode, Option<usize>, usize, bool)> = Vec::new();
        push_children(&mut stack, roots.iter().collect(), None, 0);
        while let Some((node, parent, depth, last)) = stack.pop() {
            let index = self.spans.len();
            let mut span = Span::from(&node.span);
            span.parent = parent;
            span.depth = depth;
            span.last = last;
            if let Some(p) = parent {
                self.spans[p].children.push(index);
            }
            self.spans.push(span);
            push_children(&mut stack, node.children.iter().collect(), Some(index), depth + 1);
        }
    }

    /// Sets every span's `subtree_end`: children have larger indices, so one backward pass does.
    fn link_subtrees(&mut self) {
        for i in (0..self.spans.len()).rev() {
            let end = self.spans[i].children.last().map_or(i + 1, |&c| self.spans[c].subtree_end);
            self.spans[i].subtree_end = end;
        }
    }

    fn bounds(&mut self) {
        self.start_ns = self.spans.iter().map(|s| s.start_ns).min().unwrap_or(0);
        self.end_ns = self.spans.iter().map(|s| s.end_ns).max().unwrap_or(self.start_ns).max(self.start_ns);
        self.errors = self.spans.iter().filter(|s| s.failed()).count();
    }

    /// Marks the critical path (see the module's rules).
    fn mark_critical_path(&mut self) {
        for i in critical_path(&self.spans) {
            self.spans[i].critical = true;
        }
    }

    /// The trace's length in ms.
    pub fn duration_ms(&self) -> f64 {
        (self.end_ns - self.start_ns).max(0) as f64 / 1e6
    }

    /// The first root (the trace's main call), if any.
    pub fn root(&self) -> Option<&Span> {
        self.spans.first()
    }

    /// The index of the span with id `span_id`.
    pub fn position(&self, span_id: &str) -> Option<usize> {
        self.spans.iter().position(|s| s.span_id == span_id)
    }

    /// The rows shown when the spans flagged in `collapsed` hide their subtrees.
    pub fn visible(&self, collapsed: &[bool]) -> Vec<usize> {
        let mut rows = Vec::with_capacity(self.spans.len());
        let mut i = 0;
        while i < self.spans.len() {
            rows.push(i);
            i = if collapsed.get(i).copied().unwrap_or(false) { self.spans[i].subtree_end } else { i + 1 };
        }
        rows
    }
}

/// Pushes `kids` sorted by start time so that the first to start is popped first.
fn push_children<'a>(
    stack: &mut Vec<(&'a SpanNode, Option<usize>, usize, bool)>,
    mut kids: Vec<&'a SpanNode>,
    parent: Option<usize>,
    depth: usize,
) {
    kids.sort_by_key(|k| k.span.start_time_unix_nano);
    let n = kids.len();
    for (i, kid) in kids.into_iter().enumerate().rev() {
        stack.push((kid, parent, depth, i + 1 == n));
    }
}

/// The indices of the critical path of `spans` (flattened, depth first).
pub fn critical_path(spans: &[Span]) -> Vec<usize> {
    let roots = spans.iter().enumerate().filter(|(_, s)| s.parent.is_none()).map(|(i, _)| i);
    let Some(mut at) = latest_end(spans, roots) else { return Vec::new() };
    let mut path = vec![at];
    while let Some(next) = latest_end(spans, spans[at].children.iter().copied()) {
        path.push(next);
        at = next;
    }
    path
}

/// Of `candidates`, the span that ends last; on a tie, the one listed first.
fn latest_end(spans: &[Span], candidates: impl Iterator<Item = usize>) -> Option<usize> {
    candidates.fold(None, |best: Option<usize>, i| match best {
        Some(b) if spans[b].end_ns >= spans[i].end_ns => Some(b),
        _ => Some(i),
    })
}

impl From<&trace::Span> for Span {
    fn from(s: &trace::Span) -> Self {
        let start_ns = s.start_time_unix_nano;
        Span {
            span_id: s.span_id.clone(),
            parent_span_id: s.parent_span_id.clone(),
            name: s.name.clone(),
            function_id: s.function_id.clone(),
            worker_id: s.worker_id.clone(),
            start_ns,
            end_ns: s.end_time_unix_nano.max(start_ns),
            status: s.status.clone(),
            error: s
                .error
                .as_ref()
                .map(|e| SpanError { code: e.code.clone(), message: e.message.clone().unwrap_or_default() }),
            attributes: s.attributes.0.clone(),
            parent: None,
            children: Vec::new(),
            subtree_end: 0,
            depth: 0,
            last: true,
            critical: false,
        }
    }
}

/// One row of the trace list (`GET /v1/traces`).
#[derive(Debug, Clone, PartialEq)]
pub struct TraceRow {
    pub trace_id: String,
    /// The root's function (or name), when the engine still keeps the root.
    pub root: Option<String>,
    pub started_ms: u64,
    pub duration_ms: f64,
    pub turn_id: Option<String>,
    /// Whether the root span failed.
    pub failed: bool,
}

impl TraceRow {
    /// The rows of a `{"traces": [...]}` answer; none when it is not one.
    pub fn list(answer: &Value) -> Vec<Self> {
        let list = TraceList::deserialize(answer).unwrap_or_else(|e| {
            tracing::debug!("not a list of traces ({e}): {answer}");
            TraceList::default()
        });
        list.traces
            .into_iter()
            .map(|t| {
                let root = t.root_span();
                Self {
                    root: root.as_ref().map(|r| r.label().to_string()),
                    failed: root.is_some_and(|r| r.failed()),
                    trace_id: t.trace_id,
                    started_ms: t.started_ms,
                    duration_ms: t.duration_ms,
                    turn_id: t.turn_id,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn span(id: &str, start_ms: i64, end_ms: i64, children: Vec<Value>) -> Value {
        json!({"span_id": id, "name": format!("call {id}"), "function_id": id, "status": "ok",
               "start_time_unix_nano": start_ms * 1_000_000, "end_time_unix_nano": end_ms * 1_000_000,
               "attributes": [["function_id", id]], "children": children})
    }

    fn labels(tree: &SpanTree, rows: &[usize]) -> Vec<String> {
        rows.iter().map(|&i| tree.spans[i].label().to_string()).collect()
    }

    #[test]
    fn the_tree_is_flattened_depth_first_with_children_by_start_time() {
        let answer = json!({"trace_id": "t", "roots": [span("root", 0, 100, vec![
            span("late", 50, 60, vec![]),
            span("early", 10, 40, vec![span("inner", 12, 20, vec![])]),
        ])]});
        let tree = SpanTree::from_json(&answer);
        assert_eq!(labels(&tree, &[0, 1, 2, 3]), ["root", "early", "inner", "late"]);
        assert_eq!(tree.spans.iter().map(|s| s.subtree_end).collect::<Vec<_>>(), [4, 3, 3, 4]);
        assert_eq!(tree.spans.iter().map(|s| s.depth).collect::<Vec<_>>(), [0, 1, 2, 1]);
        assert_eq!(tree.spans.iter().map(|s| s.last).collect::<Vec<_>>(), [true, false, true, true]);
        assert_eq!((tree.start_ns, tree.end_ns), (0, 100_000_000));
    }

    #[test]
    fn the_critical_path_follows_the_child_that_ends_last() {
        let answer = json!({"trace_id": "t", "roots": [span("root", 0, 100, vec![
            span("long_but_early", 0, 70, vec![]),
            span("short_but_last", 80, 95, vec![span("a", 81, 85, vec![]), span("b", 86, 94, vec![])]),
        ])]});
        let tree = SpanTree::from_json(&answer);
        let path: Vec<usize> = critical_path(&tree.spans);
        assert_eq!(labels(&tree, &path), ["root", "short_but_last", "b"]);
        assert!(!tree.spans[1].critical && tree.spans[2].critical);
    }

    #[test]
    fn of_several_roots_the_critical_path_starts_at_the_one_that_ends_last() {
        let answer = json!({"trace_id": "t", "roots": [span("first", 0, 30, vec![]), span("second", 10, 90, vec![])]});
        let tree = SpanTree::from_json(&answer);
        assert_eq!(labels(&tree, &critical_path(&tree.spans)), ["second"]);
    }

    #[test]
    fn a_collapsed_span_hides_its_whole_subtree() {
        let answer = json!({"trace_id": "t", "roots": [span("root", 0, 100, vec![
            span("a", 10, 40, vec![span("a1", 12, 20, vec![span("a11", 13, 14, vec![])])]),
            span("b", 50, 60, vec![]),
        ])]});
        let tree = SpanTree::from_json(&answer);
        let mut collapsed = vec![false; tree.spans.len()];
        collapsed[1] = true;
        assert_eq!(labels(&tree, &tree.visible(&collapsed)), ["root", "a", "b"]);
        collapsed[0] = true;
        assert_eq!(labels(&tree, &tree.visible(&collapsed)), ["root"]);
    }

    #[test]
    fn a_span_error_and_string_times_are_understood() {
        let answer = json!({"trace_id": "t", "roots": [{"span_id": "s", "name": "n", "status": "error",
            "start_time_unix_nano": "1000", "end_time_unix_nano": "500",
            "error": {"code": "TIMEOUT", "message": "took too long"}, "children": []}]});
        let tree = SpanTree::from_json(&answer);
        let s = &tree.spans[0];
        assert_eq!((s.start_ns, s.end_ns, s.failed(), tree.errors), (1000, 1000, true, 1));
        assert_eq!(s.error, Some(SpanError { code: "TIMEOUT".into(), message: "took too long".into() }));
    }
}
