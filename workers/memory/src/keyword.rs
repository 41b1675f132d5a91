//! The keyword side of recall: BM25 over an in-memory inverted index, one per realm.
//!
//! The scoring is SQLite FTS5's `bm25()` exactly (k1 = 1.2, b = 0.75, IDF
//! `ln((N − n + ½) / (n + ½))` floored at 10⁻⁶), computed term at a time into one score per row.
//! Why not FTS5 itself: it was the first implementation, and at 100 000 memories its
//! `ORDER BY rank LIMIT k` took p50 ≈ 10 ms and p99 ≈ 100 ms, because it computes `bm25()` for
//! every row that matches any query term, reading each row's position lists to do it; recall's
//! target is p99 < 20 ms. Summing postings in Rust does the same arithmetic in well under a
//! millisecond (docs/benchmarks.md, "Memory recall"). tantivy would be fast too, but its
//! segment model makes every store a commit and a reader reload, for an index that is rebuilt
//! from state anyway.
//!
//! Rules it keeps:
//! - Rows hold the terms of [`crate::text::terms`]; queries go through the same function.
//! - Filters (agent, tags) are applied by the caller's `keep` to the rows a query matched,
//!   before the best are chosen, so a filter never empties a result that has matches.
//! - A query term that no memory holds is left out, and so is one that more than half the
//!   memories hold (from 16 memories up): its IDF is the 10⁻⁶ floor, so it cannot change the
//!   ranking, while summing its postings would be most of the work.
//! - Scores are positive, with the sum of the searched terms' IDFs, which [`crate::rank`]
//!   divides by.

use std::collections::HashMap;

use crate::vector::TopN;

/// BM25's term-frequency saturation (FTS5's value).
const K1: f64 = 1.2;

/// BM25's length normalisation (FTS5's value).
const B: f64 = 0.75;

/// From how many memories on common terms are pruned (see the module rules): below it, every
/// term counts, so tiny realms behave exactly like plain BM25.
const PRUNE_FROM: u32 = 16;

/// What a keyword search found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hits {
    /// Rows and their BM25 scores, best first.
    pub rows: Vec<(u32, f64)>,
    /// The sum of the IDFs of the terms searched for: the BM25 of a memory of average length
    /// holding each of them once.
    pub idf_sum: f64,
}

/// One term's postings: the rows holding it and how often.
#[derive(Debug, Default)]
struct Postings {
    rows: Vec<u32>,
    tfs: Vec<u16>,
}

/// The BM25 index of one realm.
#[derive(Debug, Default)]
pub struct Keyword {
    postings: HashMap<String, Postings>,
    lengths: Vec<u32>,
    present: Vec<bool>,
    total_length: u64,
    docs: u32,
}

impl Keyword {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many rows are indexed.
    pub fn len(&self) -> u32 {
        self.docs
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.docs == 0
    }

    /// How many rows hold `term`.
    pub fn df(&self, term: &str) -> u32 {
        self.postings.get(term).map_or(0, |p| u32::try_from(p.rows.len()).unwrap_or(u32::MAX))
    }

    /// Indexes `terms` as row `row`, which must not be indexed (remove it first: only the
    /// caller knows the terms it held).
    pub fn insert(&mut self, row: u32, terms: &[String]) {
        let r = row as usize;
        if self.present.get(r).copied().unwrap_or(false) {
            tracing::error!(row, "keyword row inserted twice; the old postings stay until the index is rebuilt");
            return;
        }
        if r >= self.lengths.len() {
            self.lengths.resize(r + 1, 0);
            self.present.resize(r + 1, false);
        }
        let mut counts: HashMap<&str, u16> = HashMap::new();
        for t in terms {
            let c = counts.entry(t.as_str()).or_insert(0);
            *c = c.saturating_add(1);
        }
        for (term, tf) in counts {
            let p = self.postings.entry(term.to_string()).or_default();
            p.rows.push(row);
            p.tfs.push(tf);
        }
        let length = u32::try_from(terms.len()).unwrap_or(u32::MAX);
        self.lengths[r] = length;
        self.present[r] = true;
        self.total_length += u64::from(length);
        self.docs += 1;
    }

    /// Removes row `row`, whose indexed terms were `terms`; nothing when it is not indexed.
    pub fn remove(&mut self, row: u32, terms: &[String]) {
        let r = row as usize;
        if !self.present.get(r).copied().unwrap_or(false) {
            return;
        }
        let mut distinct: Vec<&String> = terms.iter().collect();
        distinct.sort_unstable();
        distinct.dedup();
        for term in distinct {
            let Some(p) = self.postings.get_mut(term.as_str()) else { continue };
            if let Some(i) = p.rows.iter().position(|&x| x == row) {
                p.rows.swap_remove(i);
                p.tfs.swap_remove(i);
            }
            if p.rows.is_empty() {
                self.postings.remove(term.as_str());
            }
        }
        self.total_length -= u64::from(self.lengths[r]);
        self.lengths[r] = 0;
        self.present[r] = false;
        self.docs -= 1;
    }

    /// The query terms worth searching for (see the module rules), deduplicated.
    pub fn useful_terms<'t>(&self, terms: &'t [String]) -> Vec<&'t str> {
        let mut out: Vec<&str> = Vec::new();
        for t in terms {
            let df = self.df(t);
            let common = self.docs >= PRUNE_FROM && df * 2 > self.docs;
            if df > 0 && !common && !out.contains(&t.as_str()) {
                out.push(t);
            }
        }
        out
    }

    /// FTS5's IDF of a term held by `df` of the indexed rows: `ln((N − df + ½) / (df + ½))`,
    /// at least 10⁻⁶.
    pub fn idf(&self, df: u32) -> f64 {
        let (n, df) = (f64::from(self.docs), f64::from(df));
        ((n - df + 0.5) / (df + 0.5)).ln().max(1e-6)
    }

    /// The best `limit` rows for `terms` among those `keep` accepts, best first.
    pub fn search(&self, terms: &[String], keep: impl Fn(u32) -> bool, limit: usize) -> Hits {
        let useful = self.useful_terms(terms);
        if useful.is_empty() || limit == 0 {
            return Hits::default();
        }
        let average = self.total_length as f64 / f64::from(self.docs.max(1));
        let mut scores = vec![0f32; self.lengths.len()];
        let mut touched: Vec<u32> = Vec::new();
        let mut idf_sum = 0.0;
        for term in useful {
            let Some(p) = self.postings.get(term) else { continue };
            let idf = self.idf(u32::try_from(p.rows.len()).unwrap_or(u32::MAX));
            idf_sum += idf;
            for (&row, &tf) in p.rows.iter().zip(&p.tfs) {
                let tf = f64::from(tf);
                let norm = K1 * (1.0 - B + B * f64::from(self.lengths[row as usize]) / average);
                let s = &mut scores[row as usize];
                if *s == 0.0 {
                    touched.push(row);
                }
                *s += (idf * tf * (K1 + 1.0) / (tf + norm)) as f32;
            }
        }
        let mut top = TopN::new(limit);
        for row in touched {
            if keep(row) {
                top.push(row, scores[row as usize]);
            }
        }
        Hits { rows: top.into_sorted().into_iter().map(|s| (s.row, f64::from(s.score))).collect(), idf_sum }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::terms;
    use pretty_assertions::assert_eq;

    fn index(docs: &[&str]) -> Keyword {
        let mut k = Keyword::new();
        for (row, text) in docs.iter().enumerate() {
            k.insert(row as u32, &terms(text));
        }
        k
    }

    fn rows(k: &Keyword, query: &str, keep: impl Fn(u32) -> bool) -> Vec<u32> {
        k.search(&terms(query), keep, 10).rows.into_iter().map(|(r, _)| r).collect()
    }

    #[test]
    fn a_rare_identifier_ranks_its_memory_first() {
        let k = index(&[
            "Deploy failed with ERR_QUOTA_7730 in eu-west",
            "Quota errors happen when the storage quota is exceeded",
            "Deploy failed with ERR_QUOTA_7731 in eu-west",
        ]);
        let found = k.search(&terms("ERR_QUOTA_7731"), |_| true, 10);
        assert_eq!(found.rows[0].0, 2);
        assert!(found.rows[0].1 > 2.0 * found.rows[1].1 && found.rows[1].1 > 0.0, "{found:?}");
    }

    #[test]
    fn the_score_is_fts5s_bm25() {
        // FTS5's bm25() (sqlite ext/fts5/fts5_aux.c) written out for these rows.
        let k = index(&["alpha beta beta", "alpha gamma", "delta epsilon zeta eta", "theta", "iota"]);
        let found = k.search(&terms("beta alpha"), |_| true, 10);
        let n = 5.0f64;
        let avg = 11.0 / 5.0;
        let idf = |df: f64| ((n - df + 0.5) / (df + 0.5)).ln();
        let part = |tf: f64, len: f64| tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len / avg));
        let row0 = idf(1.0) * part(2.0, 3.0) + idf(2.0) * part(1.0, 3.0);
        let row1 = idf(2.0) * part(1.0, 2.0);
        assert_eq!(found.rows.iter().map(|(r, _)| *r).collect::<Vec<_>>(), vec![0, 1]);
        assert!((found.rows[0].1 - row0).abs() < 1e-5, "{found:?} vs {row0}");
        assert!((found.rows[1].1 - row1).abs() < 1e-5, "{found:?} vs {row1}");
        assert!((found.idf_sum - (idf(1.0) + idf(2.0))).abs() < 1e-12);
    }

    #[test]
    fn a_memory_of_average_length_holding_every_term_once_scores_the_idf_sum() {
        let k = index(&["alpha beta", "gamma delta", "epsilon zeta"]);
        let hits = k.search(&terms("alpha beta"), |_| true, 10);
        assert_eq!(hits.rows.len(), 1);
        assert!((hits.rows[0].1 - hits.idf_sum).abs() < 1e-5, "{hits:?}");
        assert!((hits.idf_sum - 2.0 * (2.5f64 / 1.5).ln()).abs() < 1e-9, "{hits:?}");
    }

    #[test]
    fn the_filter_applies_before_the_best_are_chosen() {
        let k = index(&["tabs tabs tabs", "tabs in makefiles", "tabs for agent two"]);
        assert_eq!(rows(&k, "tabs", |_| true).len(), 3);
        assert_eq!(k.search(&terms("tabs"), |r| r == 2, 1).rows.iter().map(|(r, _)| *r).collect::<Vec<_>>(), vec![2]);
        assert_eq!(rows(&k, "tabs", |_| false), Vec::<u32>::new());
    }

    #[test]
    fn removed_and_replaced_rows_are_not_found_and_unknown_terms_find_nothing() {
        let mut k = index(&["alpha beta", "beta gamma"]);
        k.remove(0, &terms("alpha beta"));
        assert_eq!(rows(&k, "alpha", |_| true), Vec::<u32>::new());
        assert_eq!(rows(&k, "beta", |_| true), vec![1]);
        assert_eq!(rows(&k, "zeta", |_| true), Vec::<u32>::new());
        assert_eq!((k.len(), k.df("alpha"), k.df("beta")), (1, 0, 1));
        // Removing twice does not count twice.
        k.remove(0, &terms("alpha beta"));
        assert_eq!(k.len(), 1);
        // A row is replaced by removing it and inserting it again.
        k.remove(1, &terms("beta gamma"));
        k.insert(1, &terms("delta"));
        assert_eq!((k.len(), k.df("beta"), k.df("delta")), (1, 0, 1));
    }

    #[test]
    fn terms_most_memories_hold_are_pruned_from_large_indexes_only() {
        let mut k = Keyword::new();
        for row in 0..20u32 {
            let text = if row < 15 { format!("common word {row}") } else { format!("rare thing {row}") };
            k.insert(row, &terms(&text));
        }
        let query = terms("common rare");
        assert_eq!(k.useful_terms(&query), vec!["rare"]);
        let small = index(&["common", "common", "rare"]);
        assert_eq!(small.useful_terms(&query), vec!["common", "rare"]);
    }
}
