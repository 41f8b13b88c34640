//! Config against a real server (Herald in-process, or `HERALD_TEST_ZK`).

mod common;

use common::{Ensemble, unique_root, within};
use recipes_config::{ConfigError, ConfigSettings, ConfigStore, Expected};
use serde_json::json;

fn settings(test: &str) -> ConfigSettings {
    ConfigSettings { root: unique_root(test), ..ConfigSettings::default() }
}

async fn store(ensemble: &Ensemble, settings: &ConfigSettings) -> ConfigStore {
    ConfigStore::new(ensemble.client().await, settings.clone()).expect("valid settings")
}

#[tokio::test]
async fn compare_and_set_refuses_stale_versions() {
    let ensemble = Ensemble::start().await;
    let config = store(&ensemble, &settings("cas")).await;
    let created = config.put("app", "limits", json!({"rps": 1}), Expected::Absent).await.unwrap();
    assert_eq!(created.version, 0);
    let again = config.put("app", "limits", json!({"rps": 9}), Expected::Absent).await;
    assert!(matches!(again, Err(ConfigError::Conflict { current: Some(0), .. })), "{again:?}");

    let updated =
        config.put("app", "limits", json!({"rps": 2}), Expected::Version(0)).await.unwrap();
    assert_eq!(updated.version, 1);
    let stale = config.put("app", "limits", json!({"rps": 3}), Expected::Version(0)).await;
    assert!(matches!(stale, Err(ConfigError::Conflict { current: Some(1), .. })), "{stale:?}");
    let missing = config.put("app", "other", json!(1), Expected::Version(0)).await;
    assert!(matches!(missing, Err(ConfigError::Conflict { current: None, .. })), "{missing:?}");

    let read = config.get("app", "limits").await.unwrap();
    assert_eq!((read.version, read.value), (1, json!({"rps": 2})));
    let unconditional = config.put("app", "limits", json!("any"), Expected::Any).await.unwrap();
    assert_eq!(unconditional.version, 2);
}

#[tokio::test]
async fn concurrent_compare_and_set_lets_exactly_one_writer_win_each_version() {
    let ensemble = Ensemble::start().await;
    let settings = settings("cas-race");
    let config = store(&ensemble, &settings).await;
    config.put("app", "k", json!(0), Expected::Absent).await.unwrap();
    let mut writers = Vec::new();
    for writer in 0..4 {
        let config = store(&ensemble, &settings).await;
        writers.push(tokio::spawn(async move {
            config.put("app", "k", json!(writer), Expected::Version(0)).await.is_ok()
        }));
    }
    let mut winners = 0;
    for writer in writers {
        winners += usize::from(writer.await.unwrap());
    }
    assert_eq!(winners, 1);
    assert_eq!(config.get("app", "k").await.unwrap().version, 1);
}

#[tokio::test]
async fn history_keeps_exactly_the_last_n_versions() {
    let ensemble = Ensemble::start().await;
    let settings = ConfigSettings { history_versions: 5, ..settings("history") };
    let config = store(&ensemble, &settings).await;
    for n in 0..12 {
        config.put("app", "k", json!(n), Expected::Any).await.unwrap();
    }
    let history = config.history("app", "k").await.unwrap();
    let versions: Vec<(i32, serde_json::Value)> =
        history.into_iter().map(|entry| (entry.version, entry.value)).collect();
    assert_eq!(versions, (7..12).map(|n| (n, json!(n))).collect::<Vec<_>>());
}

#[tokio::test]
async fn missing_keys_and_bad_names_are_reported() {
    let ensemble = Ensemble::start().await;
    let config = store(&ensemble, &settings("missing")).await;
    assert!(matches!(config.get("app", "nope").await, Err(ConfigError::NotFound { .. })));
    assert!(matches!(config.history("app", "nope").await, Err(ConfigError::NotFound { .. })));
    assert!(matches!(config.get("a/b", "k").await, Err(ConfigError::Invalid(_))));
    let big = json!("x".repeat(recipes_config::settings::VALUE_BYTES_MAX));
    assert!(matches!(
        config.put("app", "k", big, Expected::Any).await,
        Err(ConfigError::Invalid(_))
    ));
    let at_bound = json!("x".repeat(recipes_config::settings::VALUE_BYTES_MAX - 2));
    config.put("app", "k", at_bound, Expected::Any).await.expect("a value at the bound fits");
}

#[tokio::test]
async fn the_stream_delivers_every_version_of_a_burst_in_order() {
    let ensemble = Ensemble::start().await;
    let settings = settings("burst");
    let reader = store(&ensemble, &settings).await;
    let writer = store(&ensemble, &settings).await;
    const WRITES: i32 = 200;
    // Subscribed before the key exists: the stream starts at version 0.
    let mut stream = reader.changes("app", "flags", None).unwrap();
    let subscriber = tokio::spawn(async move {
        let mut seen = Vec::new();
        while seen.len() < WRITES as usize {
            let change = stream.next().await.unwrap();
            seen.push((change.version, change.value));
        }
        seen
    });
    for n in 0..WRITES {
        writer.put("app", "flags", json!({"n": n}), Expected::Any).await.unwrap();
    }
    let seen = within("subscriber sees the burst", subscriber).await.unwrap();
    let expected: Vec<_> = (0..WRITES).map(|n| (n, json!({"n": n}))).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn a_subscriber_that_disconnects_resumes_from_its_last_version_without_gaps() {
    let ensemble = Ensemble::start().await;
    let settings = settings("resume");
    let writer = store(&ensemble, &settings).await;
    const WRITES: i32 = 1_000;
    let writing = tokio::spawn(async move {
        for n in 0..WRITES {
            writer.put("app", "rate", json!(n), Expected::Any).await.unwrap();
        }
    });
    let mut seen = Vec::new();
    {
        // First connection: reads a while from version 0, then goes away entirely.
        let first = store(&ensemble, &settings).await;
        let mut stream = first.changes("app", "rate", Some(-1)).unwrap();
        while seen.len() < 300 {
            seen.push(within("first connection", stream.next()).await.unwrap().version);
        }
    }
    let last_event_id = *seen.last().unwrap();
    let second = store(&ensemble, &settings).await;
    let mut stream = second.changes("app", "rate", Some(last_event_id)).unwrap();
    while seen.len() < WRITES as usize {
        let change = within("resumed connection", stream.next()).await.unwrap();
        assert_eq!(change.value, json!(change.version));
        seen.push(change.version);
    }
    writing.await.unwrap();
    assert_eq!(seen, (0..WRITES).collect::<Vec<_>>());
}

#[tokio::test]
async fn resuming_from_a_version_replays_the_rest_then_follows_live_writes() {
    let ensemble = Ensemble::start().await;
    let settings = settings("replay");
    let config = store(&ensemble, &settings).await;
    for n in 0..10 {
        config.put("app", "k", json!(n), Expected::Any).await.unwrap();
    }
    let mut stream = config.changes("app", "k", Some(4)).unwrap();
    for version in 5..10 {
        assert_eq!(stream.next().await.unwrap().version, version);
    }
    config.put("app", "k", json!("live"), Expected::Any).await.unwrap();
    let live = within("live change", stream.next()).await.unwrap();
    assert_eq!((live.version, live.value), (10, json!("live")));

    // Without a resume point the stream starts at the current version.
    let mut fresh = config.changes("app", "k", None).unwrap();
    assert_eq!(fresh.next().await.unwrap().version, 10);
}

#[tokio::test]
async fn resuming_behind_the_history_window_fails_instead_of_skipping() {
    let ensemble = Ensemble::start().await;
    let settings = ConfigSettings { history_versions: 3, ..settings("trimmed") };
    let config = store(&ensemble, &settings).await;
    for n in 0..10 {
        config.put("app", "k", json!(n), Expected::Any).await.unwrap();
    }
    let mut behind = config.changes("app", "k", Some(2)).unwrap();
    let error = behind.next().await.unwrap_err();
    assert!(
        matches!(error, ConfigError::HistoryTrimmed { requested: 3, oldest: Some(7) }),
        "{error:?}"
    );
    let mut inside = config.changes("app", "k", Some(6)).unwrap();
    assert_eq!(inside.next().await.unwrap().version, 7);
}

#[tokio::test]
async fn a_namespace_schema_refuses_invalid_values() {
    let ensemble = Ensemble::start().await;
    let config = store(&ensemble, &settings("schema")).await;
    let schema = json!({
        "type": "object",
        "required": ["limit"],
        "properties": {"limit": {"type": "integer", "minimum": 1}}
    });
    config.set_schema("billing", Some(schema.clone())).await.unwrap();
    assert_eq!(config.schema("billing").await.unwrap(), Some(schema));
    config.put("billing", "plan", json!({"limit": 3}), Expected::Any).await.unwrap();
    let refused = config.put("billing", "plan", json!({"limit": 0}), Expected::Any).await;
    assert!(matches!(refused, Err(ConfigError::SchemaViolation(_))), "{refused:?}");
    assert_eq!(config.get("billing", "plan").await.unwrap().version, 0, "nothing written");
    assert!(matches!(
        config.set_schema("billing", Some(json!({"type": 5}))).await,
        Err(ConfigError::InvalidSchema(_))
    ));
    // Other namespaces are unconstrained; removing the schema lifts it.
    config.put("other", "plan", json!({"limit": 0}), Expected::Any).await.unwrap();
    config.set_schema("billing", None).await.unwrap();
    config.put("billing", "plan", json!("free-form"), Expected::Any).await.unwrap();
}

/// HTTP handlers run on a multi-threaded runtime: every operation's future must be `Send`.
#[tokio::test]
async fn operation_futures_can_move_between_threads() {
    fn assert_send<T: Send>(_: &T) {}
    let ensemble = Ensemble::start().await;
    let config = store(&ensemble, &settings("send")).await;
    assert_send(&config.get("a", "k"));
    assert_send(&config.put("a", "k", json!(1), Expected::Any));
    assert_send(&config.history("a", "k"));
    assert_send(&config.set_schema("a", None));
    let mut stream = config.changes("a", "k", None).unwrap();
    assert_send(&stream.next());
}
