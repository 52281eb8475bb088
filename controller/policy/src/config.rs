//! The policy part of the p4vrf TOML configuration: serde structs as written by the user
//! (kebab-case keys, unknown keys refused, every value that can be wrong kept with its
//! [`Spanned`] location) and [`compile`], which validates everything at once and turns it
//! into the compiled lists, route-maps and GateD export policy.
//!
//! The p4vrf binary embeds [`PolicyConfig`]'s fields at the top level of its file, so the
//! tables are written `[[prefix-list]]`, `[[route-map]]`, `[[gated-export]]` … (see
//! `docs/policy.md` for a complete example). Errors carry byte spans; [`PolicyError::locate`]
//! turns one into `file:line:column: message`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;
use std::ops::Range;
use std::sync::Arc;

use ipnet::IpNet;
use serde::Deserialize;
use toml::Spanned;
use vpn_types::RouteTarget;

use crate::community::{Community, ExtCommunity, LargeCommunity};
use crate::gated::{
    self, DestBody, ExportStatement, GatedExport, GatedProto, Source, SourceBody, SourceCriteria,
};
use crate::lists::{
    Action, AsPathEntry, AsPathList, CommunityList, ExtCommunityList, Family, LargeCommunityList,
    PrefixList, PrefixListEntry, SetList, SetListEntry, SetMatcher,
};
use crate::pattern::{AsPathRegex, PatternError};
use crate::route::{NextHop, Origin, RouteType, SourceProtocol};
use crate::route_map::{Continue, Match, MetricSet, RouteMap, Sequence, Set};

// ----- the file as written ------------------------------------------------------------------

/// Every policy table of the configuration file.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PolicyConfig {
    #[serde(default)]
    pub prefix_list: Vec<PrefixListConfig>,
    #[serde(default)]
    pub community_list: Vec<CommunityListConfig>,
    #[serde(default)]
    pub extcommunity_list: Vec<ExtCommunityListConfig>,
    #[serde(default)]
    pub large_community_list: Vec<LargeCommunityListConfig>,
    #[serde(default)]
    pub as_path_list: Vec<AsPathListConfig>,
    #[serde(default)]
    pub route_map: Vec<RouteMapConfig>,
    #[serde(default)]
    pub gated_export: Vec<GatedExportConfig>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "kebab-case")]
pub enum ActionConfig {
    Permit,
    Deny,
}

impl From<ActionConfig> for Action {
    fn from(a: ActionConfig) -> Action {
        match a {
            ActionConfig::Permit => Action::Permit,
            ActionConfig::Deny => Action::Deny,
        }
    }
}

/// `[[prefix-list]]` — IOS `ip prefix-list` / `ipv6 prefix-list` (the family comes from
/// the prefixes; one list holds one family).
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PrefixListConfig {
    pub name: Spanned<String>,
    #[serde(default)]
    pub entry: Vec<PrefixListEntryConfig>,
}

/// `seq N permit|deny PREFIX [ge G] [le L]`; without `seq`, the last one + 5 (IOS).
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PrefixListEntryConfig {
    pub seq: Option<Spanned<u32>>,
    pub action: Spanned<ActionConfig>,
    pub prefix: Spanned<String>,
    pub ge: Option<Spanned<u8>>,
    pub le: Option<Spanned<u8>>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ListType {
    #[default]
    Standard,
    Expanded,
}

/// `[[community-list]]` — `ip community-list standard|expanded NAME`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CommunityListConfig {
    pub name: Spanned<String>,
    #[serde(default, rename = "type")]
    pub list_type: ListType,
    #[serde(default)]
    pub entry: Vec<CommunityEntryConfig>,
}

/// Standard: `communities` (all must be present; `internet` matches any route).
/// Expanded: `regex` over the route's communities as `ASN:NN` text.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CommunityEntryConfig {
    pub action: Spanned<ActionConfig>,
    #[serde(default)]
    pub communities: Vec<Spanned<String>>,
    pub regex: Option<Spanned<String>>,
}

/// `[[extcommunity-list]]` — `ip extcommunity-list standard|expanded NAME`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ExtCommunityListConfig {
    pub name: Spanned<String>,
    #[serde(default, rename = "type")]
    pub list_type: ListType,
    #[serde(default)]
    pub entry: Vec<ExtCommunityEntryConfig>,
}

/// Standard: `rt` and `soo` values (all must be present). Expanded: `regex` over
/// `RT:ASN:NN SoO:ASN:NN` text.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ExtCommunityEntryConfig {
    pub action: Spanned<ActionConfig>,
    #[serde(default)]
    pub rt: Vec<Spanned<String>>,
    #[serde(default)]
    pub soo: Vec<Spanned<String>>,
    pub regex: Option<Spanned<String>>,
}

/// `[[large-community-list]]` — `ip large-community-list standard|expanded NAME`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LargeCommunityListConfig {
    pub name: Spanned<String>,
    #[serde(default, rename = "type")]
    pub list_type: ListType,
    #[serde(default)]
    pub entry: Vec<LargeCommunityEntryConfig>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LargeCommunityEntryConfig {
    pub action: Spanned<ActionConfig>,
    #[serde(default)]
    pub communities: Vec<Spanned<String>>,
    pub regex: Option<Spanned<String>>,
}

/// `[[as-path-list]]` — `ip as-path access-list NAME permit|deny REGEX`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AsPathListConfig {
    pub name: Spanned<String>,
    #[serde(default)]
    pub entry: Vec<AsPathEntryConfig>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AsPathEntryConfig {
    pub action: Spanned<ActionConfig>,
    pub regex: Spanned<String>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "kebab-case")]
pub enum FamilyConfig {
    Ipv4,
    Ipv6,
}

impl From<FamilyConfig> for Family {
    fn from(f: FamilyConfig) -> Family {
        match f {
            FamilyConfig::Ipv4 => Family::Ipv4,
            FamilyConfig::Ipv6 => Family::Ipv6,
        }
    }
}

/// `[[route-map]]`; `family` (optional) declares the map IPv4- or IPv6-only.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RouteMapConfig {
    pub name: Spanned<String>,
    pub family: Option<Spanned<FamilyConfig>>,
    #[serde(default)]
    pub entry: Vec<RouteMapEntryConfig>,
}

/// `continue = true` (the next sequence) or `continue = 30`.
#[derive(Deserialize, Clone, Copy, Debug)]
#[serde(untagged)]
pub enum ContinueConfig {
    Next(bool),
    Seq(u32),
}

/// `route-map NAME permit|deny SEQ` with its `match`, `set` and `continue`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RouteMapEntryConfig {
    pub seq: Spanned<u32>,
    pub action: Spanned<ActionConfig>,
    #[serde(default, rename = "match")]
    pub matches: MatchConfig,
    #[serde(default)]
    pub set: SetConfig,
    #[serde(rename = "continue")]
    pub continue_to: Option<Spanned<ContinueConfig>>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "kebab-case")]
pub enum OriginConfig {
    Igp,
    Egp,
    Incomplete,
}

impl From<OriginConfig> for Origin {
    fn from(o: OriginConfig) -> Origin {
        match o {
            OriginConfig::Igp => Origin::Igp,
            OriginConfig::Egp => Origin::Egp,
            OriginConfig::Incomplete => Origin::Incomplete,
        }
    }
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "kebab-case")]
pub enum SourceProtocolConfig {
    Connected,
    Static,
    Bgp,
    Aggregate,
}

impl From<SourceProtocolConfig> for SourceProtocol {
    fn from(p: SourceProtocolConfig) -> SourceProtocol {
        match p {
            SourceProtocolConfig::Connected => SourceProtocol::Connected,
            SourceProtocolConfig::Static => SourceProtocol::Static,
            SourceProtocolConfig::Bgp => SourceProtocol::Bgp,
            SourceProtocolConfig::Aggregate => SourceProtocol::Aggregate,
        }
    }
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "kebab-case")]
pub enum RouteTypeConfig {
    Internal,
    External,
    Local,
}

impl From<RouteTypeConfig> for RouteType {
    fn from(t: RouteTypeConfig) -> RouteType {
        match t {
            RouteTypeConfig::Internal => RouteType::Internal,
            RouteTypeConfig::External => RouteType::External,
            RouteTypeConfig::Local => RouteType::Local,
        }
    }
}

/// The `match` clauses of one sequence; every clause given must hold, a clause listing
/// several names holds if any of them does.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MatchConfig {
    #[serde(default)]
    pub tag: Vec<u32>,
    #[serde(default)]
    pub prefix_list: Vec<Spanned<String>>,
    #[serde(default)]
    pub next_hop_prefix_list: Vec<Spanned<String>>,
    #[serde(default)]
    pub community: Vec<Spanned<String>>,
    #[serde(default)]
    pub community_exact_match: bool,
    #[serde(default)]
    pub extcommunity: Vec<Spanned<String>>,
    #[serde(default)]
    pub large_community: Vec<Spanned<String>>,
    #[serde(default)]
    pub as_path: Vec<Spanned<String>>,
    #[serde(default)]
    pub origin: Vec<OriginConfig>,
    pub metric: Option<u32>,
    pub metric_deviation: Option<Spanned<u32>>,
    #[serde(default)]
    pub source_protocol: Vec<SourceProtocolConfig>,
    #[serde(default)]
    pub route_type: Vec<RouteTypeConfig>,
}

/// `set metric`: an integer, or a string `"+N"` / `"-N"` relative to the route's MED.
#[derive(Deserialize, Clone, Debug)]
#[serde(untagged)]
pub enum MetricConfig {
    Absolute(u32),
    Relative(String),
}

/// The `set` clauses of one sequence.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SetConfig {
    pub community: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub community_additive: Option<Spanned<bool>>,
    pub community_none: Option<Spanned<bool>>,
    pub comm_list_delete: Option<Spanned<String>>,
    pub extcommunity_rt: Option<Spanned<Vec<Spanned<String>>>>,
    pub extcommunity_rt_additive: Option<Spanned<bool>>,
    pub extcommunity_soo: Option<Spanned<String>>,
    pub large_community: Option<Spanned<Vec<Spanned<String>>>>,
    pub large_community_additive: Option<Spanned<bool>>,
    pub large_community_none: Option<Spanned<bool>>,
    pub local_preference: Option<u32>,
    pub metric: Option<Spanned<MetricConfig>>,
    pub weight: Option<u32>,
    pub as_path_prepend: Option<Spanned<Vec<u32>>>,
    pub as_path_prepend_last_as: Option<Spanned<u8>>,
    pub next_hop: Option<Spanned<String>>,
    pub origin: Option<OriginConfig>,
    pub tag: Option<u32>,
}

/// `[[gated-export]]` — `export proto bgp as N [restrict | [metric M] { sources }]`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GatedExportConfig {
    /// Only `"bgp"`: the destination protocol of this router.
    pub proto: Spanned<String>,
    #[serde(rename = "as")]
    pub dest_as: Spanned<u32>,
    pub metric: Option<Spanned<u32>>,
    pub restrict: Option<Spanned<bool>>,
    #[serde(default)]
    pub source: Vec<GatedSourceConfig>,
}

/// `origin any` or a list of `igp` / `egp` / `incomplete`.
#[derive(Deserialize, Clone, Debug)]
#[serde(untagged)]
pub enum GatedOriginConfig {
    One(String),
    Many(Vec<String>),
}

/// One source clause: `proto direct|static|aggregate|bgp [as N]`,
/// `proto PROTO|all aspath "REGEX" origin …`, or `proto PROTO|all tag N`; then `restrict`
/// or `[metric M]` and route filters written as GateD does.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GatedSourceConfig {
    pub proto: Spanned<String>,
    #[serde(rename = "as")]
    pub peer_as: Option<Spanned<u32>>,
    pub aspath: Option<Spanned<String>>,
    pub origin: Option<Spanned<GatedOriginConfig>>,
    pub tag: Option<Spanned<u32>>,
    pub metric: Option<Spanned<u32>>,
    pub restrict: Option<Spanned<bool>>,
    #[serde(default)]
    pub filter: Vec<Spanned<String>>,
}

// ----- errors -------------------------------------------------------------------------------

/// What is wrong with one piece of policy configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyErrorKind {
    #[error("unknown {what} `{name}`")]
    UnknownName { what: &'static str, name: String },
    #[error("{what} `{name}` is defined twice")]
    DuplicateName { what: &'static str, name: String },
    #[error("sequence {seq} is used twice in {what} `{name}`")]
    DuplicateSeq {
        what: &'static str,
        name: String,
        seq: u32,
    },
    #[error(transparent)]
    BadRegex(#[from] PatternError),
    #[error("{0}")]
    WrongFamily(String),
    #[error("{0}")]
    Invalid(String),
}

/// One problem, with the byte range of the configuration text it is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct PolicyError {
    pub span: Range<usize>,
    pub kind: PolicyErrorKind,
}

/// A problem located as `file:line:column`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocatedError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for LocatedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

impl PolicyError {
    /// Where the error is in `text` (the file `file` holds), lines and columns from 1.
    pub fn locate(&self, file: &str, text: &str) -> LocatedError {
        let before = &text[..self.span.start.min(text.len())];
        LocatedError {
            file: file.to_string(),
            line: before.matches('\n').count() + 1,
            column: before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
            message: self.kind.to_string(),
        }
    }
}

// ----- the compiled policy ------------------------------------------------------------------

/// Everything compiled, by name, ready for the speaker and redistribution to use.
#[derive(Clone, Debug)]
pub struct Policy {
    pub prefix_lists: BTreeMap<String, Arc<PrefixList>>,
    pub community_lists: BTreeMap<String, Arc<CommunityList>>,
    pub extcommunity_lists: BTreeMap<String, Arc<ExtCommunityList>>,
    pub large_community_lists: BTreeMap<String, Arc<LargeCommunityList>>,
    pub as_path_lists: BTreeMap<String, Arc<AsPathList>>,
    pub route_maps: BTreeMap<String, Arc<RouteMap>>,
    pub gated_export: GatedExport,
}

/// Parses policy TOML on its own (tests, tools) and compiles it; errors located in `file`.
pub fn parse(file: &str, text: &str) -> Result<Policy, Vec<LocatedError>> {
    let cfg: PolicyConfig = toml::from_str(text).map_err(|e| {
        let err = PolicyError {
            span: e.span().unwrap_or(0..0),
            kind: PolicyErrorKind::Invalid(e.message().trim_end().to_string()),
        };
        vec![err.locate(file, text)]
    })?;
    compile(&cfg).map_err(|errs| errs.iter().map(|e| e.locate(file, text)).collect())
}

/// Every problem of `cfg` (empty when it compiles).
pub fn validate(cfg: &PolicyConfig) -> Vec<PolicyError> {
    compile(cfg).err().unwrap_or_default()
}

/// Validates everything (all errors, sorted by position) and compiles; nothing is returned
/// half-built.
pub fn compile(cfg: &PolicyConfig) -> Result<Policy, Vec<PolicyError>> {
    let mut c = Compiler::default();
    let prefix_lists = c.prefix_lists(&cfg.prefix_list);
    let community_lists = c.community_lists(&cfg.community_list);
    let extcommunity_lists = c.ext_lists(&cfg.extcommunity_list);
    let large_community_lists = c.large_lists(&cfg.large_community_list);
    let as_path_lists = c.as_path_lists(&cfg.as_path_list);
    let lists = Lists {
        prefix: &prefix_lists,
        community: &community_lists,
        ext: &extcommunity_lists,
        large: &large_community_lists,
        as_path: &as_path_lists,
    };
    let route_maps = c.route_maps(&cfg.route_map, &lists);
    let gated_export = c.gated(&cfg.gated_export);
    if !c.errors.is_empty() {
        c.errors.sort_by_key(|e| (e.span.start, e.span.end));
        return Err(c.errors);
    }
    Ok(Policy {
        prefix_lists,
        community_lists,
        extcommunity_lists,
        large_community_lists,
        as_path_lists,
        route_maps,
        gated_export,
    })
}

struct Lists<'a> {
    prefix: &'a BTreeMap<String, Arc<PrefixList>>,
    community: &'a BTreeMap<String, Arc<CommunityList>>,
    ext: &'a BTreeMap<String, Arc<ExtCommunityList>>,
    large: &'a BTreeMap<String, Arc<LargeCommunityList>>,
    as_path: &'a BTreeMap<String, Arc<AsPathList>>,
}

#[derive(Default)]
struct Compiler {
    errors: Vec<PolicyError>,
}

fn span<T>(s: &Spanned<T>) -> Range<usize> {
    s.span()
}

impl Compiler {
    fn err(&mut self, span: Range<usize>, kind: PolicyErrorKind) {
        self.errors.push(PolicyError { span, kind });
    }
    fn invalid(&mut self, span: Range<usize>, msg: impl Into<String>) {
        self.err(span, PolicyErrorKind::Invalid(msg.into()));
    }

    /// Records the name; false (and an error) if it was seen before.
    fn fresh_name(
        &mut self,
        seen: &mut BTreeSet<String>,
        name: &Spanned<String>,
        what: &'static str,
    ) -> bool {
        let n = name.get_ref();
        if n.is_empty() || n.chars().any(char::is_whitespace) {
            self.invalid(
                span(name),
                format!("{what} name `{n}` must be non-empty and have no spaces"),
            );
            return false;
        }
        if !seen.insert(n.clone()) {
            self.err(
                span(name),
                PolicyErrorKind::DuplicateName {
                    what,
                    name: n.clone(),
                },
            );
            return false;
        }
        true
    }

    fn parse<T, E: fmt::Display>(
        &mut self,
        s: &Spanned<String>,
        f: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        match f(s.get_ref()) {
            Ok(v) => Some(v),
            Err(e) => {
                self.invalid(span(s), e.to_string());
                None
            }
        }
    }

    fn regex<T>(
        &mut self,
        s: &Spanned<String>,
        f: impl FnOnce(&str) -> Result<T, PatternError>,
    ) -> Option<T> {
        match f(s.get_ref()) {
            Ok(v) => Some(v),
            Err(e) => {
                self.err(span(s), PolicyErrorKind::BadRegex(e));
                None
            }
        }
    }

    // ----- lists ------------------------------------------------------------------------

    fn prefix_lists(&mut self, raw: &[PrefixListConfig]) -> BTreeMap<String, Arc<PrefixList>> {
        let mut seen = BTreeSet::new();
        let mut out = BTreeMap::new();
        for l in raw {
            if !self.fresh_name(&mut seen, &l.name, "prefix-list") {
                continue;
            }
            let name = l.name.get_ref().clone();
            let mut entries = Vec::new();
            let mut seqs = BTreeSet::new();
            let mut last_seq = 0u32;
            let mut family: Option<Family> = None;
            for e in &l.entry {
                let seq = match &e.seq {
                    Some(s) => *s.get_ref(),
                    None => last_seq.saturating_add(5),
                };
                last_seq = seq;
                if !seqs.insert(seq) {
                    let at = e.seq.as_ref().map_or(span(&e.prefix), span);
                    self.err(
                        at,
                        PolicyErrorKind::DuplicateSeq {
                            what: "prefix-list",
                            name: name.clone(),
                            seq,
                        },
                    );
                    continue;
                }
                let Some(prefix) = self.parse(&e.prefix, |t| {
                    t.parse::<IpNet>().map_err(|_| {
                        format!("`{t}` is not a prefix (e.g. 10.0.0.0/8 or 2001:db8::/32)")
                    })
                }) else {
                    continue;
                };
                let f = Family::of(&prefix);
                match family {
                    None => family = Some(f),
                    Some(first) if first != f => {
                        self.err(
                            span(&e.prefix),
                            PolicyErrorKind::WrongFamily(format!(
                                "prefix-list `{name}` is {} but {prefix} is {} (one family per list, as IOS `ip`/`ipv6 prefix-list`)",
                                first.keyword(),
                                f.keyword()
                            )),
                        );
                        continue;
                    }
                    _ => {}
                }
                let ge = e.ge.as_ref().map(|g| *g.get_ref());
                let le = e.le.as_ref().map(|g| *g.get_ref());
                match PrefixListEntry::ios(seq, (*e.action.get_ref()).into(), prefix, ge, le) {
                    Ok(entry) => entries.push(entry),
                    Err(err) => {
                        let at = match &err {
                            crate::lists::PrefixRangeError::HostBits { .. } => span(&e.prefix),
                            crate::lists::PrefixRangeError::LeTooShort { .. } => {
                                e.le.as_ref().map_or(span(&e.prefix), span)
                            }
                            _ => {
                                e.ge.as_ref()
                                    .or(e.le.as_ref())
                                    .map_or(span(&e.prefix), span)
                            }
                        };
                        self.invalid(at, err.to_string());
                    }
                }
            }
            out.insert(name.clone(), Arc::new(PrefixList::new(name, entries)));
        }
        out
    }

    /// The entry shape shared by the three community-style lists: a standard entry lists
    /// values (`key`), an expanded one has a `regex`.
    #[allow(clippy::too_many_arguments)]
    fn set_entry<T: Ord + Clone + fmt::Display>(
        &mut self,
        list_type: ListType,
        action: &Spanned<ActionConfig>,
        values: Vec<T>,
        internet: bool,
        has_values: bool,
        regex: &Option<Spanned<String>>,
        what: &str,
        key: &str,
    ) -> Option<SetListEntry<T>> {
        let act: Action = (*action.get_ref()).into();
        match (list_type, regex) {
            (ListType::Standard, Some(r)) => {
                self.invalid(
                    span(r),
                    format!(
                        "a standard {what} entry lists values; `regex` needs `type = \"expanded\"`"
                    ),
                );
                None
            }
            (ListType::Standard, None) => {
                if !has_values {
                    self.invalid(
                        span(action),
                        format!("this {what} entry needs `{key} = [...]`"),
                    );
                    return None;
                }
                Some(SetListEntry {
                    action: act,
                    matcher: SetMatcher::standard(values, internet),
                })
            }
            (ListType::Expanded, Some(r)) => {
                if has_values {
                    self.invalid(
                        span(r),
                        format!("an expanded {what} entry has a `regex` and no `{key}`"),
                    );
                }
                self.regex(r, SetMatcher::expanded)
                    .map(|matcher| SetListEntry {
                        action: act,
                        matcher,
                    })
            }
            (ListType::Expanded, None) => {
                self.invalid(
                    span(action),
                    format!("this expanded {what} entry needs `regex = \"...\"`"),
                );
                None
            }
        }
    }

    fn community_lists(
        &mut self,
        raw: &[CommunityListConfig],
    ) -> BTreeMap<String, Arc<CommunityList>> {
        let mut seen = BTreeSet::new();
        let mut out = BTreeMap::new();
        for l in raw {
            if !self.fresh_name(&mut seen, &l.name, "community-list") {
                continue;
            }
            let mut entries = Vec::new();
            for e in &l.entry {
                let mut values = Vec::new();
                let mut internet = false;
                for v in &e.communities {
                    if v.get_ref().eq_ignore_ascii_case("internet") {
                        internet = true;
                    } else if let Some(c) = self.parse(v, |t| t.parse::<Community>()) {
                        values.push(c);
                    }
                }
                if let Some(entry) = self.set_entry(
                    l.list_type,
                    &e.action,
                    values,
                    internet,
                    !e.communities.is_empty(),
                    &e.regex,
                    "community-list",
                    "communities",
                ) {
                    entries.push(entry);
                }
            }
            let name = l.name.get_ref().clone();
            out.insert(name.clone(), Arc::new(SetList::new(name, entries)));
        }
        out
    }

    fn ext_lists(
        &mut self,
        raw: &[ExtCommunityListConfig],
    ) -> BTreeMap<String, Arc<ExtCommunityList>> {
        let mut seen = BTreeSet::new();
        let mut out = BTreeMap::new();
        for l in raw {
            if !self.fresh_name(&mut seen, &l.name, "extcommunity-list") {
                continue;
            }
            let mut entries = Vec::new();
            for e in &l.entry {
                let mut values = Vec::new();
                for v in &e.rt {
                    if let Some(rt) = self.parse(v, |t| t.parse::<RouteTarget>()) {
                        values.push(ExtCommunity::route_target(rt));
                    }
                }
                for v in &e.soo {
                    if let Some(rt) = self.parse(v, |t| t.parse::<RouteTarget>()) {
                        values.push(ExtCommunity::site_of_origin(rt.0));
                    }
                }
                let has = !e.rt.is_empty() || !e.soo.is_empty();
                if let Some(entry) = self.set_entry(
                    l.list_type,
                    &e.action,
                    values,
                    false,
                    has,
                    &e.regex,
                    "extcommunity-list",
                    "rt",
                ) {
                    entries.push(entry);
                }
            }
            let name = l.name.get_ref().clone();
            out.insert(name.clone(), Arc::new(SetList::new(name, entries)));
        }
        out
    }

    fn large_lists(
        &mut self,
        raw: &[LargeCommunityListConfig],
    ) -> BTreeMap<String, Arc<LargeCommunityList>> {
        let mut seen = BTreeSet::new();
        let mut out = BTreeMap::new();
        for l in raw {
            if !self.fresh_name(&mut seen, &l.name, "large-community-list") {
                continue;
            }
            let mut entries = Vec::new();
            for e in &l.entry {
                let mut values = Vec::new();
                for v in &e.communities {
                    if let Some(c) = self.parse(v, |t| t.parse::<LargeCommunity>()) {
                        values.push(c);
                    }
                }
                if let Some(entry) = self.set_entry(
                    l.list_type,
                    &e.action,
                    values,
                    false,
                    !e.communities.is_empty(),
                    &e.regex,
                    "large-community-list",
                    "communities",
                ) {
                    entries.push(entry);
                }
            }
            let name = l.name.get_ref().clone();
            out.insert(name.clone(), Arc::new(SetList::new(name, entries)));
        }
        out
    }

    fn as_path_lists(&mut self, raw: &[AsPathListConfig]) -> BTreeMap<String, Arc<AsPathList>> {
        let mut seen = BTreeSet::new();
        let mut out = BTreeMap::new();
        for l in raw {
            if !self.fresh_name(&mut seen, &l.name, "as-path-list") {
                continue;
            }
            let mut entries = Vec::new();
            for e in &l.entry {
                if let Some(regex) = self.regex(&e.regex, AsPathRegex::ios) {
                    entries.push(AsPathEntry {
                        action: (*e.action.get_ref()).into(),
                        regex,
                    });
                }
            }
            let name = l.name.get_ref().clone();
            out.insert(name.clone(), Arc::new(AsPathList::new(name, entries)));
        }
        out
    }

    // ----- route-maps -------------------------------------------------------------------

    fn resolve<T>(
        &mut self,
        names: &[Spanned<String>],
        table: &BTreeMap<String, Arc<T>>,
        what: &'static str,
    ) -> Vec<Arc<T>> {
        let mut out = Vec::new();
        for n in names {
            match table.get(n.get_ref()) {
                Some(l) => out.push(l.clone()),
                None => self.err(
                    span(n),
                    PolicyErrorKind::UnknownName {
                        what,
                        name: n.get_ref().clone(),
                    },
                ),
            }
        }
        out
    }

    fn route_maps(
        &mut self,
        raw: &[RouteMapConfig],
        lists: &Lists<'_>,
    ) -> BTreeMap<String, Arc<RouteMap>> {
        let mut seen = BTreeSet::new();
        let mut out = BTreeMap::new();
        for m in raw {
            if !self.fresh_name(&mut seen, &m.name, "route-map") {
                continue;
            }
            let name = m.name.get_ref().clone();
            let declared: Option<Family> = m.family.as_ref().map(|f| (*f.get_ref()).into());
            let seq_numbers: BTreeSet<u32> = m.entry.iter().map(|e| *e.seq.get_ref()).collect();
            let mut seen_seq = BTreeSet::new();
            let mut sequences = Vec::new();
            for e in &m.entry {
                let seq = *e.seq.get_ref();
                if !seen_seq.insert(seq) {
                    self.err(
                        span(&e.seq),
                        PolicyErrorKind::DuplicateSeq {
                            what: "route-map",
                            name: name.clone(),
                            seq,
                        },
                    );
                    continue;
                }
                let mut s = Sequence::new(seq, (*e.action.get_ref()).into());
                self.matches(&mut s, &e.matches, lists, declared, &name);
                self.sets(&mut s, &e.set, lists, declared, &name);
                if let Some(c) = &e.continue_to {
                    match *c.get_ref() {
                        ContinueConfig::Next(false) => {}
                        ContinueConfig::Next(true) => s.continue_to = Some(Continue::Next),
                        ContinueConfig::Seq(t) => {
                            if t <= seq {
                                self.invalid(
                                    span(c),
                                    format!(
                                        "`continue {t}` must go to a later sequence than {seq}"
                                    ),
                                );
                            } else if !seq_numbers.contains(&t) {
                                self.invalid(
                                    span(c),
                                    format!(
                                        "`continue {t}`: route-map `{name}` has no sequence {t}"
                                    ),
                                );
                            } else {
                                s.continue_to = Some(Continue::Seq(t));
                            }
                        }
                    }
                    if s.action == Action::Deny && s.continue_to.is_some() {
                        self.invalid(span(c), "`continue` on a deny sequence has no effect: a matching deny ends evaluation");
                    }
                }
                sequences.push(s);
            }
            match RouteMap::new(name.clone(), sequences) {
                Ok(map) => {
                    out.insert(name, Arc::new(map));
                }
                // Duplicates and continue targets were reported above with their location.
                Err(e) => self.invalid(span(&m.name), e.to_string()),
            }
        }
        out
    }

    fn matches(
        &mut self,
        s: &mut Sequence,
        m: &MatchConfig,
        lists: &Lists<'_>,
        declared: Option<Family>,
        map: &str,
    ) {
        if !m.tag.is_empty() {
            s.matches.push(Match::Tag(m.tag.clone()));
        }
        if !m.prefix_list.is_empty() {
            let pls = self.resolve(&m.prefix_list, lists.prefix, "prefix-list");
            if let Some(want) = declared {
                for (n, l) in m.prefix_list.iter().zip(&pls) {
                    if l.family().is_some_and(|f| f != want) {
                        self.err(
                            span(n),
                            PolicyErrorKind::WrongFamily(format!(
                                "route-map `{map}` is {} only but prefix-list `{}` is {}: this clause can never match",
                                want.keyword(),
                                l.name,
                                l.family().map_or("empty", Family::keyword)
                            )),
                        );
                    }
                }
            }
            s.matches.push(Match::PrefixList(pls));
        }
        if !m.next_hop_prefix_list.is_empty() {
            let pls = self.resolve(&m.next_hop_prefix_list, lists.prefix, "prefix-list");
            s.matches.push(Match::NextHop(pls));
        }
        if !m.community.is_empty() {
            let cls = self.resolve(&m.community, lists.community, "community-list");
            s.matches.push(Match::Community {
                lists: cls,
                exact: m.community_exact_match,
            });
        }
        if !m.extcommunity.is_empty() {
            let l = self.resolve(&m.extcommunity, lists.ext, "extcommunity-list");
            s.matches.push(Match::ExtCommunity(l));
        }
        if !m.large_community.is_empty() {
            let l = self.resolve(&m.large_community, lists.large, "large-community-list");
            s.matches.push(Match::LargeCommunity(l));
        }
        if !m.as_path.is_empty() {
            let l = self.resolve(&m.as_path, lists.as_path, "as-path-list");
            s.matches.push(Match::AsPath(l));
        }
        if !m.origin.is_empty() {
            s.matches.push(Match::Origin(
                m.origin.iter().map(|o| (*o).into()).collect(),
            ));
        }
        match (m.metric, &m.metric_deviation) {
            (Some(value), dev) => s.matches.push(Match::Metric {
                value,
                deviation: dev.as_ref().map_or(0, |d| *d.get_ref()),
            }),
            (None, Some(d)) => self.invalid(span(d), "`metric-deviation` needs `metric`"),
            (None, None) => {}
        }
        if !m.source_protocol.is_empty() {
            s.matches.push(Match::SourceProtocol(
                m.source_protocol.iter().map(|p| (*p).into()).collect(),
            ));
        }
        if !m.route_type.is_empty() {
            s.matches.push(Match::RouteType(
                m.route_type.iter().map(|t| (*t).into()).collect(),
            ));
        }
    }

    fn sets(
        &mut self,
        s: &mut Sequence,
        c: &SetConfig,
        lists: &Lists<'_>,
        declared: Option<Family>,
        map: &str,
    ) {
        let on = |b: &Option<Spanned<bool>>| b.as_ref().is_some_and(|b| *b.get_ref());
        // Standard communities.
        if let Some(d) = &c.comm_list_delete {
            if let Some(l) = self
                .resolve(std::slice::from_ref(d), lists.community, "community-list")
                .pop()
            {
                s.sets.push(Set::CommListDelete(l));
            }
        }
        match (&c.community, on(&c.community_none)) {
            (Some(v), true) => self.invalid(
                span(v),
                "`community` and `community-none` exclude each other",
            ),
            (Some(v), false) => {
                let mut values = Vec::new();
                for x in v.get_ref() {
                    if let Some(cv) = self.parse(x, |t| t.parse::<Community>()) {
                        values.push(cv);
                    }
                }
                if values.is_empty() && v.get_ref().is_empty() {
                    self.invalid(
                        span(v),
                        "`community = []` sets nothing; use `community-none = true` to remove all",
                    );
                }
                s.sets.push(Set::Community {
                    values,
                    additive: on(&c.community_additive),
                });
            }
            (None, true) => s.sets.push(Set::CommunityNone),
            (None, false) => {}
        }
        if let (None, Some(a)) = (&c.community, &c.community_additive) {
            self.invalid(span(a), "`community-additive` needs `community = [...]`");
        }
        // Extended communities.
        if let Some(v) = &c.extcommunity_rt {
            let mut rts = Vec::new();
            for x in v.get_ref() {
                if let Some(rt) = self.parse(x, |t| t.parse::<RouteTarget>()) {
                    rts.push(rt);
                }
            }
            if v.get_ref().is_empty() {
                self.invalid(span(v), "`extcommunity-rt = []` sets no route target");
            }
            s.sets.push(Set::ExtCommunityRt {
                rts,
                additive: on(&c.extcommunity_rt_additive),
            });
        } else if let Some(a) = &c.extcommunity_rt_additive {
            self.invalid(
                span(a),
                "`extcommunity-rt-additive` needs `extcommunity-rt = [...]`",
            );
        }
        if let Some(v) = &c.extcommunity_soo {
            if let Some(rt) = self.parse(v, |t| t.parse::<RouteTarget>()) {
                s.sets.push(Set::ExtCommunitySoo(rt.0));
            }
        }
        // Large communities.
        match (&c.large_community, on(&c.large_community_none)) {
            (Some(v), true) => self.invalid(
                span(v),
                "`large-community` and `large-community-none` exclude each other",
            ),
            (Some(v), false) => {
                let mut values = Vec::new();
                for x in v.get_ref() {
                    if let Some(l) = self.parse(x, |t| t.parse::<LargeCommunity>()) {
                        values.push(l);
                    }
                }
                if v.get_ref().is_empty() {
                    self.invalid(
                        span(v),
                        "`large-community = []` sets nothing; use `large-community-none = true`",
                    );
                }
                s.sets.push(Set::LargeCommunity {
                    values,
                    additive: on(&c.large_community_additive),
                });
            }
            (None, true) => s.sets.push(Set::LargeCommunityNone),
            (None, false) => {}
        }
        if let (None, Some(a)) = (&c.large_community, &c.large_community_additive) {
            self.invalid(
                span(a),
                "`large-community-additive` needs `large-community = [...]`",
            );
        }
        if let Some(v) = c.local_preference {
            s.sets.push(Set::LocalPref(v));
        }
        if let Some(m) = &c.metric {
            let set = match m.get_ref() {
                MetricConfig::Absolute(v) => Some(MetricSet::Absolute(*v)),
                MetricConfig::Relative(t) => parse_relative_metric(t),
            };
            match set {
                Some(set) => s.sets.push(Set::Metric(set)),
                None => self.invalid(
                    span(m),
                    "`metric` is a number, or a string \"+N\" / \"-N\" relative to the route's MED",
                ),
            }
        }
        if let Some(w) = c.weight {
            s.sets.push(Set::Weight(w));
        }
        if let Some(p) = &c.as_path_prepend {
            if p.get_ref().is_empty() {
                self.invalid(span(p), "`as-path-prepend = []` prepends nothing");
            } else {
                s.sets.push(Set::AsPathPrepend(p.get_ref().clone()));
            }
        }
        if let Some(n) = &c.as_path_prepend_last_as {
            if !(1..=10).contains(n.get_ref()) {
                self.invalid(span(n), "`as-path-prepend-last-as` is 1..=10, as in IOS");
            } else {
                s.sets.push(Set::AsPathPrependLastAs(*n.get_ref()));
            }
        }
        if let Some(nh) = &c.next_hop {
            let parsed = if nh.get_ref() == "self" {
                Some(NextHop::SelfAddress)
            } else {
                self.parse(nh, |t| {
                    t.parse::<IpAddr>()
                        .map(NextHop::Addr)
                        .map_err(|_| format!("next hop `{t}` is neither an IP address nor `self`"))
                })
            };
            if let Some(parsed) = parsed {
                if let NextHop::Addr(ip) = parsed {
                    self.check_next_hop_family(nh, ip, s, declared, map);
                }
                s.sets.push(Set::NextHop(parsed));
            }
        }
        if let Some(o) = c.origin {
            s.sets.push(Set::Origin(o.into()));
        }
        if let Some(t) = c.tag {
            s.sets.push(Set::Tag(t));
        }
    }

    /// A next hop of the other family than every route the sequence can see makes no sense.
    fn check_next_hop_family(
        &mut self,
        nh: &Spanned<String>,
        ip: IpAddr,
        s: &Sequence,
        declared: Option<Family>,
        map: &str,
    ) {
        let fam = Family::of_addr(&ip);
        if let Some(want) = declared {
            if want != fam {
                self.err(
                    span(nh),
                    PolicyErrorKind::WrongFamily(format!(
                        "{} next hop {ip} in route-map `{map}`, which is {} only",
                        fam.keyword(),
                        want.keyword()
                    )),
                );
            }
            return;
        }
        // Undeclared map: the sequence's prefix-list clause (if any) tells its family.
        let families: BTreeSet<Family> = s
            .matches
            .iter()
            .filter_map(|m| match m {
                Match::PrefixList(ls) => {
                    Some(ls.iter().filter_map(|l| l.family()).collect::<Vec<_>>())
                }
                _ => None,
            })
            .flatten()
            .collect();
        if families.len() == 1 && !families.contains(&fam) {
            let only = families.iter().next().map_or("", |f| f.keyword());
            self.err(
                span(nh),
                PolicyErrorKind::WrongFamily(format!(
                    "{} next hop {ip} in sequence {} of route-map `{map}`, which only matches {only} prefixes",
                    fam.keyword(),
                    s.seq
                )),
            );
        }
    }

    // ----- GateD ------------------------------------------------------------------------

    fn gated(&mut self, raw: &[GatedExportConfig]) -> GatedExport {
        let mut stmts = Vec::new();
        for d in raw {
            if !d.proto.get_ref().eq_ignore_ascii_case("bgp") {
                self.invalid(
                    span(&d.proto),
                    format!(
                        "`export proto {}`: p4vrf exports only to BGP (`proto = \"bgp\"`)",
                        d.proto.get_ref()
                    ),
                );
                continue;
            }
            let dest_as = *d.dest_as.get_ref();
            let restrict = d.restrict.as_ref().filter(|r| *r.get_ref());
            if let Some(r) = restrict {
                if !d.source.is_empty() || d.metric.is_some() {
                    self.invalid(span(r), "a destination with `restrict` exports nothing: it takes no `metric` and no sources");
                }
                stmts.push(ExportStatement {
                    dest_as,
                    body: DestBody::Restrict,
                });
                continue;
            }
            let mut sources = Vec::new();
            for s in &d.source {
                if let Some(src) = self.gated_source(s) {
                    sources.push(src);
                }
            }
            stmts.push(ExportStatement {
                dest_as,
                body: DestBody::Export {
                    metric: d.metric.as_ref().map(|m| *m.get_ref()),
                    sources,
                },
            });
        }
        GatedExport::compile(&stmts)
    }

    fn gated_source(&mut self, s: &GatedSourceConfig) -> Option<Source> {
        let proto_text = s.proto.get_ref().to_ascii_lowercase();
        let proto = match proto_text.as_str() {
            "all" => None,
            "direct" => Some(GatedProto::Direct),
            "static" => Some(GatedProto::Static),
            "aggregate" => Some(GatedProto::Aggregate),
            "bgp" => Some(GatedProto::Bgp),
            other => {
                self.invalid(span(&s.proto), format!("unknown source `proto {other}`: expected direct, static, aggregate, bgp or all"));
                return None;
            }
        };
        let criteria = match (&s.peer_as, &s.aspath, &s.tag) {
            (Some(a), None, None) => {
                if proto != Some(GatedProto::Bgp) {
                    self.invalid(
                        span(a),
                        "`as` selects BGP routes by neighbor AS: only with `proto = \"bgp\"`",
                    );
                    return None;
                }
                SourceCriteria::BgpAs(*a.get_ref())
            }
            (None, Some(re), None) => {
                let regex = self.regex(re, AsPathRegex::gated)?;
                let origins = match &s.origin {
                    None => vec![Origin::Igp, Origin::Egp, Origin::Incomplete],
                    Some(o) => self.gated_origins(o)?,
                };
                SourceCriteria::AsPath {
                    proto,
                    regex: Arc::new(regex),
                    origins,
                }
            }
            (None, None, Some(t)) => SourceCriteria::Tag {
                proto,
                tag: *t.get_ref(),
            },
            (None, None, None) => match proto {
                Some(p) => SourceCriteria::Proto(p),
                None => {
                    self.invalid(span(&s.proto), "`proto = \"all\"` needs `aspath` or `tag`");
                    return None;
                }
            },
            _ => {
                self.invalid(
                    span(&s.proto),
                    "a source selects by one of `as`, `aspath` or `tag`",
                );
                return None;
            }
        };
        if let (Some(o), None) = (&s.origin, &s.aspath) {
            self.invalid(span(o), "`origin` belongs to an `aspath` source");
        }
        if let Some(r) = s.restrict.as_ref().filter(|r| *r.get_ref()) {
            if !s.filter.is_empty() || s.metric.is_some() {
                self.invalid(
                    span(r),
                    "a source with `restrict` exports nothing: it takes no `metric` and no filters",
                );
            }
            return Some(Source {
                criteria,
                body: SourceBody::Restrict,
            });
        }
        let mut filters = Vec::new();
        let mut keys = BTreeSet::new();
        for f in &s.filter {
            let Some(parsed) = self.parse(f, gated::parse_filter) else {
                continue;
            };
            if !keys.insert(format!("{:?}", gated::duplicate_key(&parsed))) {
                self.invalid(span(f), format!("route filter `{}` duplicates an earlier one (same network, mask and modifier)", f.get_ref()));
                continue;
            }
            filters.push(parsed);
        }
        Some(Source {
            criteria,
            body: SourceBody::Export {
                metric: s.metric.as_ref().map(|m| *m.get_ref()),
                filters,
            },
        })
    }

    fn gated_origins(&mut self, o: &Spanned<GatedOriginConfig>) -> Option<Vec<Origin>> {
        let words: Vec<String> = match o.get_ref() {
            GatedOriginConfig::One(w) => vec![w.clone()],
            GatedOriginConfig::Many(ws) => ws.clone(),
        };
        let mut out = Vec::new();
        for w in &words {
            match w.to_ascii_lowercase().as_str() {
                "any" if words.len() == 1 => {
                    return Some(vec![Origin::Igp, Origin::Egp, Origin::Incomplete])
                }
                "igp" => out.push(Origin::Igp),
                "egp" => out.push(Origin::Egp),
                "incomplete" => out.push(Origin::Incomplete),
                other => {
                    self.invalid(
                        span(o),
                        format!(
                            "origin `{other}`: expected `any` or a list of igp, egp, incomplete"
                        ),
                    );
                    return None;
                }
            }
        }
        if out.is_empty() {
            self.invalid(span(o), "`origin = []` matches nothing; use \"any\"");
            return None;
        }
        Some(out)
    }
}

fn parse_relative_metric(t: &str) -> Option<MetricSet> {
    let t = t.trim();
    if let Some(n) = t.strip_prefix('+') {
        n.parse().ok().map(MetricSet::Add)
    } else if let Some(n) = t.strip_prefix('-') {
        n.parse().ok().map(MetricSet::Subtract)
    } else {
        t.parse().ok().map(MetricSet::Absolute)
    }
}

#[cfg(test)]
mod tests;
