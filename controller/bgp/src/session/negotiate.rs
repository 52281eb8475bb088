//! Our OPEN, the checks on the peer's OPEN (RFC 4271 §6.2, RFC 6793, RFC 6286, RFC 5492)
//! and what the two OPENs agree on.

use std::fmt;
use std::net::Ipv4Addr;

use crate::consts::{notify, BGP_VERSION};
use crate::{
    AfiSafi, Capability, Context, Family, FamilySet, GracefulRestart, GracefulRestartFamily,
    Notification, Open,
};

use super::config::NeighborConfig;

/// What a session runs with once both OPENs were accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// How to read and write messages from now on (4-octet AS, extended messages, families).
    pub context: Context,
    /// min(ours, theirs); 0 means neither KEEPALIVEs nor a hold timer.
    pub hold_time: u16,
    /// hold_time / 3 (RFC 4271 §10), 0 when the hold time is 0.
    pub keepalive: u16,
    pub remote_as: u32,
    pub remote_id: Ipv4Addr,
    pub ibgp: bool,
    /// The peer advertised route refresh (RFC 2918): only then may we send ROUTE-REFRESH.
    pub route_refresh: bool,
    /// Both sides advertised graceful restart; what the peer told us in its capability.
    pub graceful_restart: Option<PeerGracefulRestart>,
    pub local_open: Open,
    pub remote_open: Open,
}

/// The peer's graceful restart capability, reduced to what a helper needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerGracefulRestart {
    /// Seconds we keep its routes after its session drops, waiting for it to come back.
    pub restart_time: u16,
    /// R bit: the peer has just restarted (its End-of-RIB will follow).
    pub restarting: bool,
    /// Negotiated families the peer listed: their routes are retained across a restart.
    pub families: FamilySet,
    /// Of those, the ones whose forwarding state the peer preserved (F bit).
    pub preserved: FamilySet,
}

/// Why we refuse the peer's OPEN; [`OpenProblem::notification`] is what to send.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpenProblem {
    #[error("unsupported BGP version {0}")]
    Version(u8),
    #[error("peer AS {got} is not the configured AS {expected}")]
    BadPeerAs { expected: u32, got: u32 },
    #[error("unacceptable hold time {0} s")]
    HoldTime(u16),
    #[error("invalid BGP identifier {0}")]
    BadBgpId(Ipv4Addr),
    #[error("BGP identifier {0} is our own (internal peer, RFC 6286)")]
    SameBgpId(Ipv4Addr),
    #[error("no address family in common (we offer {ours}, the peer offers {theirs})")]
    NoCommonFamily { ours: Families, theirs: Families },
}

impl OpenProblem {
    pub fn notification(&self, local: &Open) -> Notification {
        use notify::open::*;
        let (subcode, data) = match self {
            OpenProblem::Version(_) => (
                UNSUPPORTED_VERSION,
                u16::from(BGP_VERSION).to_be_bytes().to_vec(),
            ),
            OpenProblem::BadPeerAs { .. } => (BAD_PEER_AS, Vec::new()),
            OpenProblem::HoldTime(_) => (UNACCEPTABLE_HOLD_TIME, Vec::new()),
            OpenProblem::BadBgpId(_) | OpenProblem::SameBgpId(_) => {
                (BAD_BGP_IDENTIFIER, Vec::new())
            }
            // RFC 5492 §3: the data lists the capabilities we wanted the peer to have.
            OpenProblem::NoCommonFamily { .. } => {
                let mut data = Vec::new();
                local
                    .capabilities()
                    .filter(|c| matches!(c, Capability::Multiprotocol { .. }))
                    .for_each(|c| c.encode(&mut data));
                (UNSUPPORTED_CAPABILITY, data)
            }
        };
        Notification {
            code: notify::OPEN_MESSAGE,
            subcode,
            data,
        }
    }
}

/// A family set shown as "ipv4-unicast, vpnv4" in messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Families(pub FamilySet);

impl fmt::Display for Families {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for fam in self.0.iter() {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{fam}")?;
        }
        if first {
            f.write_str("none")?;
        }
        Ok(())
    }
}

/// Our OPEN: one multiprotocol capability per configured family, route refresh, 4-octet AS
/// (with AS_TRANS in "My AS" when needed), extended message when configured, and graceful
/// restart as a helper: the restart time and no family, which RFC 4724 §3 defines as "I
/// preserve no forwarding state myself but keep yours while you restart".
pub fn local_open(cfg: &NeighborConfig) -> Open {
    let mut caps: Vec<Capability> = cfg
        .families
        .iter()
        .map(|f| Capability::Multiprotocol {
            family: f.afi_safi(),
            reserved: 0,
        })
        .collect();
    caps.push(Capability::RouteRefresh);
    caps.push(Capability::FourOctetAs(cfg.local_as));
    if cfg.extended_message {
        caps.push(Capability::ExtendedMessage);
    }
    if let Some(gr) = &cfg.graceful_restart {
        caps.push(Capability::GracefulRestart(GracefulRestart {
            flags: 0,
            restart_time: gr.restart_time & 0x0FFF,
            families: Vec::new(),
        }));
    }
    Open::new(cfg.local_as, cfg.hold_time, cfg.router_id, caps)
}

/// Checks the peer's OPEN against the configuration and our OPEN, and works out the session.
///
/// The codec has already refused what is wrong whatever the configuration (version, hold
/// time 1–2, identifier 0, unknown optional parameters); the checks are repeated here so the
/// state machine is correct on its own, whoever builds the [`Open`].
pub fn negotiate(
    cfg: &NeighborConfig,
    local: &Open,
    remote: &Open,
) -> Result<Negotiated, OpenProblem> {
    if remote.version != BGP_VERSION {
        return Err(OpenProblem::Version(remote.version));
    }
    // RFC 6793 §4.1: with the capability, its value is the AS ("My AS" is then AS_TRANS
    // for a 4-octet AS); without it, "My AS" is all there is.
    let got = remote.asn();
    if got != cfg.remote_as {
        return Err(OpenProblem::BadPeerAs {
            expected: cfg.remote_as,
            got,
        });
    }
    if remote.hold_time == 1 || remote.hold_time == 2 {
        return Err(OpenProblem::HoldTime(remote.hold_time));
    }
    if remote.bgp_id.is_unspecified() || remote.bgp_id.is_broadcast() {
        return Err(OpenProblem::BadBgpId(remote.bgp_id));
    }
    // RFC 6286 §2.2: identifiers must be unique within an AS; an external peer may share ours.
    let ibgp = cfg.is_ibgp();
    if ibgp && remote.bgp_id == cfg.router_id {
        return Err(OpenProblem::SameBgpId(remote.bgp_id));
    }
    let context = Context::negotiated(local, remote);
    if context.families.iter().next().is_none() {
        return Err(OpenProblem::NoCommonFamily {
            ours: Families(local.families()),
            theirs: Families(remote.families()),
        });
    }
    let hold_time = cfg.hold_time.min(remote.hold_time);
    let route_refresh = remote
        .capabilities()
        .any(|c| matches!(c, Capability::RouteRefresh));
    let we_do_gr = local
        .capabilities()
        .any(|c| matches!(c, Capability::GracefulRestart(_)));
    let graceful_restart = remote
        .capabilities()
        .find_map(|c| match c {
            Capability::GracefulRestart(gr) => Some(gr),
            _ => None,
        })
        .filter(|_| we_do_gr)
        .map(|gr| peer_gr(gr, context.families));
    Ok(Negotiated {
        context,
        hold_time,
        keepalive: hold_time / 3,
        remote_as: got,
        remote_id: remote.bgp_id,
        ibgp,
        route_refresh,
        graceful_restart,
        local_open: local.clone(),
        remote_open: remote.clone(),
    })
}

fn peer_gr(gr: &GracefulRestart, negotiated: FamilySet) -> PeerGracefulRestart {
    let mut families = FamilySet::empty();
    let mut preserved = FamilySet::empty();
    for GracefulRestartFamily { family, flags } in &gr.families {
        if let Some(f) = known(*family).filter(|f| negotiated.contains(*f)) {
            families.insert(f);
            if flags & GracefulRestartFamily::FORWARDING_STATE != 0 {
                preserved.insert(f);
            }
        }
    }
    PeerGracefulRestart {
        restart_time: gr.restart_time,
        restarting: gr.flags & GracefulRestart::RESTART_STATE != 0,
        families,
        preserved,
    }
}

fn known(a: AfiSafi) -> Option<Family> {
    Family::from_afi_safi(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consts::AS_TRANS;
    use std::net::IpAddr;

    fn cfg(local_as: u32, remote_as: u32) -> NeighborConfig {
        NeighborConfig::new(
            IpAddr::from([127, 0, 0, 2]),
            local_as,
            remote_as,
            Ipv4Addr::new(1, 1, 1, 1),
        )
    }

    fn peer_open(asn: u32, hold: u16, caps: Vec<Capability>) -> Open {
        Open::new(asn, hold, Ipv4Addr::new(2, 2, 2, 2), caps)
    }

    fn mp(f: Family) -> Capability {
        Capability::Multiprotocol {
            family: f.afi_safi(),
            reserved: 0,
        }
    }

    #[test]
    fn our_open_uses_as_trans_and_lists_what_is_configured() {
        let mut c = cfg(4_200_000_001, 65002);
        c.families = [Family::Ipv4Unicast, Family::Vpnv6].into_iter().collect();
        c.graceful_restart = Some(Default::default());
        c.extended_message = false;
        let o = local_open(&c);
        assert_eq!(o.my_as, AS_TRANS);
        assert_eq!(o.asn(), 4_200_000_001);
        assert_eq!(o.hold_time, 90);
        let caps: Vec<_> = o.capabilities().cloned().collect();
        assert_eq!(
            caps,
            vec![
                mp(Family::Ipv4Unicast),
                mp(Family::Vpnv6),
                Capability::RouteRefresh,
                Capability::FourOctetAs(4_200_000_001),
                Capability::GracefulRestart(GracefulRestart {
                    flags: 0,
                    restart_time: 120,
                    families: vec![]
                }),
            ]
        );
    }

    #[test]
    fn hold_time_is_the_minimum_and_keepalive_a_third() {
        let c = cfg(65001, 65002);
        let local = local_open(&c);
        let n = negotiate(&c, &local, &peer_open(65002, 30, vec![])).unwrap();
        assert_eq!((n.hold_time, n.keepalive), (30, 10));
        let n = negotiate(&c, &local, &peer_open(65002, 180, vec![])).unwrap();
        assert_eq!((n.hold_time, n.keepalive), (90, 30));
        let n = negotiate(&c, &local, &peer_open(65002, 0, vec![])).unwrap();
        assert_eq!((n.hold_time, n.keepalive), (0, 0));
        let n = negotiate(&c, &local, &peer_open(65002, 3, vec![])).unwrap();
        assert_eq!((n.hold_time, n.keepalive), (3, 1));
        let err = negotiate(&c, &local, &peer_open(65002, 2, vec![])).unwrap_err();
        assert_eq!(err, OpenProblem::HoldTime(2));
        assert_eq!(err.notification(&local).subcode, 6);
    }

    #[test]
    fn peer_as_with_and_without_the_four_octet_capability() {
        // A 4-octet peer: "My AS" is AS_TRANS, the capability carries the AS.
        let c = cfg(65001, 4_200_000_002);
        let local = local_open(&c);
        let o = peer_open(
            4_200_000_002,
            90,
            vec![Capability::FourOctetAs(4_200_000_002)],
        );
        assert_eq!(o.my_as, AS_TRANS);
        let n = negotiate(&c, &local, &o).unwrap();
        assert!(n.context.four_octet_as);
        assert_eq!(n.remote_as, 4_200_000_002);
        // An old speaker cannot be in a 4-octet AS: AS_TRANS alone is AS 23456, not ours.
        let old = peer_open(u32::from(AS_TRANS), 90, vec![]);
        let err = negotiate(&c, &local, &old).unwrap_err();
        assert_eq!(
            err,
            OpenProblem::BadPeerAs {
                expected: 4_200_000_002,
                got: 23456
            }
        );
        assert_eq!(err.notification(&local).code, 2);
        assert_eq!(err.notification(&local).subcode, 2);
        // An old speaker in a 2-octet AS is fine, and the session is 2-octet.
        let c = cfg(65001, 65002);
        let n = negotiate(&c, &local_open(&c), &peer_open(65002, 90, vec![])).unwrap();
        assert!(!n.context.four_octet_as);
        // Wrong AS in the capability, right one in "My AS": the capability wins.
        let mut o = peer_open(65002, 90, vec![Capability::FourOctetAs(65009)]);
        o.my_as = 65002;
        assert!(matches!(
            negotiate(&c, &local_open(&c), &o),
            Err(OpenProblem::BadPeerAs { got: 65009, .. })
        ));
    }

    #[test]
    fn bgp_identifier_rules() {
        let c = cfg(65001, 65001);
        let local = local_open(&c);
        let mut o = peer_open(65001, 90, vec![]);
        o.bgp_id = c.router_id;
        let err = negotiate(&c, &local, &o).unwrap_err();
        assert_eq!(err, OpenProblem::SameBgpId(c.router_id));
        assert_eq!(err.notification(&local).subcode, 3);
        // An external peer may have our identifier (RFC 6286).
        let e = cfg(65001, 65002);
        let mut o = peer_open(65002, 90, vec![]);
        o.bgp_id = e.router_id;
        assert!(negotiate(&e, &local_open(&e), &o).is_ok());
        o.bgp_id = Ipv4Addr::UNSPECIFIED;
        assert_eq!(
            negotiate(&e, &local_open(&e), &o),
            Err(OpenProblem::BadBgpId(Ipv4Addr::UNSPECIFIED))
        );
        let mut o = peer_open(65002, 90, vec![]);
        o.version = 3;
        let err = negotiate(&e, &local_open(&e), &o).unwrap_err();
        assert_eq!(err.notification(&local).data, vec![0, 4]);
    }

    #[test]
    fn families_unknown_capabilities_and_unsupported_capability() {
        let mut c = cfg(65001, 65002);
        c.families = [Family::Ipv4Unicast, Family::Vpnv4].into_iter().collect();
        let local = local_open(&c);
        let o = peer_open(
            65002,
            90,
            vec![
                mp(Family::Vpnv4),
                mp(Family::Ipv6Unicast),
                Capability::Unknown {
                    code: 73,
                    value: b"\x04host\x00".to_vec(),
                },
                Capability::Multiprotocol {
                    family: AfiSafi::new(25, 70),
                    reserved: 0,
                },
            ],
        );
        let n = negotiate(&c, &local, &o).unwrap();
        assert_eq!(
            n.context.families.iter().collect::<Vec<_>>(),
            vec![Family::Vpnv4]
        );
        assert!(!n.route_refresh);
        assert!(!n.context.extended_message);
        // Nothing in common: Unsupported Capability with our multiprotocol capabilities.
        let o = peer_open(65002, 90, vec![mp(Family::Ipv6Unicast)]);
        let err = negotiate(&c, &local, &o).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no address family in common (we offer ipv4-unicast, vpnv4, the peer offers ipv6-unicast)"
        );
        let n = err.notification(&local);
        assert_eq!((n.code, n.subcode), (2, 7));
        assert_eq!(n.data, vec![1, 4, 0, 1, 0, 1, 1, 4, 0, 1, 0, 128]);
    }

    #[test]
    fn graceful_restart_needs_both_sides_and_keeps_only_negotiated_families() {
        let mut c = cfg(65001, 65002);
        let peer_gr = Capability::GracefulRestart(GracefulRestart {
            flags: GracefulRestart::RESTART_STATE,
            restart_time: 90,
            families: vec![
                GracefulRestartFamily {
                    family: Family::Ipv4Unicast.afi_safi(),
                    flags: GracefulRestartFamily::FORWARDING_STATE,
                },
                GracefulRestartFamily {
                    family: Family::Ipv6Unicast.afi_safi(),
                    flags: GracefulRestartFamily::FORWARDING_STATE,
                },
            ],
        });
        let o = peer_open(
            65002,
            90,
            vec![mp(Family::Ipv4Unicast), mp(Family::Ipv6Unicast), peer_gr],
        );
        let n = negotiate(&c, &local_open(&c), &o).unwrap();
        assert_eq!(n.graceful_restart, None, "we did not advertise it");
        c.graceful_restart = Some(Default::default());
        let n = negotiate(&c, &local_open(&c), &o).unwrap();
        let gr = n.graceful_restart.unwrap();
        assert_eq!(gr.restart_time, 90);
        assert!(gr.restarting);
        assert_eq!(
            gr.families.iter().collect::<Vec<_>>(),
            [Family::Ipv4Unicast]
        );
        assert_eq!(gr.preserved, gr.families);
    }
}
