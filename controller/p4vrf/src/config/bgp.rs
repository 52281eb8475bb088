//! The `[bgp]` section: the router's AS and identifier, where it listens, peer templates and
//! neighbors (global ones carry VPNv4/VPNv6; a neighbor with `vrf` is a CE of that VRF and
//! carries IPv4/IPv6 unicast), validated with located errors like the rest of the file.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::Range;

use bgp::packet::Family;
use policy::{Relationship, SendCommunity};
use rib::MapRef;
use serde::Deserialize;
use toml::Spanned;

use super::Validator;

/// The BGP instance, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BgpConfig {
    pub asn: u32,
    pub router_id: Ipv4Addr,
    /// RFC 4456 cluster id when we reflect (default: the router id).
    pub cluster_id: Ipv4Addr,
    pub listen: Vec<SocketAddr>,
    pub neighbors: BTreeMap<IpAddr, BgpNeighbor>,
}

/// One neighbor with its template applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BgpNeighbor {
    pub address: IpAddr,
    pub remote_as: u32,
    /// The VRF a CE neighbor belongs to; `None` for a VPN (PE / route reflector) neighbor.
    pub vrf: Option<String>,
    pub port: u16,
    pub local_address: Option<IpAddr>,
    pub passive: bool,
    pub hold_time: u16,
    /// Seconds between connection attempts (doubling after failures, up to 120).
    pub connect_retry: u16,
    pub families: Vec<Family>,
    pub send_community: SendCommunity,
    pub relationship: Relationship,
    pub route_map_in: Option<MapRef>,
    pub route_map_out: Option<MapRef>,
    pub next_hop_self: bool,
    /// The address we advertise as next hop on this session (default: the session's own).
    pub next_hop: Option<IpAddr>,
    /// Our global IPv6 address as next hop of IPv6 routes on this session (a CE's IPv6
    /// unicast over an IPv4 session); without it IPv6 routes get `next-hop` IPv4-mapped.
    pub next_hop_ipv6: Option<Ipv6Addr>,
    pub route_reflector_client: bool,
    pub soft_reconfiguration_inbound: bool,
    /// Export to this neighbor follows the GateD `[[gated-export]]` statements for its AS.
    pub gated_export: bool,
    pub accept_blackhole: Option<bool>,
    pub graceful_shutdown: bool,
    pub honour_nopeer: bool,
    pub nopeer_to_route_server: bool,
    /// Graceful restart helper (RFC 4724): the capability is advertised, and when this
    /// neighbor's session drops without a NOTIFICATION its routes (and their P4 entries) stay,
    /// marked stale, until it is back and has re-sent them. `None`: off.
    pub graceful_restart: Option<bgp::session::GracefulRestartConfig>,
}

impl BgpNeighbor {
    pub fn is_ibgp(&self, local_as: u32) -> bool {
        self.remote_as == local_as
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawBgp {
    asn: Spanned<u32>,
    router_id: Spanned<String>,
    cluster_id: Option<Spanned<String>>,
    #[serde(default)]
    listen: Vec<Spanned<String>>,
    #[serde(default)]
    template: Vec<RawNeighbor>,
    #[serde(default)]
    neighbor: Vec<RawNeighbor>,
}

/// A neighbor or a template: every field optional, so a template can set any of them.
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawNeighbor {
    /// Templates only.
    name: Option<Spanned<String>>,
    /// Neighbors only.
    address: Option<Spanned<String>>,
    template: Option<Spanned<String>>,
    remote_as: Option<Spanned<u32>>,
    vrf: Option<Spanned<String>>,
    port: Option<Spanned<u16>>,
    local_address: Option<Spanned<String>>,
    passive: Option<bool>,
    hold_time: Option<Spanned<u16>>,
    connect_retry: Option<Spanned<u16>>,
    families: Option<Vec<Spanned<String>>>,
    send_community: Option<Vec<Spanned<String>>>,
    relationship: Option<Spanned<String>>,
    route_map_in: Option<Spanned<String>>,
    route_map_out: Option<Spanned<String>>,
    next_hop_self: Option<bool>,
    next_hop: Option<Spanned<String>>,
    next_hop_ipv6: Option<Spanned<String>>,
    route_reflector_client: Option<bool>,
    soft_reconfiguration_inbound: Option<bool>,
    gated_export: Option<bool>,
    accept_blackhole: Option<bool>,
    graceful_shutdown: Option<bool>,
    honour_nopeer: Option<bool>,
    nopeer_to_route_server: Option<bool>,
    graceful_restart: Option<bool>,
    restart_time: Option<Spanned<u16>>,
    stale_path_time: Option<Spanned<u32>>,
}

impl RawNeighbor {
    /// The neighbor's own settings over its template's (IOS `inherit peer-session`).
    fn over(self, t: &RawNeighbor) -> RawNeighbor {
        macro_rules! pick {
            ($($f:ident),*) => { RawNeighbor { $($f: self.$f.or_else(|| t.$f.clone()),)* } };
        }
        pick!(
            name,
            address,
            template,
            remote_as,
            vrf,
            port,
            local_address,
            passive,
            hold_time,
            connect_retry,
            families,
            send_community,
            relationship,
            route_map_in,
            route_map_out,
            next_hop_self,
            next_hop,
            next_hop_ipv6,
            route_reflector_client,
            soft_reconfiguration_inbound,
            gated_export,
            accept_blackhole,
            graceful_shutdown,
            honour_nopeer,
            nopeer_to_route_server,
            graceful_restart,
            restart_time,
            stale_path_time
        )
    }
}

fn parse_family(text: &str) -> Result<Family, String> {
    match text {
        "ipv4-unicast" => Ok(Family::Ipv4Unicast),
        "ipv6-unicast" => Ok(Family::Ipv6Unicast),
        "vpnv4" => Ok(Family::Vpnv4),
        "vpnv6" => Ok(Family::Vpnv6),
        other => Err(format!(
            "unknown address family `{other}`: expected ipv4-unicast, ipv6-unicast, vpnv4 or vpnv6"
        )),
    }
}

impl Validator<'_> {
    pub(super) fn bgp(
        &mut self,
        raw: &RawBgp,
        vrfs: &BTreeMap<String, super::VrfConfig>,
        compiled: &policy::Policy,
    ) -> BgpConfig {
        let asn = *raw.asn.get_ref();
        if asn == 0 {
            self.error(&raw.asn.span(), "AS 0 is reserved (RFC 7607)".to_string());
        }
        let router_id = self
            .parse_with(&raw.router_id, |t| {
                t.parse::<Ipv4Addr>()
                    .ok()
                    .filter(|a| !a.is_unspecified())
                    .ok_or_else(|| format!("router-id `{t}` is not a non-zero IPv4 address"))
            })
            .unwrap_or(Ipv4Addr::new(0, 0, 0, 1));
        let cluster_id = raw
            .cluster_id
            .as_ref()
            .and_then(|c| {
                self.parse_with(c, |t| {
                    t.parse::<Ipv4Addr>()
                        .map_err(|_| format!("cluster-id `{t}` is not an IPv4 address"))
                })
            })
            .unwrap_or(router_id);
        let mut listen = Vec::new();
        for l in &raw.listen {
            if let Some(a) = self.parse_with(l, |t| {
                t.parse::<SocketAddr>()
                    .map_err(|_| format!("listen address `{t}` is not ADDRESS:PORT (e.g. 127.0.0.1:179 or [::1]:179)"))
            }) {
                listen.push(a);
            }
        }
        if raw.listen.is_empty() {
            listen.push(SocketAddr::from(([0, 0, 0, 0], 179)));
        }

        let mut templates: BTreeMap<String, RawNeighbor> = BTreeMap::new();
        for t in &raw.template {
            let Some(name) = &t.name else {
                self.error(&(0..0), "a [[bgp.template]] needs a `name`".to_string());
                continue;
            };
            if t.address.is_some() || t.template.is_some() {
                self.error(
                    &name.span(),
                    format!(
                        "template `{}` cannot have an `address` or a `template`",
                        name.get_ref()
                    ),
                );
            }
            if templates
                .insert(name.get_ref().clone(), t.clone())
                .is_some()
            {
                self.error(
                    &name.span(),
                    format!("template `{}` is defined twice", name.get_ref()),
                );
            }
        }

        let mut neighbors = BTreeMap::new();
        for n in &raw.neighbor {
            let Some(addr_s) = &n.address else {
                self.error(
                    &n.name.as_ref().map_or(0..0, |s| s.span()),
                    "a [[bgp.neighbor]] needs an `address`".to_string(),
                );
                continue;
            };
            let Some(address) = self.parse_with(addr_s, |t| {
                t.parse::<IpAddr>()
                    .map_err(|_| format!("neighbor address `{t}` is not an IP address"))
            }) else {
                continue;
            };
            if n.name.is_some() {
                self.error(
                    &addr_s.span(),
                    "a neighbor has an `address`, not a `name` (templates have names)".to_string(),
                );
            }
            let merged = match &n.template {
                None => n.clone(),
                Some(t) => match templates.get(t.get_ref()) {
                    Some(tpl) => n.clone().over(tpl),
                    None => {
                        // Its settings are unknown: checking the rest would only add noise.
                        self.error(&t.span(), format!("unknown template `{}`", t.get_ref()));
                        continue;
                    }
                },
            };
            if let Some(nb) = self.neighbor(address, &addr_s.span(), merged, asn, vrfs, compiled) {
                if neighbors.insert(address, nb).is_some() {
                    self.error(
                        &addr_s.span(),
                        format!("neighbor {address} is defined twice"),
                    );
                }
            }
        }
        BgpConfig {
            asn,
            router_id,
            cluster_id,
            listen,
            neighbors,
        }
    }

    fn map_ref(
        &mut self,
        compiled: &policy::Policy,
        name: &Option<Spanned<String>>,
    ) -> Option<MapRef> {
        let n = name.as_ref()?;
        self.route_map(compiled, n.get_ref(), &n.span())
    }

    fn neighbor(
        &mut self,
        address: IpAddr,
        at: &Range<usize>,
        n: RawNeighbor,
        local_as: u32,
        vrfs: &BTreeMap<String, super::VrfConfig>,
        compiled: &policy::Policy,
    ) -> Option<BgpNeighbor> {
        let Some(remote_as) = n.remote_as.as_ref().map(|s| *s.get_ref()) else {
            self.error(
                at,
                format!("neighbor {address} needs `remote-as` (or a template with one)"),
            );
            return None;
        };
        if remote_as == 0 {
            self.error(at, format!("neighbor {address}: AS 0 is reserved"));
        }
        let vrf = n.vrf.as_ref().map(|v| v.get_ref().clone());
        if let (Some(v), Some(s)) = (&vrf, &n.vrf) {
            if !vrfs.contains_key(v) {
                self.error(
                    &s.span(),
                    format!("neighbor {address} refers to unknown VRF `{v}`"),
                );
            }
        }
        let families = match &n.families {
            None => match vrf {
                Some(_) if address.is_ipv4() => vec![Family::Ipv4Unicast],
                Some(_) => vec![Family::Ipv6Unicast],
                None => vec![Family::Vpnv4, Family::Vpnv6],
            },
            Some(list) => {
                let mut fs = Vec::new();
                for f in list {
                    if let Some(fam) = self.parse_with(f, parse_family) {
                        if vrf.is_some() == fam.is_vpn() {
                            self.error(&f.span(), format!("{} on neighbor {address}: a neighbor inside a VRF carries ipv4-unicast / ipv6-unicast, a global one vpnv4 / vpnv6", f.get_ref()));
                        }
                        if !fs.contains(&fam) {
                            fs.push(fam);
                        }
                    }
                }
                fs
            }
        };
        let mut send_community = SendCommunity::NONE;
        for s in n.send_community.iter().flatten() {
            match s.get_ref().as_str() {
                "standard" => send_community.standard = true,
                "extended" => send_community.extended = true,
                "large" => send_community.large = true,
                "all" | "both" => {
                    send_community = SendCommunity::ALL;
                }
                other => self.error(
                    &s.span(),
                    format!("send-community `{other}`: expected standard, extended, large or all"),
                ),
            }
        }
        // VPN routes are selected by their route targets: a VPN session without extended
        // communities would carry routes no PE can import (IOS turns it on by itself).
        if vrf.is_none() {
            send_community.extended = true;
        }
        let relationship = match n.relationship.as_ref().map(|r| r.get_ref().as_str()) {
            None | Some("peer") => Relationship::Peer,
            Some("customer") => Relationship::Customer,
            Some("provider") => Relationship::Provider,
            Some("route-server") => Relationship::RouteServer,
            Some(other) => {
                self.error(
                    &n.relationship.as_ref().expect("some").span(),
                    format!(
                        "relationship `{other}`: expected customer, provider, peer or route-server"
                    ),
                );
                Relationship::Peer
            }
        };
        let hold_time = n.hold_time.as_ref().map_or(90, |h| *h.get_ref());
        if hold_time == 1 || hold_time == 2 {
            self.error(
                &n.hold_time.as_ref().expect("some").span(),
                format!("hold-time {hold_time}: must be 0 or at least 3 seconds (RFC 4271)"),
            );
        }
        let connect_retry = n.connect_retry.as_ref().map_or(30, |c| *c.get_ref());
        if connect_retry == 0 {
            self.error(
                &n.connect_retry.as_ref().expect("some").span(),
                "connect-retry must be at least 1 second".to_string(),
            );
        }
        let parse_addr = |v: &mut Self, s: &Option<Spanned<String>>, what: &str| {
            s.as_ref().and_then(|s| {
                v.parse_with(s, |t| {
                    t.parse::<IpAddr>()
                        .map_err(|_| format!("{what} `{t}` is not an IP address"))
                })
            })
        };
        let local_address = parse_addr(self, &n.local_address, "local-address");
        let next_hop = parse_addr(self, &n.next_hop, "next-hop");
        let next_hop_ipv6 = n.next_hop_ipv6.as_ref().and_then(|s| {
            self.parse_with(s, |t| {
                t.parse::<Ipv6Addr>()
                    .map_err(|_| format!("next-hop-ipv6 `{t}` is not an IPv6 address"))
            })
        });
        let rr_client = n.route_reflector_client.unwrap_or(false);
        if rr_client && remote_as != local_as {
            self.error(
                at,
                format!(
                    "neighbor {address}: only an iBGP neighbor can be a route-reflector client"
                ),
            );
        }
        let graceful_restart = self.graceful_restart(address, &n);
        Some(BgpNeighbor {
            address,
            remote_as,
            vrf,
            port: n.port.as_ref().map_or(179, |p| *p.get_ref()),
            local_address,
            passive: n.passive.unwrap_or(false),
            hold_time,
            connect_retry: connect_retry.max(1),
            families,
            send_community,
            relationship,
            route_map_in: self.map_ref(compiled, &n.route_map_in),
            route_map_out: self.map_ref(compiled, &n.route_map_out),
            next_hop_self: n.next_hop_self.unwrap_or(false),
            next_hop,
            next_hop_ipv6,
            route_reflector_client: rr_client,
            soft_reconfiguration_inbound: n.soft_reconfiguration_inbound.unwrap_or(false),
            gated_export: n.gated_export.unwrap_or(false),
            accept_blackhole: n.accept_blackhole,
            graceful_shutdown: n.graceful_shutdown.unwrap_or(true),
            honour_nopeer: n.honour_nopeer.unwrap_or(true),
            nopeer_to_route_server: n.nopeer_to_route_server.unwrap_or(false),
            graceful_restart,
        })
    }

    /// `graceful-restart`, `restart-time` (what we advertise: 12 bits of seconds) and
    /// `stale-path-time` (how long stale routes wait for the neighbor's End-of-RIB once it is
    /// back), the times refused without the switch that uses them.
    fn graceful_restart(
        &mut self,
        address: IpAddr,
        n: &RawNeighbor,
    ) -> Option<bgp::session::GracefulRestartConfig> {
        let mut gr = bgp::session::GracefulRestartConfig::default();
        if let Some(t) = &n.restart_time {
            let v = *t.get_ref();
            if v == 0 || v > 0x0FFF {
                self.error(
                    &t.span(),
                    format!("restart-time {v}: must be 1 to 4095 seconds (RFC 4724: 12 bits)"),
                );
            }
            gr.restart_time = v;
        }
        if let Some(t) = &n.stale_path_time {
            let v = *t.get_ref();
            if v == 0 {
                self.error(
                    &t.span(),
                    "stale-path-time must be at least 1 second".to_string(),
                );
            }
            gr.stale_routes_time = std::time::Duration::from_secs(v.into());
        }
        if n.graceful_restart == Some(true) {
            return Some(gr);
        }
        for t in [
            n.restart_time.as_ref().map(|t| (t.span(), "restart-time")),
            n.stale_path_time
                .as_ref()
                .map(|t| (t.span(), "stale-path-time")),
        ]
        .into_iter()
        .flatten()
        {
            self.error(
                &t.0,
                format!(
                    "{} on neighbor {address} without `graceful-restart = true`: it would do nothing",
                    t.1
                ),
            );
        }
        None
    }
}
