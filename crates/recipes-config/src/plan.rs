//! Pure decisions for writes: compare-and-set and the history window.

use std::fmt;

use crate::error::ConfigError;

/// What a write expects of the key it replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// Write whatever the current version is.
    Any,
    /// Create only: the key must not exist.
    Absent,
    /// The key must be at exactly this version.
    Version(i32),
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Any => write!(f, "any version"),
            Expected::Absent => write!(f, "an absent key"),
            Expected::Version(version) => write!(f, "version {version}"),
        }
    }
}

/// Checks `expected` against the key's current version (`None` = absent) and returns
/// the version the write will produce.
pub fn next_version(current: Option<i32>, expected: Expected) -> Result<i32, ConfigError> {
    let conflict = || ConfigError::Conflict { expected, current };
    match (expected, current) {
        (Expected::Absent, Some(_)) => Err(conflict()),
        (Expected::Version(wanted), Some(version)) if wanted != version => Err(conflict()),
        (Expected::Version(_), None) => Err(conflict()),
        (_, None) => Ok(0),
        (_, Some(version)) => version
            .checked_add(1)
            .ok_or_else(|| ConfigError::Invalid("the key has reached its last version".into())),
    }
}

/// The history entry that leaves the window when `new_version` is written, keeping
/// `history_versions` entries.
pub fn evicted_version(new_version: i32, history_versions: u32) -> Option<i32> {
    let evicted = i64::from(new_version) - i64::from(history_versions);
    i32::try_from(evicted).ok().filter(|version| *version >= 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_and_set_accepts_only_the_expected_state() {
        assert_eq!(next_version(None, Expected::Any).unwrap(), 0);
        assert_eq!(next_version(None, Expected::Absent).unwrap(), 0);
        assert_eq!(next_version(Some(4), Expected::Any).unwrap(), 5);
        assert_eq!(next_version(Some(4), Expected::Version(4)).unwrap(), 5);
        for (current, expected) in [
            (Some(4), Expected::Version(3)),
            (Some(0), Expected::Absent),
            (None, Expected::Version(0)),
        ] {
            let error = next_version(current, expected).unwrap_err();
            assert!(matches!(error, ConfigError::Conflict { current: c, .. } if c == current));
        }
        assert!(matches!(
            next_version(Some(i32::MAX), Expected::Any),
            Err(ConfigError::Invalid(_))
        ));
    }

    #[test]
    fn the_window_evicts_exactly_one_entry_once_full() {
        assert_eq!(evicted_version(0, 3), None);
        assert_eq!(evicted_version(2, 3), None);
        assert_eq!(evicted_version(3, 3), Some(0));
        assert_eq!(evicted_version(10, 3), Some(7));
        assert_eq!(evicted_version(5, 1), Some(4));
    }
}
