//! The local API of a running daemon: `p4vrf show …` asks `p4vrf run` over a Unix socket.
//!
//! One request per connection: the client writes one JSON line,
//! `{"command": ["ip", "route", "vrf", "VRF-A"], "json": false}`, and reads one JSON line back:
//! `{"ok": true, "output": "…"}` (text), `{"ok": true, "data": {…}}` (with `"json": true`) or
//! `{"ok": false, "error": "…"}`. The socket lives in the filesystem only (mode 0600, in a
//! directory the user names); nothing listens on the network.
//!
//! The socket task never touches the [`Router`]: each request travels as an [`ApiCall`] over a
//! channel to the daemon's main loop, which owns the router (and the switch, for
//! `p4 entries`), answers it with [`answer`] and sends the [`Response`] back on the call's
//! oneshot.

mod client;
mod json;
mod server;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::router::Router;
use crate::show::{self, Family};

pub use client::{query, ClientError};
pub use server::{next_call, ApiCall, ApiError, ApiServer};

/// The largest request the daemon reads, in bytes (the JSON line).
pub const MAX_REQUEST: usize = 64 * 1024;

/// Where `p4vrf run` listens and `p4vrf show` asks unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/run/p4vrf/p4vrf.sock";

/// One `show` command: its words (without `show`) and whether structured data is wanted.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub command: Vec<String>,
    #[serde(default)]
    pub json: bool,
}

impl Request {
    pub fn new<S: Into<String>>(words: impl IntoIterator<Item = S>, json: bool) -> Self {
        Request {
            command: words.into_iter().map(Into::into).collect(),
            json,
        }
    }

    /// The command's words, without a leading `show`.
    pub fn words(&self) -> &[String] {
        match self.command.split_first() {
            Some((first, rest)) if first == "show" => rest,
            _ => &self.command,
        }
    }

    /// `p4 entries`: answered by the main loop, which owns the switch (see [`p4_entries`]).
    pub fn is_p4_entries(&self) -> bool {
        self.words() == ["p4", "entries"]
    }

    /// `p4 summary`: answered by the main loop, which counts its writes
    /// (see [`crate::southbound::WriteStats`]).
    pub fn is_p4_summary(&self) -> bool {
        self.words() == ["p4", "summary"]
    }
}

/// What a command produced: text for people, or data for programs.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    Text(String),
    Data(serde_json::Value),
}

/// The answer to a [`Request`].
#[derive(Clone, Debug, PartialEq)]
pub enum Response {
    /// `{"ok": true, "output": "…"}`
    Text(String),
    /// `{"ok": true, "data": …}`
    Data(serde_json::Value),
    /// `{"ok": false, "error": "…"}`
    Error(String),
}

impl From<Output> for Response {
    fn from(o: Output) -> Self {
        match o {
            Output::Text(t) => Response::Text(t),
            Output::Data(d) => Response::Data(d),
        }
    }
}

/// The wire form of a [`Response`].
#[derive(Serialize, Deserialize)]
struct WireResponse {
    ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl Serialize for Response {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let wire = match self {
            Response::Text(t) => WireResponse {
                ok: true,
                output: Some(t.clone()),
                data: None,
                error: None,
            },
            Response::Data(d) => WireResponse {
                ok: true,
                output: None,
                data: Some(d.clone()),
                error: None,
            },
            Response::Error(e) => WireResponse {
                ok: false,
                output: None,
                data: None,
                error: Some(e.clone()),
            },
        };
        wire.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Response {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = WireResponse::deserialize(d)?;
        match wire {
            WireResponse {
                ok: false, error, ..
            } => Ok(Response::Error(
                error.unwrap_or_else(|| "unspecified error".to_string()),
            )),
            WireResponse { data: Some(d), .. } => Ok(Response::Data(d)),
            WireResponse {
                output: Some(t), ..
            } => Ok(Response::Text(t)),
            _ => Err(serde::de::Error::custom(
                "a successful response has `output` or `data`",
            )),
        }
    }
}

/// The BGP speaker's `show` commands (`bgp summary`, `bgp neighbors …`). [`answer`] hands it every `bgp …` / `ip bgp …` command it
/// does not answer itself, with the words as typed (without `show`).
pub trait BgpShow {
    /// `None` when the command is not one of the speaker's; `Some(Err(message))` when it is
    /// but cannot be answered (an unknown neighbor, …).
    /// `rib`: the router's RIB, which holds the routes a neighbor sent that policy accepted.
    fn show(&self, words: &[String], json: bool, rib: &rib::Rib) -> Option<Result<Output, String>>;

    /// Hit counters of the route-maps the speaker ran (neighbors' route-maps in and out, GateD
    /// export maps), by map name; `show route-map` adds them to the RIB's.
    fn route_map_stats(&self) -> Option<&BTreeMap<String, policy::RouteMapStats>> {
        None
    }
}

/// What [`answer`] looks at: the router, and the BGP speaker when there is one.
pub struct ShowContext<'a> {
    pub router: &'a Router,
    pub bgp: Option<&'a dyn BgpShow>,
}

/// The commands, as `p4vrf show --help` and the unknown-command error list them.
pub const COMMANDS: &str = "  ip route vrf NAME                   a VRF's IPv4 routing table
  ipv6 route vrf NAME                 a VRF's IPv6 routing table
  ip bgp vpnv4 all [detail]           the VPNv4 table by route distinguisher
                                      (also: bgp vpnv4 [unicast] all [detail])
  bgp vpnv6 unicast all [detail]      the VPNv6 table by route distinguisher
  bgp vrf NAME ipv4|ipv6 unicast      a VRF's BGP table: redistributed, CE and imported paths
                                      (also: ip bgp vrf NAME [ipv4 unicast])
  route-map [NAME]                    route-maps with their hit counters
  vrf [NAME]                          VRFs: RD, route targets, VPN label, interfaces
  p4 entries                          every entry read back from the switch
  p4 summary                          entries per table written, the last write's time
  bgp summary | bgp neighbors [ADDR [advertised-routes|received-routes]]
                                      the BGP speaker's view (when BGP is configured)
";

fn unknown(words: &[String]) -> Response {
    Response::Error(format!(
        "% unknown command `show {}`; the commands are:\n{COMMANDS}",
        words.join(" ")
    ))
}

fn words_str(words: &[String]) -> Vec<&str> {
    words.iter().map(String::as_str).collect()
}

/// Answers a request from the router's state. `p4 entries` needs the switch and is answered
/// by the caller (see [`Request::is_p4_entries`] and [`p4_entries`]).
pub fn answer(ctx: &ShowContext, request: &Request) -> Response {
    let words = request.words();
    let json = request.json;
    let rib = ctx.router.rib();
    match words_str(words).as_slice() {
        [] | ["help"] | ["?"] => Response::Text(format!("p4vrf show commands:\n{COMMANDS}")),
        [af @ ("ip" | "ipv6"), "route", "vrf", vrf] => {
            let family = if *af == "ip" {
                Family::Ipv4
            } else {
                Family::Ipv6
            };
            if rib.table(vrf).is_none() {
                return Response::Error(format!("% VRF {vrf} does not exist"));
            }
            if json {
                json::ip_route(rib, vrf, family)
            } else {
                Response::Text(show::ip_route_vrf(rib, vrf, family))
            }
        }
        ["ip", "bgp", "vpnv4", "all", rest @ ..]
        | ["bgp", "vpnv4", "all", rest @ ..]
        | ["bgp", "vpnv4", "unicast", "all", rest @ ..]
            if matches!(rest, [] | ["detail"]) =>
        {
            vpn(ctx.router, Family::Ipv4, !rest.is_empty(), json)
        }
        ["bgp", "vpnv6", "unicast", "all", rest @ ..] if matches!(rest, [] | ["detail"]) => {
            vpn(ctx.router, Family::Ipv6, !rest.is_empty(), json)
        }
        ["bgp", "vrf", vrf, af @ ("ipv4" | "ipv6"), "unicast"]
        | ["ip", "bgp", "vrf", vrf, af @ ("ipv4" | "ipv6"), "unicast"] => {
            let family = if *af == "ipv4" {
                Family::Ipv4
            } else {
                Family::Ipv6
            };
            bgp_vrf(rib, vrf, family, json)
        }
        ["ip", "bgp", "vrf", vrf] => bgp_vrf(rib, vrf, Family::Ipv4, json),
        ["route-map"] => route_maps(ctx, None, json),
        ["route-map", name] => route_maps(ctx, Some(name), json),
        ["vrf"] => vrfs(ctx.router, None, json),
        ["vrf", name] => vrfs(ctx.router, Some(name), json),
        ["p4", "entries"] => Response::Error(
            "% `show p4 entries` reads the switch: only the daemon's main loop answers it"
                .to_string(),
        ),
        ["p4", "summary"] => Response::Error(
            "% `show p4 summary` counts the switch writes: only the daemon's main loop answers it"
                .to_string(),
        ),
        ["bgp", ..] | ["ip", "bgp", ..] => match ctx.bgp {
            None => Response::Error("% BGP is not configured".to_string()),
            Some(bgp) => match bgp.show(words, json, ctx.router.rib()) {
                None => unknown(words),
                Some(Ok(out)) => out.into(),
                Some(Err(e)) => Response::Error(e),
            },
        },
        _ => unknown(words),
    }
}

fn vpn(router: &Router, family: Family, detail: bool, json: bool) -> Response {
    if json {
        json::vpn(router.rib(), family)
    } else {
        Response::Text(show::bgp_vpn_all(router.rib(), family, detail))
    }
}

/// A VRF's BGP table. It is the RIB's (redistributed, CE and imported paths), so it answers
/// with or without a `[bgp]` section.
fn bgp_vrf(rib: &rib::Rib, vrf: &str, family: Family, json: bool) -> Response {
    if json {
        return json::bgp_vrf(rib, vrf, family);
    }
    match show::bgp_vrf_unicast(rib, vrf, family) {
        Some(text) => Response::Text(text),
        None => Response::Error(format!("% VRF {vrf} does not exist")),
    }
}

/// `show p4 entries` from the entities read back from the switch.
pub fn p4_entries(entities: &[p4rt::entity::Entity], json: bool) -> Response {
    if json {
        json::p4_entries(entities)
    } else {
        Response::Text(show::p4_entries(entities))
    }
}

/// Every route-map of the configuration with its hit counters: what the RIB ran
/// (redistribution, export and import maps) plus what the BGP speaker ran (neighbors' maps).
fn route_maps(ctx: &ShowContext, name: Option<&str>, json: bool) -> Response {
    let router = ctx.router;
    let empty = BTreeMap::new();
    let maps = router.config().map_or(&empty, |c| &c.policy.0.route_maps);
    let selected: Vec<_> = match name {
        Some(n) => match maps.get(n) {
            Some(m) => vec![m],
            None => return Response::Error(format!("% route-map {n} does not exist")),
        },
        None => maps.values().collect(),
    };
    let mut stats = router.rib().route_map_stats().clone();
    if let Some(bgp) = ctx.bgp.and_then(|b| b.route_map_stats()) {
        for (map, st) in bgp {
            stats
                .entry(map.clone())
                .and_modify(|s| s.merge(st))
                .or_insert_with(|| st.clone());
        }
    }
    let stats = &stats;
    if json {
        return json::route_maps(&selected, stats);
    }
    let mut out = format!(
        "p4vrf# show route-map{}\n",
        name.map(|n| format!(" {n}")).unwrap_or_default()
    );
    if selected.is_empty() {
        out.push_str("(no route-maps configured)\n");
    }
    for map in selected {
        let st = stats
            .get(&map.name)
            .cloned()
            .unwrap_or_else(|| map.new_stats());
        out.push_str(&map.show(&st));
    }
    Response::Text(out)
}

/// One VRF as `show vrf` describes it.
struct VrfView<'a> {
    name: &'a str,
    policy: &'a rib::VrfPolicy,
    label: Option<u32>,
    interfaces: Vec<&'a str>,
}

fn vrf_views<'a>(router: &'a Router, name: Option<&str>) -> Vec<VrfView<'a>> {
    let rib = router.rib();
    rib.vrf_names()
        .filter(|v| name.is_none_or(|n| n == &***v))
        .filter_map(|v| {
            let policy = rib.vrf_policy(v)?;
            let interfaces = router
                .config()
                .map(|c| {
                    c.interfaces
                        .values()
                        .filter(|i| i.vrf == **v)
                        .map(|i| i.name.as_str())
                        .collect()
                })
                .unwrap_or_default();
            Some(VrfView {
                name: v,
                policy,
                label: router.vpn_label(v),
                interfaces,
            })
        })
        .collect()
}

fn redistribution_text(policy: &rib::VrfPolicy) -> Vec<String> {
    policy
        .redistribute
        .iter()
        .map(|(p, map)| {
            let proto = json::protocol_name(*p);
            match map {
                Some(m) => format!("{proto} route-map {}", m.name()),
                None => proto.to_string(),
            }
        })
        .collect()
}

fn vrfs(router: &Router, name: Option<&str>, json: bool) -> Response {
    let views = vrf_views(router, name);
    if let (Some(n), true) = (name, views.is_empty()) {
        return Response::Error(format!("% VRF {n} does not exist"));
    }
    if json {
        return json::vrfs(&views);
    }
    let mut out = format!(
        "p4vrf# show vrf{}\n",
        name.map(|n| format!(" {n}")).unwrap_or_default()
    );
    if views.is_empty() {
        out.push_str("(no VRFs configured)\n");
    }
    let list = |items: Vec<String>| {
        if items.is_empty() {
            "none".to_string()
        } else {
            items.join(" ")
        }
    };
    for v in &views {
        let rd = v
            .policy
            .rd
            .map_or_else(|| "<not set>".to_string(), |rd| rd.to_string());
        let label = v
            .label
            .map_or_else(|| "none".to_string(), |l| l.to_string());
        let _ = writeln!(out, "VRF {}; default RD {rd}; VPN label {label}", v.name);
        let _ = writeln!(
            out,
            "  Interfaces: {}",
            list(v.interfaces.iter().map(|i| i.to_string()).collect())
        );
        let rts = |set: &std::collections::BTreeSet<rib::RouteTarget>| {
            list(set.iter().map(|rt| rt.to_string()).collect())
        };
        let _ = writeln!(
            out,
            "  Export VPN route-target communities: {}",
            rts(&v.policy.export)
        );
        let _ = writeln!(
            out,
            "  Import VPN route-target communities: {}",
            rts(&v.policy.import)
        );
        let _ = writeln!(
            out,
            "  Redistribute: {}",
            if v.policy.redistribute.is_empty() {
                "none".to_string()
            } else {
                redistribution_text(v.policy).join(", ")
            }
        );
        if let Some(m) = &v.policy.export_map {
            let _ = writeln!(out, "  Export route-map: {}", m.name());
        }
        if let Some(m) = &v.policy.import_map {
            let _ = writeln!(out, "  Import route-map: {}", m.name());
        }
    }
    Response::Text(out)
}
