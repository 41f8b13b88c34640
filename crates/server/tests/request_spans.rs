//! Each client request becomes a span carrying its opcode, session and zxid,
//! captured with the OpenTelemetry SDK's in-memory exporter.

mod common;

use common::TestNode;
use opentelemetry::Value;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt;
use zookeeper_client::{Acls, CreateMode};

fn attribute(span: &opentelemetry_sdk::trace::SpanData, key: &str) -> Option<Value> {
    span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.clone())
}

// A current-thread runtime: the node's tasks run on this thread, under the
// subscriber installed for it.
#[tokio::test]
async fn a_create_is_exported_as_a_request_span_with_its_session_and_zxid() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    let subscriber = tracing_subscriber::registry()
        .with(server::telemetry::otel_layer(&provider))
        .with(tracing_subscriber::EnvFilter::new("server=debug"));
    let _installed = tracing::subscriber::set_default(subscriber);

    let node = TestNode::start().await;
    let client = node.client().await;
    let created = CreateMode::Persistent.with_acls(Acls::anyone_all());
    let (stat, _) = client.create("/traced", b"", &created).await.unwrap();
    provider.force_flush().unwrap();

    let spans = exporter.get_finished_spans().unwrap();
    let create = spans
        .iter()
        .filter(|span| span.name == "request")
        .find(|span| attribute(span, "op").is_some_and(|op| op.as_str().starts_with("Create")))
        .unwrap_or_else(|| panic!("no create span among {spans:?}"));
    assert_eq!(attribute(create, "session"), Some(Value::I64(client.session_id().0)));
    assert_eq!(attribute(create, "zxid"), Some(Value::I64(stat.czxid)));
    assert!(attribute(create, "xid").is_some());
}
