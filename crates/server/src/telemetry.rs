//! Process-wide logging and trace export, set up once by the binary.
//!
//! Logs go to stderr as text or JSON, filtered by `RUST_LOG` (default
//! `info`). Spans are exported over OTLP (HTTP/protobuf) only when the
//! standard `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
//! variable is set (and `OTEL_SDK_DISABLED` is not `true`); the exporter
//! reads the other `OTEL_*` variables itself. Unset, no OpenTelemetry layer
//! is installed at all, so nothing is exported and nothing slows down.
//! Exported spans have their own filter ([`EXPORTED_SPANS_FILTER`]).

use std::str::FromStr;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanExporter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// The log filter when `RUST_LOG` is unset or unparsable.
pub const LOG_FILTER_DEFAULT: &str = "info";
/// Which spans are exported when OTLP is on, independent of `RUST_LOG`:
/// the node's per-request and per-ZAB-round spans and the gateway's request
/// and recipe spans are at debug level, so logs stay quiet while traces still
/// carry every request.
pub const EXPORTED_SPANS_FILTER: &str = "info,server=debug,gateway=debug";
/// The `service.name` spans carry unless `OTEL_SERVICE_NAME` says otherwise.
pub const SERVICE_NAME_DEFAULT: &str = "herald";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl FromStr for LogFormat {
    type Err = TelemetryError;

    fn from_str(text: &str) -> Result<LogFormat, TelemetryError> {
        match text {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(TelemetryError::LogFormat(other.to_string())),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("unknown log format {0:?}: expected \"text\" or \"json\"")]
    LogFormat(String),
    #[error("cannot build the OTLP span exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    #[error("a global tracing subscriber is already installed: {0}")]
    AlreadyInstalled(#[from] tracing_subscriber::util::TryInitError),
}

/// Keeps trace export running; dropping it flushes the spans still queued.
pub struct Telemetry {
    tracer_provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are being exported.
    pub fn exporting(&self) -> bool {
        self.tracer_provider.is_some()
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.tracer_provider.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("flushing spans at exit failed: {error}");
        }
    }
}

/// Whether the environment asks for OTLP export (read through `variable`
/// so tests need not touch the process environment).
pub fn otlp_requested(variable: impl Fn(&str) -> Option<String>) -> bool {
    let set = |name: &str| variable(name).is_some_and(|value| !value.trim().is_empty());
    let disabled =
        variable("OTEL_SDK_DISABLED").is_some_and(|value| value.eq_ignore_ascii_case("true"));
    let no_exporter = variable("OTEL_TRACES_EXPORTER").is_some_and(|value| value == "none");
    !disabled
        && !no_exporter
        && (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
}

/// A tracer provider sending to `exporter` in batches, named after the service.
pub fn tracer_provider(exporter: impl SpanExporter + 'static) -> SdkTracerProvider {
    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name(SERVICE_NAME_DEFAULT);
    }
    SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build()
}

/// The `tracing` layer that turns spans into OpenTelemetry spans of `provider`.
pub fn otel_layer<S>(
    provider: &SdkTracerProvider,
) -> tracing_opentelemetry::OpenTelemetryLayer<S, SdkTracer>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    tracing_opentelemetry::layer().with_tracer(provider.tracer("herald"))
}

/// Installs the process's global subscriber: logs in `format`, plus OTLP
/// export when the environment asks for it.
pub fn init(format: LogFormat) -> Result<Telemetry, TelemetryError> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(LOG_FILTER_DEFAULT));
    let logs = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer().with_writer(std::io::stderr).boxed(),
        LogFormat::Json => {
            tracing_subscriber::fmt::layer().json().with_writer(std::io::stderr).boxed()
        }
    };
    let tracer_provider = if otlp_requested(|name| std::env::var(name).ok()) {
        let exporter = opentelemetry_otlp::SpanExporter::builder().with_http().build()?;
        Some(tracer_provider(exporter))
    } else {
        None
    };
    let otel = tracer_provider
        .as_ref()
        .map(|provider| otel_layer(provider).with_filter(EnvFilter::new(EXPORTED_SPANS_FILTER)));
    Registry::default().with(otel).with(logs.with_filter(filter)).try_init()?;
    Ok(Telemetry { tracer_provider })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn environment<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| pairs.iter().find(|(key, _)| *key == name).map(|(_, value)| value.to_string())
    }

    #[test]
    fn export_is_off_unless_an_endpoint_is_set() {
        assert!(!otlp_requested(environment(&[])));
        assert!(!otlp_requested(environment(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")])));
        assert!(otlp_requested(environment(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")])));
        assert!(otlp_requested(environment(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c")])));
        assert!(!otlp_requested(environment(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_SDK_DISABLED", "true"),
        ])));
    }

    #[test]
    fn log_formats_parse_and_unknown_ones_are_named() {
        assert_eq!("json".parse::<LogFormat>().unwrap(), LogFormat::Json);
        assert_eq!("text".parse::<LogFormat>().unwrap(), LogFormat::Text);
        let error = "xml".parse::<LogFormat>().unwrap_err();
        assert!(error.to_string().contains("\"xml\""), "{error}");
    }
}
