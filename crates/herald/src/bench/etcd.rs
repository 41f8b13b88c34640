//! etcd-lock: the lock workload against etcd's v3 JSON gateway, for comparison with
//! rest-lock. Per worker one lease (`/v3/lease/grant`); per operation
//! `/v3/lock/lock` with the lease, then `/v3/lock/unlock` with the key it returned.
//! The gateway speaks protobuf JSON: bytes are base64, 64-bit integers are strings.

use std::time::{Duration, Instant};

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use super::args::BenchArgs;
use super::driver::{self, Operation};
use super::http::{self, call, string_field};
use super::{Run, run_name};

/// Lease time-to-live in seconds, as for rest-lock's leases: long runs keep it alive.
pub const LEASE_TTL_SECS: u64 = 600;
/// Keep a lease alive once this much of its ttl has passed.
pub const LEASE_KEEPALIVE_AFTER: Duration = Duration::from_secs(LEASE_TTL_SECS / 3);

pub fn grant_request(ttl_secs: u64) -> Value {
    json!({ "TTL": ttl_secs })
}

/// The lease id of a grant (or keepalive) reply, in decimal: etcd sends int64 fields as
/// strings, but a number is accepted too.
pub fn lease_id(reply: &Value) -> anyhow::Result<String> {
    match reply.get("ID") {
        Some(Value::String(id)) if id.parse::<i64>().is_ok() => Ok(id.clone()),
        Some(Value::Number(id)) if id.is_i64() => Ok(id.to_string()),
        _ => anyhow::bail!("lease reply without an ID: {reply}"),
    }
}

pub fn lease_request(lease: &str) -> Value {
    json!({ "ID": lease })
}

/// The ttl a keepalive reply grants: `{"result": {"ID": …, "TTL": "30"}}` (the gateway
/// streams one result per request); 0 when the lease is gone or the reply is not one.
pub fn keepalive_ttl(reply: &Value) -> i64 {
    let result = reply.get("result").unwrap_or(reply);
    match result.get("TTL") {
        Some(Value::String(text)) => text.parse().unwrap_or(0),
        Some(number) => number.as_i64().unwrap_or(0),
        None => 0,
    }
}

pub fn lock_request(name: &str, lease: &str) -> Value {
    json!({ "name": BASE64.encode(name), "lease": lease })
}

/// The key (base64, as sent) a lock reply names: the lock's holder key.
pub fn lock_key(reply: &Value) -> anyhow::Result<String> {
    let key = string_field(reply, "key")?;
    BASE64.decode(&key).with_context(|| format!("lock key is not base64: {key}"))?;
    Ok(key)
}

pub fn unlock_request(key: &str) -> Value {
    json!({ "key": key })
}

struct EtcdLock {
    client: Client,
    etcd: String,
    lease: String,
    kept_alive_at: Instant,
    name: String,
}

impl EtcdLock {
    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.etcd);
        call(&self.client, Method::POST, &url, Some(body), &[StatusCode::OK]).await
    }

    async fn keep_alive_if_due(&mut self) -> anyhow::Result<()> {
        if self.kept_alive_at.elapsed() < LEASE_KEEPALIVE_AFTER {
            return Ok(());
        }
        let reply = self.post("/v3/lease/keepalive", &lease_request(&self.lease)).await?;
        anyhow::ensure!(keepalive_ttl(&reply) > 0, "lease {} expired: {reply}", self.lease);
        self.kept_alive_at = Instant::now();
        Ok(())
    }
}

impl Operation for EtcdLock {
    async fn run_once(&mut self) -> anyhow::Result<()> {
        self.keep_alive_if_due().await?;
        let locked = self.post("/v3/lock/lock", &lock_request(&self.name, &self.lease)).await?;
        let key = lock_key(&locked)?;
        self.post("/v3/lock/unlock", &unlock_request(&key)).await?;
        Ok(())
    }

    async fn clean_up(&mut self) {
        // Best effort: the lease expires anyway.
        let _ = self.post("/v3/lease/revoke", &lease_request(&self.lease)).await;
    }
}

pub async fn prepare(args: &BenchArgs) -> anyhow::Result<Run> {
    let etcd = http::base_url(&args.etcd);
    let run = run_name("bench-lock");
    let mut operations = Vec::with_capacity(args.workers());
    for worker in 0..args.workers() {
        let client = http::client()?;
        let url = format!("{etcd}/v3/lease/grant");
        let body = grant_request(LEASE_TTL_SECS);
        let granted = call(&client, Method::POST, &url, Some(&body), &[StatusCode::OK]).await?;
        operations.push(EtcdLock {
            client,
            etcd: etcd.clone(),
            lease: lease_id(&granted)?,
            kept_alive_at: Instant::now(),
            name: format!("{run}-{}", worker % args.locks),
        });
    }
    Ok(driver::run_workers(operations))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_requests_carry_the_name_in_base64_and_the_lease_as_sent() {
        let request = lock_request("bench-lock-1", "7587869023612733701");
        assert_eq!(request, json!({"name": "YmVuY2gtbG9jay0x", "lease": "7587869023612733701"}));
        assert_eq!(unlock_request("a2V5"), json!({"key": "a2V5"}));
        assert_eq!(grant_request(30), json!({"TTL": 30}));
        assert_eq!(lease_request("12"), json!({"ID": "12"}));
    }

    #[test]
    fn lease_ids_are_read_as_strings_or_numbers() {
        let reply = json!({"header": {}, "ID": "7587869023612733701", "TTL": "30"});
        assert_eq!(lease_id(&reply).unwrap(), "7587869023612733701");
        assert_eq!(lease_id(&json!({"ID": 42})).unwrap(), "42");
        assert!(lease_id(&json!({"ID": "not a number"})).is_err());
        let error = lease_id(&json!({"error": "etcdserver: too many requests"})).unwrap_err();
        assert!(error.to_string().contains("without an ID"), "{error}");
    }

    #[test]
    fn keepalive_replies_give_the_new_ttl_or_zero() {
        let header = json!({"cluster_id": "2086831020734302442", "revision": "1"});
        let alive = json!({"result": {"header": header, "ID": "3031663710865031176", "TTL": "30"}});
        assert_eq!(keepalive_ttl(&alive), 30);
        // An expired lease keeps alive with TTL 0 (the field may be left out).
        assert_eq!(keepalive_ttl(&json!({"result": {"header": header, "ID": "1"}})), 0);
        assert_eq!(keepalive_ttl(&json!({"error": "etcdserver: requested lease not found"})), 0);
    }

    #[test]
    fn lock_keys_must_be_base64() {
        let key = BASE64.encode("bench-lock-1/694d9c6f6a7e2a04");
        assert_eq!(lock_key(&json!({"header": {}, "key": key})).unwrap(), key);
        assert!(lock_key(&json!({"key": "%%%"})).is_err());
        assert!(lock_key(&json!({"header": {}})).is_err());
    }
}
