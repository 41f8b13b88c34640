//! The `herald server` configuration: one TOML file, then environment
//! variables, then `--set` flags, validated into a [`server::ServerConfig`].
//!
//! - [`sections`]: the TOML shape (`[server]`, `[ensemble]`), one line per key.
//! - [`overrides`]: `HERALD_<SECTION>_<KEY>` variables and `--set SECTION.KEY=VALUE`.
//! - [`identity`]: a node's id from its StatefulSet pod hostname.
//! - [`validate`]: checks that name the key and the problem; builds `ServerConfig`.
//! - [`error`]: the one error type.
//!
//! Everything here is pure: the caller reads the file, the environment and
//! the hostname and passes them in, so every rule is testable without IO.

pub mod error;
pub mod identity;
pub mod overrides;
pub mod sections;
pub mod validate;

#[cfg(test)]
mod tests;

use server::ServerConfig;

pub use error::ConfigError;
pub use sections::FileConfig;

/// Where the configuration comes from, in increasing precedence.
#[derive(Debug, Default)]
pub struct Sources<'a> {
    /// The TOML file's text; `None` = defaults only.
    pub file_text: Option<&'a str>,
    /// The process environment; only `HERALD_<SECTION>_<KEY>` variables are read.
    pub environment: Vec<(String, String)>,
    /// `--set SECTION.KEY=VALUE` flags, in order (a later one wins).
    pub sets: Vec<String>,
    /// The machine's hostname, used when `ensemble.me_from_hostname = true`.
    pub hostname: Option<String>,
}

/// The configuration a node runs with.
#[derive(Debug)]
pub struct Effective {
    /// The merged file with defaults filled in and `me` resolved, for printing.
    pub file: FileConfig,
    /// What the node is started with.
    pub server: ServerConfig,
}

/// Merges the sources, rejects unknown keys and bad values, and resolves identity.
pub fn resolve(sources: &Sources<'_>) -> Result<Effective, ConfigError> {
    let mut table = match sources.file_text {
        Some(text) => toml::from_str::<toml::Table>(text)
            .map_err(|error| ConfigError::Syntax(error.to_string()))?,
        None => toml::Table::new(),
    };
    let mut origins = overrides::Origins::default();
    overrides::apply_environment(&mut table, &sources.environment, &mut origins)?;
    overrides::apply_sets(&mut table, &sources.sets, &mut origins)?;
    let file = sections::from_table(table).map_err(|error| origins.attribute(error))?;
    validate::validate(file, sources.hostname.as_deref()).map_err(|error| origins.attribute(error))
}

/// The effective configuration as TOML, with the peer secret masked.
pub fn render(file: &FileConfig) -> String {
    let mut shown = file.clone();
    if let Some(ensemble) = shown.ensemble.as_mut()
        && ensemble.secret.is_some()
    {
        ensemble.secret = Some(SECRET_MASK.to_string());
    }
    toml::to_string_pretty(&shown).expect("the configuration sections serialize to TOML")
}

/// Shown instead of the peer secret, so printed configurations can be shared.
pub const SECRET_MASK: &str = "<redacted>";
