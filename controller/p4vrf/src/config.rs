//! The TOML configuration: parsing, validation with `file:line:column` errors, and the
//! validated model the rest of the controller reads.
//!
//! Validation collects every error it finds (not just the first) and a configuration with any
//! error is never applied: the running state stays as it was. The format is documented in
//! `docs/configuration.md`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::ops::Range;
use std::path::Path;

use std::sync::Arc;

use ipnet::IpNet;
use policy::config::{
    AsPathListConfig, CommunityListConfig, ExtCommunityListConfig, GatedExportConfig,
    LargeCommunityListConfig, PrefixListConfig, RouteMapConfig,
};
use policy::{Policy, PolicyConfig};
use rib::{DecisionOptions, MapRef, Protocol, RouteDistinguisher, RouteTarget, VrfPolicy};
use serde::Deserialize;
use toml::Spanned;

/// The highest port number a v1model `bit<9>` egress port can name, less the reserved ones.
const MAX_PORT: u16 = 510;
/// bmv2 is started with `--cpu-port 255`: it cannot also be a routed port.
const CPU_PORT: u16 = 255;

/// A MAC address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Mac(pub [u8; 6]);

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl Mac {
    fn parse(text: &str) -> Result<Mac, String> {
        let parts: Vec<&str> = text.split([':', '-']).collect();
        if parts.len() != 6 {
            return Err(format!(
                "`{text}` is not a MAC address (expected six hex octets, e.g. 02:00:00:00:00:01)"
            ));
        }
        let mut mac = [0u8; 6];
        for (i, p) in parts.iter().enumerate() {
            if p.is_empty() || p.len() > 2 {
                return Err(format!(
                    "`{text}` is not a MAC address: octet `{p}` is not 1-2 hex digits"
                ));
            }
            mac[i] = u8::from_str_radix(p, 16)
                .map_err(|_| format!("`{text}` is not a MAC address: `{p}` is not hex"))?;
        }
        if mac[0] & 1 == 1 {
            return Err(format!(
                "`{text}` is a multicast/broadcast MAC address; a unicast address is required"
            ));
        }
        if mac == [0; 6] {
            return Err(format!("`{text}` is the all-zero MAC address"));
        }
        Ok(Mac(mac))
    }
}

/// What a static route does with its traffic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StaticTarget {
    /// Next-hop addresses (several = ECMP); each is a configured neighbor in the VRF.
    Nexthops(Vec<IpAddr>),
    /// Null0.
    Blackhole,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticRoute {
    pub prefix: IpNet,
    pub target: StaticTarget,
    pub tag: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VrfConfig {
    pub name: String,
    pub policy: VrfPolicy,
    pub statics: Vec<StaticRoute>,
    /// The VPN label remote PEs push for this VRF; allocated when not configured.
    pub vpn_label: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceConfig {
    pub name: String,
    pub port: u16,
    /// 802.1Q VLAN; `None` is an untagged (routed port) interface.
    pub vlan: Option<u16>,
    pub vrf: String,
    /// Interface addresses with their prefix length (`10.1.0.1/24`).
    pub addresses: Vec<IpNet>,
    pub neighbors: BTreeMap<IpAddr, Mac>,
    /// Faces the MPLS core: labelled packets are accepted here, remote PEs resolve here.
    pub core: bool,
}

/// The compiled policy (lists, route-maps, GateD export statements), shared.
#[derive(Clone, Debug)]
pub struct PolicySet(pub Arc<Policy>);

impl Default for PolicySet {
    fn default() -> Self {
        PolicySet(Arc::new(
            policy::compile(&PolicyConfig::default()).expect("an empty policy compiles"),
        ))
    }
}

/// Equal when they compile to the same thing (compiled policy prints deterministically).
impl PartialEq for PolicySet {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || format!("{:?}", self.0) == format!("{:?}", other.0)
    }
}

impl Eq for PolicySet {}

/// A validated configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub router_mac: Mac,
    pub vrfs: BTreeMap<String, VrfConfig>,
    pub interfaces: BTreeMap<String, InterfaceConfig>,
    pub policy: PolicySet,
    pub bgp: Option<BgpConfig>,
    /// Static LSPs towards remote PEs that are not adjacent, by the PE's address.
    pub lsps: BTreeMap<IpAddr, StaticLsp>,
}

/// A static label-switched path towards a remote PE (`[[interface.neighbor.lsp]]`): packets
/// for VPN routes whose next hop is `to` go to `next_hop` on the core interface `interface`
/// with `label` under the VPN label (3, implicit null, pushes none: the neighbor is the
/// penultimate hop).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticLsp {
    pub interface: String,
    pub next_hop: IpAddr,
    pub label: u32,
}

/// One problem in a configuration file, located.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// All problems of a configuration file; the configuration was not applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

// ----- the file as written ------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawConfig {
    router: RawRouter,
    #[serde(default)]
    vrf: Vec<RawVrf>,
    #[serde(default)]
    interface: Vec<RawInterface>,
    bgp: Option<bgp::RawBgp>,
    // The policy tables, as `policy::config` reads them (see docs/policy.md).
    #[serde(default)]
    prefix_list: Vec<PrefixListConfig>,
    #[serde(default)]
    community_list: Vec<CommunityListConfig>,
    #[serde(default)]
    extcommunity_list: Vec<ExtCommunityListConfig>,
    #[serde(default)]
    large_community_list: Vec<LargeCommunityListConfig>,
    #[serde(default)]
    as_path_list: Vec<AsPathListConfig>,
    #[serde(default)]
    route_map: Vec<RouteMapConfig>,
    #[serde(default)]
    gated_export: Vec<GatedExportConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawRouter {
    mac: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawVrf {
    name: Spanned<String>,
    rd: Option<Spanned<String>>,
    #[serde(default)]
    route_target: RawRouteTargets,
    #[serde(default)]
    redistribute: Vec<Spanned<RawRedistribute>>,
    export_map: Option<Spanned<String>>,
    import_map: Option<Spanned<String>>,
    maximum_paths: Option<Spanned<u8>>,
    #[serde(default)]
    always_compare_med: bool,
    vpn_label: Option<Spanned<u32>>,
    #[serde(default, rename = "static")]
    statics: Vec<RawStatic>,
}

/// One `redistribute` item: `"static"` or `{ protocol = "static", route-map = "StaticToBGP" }`.
struct RawRedistribute {
    protocol: String,
    route_map: Option<String>,
}

impl<'de> Deserialize<'de> for RawRedistribute {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawRedistribute;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#"a protocol name or { protocol = "...", route-map = "..." }"#)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawRedistribute, E> {
                Ok(RawRedistribute {
                    protocol: v.to_string(),
                    route_map: None,
                })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RawRedistribute, A::Error> {
                let mut protocol = None;
                let mut route_map = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "protocol" => protocol = Some(map.next_value::<String>()?),
                        "route-map" => route_map = Some(map.next_value::<String>()?),
                        other => {
                            return Err(serde::de::Error::unknown_field(
                                other,
                                &["protocol", "route-map"],
                            ))
                        }
                    }
                }
                let protocol =
                    protocol.ok_or_else(|| serde::de::Error::missing_field("protocol"))?;
                Ok(RawRedistribute {
                    protocol,
                    route_map,
                })
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawRouteTargets {
    #[serde(default)]
    import: Vec<Spanned<String>>,
    #[serde(default)]
    export: Vec<Spanned<String>>,
    #[serde(default)]
    both: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawStatic {
    prefix: Spanned<String>,
    #[serde(default)]
    next_hop: Vec<Spanned<String>>,
    #[serde(default)]
    blackhole: Option<Spanned<bool>>,
    #[serde(default)]
    tag: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawInterface {
    name: Spanned<String>,
    port: Spanned<u16>,
    vlan: Option<Spanned<u16>>,
    vrf: Spanned<String>,
    #[serde(default)]
    address: Vec<Spanned<String>>,
    #[serde(default)]
    neighbor: Vec<RawNeighbor>,
    #[serde(default)]
    core: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawNeighbor {
    ip: Spanned<String>,
    mac: Spanned<String>,
    #[serde(default)]
    lsp: Vec<RawLsp>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawLsp {
    to: Spanned<String>,
    label: Spanned<u32>,
}

// ----- loading ------------------------------------------------------------------------------

/// Reads and validates a configuration file.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: file.clone(),
            line: 0,
            column: 0,
            message: format!("cannot read: {e}"),
        }])
    })?;
    parse(&file, &text)
}

/// Parses and validates configuration text; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Config, ConfigErrors> {
    let mut v = Validator {
        file,
        text,
        errors: Vec::new(),
    };
    let raw: RawConfig = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            v.error(&span, e.message().trim_end().to_string());
            return Err(ConfigErrors(v.errors));
        }
    };
    let config = v.validate(raw);
    if v.errors.is_empty() {
        Ok(config)
    } else {
        v.errors.sort_by_key(|e| (e.line, e.column));
        Err(ConfigErrors(v.errors))
    }
}

struct Validator<'a> {
    file: &'a str,
    text: &'a str,
    errors: Vec<ConfigError>,
}

impl Validator<'_> {
    fn error(&mut self, span: &Range<usize>, message: String) {
        let before = &self.text[..span.start.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        self.errors.push(ConfigError {
            file: self.file.to_string(),
            line,
            column,
            message,
        });
    }

    fn parse_with<T>(
        &mut self,
        s: &Spanned<String>,
        f: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        match f(s.get_ref()) {
            Ok(v) => Some(v),
            Err(msg) => {
                self.error(&s.span(), msg);
                None
            }
        }
    }

    /// One `[[interface.neighbor.lsp]]` of neighbor `via` on `interface`: a host address of
    /// the neighbor's family, once in the whole file, and a usable transport label.
    fn lsp(
        &mut self,
        rl: &RawLsp,
        interface: &str,
        core: bool,
        via: IpAddr,
        lsps: &mut BTreeMap<IpAddr, StaticLsp>,
    ) {
        if !core {
            self.error(
                &rl.to.span(),
                format!("an LSP needs a core interface: set `core = true` on `{interface}`"),
            );
        }
        let label = *rl.label.get_ref();
        if !(label == 3 || (16..=0xF_FFFF).contains(&label)) {
            self.error(
                &rl.label.span(),
                format!(
                    "transport label {label} is not usable: 16..=1048575, or 3 (implicit null)"
                ),
            );
        }
        let Some(to) = self.parse_with(&rl.to, |t| {
            t.parse::<IpAddr>()
                .map_err(|_| format!("LSP destination `{t}` is not an IP address"))
        }) else {
            return;
        };
        if lsps.contains_key(&to) {
            self.error(
                &rl.to.span(),
                format!("there is already an LSP to {to}; one path per remote PE"),
            );
            return;
        }
        lsps.insert(
            to,
            StaticLsp {
                interface: interface.to_string(),
                next_hop: via,
                label,
            },
        );
    }

    /// A route-map named in the configuration, or an error at `span`.
    fn route_map(&mut self, compiled: &Policy, name: &str, span: &Range<usize>) -> Option<MapRef> {
        match compiled.route_maps.get(name) {
            Some(m) => Some(MapRef::new(m.clone())),
            None => {
                self.error(span, format!("unknown route-map `{name}`"));
                None
            }
        }
    }

    /// Compiles the policy tables; their errors are located like every other error.
    fn policy(&mut self, raw: &mut RawConfig) -> PolicySet {
        let cfg = PolicyConfig {
            prefix_list: std::mem::take(&mut raw.prefix_list),
            community_list: std::mem::take(&mut raw.community_list),
            extcommunity_list: std::mem::take(&mut raw.extcommunity_list),
            large_community_list: std::mem::take(&mut raw.large_community_list),
            as_path_list: std::mem::take(&mut raw.as_path_list),
            route_map: std::mem::take(&mut raw.route_map),
            gated_export: std::mem::take(&mut raw.gated_export),
        };
        match policy::compile(&cfg) {
            Ok(p) => PolicySet(Arc::new(p)),
            Err(errors) => {
                for e in errors {
                    self.error(&e.span, e.kind.to_string());
                }
                // Names that did compile are still known, so references to them are not
                // reported as unknown on top.
                let partial = PolicyConfig {
                    route_map: cfg
                        .route_map
                        .into_iter()
                        .map(|m| RouteMapConfig {
                            name: m.name,
                            family: None,
                            entry: Vec::new(),
                        })
                        .collect(),
                    ..Default::default()
                };
                policy::compile(&partial)
                    .map(|p| PolicySet(Arc::new(p)))
                    .unwrap_or_default()
            }
        }
    }

    fn validate(&mut self, mut raw: RawConfig) -> Config {
        let router_mac = self
            .parse_with(&raw.router.mac, Mac::parse)
            .unwrap_or(Mac([2, 0, 0, 0, 0, 1]));
        let policy_set = self.policy(&mut raw);
        let compiled: &Policy = &policy_set.0.clone();

        // VRFs: names, RDs, RTs, redistribution. Static routes are checked after interfaces.
        let mut vrfs: BTreeMap<String, VrfConfig> = BTreeMap::new();
        let mut rds: BTreeMap<RouteDistinguisher, String> = BTreeMap::new();
        let mut labels: BTreeMap<u32, String> = BTreeMap::new();
        for rv in &raw.vrf {
            let name = rv.name.get_ref().clone();
            if name.is_empty() || name.chars().any(|c| c.is_whitespace()) {
                self.error(
                    &rv.name.span(),
                    format!("VRF name `{name}` must be non-empty and have no spaces"),
                );
            }
            if vrfs.contains_key(&name) {
                self.error(&rv.name.span(), format!("VRF `{name}` is defined twice"));
                continue;
            }
            let rd = rv.rd.as_ref().and_then(|s| {
                self.parse_with(s, |t| {
                    t.parse::<RouteDistinguisher>().map_err(|e| e.to_string())
                })
            });
            if let (Some(rd), Some(span)) = (rd, rv.rd.as_ref()) {
                if let Some(other) = rds.insert(rd, name.clone()) {
                    self.error(
                        &span.span(),
                        format!("route distinguisher {rd} is already used by VRF `{other}`"),
                    );
                }
            }
            let mut policy = VrfPolicy {
                rd,
                ..Default::default()
            };
            let rts = &rv.route_target;
            for (list, import, export) in [
                (&rts.import, true, false),
                (&rts.export, false, true),
                (&rts.both, true, true),
            ] {
                for s in list {
                    let Some(rt) =
                        self.parse_with(s, |t| t.parse::<RouteTarget>().map_err(|e| e.to_string()))
                    else {
                        continue;
                    };
                    if rv.rd.is_none() {
                        self.error(&s.span(), format!("VRF `{name}` has route targets but no `rd`; a VRF takes part in the VPN table only with a route distinguisher"));
                    }
                    if import {
                        policy.import.insert(rt);
                    }
                    if export {
                        policy.export.insert(rt);
                    }
                }
            }
            for s in &rv.redistribute {
                let item = s.get_ref();
                let protocol = match item.protocol.as_str() {
                    "connected" => Protocol::Connected,
                    "static" => Protocol::Static,
                    other => {
                        self.error(
                            &s.span(),
                            format!(
                                "cannot redistribute `{other}`: expected `connected` or `static`"
                            ),
                        );
                        continue;
                    }
                };
                let map = item
                    .route_map
                    .as_deref()
                    .and_then(|name| self.route_map(compiled, name, &s.span()));
                if policy.redistribute.insert(protocol, map).is_some() {
                    self.error(
                        &s.span(),
                        format!("`{}` is listed twice in redistribute", item.protocol),
                    );
                }
            }
            policy.export_map = rv
                .export_map
                .as_ref()
                .and_then(|n| self.route_map(compiled, n.get_ref(), &n.span()));
            policy.import_map = rv
                .import_map
                .as_ref()
                .and_then(|n| self.route_map(compiled, n.get_ref(), &n.span()));
            if let (Some(span), None) = (
                rv.export_map.as_ref().or(rv.import_map.as_ref()),
                rv.rd.as_ref(),
            ) {
                self.error(&span.span(), format!("VRF `{name}` has an export or import map but no `rd`; maps apply to the VPN table, which a VRF joins only with a route distinguisher"));
            }
            let mut decision = DecisionOptions {
                always_compare_med: rv.always_compare_med,
                ..Default::default()
            };
            if let Some(mp) = &rv.maximum_paths {
                if !(1..=64).contains(mp.get_ref()) {
                    self.error(
                        &mp.span(),
                        format!("maximum-paths {} is out of range 1..=64", mp.get_ref()),
                    );
                } else {
                    decision.maximum_paths = *mp.get_ref();
                }
            }
            policy.decision = decision;
            let vpn_label = rv.vpn_label.as_ref().and_then(|l| {
                let v = *l.get_ref();
                if !(crate::router::FIRST_VPN_LABEL..=0xF_FFFF).contains(&v) {
                    self.error(
                        &l.span(),
                        format!(
                            "vpn-label {v} is out of range {}..=1048575 (0-15 are reserved)",
                            crate::router::FIRST_VPN_LABEL
                        ),
                    );
                    return None;
                }
                if let Some(other) = labels.insert(v, name.clone()) {
                    self.error(
                        &l.span(),
                        format!("vpn-label {v} is already used by VRF `{other}`"),
                    );
                }
                Some(v)
            });
            vrfs.insert(
                name.clone(),
                VrfConfig {
                    name,
                    policy,
                    statics: Vec::new(),
                    vpn_label,
                },
            );
        }

        // Interfaces: names, ports, VLANs, VRF references, addresses and neighbors.
        let mut interfaces: BTreeMap<String, InterfaceConfig> = BTreeMap::new();
        let mut lsps: BTreeMap<IpAddr, StaticLsp> = BTreeMap::new();
        let mut ports: BTreeMap<(u16, Option<u16>), String> = BTreeMap::new();
        // Per VRF: every interface subnet with the interface it belongs to, for overlap checks.
        let mut vrf_subnets: BTreeMap<String, Vec<(IpNet, String)>> = BTreeMap::new();
        for ri in &raw.interface {
            let name = ri.name.get_ref().clone();
            if name.is_empty() || name.chars().any(|c| c.is_whitespace()) {
                self.error(
                    &ri.name.span(),
                    format!("interface name `{name}` must be non-empty and have no spaces"),
                );
            }
            if interfaces.contains_key(&name) {
                self.error(
                    &ri.name.span(),
                    format!("interface `{name}` is defined twice"),
                );
                continue;
            }
            let port = *ri.port.get_ref();
            if port > MAX_PORT || port == CPU_PORT {
                self.error(&ri.port.span(), format!("port {port} is not usable: ports are 0..={MAX_PORT}, and {CPU_PORT} is the CPU port"));
            }
            let vlan = ri.vlan.as_ref().map(|v| *v.get_ref());
            if let (Some(v), Some(s)) = (vlan, ri.vlan.as_ref()) {
                if !(1..=4094).contains(&v) {
                    self.error(&s.span(), format!("VLAN {v} is out of range 1..=4094"));
                }
            }
            if let Some(other) = ports.insert((port, vlan), name.clone()) {
                let what = vlan.map_or("untagged".to_string(), |v| format!("VLAN {v}"));
                self.error(
                    &ri.port.span(),
                    format!("port {port} {what} is already used by interface `{other}`"),
                );
            }
            let vrf = ri.vrf.get_ref().clone();
            if !vrfs.contains_key(&vrf) {
                self.error(
                    &ri.vrf.span(),
                    format!("interface `{name}` refers to unknown VRF `{vrf}`"),
                );
            }
            let mut addresses = Vec::new();
            for s in &ri.address {
                let Some(addr) = self.parse_with(s, parse_interface_address) else {
                    continue;
                };
                let subnet = addr.trunc();
                let others = vrf_subnets.entry(vrf.clone()).or_default();
                if let Some((other_net, other_intf)) = others
                    .iter()
                    .find(|(o, _)| o.contains(&subnet.network()) || subnet.contains(&o.network()))
                {
                    self.error(&s.span(), format!("address {addr} overlaps {other_net} of interface `{other_intf}` in VRF `{vrf}`"));
                } else {
                    others.push((subnet, name.clone()));
                }
                addresses.push(addr);
            }
            let mut neighbors = BTreeMap::new();
            for rn in &ri.neighbor {
                let mac = self.parse_with(&rn.mac, Mac::parse);
                let Some(ip) = self.parse_with(&rn.ip, |t| {
                    t.parse::<IpAddr>()
                        .map_err(|_| format!("`{t}` is not an IP address"))
                }) else {
                    continue;
                };
                if addresses.iter().any(|a| a.addr() == ip) {
                    self.error(
                        &rn.ip.span(),
                        format!("neighbor {ip} is the address of interface `{name}` itself"),
                    );
                } else if !addresses.iter().any(|a| a.contains(&ip)) {
                    self.error(
                        &rn.ip.span(),
                        format!("neighbor {ip} is not inside any address of interface `{name}`"),
                    );
                }
                if neighbors.contains_key(&ip) {
                    self.error(
                        &rn.ip.span(),
                        format!("neighbor {ip} is listed twice on interface `{name}`"),
                    );
                }
                if let Some(mac) = mac {
                    neighbors.insert(ip, mac);
                }
                for rl in &rn.lsp {
                    self.lsp(rl, &name, ri.core, ip, &mut lsps);
                }
            }
            interfaces.insert(
                name.clone(),
                InterfaceConfig {
                    name,
                    port,
                    vlan,
                    vrf,
                    addresses,
                    neighbors,
                    core: ri.core,
                },
            );
        }

        // Static routes: canonical prefixes, one per prefix, next hops that are neighbors.
        for rv in &raw.vrf {
            let vrf_name = rv.name.get_ref().clone();
            let mut statics: Vec<StaticRoute> = Vec::new();
            for rs in &rv.statics {
                let Some(prefix) = self.parse_with(&rs.prefix, parse_route_prefix) else {
                    continue;
                };
                if statics.iter().any(|s| s.prefix == prefix) {
                    self.error(&rs.prefix.span(), format!("static route {prefix} is defined twice in VRF `{vrf_name}`; list several next hops in one route for ECMP"));
                    continue;
                }
                let blackhole = rs.blackhole.as_ref().is_some_and(|b| *b.get_ref());
                let target = match (blackhole, rs.next_hop.is_empty()) {
                    (true, false) => {
                        self.error(
                            &rs.prefix.span(),
                            format!("static route {prefix} has both `next-hop` and `blackhole`"),
                        );
                        continue;
                    }
                    (false, true) => {
                        self.error(&rs.prefix.span(), format!("static route {prefix} needs `next-hop = [...]` or `blackhole = true`"));
                        continue;
                    }
                    (true, true) => StaticTarget::Blackhole,
                    (false, false) => {
                        let mut hops = Vec::new();
                        for s in &rs.next_hop {
                            let Some(nh) = self.parse_with(s, |t| {
                                t.parse::<IpAddr>()
                                    .map_err(|_| format!("next hop `{t}` is not an IP address"))
                            }) else {
                                continue;
                            };
                            if nh.is_ipv4() != prefix.addr().is_ipv4() {
                                self.error(&s.span(), format!("next hop {nh} is not of the same address family as {prefix}"));
                            } else if !interfaces
                                .values()
                                .any(|i| i.vrf == vrf_name && i.neighbors.contains_key(&nh))
                            {
                                self.error(&s.span(), format!("next hop {nh} is not a configured neighbor on any interface of VRF `{vrf_name}` (neighbors are static: add it under [[interface.neighbor]])"));
                            }
                            if hops.contains(&nh) {
                                self.error(&s.span(), format!("next hop {nh} is listed twice"));
                            }
                            hops.push(nh);
                        }
                        hops.sort();
                        StaticTarget::Nexthops(hops)
                    }
                };
                statics.push(StaticRoute {
                    prefix,
                    target,
                    tag: rs.tag.unwrap_or(0),
                });
            }
            if let Some(v) = vrfs.get_mut(&vrf_name) {
                if v.statics.is_empty() {
                    v.statics = statics;
                }
            }
        }

        let bgp = raw.bgp.as_ref().map(|b| self.bgp(b, &vrfs, compiled));
        Config {
            router_mac,
            vrfs,
            interfaces,
            policy: policy_set,
            bgp,
            lsps,
        }
    }
}

/// An interface address: a host address with its prefix length, not the network address.
fn parse_interface_address(text: &str) -> Result<IpNet, String> {
    let net: IpNet = text.parse().map_err(|_| {
        format!("`{text}` is not an address with a prefix length (e.g. 10.1.0.1/24)")
    })?;
    let is_v4_small = matches!(net, IpNet::V4(_)) && net.prefix_len() >= 31;
    let is_v6_small = matches!(net, IpNet::V6(_)) && net.prefix_len() >= 127;
    if net.addr() == net.network() && !is_v4_small && !is_v6_small {
        return Err(format!(
            "`{text}` is the subnet's network address; an interface needs a host address in it"
        ));
    }
    if let IpNet::V4(v4) = net {
        if v4.addr() == v4.broadcast() && !is_v4_small {
            return Err(format!("`{text}` is the subnet's broadcast address"));
        }
    }
    Ok(net)
}

/// A route prefix: canonical, host bits zero.
fn parse_route_prefix(text: &str) -> Result<IpNet, String> {
    let net: IpNet = text
        .parse()
        .map_err(|_| format!("`{text}` is not a prefix (e.g. 10.1.2.0/24 or 2001:db8::/48)"))?;
    if net.addr() != net.network() {
        return Err(format!(
            "`{text}` has host bits set; did you mean {}?",
            net.trunc()
        ));
    }
    Ok(net)
}

mod bgp;
pub use self::bgp::{BgpConfig, BgpNeighbor};

#[cfg(test)]
mod tests;
