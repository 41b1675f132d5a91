//! agentos-worker-loop-guard: the loop guard (`guard::*`).
//!
//! agent-core calls `guard::check` before each tool call of a turn. The guard answers with a
//! [`Verdict`]: `allow`, `warn` (make the call, and show the model the reason) or `block` (do
//! not make it; the reason goes back to the model instead of a tool result). This crate root is
//! the pure decision: a [`Guard`] holds one session's calls of the current turn and
//! [`Guard::check`] decides; [`Sessions`] keeps one guard per session; [`worker()`] declares
//! `guard::check`, `guard::reset` and `guard::stats` to the engine.
//!
//! Rules it keeps (thresholds in [`Limits`], defaults after the names):
//! - **repeat**: the same call (function id plus arguments, compared after canonicalisation, so
//!   key order does not matter) made consecutively. The `repeat_warn`-th (3) identical call in
//!   a row is warned, the `repeat_block`-th (5) is blocked.
//! - **cycle**: the calls end in a block of period 2 or 3 (A-B-A-B…, A-B-C-A-B-C…) with at
//!   least two different calls in it. Counting the first pass, the call that completes
//!   `cycle_warn` (3) passes is warned (two repetitions beyond the first), and so is every call
//!   that continues the cycle; the call that would complete `cycle_block` (4) passes is blocked.
//!   The counting is by calls, so the cycle is caught whichever call the model starts it with.
//! - **runaway**: more than `max_calls` (50) calls in one turn. From the call that reaches 80 %
//!   of the limit (the 40th by default) every call is warned; the call beyond the limit is
//!   blocked.
//! - When several rules fire the most severe verdict wins (block over warn); on a tie the rule
//!   listed first above names it.
//! - A warned call counts as made; a blocked call is not recorded, so a model that insists keeps
//!   being blocked, and one that changes course is judged only on the calls it really made.
//! - A new `turn_id` starts the session's turn afresh: no call of an earlier turn counts.

mod limits;
pub mod register;
mod sessions;

#[cfg(test)]
mod tests;

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use limits::{Limits, LimitsError};
pub use register::{GuardService, MANIFEST, register, run, worker};
pub use sessions::{CheckRequest, GuardError, ResetAnswer, SessionRequest, Sessions, Stats};

/// One tool call the model wants to make.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The function the call invokes, for example `code::read_file`.
    pub function_id: String,
    /// Its arguments, as the model wrote them.
    #[serde(default)]
    pub arguments: Value,
}

impl ToolCall {
    /// A call of `function_id` with `arguments`.
    pub fn new(function_id: impl Into<String>, arguments: Value) -> Self {
        Self { function_id: function_id.into(), arguments }
    }
}

/// What agent-core does with the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Make the call.
    Allow,
    /// Make the call and show the model [`Verdict::reason`] with its result.
    Warn,
    /// Do not make the call; give the model [`Verdict::reason`] instead of a result.
    Block,
}

/// The rule behind a warn or a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The same call made consecutively.
    Repeat,
    /// A cycle of period 2 or 3 repeated.
    Cycle,
    /// Too many calls in one turn.
    Runaway,
}

/// The answer of `guard::check`: `{action, reason?, rule?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// What to do with the call.
    pub action: Action,
    /// For warn and block: a message addressed to the model, saying what it did and what to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For warn and block: the rule that fired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<Rule>,
}

impl Verdict {
    /// Make the call, nothing to say.
    pub fn allow() -> Self {
        Self { action: Action::Allow, reason: None, rule: None }
    }

    /// A warn or block verdict of `rule` with `reason`.
    fn of(action: Action, rule: Rule, reason: String) -> Self {
        Self { action, reason: Some(reason), rule: Some(rule) }
    }
}

/// How many checks ended in each action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Checks answered `allow`.
    pub allowed: u64,
    /// Checks answered `warn` (the call was made).
    pub warned: u64,
    /// Checks answered `block` (the call was not made).
    pub blocked: u64,
}

impl Counts {
    /// Counts one verdict.
    fn count(&mut self, action: Action) {
        let slot = match action {
            Action::Allow => &mut self.allowed,
            Action::Warn => &mut self.warned,
            Action::Block => &mut self.blocked,
        };
        *slot += 1;
    }

    /// The calls made: allowed plus warned.
    pub fn made(&self) -> u64 {
        self.allowed + self.warned
    }
}

/// One call made in the current turn, as the guard remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Made {
    /// The function id, for messages.
    function_id: String,
    /// [`fingerprint`] of the function id and the canonical arguments.
    fingerprint: u64,
}

/// One session's guard: the calls made in its current turn and its counts.
///
/// Memory stays bounded: a turn remembers at most `max_calls` calls, because every call beyond
/// that is blocked and blocked calls are not recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Guard {
    /// The turn the calls belong to; `None` until a check names one.
    turn_id: Option<String>,
    /// The calls made (allowed or warned) in this turn, oldest first.
    made: Vec<Made>,
    /// How many turns this guard has seen (a first check counts as the first turn).
    turns: u64,
    /// The verdicts of this turn.
    turn: Counts,
    /// The verdicts since the guard was created.
    total: Counts,
}

impl Guard {
    /// A guard with no history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts turn `turn_id` when it differs from the current one: the calls and per-turn counts
    /// are dropped. `None` (a caller that does not name turns) keeps the current turn.
    pub fn enter_turn(&mut self, turn_id: Option<&str>) {
        let first = self.turns == 0;
        match turn_id {
            Some(id) if self.turn_id.as_deref() != Some(id) => {
                self.turn_id = Some(id.to_string());
                self.made.clear();
                self.turn = Counts::default();
                self.turns += 1;
            }
            _ if first => self.turns = 1,
            _ => {}
        }
    }

    /// Decides on `call` under `limits` and records it unless it is blocked.
    pub fn check(&mut self, call: &ToolCall, limits: &Limits) -> Verdict {
        if self.turns == 0 {
            self.turns = 1;
        }
        let fingerprint = fingerprint(&call.function_id, &call.arguments);
        let verdict =
            [self.repeat(call, fingerprint, limits), self.cycle(call, fingerprint, limits), self.runaway(limits)]
                .into_iter()
                .flatten()
                .fold(Verdict::allow(), |best, v| if severity(v.action) > severity(best.action) { v } else { best });
        self.turn.count(verdict.action);
        self.total.count(verdict.action);
        if verdict.action != Action::Block {
            self.made.push(Made { function_id: call.function_id.clone(), fingerprint });
        }
        verdict
    }

    /// The current turn id, if a check named one.
    pub fn turn_id(&self) -> Option<&str> {
        self.turn_id.as_deref()
    }

    /// How many turns the guard has seen.
    pub fn turns(&self) -> u64 {
        self.turns
    }

    /// The verdicts of the current turn.
    pub fn turn_counts(&self) -> Counts {
        self.turn
    }

    /// The verdicts since the guard was created.
    pub fn total_counts(&self) -> Counts {
        self.total
    }

    /// The repeat rule: how many identical calls in a row `call` would make.
    fn repeat(&self, call: &ToolCall, fingerprint: u64, limits: &Limits) -> Option<Verdict> {
        let run = 1 + self.made.iter().rev().take_while(|m| m.fingerprint == fingerprint).count();
        let function = &call.function_id;
        if run >= limits.repeat_block {
            Some(Verdict::of(
                Action::Block,
                Rule::Repeat,
                format!(
                    "Blocked: you called {function} with the same arguments {run} times in a row, so this call was not made; \
                     the result would not change. Use the result you already have, or take a different approach."
                ),
            ))
        } else if run >= limits.repeat_warn {
            Some(Verdict::of(
                Action::Warn,
                Rule::Repeat,
                format!(
                    "You called {function} with the same arguments {run} times in a row; the result will not change. \
                     Use what you have or try something different."
                ),
            ))
        } else {
            None
        }
    }

    /// The cycle rule: how many passes of a period-2 or period-3 cycle `call` would complete.
    fn cycle(&self, call: &ToolCall, fingerprint: u64, limits: &Limits) -> Option<Verdict> {
        let mut seq: Vec<u64> = self.made.iter().map(|m| m.fingerprint).collect();
        seq.push(fingerprint);
        let (period, passes) = CYCLE_PERIODS
            .iter()
            .map(|&p| (p, cycle_passes(&seq, p)))
            .fold((0, 0), |best, (p, n)| if n > best.1 { (p, n) } else { best });
        if passes < limits.cycle_warn {
            return None;
        }
        // The cycle's calls in order: the last `period - 1` made, then this one.
        let earlier = self.made.len().saturating_sub(period - 1);
        let mut names: Vec<&str> = self.made[earlier..].iter().map(|m| m.function_id.as_str()).collect();
        names.push(&call.function_id);
        let pattern = names.join(" -> ");
        Some(if passes >= limits.cycle_block {
            Verdict::of(
                Action::Block,
                Rule::Cycle,
                format!(
                    "Blocked: you are going in circles. The same {period} calls ({pattern}) with the same arguments have now \
                     repeated {passes} times, so this call was not made. Repeating them will not change the results; \
                     use what you have learned, or take a different approach."
                ),
            )
        } else {
            Verdict::of(
                Action::Warn,
                Rule::Cycle,
                format!(
                    "You are going in circles: the same {period} calls ({pattern}) with the same arguments have repeated \
                     {passes} times. Repeating them will not change the results; use what you have or try something different."
                ),
            )
        })
    }

    /// The runaway rule: how many calls this turn `call` would make.
    fn runaway(&self, limits: &Limits) -> Option<Verdict> {
        let number = self.made.len() + 1;
        let max = limits.max_calls;
        if number > max {
            Some(Verdict::of(
                Action::Block,
                Rule::Runaway,
                format!(
                    "Blocked: this turn has reached its limit of {max} tool calls, so this call was not made. \
                     Answer with what you have, or tell the user what is left to do."
                ),
            ))
        } else if number >= limits.runaway_warn_from() {
            Some(Verdict::of(
                Action::Warn,
                Rule::Runaway,
                format!(
                    "This is tool call {number} of at most {max} in this turn. Wrap up soon: answer with what you have, \
                     or tell the user what is left to do."
                ),
            ))
        } else {
            None
        }
    }
}

/// The cycle periods the guard looks for. Longer periods are rare in practice and a plain
/// repeat is period 1, which the repeat rule covers.
const CYCLE_PERIODS: [usize; 2] = [2, 3];

/// How many passes of a period-`p` cycle `seq` ends with, counting the first and any partial
/// pass as the whole passes it contains. 0 when the last `p` calls are all the same call (a
/// repeat, not a cycle) or there are fewer than `p` calls.
fn cycle_passes(seq: &[u64], p: usize) -> usize {
    if seq.len() < p {
        return 0;
    }
    let block = &seq[seq.len() - p..];
    if block.iter().all(|f| *f == block[0]) {
        return 0;
    }
    let periodic = (p..seq.len()).rev().take_while(|&j| seq[j] == seq[j - p]).count();
    (p + periodic) / p
}

/// The order of actions by severity.
fn severity(action: Action) -> u8 {
    match action {
        Action::Allow => 0,
        Action::Warn => 1,
        Action::Block => 2,
    }
}

/// A stable 64-bit fingerprint of a call: the function id and the canonical JSON of its
/// arguments. Two calls that differ only in object key order get the same fingerprint. The
/// hasher has fixed keys, so fingerprints do not change between checks (collisions among a
/// turn's few dozen calls are vanishingly unlikely).
pub fn fingerprint(function_id: &str, arguments: &Value) -> u64 {
    let mut canonical = String::new();
    write_canonical(arguments, &mut canonical);
    let mut hasher = DefaultHasher::new();
    function_id.hash(&mut hasher);
    canonical.hash(&mut hasher);
    hasher.finish()
}

/// Canonical JSON: object keys sorted, no whitespace. Written by hand so the result does not
/// depend on whether serde_json's `preserve_order` feature is on somewhere in the build.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

/// Appends the canonical JSON of `value` to `out`.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}
