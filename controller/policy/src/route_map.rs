//! Route-maps with IOS semantics.
//!
//! * Sequences are tried in ascending sequence number; the **first** whose match clauses all
//!   hold decides. A clause naming several lists holds if any of them permits the route.
//!   A sequence with no match clause matches every route.
//! * `deny` ends evaluation: the route is refused. `permit` applies the sequence's `set`s
//!   and ends evaluation — unless it has `continue [N]`, in which case evaluation goes on at
//!   sequence N (or the next one); the sets of every permit sequence that matched along the
//!   way accumulate, in order. A later matching `deny` still refuses the route.
//! * As in IOS, matches are always judged on the route as it came in (IOS saves the sets and
//!   applies them after evaluation), so an earlier `set` never changes what a later `match`
//!   sees.
//! * No matching sequence: the implicit deny at the end of every route-map.
//!
//! Evaluation is `&self`; hit counters go into a caller-owned [`RouteMapStats`], so one
//! compiled map can be shared by threads that each keep (and later merge) their own counts.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use ipnet::IpNet;
use vpn_types::{AdminValue, RouteTarget};

use crate::community::{Community, ExtCommunity, LargeCommunity};
use crate::lists::{
    next_bit, Action, AsPathList, CandidateIndex, CommunityList, ExtCommunityList, Key,
    LargeCommunityList, PrefixList, INDEX_MAX_SEQUENCES,
};
use crate::pattern::AsPathRegex;
use crate::route::{
    AsPath, Attrs, Communities, LargeCommunities, NextHop, Origin, Route, RouteType, SourceProtocol,
};

/// One `match` clause.
#[derive(Clone, Debug)]
pub enum Match {
    /// `match tag N …`
    Tag(Vec<u32>),
    /// `match source-protocol …`
    SourceProtocol(Vec<SourceProtocol>),
    /// `match route-type …`
    RouteType(Vec<RouteType>),
    /// `match origin …`
    Origin(Vec<Origin>),
    /// `match metric N [+- D]`: MED within `value ± deviation` (absent MED counts as 0).
    Metric { value: u32, deviation: u32 },
    /// The AS of the neighbor the route came from (GateD `proto bgp as N`).
    PeerAs(Vec<u32>),
    /// `match ip address prefix-list …` / `match ipv6 address prefix-list …`
    PrefixList(Vec<Arc<PrefixList>>),
    /// `match ip next-hop prefix-list …`: the next hop as a host prefix.
    NextHop(Vec<Arc<PrefixList>>),
    /// `match community … [exact-match]`
    Community {
        lists: Vec<Arc<CommunityList>>,
        exact: bool,
    },
    /// `match extcommunity …`
    ExtCommunity(Vec<Arc<ExtCommunityList>>),
    /// `match large-community …`
    LargeCommunity(Vec<Arc<LargeCommunityList>>),
    /// `match as-path …`
    AsPath(Vec<Arc<AsPathList>>),
    /// GateD `aspath REGEX origin …`: routes not learned by BGP count as an empty path with
    /// origin IGP, as GateD assigns them.
    GatedAsPath {
        regex: Arc<AsPathRegex>,
        origins: Vec<Origin>,
    },
}

/// A copy of a shared list whose regexes get their own match caches (see [`RouteMap::fork`]).
fn deep<T: Clone>(l: &Arc<T>) -> Arc<T> {
    Arc::new(T::clone(l))
}

impl Match {
    fn fork(&self) -> Match {
        match self {
            Match::Community { lists, exact } => Match::Community {
                lists: lists.iter().map(deep).collect(),
                exact: *exact,
            },
            Match::ExtCommunity(ls) => Match::ExtCommunity(ls.iter().map(deep).collect()),
            Match::LargeCommunity(ls) => Match::LargeCommunity(ls.iter().map(deep).collect()),
            Match::AsPath(ls) => Match::AsPath(ls.iter().map(deep).collect()),
            Match::GatedAsPath { regex, origins } => Match::GatedAsPath {
                regex: deep(regex),
                origins: origins.clone(),
            },
            other => other.clone(),
        }
    }

    /// Rough cost, so cheap clauses run first and expensive ones (regexes) are often skipped.
    fn cost(&self) -> u8 {
        match self {
            Match::Tag(_)
            | Match::SourceProtocol(_)
            | Match::RouteType(_)
            | Match::Origin(_)
            | Match::Metric { .. }
            | Match::PeerAs(_) => 0,
            Match::PrefixList(_) | Match::NextHop(_) => 1,
            Match::Community { .. } | Match::ExtCommunity(_) | Match::LargeCommunity(_) => 2,
            Match::AsPath(_) | Match::GatedAsPath { .. } => 3,
        }
    }

    pub fn holds(&self, route: &Route) -> bool {
        self.holds_keyed(route, &Key::of(&route.prefix))
    }

    /// [`Match::holds`] with the route prefix's key computed once per evaluation.
    #[inline]
    fn holds_keyed(&self, route: &Route, key: &Key) -> bool {
        let a = &route.attrs;
        match self {
            Match::Tag(tags) => tags.contains(&a.tag),
            Match::SourceProtocol(ps) => ps.contains(&a.source),
            Match::RouteType(ts) => ts.contains(&a.route_type),
            Match::Origin(os) => os.contains(&a.origin),
            Match::Metric { value, deviation } => a.med.unwrap_or(0).abs_diff(*value) <= *deviation,
            Match::PeerAs(asns) => a.peer_as.is_some_and(|p| asns.contains(&p)),
            Match::PrefixList(lists) => lists.iter().any(|l| l.permits_key(key)),
            Match::NextHop(lists) => match a.next_hop {
                NextHop::Addr(ip) => {
                    let host = IpNet::from(ip);
                    lists.iter().any(|l| l.permits(&host))
                }
                _ => false,
            },
            Match::Community { lists, exact } => {
                lists.iter().any(|l| l.permits(&a.communities, *exact))
            }
            Match::ExtCommunity(lists) => {
                lists.iter().any(|l| l.permits(&a.ext_communities, false))
            }
            Match::LargeCommunity(lists) => {
                lists.iter().any(|l| l.permits(&a.large_communities, false))
            }
            Match::AsPath(lists) => lists.iter().any(|l| l.permits(&a.as_path)),
            Match::GatedAsPath { regex, origins } => {
                if a.source == SourceProtocol::Bgp {
                    origins.contains(&a.origin) && regex.is_match(&a.as_path)
                } else {
                    origins.contains(&Origin::Igp) && regex.is_match(&AsPath::default())
                }
            }
        }
    }
}

/// `set metric`: absolute, or relative to the route's MED (absent = 0), saturating.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MetricSet {
    Absolute(u32),
    Add(u32),
    Subtract(u32),
}

/// One `set` clause.
#[derive(Clone, Debug)]
pub enum Set {
    /// `set comm-list NAME delete`
    CommListDelete(Arc<CommunityList>),
    /// `set community VALUES [additive]`
    Community {
        values: Vec<Community>,
        additive: bool,
    },
    /// `set community none`
    CommunityNone,
    /// `set extcommunity rt VALUES [additive]`: without `additive` the route's route targets
    /// are replaced (its other extended communities stay).
    ExtCommunityRt {
        rts: Vec<RouteTarget>,
        additive: bool,
    },
    /// `set extcommunity soo VALUE`: replaces any site of origin.
    ExtCommunitySoo(AdminValue),
    /// `set large-community VALUES [additive]`
    LargeCommunity {
        values: Vec<LargeCommunity>,
        additive: bool,
    },
    /// `set large-community none`
    LargeCommunityNone,
    /// `set local-preference N`
    LocalPref(u32),
    /// `set metric [+|-]N`
    Metric(MetricSet),
    /// `set weight N`
    Weight(u32),
    /// `set as-path prepend ASN…`
    AsPathPrepend(Vec<u32>),
    /// `set as-path prepend last-as N`: the leftmost AS, N more times.
    AsPathPrependLastAs(u8),
    /// `set ip next-hop ADDR` / `set ip next-hop self`
    NextHop(NextHop),
    /// `set origin …`
    Origin(Origin),
    /// `set tag N`
    Tag(u32),
}

impl Set {
    /// IOS applies deletions before additions (`set comm-list delete` before `set community`);
    /// the rest in a fixed order so a map's effect never depends on how it was written.
    fn order(&self) -> u8 {
        match self {
            Set::CommListDelete(_) => 0,
            Set::Community { .. } | Set::CommunityNone => 1,
            Set::ExtCommunityRt { .. } => 2,
            Set::ExtCommunitySoo(_) => 3,
            Set::LargeCommunity { .. } | Set::LargeCommunityNone => 4,
            Set::LocalPref(_) => 5,
            Set::Metric(_) => 6,
            Set::Weight(_) => 7,
            Set::AsPathPrepend(_) => 8,
            Set::AsPathPrependLastAs(_) => 9,
            Set::NextHop(_) => 10,
            Set::Origin(_) => 11,
            Set::Tag(_) => 12,
        }
    }

    fn apply(&self, a: &mut Attrs) {
        match self {
            Set::CommListDelete(list) => a.communities = list.delete_from(&a.communities),
            Set::Community { values, additive } => {
                a.communities = if *additive {
                    a.communities.with(values.iter().copied())
                } else {
                    Communities::new(values.iter().copied())
                }
            }
            Set::CommunityNone => a.communities = Communities::default(),
            Set::ExtCommunityRt { rts, additive } => {
                let base = if *additive {
                    a.ext_communities.clone()
                } else {
                    a.ext_communities.without(|e| e.is_route_target())
                };
                a.ext_communities = base.with(rts.iter().map(|rt| ExtCommunity::route_target(*rt)));
            }
            Set::ExtCommunitySoo(soo) => {
                a.ext_communities = a
                    .ext_communities
                    .without(|e| e.as_site_of_origin().is_some())
                    .with([ExtCommunity::site_of_origin(*soo)]);
            }
            Set::LargeCommunity { values, additive } => {
                a.large_communities = if *additive {
                    a.large_communities.with(values.iter().copied())
                } else {
                    LargeCommunities::new(values.iter().copied())
                }
            }
            Set::LargeCommunityNone => a.large_communities = LargeCommunities::default(),
            Set::LocalPref(v) => a.local_pref = Some(*v),
            Set::Metric(m) => {
                let base = a.med.unwrap_or(0);
                a.med = Some(match m {
                    MetricSet::Absolute(v) => *v,
                    MetricSet::Add(v) => base.saturating_add(*v),
                    MetricSet::Subtract(v) => base.saturating_sub(*v),
                })
            }
            Set::Weight(w) => a.weight = *w,
            Set::AsPathPrepend(asns) => a.as_path = a.as_path.prepend(asns),
            Set::AsPathPrependLastAs(n) => {
                if let Some(first) = a.as_path.first_as() {
                    a.as_path = a.as_path.prepend(&vec![first; *n as usize]);
                }
            }
            Set::NextHop(nh) => a.next_hop = *nh,
            Set::Origin(o) => a.origin = *o,
            Set::Tag(t) => a.tag = *t,
        }
    }

    /// The address family a `set` only makes sense for, if any (a next-hop address).
    pub fn family(&self) -> Option<crate::lists::Family> {
        match self {
            Set::NextHop(NextHop::Addr(ip)) => Some(crate::lists::Family::of_addr(ip)),
            _ => None,
        }
    }
}

/// Where `continue` goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Continue {
    /// `continue`: the next sequence.
    Next,
    /// `continue N`: sequence N (must come later).
    Seq(u32),
}

/// One `route-map NAME permit|deny SEQ` block.
#[derive(Clone, Debug)]
pub struct Sequence {
    pub seq: u32,
    pub action: Action,
    pub matches: Vec<Match>,
    pub sets: Vec<Set>,
    pub continue_to: Option<Continue>,
}

impl Sequence {
    pub fn new(seq: u32, action: Action) -> Self {
        Sequence {
            seq,
            action,
            matches: Vec::new(),
            sets: Vec::new(),
            continue_to: None,
        }
    }
    pub fn matching(mut self, m: Match) -> Self {
        self.matches.push(m);
        self
    }
    pub fn setting(mut self, s: Set) -> Self {
        self.sets.push(s);
        self
    }
    pub fn continuing(mut self, c: Continue) -> Self {
        self.continue_to = Some(c);
        self
    }

    fn holds(&self, route: &Route, key: &Key) -> bool {
        self.matches.iter().all(|m| m.holds_keyed(route, key))
    }
}

/// Why a route-map could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteMapError {
    #[error("route-map `{map}`: sequence {seq} is used twice")]
    DuplicateSeq { map: String, seq: u32 },
    #[error("route-map `{map}`: sequence {seq} continues to {target}, which is not after it")]
    ContinueBackwards { map: String, seq: u32, target: u32 },
    #[error("route-map `{map}`: sequence {seq} continues to {target}, which does not exist")]
    ContinueMissing { map: String, seq: u32, target: u32 },
}

/// A compiled route-map, ready to evaluate.
#[derive(Clone, Debug)]
pub struct RouteMap {
    pub name: String,
    sequences: Vec<Sequence>,
    /// Per sequence: the index evaluation continues at, if it has `continue`.
    next: Vec<Option<usize>>,
    index: Option<CandidateIndex>,
}

/// Hit counters of one route-map (index = position in [`RouteMap::sequences`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteMapStats {
    pub hits: Vec<u64>,
    pub permitted: u64,
    /// Refused by a `deny` sequence.
    pub denied: u64,
    /// Refused because no sequence matched.
    pub implicit_denied: u64,
}

impl RouteMapStats {
    /// Adds another thread's counts into these.
    pub fn merge(&mut self, other: &RouteMapStats) {
        if self.hits.len() < other.hits.len() {
            self.hits.resize(other.hits.len(), 0);
        }
        for (a, b) in self.hits.iter_mut().zip(&other.hits) {
            *a += b;
        }
        self.permitted += other.permitted;
        self.denied += other.denied;
        self.implicit_denied += other.implicit_denied;
    }
}

/// The candidate index over the sequences' prefix-list clauses (the first such clause of each).
fn build_index(sequences: &[Sequence]) -> Option<CandidateIndex> {
    let clauses: Vec<Option<&[Arc<PrefixList>]>> = sequences
        .iter()
        .map(|s| {
            s.matches.iter().find_map(|m| match m {
                Match::PrefixList(ls) => Some(ls.as_slice()),
                _ => None,
            })
        })
        .collect();
    CandidateIndex::build(&clauses)
}

/// The outcome of a route-map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict<'r> {
    /// Permitted; borrowed when no `set` changed anything.
    Permit(Cow<'r, Route>),
    Deny,
}

impl Verdict<'_> {
    pub fn is_permit(&self) -> bool {
        matches!(self, Verdict::Permit(_))
    }
    pub fn into_route(self) -> Option<Route> {
        match self {
            Verdict::Permit(r) => Some(r.into_owned()),
            Verdict::Deny => None,
        }
    }
}

impl RouteMap {
    /// Sorts the sequences, checks sequence numbers and `continue` targets, and puts each
    /// sequence's cheap matches first.
    pub fn new(
        name: impl Into<String>,
        mut sequences: Vec<Sequence>,
    ) -> Result<Self, RouteMapError> {
        let name = name.into();
        sequences.sort_by_key(|s| s.seq);
        for w in sequences.windows(2) {
            if w[0].seq == w[1].seq {
                return Err(RouteMapError::DuplicateSeq {
                    map: name,
                    seq: w[0].seq,
                });
            }
        }
        let mut next = Vec::with_capacity(sequences.len());
        for (i, s) in sequences.iter().enumerate() {
            next.push(match s.continue_to {
                None => None,
                Some(Continue::Next) => Some(i + 1),
                Some(Continue::Seq(target)) => {
                    if target <= s.seq {
                        return Err(RouteMapError::ContinueBackwards {
                            map: name,
                            seq: s.seq,
                            target,
                        });
                    }
                    match sequences.iter().position(|t| t.seq == target) {
                        Some(j) => Some(j),
                        None => {
                            return Err(RouteMapError::ContinueMissing {
                                map: name,
                                seq: s.seq,
                                target,
                            })
                        }
                    }
                }
            });
        }
        for s in &mut sequences {
            s.matches.sort_by_key(Match::cost);
            s.sets.sort_by_key(Set::order);
        }
        let index = build_index(&sequences);
        Ok(RouteMap {
            name,
            sequences,
            next,
            index,
        })
    }

    pub fn sequences(&self) -> &[Sequence] {
        &self.sequences
    }

    /// A copy for another worker thread. A compiled regex keeps a pool of match caches with a
    /// fast path only for the first thread that used it; other threads share a locked slow
    /// path. Evaluating one map from several threads therefore contends, while each thread
    /// evaluating its own fork does not (the compiled automata themselves stay shared).
    pub fn fork(&self) -> RouteMap {
        let sequences = self
            .sequences
            .iter()
            .map(|s| Sequence {
                seq: s.seq,
                action: s.action,
                matches: s.matches.iter().map(Match::fork).collect(),
                sets: s
                    .sets
                    .iter()
                    .map(|set| match set {
                        Set::CommListDelete(l) => Set::CommListDelete(deep(l)),
                        other => other.clone(),
                    })
                    .collect(),
                continue_to: s.continue_to,
            })
            .collect();
        RouteMap {
            name: self.name.clone(),
            sequences,
            next: self.next.clone(),
            index: self.index.clone(),
        }
    }

    /// Zeroed counters sized for this map.
    pub fn new_stats(&self) -> RouteMapStats {
        RouteMapStats {
            hits: vec![0; self.sequences.len()],
            ..Default::default()
        }
    }

    /// Runs the route-map on `route`.
    pub fn evaluate<'r>(&self, route: &'r Route, stats: &mut RouteMapStats) -> Verdict<'r> {
        if stats.hits.len() < self.sequences.len() {
            stats.hits.resize(self.sequences.len(), 0);
        }
        let key = Key::of(&route.prefix);
        let mut bits = [0u64; INDEX_MAX_SEQUENCES / 64];
        let indexed = match &self.index {
            Some(ix) => {
                ix.candidates(&key, &mut bits);
                true
            }
            None => false,
        };
        let n = self.sequences.len();
        // The next sequence at or after `from` that the route may match.
        let next = |from: usize| -> Option<usize> {
            if indexed {
                next_bit(&bits, from).filter(|&i| i < n)
            } else {
                (from < n).then_some(from)
            }
        };
        let mut out: Option<Route> = None;
        let mut permitted = false;
        let mut at = next(0);
        while let Some(i) = at {
            let s = &self.sequences[i];
            if !s.holds(route, &key) {
                at = next(i + 1);
                continue;
            }
            stats.hits[i] += 1;
            if s.action == Action::Deny {
                stats.denied += 1;
                return Verdict::Deny;
            }
            permitted = true;
            if !s.sets.is_empty() {
                // A fresh copy of the attributes (not a clone of the shared `Arc` followed by
                // copy-on-write): no reference-count traffic on the shared set.
                let r = out.get_or_insert_with(|| Route {
                    prefix: route.prefix,
                    attrs: Arc::new(Attrs::clone(&route.attrs)),
                });
                let attrs = r.attrs_mut();
                for set in &s.sets {
                    set.apply(attrs);
                }
            }
            match self.next[i] {
                Some(j) => at = next(j),
                None => break,
            }
        }
        if permitted {
            stats.permitted += 1;
            Verdict::Permit(match out {
                Some(r) => Cow::Owned(r),
                None => Cow::Borrowed(route),
            })
        } else {
            stats.implicit_denied += 1;
            Verdict::Deny
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lists::{PrefixListEntry, SetListEntry, SetMatcher};
    use crate::route::{AsSegment, ExtCommunities};

    fn route(prefix: &str) -> Route {
        Route::new(prefix.parse().unwrap(), Attrs::new(SourceProtocol::Static))
    }

    fn plist(name: &str, entries: &[(&str, Option<u8>)]) -> Arc<PrefixList> {
        Arc::new(PrefixList::new(
            name,
            entries
                .iter()
                .enumerate()
                .map(|(i, (p, le))| {
                    PrefixListEntry::ios(
                        i as u32 * 5 + 5,
                        Action::Permit,
                        p.parse().unwrap(),
                        None,
                        *le,
                    )
                    .unwrap()
                })
                .collect(),
        ))
    }

    fn eval(map: &RouteMap, r: &Route) -> Option<Route> {
        let mut st = map.new_stats();
        map.evaluate(r, &mut st).into_route()
    }

    /// Seed 000: `route-map StaticToBGP permit 10 / match tag 123 / set community no-export additive`.
    #[test]
    fn seed_static_to_bgp() {
        let map = RouteMap::new(
            "StaticToBGP",
            vec![Sequence::new(10, Action::Permit)
                .matching(Match::Tag(vec![123]))
                .setting(Set::Community {
                    values: vec![Community::NO_EXPORT],
                    additive: true,
                })],
        )
        .unwrap();
        let mut tagged = route("10.1.2.0/24");
        tagged.attrs_mut().tag = 123;
        tagged.attrs_mut().communities = Communities::new([Community::new(65001, 7)]);
        let out = eval(&map, &tagged).expect("permitted");
        assert!(out.attrs.communities.contains(&Community::NO_EXPORT));
        assert!(
            out.attrs.communities.contains(&Community::new(65001, 7)),
            "additive keeps"
        );
        assert!(
            eval(&map, &route("10.9.0.0/16")).is_none(),
            "untagged: implicit deny"
        );
    }

    #[test]
    fn first_match_wins_all_clauses_must_hold_any_list_may() {
        let a = plist("A", &[("10.0.0.0/8", Some(32))]);
        let b = plist("B", &[("192.168.0.0/16", Some(32))]);
        let map = RouteMap::new(
            "M",
            vec![
                Sequence::new(10, Action::Deny)
                    .matching(Match::PrefixList(vec![a.clone()]))
                    .matching(Match::Tag(vec![1])),
                Sequence::new(20, Action::Permit)
                    .matching(Match::PrefixList(vec![a, b]))
                    .setting(Set::LocalPref(200)),
            ],
        )
        .unwrap();
        let mut t1 = route("10.1.0.0/16");
        t1.attrs_mut().tag = 1;
        assert!(eval(&map, &t1).is_none(), "both clauses of 10 hold: deny");
        let out = eval(&map, &route("10.1.0.0/16")).unwrap();
        assert_eq!(
            out.attrs.local_pref,
            Some(200),
            "tag clause fails: falls to 20"
        );
        assert!(
            eval(&map, &route("192.168.1.0/24")).is_some(),
            "second list of the clause"
        );
        assert!(eval(&map, &route("172.16.0.0/12")).is_none());
    }

    #[test]
    fn empty_sequence_matches_everything_and_unmodified_routes_are_borrowed() {
        let map = RouteMap::new("ALL", vec![Sequence::new(10, Action::Permit)]).unwrap();
        let r = route("10.0.0.0/8");
        let mut st = map.new_stats();
        match map.evaluate(&r, &mut st) {
            Verdict::Permit(Cow::Borrowed(b)) => assert!(std::ptr::eq(b, &r)),
            other => panic!("{other:?}"),
        }
        assert_eq!(st.hits, vec![1]);
        assert_eq!(st.permitted, 1);
    }

    #[test]
    fn continue_accumulates_sets_and_a_later_deny_still_refuses() {
        let map = RouteMap::new(
            "C",
            vec![
                Sequence::new(10, Action::Permit)
                    .setting(Set::Community {
                        values: vec![Community::new(1, 1)],
                        additive: true,
                    })
                    .continuing(Continue::Next),
                Sequence::new(20, Action::Permit)
                    .matching(Match::Tag(vec![5]))
                    .setting(Set::Community {
                        values: vec![Community::new(2, 2)],
                        additive: true,
                    })
                    .continuing(Continue::Seq(40)),
                Sequence::new(30, Action::Permit).setting(Set::Weight(30)),
                Sequence::new(40, Action::Deny).matching(Match::Tag(vec![6])),
                Sequence::new(50, Action::Permit)
                    .matching(Match::Tag(vec![5]))
                    .setting(Set::LocalPref(50)),
            ],
        )
        .unwrap();
        let mut t5 = route("10.0.0.0/8");
        t5.attrs_mut().tag = 5;
        let mut st = map.new_stats();
        let out = map.evaluate(&t5, &mut st).into_route().unwrap();
        assert_eq!(
            out.attrs.communities,
            Communities::new([Community::new(1, 1), Community::new(2, 2)])
        );
        assert_eq!(out.attrs.weight, 0, "30 skipped by continue 40");
        assert_eq!(out.attrs.local_pref, Some(50));
        assert_eq!(st.hits, vec![1, 1, 0, 0, 1]);
        // 10 matches and continues to 20, which does not match; 30 matches and ends.
        let out = eval(&map, &route("10.0.0.0/8")).unwrap();
        assert_eq!(out.attrs.weight, 30);
        assert_eq!(
            out.attrs.communities,
            Communities::new([Community::new(1, 1)])
        );
        // A permit with continue followed by a matching deny: refused.
        let mut t6 = route("10.0.0.0/8");
        t6.attrs_mut().tag = 6;
        let map2 = RouteMap::new(
            "C2",
            vec![
                Sequence::new(10, Action::Permit).continuing(Continue::Next),
                Sequence::new(20, Action::Deny).matching(Match::Tag(vec![6])),
            ],
        )
        .unwrap();
        assert!(eval(&map2, &t6).is_none());
        // Permit with continue and nothing after matches: still permitted.
        assert!(eval(&map2, &route("10.0.0.0/8")).is_some());
    }

    #[test]
    fn matches_see_the_route_as_it_came_in() {
        let map = RouteMap::new(
            "M",
            vec![
                Sequence::new(10, Action::Permit)
                    .setting(Set::Tag(9))
                    .continuing(Continue::Next),
                Sequence::new(20, Action::Deny).matching(Match::Tag(vec![9])),
            ],
        )
        .unwrap();
        let out = eval(&map, &route("10.0.0.0/8")).unwrap();
        assert_eq!(out.attrs.tag, 9);
    }

    #[test]
    fn route_map_errors() {
        let dup = RouteMap::new(
            "D",
            vec![
                Sequence::new(10, Action::Permit),
                Sequence::new(10, Action::Deny),
            ],
        );
        assert!(matches!(
            dup,
            Err(RouteMapError::DuplicateSeq { seq: 10, .. })
        ));
        let back = RouteMap::new(
            "B",
            vec![
                Sequence::new(10, Action::Permit),
                Sequence::new(20, Action::Permit).continuing(Continue::Seq(10)),
            ],
        );
        assert!(matches!(back, Err(RouteMapError::ContinueBackwards { .. })));
        let missing = RouteMap::new(
            "M",
            vec![Sequence::new(10, Action::Permit).continuing(Continue::Seq(15))],
        );
        assert!(matches!(
            missing,
            Err(RouteMapError::ContinueMissing { .. })
        ));
    }

    #[test]
    fn every_set() {
        let del = Arc::new(CommunityList::new(
            "DEL",
            vec![SetListEntry {
                action: Action::Permit,
                matcher: SetMatcher::standard(vec![Community::new(9, 9)], false),
            }],
        ));
        let rt1: RouteTarget = "65000:1".parse().unwrap();
        let rt2: RouteTarget = "65000:2".parse().unwrap();
        let soo: RouteTarget = "65000:3".parse().unwrap();
        let mut r = route("10.0.0.0/8");
        {
            let a = r.attrs_mut();
            a.communities = Communities::new([Community::new(9, 9), Community::new(1, 1)]);
            a.ext_communities = ExtCommunities::new([ExtCommunity::route_target(rt1)]);
            a.as_path = AsPath::new(vec![AsSegment::sequence(vec![65002, 7])]);
            a.med = Some(10);
        }
        let map = RouteMap::new(
            "S",
            vec![Sequence::new(10, Action::Permit)
                .setting(Set::Community {
                    values: vec![Community::new(2, 2)],
                    additive: true,
                })
                .setting(Set::CommListDelete(del))
                .setting(Set::ExtCommunityRt {
                    rts: vec![rt2],
                    additive: false,
                })
                .setting(Set::ExtCommunitySoo(soo.0))
                .setting(Set::LargeCommunity {
                    values: vec!["1:2:3".parse().unwrap()],
                    additive: false,
                })
                .setting(Set::LocalPref(300))
                .setting(Set::Metric(MetricSet::Add(5)))
                .setting(Set::Weight(100))
                .setting(Set::AsPathPrepend(vec![65001, 65001]))
                .setting(Set::AsPathPrependLastAs(1))
                .setting(Set::NextHop(NextHop::SelfAddress))
                .setting(Set::Origin(Origin::Egp))
                .setting(Set::Tag(77))],
        )
        .unwrap();
        let out = eval(&map, &r).unwrap();
        let a = &out.attrs;
        assert_eq!(
            a.communities.text(),
            "1:1 2:2",
            "delete runs before additive set"
        );
        assert_eq!(
            a.ext_communities,
            ExtCommunities::new([
                ExtCommunity::route_target(rt2),
                ExtCommunity::site_of_origin(soo.0)
            ])
        );
        assert_eq!(a.large_communities.text(), "1:2:3");
        assert_eq!(a.local_pref, Some(300));
        assert_eq!(a.med, Some(15));
        assert_eq!(a.weight, 100);
        // Prepend first (65001 65001), then last-as repeats the new leftmost AS.
        assert_eq!(a.as_path.text(), "65001 65001 65001 65002 7");
        assert_eq!(a.next_hop, NextHop::SelfAddress);
        assert_eq!(a.origin, Origin::Egp);
        assert_eq!(a.tag, 77);
        assert_eq!(r.attrs.tag, 0, "the input is untouched");
    }

    #[test]
    fn metric_sets_saturate_and_none_clears() {
        let mut r = route("10.0.0.0/8");
        r.attrs_mut().med = Some(3);
        r.attrs_mut().communities = Communities::new([Community::new(1, 1)]);
        let map = RouteMap::new(
            "M",
            vec![Sequence::new(10, Action::Permit)
                .setting(Set::Metric(MetricSet::Subtract(10)))
                .setting(Set::CommunityNone)],
        )
        .unwrap();
        let out = eval(&map, &r).unwrap();
        assert_eq!(out.attrs.med, Some(0));
        assert!(out.attrs.communities.is_empty());
        let mut big = route("10.0.0.0/8");
        big.attrs_mut().med = Some(u32::MAX - 1);
        let add = RouteMap::new(
            "A",
            vec![Sequence::new(10, Action::Permit).setting(Set::Metric(MetricSet::Add(10)))],
        )
        .unwrap();
        assert_eq!(eval(&add, &big).unwrap().attrs.med, Some(u32::MAX));
    }

    #[test]
    fn scalar_matches() {
        let mut r = route("10.0.0.0/8");
        {
            let a = r.attrs_mut();
            a.med = Some(100);
            a.origin = Origin::Egp;
            a.route_type = RouteType::External;
            a.source = SourceProtocol::Bgp;
            a.peer_as = Some(65002);
            a.next_hop = NextHop::Addr("192.0.2.1".parse().unwrap());
        }
        let nh = plist("NH", &[("192.0.2.0/24", Some(32))]);
        let cases: Vec<(Match, bool)> = vec![
            (
                Match::Metric {
                    value: 100,
                    deviation: 0,
                },
                true,
            ),
            (
                Match::Metric {
                    value: 90,
                    deviation: 10,
                },
                true,
            ),
            (
                Match::Metric {
                    value: 89,
                    deviation: 10,
                },
                false,
            ),
            (Match::Origin(vec![Origin::Igp]), false),
            (Match::Origin(vec![Origin::Igp, Origin::Egp]), true),
            (Match::RouteType(vec![RouteType::External]), true),
            (
                Match::RouteType(vec![RouteType::Internal, RouteType::Local]),
                false,
            ),
            (Match::SourceProtocol(vec![SourceProtocol::Bgp]), true),
            (Match::SourceProtocol(vec![SourceProtocol::Static]), false),
            (Match::PeerAs(vec![65002]), true),
            (Match::PeerAs(vec![65003]), false),
            (Match::NextHop(vec![nh.clone()]), true),
        ];
        for (i, (m, want)) in cases.iter().enumerate() {
            assert_eq!(m.holds(&r), *want, "case {i}: {m:?}");
        }
        r.attrs_mut().next_hop = NextHop::SelfAddress;
        assert!(!Match::NextHop(vec![nh]).holds(&r));
    }
}

#[cfg(test)]
mod index_props {
    use super::*;
    use crate::lists::PrefixListEntry;
    use proptest::prelude::*;

    fn entry() -> impl Strategy<Value = (u8, u8, u8, bool)> {
        // (second octet, prefix len, extra le, permit)
        (0u8..4, 8u8..=24, 0u8..=8, any::<bool>())
    }

    fn list(name: String, es: Vec<(u8, u8, u8, bool)>) -> Arc<PrefixList> {
        let entries = es
            .into_iter()
            .enumerate()
            .map(|(i, (o, len, extra, permit))| {
                let net: IpNet = format!("10.{o}.0.0/{len}")
                    .parse::<IpNet>()
                    .unwrap()
                    .trunc();
                let le = (extra > 0).then(|| (len + extra).min(32));
                let action = if permit { Action::Permit } else { Action::Deny };
                PrefixListEntry::ios(i as u32 * 5 + 5, action, net, None, le).unwrap()
            })
            .collect();
        Arc::new(PrefixList::new(name, entries))
    }

    proptest! {
        /// Skipping sequences with the candidate index never changes a verdict or a counter.
        #[test]
        fn index_agrees_with_trying_every_sequence(
            seqs in proptest::collection::vec(
                (proptest::collection::vec(entry(), 0..4), any::<bool>(), any::<bool>(), 0u32..3, any::<bool>()),
                1..20,
            ),
            routes in proptest::collection::vec((0u8..4, 0u8..=255, 8u8..=32, 0u32..3), 1..40),
        ) {
            let sequences: Vec<Sequence> = seqs
                .into_iter()
                .enumerate()
                .map(|(i, (es, has_pl, permit, tag, cont))| {
                    let mut s = Sequence::new(
                        i as u32 * 10 + 10,
                        if permit { Action::Permit } else { Action::Deny },
                    );
                    if has_pl {
                        s.matches.push(Match::PrefixList(vec![list(format!("L{i}"), es)]));
                    }
                    if tag > 0 {
                        s.matches.push(Match::Tag(vec![tag]));
                    }
                    s.sets.push(Set::Weight(i as u32));
                    if cont && permit {
                        s.continue_to = Some(Continue::Next);
                    }
                    s
                })
                .collect();
            let map = RouteMap::new("P", sequences).unwrap();
            let mut plain = map.clone();
            plain.index = None;
            let (mut s1, mut s2) = (map.new_stats(), plain.new_stats());
            for (o, b, len, tag) in routes {
                let net: IpNet = format!("10.{o}.{b}.0/{len}").parse::<IpNet>().unwrap().trunc();
                let mut r = Route::new(net, Attrs::new(SourceProtocol::Static));
                r.attrs_mut().tag = tag;
                let a = map.evaluate(&r, &mut s1).into_route();
                let b = plain.evaluate(&r, &mut s2).into_route();
                prop_assert_eq!(a, b);
            }
            prop_assert_eq!(s1, s2);
        }
    }
}

// ----- `show route-map` ---------------------------------------------------------------------

fn names<T>(lists: &[Arc<T>], name: impl Fn(&T) -> &str) -> String {
    lists.iter().map(|l| name(l)).collect::<Vec<_>>().join(" ")
}

fn join<T: fmt::Display>(v: &[T]) -> String {
    v.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A community as `show` prints it: the well-known name when it has one.
fn community_text(c: &Community) -> String {
    c.well_known_name()
        .map_or_else(|| c.to_string(), str::to_string)
}

impl fmt::Display for Match {
    /// The clause as IOS prints it under `Match clauses:`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Match::Tag(t) => write!(f, "tag {}", join(t)),
            Match::SourceProtocol(p) => {
                let v: Vec<&str> = p.iter().map(|p| p.keyword()).collect();
                write!(f, "source-protocol {}", v.join(" "))
            }
            Match::RouteType(t) => {
                let v: Vec<&str> = t
                    .iter()
                    .map(|t| match t {
                        RouteType::Internal => "internal",
                        RouteType::External => "external",
                        RouteType::Local => "local",
                    })
                    .collect();
                write!(f, "route-type {}", v.join(" "))
            }
            Match::Origin(o) => {
                let v: Vec<&str> = o.iter().map(|o| o.keyword()).collect();
                write!(f, "origin {}", v.join(" "))
            }
            Match::Metric { value, deviation } if *deviation == 0 => write!(f, "metric {value}"),
            Match::Metric { value, deviation } => write!(f, "metric {value} +- {deviation}"),
            Match::PeerAs(a) => write!(f, "peer-as {}", join(a)),
            Match::PrefixList(l) => {
                write!(f, "ip address prefix-lists: {}", names(l, |l| &l.name))
            }
            Match::NextHop(l) => write!(f, "ip next-hop prefix-lists: {}", names(l, |l| &l.name)),
            Match::Community { lists, exact } => write!(
                f,
                "community {}{}",
                names(lists, |l| &l.name),
                if *exact { " exact-match" } else { "" }
            ),
            Match::ExtCommunity(l) => write!(f, "extcommunity {}", names(l, |l| &l.name)),
            Match::LargeCommunity(l) => {
                write!(f, "large-community {}", names(l, |l| &l.name))
            }
            Match::AsPath(l) => write!(f, "as-path {}", names(l, |l| &l.name)),
            Match::GatedAsPath { regex, origins } => {
                let v: Vec<&str> = origins.iter().map(|o| o.keyword()).collect();
                write!(f, "aspath \"{}\" origin {}", regex.source(), v.join(" "))
            }
        }
    }
}

impl fmt::Display for Set {
    /// The clause as IOS prints it under `Set clauses:`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let additive = |a: &bool| if *a { " additive" } else { "" };
        match self {
            Set::CommListDelete(l) => write!(f, "comm-list {} delete", l.name),
            Set::Community {
                values,
                additive: a,
            } => {
                let v: Vec<String> = values.iter().map(community_text).collect();
                write!(f, "community {}{}", v.join(" "), additive(a))
            }
            Set::CommunityNone => write!(f, "community none"),
            Set::ExtCommunityRt { rts, additive: a } => {
                let v: Vec<String> = rts.iter().map(|rt| rt.0.to_string()).collect();
                write!(f, "extcommunity rt {}{}", v.join(" "), additive(a))
            }
            Set::ExtCommunitySoo(soo) => write!(f, "extcommunity soo {soo}"),
            Set::LargeCommunity {
                values,
                additive: a,
            } => {
                write!(f, "large-community {}{}", join(values), additive(a))
            }
            Set::LargeCommunityNone => write!(f, "large-community none"),
            Set::LocalPref(v) => write!(f, "local-preference {v}"),
            Set::Metric(MetricSet::Absolute(v)) => write!(f, "metric {v}"),
            Set::Metric(MetricSet::Add(v)) => write!(f, "metric +{v}"),
            Set::Metric(MetricSet::Subtract(v)) => write!(f, "metric -{v}"),
            Set::Weight(w) => write!(f, "weight {w}"),
            Set::AsPathPrepend(a) => write!(f, "as-path prepend {}", join(a)),
            Set::AsPathPrependLastAs(n) => write!(f, "as-path prepend last-as {n}"),
            Set::NextHop(NextHop::Addr(ip)) => write!(f, "ip next-hop {ip}"),
            Set::NextHop(NextHop::SelfAddress) => write!(f, "ip next-hop self"),
            Set::NextHop(NextHop::Unspecified) => write!(f, "ip next-hop unspecified"),
            Set::Origin(o) => write!(f, "origin {}", o.keyword()),
            Set::Tag(t) => write!(f, "tag {t}"),
        }
    }
}

impl RouteMap {
    /// `show route-map NAME`, IOS style, with the hit counters of `stats`.
    pub fn show(&self, stats: &RouteMapStats) -> String {
        let mut out = String::new();
        for (i, s) in self.sequences.iter().enumerate() {
            let action = match s.action {
                Action::Permit => "permit",
                Action::Deny => "deny",
            };
            out.push_str(&format!(
                "route-map {}, {action}, sequence {}\n",
                self.name, s.seq
            ));
            out.push_str("  Match clauses:\n");
            for m in &s.matches {
                out.push_str(&format!("    {m}\n"));
            }
            out.push_str("  Set clauses:\n");
            for set in &s.sets {
                out.push_str(&format!("    {set}\n"));
            }
            match s.continue_to {
                Some(Continue::Next) => out.push_str("  Continue: next sequence\n"),
                Some(Continue::Seq(n)) => out.push_str(&format!("  Continue: sequence {n}\n")),
                None => {}
            }
            let hits = stats.hits.get(i).copied().unwrap_or(0);
            out.push_str(&format!("  Matches: {hits} routes\n"));
        }
        out.push_str(&format!(
            "  Permitted {}, denied {}, implicit deny {}\n",
            stats.permitted, stats.denied, stats.implicit_denied
        ));
        out
    }
}

#[cfg(test)]
mod show_tests {
    use super::*;

    #[test]
    fn show_route_map_reads_like_ios() {
        let map = RouteMap::new(
            "StaticToBGP",
            vec![
                Sequence::new(10, Action::Permit)
                    .matching(Match::Tag(vec![123]))
                    .setting(Set::Community {
                        values: vec![Community::NO_EXPORT, Community::new(65001, 7)],
                        additive: true,
                    })
                    .setting(Set::Metric(MetricSet::Add(5)))
                    .continuing(Continue::Seq(20)),
                Sequence::new(20, Action::Deny).matching(Match::Origin(vec![Origin::Incomplete])),
            ],
        )
        .unwrap();
        let mut st = map.new_stats();
        let mut r = Route::new(
            "10.1.2.0/24".parse().unwrap(),
            Attrs::new(SourceProtocol::Static),
        );
        r.attrs_mut().tag = 123;
        r.attrs_mut().origin = Origin::Igp;
        map.evaluate(&r, &mut st);
        assert_eq!(
            map.show(&st),
            "route-map StaticToBGP, permit, sequence 10
  Match clauses:
    tag 123
  Set clauses:
    community no-export 65001:7 additive
    metric +5
  Continue: sequence 20
  Matches: 1 routes
route-map StaticToBGP, deny, sequence 20
  Match clauses:
    origin incomplete
  Set clauses:
  Matches: 0 routes
  Permitted 1, denied 0, implicit deny 0
"
        );
    }
}
