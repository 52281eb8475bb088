//! The route as policy sees it: a prefix and one shared attribute set.
//!
//! The attribute set ([`Attrs`]) is separate from the prefix so that a BGP speaker can intern
//! it (hash-consing, as BIRD does): a million routes share a few thousand `Arc<Attrs>`. Every
//! collection inside it ([`AsPath`], [`Communities`], …) is itself behind an `Arc`, so
//! cloning an `Attrs` to change one field (a route-map `set`) never copies an AS path or a
//! community list. All of them are `Eq + Hash` on their values only; the cached text forms
//! used by regular expressions are computed once, lazily, and ignored by comparisons.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, OnceLock};

use ipnet::IpNet;

use crate::community::{Community, ExtCommunity, LargeCommunity};

/// Where a route came from, as far as policy cares (`match source-protocol`, GateD `proto`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum SourceProtocol {
    /// A route to a directly attached subnet (IOS `connected`, GateD `direct`).
    Connected,
    /// A configured static route.
    Static,
    /// Learned from a BGP neighbor (or leaked from another VRF through the VPN table).
    Bgp,
    /// Synthesised from other routes (`aggregate-address`, GateD `aggregate`).
    Aggregate,
}

impl SourceProtocol {
    /// The keyword used in configuration and `show` output.
    pub fn keyword(self) -> &'static str {
        match self {
            SourceProtocol::Connected => "connected",
            SourceProtocol::Static => "static",
            SourceProtocol::Bgp => "bgp",
            SourceProtocol::Aggregate => "aggregate",
        }
    }
}

/// How the route entered this AS (IOS `match route-type`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum RouteType {
    /// Learned over iBGP (or from a confederation member AS).
    Internal,
    /// Learned over eBGP.
    External,
    /// Originated by this router (redistributed, aggregated, `network`).
    Local,
}

/// The BGP ORIGIN attribute; the order is RFC 4271's preference order (IGP best).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Origin {
    Igp,
    Egp,
    Incomplete,
}

impl Origin {
    pub fn keyword(self) -> &'static str {
        match self {
            Origin::Igp => "igp",
            Origin::Egp => "egp",
            Origin::Incomplete => "incomplete",
        }
    }
}

/// The next hop a route carries, or will carry once the speaker resolves it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum NextHop {
    /// None yet (e.g. a route about to be originated).
    Unspecified,
    Addr(IpAddr),
    /// `set ip next-hop self`: a marker, replaced by the speaker with its own session address
    /// towards each neighbor — the policy engine does not know that address.
    SelfAddress,
}

impl NextHop {
    pub fn addr(self) -> Option<IpAddr> {
        match self {
            NextHop::Addr(a) => Some(a),
            _ => None,
        }
    }
}

/// The four AS_PATH segment kinds (RFC 4271, RFC 5065 for the confederation ones).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum SegmentType {
    Sequence,
    Set,
    ConfedSequence,
    ConfedSet,
}

/// One AS_PATH segment; AS numbers are always 4-octet (RFC 6793).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct AsSegment {
    pub kind: SegmentType,
    pub asns: Vec<u32>,
}

impl AsSegment {
    pub fn sequence(asns: impl Into<Vec<u32>>) -> Self {
        AsSegment {
            kind: SegmentType::Sequence,
            asns: asns.into(),
        }
    }
    pub fn set(asns: impl Into<Vec<u32>>) -> Self {
        AsSegment {
            kind: SegmentType::Set,
            asns: asns.into(),
        }
    }
}

/// The most ASNs one segment carries on the wire (a one-octet count).
pub const MAX_SEGMENT_LEN: usize = 255;

struct AsPathInner {
    segments: Box<[AsSegment]>,
    text: OnceLock<Box<str>>,
}

/// An AS_PATH: shared, compared by its segments, with its IOS text form cached for regexes.
#[derive(Clone, Default)]
pub struct AsPath(Option<Arc<AsPathInner>>);

impl AsPath {
    pub fn new(segments: Vec<AsSegment>) -> Self {
        let segments: Vec<AsSegment> = segments
            .into_iter()
            .filter(|s| !s.asns.is_empty())
            .collect();
        if segments.is_empty() {
            return AsPath(None);
        }
        AsPath(Some(Arc::new(AsPathInner {
            segments: segments.into_boxed_slice(),
            text: OnceLock::new(),
        })))
    }

    /// A path of one AS_SEQUENCE, the common case.
    pub fn from_sequence(asns: impl Into<Vec<u32>>) -> Self {
        AsPath::new(vec![AsSegment::sequence(asns)])
    }

    pub fn segments(&self) -> &[AsSegment] {
        self.0.as_ref().map_or(&[], |i| &i.segments)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The path as IOS prints and matches it: `100 200 {300,400} (65001 65002) [65003,65004]`.
    pub fn text(&self) -> &str {
        match &self.0 {
            None => "",
            Some(i) => i
                .text
                .get_or_init(|| render_path(&i.segments).into_boxed_str()),
        }
    }

    /// RFC 4271 §9.1.2.2 path length: a set counts as one, confederation segments as zero.
    pub fn length(&self) -> usize {
        self.segments()
            .iter()
            .map(|s| match s.kind {
                SegmentType::Sequence => s.asns.len(),
                SegmentType::Set => 1,
                SegmentType::ConfedSequence | SegmentType::ConfedSet => 0,
            })
            .sum()
    }

    /// The leftmost AS of the path outside any confederation segment: the neighbor AS for
    /// a route learned over eBGP. `None` for an empty path or one starting with a set.
    pub fn first_as(&self) -> Option<u32> {
        self.segments()
            .iter()
            .find(|s| matches!(s.kind, SegmentType::Sequence | SegmentType::Set))
            .and_then(|s| match s.kind {
                SegmentType::Sequence => s.asns.first().copied(),
                _ => None,
            })
    }

    /// Every AS number of the non-confederation segments, left to right (sets flattened).
    pub fn asns(&self) -> impl Iterator<Item = u32> + '_ {
        self.segments()
            .iter()
            .filter(|s| matches!(s.kind, SegmentType::Sequence | SegmentType::Set))
            .flat_map(|s| s.asns.iter().copied())
    }

    /// This path with `asns` put in front (leftmost first), into the leading AS_SEQUENCE,
    /// opening a new segment when there is none or it would exceed 255 ASNs.
    pub fn prepend(&self, asns: &[u32]) -> AsPath {
        if asns.is_empty() {
            return self.clone();
        }
        let mut segs: Vec<AsSegment> = self.segments().to_vec();
        let mut pending: Vec<u32> = asns.to_vec();
        if let Some(first) = segs.first_mut() {
            if first.kind == SegmentType::Sequence {
                let room = MAX_SEGMENT_LEN.saturating_sub(first.asns.len());
                let take = room.min(pending.len());
                let moved: Vec<u32> = pending.split_off(pending.len() - take);
                first.asns.splice(0..0, moved);
            }
        }
        while !pending.is_empty() {
            let take = pending.len().min(MAX_SEGMENT_LEN);
            let chunk = pending.split_off(pending.len() - take);
            segs.insert(0, AsSegment::sequence(chunk));
        }
        AsPath::new(segs)
    }
}

fn render_path(segments: &[AsSegment]) -> String {
    let mut out = String::new();
    for seg in segments {
        if !out.is_empty() {
            out.push(' ');
        }
        let (open, close, sep) = match seg.kind {
            SegmentType::Sequence => ("", "", " "),
            SegmentType::Set => ("{", "}", ","),
            SegmentType::ConfedSequence => ("(", ")", " "),
            SegmentType::ConfedSet => ("[", "]", ","),
        };
        out.push_str(open);
        for (i, asn) in seg.asns.iter().enumerate() {
            if i > 0 {
                out.push_str(sep);
            }
            out.push_str(&asn.to_string());
        }
        out.push_str(close);
    }
    out
}

impl PartialEq for AsPath {
    fn eq(&self, other: &Self) -> bool {
        self.segments() == other.segments()
    }
}
impl Eq for AsPath {}
impl Hash for AsPath {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.segments().hash(state)
    }
}
impl fmt::Debug for AsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AsPath({:?})", self.text())
    }
}
impl fmt::Display for AsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

struct SetInner<T> {
    values: Box<[T]>,
    text: OnceLock<Box<str>>,
}

/// A sorted, de-duplicated, shared set of community values of one kind, with its text form
/// (values separated by one space, as IOS matches expanded lists against) cached.
///
/// Sorting makes equal sets equal whatever order they arrived in, which is what lets a
/// speaker intern them; BGP gives the order of communities no meaning.
pub struct AttrSet<T>(Option<Arc<SetInner<T>>>);

/// Standard communities (RFC 1997).
pub type Communities = AttrSet<Community>;
/// Extended communities (RFC 4360).
pub type ExtCommunities = AttrSet<ExtCommunity>;
/// Large communities (RFC 8092).
pub type LargeCommunities = AttrSet<LargeCommunity>;

impl<T> Clone for AttrSet<T> {
    fn clone(&self) -> Self {
        AttrSet(self.0.clone())
    }
}
impl<T> Default for AttrSet<T> {
    fn default() -> Self {
        AttrSet(None)
    }
}

impl<T: Ord + Clone + fmt::Display> AttrSet<T> {
    pub fn new(values: impl IntoIterator<Item = T>) -> Self {
        let mut v: Vec<T> = values.into_iter().collect();
        if v.is_empty() {
            return AttrSet(None);
        }
        v.sort_unstable();
        v.dedup();
        AttrSet(Some(Arc::new(SetInner {
            values: v.into_boxed_slice(),
            text: OnceLock::new(),
        })))
    }

    pub fn as_slice(&self) -> &[T] {
        self.0.as_ref().map_or(&[], |i| &i.values)
    }
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.as_slice().iter()
    }
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }
    pub fn contains(&self, value: &T) -> bool {
        self.as_slice().binary_search(value).is_ok()
    }
    /// True when every value of `values` is in the set.
    pub fn contains_all(&self, values: &[T]) -> bool {
        values.iter().all(|v| self.contains(v))
    }

    /// The set with `values` added.
    pub fn with(&self, values: impl IntoIterator<Item = T>) -> Self {
        AttrSet::new(self.iter().cloned().chain(values))
    }
    /// The set without the values `drop` says to drop.
    pub fn without(&self, mut drop: impl FnMut(&T) -> bool) -> Self {
        if !self.iter().any(&mut drop) {
            return self.clone();
        }
        AttrSet::new(self.iter().filter(|v| !drop(v)).cloned())
    }

    /// The values as text, separated by single spaces, in ascending order.
    pub fn text(&self) -> &str {
        match &self.0 {
            None => "",
            Some(i) => i.text.get_or_init(|| {
                let mut s = String::new();
                for (n, v) in i.values.iter().enumerate() {
                    if n > 0 {
                        s.push(' ');
                    }
                    s.push_str(&v.to_string());
                }
                s.into_boxed_str()
            }),
        }
    }
}

impl<T: PartialEq> PartialEq for AttrSet<T> {
    fn eq(&self, other: &Self) -> bool {
        let a: &[T] = self.0.as_ref().map_or(&[], |i| &i.values);
        let b: &[T] = other.0.as_ref().map_or(&[], |i| &i.values);
        a == b
    }
}
impl<T: Eq> Eq for AttrSet<T> {}
impl<T: Hash> Hash for AttrSet<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let a: &[T] = self.0.as_ref().map_or(&[], |i| &i.values);
        a.hash(state)
    }
}
impl<T: fmt::Debug> fmt::Debug for AttrSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a: &[T] = self.0.as_ref().map_or(&[], |i| &i.values);
        f.debug_list().entries(a).finish()
    }
}

/// Everything a route carries besides its prefix. Intern `Arc<Attrs>` in a speaker.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Attrs {
    pub source: SourceProtocol,
    pub route_type: RouteType,
    /// The AS of the BGP neighbor the route was learned from (GateD's `proto bgp as N`);
    /// `None` for routes not learned over BGP.
    pub peer_as: Option<u32>,
    pub tag: u32,
    pub next_hop: NextHop,
    pub origin: Origin,
    /// MULTI_EXIT_DISC; `None` when absent (matched as 0, as IOS does).
    pub med: Option<u32>,
    /// LOCAL_PREF; `None` when absent (the speaker's default, usually 100, applies).
    pub local_pref: Option<u32>,
    /// Cisco weight: local to this router, never sent.
    pub weight: u32,
    pub as_path: AsPath,
    pub communities: Communities,
    pub ext_communities: ExtCommunities,
    pub large_communities: LargeCommunities,
    /// ORIGINATOR_ID (RFC 4456): set by a route reflector, never changed after.
    pub originator_id: Option<Ipv4Addr>,
    /// CLUSTER_LIST (RFC 4456), most recent reflector first; empty allocates nothing.
    pub cluster_list: Vec<Ipv4Addr>,
    /// ATOMIC_AGGREGATE: passed on unchanged.
    pub atomic_aggregate: bool,
    /// AGGREGATOR (AS, router id): passed on unchanged.
    pub aggregator: Option<(u32, Ipv4Addr)>,
    /// Optional transitive attributes this router does not interpret, kept as received so
    /// they can be passed on (RFC 4271 §5, §9.1.2.2); `None` (no allocation) for nearly every
    /// route.
    pub opaque: Option<Arc<[OpaqueAttr]>>,
}

/// An optional transitive path attribute of a type this router does not know, verbatim: its
/// type code, the flags it arrived with and its value. Passed on with the partial bit set
/// (RFC 4271 §5: the router that first passes it on without understanding it marks it so).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct OpaqueAttr {
    pub flags: u8,
    pub type_code: u8,
    pub value: Box<[u8]>,
}

impl Attrs {
    /// A locally originated route of `source` with no BGP attributes yet (origin IGP for
    /// connected and static routes would be `network`; redistribution gives incomplete, as IOS).
    pub fn new(source: SourceProtocol) -> Self {
        Attrs {
            source,
            route_type: if source == SourceProtocol::Bgp {
                RouteType::External
            } else {
                RouteType::Local
            },
            peer_as: None,
            tag: 0,
            next_hop: NextHop::Unspecified,
            origin: match source {
                SourceProtocol::Bgp | SourceProtocol::Aggregate => Origin::Igp,
                SourceProtocol::Connected | SourceProtocol::Static => Origin::Incomplete,
            },
            med: None,
            local_pref: None,
            weight: 0,
            as_path: AsPath::default(),
            communities: Communities::default(),
            ext_communities: ExtCommunities::default(),
            large_communities: LargeCommunities::default(),
            originator_id: None,
            cluster_list: Vec::new(),
            atomic_aggregate: false,
            aggregator: None,
            opaque: None,
        }
    }
}

/// A route: a prefix and its (shared) attributes. Cloning costs one reference count.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Route {
    pub prefix: IpNet,
    pub attrs: Arc<Attrs>,
}

impl Route {
    pub fn new(prefix: IpNet, attrs: Attrs) -> Self {
        Route {
            prefix,
            attrs: Arc::new(attrs),
        }
    }

    /// The attributes for writing: copied first if shared (copy-on-write).
    pub fn attrs_mut(&mut self) -> &mut Attrs {
        Arc::make_mut(&mut self.attrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_path_text_follows_ios() {
        let p = AsPath::new(vec![
            AsSegment::sequence(vec![100, 200]),
            AsSegment::set(vec![400, 300]),
            AsSegment {
                kind: SegmentType::ConfedSequence,
                asns: vec![65001, 65002],
            },
            AsSegment {
                kind: SegmentType::ConfedSet,
                asns: vec![65003, 65004],
            },
        ]);
        assert_eq!(p.text(), "100 200 {400,300} (65001 65002) [65003,65004]");
        assert_eq!(p.length(), 3);
        assert_eq!(p.first_as(), Some(100));
        assert_eq!(AsPath::default().text(), "");
        assert_eq!(AsPath::default().first_as(), None);
    }

    #[test]
    fn prepend_fills_the_leading_sequence_then_opens_new_ones() {
        let p = AsPath::from_sequence(vec![3, 4]).prepend(&[1, 2]);
        assert_eq!(p.text(), "1 2 3 4");
        let s = AsPath::new(vec![AsSegment::set(vec![9])]).prepend(&[1]);
        assert_eq!(s.text(), "1 {9}");
        let long = AsPath::from_sequence(vec![7; 254]).prepend(&[1, 2, 3]);
        assert_eq!(long.segments().len(), 2);
        assert_eq!(long.segments()[0].asns, vec![1, 2]);
        assert_eq!(long.segments()[1].asns.len(), 255);
        assert_eq!(long.segments()[1].asns[0], 3);
        assert_eq!(long.length(), 257);
    }

    #[test]
    fn sets_are_sorted_deduplicated_and_compared_by_value() {
        let a = Communities::new([Community(3), Community(1), Community(3)]);
        let b = Communities::new([Community(1), Community(3)]);
        assert_eq!(a, b);
        assert_eq!(a.len(), 2);
        assert_eq!(a.text(), "0:1 0:3");
        let mut h1 = std::collections::hash_map::DefaultHasher::new();
        let mut h2 = std::collections::hash_map::DefaultHasher::new();
        a.hash(&mut h1);
        b.hash(&mut h2);
        assert_eq!(h1.finish(), h2.finish());
        assert!(Communities::new([]).is_empty());
        assert_eq!(a.without(|c| c.0 == 1), Communities::new([Community(3)]));
    }

    #[test]
    fn attrs_are_copy_on_write() {
        let r = Route::new(
            "10.0.0.0/8".parse().unwrap(),
            Attrs::new(SourceProtocol::Static),
        );
        let mut r2 = r.clone();
        assert!(Arc::ptr_eq(&r.attrs, &r2.attrs));
        r2.attrs_mut().tag = 5;
        assert_eq!(r.attrs.tag, 0);
        assert_eq!(r2.attrs.tag, 5);
    }
}
