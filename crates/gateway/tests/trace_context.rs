//! W3C trace context: with OTLP export switched on by `OTEL_EXPORTER_OTLP_ENDPOINT`
//! (the same `telemetry::init` the `herald` binary installs), a request carrying a
//! `traceparent` produces spans in the caller's trace, the request span a child of the
//! caller's span and the recipe span a child of the request span. An in-process
//! receiver decodes what arrives.
//!
//! One test per binary: it installs the process's global subscriber and sets the
//! environment before any other thread reads it.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::json;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN_ID: &str = "00f067aa0ba902b7";

/// Accepts OTLP/HTTP posts, answers 200, and hands each body over.
fn spawn_receiver() -> (String, mpsc::Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (posts, received) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream);
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let mut stream = reader.into_inner();
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = posts.send(body);
        }
    });
    (endpoint, received)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    span.attributes.iter().find(|kv| kv.key == key).and_then(|kv| match &kv.value {
        Some(value) => match &value.value {
            Some(Value::StringValue(text)) => Some(text.clone()),
            _ => None,
        },
        None => None,
    })
}

#[test]
fn a_traceparent_makes_the_request_and_recipe_spans_part_of_the_callers_trace() {
    let (endpoint, received) = spawn_receiver();
    // SAFETY: set before the runtime and the exporter start their threads;
    // this binary runs this one test.
    unsafe { std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint) };
    let telemetry =
        server::telemetry::init(server::telemetry::LogFormat::Text).expect("telemetry installs");
    assert!(telemetry.exporting());

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let backend = common::Backend::start().await;
        let app = backend.app();
        let lease = common::call(&app, Method::POST, "/v1/leases", Some(json!({"ttl_ms": 4000})))
            .await
            .json["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let traceparent = format!("00-{TRACE_ID}-{CALLER_SPAN_ID}-01");
        let headers = [("traceparent", traceparent.as_str()), ("tracestate", "vendor=1")];
        let uri = format!("/v1/locks/{}-traced/acquire", backend.root);
        let granted =
            common::call_with(&app, Method::POST, &uri, Some(json!({"lease": lease})), &headers)
                .await;
        assert_eq!(granted.status, StatusCode::OK, "{}", granted.text);
    });
    drop(runtime);
    // Dropping the guard flushes the batch to the receiver.
    drop(telemetry);

    let mut in_trace: Vec<Span> = Vec::new();
    while let Ok(body) = received.recv_timeout(Duration::from_secs(10)) {
        let export = ExportTraceServiceRequest::decode(body.as_slice()).expect("OTLP protobuf");
        let spans = export
            .resource_spans
            .into_iter()
            .flat_map(|resource| resource.scope_spans)
            .flat_map(|scope| scope.spans);
        in_trace.extend(spans.filter(|span| hex(&span.trace_id) == TRACE_ID));
        let names: Vec<&str> = in_trace.iter().map(|span| span.name.as_str()).collect();
        if names.contains(&"http_request") && names.contains(&"recipe") {
            break;
        }
    }
    let names: Vec<&str> = in_trace.iter().map(|span| span.name.as_str()).collect();
    let request = in_trace
        .iter()
        .find(|span| {
            span.name == "http_request" && attribute(span, "method").as_deref() == Some("POST")
        })
        .unwrap_or_else(|| panic!("no request span in the caller's trace: {names:?}"));
    assert_eq!(hex(&request.parent_span_id), CALLER_SPAN_ID, "the caller's span is the parent");
    let recipe = in_trace
        .iter()
        .find(|span| span.name == "recipe")
        .unwrap_or_else(|| panic!("no recipe span in the caller's trace: {names:?}"));
    assert_eq!(attribute(recipe, "operation").as_deref(), Some("lock.acquire"));
    assert_eq!(recipe.parent_span_id, request.span_id, "the recipe work runs under the request");
}
