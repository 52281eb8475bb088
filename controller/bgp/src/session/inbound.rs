//! The checks on a received UPDATE that need to know who sent it, which the codec leaves to
//! the session (see docs/bgp-codec.md, "Left to the session layer").

use crate::consts::attr;
use crate::{Action, Finding, SegmentKind, Update, UpdateProblem};

use super::negotiate::Negotiated;

/// What the session knows about the sender.
#[derive(Clone, Copy, Debug)]
pub struct Sender {
    pub ibgp: bool,
    pub remote_as: u32,
    /// Require an external peer to put its own AS first (RFC 4271 §6.3); off for a peer
    /// that is a transparent route server.
    pub enforce_first_as: bool,
}

impl Sender {
    pub fn of(n: &Negotiated, enforce_first_as: bool) -> Self {
        Sender {
            ibgp: n.ibgp,
            remote_as: n.remote_as,
            enforce_first_as,
        }
    }
}

/// Applies the peer-dependent rules to a decoded UPDATE:
///
/// * from an external peer, LOCAL_PREF is ignored (RFC 4271 §5.1.5) and ORIGINATOR_ID /
///   CLUSTER_LIST are discarded (RFC 7606 §7.9, §7.10: they only make sense inside an AS);
/// * from an external peer, an announcement whose AS path does not start with the peer's AS
///   is treated as withdraw (RFC 7606 §7.2 softening RFC 4271 §6.3's session reset).
///
/// Returns the update to hand to the RIB and the findings, one more when a rule fired.
pub fn check(
    sender: Sender,
    mut update: Update,
    mut findings: Vec<Finding>,
) -> (Update, Vec<Finding>) {
    if sender.ibgp {
        return (update, findings);
    }
    update.attributes.retain(|a| {
        !matches!(
            a.type_code(),
            attr::LOCAL_PREF | attr::ORIGINATOR_ID | attr::CLUSTER_LIST
        )
    });
    let announces = !update.nlri.is_empty() || update.mp_reach().is_some();
    if sender.enforce_first_as && announces {
        let first = update.effective_as_path().and_then(|p| {
            p.segments
                .first()
                .filter(|s| s.kind == SegmentKind::Sequence)
                .and_then(|s| s.asns.first().copied())
        });
        // A missing AS_PATH already produced a treat-as-withdraw finding in the codec.
        if update.as_path().is_some() && first != Some(sender.remote_as) {
            findings.push(Finding {
                attr_type: attr::AS_PATH,
                action: Action::TreatAsWithdraw,
                problem: UpdateProblem::MalformedAsPath("leftmost AS is not the peer's AS"),
            });
            update = update.into_withdrawal();
        }
    }
    (update, findings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AsPath, AttrValue, Origin, PathAttribute};
    use std::net::Ipv4Addr;

    fn announce(path: &[u32]) -> Update {
        Update {
            withdrawn: vec![],
            attributes: vec![
                PathAttribute::new(AttrValue::Origin(Origin::Igp)),
                PathAttribute::new(AttrValue::AsPath(AsPath::sequence(path))),
                PathAttribute::new(AttrValue::NextHop(Ipv4Addr::new(192, 0, 2, 1))),
                PathAttribute::new(AttrValue::LocalPref(200)),
                PathAttribute::new(AttrValue::OriginatorId(Ipv4Addr::new(9, 9, 9, 9))),
            ],
            nlri: vec!["10.0.0.0/8".parse().unwrap()],
        }
    }

    const EBGP: Sender = Sender {
        ibgp: false,
        remote_as: 65002,
        enforce_first_as: true,
    };

    #[test]
    fn external_peer_loses_local_pref_and_originator_id() {
        let (u, f) = check(EBGP, announce(&[65002, 65100]), vec![]);
        assert!(f.is_empty());
        assert_eq!(u.attributes.len(), 3);
        assert!(u.attribute(attr::LOCAL_PREF).is_none());
        // Internal peers keep them.
        let ibgp = Sender { ibgp: true, ..EBGP };
        let (u, _) = check(ibgp, announce(&[]), vec![]);
        assert_eq!(u.attributes.len(), 5);
    }

    #[test]
    fn wrong_first_as_is_treat_as_withdraw() {
        let (u, f) = check(EBGP, announce(&[65003, 65002]), vec![]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].action, Action::TreatAsWithdraw);
        assert!(u.nlri.is_empty());
        assert_eq!(u.withdrawn, vec!["10.0.0.0/8".parse().unwrap()]);
        // An empty path from an external peer is wrong too.
        let (u, f) = check(EBGP, announce(&[]), vec![]);
        assert_eq!((u.nlri.len(), f.len()), (0, 1));
        // Unless the check is off (route server).
        let rs = Sender {
            enforce_first_as: false,
            ..EBGP
        };
        let (u, f) = check(rs, announce(&[65003]), vec![]);
        assert_eq!((u.nlri.len(), f.len()), (1, 0));
        // A pure withdrawal is never checked.
        let w = Update {
            withdrawn: vec!["10.0.0.0/8".parse().unwrap()],
            ..Update::default()
        };
        let (u, f) = check(EBGP, w.clone(), vec![]);
        assert_eq!((u, f.len()), (w, 0));
    }
}
