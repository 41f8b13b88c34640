//! JSON Schema validation per namespace, through the `jsonschema` crate (built without
//! remote reference resolution: schemas must be self-contained).

use serde_json::Value;

use crate::error::ConfigError;
use crate::settings::SCHEMA_BYTES_MAX;

/// Checks that `schema` is a valid JSON Schema within the size limit.
pub fn check_schema(schema: &Value) -> Result<(), ConfigError> {
    let bytes = serde_json::to_vec(schema).map(|bytes| bytes.len()).unwrap_or(usize::MAX);
    if bytes > SCHEMA_BYTES_MAX {
        return Err(ConfigError::InvalidSchema(format!(
            "schema is {bytes} bytes; the limit is {SCHEMA_BYTES_MAX}"
        )));
    }
    jsonschema::validator_for(schema)
        .map(|_| ())
        .map_err(|error| ConfigError::InvalidSchema(error.to_string()))
}

/// Validates `value` against `schema`, naming every violation.
pub fn validate(schema: &Value, value: &Value) -> Result<(), ConfigError> {
    let validator = jsonschema::validator_for(schema)
        .map_err(|error| ConfigError::InvalidSchema(error.to_string()))?;
    let violations: Vec<String> = validator
        .iter_errors(value)
        .map(|error| format!("{} (at '{}')", error, error.instance_path()))
        .collect();
    if violations.is_empty() {
        Ok(())
    } else {
        Err(ConfigError::SchemaViolation(violations.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_checked_against_the_schema() {
        let schema = json!({"type": "object", "required": ["limit"], "properties": {"limit": {"type": "integer", "minimum": 1}}});
        check_schema(&schema).unwrap();
        validate(&schema, &json!({"limit": 5})).unwrap();
        let error = validate(&schema, &json!({"limit": 0})).unwrap_err();
        assert!(
            matches!(error, ConfigError::SchemaViolation(ref text) if text.contains("/limit")),
            "{error}"
        );
        assert!(validate(&schema, &json!({})).is_err());
    }

    #[test]
    fn invalid_and_oversized_schemas_are_refused() {
        assert!(matches!(check_schema(&json!({"type": 12})), Err(ConfigError::InvalidSchema(_))));
        let huge = json!({"description": "x".repeat(SCHEMA_BYTES_MAX)});
        assert!(matches!(check_schema(&huge), Err(ConfigError::InvalidSchema(_))));
    }
}
