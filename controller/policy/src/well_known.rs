//! Well-known communities with their real semantics, decided per (route, neighbor).
//!
//! The speaker calls [`on_receive`] for every route a neighbor sends (after its import
//! route-map) and [`may_advertise`] for every route it considers sending to a neighbor
//! (before its export route-map). Neither knows anything about sessions; the neighbor is
//! described by [`Neighbor`].
//!
//! | community | value | rule |
//! |---|---|---|
//! | NO_EXPORT | 0xFFFFFF01 | not to eBGP neighbors; confederation members are inside (RFC 1997) |
//! | NO_ADVERTISE | 0xFFFFFF02 | to no neighbor at all (RFC 1997) |
//! | NO_EXPORT_SUBCONFED | 0xFFFFFF03 | not to eBGP nor to confederation-member neighbors (RFC 1997) |
//! | NOPEER | 0xFFFFFF04 | not to eBGP neighbors that are *bilateral peers* (RFC 3765) |
//! | GRACEFUL_SHUTDOWN | 0xFFFF0000 | on receipt, LOCAL_PREF 0 when enabled (RFC 8326) |
//! | BLACKHOLE | 0xFFFF029A | accepted only from neighbors configured for it; becomes a drop entry, gets NO_EXPORT (RFC 7999) |
//!
//! **NOPEER and route servers.** RFC 3765 lets an AS withhold a NOPEER route from "external
//! bilateral peer neighbour AS's": a sender-keep-all interconnection between two ASes, as
//! distinct from a provider/customer one. Customers and providers are therefore never
//! affected. A session to an IXP route server is *multilateral* peering — not bilateral — so
//! by default NOPEER routes still go to route servers; an operator who wants the stricter
//! reading (route-server peering is peering all the same) sets
//! [`NeighborOptions::nopeer_to_route_server`]. NOPEER is advisory ("permitting an AS not
//! to readvertise"), hence [`NeighborOptions::honour_nopeer`].

use std::borrow::Cow;

use crate::community::Community;
use crate::route::{Communities, Route};

/// How the neighbor's session relates to this router's AS.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum PeerType {
    /// Same AS (same member AS inside a confederation).
    Ibgp,
    /// Another AS outside our confederation (or any other AS when there is none).
    Ebgp,
    /// Another member AS of our own confederation (RFC 5065).
    ConfedEbgp { member_as: u32 },
}

/// The business relationship with an eBGP neighbor (meaningless for iBGP and confederation
/// neighbors, which are inside the AS).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Relationship {
    /// They pay us for transit.
    Customer,
    /// We pay them for transit.
    Provider,
    /// Bilateral, settlement-free (sender keeps all): RFC 3765's "bilateral peer".
    Peer,
    /// An IXP route server: multilateral peering.
    RouteServer,
}

/// `neighbor … send-community standard|extended|large`: which community attributes go out.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct SendCommunity {
    pub standard: bool,
    pub extended: bool,
    pub large: bool,
}

impl SendCommunity {
    pub const ALL: SendCommunity = SendCommunity {
        standard: true,
        extended: true,
        large: true,
    };
    pub const NONE: SendCommunity = SendCommunity {
        standard: false,
        extended: false,
        large: false,
    };
}

/// Per-neighbor switches for the well-known communities.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct NeighborOptions {
    /// Which communities are sent. Seed 000's warning — without `send-community` on iBGP
    /// sessions NO_EXPORT is lost and customer routes leak at the next eBGP border — is why
    /// the default sends all of them (FRR's default; IOS sends none unless configured).
    pub send_community: SendCommunity,
    /// Accept routes carrying BLACKHOLE from this neighbor (RFC 7999 requires agreement).
    pub accept_blackhole: bool,
    /// Lower LOCAL_PREF to 0 for routes received with GRACEFUL_SHUTDOWN (RFC 8326).
    pub graceful_shutdown: bool,
    /// Withhold NOPEER routes from this neighbor if it is a bilateral peer.
    pub honour_nopeer: bool,
    /// Treat a route-server neighbor as a peer for NOPEER.
    pub nopeer_to_route_server: bool,
}

impl NeighborOptions {
    /// Defaults: graceful shutdown and NOPEER honoured; BLACKHOLE accepted only inside the
    /// AS (an iBGP or confederation neighbor relays what an edge router already accepted).
    pub fn default_for(peer_type: PeerType) -> Self {
        NeighborOptions {
            send_community: SendCommunity::ALL,
            accept_blackhole: !matches!(peer_type, PeerType::Ebgp),
            graceful_shutdown: true,
            honour_nopeer: true,
            nopeer_to_route_server: false,
        }
    }
}

/// What the well-known communities need to know about a neighbor.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Neighbor {
    pub peer_type: PeerType,
    pub relationship: Relationship,
    pub options: NeighborOptions,
}

impl Neighbor {
    pub fn ibgp() -> Self {
        Neighbor {
            peer_type: PeerType::Ibgp,
            relationship: Relationship::Peer,
            options: NeighborOptions::default_for(PeerType::Ibgp),
        }
    }
    pub fn confed(member_as: u32) -> Self {
        let peer_type = PeerType::ConfedEbgp { member_as };
        Neighbor {
            peer_type,
            relationship: Relationship::Peer,
            options: NeighborOptions::default_for(peer_type),
        }
    }
    pub fn ebgp(relationship: Relationship) -> Self {
        Neighbor {
            peer_type: PeerType::Ebgp,
            relationship,
            options: NeighborOptions::default_for(PeerType::Ebgp),
        }
    }

    /// RFC 3765's "external bilateral peer", given this neighbor's options.
    fn is_bilateral_peer(&self) -> bool {
        self.peer_type == PeerType::Ebgp
            && match self.relationship {
                Relationship::Peer => true,
                Relationship::RouteServer => self.options.nopeer_to_route_server,
                Relationship::Customer | Relationship::Provider => false,
            }
    }
}

/// Why a route is not advertised to a neighbor.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, thiserror::Error)]
pub enum Suppressed {
    #[error("NO_ADVERTISE: not advertised to any peer")]
    NoAdvertise,
    #[error("NO_EXPORT: not advertised outside the AS or confederation")]
    NoExport,
    #[error("NO_EXPORT_SUBCONFED: not advertised outside the (member) AS")]
    NoExportSubconfed,
    #[error("NOPEER: not advertised to a bilateral peer")]
    NoPeer,
}

/// Whether the well-known communities on `route` allow advertising it to `to`.
pub fn may_advertise(route: &Route, to: &Neighbor) -> Result<(), Suppressed> {
    let c = &route.attrs.communities;
    if c.is_empty() {
        return Ok(());
    }
    if c.contains(&Community::NO_ADVERTISE) {
        return Err(Suppressed::NoAdvertise);
    }
    let external = to.peer_type == PeerType::Ebgp;
    let outside_member_as = !matches!(to.peer_type, PeerType::Ibgp);
    if external && c.contains(&Community::NO_EXPORT) {
        return Err(Suppressed::NoExport);
    }
    if outside_member_as && c.contains(&Community::NO_EXPORT_SUBCONFED) {
        return Err(Suppressed::NoExportSubconfed);
    }
    if to.options.honour_nopeer && to.is_bilateral_peer() && c.contains(&Community::NOPEER) {
        return Err(Suppressed::NoPeer);
    }
    Ok(())
}

/// The route as it goes to `to`: refused if a well-known community forbids it, otherwise
/// with the community attributes the neighbor is not sent removed (borrowed when none are).
pub fn prepare_outbound<'r>(route: &'r Route, to: &Neighbor) -> Result<Cow<'r, Route>, Suppressed> {
    may_advertise(route, to)?;
    let send = to.options.send_community;
    let a = &route.attrs;
    let strip_std = !send.standard && !a.communities.is_empty();
    let strip_ext = !send.extended && !a.ext_communities.is_empty();
    let strip_large = !send.large && !a.large_communities.is_empty();
    if !(strip_std || strip_ext || strip_large) {
        return Ok(Cow::Borrowed(route));
    }
    let mut out = route.clone();
    let m = out.attrs_mut();
    if strip_std {
        m.communities = Default::default();
    }
    if strip_ext {
        m.ext_communities = Default::default();
    }
    if strip_large {
        m.large_communities = Default::default();
    }
    Ok(Cow::Owned(out))
}

/// Why a received route was refused.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, thiserror::Error)]
pub enum Rejected {
    #[error("BLACKHOLE route from a neighbor not configured to send blackhole routes")]
    BlackholeNotAccepted,
}

/// What becomes of a received route.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Received {
    Accept {
        route: Route,
        /// The route carries an accepted BLACKHOLE: install it as a drop entry (Null0),
        /// whatever its next hop says.
        blackhole: bool,
    },
    Reject(Rejected),
}

/// Applies the receive-side well-known communities to a route from `from`.
pub fn on_receive(mut route: Route, from: &Neighbor) -> Received {
    let c = &route.attrs.communities;
    if c.is_empty() {
        return Received::Accept {
            route,
            blackhole: false,
        };
    }
    let blackhole = c.contains(&Community::BLACKHOLE);
    let gshut = c.contains(&Community::GRACEFUL_SHUTDOWN);
    if blackhole && !from.options.accept_blackhole {
        return Received::Reject(Rejected::BlackholeNotAccepted);
    }
    if gshut && from.options.graceful_shutdown {
        route.attrs_mut().local_pref = Some(0);
    }
    if blackhole && !route.attrs.communities.contains(&Community::NO_EXPORT) {
        // RFC 7999 §3.2: keep an accepted blackhole inside the AS.
        let a = route.attrs_mut();
        a.communities = a.communities.with([Community::NO_EXPORT]);
    }
    Received::Accept { route, blackhole }
}

/// Convenience for tests and callers: a community set from well-known values.
pub fn communities(values: &[Community]) -> Communities {
    Communities::new(values.iter().copied())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::{Attrs, SourceProtocol};

    fn route_with(c: &[Community]) -> Route {
        let mut a = Attrs::new(SourceProtocol::Bgp);
        a.communities = communities(c);
        a.local_pref = Some(100);
        Route::new("192.0.2.0/24".parse().unwrap(), a)
    }

    fn neighbors() -> Vec<(&'static str, Neighbor)> {
        let mut rs_strict = Neighbor::ebgp(Relationship::RouteServer);
        rs_strict.options.nopeer_to_route_server = true;
        let mut peer_lax = Neighbor::ebgp(Relationship::Peer);
        peer_lax.options.honour_nopeer = false;
        vec![
            ("ibgp", Neighbor::ibgp()),
            ("confed", Neighbor::confed(65010)),
            ("customer", Neighbor::ebgp(Relationship::Customer)),
            ("provider", Neighbor::ebgp(Relationship::Provider)),
            ("peer", Neighbor::ebgp(Relationship::Peer)),
            ("route-server", Neighbor::ebgp(Relationship::RouteServer)),
            ("route-server(strict)", rs_strict),
            ("peer(nopeer off)", peer_lax),
        ]
    }

    /// Each community × each neighbor type/relationship: advertised (`.`) or suppressed.
    #[test]
    fn advertise_table() {
        use Suppressed::*;
        type Row = (&'static str, Community, [Option<Suppressed>; 8]);
        let ok = None;
        let rows: [Row; 7] = [
            //                 ibgp  confed  cust  prov  peer  rs   rs!  peer-lax
            (
                "none",
                Community::new(65001, 1),
                [ok, ok, ok, ok, ok, ok, ok, ok],
            ),
            (
                "NO_EXPORT",
                Community::NO_EXPORT,
                [
                    ok,
                    ok,
                    Some(NoExport),
                    Some(NoExport),
                    Some(NoExport),
                    Some(NoExport),
                    Some(NoExport),
                    Some(NoExport),
                ],
            ),
            (
                "NO_ADVERTISE",
                Community::NO_ADVERTISE,
                [Some(NoAdvertise); 8],
            ),
            (
                "NO_EXPORT_SUBCONFED",
                Community::NO_EXPORT_SUBCONFED,
                [
                    ok,
                    Some(NoExportSubconfed),
                    Some(NoExportSubconfed),
                    Some(NoExportSubconfed),
                    Some(NoExportSubconfed),
                    Some(NoExportSubconfed),
                    Some(NoExportSubconfed),
                    Some(NoExportSubconfed),
                ],
            ),
            (
                "NOPEER",
                Community::NOPEER,
                [ok, ok, ok, ok, Some(NoPeer), ok, Some(NoPeer), ok],
            ),
            ("GRACEFUL_SHUTDOWN", Community::GRACEFUL_SHUTDOWN, [ok; 8]),
            ("BLACKHOLE", Community::BLACKHOLE, [ok; 8]),
        ];
        let ns = neighbors();
        for (name, c, want) in rows {
            let r = route_with(&[c]);
            for (i, (nname, n)) in ns.iter().enumerate() {
                assert_eq!(may_advertise(&r, n).err(), want[i], "{name} to {nname}");
            }
        }
    }

    #[test]
    fn no_advertise_wins_over_everything() {
        let r = route_with(&[
            Community::NO_EXPORT,
            Community::NO_ADVERTISE,
            Community::NOPEER,
        ]);
        for (_, n) in neighbors() {
            assert_eq!(may_advertise(&r, &n), Err(Suppressed::NoAdvertise));
        }
    }

    /// Receive side: each community × each neighbor.
    #[test]
    fn receive_table() {
        for (nname, n) in neighbors() {
            // GRACEFUL_SHUTDOWN: LOCAL_PREF 0 whenever enabled (the default everywhere).
            match on_receive(route_with(&[Community::GRACEFUL_SHUTDOWN]), &n) {
                Received::Accept { route, blackhole } => {
                    assert_eq!(route.attrs.local_pref, Some(0), "{nname}");
                    assert!(!blackhole);
                }
                other => panic!("{nname}: {other:?}"),
            }
            // BLACKHOLE: accepted inside the AS by default, refused from eBGP by default.
            let got = on_receive(route_with(&[Community::BLACKHOLE]), &n);
            if n.peer_type == PeerType::Ebgp {
                assert_eq!(
                    got,
                    Received::Reject(Rejected::BlackholeNotAccepted),
                    "{nname}"
                );
            } else {
                match got {
                    Received::Accept { route, blackhole } => {
                        assert!(blackhole, "{nname}");
                        assert!(route.attrs.communities.contains(&Community::NO_EXPORT));
                    }
                    other => panic!("{nname}: {other:?}"),
                }
            }
            // The send-side communities do nothing on receipt.
            for c in [
                Community::NO_EXPORT,
                Community::NO_ADVERTISE,
                Community::NO_EXPORT_SUBCONFED,
                Community::NOPEER,
            ] {
                let r = route_with(&[c]);
                assert_eq!(
                    on_receive(r.clone(), &n),
                    Received::Accept {
                        route: r,
                        blackhole: false
                    },
                    "{nname}"
                );
            }
        }
    }

    #[test]
    fn options_switch_receive_behaviour() {
        let mut customer = Neighbor::ebgp(Relationship::Customer);
        customer.options.accept_blackhole = true;
        customer.options.graceful_shutdown = false;
        match on_receive(
            route_with(&[Community::BLACKHOLE, Community::GRACEFUL_SHUTDOWN]),
            &customer,
        ) {
            Received::Accept { route, blackhole } => {
                assert!(blackhole);
                assert_eq!(route.attrs.local_pref, Some(100), "gshut disabled");
                // Accepted blackholes are kept inside the AS.
                assert_eq!(
                    may_advertise(&route, &Neighbor::ebgp(Relationship::Provider)),
                    Err(Suppressed::NoExport)
                );
                assert_eq!(may_advertise(&route, &Neighbor::ibgp()), Ok(()));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn send_community_strips_what_is_not_sent() {
        use crate::community::{ExtCommunity, LargeCommunity};
        let mut r = route_with(&[Community::NO_EXPORT]);
        r.attrs_mut().ext_communities =
            crate::route::ExtCommunities::new([ExtCommunity::route_target(
                "65000:1".parse().unwrap(),
            )]);
        r.attrs_mut().large_communities = crate::route::LargeCommunities::new([LargeCommunity {
            global: 1,
            local1: 2,
            local2: 3,
        }]);
        // Default: everything sent, borrowed.
        assert!(matches!(
            prepare_outbound(&r, &Neighbor::ibgp()),
            Ok(Cow::Borrowed(_))
        ));
        // Seed 000: an iBGP session without send-community loses NO_EXPORT on the way.
        let mut bare = Neighbor::ibgp();
        bare.options.send_community = SendCommunity {
            standard: false,
            extended: true,
            large: false,
        };
        let out = prepare_outbound(&r, &bare).unwrap();
        assert!(out.attrs.communities.is_empty());
        assert_eq!(out.attrs.ext_communities.len(), 1);
        assert!(out.attrs.large_communities.is_empty());
        // Suppression comes first.
        assert_eq!(
            prepare_outbound(&r, &Neighbor::ebgp(Relationship::Peer)),
            Err(Suppressed::NoExport)
        );
    }
}
