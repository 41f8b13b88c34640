//! REST workloads against Herald's gateway: rest-lock (acquire with wait + release),
//! rest-queue (enqueue + claim + ack) and rest-config (set a key). The config stream
//! fan-out is in `rest_stream`.

use std::time::{Duration, Instant};

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use super::args::{BenchArgs, Workload};
use super::driver::{self, Operation};
use super::http::{self, call, string_field};
use super::{Run, run_name};

/// Lease time-to-live asked for (the gateway's maximum): long runs keep it alive.
pub const LEASE_TTL_MS: u64 = 600_000;
/// Keep a lease alive once this much of its ttl has passed.
pub const LEASE_KEEPALIVE_AFTER: Duration = Duration::from_millis(LEASE_TTL_MS / 3);
/// How long an acquire waits for a contended lock before it counts as an error.
pub const LOCK_WAIT_MS: u64 = 10_000;
/// How long a claim waits for an item (another worker may have taken this one's).
pub const QUEUE_CLAIM_WAIT_MS: u64 = 5_000;

/// A gateway lease owned by one worker.
pub struct Lease {
    pub id: String,
    kept_alive_at: Instant,
}

impl Lease {
    pub async fn open(client: &Client, gateway: &str) -> anyhow::Result<Lease> {
        let reply = call(
            client,
            Method::POST,
            &format!("{gateway}/v1/leases"),
            Some(&json!({ "ttl_ms": LEASE_TTL_MS })),
            &[StatusCode::CREATED],
        )
        .await?;
        Ok(Lease { id: string_field(&reply, "id")?, kept_alive_at: Instant::now() })
    }

    /// Extends the lease if a third of its ttl has passed (runs longer than the ttl).
    pub async fn keep_alive_if_due(
        &mut self,
        client: &Client,
        gateway: &str,
    ) -> anyhow::Result<()> {
        if self.kept_alive_at.elapsed() < LEASE_KEEPALIVE_AFTER {
            return Ok(());
        }
        let url = format!("{gateway}/v1/leases/{}/keepalive", self.id);
        call(client, Method::POST, &url, None, &[StatusCode::OK]).await?;
        self.kept_alive_at = Instant::now();
        Ok(())
    }

    /// Ends the lease (and so any grant or claim it still owns).
    pub async fn revoke(&self, client: &Client, gateway: &str) -> anyhow::Result<()> {
        let url = format!("{gateway}/v1/leases/{}", self.id);
        call(client, Method::DELETE, &url, None, &[StatusCode::NO_CONTENT]).await?;
        Ok(())
    }
}

struct RestOperation {
    workload: Workload,
    client: Client,
    gateway: String,
    /// rest-lock and rest-queue own a lease.
    lease: Option<Lease>,
    /// The lock (of `--locks`), queue or config namespace this worker uses.
    name: String,
    keys: usize,
    payload: String,
}

impl RestOperation {
    fn lease(&self) -> anyhow::Result<&Lease> {
        self.lease.as_ref().ok_or_else(|| anyhow::anyhow!("{:?} needs a lease", self.workload))
    }

    async fn lock_once(&self) -> anyhow::Result<()> {
        let lease = &self.lease()?.id;
        let base = format!("{}/v1/locks/{}", self.gateway, self.name);
        let acquire = json!({ "lease": lease, "wait_ms": LOCK_WAIT_MS });
        let granted = call(
            &self.client,
            Method::POST,
            &format!("{base}/acquire"),
            Some(&acquire),
            &[StatusCode::OK],
        )
        .await?;
        let token = granted
            .get("token")
            .and_then(Value::as_i64)
            .ok_or_else(|| anyhow::anyhow!("grant without a token: {granted}"))?;
        let release = json!({ "lease": lease, "token": token });
        let url = format!("{base}/release");
        call(&self.client, Method::POST, &url, Some(&release), &[StatusCode::NO_CONTENT]).await?;
        Ok(())
    }

    async fn queue_once(&self) -> anyhow::Result<()> {
        let base = format!("{}/v1/queues/{}", self.gateway, self.name);
        let item = json!({ "payload": self.payload });
        let url = format!("{base}/items");
        call(&self.client, Method::POST, &url, Some(&item), &[StatusCode::CREATED]).await?;
        let claim = json!({ "lease": self.lease()?.id, "wait_ms": QUEUE_CLAIM_WAIT_MS });
        let url = format!("{base}/claims");
        let claimed =
            call(&self.client, Method::POST, &url, Some(&claim), &[StatusCode::OK]).await?;
        let receipt = string_field(&claimed, "receipt")?;
        let url = format!("{base}/claims/{receipt}/ack");
        call(&self.client, Method::POST, &url, None, &[StatusCode::NO_CONTENT]).await?;
        Ok(())
    }

    async fn config_once(&self) -> anyhow::Result<()> {
        let key = rand::random_range(0..self.keys);
        let url = format!("{}/v1/config/{}/k{key}", self.gateway, self.name);
        let body = json!({ "value": self.payload });
        call(&self.client, Method::PUT, &url, Some(&body), &[StatusCode::OK, StatusCode::CREATED])
            .await?;
        Ok(())
    }
}

impl Operation for RestOperation {
    async fn run_once(&mut self) -> anyhow::Result<()> {
        if let Some(lease) = &mut self.lease {
            lease.keep_alive_if_due(&self.client, &self.gateway).await?;
        }
        match self.workload {
            Workload::RestLock => self.lock_once().await,
            Workload::RestQueue => self.queue_once().await,
            Workload::RestConfig => self.config_once().await,
            other => anyhow::bail!("{other:?} is not a REST request workload"),
        }
    }

    async fn clean_up(&mut self) {
        // Best effort: the lease expires anyway.
        if let Some(lease) = &self.lease {
            let _ = lease.revoke(&self.client, &self.gateway).await;
        }
    }
}

/// Opens one client (and lease, where the workload needs one) per worker.
pub async fn prepare(args: &BenchArgs) -> anyhow::Result<Run> {
    let gateway = http::base_url(&args.gateway);
    let run = match args.workload {
        Workload::RestLock => run_name("bench-lock"),
        Workload::RestQueue => run_name("bench-queue"),
        _ => run_name("bench-config"),
    };
    let payload = "x".repeat(args.value_bytes);
    let mut operations = Vec::with_capacity(args.workers());
    for worker in 0..args.workers() {
        let client = http::client()?;
        let lease = match args.workload {
            Workload::RestLock | Workload::RestQueue => Some(Lease::open(&client, &gateway).await?),
            _ => None,
        };
        let name = match args.workload {
            Workload::RestLock => format!("{run}-{}", worker % args.locks),
            _ => run.clone(),
        };
        operations.push(RestOperation {
            workload: args.workload,
            client,
            gateway: gateway.clone(),
            lease,
            name,
            keys: args.keys,
            payload: payload.clone(),
        });
    }
    Ok(driver::run_workers(operations))
}
