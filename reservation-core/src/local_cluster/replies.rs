//! Reading what a Cluster's nodes say: which connected primary serves a
//! slot and which replicas follow a primary (`CLUSTER NODES`), and whether a
//! primary's replicas have caught up with it (`INFO replication`).

use std::ops::RangeInclusive;

/// The port of the connected primary serving `slot`, from `CLUSTER NODES`.
pub(super) fn primary_serving(nodes: &str, slot: u16) -> Option<u16> {
    serving_primaries(nodes)
        .find(|(_, ranges)| ranges.iter().any(|range| range.contains(&slot)))
        .map(|(port, _)| port)
}

/// The connected primaries in `CLUSTER NODES` that serve slots: each one's
/// port and slot ranges.
pub(super) fn serving_primaries(
    nodes: &str,
) -> impl Iterator<Item = (u16, Vec<RangeInclusive<u16>>)> + '_ {
    nodes.lines().filter_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (address, flags, link) = (fields.get(1)?, fields.get(2)?, fields.get(7)?);
        if !flags.contains("master") || flags.contains("fail") || *link != "connected" {
            return None;
        }
        // "0-5460", "12000"; a slot being migrated ("[5000->-id]") is skipped.
        let ranges: Vec<RangeInclusive<u16>> = fields[8..]
            .iter()
            .filter_map(|range| {
                let mut bounds = range.split('-').map(str::parse::<u16>);
                match (bounds.next(), bounds.next()) {
                    (Some(Ok(first)), Some(Ok(last))) => Some(first..=last),
                    (Some(Ok(only)), None) => Some(only..=only),
                    _ => None,
                }
            })
            .collect();
        (!ranges.is_empty()).then_some((port_of(address)?, ranges))
    })
}

/// The ports of the connected replicas of the node `primary_id`, from
/// `CLUSTER NODES`.
pub(super) fn replicas_of<'a>(
    nodes: &'a str,
    primary_id: &'a str,
) -> impl Iterator<Item = u16> + 'a {
    nodes.lines().filter_map(move |line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (address, flags, primary, link) = (
            fields.get(1)?,
            fields.get(2)?,
            fields.get(3)?,
            fields.get(7)?,
        );
        (flags.contains("slave")
            && !flags.contains("fail")
            && *primary == primary_id
            && *link == "connected")
            .then(|| port_of(address))?
    })
}

/// The port in a `CLUSTER NODES` address, "127.0.0.1:7000@17000".
fn port_of(address: &str) -> Option<u16> {
    address.split(['@', ':']).nth(1)?.parse().ok()
}

/// Whether a primary's `INFO replication` shows replicas, each online at
/// the primary's own offset.
pub(super) fn replicas_caught_up(info: &str) -> bool {
    let field = |line: &str, name: &str| {
        line.split(',')
            .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('='))
            .map(str::to_owned)
    };
    let Some(offset) = info
        .lines()
        .find_map(|line| line.trim().strip_prefix("master_repl_offset:"))
    else {
        return false;
    };
    let replicas: Vec<&str> = info
        .lines()
        .filter(|line| line.starts_with("slave") && line.contains(":ip="))
        .collect();
    !replicas.is_empty()
        && replicas.iter().all(|line| {
            field(line, "state").as_deref() == Some("online")
                && field(line, "offset").as_deref() == Some(offset)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_which_primary_serves_a_slot() {
        let nodes = "\
a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460
b2 127.0.0.1:7001@17001 master - 0 0 2 connected 5461-10922 12000
c3 127.0.0.1:7002@17002 master,fail - 0 0 3 disconnected 10923-16383
d4 127.0.0.1:7003@17003 slave a1 0 0 1 connected
";
        assert_eq!(primary_serving(nodes, 0), Some(7000));
        assert_eq!(primary_serving(nodes, 5461), Some(7001));
        assert_eq!(primary_serving(nodes, 12000), Some(7001));
        assert_eq!(primary_serving(nodes, 16000), None, "a failed primary");
        assert_eq!(replicas_of(nodes, "a1").collect::<Vec<_>>(), [7003]);
        assert_eq!(replicas_of(nodes, "b2").count(), 0);
    }

    #[test]
    fn reads_whether_replicas_have_caught_up() {
        let info = |offset: u32| {
            format!(
                "# Replication\nrole:master\nconnected_slaves:1\n\
                 slave0:ip=127.0.0.1,port=7003,state=online,offset={offset},lag=0\n\
                 master_repl_offset:420\n"
            )
        };
        assert!(replicas_caught_up(&info(420)));
        assert!(!replicas_caught_up(&info(400)));
        assert!(!replicas_caught_up(
            "role:master\nconnected_slaves:0\nmaster_repl_offset:420\n"
        ));
    }
}
