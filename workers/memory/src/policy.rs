//! The pure decisions over memories: merging a near-duplicate, clustering related memories
//! for consolidation, and the order of eviction.
//!
//! Rules it keeps:
//! - A duplicate merge keeps the older memory's id and creation time, the longer text (it
//!   says more; the same words with other case or punctuation do not count as longer), the
//!   union of the tags and the higher importance; it counts as an update.
//! - A consolidation cluster is a seed and the memories related to the seed itself (star
//!   clusters, not chains: A~B and B~C does not pull C into A's cluster unless A~C). Seeds are
//!   taken by importance, then age (older first), so the kept id is the most important, oldest
//!   memory of its cluster.
//! - Eviction first applies the explicit rules (older than, below importance: a memory must
//!   break every rule given), then the cap per agent, evicting the lowest retention first:
//!   `importance × 0.5^(days since last activity / half-life)`, where the last activity is the
//!   later of the last update and the last recall.

use std::collections::BTreeMap;

use crate::Memory;
use crate::rank::recency;
use crate::text::{join_texts, normalised};

/// Milliseconds in a day.
const DAY_MS: f64 = 86_400_000.0;

/// `existing` with a near-duplicate of `text`, `tags` and `importance` merged in at `now_ms`.
/// The second value says whether the text changed (and so needs a new embedding).
pub fn merge_duplicate(existing: &Memory, text: &str, tags: &[String], importance: f64, now_ms: u64) -> (Memory, bool) {
    let mut merged = existing.clone();
    // Longer and saying something else: the same words with other punctuation are no news.
    let longer = text.chars().count() > existing.text.chars().count() && normalised(text) != normalised(&existing.text);
    if longer {
        merged.text = text.to_string();
    }
    merged.tags = union(&existing.tags, tags);
    merged.importance = existing.importance.max(importance);
    merged.updated_ms = now_ms.max(existing.updated_ms);
    (merged, longer)
}

/// Two tag lists as one sorted list without repeats.
pub fn union(a: &[String], b: &[String]) -> Vec<String> {
    let mut all: Vec<String> = a.iter().chain(b).cloned().collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// The order in which memories seed clusters: most important first, then oldest, then id.
pub fn seed_order(memories: &[&Memory]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..memories.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (memories[a], memories[b]);
        b.importance.total_cmp(&a.importance).then(a.created_ms.cmp(&b.created_ms)).then_with(|| a.id.cmp(&b.id))
    });
    order
}

/// Star clusters over `order` (see the module rules): each unassigned item in turn becomes a
/// seed and takes every later unassigned item `related` to it. Only clusters of two or more
/// are returned, each seed first.
pub fn clusters(order: &[usize], related: impl Fn(usize, usize) -> bool) -> Vec<Vec<usize>> {
    let mut taken = vec![false; order.iter().max().map_or(0, |m| m + 1)];
    let mut out = Vec::new();
    for (pos, &seed) in order.iter().enumerate() {
        if taken[seed] {
            continue;
        }
        taken[seed] = true;
        let mut cluster = vec![seed];
        for &other in &order[pos + 1..] {
            if !taken[other] && related(seed, other) {
                taken[other] = true;
                cluster.push(other);
            }
        }
        if cluster.len() > 1 {
            out.push(cluster);
        }
    }
    out
}

/// The memory a cluster becomes: `keep` (the seed) with the others' texts joined after its
/// own, the union of all tags, the highest importance, the earliest creation, the summed
/// recalls, the latest recall, and every merged id recorded (including what they had merged).
pub fn merge_cluster(keep: &Memory, others: &[&Memory], now_ms: u64, max_chars: usize) -> Memory {
    let mut merged = keep.clone();
    merged.text =
        join_texts(std::iter::once(keep.text.as_str()).chain(others.iter().map(|m| m.text.as_str())), max_chars);
    for m in others {
        merged.tags = union(&merged.tags, &m.tags);
        merged.importance = merged.importance.max(m.importance);
        merged.created_ms = merged.created_ms.min(m.created_ms);
        merged.recalls += m.recalls;
        merged.last_recalled_ms = merged.last_recalled_ms.max(m.last_recalled_ms);
        merged.merged_from.push(m.id.clone());
        merged.merged_from.extend(m.merged_from.iter().cloned());
    }
    merged.updated_ms = now_ms;
    merged
}

/// What `memory::evict` applies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvictRules {
    /// The cap per agent (and for the realm-wide group).
    pub max_per_agent: usize,
    /// Evict memories whose last activity is at least this many days ago.
    pub older_than_days: Option<f64>,
    /// Evict memories less important than this.
    pub below_importance: Option<f64>,
    /// The recency half-life for retention.
    pub half_life_days: f64,
}

/// When a memory was last updated or recalled.
pub fn last_activity(m: &Memory) -> u64 {
    m.updated_ms.max(m.last_recalled_ms.unwrap_or(0))
}

/// How much a memory deserves to be kept: importance × recency of its last activity.
pub fn retention(m: &Memory, now_ms: u64, half_life_days: f64) -> f64 {
    m.importance * recency(last_activity(m), now_ms, half_life_days)
}

/// The ids to evict from `memories` under `rules` at `now_ms`, in eviction order (see the
/// module rules).
pub fn eviction(memories: &[&Memory], rules: &EvictRules, now_ms: u64) -> Vec<String> {
    let mut evicted = Vec::new();
    let has_rule = rules.older_than_days.is_some() || rules.below_importance.is_some();
    let mut kept: BTreeMap<&str, Vec<&Memory>> = BTreeMap::new();
    for &m in memories {
        let old =
            rules.older_than_days.is_none_or(|days| now_ms.saturating_sub(last_activity(m)) as f64 >= days * DAY_MS);
        let weak = rules.below_importance.is_none_or(|min| m.importance < min);
        if has_rule && old && weak {
            evicted.push(m.id.clone());
        } else {
            kept.entry(m.agent.as_deref().unwrap_or("")).or_default().push(m);
        }
    }
    for group in kept.values_mut() {
        if group.len() <= rules.max_per_agent {
            continue;
        }
        group.sort_by(|a, b| {
            retention(a, now_ms, rules.half_life_days)
                .total_cmp(&retention(b, now_ms, rules.half_life_days))
                .then(last_activity(a).cmp(&last_activity(b)))
                .then_with(|| a.id.cmp(&b.id))
        });
        let over = group.len() - rules.max_per_agent;
        evicted.extend(group.iter().take(over).map(|m| m.id.clone()));
    }
    evicted
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    const NOW: u64 = 1_000 * 86_400_000;
    const DAY: u64 = 86_400_000;

    fn mem(id: &str, text: &str, importance: f64, created_ms: u64) -> Memory {
        Memory {
            id: id.into(),
            text: text.into(),
            realm: "default".into(),
            agent: None,
            tags: vec![],
            importance,
            created_ms,
            updated_ms: created_ms,
            last_recalled_ms: None,
            recalls: 0,
            merged_from: vec![],
            embedded: false,
        }
    }

    fn rules(max: usize) -> EvictRules {
        EvictRules { max_per_agent: max, older_than_days: None, below_importance: None, half_life_days: 30.0 }
    }

    #[test]
    fn a_duplicate_keeps_the_old_id_the_longer_text_all_tags_and_the_higher_importance() {
        let mut old = mem("mem-old", "User prefers tabs", 0.4, NOW - DAY);
        old.tags = vec!["style".into()];
        let (merged, changed) =
            merge_duplicate(&old, "User prefers tabs over spaces", &["editor".into(), "style".into()], 0.7, NOW);
        assert!(changed);
        assert_eq!(
            merged,
            Memory {
                text: "User prefers tabs over spaces".into(),
                tags: vec!["editor".into(), "style".into()],
                importance: 0.7,
                updated_ms: NOW,
                ..old.clone()
            }
        );
        let (same, changed) = merge_duplicate(&old, "user prefers TABS!!", &[], 0.1, NOW);
        assert!(!changed);
        assert_eq!((same.text.as_str(), same.importance), ("User prefers tabs", 0.4));
    }

    #[test]
    fn clusters_are_stars_around_the_most_important_oldest_seed() {
        let ms = [
            mem("a", "a", 0.5, 3),
            mem("b", "b", 0.9, 5),
            mem("c", "c", 0.5, 1),
            mem("d", "d", 0.5, 2),
            mem("e", "e", 0.1, 0),
        ];
        let refs: Vec<&Memory> = ms.iter().collect();
        let order = seed_order(&refs);
        assert_eq!(order, vec![1, 2, 3, 0, 4]);
        // b~a, a~c (a chain through a), d~e.
        let pairs = [(0, 1), (0, 2), (3, 4)];
        let related = |x: usize, y: usize| pairs.contains(&(x.min(y), x.max(y)));
        assert_eq!(clusters(&order, related), vec![vec![1, 0], vec![3, 4]]);
    }

    #[test]
    fn a_merged_cluster_records_every_id_and_keeps_the_earliest_creation() {
        let mut keep = mem("k", "The deploy uses blue-green.", 0.6, NOW - 5 * DAY);
        keep.tags = vec!["deploy".into()];
        let mut a = mem("a", "Deploys are blue-green with a 5 minute bake", 0.8, NOW - 9 * DAY);
        a.merged_from = vec!["older".into()];
        a.recalls = 3;
        a.last_recalled_ms = Some(NOW - DAY);
        let mut b = mem("b", "the deploy uses blue green", 0.2, NOW - DAY);
        b.tags = vec!["ops".into()];
        let merged = merge_cluster(&keep, &[&a, &b], NOW, 1000);
        assert_eq!(
            merged,
            Memory {
                text: "The deploy uses blue-green. Deploys are blue-green with a 5 minute bake".into(),
                tags: vec!["deploy".into(), "ops".into()],
                importance: 0.8,
                created_ms: NOW - 9 * DAY,
                updated_ms: NOW,
                recalls: 3,
                last_recalled_ms: Some(NOW - DAY),
                merged_from: vec!["a".into(), "older".into(), "b".into()],
                ..keep
            }
        );
    }

    #[test]
    fn the_cap_evicts_the_lowest_importance_times_recency_first_per_agent() {
        let mut ms = [
            mem("fresh-low", "", 0.2, NOW),               // 0.2
            mem("old-high", "", 0.9, NOW - 90 * DAY),     // 0.9 / 8 = 0.1125
            mem("fresh-high", "", 0.9, NOW),              // 0.9
            mem("mid", "", 0.5, NOW - 30 * DAY),          // 0.25
            mem("other-agent", "", 0.0, NOW - 900 * DAY), // another group, under its cap
        ];
        ms[4].agent = Some("a2".into());
        let refs: Vec<&Memory> = ms.iter().collect();
        assert_eq!(eviction(&refs, &rules(2), NOW), vec!["old-high", "fresh-low"]);
        assert_eq!(eviction(&refs, &rules(4), NOW), Vec::<String>::new());
    }

    #[test]
    fn a_recall_counts_as_activity_for_retention() {
        let mut recalled = mem("recalled", "", 0.5, NOW - 90 * DAY);
        recalled.last_recalled_ms = Some(NOW);
        let forgotten = mem("forgotten", "", 0.5, NOW - 90 * DAY);
        let refs = [&recalled, &forgotten];
        assert_eq!(eviction(&refs, &rules(1), NOW), vec!["forgotten"]);
    }

    #[test]
    fn explicit_rules_evict_only_memories_that_break_all_of_them() {
        let ms = [
            mem("old-weak", "", 0.1, NOW - 40 * DAY),
            mem("old-strong", "", 0.9, NOW - 40 * DAY),
            mem("new-weak", "", 0.1, NOW),
        ];
        let refs: Vec<&Memory> = ms.iter().collect();
        let both = EvictRules { older_than_days: Some(30.0), below_importance: Some(0.5), ..rules(100) };
        assert_eq!(eviction(&refs, &both, NOW), vec!["old-weak"]);
        let age = EvictRules { older_than_days: Some(30.0), ..rules(100) };
        assert_eq!(eviction(&refs, &age, NOW), vec!["old-weak", "old-strong"]);
        let weak = EvictRules { below_importance: Some(0.5), ..rules(100) };
        assert_eq!(eviction(&refs, &weak, NOW), vec!["old-weak", "new-weak"]);
    }
}
