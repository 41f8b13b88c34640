//! Znode paths and name checks.

use crate::error::ConfigError;
use crate::settings::NAME_BYTES_MAX;

pub fn history_name(version: i32) -> String {
    format!("v-{version:010}")
}

pub fn parse_history_name(name: &str) -> Option<i32> {
    name.strip_prefix("v-")?.parse().ok()
}

/// Namespaces and keys become single znode names: a conservative charset, and never
/// `.` or `..`.
pub fn validate_name(kind: &str, name: &str) -> Result<(), ConfigError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
    if name.is_empty()
        || name.len() > NAME_BYTES_MAX
        || !name.chars().all(allowed)
        || name == "."
        || name == ".."
    {
        return Err(ConfigError::Invalid(format!(
            "{kind} must be 1..={NAME_BYTES_MAX} characters of [A-Za-z0-9-_.:], not '.' or '..'"
        )));
    }
    Ok(())
}

/// The paths of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPaths {
    pub namespace: String,
    pub keys: String,
    pub histories: String,
    pub value: String,
    pub history: String,
}

impl KeyPaths {
    pub fn new(root: &str, namespace: &str, key: &str) -> Result<KeyPaths, ConfigError> {
        validate_name("namespace", namespace)?;
        validate_name("key", key)?;
        let namespace_path = format!("{root}/{namespace}");
        Ok(KeyPaths {
            keys: format!("{namespace_path}/keys"),
            histories: format!("{namespace_path}/history"),
            value: format!("{namespace_path}/keys/{key}"),
            history: format!("{namespace_path}/history/{key}"),
            namespace: namespace_path,
        })
    }

    pub fn version(&self, version: i32) -> String {
        format!("{}/{}", self.history, history_name(version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_names_sort_by_version_and_parse_back() {
        let mut names = [history_name(10), history_name(9), history_name(0)];
        names.sort();
        let versions: Vec<i32> = names.iter().filter_map(|n| parse_history_name(n)).collect();
        assert_eq!(versions, [0, 9, 10]);
        assert_eq!(parse_history_name("x-1"), None);
    }

    #[test]
    fn paths_are_built_from_checked_names() {
        let paths = KeyPaths::new("/c", "payments", "limits").unwrap();
        assert_eq!(paths.value, "/c/payments/keys/limits");
        assert_eq!(paths.version(3), "/c/payments/history/limits/v-0000000003");
        assert!(KeyPaths::new("/c", "..", "k").is_err());
        assert!(KeyPaths::new("/c", "ns", "a/b").is_err());
        assert!(KeyPaths::new("/c", "ns", &"k".repeat(NAME_BYTES_MAX)).is_ok());
        assert!(KeyPaths::new("/c", "ns", &"k".repeat(NAME_BYTES_MAX + 1)).is_err());
    }
}
