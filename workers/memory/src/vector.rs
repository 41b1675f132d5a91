//! Embedding vectors: how they are stored in state, and the in-process matrix recall scans.
//!
//! Rules it keeps:
//! - In state a vector is the base64 of its little-endian `f32`s ([`encode`], [`decode`]):
//!   exact, and about 2 KB for 384 dimensions.
//! - In memory each vector is quantised to `i8` with one `f32` scale per row (`x ≈ q · scale`,
//!   `scale = max|x| / 127`). A scan then reads 384 bytes per memory instead of 1536, which is
//!   what keeps a brute-force scan of 100 000 memories within a few milliseconds (the scan is
//!   bound by memory bandwidth). For unit vectors the error of a dot product is about 10⁻³
//!   (measured in the unit tests and the benchmark), far below what ranking or the duplicate
//!   threshold can notice, so there is no rescoring pass.
//! - Vectors are L2-normalised, so cosine similarity is the dot product.
//! - All vectors of one matrix have the same dimension; one of another dimension is refused.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The stored form of a vector: base64 of its little-endian `f32`s.
pub fn encode(v: &[f32]) -> String {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    STANDARD.encode(bytes)
}

/// Reads a stored vector of `dims` dimensions; the error says what is wrong.
pub fn decode(text: &str, dims: usize) -> Result<Vec<f32>, String> {
    let bytes = STANDARD.decode(text).map_err(|e| format!("the vector is not base64: {e}"))?;
    if bytes.len() != dims * 4 {
        return Err(format!("the vector has {} bytes, {dims} dimensions need {}", bytes.len(), dims * 4));
    }
    let v: Vec<f32> = bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    if v.iter().any(|x| !x.is_finite()) {
        return Err("the vector holds a NaN or an infinity".to_string());
    }
    Ok(v)
}

/// `v` scaled to unit length; `None` for a zero or non-finite vector, which has no direction.
pub fn normalised(v: &[f32]) -> Option<Vec<f32>> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    (norm.is_finite() && norm > 0.0).then(|| v.iter().map(|x| x / norm).collect())
}

/// The exact dot product of two `f32` vectors.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// A vector quantised to `i8`: `x[i] ≈ data[i] · scale`.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantised {
    /// The quantised components.
    pub data: Vec<i8>,
    /// The factor back to the original scale.
    pub scale: f32,
}

/// Quantises `v` symmetrically with one scale for the whole vector.
pub fn quantise(v: &[f32]) -> Quantised {
    let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    if max == 0.0 || !max.is_finite() {
        return Quantised { data: vec![0; v.len()], scale: 0.0 };
    }
    let scale = max / 127.0;
    // In range by construction: |x / scale| <= 127.
    let data = v.iter().map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8).collect();
    Quantised { data, scale }
}

/// The integer dot product of two quantised rows. Sixteen independent accumulators of `i16`
/// products let the compiler vectorise it (measured 2× faster than a plain `zip().sum()`).
#[inline]
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    let mut acc = [0i32; 16];
    let (a_chunks, b_chunks) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: i32 =
        a_chunks.remainder().iter().zip(b_chunks.remainder()).map(|(&x, &y)| i32::from(x) * i32::from(y)).sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for i in 0..16 {
            acc[i] += i32::from(i16::from(x[i]) * i16::from(y[i]));
        }
    }
    acc.iter().sum::<i32>() + tail
}

/// A row and its score, ordered by score (then row) so a heap can keep the best.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// The score.
    pub score: f32,
    /// The row.
    pub row: u32,
}

impl Eq for Scored {}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scored {
    /// Reversed, so a `BinaryHeap<Scored>` is a min-heap whose top is the worst kept row.
    fn cmp(&self, other: &Self) -> Ordering {
        other.score.total_cmp(&self.score).then_with(|| self.row.cmp(&other.row))
    }
}

/// Keeps the `n` best of a stream of scored rows.
pub struct TopN {
    n: usize,
    heap: BinaryHeap<Scored>,
}

impl TopN {
    /// Keeps at most `n`.
    pub fn new(n: usize) -> Self {
        Self { n, heap: BinaryHeap::with_capacity(n + 1) }
    }

    /// Offers one row.
    #[inline]
    pub fn push(&mut self, row: u32, score: f32) {
        if self.heap.len() < self.n {
            self.heap.push(Scored { score, row });
        } else if let Some(worst) = self.heap.peek()
            && score > worst.score
        {
            self.heap.pop();
            self.heap.push(Scored { score, row });
        }
    }

    /// The kept rows, best first.
    pub fn into_sorted(self) -> Vec<Scored> {
        // The reversed order makes ascending-by-Ord mean best first.
        self.heap.into_sorted_vec()
    }
}

/// The in-process matrix of quantised unit vectors, one row per index slot. Rows without a
/// vector are skipped by scans.
#[derive(Debug, Default)]
pub struct Matrix {
    dims: usize,
    data: Vec<i8>,
    scales: Vec<f32>,
    present: Vec<bool>,
    count: usize,
}

impl Matrix {
    /// An empty matrix; the first vector set fixes its dimension.
    pub fn new() -> Self {
        Self::default()
    }

    /// The dimension of its vectors (0 before the first).
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// How many rows hold a vector.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Bytes of vector data held (for stats).
    pub fn bytes(&self) -> usize {
        self.data.len() + self.scales.len() * 4 + self.present.len()
    }

    /// Whether `row` holds a vector.
    pub fn has(&self, row: u32) -> bool {
        self.present.get(row as usize).copied().unwrap_or(false)
    }

    fn grow(&mut self, row: usize) {
        if row >= self.present.len() {
            let rows = (row + 1).max(self.present.len() * 2).max(16);
            self.data.resize(rows * self.dims, 0);
            self.scales.resize(rows, 0.0);
            self.present.resize(rows, false);
        }
    }

    /// Stores the unit vector `v` at `row`. `false` (nothing stored) when its dimension differs
    /// from the matrix's.
    pub fn set(&mut self, row: u32, v: &[f32]) -> bool {
        if self.dims == 0 {
            self.dims = v.len();
        }
        if v.len() != self.dims || v.is_empty() {
            return false;
        }
        let row = row as usize;
        self.grow(row);
        let q = quantise(v);
        self.data[row * self.dims..(row + 1) * self.dims].copy_from_slice(&q.data);
        self.scales[row] = q.scale;
        if !self.present[row] {
            self.present[row] = true;
            self.count += 1;
        }
        true
    }

    /// Removes the vector at `row`, if any.
    pub fn clear(&mut self, row: u32) {
        let row = row as usize;
        if self.present.get(row).copied().unwrap_or(false) {
            self.present[row] = false;
            self.scales[row] = 0.0;
            self.count -= 1;
        }
    }

    /// Gives back the capacity grown beyond the rows in use (after a bulk load).
    pub fn shrink(&mut self) {
        let rows = self.present.iter().rposition(|&p| p).map_or(0, |r| r + 1);
        self.data.truncate(rows * self.dims);
        self.scales.truncate(rows);
        self.present.truncate(rows);
        self.data.shrink_to_fit();
        self.scales.shrink_to_fit();
        self.present.shrink_to_fit();
    }

    /// Removes every vector and forgets the dimension (used when the embedding model changes).
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// The approximate cosine of rows `a` and `b`; `None` when either has no vector.
    pub fn similarity(&self, a: u32, b: u32) -> Option<f32> {
        if !(self.has(a) && self.has(b)) {
            return None;
        }
        let (a, b) = (a as usize, b as usize);
        let d = self.dims;
        let raw = dot_i8(&self.data[a * d..(a + 1) * d], &self.data[b * d..(b + 1) * d]);
        Some(raw as f32 * self.scales[a] * self.scales[b])
    }

    /// The query prepared for scans; `None` when its dimension does not match.
    pub fn query(&self, v: &[f32]) -> Option<Quantised> {
        (v.len() == self.dims && self.dims > 0).then(|| quantise(v))
    }

    /// The approximate cosine of `row` with a prepared query; `None` when the row is empty.
    pub fn score(&self, q: &Quantised, row: u32) -> Option<f32> {
        if !self.has(row) {
            return None;
        }
        let r = row as usize;
        let raw = dot_i8(&self.data[r * self.dims..(r + 1) * self.dims], &q.data);
        Some(raw as f32 * self.scales[r] * q.scale)
    }

    /// The `n` rows most similar to `q` among those `keep` accepts, best first.
    pub fn top(&self, q: &Quantised, n: usize, keep: impl Fn(u32) -> bool) -> Vec<Scored> {
        let mut top = TopN::new(n);
        if n == 0 || self.dims == 0 || q.data.len() != self.dims {
            return Vec::new();
        }
        for (r, row) in self.data.chunks_exact(self.dims).enumerate() {
            if !self.present[r] {
                continue;
            }
            let r32 = r as u32;
            if !keep(r32) {
                continue;
            }
            let score = dot_i8(row, &q.data) as f32 * self.scales[r] * q.scale;
            top.push(r32, score);
        }
        top.into_sorted()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    /// A deterministic pseudo-random unit vector (xorshift), for tests only.
    pub fn unit(seed: u64, dims: usize) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let v: Vec<f32> = (0..dims)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect();
        normalised(&v).unwrap()
    }

    #[test]
    fn a_vector_survives_the_stored_form_exactly() {
        let v = unit(7, 384);
        assert_eq!(decode(&encode(&v), 384).unwrap(), v);
        assert_eq!(encode(&v).len(), 2048);
    }

    #[test]
    fn a_stored_vector_of_the_wrong_size_or_alphabet_is_refused() {
        let v = unit(7, 8);
        assert_eq!(decode(&encode(&v), 9).unwrap_err(), "the vector has 32 bytes, 9 dimensions need 36");
        assert!(decode("not base64!", 8).unwrap_err().starts_with("the vector is not base64"));
        assert_eq!(decode(&encode(&[f32::NAN]), 1).unwrap_err(), "the vector holds a NaN or an infinity");
    }

    #[test]
    fn the_quantised_dot_product_is_within_a_thousandth_of_the_exact_one() {
        let mut worst = 0f32;
        for i in 0..200 {
            let (a, b) = (unit(i, 384), unit(i + 1000, 384));
            let (qa, qb) = (quantise(&a), quantise(&b));
            let approx = dot_i8(&qa.data, &qb.data) as f32 * qa.scale * qb.scale;
            worst = worst.max((approx - dot(&a, &b)).abs());
        }
        assert!(worst < 2e-3, "worst error {worst}");
    }

    #[test]
    fn the_integer_dot_product_matches_a_plain_loop_for_any_length() {
        for len in [0, 1, 15, 16, 17, 384, 385] {
            let a: Vec<i8> = (0..len).map(|i| ((i * 37) % 255) as i8).collect();
            let b: Vec<i8> = (0..len).map(|i| ((i * 91 + 3) % 255) as i8).collect();
            let plain: i32 = a.iter().zip(&b).map(|(&x, &y)| i32::from(x) * i32::from(y)).sum();
            assert_eq!(dot_i8(&a, &b), plain, "len {len}");
        }
    }

    #[test]
    fn normalising_makes_unit_length_and_refuses_zero() {
        let n = normalised(&[3.0, 4.0]).unwrap();
        assert_eq!(n, vec![0.6, 0.8]);
        assert_eq!(normalised(&[0.0, 0.0]), None);
    }

    #[test]
    fn a_scan_returns_the_best_rows_first_and_skips_filtered_and_empty_rows() {
        let mut m = Matrix::new();
        let q = unit(1, 64);
        // Row r is a mix of the query and noise, less of the query as r grows.
        for r in 0..10u32 {
            let noise = unit(100 + u64::from(r), 64);
            let w = 1.0 - r as f32 * 0.1;
            let v: Vec<f32> = q.iter().zip(&noise).map(|(a, b)| w * a + (1.0 - w) * b).collect();
            assert!(m.set(r, &normalised(&v).unwrap()));
        }
        m.clear(1);
        let prepared = m.query(&q).unwrap();
        let rows: Vec<u32> = m.top(&prepared, 3, |r| r != 2).iter().map(|s| s.row).collect();
        assert_eq!(rows, vec![0, 3, 4]);
        assert_eq!(m.count(), 9);
        assert!(m.score(&prepared, 1).is_none());
    }

    #[test]
    fn a_vector_of_another_dimension_is_refused() {
        let mut m = Matrix::new();
        assert!(m.set(0, &unit(1, 8)));
        assert!(!m.set(1, &unit(1, 9)));
        assert_eq!(m.count(), 1);
        assert!(m.query(&unit(1, 9)).is_none());
        m.reset();
        assert!(m.set(5, &unit(1, 9)));
        assert_eq!((m.dims(), m.count()), (9, 1));
    }

    #[test]
    fn top_n_keeps_the_best_in_order() {
        let mut top = TopN::new(3);
        for (row, score) in [(0, 0.1), (1, 0.9), (2, 0.5), (3, 0.7), (4, 0.2)] {
            top.push(row, score);
        }
        let kept: Vec<(u32, f32)> = top.into_sorted().iter().map(|s| (s.row, s.score)).collect();
        assert_eq!(kept, vec![(1, 0.9), (3, 0.7), (2, 0.5)]);
    }
}
