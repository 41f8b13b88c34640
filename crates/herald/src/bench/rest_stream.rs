//! rest-config-stream: `--watchers` Server-Sent Events subscribers of one config key and
//! one writer; latency is from the write being issued to each subscriber seeing its event.

use std::time::Instant;

use futures::StreamExt;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc::{self, UnboundedSender};

use super::args::BenchArgs;
use super::fanout::{self, INITIAL_ROUND, RoundWriter, Sighting};
use super::http::{self, call};
use super::{Run, run_name};

/// One Server-Sent Event: its `event:` name, `id:` and joined `data:` lines.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    pub event: String,
    pub id: String,
    pub data: String,
}

/// Splits a byte stream into events (text/event-stream: lines, blank line ends an event).
#[derive(Default)]
pub struct SseParser {
    pending: Vec<u8>,
}

impl SseParser {
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        // Lines may end in CRLF: dropping every CR leaves LF-only lines.
        self.pending.extend(chunk.iter().copied().filter(|byte| *byte != b'\r'));
        let mut events = Vec::new();
        while let Some(end) = self.pending.windows(2).position(|pair| pair == b"\n\n") {
            let block: Vec<u8> = self.pending.drain(..end + 2).collect();
            let mut event = SseEvent::default();
            let mut data_lines = Vec::new();
            for line in String::from_utf8_lossy(&block).lines() {
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "event" => event.event = value.to_owned(),
                    "id" => event.id = value.to_owned(),
                    "data" => data_lines.push(value.to_owned()),
                    // Comments (keep-alives) and unknown fields.
                    _ => {}
                }
            }
            event.data = data_lines.join("\n");
            if !event.event.is_empty() || !event.data.is_empty() {
                events.push(event);
            }
        }
        events
    }
}

/// The round a `change` event carries (its value is a round value string).
pub fn change_round(event: &SseEvent) -> Option<u64> {
    if event.event != "change" {
        return None;
    }
    let change: Value = serde_json::from_str(&event.data).ok()?;
    fanout::parse_round(change.get("value")?.as_str()?)
}

struct ConfigWriter {
    client: Client,
    url: String,
    value_bytes: usize,
}

impl ConfigWriter {
    /// Writes the round; returns the key's new version.
    async fn put(&self, round: u64) -> anyhow::Result<i64> {
        let body = json!({ "value": fanout::round_value(round, self.value_bytes) });
        let ok = [StatusCode::OK, StatusCode::CREATED];
        let reply = call(&self.client, Method::PUT, &self.url, Some(&body), &ok).await?;
        reply
            .get("version")
            .and_then(Value::as_i64)
            .ok_or_else(|| anyhow::anyhow!("config write reply without a version: {reply}"))
    }
}

impl RoundWriter for ConfigWriter {
    async fn write(&mut self, round: u64) -> anyhow::Result<()> {
        self.put(round).await.map(|_| ())
    }
}

/// Follows the stream; reports once subscribed, then each change it sees.
async fn subscribe(client: Client, url: String, sightings: UnboundedSender<Sighting>) {
    let response = match client.get(&url).send().await {
        Ok(response) if response.status() == StatusCode::OK => response,
        // The warm-up reports the subscriber that never subscribed.
        _ => return,
    };
    if sightings.send(Sighting { round: INITIAL_ROUND, seen_at: None }).is_err() {
        return;
    }
    let mut parser = SseParser::default();
    let mut body = response.bytes_stream();
    while let Some(Ok(chunk)) = body.next().await {
        let seen_at = Instant::now();
        for event in parser.push(&chunk) {
            if let Some(round) = change_round(&event)
                && sightings.send(Sighting { round, seen_at: Some(seen_at) }).is_err()
            {
                return;
            }
        }
    }
}

pub async fn prepare(args: &BenchArgs) -> anyhow::Result<Run> {
    let gateway = http::base_url(&args.gateway);
    let key_url = format!("{gateway}/v1/config/{}/watched", run_name("bench-stream"));
    let writer = ConfigWriter {
        client: http::client()?,
        url: key_url.clone(),
        value_bytes: args.value_bytes,
    };
    let version = writer.put(INITIAL_ROUND).await?;
    let (sender, mut sightings) = mpsc::unbounded_channel();
    let mut subscribers = Vec::with_capacity(args.watchers);
    for _ in 0..args.watchers {
        let url = format!("{key_url}/stream?after={version}");
        subscribers.push(tokio::spawn(subscribe(http::client()?, url, sender.clone())));
    }
    drop(sender);
    let mut writer = writer;
    fanout::warm_up(&mut writer, &mut sightings, args.watchers).await?;
    Ok(fanout::run(writer, sightings, subscribers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_and_line_endings_are_parsed() {
        let mut parser = SseParser::default();
        assert!(parser.push(b": keep-alive\n\nevent: change\r\nid: 3\r\nda").is_empty());
        let events = parser.push(b"ta: {\"version\":3,\"value\":\"7  \"}\r\n\r\nevent: err");
        assert_eq!(
            events,
            vec![SseEvent {
                event: "change".into(),
                id: "3".into(),
                data: "{\"version\":3,\"value\":\"7  \"}".into()
            }]
        );
        assert_eq!(change_round(&events[0]), Some(7));
        let events = parser.push(b"or\ndata: a\ndata: b\n\n");
        assert_eq!(events[0].event, "error");
        assert_eq!(events[0].data, "a\nb");
        assert_eq!(change_round(&events[0]), None);
    }

    #[test]
    fn a_change_whose_value_is_not_a_round_is_ignored() {
        let event = SseEvent {
            event: "change".into(),
            id: "1".into(),
            data: "{\"version\":1,\"value\":{\"a\":1}}".into(),
        };
        assert_eq!(change_round(&event), None);
    }
}
