//! GateD `export` statements (seed 003), compiled into ordinary route-maps.
//!
//! ```text
//! export proto bgp as 65002 [metric M] {          ← destination: one per BGP neighbor AS
//!     proto static [metric M] {                   ← source: which routes
//!         10.0.0.0 masklen 8 refines metric M ;   ← route filters: which prefixes
//!         default restrict ;
//!     } ;
//! } ;
//! ```
//!
//! Semantics, exactly as seed 003 states them (see `docs/policy.md` for the table):
//!
//! * **No export statement for a destination AS**: only routes to directly attached
//!   interfaces are exported to it. Any statement for that AS replaces the default entirely.
//! * `restrict` on the **destination** exports nothing at all to it; on a **source**, nothing
//!   from that source; on a **filter**, nothing the filter matches.
//! * Sources are tried in order; the first whose criteria hold for the route decides.
//! * A source with no filters exports all of its routes. A source with filters exports only
//!   routes a filter matches: an `all restrict` is assumed after its last filter, so a route
//!   of that source no filter matches is not exported.
//! * Among a source's filters the **most specific** one that matches applies (the longest
//!   filter mask; at equal masks `exact`/`refines`/`between` before a plain filter).
//! * Filters: plain — the network itself and anything longer inside it; `exact` — only that
//!   mask length; `refines` — only longer ones, not the network itself; `between A and B` —
//!   lengths A..=B; `default` = `0.0.0.0 mask 0.0.0.0 exact`; `host H` = `H mask
//!   255.255.255.255 exact`; `all` = `0.0.0.0 mask 0.0.0.0`.
//! * **Metric**: the most specific level that gives one wins — filter, then source, then
//!   destination. With none, the route's MED is left as it is.
//!
//! Compilation: each destination becomes a route-map whose sequences are, in order, for each
//! source: one sequence per filter (most specific first) matching the source's criteria and
//! a one-entry prefix list, then a `deny` sequence for the implied `all restrict`.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::lists::{Action, Family, PrefixList, PrefixListEntry};
use crate::pattern::AsPathRegex;
use crate::route::{Origin, SourceProtocol};
use crate::route_map::{Match, MetricSet, RouteMap, Sequence, Set};

/// GateD's names for where a route came from.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum GatedProto {
    /// Routes to directly attached interfaces.
    Direct,
    Static,
    Aggregate,
    Bgp,
}

impl GatedProto {
    fn source(self) -> SourceProtocol {
        match self {
            GatedProto::Direct => SourceProtocol::Connected,
            GatedProto::Static => SourceProtocol::Static,
            GatedProto::Aggregate => SourceProtocol::Aggregate,
            GatedProto::Bgp => SourceProtocol::Bgp,
        }
    }
}

/// Which routes a source clause selects.
#[derive(Clone, Debug)]
pub enum SourceCriteria {
    /// `proto direct|static|aggregate|bgp`
    Proto(GatedProto),
    /// `proto bgp as N` (GateD: `autonomoussystem N`): BGP routes learned from AS N.
    BgpAs(u32),
    /// `proto PROTO|all aspath REGEX origin …`
    AsPath {
        proto: Option<GatedProto>,
        regex: Arc<AsPathRegex>,
        origins: Vec<Origin>,
    },
    /// `proto PROTO|all tag N`
    Tag { proto: Option<GatedProto>, tag: u32 },
}

impl SourceCriteria {
    fn matches(&self) -> Vec<Match> {
        let proto = |p: &Option<GatedProto>| p.map(|p| Match::SourceProtocol(vec![p.source()]));
        match self {
            SourceCriteria::Proto(p) => vec![Match::SourceProtocol(vec![p.source()])],
            SourceCriteria::BgpAs(asn) => vec![
                Match::SourceProtocol(vec![SourceProtocol::Bgp]),
                Match::PeerAs(vec![*asn]),
            ],
            SourceCriteria::AsPath {
                proto: p,
                regex,
                origins,
            } => proto(p)
                .into_iter()
                .chain([Match::GatedAsPath {
                    regex: regex.clone(),
                    origins: origins.clone(),
                }])
                .collect(),
            SourceCriteria::Tag { proto: p, tag } => proto(p)
                .into_iter()
                .chain([Match::Tag(vec![*tag])])
                .collect(),
        }
    }
}

/// How a route filter constrains the destination's mask length.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Modifier {
    /// The network and anything longer inside it.
    Plain,
    /// Only the filter's own mask length.
    Exact,
    /// Only longer masks, never the network itself.
    Refines,
    /// Mask lengths `low..=high`.
    Between(u8, u8),
}

impl Modifier {
    /// At equal filter masks, the restricted forms are more specific than a plain filter.
    fn rank(self) -> u8 {
        match self {
            Modifier::Exact => 0,
            Modifier::Between(..) => 1,
            Modifier::Refines => 2,
            Modifier::Plain => 3,
        }
    }
}

/// A route filter: which destinations it matches.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum RouteFilter {
    Network {
        prefix: IpNet,
        modifier: Modifier,
    },
    /// `all`: every route, IPv4 and IPv6.
    All,
    /// `default`: the default route (0.0.0.0/0 or ::/0) only.
    Default,
    /// `host H`: H as a host route only.
    Host(IpAddr),
}

impl RouteFilter {
    /// Filter mask length and rank: lower sorts first (more specific).
    fn specificity(&self) -> (std::cmp::Reverse<u8>, u8) {
        use std::cmp::Reverse;
        match self {
            RouteFilter::Network { prefix, modifier } => {
                (Reverse(prefix.prefix_len()), modifier.rank())
            }
            RouteFilter::All => (Reverse(0), Modifier::Plain.rank()),
            RouteFilter::Default => (Reverse(0), Modifier::Exact.rank()),
            RouteFilter::Host(ip) => (
                Reverse(Family::of_addr(ip).max_len()),
                Modifier::Exact.rank(),
            ),
        }
    }

    /// The prefix-list entries (one per family it covers) that match what this filter does.
    fn entries(&self, seq: u32, action: Action) -> Vec<PrefixListEntry> {
        let v4_any = IpNet::V4(Ipv4Net::default());
        let v6_any = IpNet::V6(Ipv6Net::default());
        let range = |p: IpNet, lo: u8, hi: u8| PrefixListEntry::range(seq, action, p, lo, hi);
        let built: Vec<Result<PrefixListEntry, _>> = match *self {
            RouteFilter::All => vec![range(v4_any, 0, 32), range(v6_any, 0, 128)],
            RouteFilter::Default => vec![range(v4_any, 0, 0), range(v6_any, 0, 0)],
            RouteFilter::Host(ip) => {
                let len = Family::of_addr(&ip).max_len();
                vec![range(IpNet::from(ip), len, len)]
            }
            RouteFilter::Network { prefix, modifier } => {
                let len = prefix.prefix_len();
                let max = Family::of(&prefix).max_len();
                match modifier {
                    Modifier::Plain => vec![range(prefix, len, max)],
                    Modifier::Exact => vec![range(prefix, len, len)],
                    // `refines` of a host route can match nothing: leave it out.
                    Modifier::Refines if len == max => vec![],
                    Modifier::Refines => vec![range(prefix, len + 1, max)],
                    Modifier::Between(lo, hi) => vec![range(prefix, lo.max(len), hi)],
                }
            }
        };
        // Every filter reaching here was parsed and checked; a range that still fails is one
        // that can match nothing, which is what leaving it out means.
        built.into_iter().filter_map(Result::ok).collect()
    }
}

/// What a filter does with the routes it matches.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FilterAction {
    Export { metric: Option<u32> },
    Restrict,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Filter {
    pub route: RouteFilter,
    pub action: FilterAction,
}

/// The body of a source clause.
#[derive(Clone, Debug)]
pub enum SourceBody {
    /// `proto … restrict ;`
    Restrict,
    /// `proto … [metric M] { filters } ;` — no filters means every route of the source.
    Export {
        metric: Option<u32>,
        filters: Vec<Filter>,
    },
}

#[derive(Clone, Debug)]
pub struct Source {
    pub criteria: SourceCriteria,
    pub body: SourceBody,
}

/// The body of an export statement.
#[derive(Clone, Debug)]
pub enum DestBody {
    /// `export proto bgp as N restrict ;`
    Restrict,
    /// `export proto bgp as N [metric M] { sources } ;`
    Export {
        metric: Option<u32>,
        sources: Vec<Source>,
    },
}

/// `export proto bgp as N …`
#[derive(Clone, Debug)]
pub struct ExportStatement {
    pub dest_as: u32,
    pub body: DestBody,
}

/// Compiled GateD export policy: one route-map per destination AS with a statement, and the
/// no-policy default for every other AS.
#[derive(Clone, Debug)]
pub struct GatedExport {
    maps: BTreeMap<u32, Arc<RouteMap>>,
    default: Arc<RouteMap>,
}

impl GatedExport {
    /// Compiles statements (several may name the same destination: taken in order).
    pub fn compile(statements: &[ExportStatement]) -> GatedExport {
        let mut by_dest: BTreeMap<u32, Vec<&ExportStatement>> = BTreeMap::new();
        for s in statements {
            by_dest.entry(s.dest_as).or_default().push(s);
        }
        let maps = by_dest
            .into_iter()
            .map(|(asn, stmts)| (asn, Arc::new(compile_dest(asn, &stmts))))
            .collect();
        GatedExport {
            maps,
            default: Arc::new(default_map()),
        }
    }

    /// The route-map that decides what is exported to BGP neighbors in `dest_as`.
    pub fn route_map_for(&self, dest_as: u32) -> &Arc<RouteMap> {
        self.maps.get(&dest_as).unwrap_or(&self.default)
    }

    /// Whether `dest_as` has its own export policy (otherwise the default applies).
    pub fn has_policy(&self, dest_as: u32) -> bool {
        self.maps.contains_key(&dest_as)
    }
}

/// "If no export policy is specified, only routes to attached interfaces will be exported."
fn default_map() -> RouteMap {
    RouteMap::new(
        "gated-export-default",
        vec![Sequence::new(10, Action::Permit)
            .matching(Match::SourceProtocol(vec![SourceProtocol::Connected]))],
    )
    .expect("one sequence, no continue")
}

fn compile_dest(asn: u32, stmts: &[&ExportStatement]) -> RouteMap {
    let name = format!("gated-export-as{asn}");
    // Destination-level restrict: nothing at all to this destination, wherever it appears.
    if stmts.iter().any(|s| matches!(s.body, DestBody::Restrict)) {
        return RouteMap::new(name, vec![]).expect("empty map");
    }
    let mut seqs = Vec::new();
    let mut seq = 0u32;
    let mut next_seq = || {
        seq += 10;
        seq
    };
    for stmt in stmts {
        let DestBody::Export {
            metric: dest_metric,
            sources,
        } = &stmt.body
        else {
            continue;
        };
        for src in sources {
            let criteria = src.criteria.matches();
            let with_criteria = |mut s: Sequence| {
                s.matches.extend(criteria.iter().cloned());
                s
            };
            match &src.body {
                SourceBody::Restrict => {
                    seqs.push(with_criteria(Sequence::new(next_seq(), Action::Deny)));
                }
                SourceBody::Export {
                    metric: src_metric,
                    filters,
                } => {
                    let inherited = src_metric.or(*dest_metric);
                    if filters.is_empty() {
                        let mut s = with_criteria(Sequence::new(next_seq(), Action::Permit));
                        if let Some(m) = inherited {
                            s.sets.push(Set::Metric(MetricSet::Absolute(m)));
                        }
                        seqs.push(s);
                        continue;
                    }
                    let mut ordered: Vec<&Filter> = filters.iter().collect();
                    ordered.sort_by_key(|f| f.route.specificity());
                    for f in ordered {
                        let n = next_seq();
                        let (action, metric) = match f.action {
                            FilterAction::Restrict => (Action::Deny, None),
                            FilterAction::Export { metric } => {
                                (Action::Permit, metric.or(inherited))
                            }
                        };
                        let entries = f.route.entries(5, Action::Permit);
                        if entries.is_empty() {
                            continue;
                        }
                        let list = Arc::new(PrefixList::new(format!("{name}-filter{n}"), entries));
                        let mut s = with_criteria(
                            Sequence::new(n, action).matching(Match::PrefixList(vec![list])),
                        );
                        if let Some(m) = metric {
                            s.sets.push(Set::Metric(MetricSet::Absolute(m)));
                        }
                        seqs.push(s);
                    }
                    // The implied `all restrict ;` closing the filter list.
                    seqs.push(with_criteria(Sequence::new(next_seq(), Action::Deny)));
                }
            }
        }
    }
    RouteMap::new(name, seqs).expect("generated sequence numbers are unique")
}

/// Parses one route filter line as GateD writes it, e.g. `10.0.0.0 masklen 8 refines`,
/// `192.168.0.0 mask 255.255.0.0 exact metric 5`, `default restrict`, `host 192.0.2.1`,
/// `all`, `10.0.0.0 between 16 and 24`; `10.0.0.0/8` is accepted for `masklen 8`.
pub fn parse_filter(text: &str) -> Result<Filter, String> {
    let toks: Vec<&str> = text.split_whitespace().collect();
    let mut i;
    let word = |i: usize| toks.get(i).map(|t| t.to_ascii_lowercase());
    let route = match word(0).as_deref() {
        None => return Err("empty route filter".into()),
        Some("all") => {
            i = 1;
            RouteFilter::All
        }
        Some("default") => {
            i = 1;
            RouteFilter::Default
        }
        Some("host") => {
            let h = toks.get(1).ok_or("`host` needs an address")?;
            let ip: IpAddr = h
                .parse()
                .map_err(|_| format!("`{h}` is not an IP address"))?;
            i = 2;
            RouteFilter::Host(ip)
        }
        Some(_) => {
            let (prefix, used) = parse_network(&toks)?;
            i = used;
            let max = Family::of(&prefix).max_len();
            let len = prefix.prefix_len();
            let modifier = match word(i).as_deref() {
                Some("exact") => {
                    i += 1;
                    Modifier::Exact
                }
                Some("refines") => {
                    i += 1;
                    if len == max {
                        return Err(format!("`refines` of a /{len} can match nothing"));
                    }
                    Modifier::Refines
                }
                Some("between") => {
                    let lo = parse_len(toks.get(i + 1), max)?;
                    if word(i + 2).as_deref() != Some("and") {
                        return Err("expected `between LOW and HIGH`".into());
                    }
                    let hi = parse_len(toks.get(i + 3), max)?;
                    if lo > hi {
                        return Err(format!("in `between {lo} and {hi}` LOW exceeds HIGH"));
                    }
                    if hi < len {
                        return Err(format!(
                            "`between {lo} and {hi}` is shorter than the filter's own /{len}: matches nothing"
                        ));
                    }
                    i += 4;
                    Modifier::Between(lo, hi)
                }
                _ => Modifier::Plain,
            };
            RouteFilter::Network { prefix, modifier }
        }
    };
    let action = match word(i).as_deref() {
        None => FilterAction::Export { metric: None },
        Some("restrict") => {
            i += 1;
            FilterAction::Restrict
        }
        Some("metric") => {
            let m = toks
                .get(i + 1)
                .ok_or("`metric` needs a value")?
                .parse::<u32>()
                .map_err(|_| "the metric must be 0..=4294967295".to_string())?;
            i += 2;
            FilterAction::Export { metric: Some(m) }
        }
        Some(other) => return Err(format!("unexpected `{other}` in route filter")),
    };
    if let Some(extra) = toks.get(i) {
        return Err(format!(
            "unexpected `{extra}` after the route filter (restrict and metric exclude each other)"
        ));
    }
    Ok(Filter { route, action })
}

fn parse_len(tok: Option<&&str>, max: u8) -> Result<u8, String> {
    let t = tok.ok_or("a mask length is missing")?;
    let n: u8 = t
        .parse()
        .map_err(|_| format!("`{t}` is not a mask length"))?;
    if n > max {
        return Err(format!("mask length {n} exceeds {max}"));
    }
    Ok(n)
}

/// `NET`, `NET mask MASK`, `NET masklen N` (also `mask-length`, `masklength`, `mask-len`)
/// or `NET/N`; returns the prefix and how many tokens it used.
fn parse_network(toks: &[&str]) -> Result<(IpNet, usize), String> {
    let first = toks[0];
    if let Ok(net) = first.parse::<IpNet>() {
        return check_host_bits(net).map(|n| (n, 1));
    }
    let addr: IpAddr = first
        .parse()
        .map_err(|_| format!("`{first}` is not a network address, `all`, `default` or `host`"))?;
    let max = Family::of_addr(&addr).max_len();
    let kw = toks.get(1).map(|t| t.to_ascii_lowercase());
    let (len, used) = match kw.as_deref() {
        Some("mask") => {
            let m = toks.get(2).ok_or("`mask` needs a mask")?;
            let len = match (addr, m.parse::<IpAddr>()) {
                (IpAddr::V4(_), Ok(IpAddr::V4(mask))) => {
                    contiguous_len(u32::from(mask) as u128, 32)
                }
                (IpAddr::V6(_), Ok(IpAddr::V6(mask))) => contiguous_len(u128::from(mask), 128),
                _ => None,
            }
            .ok_or_else(|| format!("`{m}` is not a contiguous mask of the network's family"))?;
            (len, 3)
        }
        Some("masklen" | "mask-length" | "masklength" | "mask-len") => {
            (parse_len(toks.get(2), max)?, 3)
        }
        _ => {
            let IpAddr::V4(v4) = addr else {
                return Err(format!(
                    "{addr}: IPv6 networks have no natural mask; give `masklen N`"
                ));
            };
            (natural_len(v4)?, 1)
        }
    };
    let net = IpNet::new(addr, len).map_err(|e| e.to_string())?;
    check_host_bits(net).map(|n| (n, used))
}

fn check_host_bits(net: IpNet) -> Result<IpNet, String> {
    if net.addr() != net.network() {
        return Err(format!(
            "{} has bits set beyond its mask; did you mean {}?",
            net,
            net.trunc()
        ));
    }
    Ok(net)
}

/// The length of a contiguous mask `width` bits wide, or `None` for a non-contiguous one.
fn contiguous_len(mask: u128, width: u32) -> Option<u8> {
    let shifted = mask << (128 - width);
    let ones = shifted.leading_ones();
    let expect = if ones == 0 { 0 } else { !0u128 << (128 - ones) };
    (shifted == expect).then_some(ones as u8)
}

/// The classful ("natural") mask of an IPv4 network, as GateD's bare `network` form implies.
fn natural_len(a: Ipv4Addr) -> Result<u8, String> {
    match a.octets()[0] {
        0..=127 => Ok(8),
        128..=191 => Ok(16),
        192..=223 => Ok(24),
        _ => Err(format!(
            "{a} is class D/E and has no natural mask; give `mask` or `masklen`"
        )),
    }
}

/// Used by validation: two filters of one source that GateD would refuse as duplicates.
pub fn duplicate_key(f: &Filter) -> RouteFilter {
    match f.route {
        RouteFilter::Host(ip) => RouteFilter::Network {
            prefix: IpNet::from(ip),
            modifier: Modifier::Exact,
        },
        r => r,
    }
}

#[cfg(test)]
mod tests;
