//! The guard's thresholds and where they come from.
//!
//! Rules it keeps:
//! - Three thresholds are configurable by environment variable ([`REPEAT_WARN_VAR`],
//!   [`REPEAT_BLOCK_VAR`], [`MAX_CALLS_VAR`]); an unset or empty variable means the default.
//! - A value that does not parse, or limits that contradict each other, stop the worker before
//!   it connects, with a message naming the variable and the fix: a guard silently running on
//!   defaults the operator did not choose would be worse than no worker.

/// The variable for [`Limits::repeat_warn`].
pub const REPEAT_WARN_VAR: &str = "AGENTOS_GUARD_REPEAT_WARN";
/// The variable for [`Limits::repeat_block`].
pub const REPEAT_BLOCK_VAR: &str = "AGENTOS_GUARD_REPEAT_BLOCK";
/// The variable for [`Limits::max_calls`].
pub const MAX_CALLS_VAR: &str = "AGENTOS_GUARD_MAX_CALLS";

/// The thresholds of the three rules (see the crate docs for what each counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The identical call in a row that is warned. Default 3: twice can be a retry after a
    /// transient failure, a third time rarely is.
    pub repeat_warn: usize,
    /// The identical call in a row that is blocked. Default 5: two warned calls give the model
    /// room to change course before it loses the tool.
    pub repeat_block: usize,
    /// The cycle pass (counting the first) whose completion is warned. Default 3: two
    /// repetitions beyond the first; one repetition (A-B-A-B) is common in honest work, such as
    /// edit → test → edit → test.
    pub cycle_warn: usize,
    /// The cycle pass whose completion is blocked. Default 4: one more pass after the warning.
    pub cycle_block: usize,
    /// The most calls one turn may make. Default 50: far more than a normal turn needs, few
    /// enough to stop a runaway before it burns a budget.
    pub max_calls: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { repeat_warn: 3, repeat_block: 5, cycle_warn: 3, cycle_block: 4, max_calls: 50 }
    }
}

/// Why the configured limits cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitsError {
    /// A variable is not a whole number in range.
    #[error(
        "{var}={value:?} is not a whole number of at least {min}: set it to, for example, {example}, or unset it for the default"
    )]
    NotANumber {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// The smallest value accepted.
        min: usize,
        /// A value that works.
        example: usize,
    },
    /// The repeat thresholds are in the wrong order.
    #[error(
        "{REPEAT_WARN_VAR}={warn} is above {REPEAT_BLOCK_VAR}={block}: the warning must come no later than the block; lower the first or raise the second"
    )]
    WarnAfterBlock {
        /// The warn threshold.
        warn: usize,
        /// The block threshold.
        block: usize,
    },
}

impl Limits {
    /// The limits from the process environment; see [`Limits::from_lookup`].
    pub fn from_env() -> Result<Self, LimitsError> {
        Self::from_lookup(|var| std::env::var_os(var).map(|v| v.to_string_lossy().into_owned()))
    }

    /// The limits from `lookup` (a variable name → its value): defaults where a variable is
    /// unset or empty. Errors name the variable and the fix.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, LimitsError> {
        let defaults = Self::default();
        let read = |var: &'static str, min: usize, default: usize| -> Result<usize, LimitsError> {
            match lookup(var) {
                None => Ok(default),
                Some(v) if v.trim().is_empty() => Ok(default),
                Some(v) => match v.trim().parse::<usize>() {
                    Ok(n) if n >= min => Ok(n),
                    _ => Err(LimitsError::NotANumber { var, value: v, min, example: default }),
                },
            }
        };
        // A repeat threshold of 1 would fire on every call; 2 is the least that means "again".
        let repeat_warn = read(REPEAT_WARN_VAR, 2, defaults.repeat_warn)?;
        let repeat_block = read(REPEAT_BLOCK_VAR, 2, defaults.repeat_block)?;
        let max_calls = read(MAX_CALLS_VAR, 1, defaults.max_calls)?;
        if repeat_warn > repeat_block {
            return Err(LimitsError::WarnAfterBlock { warn: repeat_warn, block: repeat_block });
        }
        Ok(Self { repeat_warn, repeat_block, max_calls, ..defaults })
    }

    /// The call number from which the runaway rule warns: 80 % of [`Limits::max_calls`],
    /// rounded up (40 of 50), so the model gets a few calls' notice before the block.
    pub fn runaway_warn_from(&self) -> usize {
        (self.max_calls * 4).div_ceil(5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn from(vars: &[(&str, &str)]) -> Result<Limits, LimitsError> {
        Limits::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_string()))
    }

    #[test]
    fn unset_and_empty_variables_mean_the_defaults() {
        assert_eq!(from(&[]), Ok(Limits::default()));
        assert_eq!(from(&[(REPEAT_WARN_VAR, ""), (MAX_CALLS_VAR, "  ")]), Ok(Limits::default()));
    }

    #[test]
    fn set_variables_override_the_defaults() {
        let limits = from(&[(REPEAT_WARN_VAR, "2"), (REPEAT_BLOCK_VAR, " 4 "), (MAX_CALLS_VAR, "10")]);
        assert_eq!(limits, Ok(Limits { repeat_warn: 2, repeat_block: 4, max_calls: 10, ..Limits::default() }));
    }

    #[test]
    fn a_value_that_does_not_parse_names_its_variable_and_the_fix() {
        let err = from(&[(MAX_CALLS_VAR, "lots")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "AGENTOS_GUARD_MAX_CALLS=\"lots\" is not a whole number of at least 1: set it to, for example, 50, or unset it for the default"
        );
        assert!(matches!(from(&[(REPEAT_WARN_VAR, "1")]), Err(LimitsError::NotANumber { var: REPEAT_WARN_VAR, .. })));
        assert!(matches!(
            from(&[(REPEAT_BLOCK_VAR, "-3")]),
            Err(LimitsError::NotANumber { var: REPEAT_BLOCK_VAR, .. })
        ));
        assert!(matches!(from(&[(MAX_CALLS_VAR, "0")]), Err(LimitsError::NotANumber { var: MAX_CALLS_VAR, .. })));
    }

    #[test]
    fn a_warning_after_the_block_is_refused() {
        assert_eq!(from(&[(REPEAT_WARN_VAR, "6")]), Err(LimitsError::WarnAfterBlock { warn: 6, block: 5 }));
    }

    #[test]
    fn the_runaway_warning_starts_at_eighty_percent_rounded_up() {
        let at = |max_calls| Limits { max_calls, ..Limits::default() }.runaway_warn_from();
        assert_eq!([at(50), at(10), at(7), at(1)], [40, 8, 6, 1]);
    }
}
