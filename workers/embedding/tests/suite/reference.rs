//! The model's vectors against an independent implementation (`tests/fixtures/reference.py`, a
//! numpy forward pass computed once), and the properties the worker promises.

use agentos_worker_embedding::DIMS;
use agentos_worker_embedding::model::cosine;
use serde::Deserialize;

use super::model;

/// `tests/fixtures/reference.json`.
#[derive(Deserialize)]
struct Reference {
    cosines: Cosines,
    sentences: Vec<Sentence>,
}

#[derive(Deserialize)]
struct Cosines {
    cat_feline: f32,
    cat_revenue: f32,
}

#[derive(Deserialize)]
struct Sentence {
    text: String,
    tokens: usize,
    vector: Vec<f32>,
}

fn reference() -> Reference {
    serde_json::from_str(include_str!("../fixtures/reference.json")).unwrap()
}

fn embed(texts: &[&str]) -> Vec<Vec<f32>> {
    model().embed(texts).unwrap()
}

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

#[test]
fn every_vector_matches_the_reference_implementation() {
    let reference = reference();
    let texts: Vec<&str> = reference.sentences.iter().map(|s| s.text.as_str()).collect();
    let vectors = embed(&texts);
    assert_eq!(vectors.len(), reference.sentences.len());
    for (got, want) in vectors.iter().zip(&reference.sentences) {
        assert_eq!(got.len(), DIMS);
        let c = cosine(got, &want.vector);
        assert!(c >= 0.99, "cosine {c} against the reference for {:?}", want.text);
        // The first dimensions agree to float precision, not just in direction.
        for (i, (g, w)) in got.iter().zip(&want.vector).take(16).enumerate() {
            assert!((g - w).abs() < 1e-3, "dimension {i} of {:?}: {g} vs {w}", want.text);
        }
    }
}

#[test]
fn the_long_reference_text_is_read_past_128_tokens() {
    // tokenizer.json truncates at 128; the worker reads up to 256. The reference text is longer
    // than 128 tokens, so matching it proves the longer window.
    let reference = reference();
    let long = reference.sentences.iter().find(|s| s.tokens > 128).unwrap();
    let got = &embed(&[long.text.as_str()])[0];
    assert!(cosine(got, &long.vector) > 0.999, "{}", cosine(got, &long.vector));
}

#[test]
fn related_sentences_are_close_and_unrelated_ones_are_not() {
    let reference = reference();
    let v =
        embed(&["The cat slept on the warm mat", "A feline napping on a rug", "Quarterly revenue grew twelve percent"]);
    let (feline, revenue) = (cosine(&v[0], &v[1]), cosine(&v[0], &v[2]));
    assert!((feline - 0.55).abs() <= 0.05, "cat/feline {feline}");
    assert!(revenue.abs() < 0.1, "cat/revenue {revenue}");
    assert!((feline - reference.cosines.cat_feline).abs() < 0.005, "{feline} vs {}", reference.cosines.cat_feline);
    assert!((revenue - reference.cosines.cat_revenue).abs() < 0.005, "{revenue} vs {}", reference.cosines.cat_revenue);
}

#[test]
fn padding_does_not_change_a_vector() {
    let short = "How do I reset my password?";
    let long = "The supervisor restarts a crashed worker with exponential backoff from one second to thirty seconds, \
                captures its standard output and standard error line by line into rotating log files, and \
                publishes every worker's state, pid, restart count and uptime to the terminal dashboard.";
    let alone = &embed(&[short])[0];
    let together = embed(&[long, short]);
    let c = cosine(alone, &together[1]);
    assert!(c > 0.999, "the short text alone and padded beside a long one: cosine {c}");
}

#[test]
fn vectors_are_unit_length_and_batches_larger_than_32_come_back_in_request_order() {
    // 70 texts of different lengths: three forward passes, sorted by length inside.
    let texts: Vec<String> =
        (0..70).map(|i| format!("sentence number {i} {}", "with more words ".repeat(i % 9))).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let batch = embed(&refs);
    assert_eq!(batch.len(), 70);
    for i in [0, 17, 33, 69] {
        let alone = &embed(&[refs[i]])[0];
        let c = cosine(alone, &batch[i]);
        assert!(c > 0.999, "text {i}: cosine {c} between alone and in the batch");
    }
    for v in &batch {
        assert_eq!(v.len(), DIMS);
        assert!((norm(v) - 1.0).abs() < 1e-4, "norm {}", norm(v));
    }
}

#[test]
fn text_past_256_tokens_is_truncated_not_rejected() {
    let words: Vec<String> = (0..400).map(|i| format!("word{i}")).collect();
    let base = words.join(" ");
    let longer = format!("{base} and then something entirely different about quarterly revenue");
    let v = embed(&[base.as_str(), longer.as_str(), &"x".repeat(64 * 1024)]);
    assert!(cosine(&v[0], &v[1]) > 0.9999, "words past the 256th token changed the vector");
    assert!((norm(&v[2]) - 1.0).abs() < 1e-4);
}

#[test]
fn an_empty_text_still_gets_a_unit_vector() {
    let v = &embed(&[""])[0];
    assert_eq!(v.len(), DIMS);
    assert!((norm(v) - 1.0).abs() < 1e-4);
}
