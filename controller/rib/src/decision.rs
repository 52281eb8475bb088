//! The BGP decision process (RFC 4271 §9.1.2) with the tie-breakers network engineers know
//! from IOS and FRR, and the multipath equality that feeds ECMP groups.
//!
//! Steps, first difference wins (lower [`Ordering`] = better):
//!
//! | # | rule | prefers |
//! |---|---|---|
//! | 1 | weight (local to this router) | higher |
//! | 2 | LOCAL_PREF (absent = 100) | higher |
//! | 3 | locally originated (redistributed, leaked from a local VRF) | local |
//! | 4 | AS_PATH length (a set counts 1, confederation segments 0) | shorter |
//! | 5 | ORIGIN | IGP < EGP < incomplete |
//! | 6 | MED (absent = 0), only between paths from the same neighbor AS unless `always-compare-med` | lower |
//! | 7 | eBGP over iBGP | eBGP |
//! | 8 | IGP cost to the next hop | (every next hop here is a directly attached neighbor: equal) |
//! | — | *multipath: paths equal up to here share the prefix (maximum-paths)* | |
//! | 9 | BGP identifier, or ORIGINATOR_ID when reflected (RFC 4456 §9) | lower |
//! | 10 | CLUSTER_LIST length | shorter |
//! | 11 | neighbor address | lower |
//!
//! Routes that are not BGP routes never meet here: between protocols, administrative
//! distance decides first (see [`crate::PrefixEntry`]).

use std::cmp::Ordering;
use std::net::Ipv4Addr;

use policy::Origin;

use crate::route::Route;

/// Per-VRF decision options (`bgp bestpath …`, `maximum-paths`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecisionOptions {
    /// Compare MED between paths from different neighbor ASes too.
    pub always_compare_med: bool,
    /// How many equal paths a prefix may forward over (1 = no ECMP).
    pub maximum_paths: u8,
}

impl Default for DecisionOptions {
    fn default() -> Self {
        DecisionOptions {
            always_compare_med: false,
            maximum_paths: 1,
        }
    }
}

/// The LOCAL_PREF a path without one is given.
pub const DEFAULT_LOCAL_PREF: u32 = 100;
/// The weight IOS gives locally originated paths.
pub const LOCAL_WEIGHT: u32 = 32768;

fn origin_rank(o: Origin) -> u8 {
    match o {
        Origin::Igp => 0,
        Origin::Egp => 1,
        Origin::Incomplete => 2,
    }
}

/// The neighbor AS for the MED rule: the first AS of the path (local paths have none).
fn neighbor_as(r: &Route) -> Option<u32> {
    r.attrs.as_path.first_as()
}

/// Steps 1–8: the part of the comparison multipath paths must tie on.
fn compare_to_igp_cost(a: &Route, b: &Route, opts: &DecisionOptions) -> Ordering {
    let (x, y) = (&a.attrs, &b.attrs);
    y.weight
        .cmp(&x.weight)
        .then_with(|| {
            y.local_pref
                .unwrap_or(DEFAULT_LOCAL_PREF)
                .cmp(&x.local_pref.unwrap_or(DEFAULT_LOCAL_PREF))
        })
        .then_with(|| b.peer().is_none().cmp(&a.peer().is_none()))
        .then_with(|| x.as_path.length().cmp(&y.as_path.length()))
        .then_with(|| origin_rank(x.origin).cmp(&origin_rank(y.origin)))
        .then_with(|| {
            if opts.always_compare_med || neighbor_as(a) == neighbor_as(b) {
                x.med.unwrap_or(0).cmp(&y.med.unwrap_or(0))
            } else {
                Ordering::Equal
            }
        })
        .then_with(|| {
            let ebgp = |r: &Route| r.peer().is_some_and(|p| p.ebgp);
            ebgp(b).cmp(&ebgp(a))
        })
}

/// The identifier step 9 compares: ORIGINATOR_ID for a reflected path, else the peer's id.
fn identifier(r: &Route) -> Ipv4Addr {
    r.attrs
        .originator_id
        .or(r.peer().map(|p| p.router_id))
        .unwrap_or(Ipv4Addr::UNSPECIFIED)
}

/// Orders two BGP paths: `Less` means `a` is better.
pub fn compare(a: &Route, b: &Route, opts: &DecisionOptions) -> Ordering {
    compare_to_igp_cost(a, b, opts)
        .then_with(|| identifier(a).cmp(&identifier(b)))
        .then_with(|| a.attrs.cluster_list.len().cmp(&b.attrs.cluster_list.len()))
        .then_with(|| {
            let addr = |r: &Route| r.peer().map(|p| p.addr);
            addr(a).cmp(&addr(b))
        })
}

/// Whether `candidate` may share forwarding with `best` under maximum-paths: equal through
/// step 8, both learned from neighbors of the same kind (IOS does not mix eBGP and iBGP
/// multipath), and the same AS path (FRR's default, not `multipath-relax`).
pub fn multipath_equal(best: &Route, candidate: &Route, opts: &DecisionOptions) -> bool {
    compare_to_igp_cost(best, candidate, opts) == Ordering::Equal
        && best.peer().is_some()
        && candidate.peer().is_some()
        && best.attrs.as_path == candidate.attrs.as_path
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::{Forward, PeerRef, Protocol, RouteOrigin};
    use policy::{AsPath, AsSegment, Attrs, SourceProtocol};
    use std::sync::Arc;

    fn peer(addr: &str, id: &str, ebgp: bool) -> PeerRef {
        PeerRef {
            addr: addr.parse().unwrap(),
            router_id: id.parse().unwrap(),
            ebgp,
            rr_client: false,
        }
    }

    fn path(p: Option<PeerRef>, f: impl FnOnce(&mut Attrs)) -> Route {
        let mut attrs = Attrs::new(SourceProtocol::Bgp);
        attrs.as_path = AsPath::from_sequence(vec![65001]);
        f(&mut attrs);
        let origin = p.map(|peer| {
            Arc::new(RouteOrigin {
                peer: Some(peer),
                leaked: None,
            })
        });
        Route::new(
            Arc::new(attrs),
            crate::RouteVia::new(Protocol::Bgp, 20, Arc::new(Forward::Blackhole), origin),
        )
    }

    fn ebgp() -> Option<PeerRef> {
        Some(peer("10.0.0.2", "2.2.2.2", true))
    }

    /// Each row: (what, better, worse). Everything else is equal between the two.
    #[test]
    fn each_step_decides_when_all_before_it_tie() {
        let opts = DecisionOptions::default();
        let rows: Vec<(&str, Route, Route)> = vec![
            (
                "weight",
                path(ebgp(), |a| a.weight = 10),
                path(ebgp(), |_| {}),
            ),
            (
                "local-pref",
                path(ebgp(), |a| a.local_pref = Some(200)),
                path(ebgp(), |_| {}),
            ),
            (
                "absent local-pref is 100",
                path(ebgp(), |_| {}),
                path(ebgp(), |a| a.local_pref = Some(99)),
            ),
            (
                "locally originated",
                path(None, |_| {}),
                path(ebgp(), |_| {}),
            ),
            (
                "as-path length",
                path(ebgp(), |_| {}),
                path(ebgp(), |a| {
                    a.as_path = AsPath::from_sequence(vec![65001, 65002])
                }),
            ),
            (
                "an AS_SET counts one",
                path(ebgp(), |a| {
                    a.as_path = AsPath::new(vec![AsSegment::set(vec![1, 2, 3, 4])])
                }),
                path(ebgp(), |a| {
                    a.as_path = AsPath::from_sequence(vec![65001, 65002])
                }),
            ),
            (
                "origin igp < egp",
                path(ebgp(), |a| a.origin = Origin::Igp),
                path(ebgp(), |a| a.origin = Origin::Egp),
            ),
            (
                "origin egp < incomplete",
                path(ebgp(), |a| a.origin = Origin::Egp),
                path(ebgp(), |a| a.origin = Origin::Incomplete),
            ),
            (
                "med, same neighbor AS",
                path(ebgp(), |a| a.med = Some(5)),
                path(ebgp(), |a| a.med = Some(10)),
            ),
            (
                "absent med is 0",
                path(ebgp(), |_| {}),
                path(ebgp(), |a| a.med = Some(1)),
            ),
            (
                "ebgp over ibgp",
                path(ebgp(), |_| {}),
                path(Some(peer("10.0.0.3", "1.1.1.1", false)), |_| {}),
            ),
            (
                "router id",
                path(Some(peer("10.0.0.9", "1.1.1.1", true)), |_| {}),
                path(Some(peer("10.0.0.2", "2.2.2.2", true)), |_| {}),
            ),
            (
                "originator id stands for the router id",
                path(Some(peer("10.0.0.2", "9.9.9.9", false)), |a| {
                    a.originator_id = Some("1.1.1.1".parse().unwrap())
                }),
                path(Some(peer("10.0.0.3", "2.2.2.2", false)), |_| {}),
            ),
            (
                "cluster list length",
                path(Some(peer("10.0.0.3", "2.2.2.2", false)), |a| {
                    a.originator_id = Some("5.5.5.5".parse().unwrap());
                }),
                path(Some(peer("10.0.0.2", "2.2.2.2", false)), |a| {
                    a.originator_id = Some("5.5.5.5".parse().unwrap());
                    a.cluster_list = vec!["7.7.7.7".parse().unwrap()];
                }),
            ),
            (
                "neighbor address",
                path(Some(peer("10.0.0.2", "2.2.2.2", true)), |_| {}),
                path(Some(peer("10.0.0.3", "2.2.2.2", true)), |_| {}),
            ),
        ];
        for (what, better, worse) in rows {
            assert_eq!(compare(&better, &worse, &opts), Ordering::Less, "{what}");
            assert_eq!(compare(&worse, &better, &opts), Ordering::Greater, "{what}");
        }
    }

    #[test]
    fn med_is_compared_across_neighbor_ases_only_when_asked() {
        let a = path(ebgp(), |a| {
            a.med = Some(50);
            a.as_path = AsPath::from_sequence(vec![65001]);
        });
        let b = path(Some(peer("10.0.0.3", "3.3.3.3", true)), |a| {
            a.med = Some(10);
            a.as_path = AsPath::from_sequence(vec![65009]);
        });
        // Not compared: falls through to the router id, where a (2.2.2.2) wins.
        assert_eq!(compare(&a, &b, &DecisionOptions::default()), Ordering::Less);
        let always = DecisionOptions {
            always_compare_med: true,
            ..Default::default()
        };
        assert_eq!(compare(&a, &b, &always), Ordering::Greater);
    }

    #[test]
    fn multipath_needs_equality_through_step_eight_and_the_same_as_path() {
        let opts = DecisionOptions::default();
        let a = path(ebgp(), |_| {});
        let b = path(Some(peer("10.0.0.3", "3.3.3.3", true)), |_| {});
        assert!(multipath_equal(&a, &b, &opts));
        let longer = path(Some(peer("10.0.0.3", "3.3.3.3", true)), |x| {
            x.as_path = AsPath::from_sequence(vec![65001, 65001])
        });
        assert!(!multipath_equal(&a, &longer, &opts));
        let other_as = path(Some(peer("10.0.0.3", "3.3.3.3", true)), |x| {
            x.as_path = AsPath::from_sequence(vec![65002])
        });
        assert!(!multipath_equal(&a, &other_as, &opts));
        let ibgp = path(Some(peer("10.0.0.4", "4.4.4.4", false)), |_| {});
        assert!(!multipath_equal(&a, &ibgp, &opts));
        assert!(!multipath_equal(
            &path(None, |_| {}),
            &path(None, |_| {}),
            &opts
        ));
    }
}
