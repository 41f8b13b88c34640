//! Environment variables and `--set` flags layered over the file.
//!
//! `HERALD_SERVER_TICK_MS=500` and `--set server.tick_ms=500` both set
//! `tick_ms` in `[server]`. Values are read as TOML (`500`, `true`,
//! `[{ id = 1, peer_address = "a:2888" }]`); anything that is not TOML is
//! taken as a string, so `0.0.0.0:2181` needs no quotes. A string that looks
//! like a number must be quoted: `HERALD_ENSEMBLE_SECRET='"1234"'`.
//! Variables whose name does not start with `HERALD_<SECTION>_` for a known
//! section are not configuration (`herald dev` reads `HERALD_LISTEN`).

use std::collections::BTreeMap;

use super::ConfigError;
use super::sections::SECTIONS;

/// Prefix of configuration environment variables.
pub const ENVIRONMENT_PREFIX: &str = "HERALD_";

/// Which variable or flag set each overridden key, so an error can say so.
#[derive(Debug, Default)]
pub struct Origins {
    by_key: BTreeMap<String, String>,
}

impl Origins {
    /// Adds the origin of the key named in `error`, if an override set it
    /// (or set an enclosing table, such as the whole `ensemble.members`).
    pub fn attribute(&self, error: ConfigError) -> ConfigError {
        match error {
            ConfigError::Invalid { key, problem, origin: None } => {
                let origin = self
                    .by_key
                    .iter()
                    .filter(|(set_key, _)| {
                        key == **set_key
                            || key.starts_with(&format!("{set_key}."))
                            || key.starts_with(&format!("{set_key}["))
                    })
                    .max_by_key(|(set_key, _)| set_key.len())
                    .map(|(_, origin)| origin.clone());
                ConfigError::Invalid { key, problem, origin }
            }
            other => other,
        }
    }
}

/// Applies every `HERALD_<SECTION>_<KEY>` variable, in name order.
pub fn apply_environment(
    table: &mut toml::Table,
    environment: &[(String, String)],
    origins: &mut Origins,
) -> Result<(), ConfigError> {
    let mut variables: Vec<&(String, String)> = environment.iter().collect();
    variables.sort();
    for (name, value) in variables {
        let Some(rest) = name.strip_prefix(ENVIRONMENT_PREFIX) else { continue };
        let rest = rest.to_ascii_lowercase();
        let Some((section, key)) = SECTIONS.iter().find_map(|section| {
            rest.strip_prefix(section)?.strip_prefix('_').map(|key| (*section, key))
        }) else {
            continue;
        };
        if key.is_empty() {
            return Err(ConfigError::Override {
                name: name.clone(),
                problem: format!("names the [{section}] section but no key"),
            });
        }
        set(table, section, key, value, name)?;
        origins.by_key.insert(format!("{section}.{key}"), format!("environment variable {name}"));
    }
    Ok(())
}

/// Applies `SECTION.KEY=VALUE` flags in order.
pub fn apply_sets(
    table: &mut toml::Table,
    sets: &[String],
    origins: &mut Origins,
) -> Result<(), ConfigError> {
    for assignment in sets {
        let flag = format!("--set {assignment}");
        let malformed = |problem: &str| ConfigError::Override {
            name: flag.clone(),
            problem: problem.to_string(),
        };
        let (path, value) =
            assignment.split_once('=').ok_or_else(|| malformed("expected SECTION.KEY=VALUE"))?;
        let (section, key) = path
            .trim()
            .split_once('.')
            .ok_or_else(|| malformed("expected SECTION.KEY=VALUE (the key needs its section)"))?;
        if section.is_empty() || key.is_empty() || key.contains('.') {
            return Err(malformed("expected SECTION.KEY=VALUE with one section and one key"));
        }
        set(table, section, key, value, &flag)?;
        origins.by_key.insert(format!("{section}.{key}"), format!("flag {flag}"));
    }
    Ok(())
}

fn set(
    table: &mut toml::Table,
    section: &str,
    key: &str,
    raw: &str,
    name: &str,
) -> Result<(), ConfigError> {
    let entry =
        table.entry(section.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let toml::Value::Table(section_table) = entry else {
        return Err(ConfigError::Override {
            name: name.to_string(),
            problem: format!("`{section}` in the file is not a table"),
        });
    };
    section_table.insert(key.to_string(), parse_value(raw));
    Ok(())
}

/// A TOML value if `raw` is one, else `raw` as a string.
pub fn parse_value(raw: &str) -> toml::Value {
    let trimmed = raw.trim();
    toml::from_str::<toml::Table>(&format!("value = {trimmed}"))
        .ok()
        .and_then(|mut parsed| parsed.remove("value"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}
