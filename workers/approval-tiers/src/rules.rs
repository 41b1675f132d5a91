//! The rule grammar shared by `[approval]` in `agentos.toml` and `[approval]` in a hand's
//! `HAND.toml`: which calls a rule covers and the tier it gives them.
//!
//! ```toml
//! [[approval.rules]]
//! function = "code::run_command"        # an exact id, "ns::*" or "*"
//! tier = "auto"                         # auto | ask | deny
//! when = { program = ["cargo"], args_prefix = ["check"] }
//! reason = "cargo check only builds"    # optional: shown to the person and the model
//! id = "cargo-check"                    # optional: names the rule in answers
//! ```
//!
//! `when` (optional) narrows a rule to calls whose arguments match; every condition given must
//! hold:
//! - `program = [..]`: the `program` argument is exactly one of these names (a path such as
//!   `./cargo` is not the name `cargo`);
//! - `args_prefix = [..]`: the `args` argument is a list that starts with these strings;
//! - `argument = {name, equals | one_of | prefix}` (or a list of them): the argument `name`
//!   (dots reach into objects: `options.force`) equals a value, is one of several, or starts
//!   with a prefix (a string prefix for a string, an element prefix for a list).
//!
//! Rules it keeps:
//! - Parsing is strict: an unknown key anywhere in a rule is an error naming it, so a typo never
//!   widens or narrows a rule silently; [`Rule::problems`] lists what else is wrong, each with
//!   its fix.
//! - A condition on an argument the call does not have does not hold, so a `when` can only
//!   narrow a rule, never widen it.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The tier of a tool call (the approval contract).
pub use agentos_protocol::approval::Tier;

/// One rule: the calls it covers (`function`, `when`) and their tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// A name for the rule in answers; the rule's position (`config#2`, `hand:coder#1`) when
    /// left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The function pattern: an exact id (`code::run_command`), a namespace (`code::*`) or `*`.
    pub function: String,
    /// The tier for the calls it covers.
    pub tier: Tier,
    /// Conditions on the arguments; every call of the function when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<When>,
    /// Why, in words shown to the person approving and to the model on a denial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Conditions on a call's arguments; all of those given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct When {
    /// The `program` argument is exactly one of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<Vec<String>>,
    /// The `args` argument starts with these strings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args_prefix: Option<Vec<String>>,
    /// Conditions on named arguments (one table or a list of them).
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "one_or_many")]
    pub argument: Vec<ArgCondition>,
}

/// A condition on one argument: exactly one of `equals`, `one_of` and `prefix`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArgCondition {
    /// The argument's name; dots reach into objects (`options.force`).
    pub name: String,
    /// The argument equals this value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<Value>,
    /// The argument is one of these values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_of: Option<Vec<Value>>,
    /// The argument starts with this: a string prefix of a string, or the first elements of a
    /// list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<Value>,
}

/// Reads `argument` as one condition table or a list of them.
fn one_or_many<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<ArgCondition>, D::Error> {
    struct OneOrMany;
    impl<'de> Visitor<'de> for OneOrMany {
        type Value = Vec<ArgCondition>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a table {name, equals | one_of | prefix} or a list of such tables")
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            ArgCondition::deserialize(de::value::MapAccessDeserializer::new(map)).map(|c| vec![c])
        }

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            Vec::<ArgCondition>::deserialize(de::value::SeqAccessDeserializer::new(seq))
        }
    }
    de.deserialize_any(OneOrMany)
}

impl Rule {
    /// Whether the rule covers a call of `function_id` with `arguments`.
    pub fn matches(&self, function_id: &str, arguments: &Value) -> bool {
        pattern_matches(&self.function, function_id) && self.when.as_ref().is_none_or(|w| w.holds(arguments))
    }

    /// Everything wrong with the rule, each naming the fix; empty when it is valid.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Err(e) = check_pattern(&self.function) {
            problems.push(e);
        }
        if let Some(id) = &self.id
            && (id.trim().is_empty() || id.contains(char::is_whitespace))
        {
            problems.push(format!("id {id:?} must be a non-empty name without spaces, or be left out"));
        }
        if let Some(when) = &self.when {
            problems.extend(when.problems());
        }
        problems
    }

    /// The rule in words: `code::run_command when program is cargo and args start with [check]`.
    pub fn describe(&self) -> String {
        match &self.when {
            Some(when) => format!("{} when {}", self.function, when.describe()),
            None => self.function.clone(),
        }
    }
}

impl When {
    /// Whether every condition holds for `arguments`.
    pub fn holds(&self, arguments: &Value) -> bool {
        let program_ok = self.program.as_ref().is_none_or(|names| {
            arguments.get("program").and_then(Value::as_str).is_some_and(|p| names.iter().any(|n| n == p))
        });
        let args_ok = self.args_prefix.as_ref().is_none_or(|prefix| {
            let wanted: Vec<Value> = prefix.iter().map(|s| Value::String(s.clone())).collect();
            arguments.get("args").is_some_and(|args| list_starts_with(args, &wanted))
        });
        program_ok && args_ok && self.argument.iter().all(|c| c.holds(arguments))
    }

    /// What is wrong with the conditions.
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.program.is_none() && self.args_prefix.is_none() && self.argument.is_empty() {
            problems.push("when has no condition: add program, args_prefix or argument, or leave when out".to_string());
        }
        if let Some(names) = &self.program
            && (names.is_empty() || names.iter().any(|n| n.trim().is_empty()))
        {
            problems.push("when.program must list at least one non-empty program name".to_string());
        }
        if self.args_prefix.as_ref().is_some_and(Vec::is_empty) {
            problems.push(
                "when.args_prefix is empty, so it says nothing: list the first arguments or leave it out".to_string(),
            );
        }
        for c in &self.argument {
            problems.extend(c.problems());
        }
        problems
    }

    /// The conditions in words.
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(names) = &self.program {
            parts.push(format!("program is {}", names.join(" or ")));
        }
        if let Some(prefix) = &self.args_prefix {
            parts.push(format!("args start with {prefix:?}"));
        }
        for c in &self.argument {
            parts.push(c.describe());
        }
        parts.join(" and ")
    }
}

impl ArgCondition {
    /// Whether the condition holds for `arguments`.
    pub fn holds(&self, arguments: &Value) -> bool {
        let Some(value) = lookup(arguments, &self.name) else { return false };
        if let Some(expected) = &self.equals {
            return value == expected;
        }
        if let Some(choices) = &self.one_of {
            return choices.iter().any(|c| c == value);
        }
        match (&self.prefix, value) {
            (Some(Value::String(prefix)), Value::String(s)) => s.starts_with(prefix.as_str()),
            (Some(Value::Array(prefix)), list) => list_starts_with(list, prefix),
            _ => false,
        }
    }

    /// What is wrong with the condition.
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let at = format!("when.argument {:?}", self.name);
        if self.name.trim().is_empty() || self.name.split('.').any(str::is_empty) {
            problems.push(format!("{at}: name must be an argument name (dots reach into objects: options.force)"));
        }
        let given = [self.equals.is_some(), self.one_of.is_some(), self.prefix.is_some()];
        if given.iter().filter(|g| **g).count() != 1 {
            problems.push(format!("{at}: give exactly one of equals, one_of and prefix"));
        }
        if self.one_of.as_ref().is_some_and(Vec::is_empty) {
            problems.push(format!("{at}: one_of is empty, so nothing would match: list the values"));
        }
        if self.prefix.as_ref().is_some_and(|p| !matches!(p, Value::String(_) | Value::Array(_))) {
            problems.push(format!("{at}: prefix must be a string or a list"));
        }
        problems
    }

    /// The condition in words.
    fn describe(&self) -> String {
        let name = &self.name;
        if let Some(v) = &self.equals {
            format!("{name} = {v}")
        } else if let Some(choices) = &self.one_of {
            let shown: Vec<String> = choices.iter().map(Value::to_string).collect();
            format!("{name} is one of {}", shown.join(", "))
        } else if let Some(p) = &self.prefix {
            format!("{name} starts with {p}")
        } else {
            format!("{name} (no condition)")
        }
    }
}

/// The value at a dotted `name` inside `arguments`.
fn lookup<'a>(arguments: &'a Value, name: &str) -> Option<&'a Value> {
    name.split('.').try_fold(arguments, |v, key| v.get(key))
}

/// Whether `list` is an array whose first elements are `prefix`.
fn list_starts_with(list: &Value, prefix: &[Value]) -> bool {
    list.as_array().is_some_and(|items| items.len() >= prefix.len() && items.iter().zip(prefix).all(|(a, b)| a == b))
}

/// Whether function pattern `pattern` (exact, `ns::*` or `*`) covers `function_id`.
pub fn pattern_matches(pattern: &str, function_id: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.strip_suffix("::*") {
        Some(namespace) => function_id.strip_prefix(namespace).is_some_and(|rest| rest.starts_with("::")),
        None => pattern == function_id,
    }
}

/// Checks a function pattern's shape; the error names the three allowed forms.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    let segment_ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let ok = pattern == "*"
        || match pattern.strip_suffix("::*") {
            Some(namespace) => namespace.split("::").all(segment_ok),
            None => pattern.split("::").count() >= 2 && pattern.split("::").all(segment_ok),
        };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "function {pattern:?} is not a pattern: use an exact id (\"code::run_command\"), a namespace (\"code::*\") or \"*\""
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn rule(text: &str) -> Result<Rule, String> {
        #[derive(Debug, Default, Deserialize)]
        struct Wrapper {
            #[serde(default)]
            rules: Vec<Rule>,
        }
        agentos_kit::config::section_in::<Wrapper>(text, "approval")
            .map(|w| w.rules.into_iter().next().unwrap_or_else(|| panic!("no rule in {text}")))
    }

    #[test]
    fn patterns_are_exact_ids_namespaces_or_everything() {
        assert!(pattern_matches("*", "x::y"));
        assert!(pattern_matches("code::*", "code::read_file"));
        assert!(!pattern_matches("code::*", "codex::read_file"));
        assert!(!pattern_matches("code::*", "code"));
        assert!(pattern_matches("code::read_file", "code::read_file"));
        assert!(!pattern_matches("code::read_file", "code::read_files"));
        for ok in ["*", "code::*", "a::b::*", "code::read_file", "x-y::z_1"] {
            assert_eq!(check_pattern(ok), Ok(()), "{ok}");
        }
        for bad in ["", "code", "code::read_*", "*::x", "code::", "::x", "a b::c"] {
            assert!(check_pattern(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn program_and_args_prefix_must_both_hold() {
        let r = rule(
            "[[approval.rules]]\nfunction = \"code::run_command\"\ntier = \"auto\"\nwhen = { program = [\"cargo\"], args_prefix = [\"check\"] }\n",
        )
        .unwrap();
        assert!(r.matches("code::run_command", &json!({"program": "cargo", "args": ["check", "--all"]})));
        assert!(!r.matches("code::run_command", &json!({"program": "cargo", "args": ["publish"]})));
        assert!(!r.matches("code::run_command", &json!({"program": "cargo"})));
        assert!(!r.matches("code::run_command", &json!({"program": "./cargo", "args": ["check"]})));
        assert!(!r.matches("code::write_file", &json!({"program": "cargo", "args": ["check"]})));
        assert_eq!(r.describe(), "code::run_command when program is cargo and args start with [\"check\"]");
    }

    #[test]
    fn argument_conditions_compare_values_choices_and_prefixes() {
        let r = rule(
            "[[approval.rules]]\nfunction = \"code::*\"\ntier = \"auto\"\n[approval.rules.when]\nargument = [{ name = \"path\", prefix = \"docs/\" }, { name = \"opts.mode\", one_of = [\"a\", 1] }]\n",
        )
        .unwrap();
        assert!(r.matches("code::write_file", &json!({"path": "docs/x.md", "opts": {"mode": 1}})));
        assert!(!r.matches("code::write_file", &json!({"path": "src/x.rs", "opts": {"mode": 1}})));
        assert!(!r.matches("code::write_file", &json!({"path": "docs/x.md", "opts": {"mode": "b"}})));
        assert!(!r.matches("code::write_file", &json!({"path": "docs/x.md"})));

        let single = rule(
            "[[approval.rules]]\nfunction = \"x::y\"\ntier = \"deny\"\nwhen = { argument = { name = \"force\", equals = true } }\n",
        )
        .unwrap();
        assert!(single.matches("x::y", &json!({"force": true})));
        assert!(!single.matches("x::y", &json!({"force": false})));
        let list = ArgCondition { name: "args".into(), equals: None, one_of: None, prefix: Some(json!(["a", "b"])) };
        assert!(list.holds(&json!({"args": ["a", "b", "c"]})));
        assert!(!list.holds(&json!({"args": ["a"]})));
    }

    #[test]
    fn an_unknown_key_in_a_rule_or_a_condition_is_an_error_naming_it() {
        let err = rule("[[approval.rules]]\nfunction = \"x::y\"\ntier = \"auto\"\ncolour = 1\n").unwrap_err();
        assert!(err.contains("unknown field `colour`"), "{err}");
        let err = rule("[[approval.rules]]\nfunction = \"x::y\"\ntier = \"auto\"\nwhen = { programs = [\"ls\"] }\n")
            .unwrap_err();
        assert!(err.contains("unknown field `programs`"), "{err}");
        let err = rule(
            "[[approval.rules]]\nfunction = \"x::y\"\ntier = \"auto\"\nwhen = { argument = { nam = \"p\", equals = 1 } }\n",
        )
        .unwrap_err();
        assert!(err.contains("unknown field `nam`"), "{err}");
        let err = rule("[[approval.rules]]\nfunction = \"x::y\"\ntier = \"maybe\"\n").unwrap_err();
        assert!(err.contains("unknown variant `maybe`, expected one of `auto`, `ask`, `deny`"), "{err}");
    }

    #[test]
    fn every_problem_of_a_rule_is_named_with_its_fix() {
        let r = Rule {
            id: Some("two words".into()),
            function: "code::read_*".into(),
            tier: Tier::Auto,
            when: Some(When {
                program: Some(vec![]),
                args_prefix: Some(vec![]),
                argument: vec![
                    ArgCondition { name: "p".into(), equals: Some(json!(1)), one_of: Some(vec![]), prefix: None },
                    ArgCondition { name: "a..b".into(), equals: None, one_of: None, prefix: Some(json!(3)) },
                ],
            }),
            reason: None,
        };
        assert_eq!(
            r.problems(),
            vec![
                "function \"code::read_*\" is not a pattern: use an exact id (\"code::run_command\"), a namespace (\"code::*\") or \"*\"".to_string(),
                "id \"two words\" must be a non-empty name without spaces, or be left out".to_string(),
                "when.program must list at least one non-empty program name".to_string(),
                "when.args_prefix is empty, so it says nothing: list the first arguments or leave it out".to_string(),
                "when.argument \"p\": give exactly one of equals, one_of and prefix".to_string(),
                "when.argument \"p\": one_of is empty, so nothing would match: list the values".to_string(),
                "when.argument \"a..b\": name must be an argument name (dots reach into objects: options.force)".to_string(),
                "when.argument \"a..b\": prefix must be a string or a list".to_string(),
            ]
        );
        let empty = Rule { id: None, function: "*".into(), tier: Tier::Ask, when: Some(When::default()), reason: None };
        assert_eq!(
            empty.problems(),
            vec!["when has no condition: add program, args_prefix or argument, or leave when out".to_string()]
        );
    }

    #[test]
    fn a_rule_round_trips_through_json_as_hand_get_sends_it() {
        let r = rule(
            "[[approval.rules]]\nfunction = \"code::run_command\"\ntier = \"auto\"\nreason = \"builds\"\nwhen = { program = [\"cargo\"], argument = { name = \"cwd\", equals = \"a\" } }\n",
        )
        .unwrap();
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(
            json,
            json!({"function": "code::run_command", "tier": "auto", "reason": "builds",
                   "when": {"program": ["cargo"], "argument": [{"name": "cwd", "equals": "a"}]}})
        );
        assert_eq!(serde_json::from_value::<Rule>(json).unwrap(), r);
    }
}
