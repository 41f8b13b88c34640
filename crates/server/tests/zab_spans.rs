//! Per-ZAB-round spans on a three-member ensemble, captured by a tracing
//! layer: one per proposal (closed at commit) and one per learner sync.
//!
//! One test per binary: the spans are captured by a subscriber scoped to this
//! test's thread, and another test's threads hitting the same callsites first
//! could leave their interest cached without it.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use common::ensemble::Ensemble;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};
use zookeeper_client::{Acls, CreateMode};

/// A span as the capturing layer saw it: name, fields, and whether it closed.
#[derive(Clone, Debug)]
struct SeenSpan {
    name: &'static str,
    fields: BTreeMap<String, String>,
    closed: bool,
}

#[derive(Clone, Default)]
struct CaptureSpans {
    spans: Arc<Mutex<BTreeMap<u64, SeenSpan>>>,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_string(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl<S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>> Layer<S>
    for CaptureSpans
{
    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let name = attributes.metadata().name();
        if !name.starts_with("zab_") {
            return;
        }
        let mut fields = BTreeMap::new();
        attributes.record(&mut Fields(&mut fields));
        self.spans.lock().unwrap().insert(id.into_u64(), SeenSpan { name, fields, closed: false });
    }

    fn on_close(&self, id: Id, _: Context<'_, S>) {
        if let Some(span) = self.spans.lock().unwrap().get_mut(&id.into_u64()) {
            span.closed = true;
        }
    }
}

impl CaptureSpans {
    fn named(&self, name: &str) -> Vec<SeenSpan> {
        self.spans.lock().unwrap().values().filter(|span| span.name == name).cloned().collect()
    }
}

// A current-thread runtime: every member's tasks run on this thread, under
// the subscriber installed for it.
#[tokio::test]
async fn a_write_is_a_proposal_span_closed_at_commit_and_each_learner_sync_is_a_span() {
    let capture = CaptureSpans::default();
    let subscriber = tracing_subscriber::registry()
        .with(capture.clone().with_filter(tracing_subscriber::EnvFilter::new("server=debug")));
    let _installed = tracing::subscriber::set_default(subscriber);

    let ensemble = Ensemble::start().await;
    let leader = ensemble.leader();
    let client = ensemble.client(leader).await;
    let persistent = CreateMode::Persistent.with_acls(Acls::anyone_all());
    let (stat, _) = client.create("/zab-round", b"", &persistent).await.unwrap();

    let zxid = stat.czxid.to_string();
    let proposals = capture.named("zab_proposal");
    let create = proposals
        .iter()
        .find(|span| span.fields.get("zxid") == Some(&zxid))
        .unwrap_or_else(|| panic!("no proposal span for zxid {zxid} among {proposals:?}"));
    assert_eq!(create.fields.get("txn_type").map(String::as_str), Some("create"));
    assert!(create.closed, "the reply came after the commit, which ends the round");

    let syncs = capture.named("zab_sync");
    let mut learners: Vec<String> = syncs
        .iter()
        .filter(|s| s.closed)
        .filter_map(|s| s.fields.get("learner").cloned())
        .collect();
    learners.sort();
    learners.dedup();
    let mut expected: Vec<String> =
        (1..=3).filter(|id| *id != leader as u64 + 1).map(|id| id.to_string()).collect();
    expected.sort();
    assert_eq!(learners, expected, "one finished sync round per follower: {syncs:?}");
}
