//! The fusion formula: one ranking from BM25, cosine similarity, recency and importance.
//!
//! For each candidate (a memory in the keyword list or the vector list of a recall):
//!
//! ```text
//! keyword   = min(1, bm25 / Σ idf(t) over the query's searched terms)     (0 when no term matched)
//! semantic  = max(cosine, 0)                                              (0 when not embedded)
//! relevance = 1 − (1 − keyword)·(1 − semantic)    with embeddings
//!           = keyword                              without them
//! recency   = 0.5^(days since updated_ms / half-life)                    (half-life 30 days by default)
//! score     = 0.8·relevance + 0.1·importance + 0.1·recency
//! ```
//!
//! `keyword` is the share of the query's information a memory matches: BM25 (FTS5's formula) of a term
//! that occurs once in a memory of average length is exactly its IDF, so a memory holding every
//! searched term once scores about 1, one holding only the commonest term a small fraction,
//! and one holding the rare identifier of the query most of it. Dividing by the query's own
//! maximum (rather than by the best candidate) keeps "the best of a bad lot" from looking like a
//! perfect match. `semantic` is the cosine itself, already on a fixed scale (MiniLM: ≈ 0.55 for a
//! paraphrase, ≈ 0 for unrelated text). The two are combined like independent evidence
//! (probabilistic OR): either alone counts in full, and both together count more than either.
//!
//! Why not reciprocal rank fusion: RRF keeps only ranks, so the best of a list of unrelated
//! memories scores like a perfect match, and with the usual k = 60 the gap between rank 1 and
//! rank 2 is about 1 %, which any recency or importance term overturns. Here recency and
//! importance (together at most 0.2) only order memories that are about equally relevant: a
//! paraphrase at cosine 0.55 leads unrelated text by 0.8 × 0.47 ≈ 0.38.
//!
//! Rules it keeps:
//! - A candidate with no positive relevance (no keyword match, cosine ≤ 0) is dropped.
//! - Ties break on the newer memory, then on the id, so a ranking is deterministic.

use crate::Scores;

/// The weights of the formula.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    /// Weight of relevance in the score.
    pub relevance: f64,
    /// Weight of importance.
    pub importance: f64,
    /// Weight of recency.
    pub recency: f64,
    /// Days after which recency halves.
    pub half_life_days: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Self { relevance: 0.8, importance: 0.1, recency: 0.1, half_life_days: 30.0 }
    }
}

/// One memory found by either list.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The memory's id.
    pub id: String,
    /// Its BM25 score (0 when the keyword list did not find it).
    pub bm25: f64,
    /// Its BM25 as a share of the query's total IDF, 0 to 1 (see the module docs).
    pub keyword: f64,
    /// Its cosine with the query (`None` when not computed).
    pub cosine: Option<f64>,
    /// Its importance.
    pub importance: f64,
    /// When it was last updated.
    pub updated_ms: u64,
    /// When it was created.
    pub created_ms: u64,
}

/// A candidate with its fused score.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    /// The memory's id.
    pub id: String,
    /// The fused score.
    pub score: f64,
    /// Its parts.
    pub scores: Scores,
}

/// Milliseconds in a day.
const DAY_MS: f64 = 86_400_000.0;

/// `0.5^(age / half-life)`: 1 for a memory updated now, ½ after one half-life. A timestamp in
/// the future counts as now.
pub fn recency(updated_ms: u64, now_ms: u64, half_life_days: f64) -> f64 {
    let age_days = now_ms.saturating_sub(updated_ms) as f64 / DAY_MS;
    if half_life_days <= 0.0 {
        return if age_days == 0.0 { 1.0 } else { 0.0 };
    }
    0.5f64.powf(age_days / half_life_days)
}

/// Fuses `candidates` into the best `k`, best first (see the module docs for the formula).
pub fn fuse(candidates: Vec<Candidate>, semantic: bool, now_ms: u64, w: &Weights, k: usize) -> Vec<Ranked> {
    let mut ranked: Vec<(Ranked, u64)> = candidates
        .into_iter()
        .filter_map(|c| {
            let keyword = c.keyword.clamp(0.0, 1.0);
            let relevance = if semantic {
                let sem = c.cosine.unwrap_or(0.0).clamp(0.0, 1.0);
                1.0 - (1.0 - keyword) * (1.0 - sem)
            } else {
                keyword
            };
            if relevance <= 0.0 {
                return None;
            }
            let rec = recency(c.updated_ms, now_ms, w.half_life_days);
            let score = w.relevance * relevance + w.importance * c.importance + w.recency * rec;
            let scores = Scores { bm25: c.bm25, cosine: c.cosine, recency: rec, importance: c.importance };
            Some((Ranked { id: c.id, score, scores }, c.created_ms))
        })
        .collect();
    ranked.sort_by(|(a, a_created), (b, b_created)| {
        b.score.total_cmp(&a.score).then(b_created.cmp(a_created)).then_with(|| a.id.cmp(&b.id))
    });
    ranked.truncate(k);
    ranked.into_iter().map(|(r, _)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    const NOW: u64 = 1_000 * 86_400_000;

    /// A candidate whose BM25 is `keyword` of a query IDF of 10.
    fn cand(id: &str, keyword: f64, cosine: Option<f64>) -> Candidate {
        Candidate {
            id: id.into(),
            bm25: keyword * 10.0,
            keyword,
            cosine,
            importance: 0.5,
            updated_ms: NOW,
            created_ms: NOW,
        }
    }

    fn ids(r: &[Ranked]) -> Vec<&str> {
        r.iter().map(|r| r.id.as_str()).collect()
    }

    #[test]
    fn recency_halves_every_half_life_and_a_future_time_counts_as_now() {
        assert_eq!(recency(NOW, NOW, 30.0), 1.0);
        assert!((recency(NOW - 30 * 86_400_000, NOW, 30.0) - 0.5).abs() < 1e-12);
        assert!((recency(NOW - 60 * 86_400_000, NOW, 30.0) - 0.25).abs() < 1e-12);
        assert_eq!(recency(NOW + 5, NOW, 30.0), 1.0);
    }

    #[test]
    fn the_score_is_the_documented_formula() {
        let mut c = cand("m", 0.4, Some(0.6));
        c.importance = 0.9;
        c.updated_ms = NOW - 30 * 86_400_000;
        let r = fuse(vec![c], true, NOW, &Weights::default(), 5);
        let expected = 0.8 * (1.0 - 0.6 * 0.4) + 0.1 * 0.9 + 0.1 * 0.5;
        assert!((r[0].score - expected).abs() < 1e-9, "{} vs {expected}", r[0].score);
        assert_eq!(r[0].scores, Scores { bm25: 4.0, cosine: Some(0.6), recency: 0.5, importance: 0.9 });
    }

    #[test]
    fn a_strong_paraphrase_beats_unrelated_memories_whatever_their_importance_and_age() {
        // Cosines as MiniLM gives them: a paraphrase ≈ 0.55, unrelated text ≈ 0.
        let mut cat = cand("cat", 0.0, Some(0.55));
        cat.importance = 0.0;
        cat.updated_ms = NOW - 365 * 86_400_000;
        let mut noise: Vec<Candidate> = (0..10).map(|i| cand(&format!("n{i}"), 0.0, Some(0.08))).collect();
        for n in &mut noise {
            n.importance = 1.0;
        }
        noise.push(cat);
        let r = fuse(noise, true, NOW, &Weights::default(), 3);
        assert_eq!(r[0].id, "cat");
    }

    #[test]
    fn an_exact_keyword_match_beats_a_closer_embedding() {
        let r = fuse(
            vec![
                cand("exact", 0.95, Some(0.40)),
                cand("neighbour", 0.3, Some(0.70)),
                cand("semantic", 0.0, Some(0.75)),
            ],
            true,
            NOW,
            &Weights::default(),
            5,
        );
        assert_eq!(ids(&r), vec!["exact", "neighbour", "semantic"]);
    }

    #[test]
    fn keyword_and_semantic_evidence_add_up() {
        let r = fuse(
            vec![cand("both", 0.5, Some(0.5)), cand("keyword", 0.6, Some(0.0)), cand("semantic", 0.0, Some(0.6))],
            true,
            NOW,
            &Weights::default(),
            5,
        );
        assert_eq!(r[0].id, "both");
    }

    #[test]
    fn without_embeddings_only_keyword_matches_are_returned() {
        let r = fuse(
            vec![cand("kw", 0.2, None), cand("none", 0.0, None), cand("vec-only", 0.0, Some(0.9))],
            false,
            NOW,
            &Weights::default(),
            5,
        );
        assert_eq!(ids(&r), vec!["kw"]);
        assert!((r[0].score - (0.8 * 0.2 + 0.05 + 0.1)).abs() < 1e-9);
    }

    #[test]
    fn negative_cosines_count_as_no_relevance() {
        let r = fuse(vec![cand("away", 0.0, Some(-0.3))], true, NOW, &Weights::default(), 5);
        assert!(r.is_empty());
    }

    #[test]
    fn among_equally_relevant_memories_importance_and_recency_decide() {
        let mut important = cand("important", 0.5, None);
        important.importance = 0.9;
        let recent = cand("recent", 0.5, None);
        let mut old = cand("old", 0.5, None);
        old.updated_ms = NOW - 90 * 86_400_000;
        let r = fuse(vec![old, recent, important], false, NOW, &Weights::default(), 5);
        assert_eq!(ids(&r), vec!["important", "recent", "old"]);
    }

    #[test]
    fn ties_break_on_the_newer_memory_then_the_id_and_k_cuts() {
        let mut a = cand("a", 0.5, None);
        let mut b = cand("b", 0.5, None);
        let c = cand("c", 0.5, None);
        a.created_ms = NOW - 10;
        b.created_ms = NOW - 10;
        let r = fuse(vec![a, b, c], false, NOW, &Weights::default(), 2);
        assert_eq!(ids(&r), vec!["c", "a"]);
    }
}
