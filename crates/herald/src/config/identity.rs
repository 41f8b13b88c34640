//! A node's id from the hostname a StatefulSet gives its pod.
//!
//! A StatefulSet named `herald` names its pods `herald-0`, `herald-1`, …;
//! the id is the ordinal plus [`ORDINAL_ID_OFFSET`], so `herald-0` is id 1
//! (ZooKeeper ids conventionally start at 1). No init script writes `myid`.

/// Added to the pod ordinal to give the node id.
pub const ORDINAL_ID_OFFSET: u64 = 1;

/// `herald-2` (or `herald-2.herald-peers.ns.svc.cluster.local`) → 3.
pub fn id_from_hostname(hostname: &str) -> Result<u64, String> {
    let first_label = hostname.trim().split('.').next().unwrap_or_default();
    let ordinal = first_label
        .rsplit_once('-')
        .map(|(_, suffix)| suffix)
        .filter(|suffix| !suffix.is_empty() && suffix.bytes().all(|byte| byte.is_ascii_digit()))
        .ok_or_else(|| {
            format!(
                "hostname {hostname:?} has no ordinal suffix (expected NAME-<n>, as a StatefulSet pod's)"
            )
        })?;
    let ordinal: u64 =
        ordinal.parse().map_err(|_| format!("hostname {hostname:?}: ordinal out of range"))?;
    ordinal
        .checked_add(ORDINAL_ID_OFFSET)
        .ok_or_else(|| format!("hostname {hostname:?}: ordinal out of range"))
}
