//! The trace contract, as the engine serves spans and session-replay answers traces.

use agentos_protocol::trace::{Span, SpanNode, TraceList, TraceTree};

use super::{fixture, round_trip};

#[test]
fn every_captured_trace_tree_and_its_spans_read_and_write_back_the_same() {
    let mut spans = 0;
    for (i, tree) in fixture("trace/trees.jsonl").iter().enumerate() {
        let what = format!("trace/trees.jsonl:{}", i + 1);
        let tree: TraceTree = round_trip(&what, tree);
        for root in &tree.roots {
            let node: SpanNode = round_trip(&what, root);
            spans += 1 + node.children.len();
        }
    }
    assert!(spans >= 2, "the captures hold a tree with children");
}

#[test]
fn every_captured_trace_list_and_its_roots_read_and_write_back_the_same() {
    for (i, list) in fixture("trace/lists.jsonl").iter().enumerate() {
        let what = format!("trace/lists.jsonl:{}", i + 1);
        let list: TraceList = round_trip(&what, list);
        for trace in &list.traces {
            if let Some(root) = &trace.root {
                round_trip::<Span>(&what, root);
                assert!(trace.root_span().is_some(), "{what}");
            }
        }
    }
}
