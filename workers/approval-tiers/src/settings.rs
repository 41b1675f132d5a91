//! `[approval]` of `agentos.toml`, read by both approval workers.
//!
//! ```toml
//! [approval]
//! default = "ask"              # the tier when no rule matches: auto | ask | deny
//! timeout_secs = 300           # a request nobody decides is denied after this long
//! max_pending_per_agent = 8    # pending requests per agent (per session without an agent)
//!
//! [[approval.rules]]           # the grammar of `crate::rules`
//! function = "code::run_command"
//! tier = "auto"
//! when = { program = ["cargo"], args_prefix = ["check"] }
//! ```
//!
//! Rule: the section is strict. An unknown key, a bad value or a bad rule stops the worker at
//! start with a message naming the key and the fix, never a silently ignored line.

use serde::{Deserialize, Serialize};

use crate::rules::{Rule, Tier};

/// The default `timeout_secs`: five minutes is long enough to notice a prompt and read a diff,
/// short enough that a forgotten request does not hold a turn for hours.
pub const DEFAULT_TIMEOUT_SECS: u64 = 300;

/// The longest `timeout_secs`: a day. A turn waiting longer than that is abandoned anyway.
pub const MAX_TIMEOUT_SECS: u64 = 86_400;

/// The default `max_pending_per_agent`: a model asking for more than 8 things at once is
/// probably looping, and a person cannot review more in one go.
pub const DEFAULT_MAX_PENDING: usize = 8;

/// The largest `max_pending_per_agent`.
pub const MAX_PENDING_LIMIT: usize = 1000;

/// `[approval]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApprovalSettings {
    /// The tier when no rule matches; `ask` when left out.
    pub default: Option<Tier>,
    /// Seconds until an undecided request is denied by timeout.
    pub timeout_secs: u64,
    /// Pending requests one agent (or one session without an agent) may have at once.
    pub max_pending_per_agent: usize,
    /// The operator's rules, checked in order (first match wins).
    pub rules: Vec<Rule>,
}

impl Default for ApprovalSettings {
    fn default() -> Self {
        Self {
            default: None,
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            max_pending_per_agent: DEFAULT_MAX_PENDING,
            rules: Vec::new(),
        }
    }
}

impl ApprovalSettings {
    /// Reads `[approval]` from the config file (`AGENTOS_CONFIG`) and checks it; the error names
    /// the file, the key and the fix.
    pub fn load() -> Result<Self, agentos_kit::WorkerError> {
        let settings: Self = agentos_kit::config::section("approval")?;
        settings.validate().map_err(|problems| {
            let file = agentos_kit::config::config_path().map(|p| p.display().to_string()).unwrap_or_default();
            agentos_kit::WorkerError::invalid_input(format!("{file}: [approval] {}", problems.join("; ")))
        })?;
        Ok(settings)
    }

    /// The tier when no rule matches.
    pub fn default_tier(&self) -> Tier {
        self.default.unwrap_or(Tier::Ask)
    }

    /// Every problem of the section, each naming the fix.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if !(1..=MAX_TIMEOUT_SECS).contains(&self.timeout_secs) {
            problems.push(format!("timeout_secs = {} is out of range: use 1 to {MAX_TIMEOUT_SECS}", self.timeout_secs));
        }
        if !(1..=MAX_PENDING_LIMIT).contains(&self.max_pending_per_agent) {
            problems.push(format!(
                "max_pending_per_agent = {} is out of range: use 1 to {MAX_PENDING_LIMIT}",
                self.max_pending_per_agent
            ));
        }
        for (i, rule) in self.rules.iter().enumerate() {
            problems.extend(rule.problems().into_iter().map(|p| format!("rules[{i}]: {p}")));
        }
        if problems.is_empty() { Ok(()) } else { Err(problems) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentos_kit::config::section_in;
    use pretty_assertions::assert_eq;

    #[test]
    fn a_missing_section_gives_ask_300_seconds_and_8_pending() {
        let s: ApprovalSettings = section_in("[llm]\n", "approval").unwrap();
        assert_eq!(s, ApprovalSettings::default());
        assert_eq!((s.default_tier(), s.timeout_secs, s.max_pending_per_agent), (Tier::Ask, 300, 8));
        assert_eq!(s.validate(), Ok(()));
    }

    #[test]
    fn the_whole_section_reads_into_its_settings() {
        let text = "[approval]\ndefault = \"deny\"\ntimeout_secs = 60\nmax_pending_per_agent = 2\n\
                    [[approval.rules]]\nfunction = \"code::run_command\"\ntier = \"auto\"\n\
                    when = { program = [\"cargo\"], args_prefix = [\"check\"] }\n";
        let s: ApprovalSettings = section_in(text, "approval").unwrap();
        assert_eq!((s.default_tier(), s.timeout_secs, s.max_pending_per_agent), (Tier::Deny, 60, 2));
        assert_eq!(s.rules.len(), 1);
        assert_eq!(s.rules[0].describe(), "code::run_command when program is cargo and args start with [\"check\"]");
    }

    #[test]
    fn an_unknown_key_or_a_bad_value_is_an_error_naming_it() {
        let err = section_in::<ApprovalSettings>("[approval]\ntimeout = 5\n", "approval").unwrap_err();
        assert!(err.starts_with("[approval] timeout: unknown field `timeout`"), "{err}");
        let err = section_in::<ApprovalSettings>("[approval]\ndefault = \"never\"\n", "approval").unwrap_err();
        assert!(err.contains("unknown variant `never`"), "{err}");
        let s: ApprovalSettings = section_in(
            "[approval]\ntimeout_secs = 0\nmax_pending_per_agent = 0\n[[approval.rules]]\nfunction = \"code\"\ntier = \"ask\"\n",
            "approval",
        )
        .unwrap();
        assert_eq!(
            s.validate(),
            Err(vec![
                "timeout_secs = 0 is out of range: use 1 to 86400".to_string(),
                "max_pending_per_agent = 0 is out of range: use 1 to 1000".to_string(),
                "rules[0]: function \"code\" is not a pattern: use an exact id (\"code::run_command\"), a namespace (\"code::*\") or \"*\"".to_string(),
            ])
        );
    }
}
