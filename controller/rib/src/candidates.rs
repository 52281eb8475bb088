//! A prefix's candidate routes, each keyed by what the route itself says it is.
//!
//! A candidate's key — one of the VRF's own routes of a protocol, a CE neighbor's route, or
//! a path imported from an RD:prefix of the VPN table — is already in its route: the protocol,
//! the neighbor in its origin, the RD and source of a leak. So the candidates are stored as
//! routes alone and their keys are read from them ([`Route::candidate`]); a stored key was 16
//! bytes of every VRF table entry (96 → 80 bytes with the key gone), a tenth of the RIB.

use std::cmp::Ordering;
use std::net::IpAddr;

use vpn_types::RouteDistinguisher;

use crate::small_map::{Keyed, KeyedSlice, Packed};
use crate::{PathSource, Protocol, Route};

/// Which candidate of a prefix a route is, borrowed from the route
/// ([`Route::candidate`]). Candidates are kept in this order, which breaks ties between
/// equal distances: own before learned before imported.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum CandidateRef<'a> {
    /// One of the VRF's own routes (one per protocol and prefix).
    Own(Protocol),
    /// Learned from a BGP neighbor of this VRF (a CE), after its import policy.
    Peer(&'a IpAddr),
    /// Imported from the VPN table: the RD of its RD:prefix and the path's source.
    Imported(&'a RouteDistinguisher, &'a PathSource),
}

/// A [`CandidateRef`] that owns its parts, to keep beyond the route it was read from.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum CandidateKey {
    Own(Protocol),
    Peer(IpAddr),
    Imported(RouteDistinguisher, PathSource),
}

impl CandidateKey {
    pub fn as_ref(&self) -> CandidateRef<'_> {
        match self {
            CandidateKey::Own(p) => CandidateRef::Own(*p),
            CandidateKey::Peer(a) => CandidateRef::Peer(a),
            CandidateKey::Imported(rd, source) => CandidateRef::Imported(rd, source),
        }
    }
}

impl CandidateRef<'_> {
    pub fn to_owned(self) -> CandidateKey {
        match self {
            CandidateRef::Own(p) => CandidateKey::Own(p),
            CandidateRef::Peer(a) => CandidateKey::Peer(*a),
            CandidateRef::Imported(rd, source) => CandidateKey::Imported(*rd, source.clone()),
        }
    }

    /// An imported candidate's RD.
    pub fn imported_rd(self) -> Option<RouteDistinguisher> {
        match self {
            CandidateRef::Imported(rd, _) => Some(*rd),
            _ => None,
        }
    }
}

impl Route {
    /// Which candidate this route is: a leaked route is the path it was imported from, a BGP
    /// route with a neighbor that neighbor's, anything else the VRF's own of its protocol.
    /// The RIB builds its routes so (the CE neighbor's routes as BGP routes with their
    /// neighbor, the VRF's own without a leak or the BGP protocol).
    pub fn candidate(&self) -> CandidateRef<'_> {
        if let Some(origin) = self.origin().map(|o| &**o) {
            if let Some(leak) = &origin.leaked {
                return CandidateRef::Imported(&leak.rd, &leak.source);
            }
            if let (Protocol::Bgp, Some(peer)) = (self.protocol(), &origin.peer) {
                return CandidateRef::Peer(&peer.addr);
            }
        }
        CandidateRef::Own(self.protocol())
    }
}

/// The candidate routes of one prefix, in candidate order ([`CandidateRef`]), at most one per
/// key: what a route's key is read from (its protocol, origin) must not change while it is
/// here; the rest may ([`KeyedSlice::get_mut`]).
pub type Candidates = KeyedSlice<Route, Packed<Route>>;

impl Keyed for Route {
    type Key<'a> = CandidateRef<'a>;

    fn key(&self) -> CandidateRef<'_> {
        self.candidate()
    }

    fn cmp_key(&self, key: &CandidateRef<'_>) -> Ordering {
        self.candidate().cmp(key)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use proptest::prelude::*;
    use vpn_types::AdminValue;

    use super::*;
    use crate::{Forward, LeakSource, PeerRef, RouteOrigin};

    /// A route of each kind the RIB makes: `kind` picks own (two protocols), a CE neighbor's
    /// (two neighbors) or imported (two RDs, from a neighbor or a VRF); `tag` tells versions
    /// of one candidate apart.
    fn route(kind: u8, tag: u32) -> Route {
        let peer = |last: u8| PeerRef {
            addr: IpAddr::from([10, 0, 0, last]),
            router_id: [1, 1, 1, last].into(),
            ebgp: true,
            rr_client: false,
        };
        let rd = |value: u32| RouteDistinguisher(AdminValue::As2 { asn: 65000, value });
        let (protocol, origin) = match kind % 8 {
            0 => (Protocol::Static, None),
            1 => (Protocol::Connected, None),
            k @ (2 | 3) => (
                Protocol::Bgp,
                Some(RouteOrigin {
                    peer: Some(peer(k)),
                    leaked: None,
                }),
            ),
            k => (
                Protocol::Bgp,
                Some(RouteOrigin {
                    peer: (k % 2 == 0).then(|| peer(9)),
                    leaked: Some(LeakSource {
                        rd: rd(u32::from(k / 6)),
                        source: if k % 2 == 0 {
                            PathSource::Peer(Arc::new(IpAddr::from([10, 0, 0, 9])))
                        } else {
                            PathSource::Vrf(Arc::from("BLUE"))
                        },
                        protocol: Protocol::Bgp,
                    }),
                }),
            ),
        };
        let mut route = Route::local(protocol, Forward::Blackhole, tag);
        let forward = route.forward().clone();
        route.set_via(crate::RouteVia::new(
            protocol,
            protocol.default_distance(),
            forward,
            origin.map(Arc::new),
        ));
        route
    }

    #[test]
    fn keys_are_read_from_the_routes() {
        let keys: Vec<CandidateKey> = (0..8).map(|k| route(k, 0).candidate().to_owned()).collect();
        let rd = |value| RouteDistinguisher(AdminValue::As2 { asn: 65000, value });
        let from_pe = || PathSource::Peer(Arc::new(IpAddr::from([10, 0, 0, 9])));
        let from_vrf = || PathSource::Vrf(Arc::from("BLUE"));
        assert_eq!(
            keys,
            [
                CandidateKey::Own(Protocol::Static),
                CandidateKey::Own(Protocol::Connected),
                CandidateKey::Peer(IpAddr::from([10, 0, 0, 2])),
                CandidateKey::Peer(IpAddr::from([10, 0, 0, 3])),
                CandidateKey::Imported(rd(0), from_pe()),
                CandidateKey::Imported(rd(0), from_vrf()),
                CandidateKey::Imported(rd(1), from_pe()),
                CandidateKey::Imported(rd(1), from_vrf()),
            ]
        );
        for key in &keys {
            assert_eq!(key.as_ref().to_owned(), *key);
        }
    }

    proptest! {
        /// Candidates behave as a map from each route's key to the route, in key order.
        #[test]
        fn behave_as_a_map_by_key(ops in prop::collection::vec((any::<bool>(), 0u8..8, 0u32..3), 0..40)) {
            let mut c = Candidates::new();
            let mut m: BTreeMap<CandidateKey, Route> = BTreeMap::new();
            for (insert, kind, tag) in ops {
                let r = route(kind, tag);
                let key = r.candidate().to_owned();
                if insert {
                    prop_assert_eq!(c.insert(r.clone()), m.insert(key, r));
                } else {
                    prop_assert_eq!(c.remove(key.as_ref()), m.remove(&key));
                }
                prop_assert_eq!(c.len(), m.len());
                prop_assert!(c.iter().eq(m.values()));
                for (i, (k, r)) in m.iter().enumerate() {
                    prop_assert_eq!(c.get(k.as_ref()), Some(r));
                    prop_assert_eq!(c.index_of(k.as_ref()), Some(i));
                }
            }
            prop_assert!(c.is_exactly_sized(), "one representation per content");
        }
    }
}
