//! The decision core: who holds the lock and which single node each waiter watches.
//!
//! Contender node names are `_c_<guid>-<kind>-<sequence>`: the GUID gives protected mode
//! (find our own node after a connection loss), the kind distinguishes readers from
//! writers, and the ten (or nineteen) digit sequence appended by ZooKeeper orders them.

/// Prefix of every contender node name; other children of a lock directory are ignored.
pub const CONTENDER_PREFIX: &str = "_c_";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContenderKind {
    /// Exclusive lock, write side of a read-write lock, election candidate.
    Exclusive,
    /// Read side of a read-write lock: shares the lock with other readers.
    Read,
}

impl ContenderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ContenderKind::Exclusive => "x",
            ContenderKind::Read => "r",
        }
    }

    fn parse(text: &str) -> Option<ContenderKind> {
        match text {
            "x" => Some(ContenderKind::Exclusive),
            "r" => Some(ContenderKind::Read),
            _ => None,
        }
    }
}

/// One parsed contender node name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contender {
    pub name: String,
    pub guid: String,
    pub kind: ContenderKind,
    pub sequence: i64,
}

/// The name prefix a contender is created with; ZooKeeper appends the sequence.
pub fn name_prefix(guid: &str, kind: ContenderKind) -> String {
    format!("{CONTENDER_PREFIX}{guid}-{}-", kind.as_str())
}

impl Contender {
    /// Parses a child name; `None` for anything that is not a contender.
    pub fn parse(name: &str) -> Option<Contender> {
        let rest = name.strip_prefix(CONTENDER_PREFIX)?;
        let (rest, sequence) = rest.rsplit_once('-')?;
        let (guid, kind) = rest.rsplit_once('-')?;
        if guid.is_empty() || sequence.is_empty() || !sequence.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Contender {
            name: name.to_owned(),
            guid: guid.to_owned(),
            kind: ContenderKind::parse(kind)?,
            sequence: sequence.parse().ok()?,
        })
    }
}

/// Parses and orders the children of a lock directory by sequence (arrival order).
pub fn ordered(children: &[String]) -> Vec<Contender> {
    let mut contenders: Vec<Contender> =
        children.iter().filter_map(|name| Contender::parse(name)).collect();
    contenders.sort_by_key(|contender| contender.sequence);
    contenders
}

/// What a contender should do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Granted,
    /// Watch exactly this node (by name) and decide again when it changes.
    WaitFor(String),
}

/// Decides for the contender named `own`; `None` if it is not among `ordered`.
///
/// An exclusive contender holds the lock when it is first and otherwise waits for its
/// immediate predecessor. A reader holds it when no exclusive contender is ahead of it and
/// otherwise waits for the nearest exclusive contender ahead. Each waiter watches one node,
/// so a release wakes one waiter (or one run of readers), never the whole queue.
pub fn decide(ordered: &[Contender], own: &str) -> Option<Decision> {
    let index = ordered.iter().position(|contender| contender.name == own)?;
    let ahead = &ordered[..index];
    let decision = match ordered[index].kind {
        ContenderKind::Exclusive => match ahead.last() {
            None => Decision::Granted,
            Some(predecessor) => Decision::WaitFor(predecessor.name.clone()),
        },
        ContenderKind::Read => {
            match ahead.iter().rev().find(|c| c.kind == ContenderKind::Exclusive) {
                None => Decision::Granted,
                Some(writer) => Decision::WaitFor(writer.name.clone()),
            }
        }
    };
    Some(decision)
}

/// The contenders that currently hold the lock: the first exclusive one, or the leading
/// run of readers.
pub fn holders(ordered: &[Contender]) -> &[Contender] {
    match ordered.first() {
        None => &[],
        Some(first) if first.kind == ContenderKind::Exclusive => &ordered[..1],
        Some(_) => {
            let readers = ordered.iter().take_while(|c| c.kind == ContenderKind::Read).count();
            &ordered[..readers]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(guid: &str, kind: ContenderKind, sequence: i64) -> String {
        format!("{}{sequence:010}", name_prefix(guid, kind))
    }

    #[test]
    fn parses_contender_names_and_ignores_others() {
        let parsed = Contender::parse("_c_ab-cd-x-0000000007").unwrap();
        assert_eq!(parsed.guid, "ab-cd");
        assert_eq!(parsed.kind, ContenderKind::Exclusive);
        assert_eq!(parsed.sequence, 7);
        assert_eq!(Contender::parse("lock"), None);
        assert_eq!(Contender::parse("_c_g-q-0000000001"), None);
        assert_eq!(Contender::parse("_c_g-x-00a1"), None);
        assert_eq!(Contender::parse("_c_-x-0000000001"), None);
    }

    #[test]
    fn orders_by_sequence_not_by_name() {
        let children = vec![
            name("zzz", ContenderKind::Exclusive, 2),
            name("aaa", ContenderKind::Exclusive, 9),
        ];
        let order: Vec<i64> = ordered(&children).iter().map(|c| c.sequence).collect();
        assert_eq!(order, vec![2, 9]);
    }

    #[test]
    fn each_exclusive_waiter_watches_only_its_immediate_predecessor() {
        let children: Vec<String> =
            (0..6).map(|i| name(&format!("g{i}"), ContenderKind::Exclusive, i)).collect();
        let order = ordered(&children);
        assert_eq!(decide(&order, &children[0]), Some(Decision::Granted));
        for i in 1..6 {
            assert_eq!(
                decide(&order, &children[i]),
                Some(Decision::WaitFor(children[i - 1].clone()))
            );
        }
        assert_eq!(decide(&order, "_c_missing-x-0000000099"), None);
    }

    #[test]
    fn readers_share_and_wait_only_for_the_nearest_writer_ahead() {
        use ContenderKind::{Exclusive, Read};
        let children = vec![
            name("r0", Read, 0),
            name("r1", Read, 1),
            name("w2", Exclusive, 2),
            name("r3", Read, 3),
            name("w4", Exclusive, 4),
            name("r5", Read, 5),
        ];
        let order = ordered(&children);
        assert_eq!(decide(&order, &children[0]), Some(Decision::Granted));
        assert_eq!(decide(&order, &children[1]), Some(Decision::Granted));
        assert_eq!(decide(&order, &children[2]), Some(Decision::WaitFor(children[1].clone())));
        assert_eq!(decide(&order, &children[3]), Some(Decision::WaitFor(children[2].clone())));
        assert_eq!(decide(&order, &children[4]), Some(Decision::WaitFor(children[3].clone())));
        assert_eq!(decide(&order, &children[5]), Some(Decision::WaitFor(children[4].clone())));
        let holding: Vec<&str> = holders(&order).iter().map(|c| c.name.as_str()).collect();
        assert_eq!(holding, vec![children[0].as_str(), children[1].as_str()]);
    }

    #[test]
    fn the_holder_of_an_exclusive_queue_is_its_head_alone() {
        let children: Vec<String> =
            (0..3).map(|i| name(&format!("g{i}"), ContenderKind::Exclusive, i)).collect();
        let order = ordered(&children);
        assert_eq!(holders(&order).len(), 1);
        assert_eq!(holders(&order)[0].name, children[0]);
        assert!(holders(&[]).is_empty());
    }
}
