//! With `OTEL_EXPORTER_OTLP_ENDPOINT` set, `telemetry::init` exports request
//! spans over OTLP/HTTP: an in-process receiver decodes what arrives.
//!
//! One test per binary: it installs the process's global subscriber and
//! sets the environment before any other thread reads it.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message;
use zookeeper_client::{Acls, CreateMode};

/// Accepts OTLP/HTTP posts, answers 200, and hands each (path, body) over.
fn spawn_receiver() -> (String, mpsc::Receiver<(String, Vec<u8>)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (posts, received) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream);
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let path = request_line.split(' ').nth(1).unwrap_or_default().to_string();
            let mut length = 0;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                    break;
                }
                if let Some((name, value)) = header.split_once(':')
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
            let _ = posts.send((path, body));
        }
    });
    (endpoint, received)
}

#[test]
fn request_spans_reach_an_otlp_receiver_when_the_endpoint_is_set() {
    let (endpoint, received) = spawn_receiver();
    // SAFETY: set before the runtime and the exporter start their threads;
    // this binary runs this one test.
    unsafe { std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint) };
    let telemetry =
        server::telemetry::init(server::telemetry::LogFormat::Json).expect("telemetry installs");
    assert!(telemetry.exporting());

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let node = common::TestNode::start().await;
        let client = node.client().await;
        let created = CreateMode::Persistent.with_acls(Acls::anyone_all());
        client.create("/exported", b"", &created).await.unwrap();
    });
    drop(runtime);
    // Dropping the guard flushes the batch to the receiver.
    drop(telemetry);

    let mut operations = Vec::new();
    let mut service_names = Vec::new();
    while let Ok((path, body)) = received.recv_timeout(Duration::from_secs(10)) {
        assert_eq!(path, "/v1/traces");
        let export = ExportTraceServiceRequest::decode(body.as_slice()).expect("OTLP protobuf");
        for resource_spans in export.resource_spans {
            for attribute in resource_spans.resource.iter().flat_map(|r| r.attributes.iter()) {
                if attribute.key == "service.name"
                    && let Some(Value::StringValue(name)) =
                        attribute.value.as_ref().and_then(|v| v.value.clone())
                {
                    service_names.push(name);
                }
            }
            for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
                if span.name != "request" {
                    continue;
                }
                for attribute in span.attributes {
                    if attribute.key == "op"
                        && let Some(Value::StringValue(op)) = attribute.value.and_then(|v| v.value)
                    {
                        operations.push(op);
                    }
                }
            }
        }
        if operations.iter().any(|op| op.starts_with("Create")) {
            break;
        }
    }
    assert!(operations.iter().any(|op| op.starts_with("Create")), "exported: {operations:?}");
    assert!(service_names.iter().any(|name| name == "herald"), "{service_names:?}");
}
