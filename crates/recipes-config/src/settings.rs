//! The limits a config store runs with.

use crate::error::ConfigError;

/// Versions kept per key by default. Also how far a stream subscriber may fall behind
/// (or be disconnected) and still resume without a gap.
pub const HISTORY_VERSIONS_DEFAULT: u32 = 1_000;
/// The most versions a key may keep: a listing of its history stays far below the
/// 1 MiB packet limit (each name is 12 bytes).
pub const HISTORY_VERSIONS_MAX: u32 = 10_000;
/// Largest value, serialized. Each version is stored twice (current and history).
pub const VALUE_BYTES_MAX: usize = 256 * 1024;
/// Largest schema, serialized.
pub const SCHEMA_BYTES_MAX: usize = 64 * 1024;
/// Longest namespace or key.
pub const NAME_BYTES_MAX: usize = 128;
/// Where config lives by default.
pub const ROOT_DEFAULT: &str = "/herald/config";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSettings {
    pub root: String,
    /// Versions kept per key (the current one included).
    pub history_versions: u32,
}

impl Default for ConfigSettings {
    fn default() -> Self {
        ConfigSettings {
            root: ROOT_DEFAULT.to_string(),
            history_versions: HISTORY_VERSIONS_DEFAULT,
        }
    }
}

impl ConfigSettings {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.root.starts_with('/') || self.root.ends_with('/') {
            return Err(ConfigError::Invalid(format!(
                "root {:?} must start with '/' and not end with one",
                self.root
            )));
        }
        if self.history_versions == 0 || self.history_versions > HISTORY_VERSIONS_MAX {
            return Err(ConfigError::Invalid(format!(
                "history_versions must be 1..={HISTORY_VERSIONS_MAX}"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_length_is_checked_at_its_bounds() {
        let at_bound =
            ConfigSettings { history_versions: HISTORY_VERSIONS_MAX, ..Default::default() };
        assert!(at_bound.validate().is_ok());
        let past =
            ConfigSettings { history_versions: HISTORY_VERSIONS_MAX + 1, ..Default::default() };
        assert!(past.validate().is_err());
        assert!(ConfigSettings { history_versions: 0, ..Default::default() }.validate().is_err());
        assert!(ConfigSettings { root: "x".into(), ..Default::default() }.validate().is_err());
    }

    #[test]
    fn a_full_history_listing_stays_well_under_the_packet_limit() {
        let name = crate::layout::history_name(i32::MAX);
        let reply_bytes = 16 + 4 + HISTORY_VERSIONS_MAX as usize * (4 + name.len());
        assert!(reply_bytes * 4 < 1024 * 1024, "{reply_bytes}");
    }
}
