//! `memory::recall` latency over 10 000 and 100 000 memories, in process.
//!
//! Run: `cargo bench -p agentos-worker-memory --bench recall` (optionally `-- 10000 100000` for
//! the sizes). What it measures is the work a recall does once its query is embedded: the
//! BM25 search over the in-process inverted index, the quantised vector scan, the fusion and the answer's records, exactly
//! the code `memory::recall` runs on its blocking thread. The bus hop and the query's embedding
//! (one sentence through MiniLM) come on top and are measured elsewhere (docs/benchmarks.md).
//!
//! The corpus is synthetic and deterministic: sentences of 6 to 30 words drawn with a Zipf
//! distribution from 240 common English words and 3 000 made-up ones (so term frequencies have
//! the long tail of real text), a tenth of them with an identifier such as `ERR_QUOTA_1234` or
//! `src/mod_17.rs`, spread over 20 agents and 30 tags. Vectors are random unit vectors of 384
//! dimensions, not real embeddings: embedding 100 000 sentences would take over an hour on this
//! machine, and a brute-force scan costs the same whatever the vectors hold. Each query takes
//! 2 to 5 words of one memory and that memory's vector plus noise, so both lists find it.
//!
//! It also checks the quantisation: for 200 queries, how much of the exact (f32) top 10 of the
//! vector scan the quantised (i8) scan returns.

use std::time::{Duration, Instant};

use agentos_worker_memory::index::{RealmIndex, Search};
use agentos_worker_memory::rank::{Weights, fuse};
use agentos_worker_memory::text::terms;
use agentos_worker_memory::{Memory, vector};

/// Dimensions of the vectors (all-MiniLM-L6-v2).
const DIMS: usize = 384;

/// Queries timed per run.
const QUERIES: usize = 2_000;

/// Common English words, the head of the Zipf distribution.
const COMMON: &str = "the user prefers tabs over spaces and wants short answers project uses rust with tokio for async \
    code build runs on linux in docker containers deploy happens every friday after review tests must pass before merge \
    database is postgres with a read replica cache sits in front api returns json errors carry codes logs go to files \
    team meets monday morning standup notes live in the wiki release branch is cut weekly hotfix goes straight to main \
    customer asked about pricing invoice was sent late support ticket mentions timeout when uploading large files \
    the cat slept on the warm mat while rain fell outside coffee machine broke again lunch order arrives at noon \
    meeting moved to thursday because of the holiday travel budget needs approval from finance laptop battery drains \
    fast remember to rotate keys monthly backup job failed last night disk almost full memory leak in worker process \
    latency spikes during peak hours benchmark shows regression after upgrade config file lives in home directory";

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn unit_f32(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// A standard normal sample (Box–Muller).
    fn normal(&mut self) -> f32 {
        let u1 = self.unit_f32().max(1e-7);
        let u2 = self.unit_f32();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
    }

    fn unit_vector(&mut self) -> Vec<f32> {
        let v: Vec<f32> = (0..DIMS).map(|_| self.normal()).collect();
        vector::normalised(&v).unwrap_or_else(|| vec![1.0; DIMS])
    }
}

/// The vocabulary, most frequent first.
fn vocabulary(rng: &mut Rng) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for w in COMMON.split_whitespace() {
        if !words.iter().any(|x| x == w) {
            words.push(w.to_string());
        }
    }
    const SYLLABLES: &[&str] =
        &["ka", "lo", "mi", "ren", "tor", "vi", "sa", "pel", "dun", "qua", "zer", "nox", "bri", "tam", "ul", "fex"];
    while words.len() < 3_240 {
        let n = 2 + rng.below(3);
        let w: String = (0..n).map(|_| SYLLABLES[rng.below(SYLLABLES.len())]).collect();
        if !words.contains(&w) {
            words.push(w);
        }
    }
    words
}

/// Cumulative Zipf weights (s = 1) over `n` ranks.
fn zipf(n: usize) -> Vec<f64> {
    let mut acc = 0.0;
    (1..=n)
        .map(|r| {
            acc += 1.0 / r as f64;
            acc
        })
        .collect()
}

fn pick(rng: &mut Rng, cumulative: &[f64]) -> usize {
    let total = cumulative.last().copied().unwrap_or(1.0);
    let x = rng.unit_f32() as f64 * total;
    cumulative.partition_point(|&c| c < x).min(cumulative.len() - 1)
}

fn sentence(rng: &mut Rng, words: &[String], cumulative: &[f64]) -> String {
    let n = 6 + rng.below(25);
    let mut out: Vec<String> = (0..n).map(|_| words[pick(rng, cumulative)].clone()).collect();
    if rng.below(10) == 0 {
        let id = match rng.below(3) {
            0 => format!("ERR_{}_{}", ["QUOTA", "AUTH", "DISK", "NET"][rng.below(4)], rng.below(10_000)),
            1 => format!("src/mod_{}.rs", rng.below(500)),
            _ => format!("ticket-{}", rng.below(100_000)),
        };
        let at = rng.below(out.len());
        out.insert(at, id);
    }
    out.join(" ")
}

/// The corpus: memories and their vectors.
fn corpus(n: usize, rng: &mut Rng) -> Vec<(Memory, Vec<f32>)> {
    let words = vocabulary(rng);
    let cumulative = zipf(words.len());
    let now = 1_750_000_000_000u64;
    (0..n)
        .map(|i| {
            let agent = rng.below(21);
            let tags: Vec<String> = (0..rng.below(3)).map(|_| format!("tag{}", rng.below(30))).collect();
            let created = now - (rng.below(365 * 24) as u64) * 3_600_000;
            let memory = Memory {
                id: format!("mem-{i:016x}"),
                text: sentence(rng, &words, &cumulative),
                realm: "bench".into(),
                agent: (agent > 0).then(|| format!("agent-{agent}")),
                tags,
                importance: rng.below(101) as f64 / 100.0,
                created_ms: created,
                updated_ms: created,
                last_recalled_ms: None,
                recalls: 0,
                merged_from: vec![],
                embedded: true,
            };
            (memory, rng.unit_vector())
        })
        .collect()
}

/// One query: some words of a memory and its vector plus noise.
struct Query {
    text: String,
    vector: Vec<f32>,
    agent: Option<String>,
}

fn queries(corpus: &[(Memory, Vec<f32>)], rng: &mut Rng, n: usize) -> Vec<Query> {
    (0..n)
        .map(|i| {
            let (m, v) = &corpus[rng.below(corpus.len())];
            let words: Vec<&str> = m.text.split_whitespace().collect();
            let take = 2 + rng.below(4);
            let text: Vec<&str> = (0..take).map(|_| words[rng.below(words.len())]).collect();
            let noise = rng.unit_vector();
            let mixed: Vec<f32> = v.iter().zip(&noise).map(|(a, b)| a + 0.8 * b).collect();
            // Every fourth query is filtered to the agent of the memory it was drawn from.
            let agent = if i % 4 == 0 { m.agent.clone() } else { None };
            Query { text: text.join(" "), vector: vector::normalised(&mixed).unwrap_or_else(|| v.clone()), agent }
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn run(n: usize) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ n as u64);
    let data = corpus(n, &mut rng);
    let qs = queries(&data, &mut rng, QUERIES);

    let started = Instant::now();
    let mut index = RealmIndex::new("bench").unwrap_or_else(|e| panic!("{e}"));
    let items = data.iter().map(|(m, v)| (m.clone(), Some(("bench-random".to_string(), v.clone())))).collect();
    index.load(items).unwrap_or_else(|e| panic!("{e}"));
    let built = started.elapsed();

    let weights = Weights::default();
    let now = 1_750_000_000_000u64;
    let mut times_hybrid = Vec::with_capacity(QUERIES);
    let mut times_keyword = Vec::with_capacity(QUERIES);
    let mut found_source = 0usize;
    for (round, q) in qs.iter().enumerate() {
        for semantic in [true, false] {
            let t = terms(&q.text);
            let search = Search {
                terms: &t,
                vector: semantic.then_some(q.vector.as_slice()),
                model: Some("bench-random"),
                agent: q.agent.as_deref(),
                tags: &[],
                k: 5,
            };
            let start = Instant::now();
            let found = index.search(&search).unwrap_or_else(|e| panic!("{e}"));
            let ranked = fuse(found.candidates, found.semantic, now, &weights, 5);
            let answer: Vec<(String, String)> =
                ranked.iter().filter_map(|r| index.get(&r.id).map(|m| (r.id.clone(), m.text.clone()))).collect();
            let took = start.elapsed();
            std::hint::black_box(&answer);
            if semantic {
                times_hybrid.push(took);
                found_source += usize::from(!answer.is_empty());
            } else {
                times_keyword.push(took);
            }
            let _ = round;
        }
    }
    times_hybrid.sort_unstable();
    times_keyword.sort_unstable();

    // Quantisation check: exact f32 top 10 against the index's quantised scan.
    let sample = 200.min(qs.len());
    let mut overlap = 0usize;
    for q in &qs[..sample] {
        let mut exact: Vec<(f32, usize)> =
            data.iter().enumerate().map(|(i, (_, v))| (vector::dot(v, &q.vector), i)).collect();
        exact.sort_by(|a, b| b.0.total_cmp(&a.0));
        let exact_ids: Vec<&str> = exact[..10].iter().map(|(_, i)| data[*i].0.id.as_str()).collect();
        let t: Vec<String> = Vec::new();
        let search =
            Search { terms: &t, vector: Some(&q.vector), model: Some("bench-random"), agent: None, tags: &[], k: 10 };
        let found = index.search(&search).unwrap_or_else(|e| panic!("{e}"));
        let mut approx: Vec<(f64, String)> =
            found.candidates.into_iter().map(|c| (c.cosine.unwrap_or(-1.0), c.id)).collect();
        approx.sort_by(|a, b| b.0.total_cmp(&a.0));
        overlap += approx.iter().take(10).filter(|(_, id)| exact_ids.contains(&id.as_str())).count();
    }

    println!("memories: {n}");
    println!("  index build (keyword + vectors): {}", ms(built));
    println!("  vectors in memory: {:.1} MB (i8, one f32 scale per row)", index.vector_bytes() as f64 / 1e6);
    println!(
        "  recall, hybrid (BM25 + cosine), k=5: p50 {}  p99 {}  max {}  ({} queries, {} with results)",
        ms(percentile(&times_hybrid, 0.5)),
        ms(percentile(&times_hybrid, 0.99)),
        ms(percentile(&times_hybrid, 1.0)),
        times_hybrid.len(),
        found_source
    );
    println!(
        "  recall, keywords only (no embeddings), k=5: p50 {}  p99 {}  max {}",
        ms(percentile(&times_keyword, 0.5)),
        ms(percentile(&times_keyword, 0.99)),
        ms(percentile(&times_keyword, 1.0)),
    );
    println!(
        "  quantised vector top 10 vs exact f32 top 10: {:.1} % the same ids",
        100.0 * overlap as f64 / (sample * 10) as f64
    );
}

fn main() {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() { vec![10_000, 100_000] } else { sizes };
    for n in sizes {
        run(n);
    }
}
