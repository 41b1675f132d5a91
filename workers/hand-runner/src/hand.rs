//! One hand: the `HAND.toml` format, its strict parsing and its validation.
//!
//! Rules it keeps:
//! - The file is strict: an unknown key (top level, `[prompt]` or `[schedule]`) is an error
//!   naming the key and its line, so a typo never silently does nothing.
//! - `name` equals the hand's directory name and is a slug, because it names the hand in
//!   function calls, URLs (`/v1/hands/:name`) and state keys.
//! - A hand names a `model` or a `tier`, never both: the model wins over the tier in the router,
//!   so both would be a contradiction nobody notices.
//! - A schedule's `cron` is parsed with the `cron` crate, the grammar the engine runs it with
//!   (6 or 7 fields, seconds first), so a schedule that loads is one the engine accepts.
//! - Every problem of a file is reported at once, joined with `; `, each naming the fix.
//! - `[memory]` says whether agent-core remembers each finished turn (`store = "turns"`) and
//!   with which importance and tags; left out, it remembers nothing (`store = "off"`).
//! - `[[approval.rules]]` use the approval grammar of `[approval]` in `agentos.toml`
//!   ([`agentos_worker_approval_tiers::rules`]), just as strictly; approval-tiers reads them
//!   through `hand::get` (`approval_rules`) and checks them before the config's rules.

use std::collections::BTreeSet;
use std::str::FromStr;

use agentos_worker_approval_tiers::Rule;
use serde::{Deserialize, Serialize};

/// The file every hand directory holds.
pub const HAND_FILE: &str = "HAND.toml";

/// The longest hand name: 63 characters, so a name is also a valid file name and DNS label.
pub const NAME_MAX: usize = 63;

/// The largest `max_steps` a hand may ask for. A turn of 100 model calls is far beyond any
/// task one prompt should drive, and the bound keeps a typo (`max_steps = 4000`) from turning
/// into an expensive runaway.
pub const MAX_STEPS_LIMIT: u32 = 100;

/// The model tier a hand asks for when it names no model; the router maps it to a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Cheap and quick: lookups, short answers.
    Fast,
    /// The everyday model.
    Standard,
    /// The strongest model: reviews, hard reasoning.
    Deep,
}

/// A hand's optional cron schedule: the engine fires it, and each run sends `prompt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// The cron expression, seconds first (6 or 7 fields), for example `0 0 9 * * Mon-Fri`.
    pub cron: String,
    /// The user message sent on each run.
    pub prompt: String,
    /// The realm the runs happen in; agent-core's default when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
}

/// What agent-core remembers of a hand's turns (`[memory]` in `HAND.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryPolicy {
    /// `turns`: after every turn that ends with an answer, `memory::store` keeps the user's
    /// message and the answer (in the turn's realm, under its agent); `off`: nothing.
    pub store: MemoryStore,
    /// The importance of those memories, 0 to 1 (the memory worker's default when left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub importance: Option<f64>,
    /// Tags added to those memories (besides `turn` and the hand's name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// `[memory] store`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemoryStore {
    /// Remember nothing.
    Off,
    /// Remember every turn that ends with an answer.
    Turns,
}

/// A loaded, valid hand: an agent persona that agent-core runs chat turns with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hand {
    /// Its name (a slug, equal to its directory name).
    pub name: String,
    /// One line saying what it is for.
    pub description: String,
    /// The model (`provider/model` or a bare id), when it names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The tier, when it names one instead of a model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<Tier>,
    /// The most model calls one turn may take; agent-core's default when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<u32>,
    /// The function ids the model may call as tools, in the file's order.
    pub allowed_functions: Vec<String>,
    /// The system prompt.
    pub system_prompt: String,
    /// The cron schedule, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    /// Where it was loaded from: `builtin`, or the path of its `HAND.toml`.
    pub source: String,
    /// Its `[[approval.rules]]`, in file order (left out of answers when there are none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approval_rules: Vec<Rule>,
    /// Its `[memory]` policy, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryPolicy>,
}

/// `HAND.toml` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HandFile {
    name: String,
    description: String,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    tier: Option<Tier>,
    #[serde(default)]
    max_steps: Option<u32>,
    allowed_functions: Vec<String>,
    prompt: PromptSection,
    #[serde(default)]
    schedule: Option<Schedule>,
    #[serde(default)]
    approval: ApprovalSection,
    #[serde(default)]
    memory: Option<MemoryPolicy>,
}

/// `[approval]`: only rules (the timeout and the default are the operator's, in `agentos.toml`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApprovalSection {
    #[serde(default)]
    rules: Vec<Rule>,
}

/// `[prompt]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PromptSection {
    system: String,
}

/// Parses and validates the text of `hands/<dir_name>/HAND.toml`; `source` is recorded as the
/// hand's [`Hand::source`]. The error is a message listing every problem, each naming the fix
/// (the caller adds the file's path).
pub fn parse_hand(text: &str, dir_name: &str, source: &str) -> Result<Hand, String> {
    let file: HandFile = toml::from_str(text).map_err(|e| toml_problem(text, &e))?;
    let mut problems = Vec::new();

    if file.name != dir_name {
        problems.push(format!("name {:?} must equal the directory name {dir_name:?}: rename one of them", file.name));
    }
    if !is_slug(&file.name) {
        problems.push(format!(
            "name {:?} is not a slug: use 1 to {NAME_MAX} characters of a-z, 0-9, '-' and '_', starting with a letter or digit",
            file.name
        ));
    }
    if file.description.trim().is_empty() {
        problems.push("description is empty: say in one line what the hand is for".to_string());
    }
    match (&file.model, &file.tier) {
        (Some(_), Some(_)) => {
            problems.push(
                "both model and tier are set: keep one (a model wins over a tier, so both is a contradiction)"
                    .to_string(),
            );
        }
        (Some(model), None) if model.trim().is_empty() || model.contains(char::is_whitespace) => {
            problems.push(format!(
                "model {model:?} is not a model id: use provider/model (for example \"anthropic/claude-sonnet-4-5\") or leave it out and set tier"
            ));
        }
        _ => {}
    }
    if let Some(steps) = file.max_steps
        && !(1..=MAX_STEPS_LIMIT).contains(&steps)
    {
        problems.push(format!("max_steps = {steps} is out of range: use 1 to {MAX_STEPS_LIMIT}"));
    }
    let mut seen = BTreeSet::new();
    for id in &file.allowed_functions {
        if !is_function_id(id) {
            problems.push(format!(
                "allowed_functions: {id:?} is not a function id: use namespace::verb, for example \"code::read_file\""
            ));
        }
        if !seen.insert(id.as_str()) {
            problems.push(format!("allowed_functions: {id:?} is listed twice"));
        }
    }
    if file.prompt.system.trim().is_empty() {
        problems.push("[prompt] system is empty: write the hand's system prompt".to_string());
    }
    if let Some(schedule) = &file.schedule {
        if let Err(e) = parse_cron(&schedule.cron) {
            problems.push(format!("[schedule] {e}"));
        }
        if schedule.prompt.trim().is_empty() {
            problems.push("[schedule] prompt is empty: write the message each scheduled run sends".to_string());
        }
        if let Some(realm) = &schedule.realm
            && !is_slug(realm)
        {
            problems.push(format!(
                "[schedule] realm {realm:?} is not a realm id: use a slug such as \"default\", or leave it out"
            ));
        }
    }
    if let Some(memory) = &file.memory {
        if let Some(importance) = memory.importance
            && !(0.0..=1.0).contains(&importance)
        {
            problems.push(format!("[memory] importance = {importance} is out of range: use 0 to 1"));
        }
        if memory.tags.iter().any(|t| t.trim().is_empty()) {
            problems.push("[memory] tags: a tag is empty: remove it".to_string());
        }
    }
    for (i, rule) in file.approval.rules.iter().enumerate() {
        problems.extend(rule.problems().into_iter().map(|p| format!("[[approval.rules]] {}: {p}", i + 1)));
    }
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }

    Ok(Hand {
        name: file.name,
        description: file.description.trim().to_string(),
        model: file.model,
        tier: file.tier,
        max_steps: file.max_steps,
        allowed_functions: file.allowed_functions,
        system_prompt: file.prompt.system.trim().to_string(),
        schedule: file.schedule.map(|s| Schedule { prompt: s.prompt.trim().to_string(), ..s }),
        source: source.to_string(),
        approval_rules: file.approval.rules,
        memory: file.memory,
    })
}

/// Parses a cron expression with the engine's grammar: the `cron` crate, 6 or 7 fields,
/// seconds first. The error names the fix.
pub fn parse_cron(expr: &str) -> Result<cron::Schedule, String> {
    let fields = expr.split_whitespace().count();
    if !(6..=7).contains(&fields) {
        return Err(format!(
            "cron {expr:?} has {fields} fields: use 6 or 7 with seconds first, for example \"0 0 9 * * Mon-Fri\" (09:00 on weekdays)"
        ));
    }
    cron::Schedule::from_str(expr).map_err(|e| {
        format!("cron {expr:?} is invalid ({e}): fields are sec min hour day-of-month month day-of-week [year]")
    })
}

/// A TOML error as one line: its line number and the parser's message (which names an unknown
/// key and the keys allowed there).
fn toml_problem(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim();
    match e.span() {
        Some(span) => {
            let line = text.get(..span.start).map_or(0, |before| before.matches('\n').count()) + 1;
            format!("line {line}: {message}")
        }
        None => message.to_string(),
    }
}

/// `[a-z0-9][a-z0-9_-]*`, at most [`NAME_MAX`] characters.
pub fn is_slug(s: &str) -> bool {
    s.len() <= NAME_MAX
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// `namespace::verb[::more]`, every segment non-empty of letters, digits, '_' and '-'.
fn is_function_id(s: &str) -> bool {
    let segments: Vec<&str> = s.split("::").collect();
    segments.len() >= 2
        && segments
            .iter()
            .all(|seg| !seg.is_empty() && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    const GOOD: &str = r#"
name = "ops"
description = "Watches the build."
model = "anthropic/claude-sonnet-4-5"
max_steps = 12
allowed_functions = ["code::read_file", "code::run_command"]

[prompt]
system = """
You watch the build.
"""

[schedule]
cron = "0 0 9 * * Mon-Fri"
prompt = "Run the tests and report."
realm = "team"
"#;

    fn parse(text: &str) -> Result<Hand, String> {
        parse_hand(text, "ops", "/hands/ops/HAND.toml")
    }

    #[test]
    fn a_complete_hand_file_parses_into_a_hand() {
        assert_eq!(
            parse(GOOD).unwrap(),
            Hand {
                name: "ops".into(),
                description: "Watches the build.".into(),
                model: Some("anthropic/claude-sonnet-4-5".into()),
                tier: None,
                max_steps: Some(12),
                allowed_functions: vec!["code::read_file".into(), "code::run_command".into()],
                system_prompt: "You watch the build.".into(),
                schedule: Some(Schedule {
                    cron: "0 0 9 * * Mon-Fri".into(),
                    prompt: "Run the tests and report.".into(),
                    realm: Some("team".into()),
                }),
                source: "/hands/ops/HAND.toml".into(),
                approval_rules: vec![],
                memory: None,
            }
        );
    }

    #[test]
    fn the_memory_policy_is_read_strictly_and_checked() {
        let hand =
            parse(&format!("{GOOD}\n[memory]\nstore = \"turns\"\nimportance = 0.3\ntags = [\"ops\"]\n")).unwrap();
        assert_eq!(
            hand.memory,
            Some(MemoryPolicy { store: MemoryStore::Turns, importance: Some(0.3), tags: vec!["ops".into()] })
        );
        let err = parse(&format!("{GOOD}\n[memory]\nstore = \"always\"\n")).unwrap_err();
        assert!(err.contains("unknown variant `always`, expected `off` or `turns`"), "{err}");
        let err = parse(&format!("{GOOD}\n[memory]\nstore = \"turns\"\nimportance = 2.0\n")).unwrap_err();
        assert_eq!(err, "[memory] importance = 2 is out of range: use 0 to 1");
        let err = parse(&format!("{GOOD}\n[memory]\nstore = \"turns\"\nkeep = 1\n")).unwrap_err();
        assert!(err.contains("unknown field `keep`"), "{err}");
    }

    #[test]
    fn approval_rules_are_read_strictly_in_the_approval_grammar() {
        let with_rules = format!(
            "{GOOD}\n[[approval.rules]]\nfunction = \"code::run_command\"\ntier = \"auto\"\nwhen = {{ program = [\"cargo\"], args_prefix = [\"test\"] }}\n\n[[approval.rules]]\nfunction = \"code::write_file\"\ntier = \"deny\"\nreason = \"ops never edits\"\n"
        );
        let hand = parse(&with_rules).unwrap();
        let rules: Vec<(String, &str)> = hand.approval_rules.iter().map(|r| (r.describe(), r.tier.as_str())).collect();
        assert_eq!(
            rules,
            vec![
                ("code::run_command when program is cargo and args start with [\"test\"]".to_string(), "auto"),
                ("code::write_file".to_string(), "deny"),
            ]
        );

        let typo = with_rules.replace("args_prefix", "arg_prefix");
        let err = parse(&typo).unwrap_err();
        assert!(err.contains("unknown field `arg_prefix`"), "{err}");
        let err = parse(&format!("{GOOD}\n[approval]\ndefault = \"auto\"\n")).unwrap_err();
        assert!(err.contains("unknown field `default`, expected `rules`"), "{err}");
        let err = parse(&with_rules.replace("\"code::write_file\"\ntier", "\"code\"\ntier")).unwrap_err();
        assert_eq!(
            err,
            "[[approval.rules]] 2: function \"code\" is not a pattern: use an exact id (\"code::run_command\"), a namespace (\"code::*\") or \"*\""
        );
    }

    #[test]
    fn a_minimal_hand_needs_only_name_description_functions_and_prompt() {
        let text = "name = \"ops\"\ndescription = \"d\"\nallowed_functions = []\n[prompt]\nsystem = \"s\"\n";
        let hand = parse(text).unwrap();
        assert_eq!((hand.model, hand.tier, hand.max_steps, hand.schedule), (None, None, None, None));
        assert_eq!(hand.allowed_functions, Vec::<String>::new());
    }

    #[test]
    fn an_unknown_key_is_an_error_naming_the_key_and_its_line() {
        let err = parse(&GOOD.replace("max_steps", "max_stpes")).unwrap_err();
        assert!(err.starts_with("line 5: unknown field `max_stpes`, expected one of"), "{err}");

        let err = parse(&GOOD.replace("realm = \"team\"", "realms = \"team\"")).unwrap_err();
        assert!(err.starts_with("line 16: unknown field `realms`, expected one of `cron`, `prompt`, `realm`"), "{err}");

        let err = parse(&GOOD.replace("system =", "sytem =")).unwrap_err();
        assert!(err.contains("unknown field `sytem`"), "{err}");
    }

    #[test]
    fn the_name_must_equal_the_directory_name() {
        let err = parse_hand(GOOD, "ops-2", "x").unwrap_err();
        assert_eq!(err, "name \"ops\" must equal the directory name \"ops-2\": rename one of them");
    }

    #[test]
    fn model_and_tier_together_are_refused() {
        let err = parse(&GOOD.replace("max_steps = 12", "tier = \"fast\"")).unwrap_err();
        assert_eq!(err, "both model and tier are set: keep one (a model wins over a tier, so both is a contradiction)");
    }

    #[test]
    fn a_tier_outside_fast_standard_deep_names_the_choices() {
        let text = GOOD.replace("model = \"anthropic/claude-sonnet-4-5\"", "tier = \"medium\"");
        let err = parse(&text).unwrap_err();
        assert!(err.contains("unknown variant `medium`, expected one of `fast`, `standard`, `deep`"), "{err}");
        let hand = parse(&text.replace("medium", "deep")).unwrap();
        assert_eq!((hand.tier, hand.model), (Some(Tier::Deep), None));
    }

    #[test]
    fn a_bad_cron_expression_is_refused_with_the_grammar() {
        let five = parse(&GOOD.replace("0 0 9 * * Mon-Fri", "0 9 * * 1")).unwrap_err();
        assert!(
            five.starts_with("[schedule] cron \"0 9 * * 1\" has 5 fields: use 6 or 7 with seconds first"),
            "{five}"
        );
        let nonsense = parse(&GOOD.replace("0 0 9 * * Mon-Fri", "0 0 25 * * *")).unwrap_err();
        assert!(nonsense.starts_with("[schedule] cron \"0 0 25 * * *\" is invalid ("), "{nonsense}");
        assert!(parse(&GOOD.replace("0 0 9 * * Mon-Fri", "* * * * * *")).is_ok());
        assert!(parse(&GOOD.replace("0 0 9 * * Mon-Fri", "0 30 8 1 * * 2030")).is_ok());
    }

    #[test]
    fn every_problem_of_a_file_is_reported_at_once() {
        let text = GOOD
            .replace("max_steps = 12", "max_steps = 0")
            .replace("\"code::run_command\"", "\"code::read_file\", \"run\"")
            .replace("Watches the build.", " ")
            .replace("realm = \"team\"", "realm = \"Team A\"");
        assert_eq!(
            parse(&text).unwrap_err(),
            [
                "description is empty: say in one line what the hand is for",
                "max_steps = 0 is out of range: use 1 to 100",
                "allowed_functions: \"code::read_file\" is listed twice",
                "allowed_functions: \"run\" is not a function id: use namespace::verb, for example \"code::read_file\"",
                "[schedule] realm \"Team A\" is not a realm id: use a slug such as \"default\", or leave it out",
            ]
            .join("; ")
        );
    }

    #[test]
    fn a_missing_required_key_is_named() {
        let err =
            parse(&GOOD.replace("allowed_functions = [\"code::read_file\", \"code::run_command\"]\n", "")).unwrap_err();
        assert!(err.contains("missing field `allowed_functions`"), "{err}");
    }

    #[test]
    fn slugs_and_function_ids_follow_their_shapes() {
        for ok in ["coder", "a", "code-review_2", "9lives"] {
            assert!(is_slug(ok), "{ok}");
        }
        for bad in ["", "Coder", "-x", "a b", "ä", &"x".repeat(64)] {
            assert!(!is_slug(bad), "{bad}");
        }
        for ok in ["code::read_file", "a::b::c", "x-y::z_1"] {
            assert!(is_function_id(ok), "{ok}");
        }
        for bad in ["code", "code::", "::x", "a:::b", "a::b c"] {
            assert!(!is_function_id(bad), "{bad}");
        }
    }
}
