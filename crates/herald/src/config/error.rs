//! The one error type of configuration loading.

/// Why a configuration was rejected. Every variant names what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file is not valid TOML (the message carries the line and column).
    #[error("not valid TOML: {0}")]
    Syntax(String),
    /// A `--set` flag or environment variable that cannot be applied.
    #[error("{name}: {problem}")]
    Override { name: String, problem: String },
    /// A key that is unknown or whose value is wrong.
    #[error("{key}: {problem}{}", origin.as_ref().map(|origin| format!(" (set by {origin})")).unwrap_or_default())]
    Invalid { key: String, problem: String, origin: Option<String> },
}

impl ConfigError {
    pub fn invalid(key: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError::Invalid { key: key.into(), problem: problem.into(), origin: None }
    }
}
