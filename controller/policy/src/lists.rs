//! The lists route-maps match against: prefix lists, community lists (standard, expanded),
//! extended and large community lists, AS-path access lists. Each is an ordered list of
//! permit/deny entries; the first entry that matches decides, and a route no entry matches is
//! denied (the implicit deny of IOS).

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use regex::Regex;

use crate::community::{Community, ExtCommunity, LargeCommunity};
use crate::pattern::{compile_ios, compile_ios_anchored, AsPathRegex, PatternError};
use crate::route::{AsPath, AttrSet};

/// What an entry (or route-map sequence) does with what it matches.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Action {
    Permit,
    Deny,
}

/// An address family.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    pub fn of(net: &IpNet) -> Family {
        match net {
            IpNet::V4(_) => Family::Ipv4,
            IpNet::V6(_) => Family::Ipv6,
        }
    }
    pub fn of_addr(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }
    pub fn max_len(self) -> u8 {
        match self {
            Family::Ipv4 => 32,
            Family::Ipv6 => 128,
        }
    }
    pub fn keyword(self) -> &'static str {
        match self {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        }
    }
}

/// A prefix as one left-aligned 128-bit word, so IPv4 and IPv6 share the masking code.
/// Computed once per route and reused by every prefix list a route-map consults.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Key {
    family: Family,
    bits: u128,
    len: u8,
}

fn mask(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        !0u128 << (128 - len as u32)
    }
}

impl Key {
    pub fn of(net: &IpNet) -> Key {
        match net {
            IpNet::V4(n) => Key {
                family: Family::Ipv4,
                bits: (u32::from(n.addr()) as u128) << 96,
                len: n.prefix_len(),
            },
            IpNet::V6(n) => Key {
                family: Family::Ipv6,
                bits: u128::from(n.addr()),
                len: n.prefix_len(),
            },
        }
    }
    /// The `len` leading bits only, as a key: what a filter of that length compares.
    fn truncated(self, len: u8) -> u128 {
        self.bits & mask(len)
    }
}

/// Why a prefix-list entry's range was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixRangeError {
    #[error("{prefix} has host bits set; did you mean {}?", prefix.trunc())]
    HostBits { prefix: IpNet },
    #[error(
        "`ge {ge}` must be longer than the prefix length {len} (IOS: len < ge <= le <= {max})"
    )]
    GeTooShort { ge: u8, len: u8, max: u8 },
    #[error("`le {le}` must be longer than the prefix length {len} (IOS: len < le <= {max})")]
    LeTooShort { le: u8, len: u8, max: u8 },
    #[error("`ge {ge}` is longer than `le {le}`")]
    GeAboveLe { ge: u8, le: u8 },
    #[error("{what} {value} is beyond the {max}-bit address length")]
    TooLong {
        what: &'static str,
        value: u8,
        max: u8,
    },
}

/// One `seq N permit|deny PREFIX [ge G] [le L]` line, as the range of lengths it accepts.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PrefixListEntry {
    pub seq: u32,
    pub action: Action,
    pub prefix: IpNet,
    /// Shortest and longest route prefix length the entry matches (both inclusive).
    pub min_len: u8,
    pub max_len: u8,
    key: Key,
}

impl PrefixListEntry {
    /// An entry with IOS semantics: no `ge`/`le` is an exact match of the length; `ge` alone
    /// is `ge..=max`; `le` alone is `len..=le`; both are `ge..=le`; always `len < ge <= le`.
    pub fn ios(
        seq: u32,
        action: Action,
        prefix: IpNet,
        ge: Option<u8>,
        le: Option<u8>,
    ) -> Result<Self, PrefixRangeError> {
        let len = prefix.prefix_len();
        let max = Family::of(&prefix).max_len();
        if let Some(ge) = ge {
            if ge > max {
                return Err(PrefixRangeError::TooLong {
                    what: "ge",
                    value: ge,
                    max,
                });
            }
            if ge <= len {
                return Err(PrefixRangeError::GeTooShort { ge, len, max });
            }
        }
        if let Some(le) = le {
            if le > max {
                return Err(PrefixRangeError::TooLong {
                    what: "le",
                    value: le,
                    max,
                });
            }
            if le <= len {
                return Err(PrefixRangeError::LeTooShort { le, len, max });
            }
        }
        if let (Some(ge), Some(le)) = (ge, le) {
            if ge > le {
                return Err(PrefixRangeError::GeAboveLe { ge, le });
            }
        }
        let (min_len, max_len) = match (ge, le) {
            (None, None) => (len, len),
            (Some(g), None) => (g, max),
            (None, Some(l)) => (len, l),
            (Some(g), Some(l)) => (g, l),
        };
        Self::range(seq, action, prefix, min_len, max_len)
    }

    /// An entry matching routes inside `prefix` whose length is within `min_len..=max_len`
    /// (the form GateD route filters compile to).
    pub fn range(
        seq: u32,
        action: Action,
        prefix: IpNet,
        min_len: u8,
        max_len: u8,
    ) -> Result<Self, PrefixRangeError> {
        if prefix.addr() != prefix.network() {
            return Err(PrefixRangeError::HostBits { prefix });
        }
        let max = Family::of(&prefix).max_len();
        if max_len > max {
            return Err(PrefixRangeError::TooLong {
                what: "length",
                value: max_len,
                max,
            });
        }
        if min_len > max_len {
            return Err(PrefixRangeError::GeAboveLe {
                ge: min_len,
                le: max_len,
            });
        }
        Ok(PrefixListEntry {
            seq,
            action,
            prefix,
            min_len: min_len.max(prefix.prefix_len()),
            max_len,
            key: Key::of(&prefix),
        })
    }

    fn matches_key(&self, k: &Key) -> bool {
        k.family == self.key.family
            && k.len >= self.min_len
            && k.len <= self.max_len
            && k.truncated(self.key.len) == self.key.bits
    }

    pub fn matches(&self, prefix: &IpNet) -> bool {
        self.matches_key(&Key::of(prefix))
    }
}

/// Lists with at most this many entries are scanned; longer ones are indexed by length.
const SCAN_LIMIT: usize = 16;

/// A long list's index: (family, entry prefix length, masked bits) → entry indices, and the
/// distinct entry prefix lengths, so a lookup costs one probe per distinct length.
type LengthIndex = (HashMap<(Family, u8, u128), Vec<usize>>, Vec<u8>);

/// What a scan compares, packed (32 bytes) so short lists stay in one or two cache lines.
#[derive(Clone, Copy, Debug)]
struct Packed {
    bits: u128,
    len: u8,
    min_len: u8,
    max_len: u8,
    family: Family,
}

impl Packed {
    #[inline]
    fn matches(&self, k: &Key) -> bool {
        k.family == self.family
            && k.len >= self.min_len
            && k.len <= self.max_len
            && k.truncated(self.len) == self.bits
    }
}

/// A prefix list (`ip prefix-list` / `ipv6 prefix-list`): entries in sequence order.
#[derive(Clone)]
pub struct PrefixList {
    pub name: String,
    entries: Vec<PrefixListEntry>,
    packed: Vec<Packed>,
    index: Option<LengthIndex>,
}

/// The entries only: the packed form and the index are derived from them, and the index's
/// hash map would make the text differ between two compilations of the same list (the
/// controller fingerprints compiled route-maps by their `Debug` text).
impl fmt::Debug for PrefixList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrefixList")
            .field("name", &self.name)
            .field("entries", &self.entries)
            .finish()
    }
}

impl PrefixList {
    /// Entries are sorted by sequence number; callers reject duplicates before (validation).
    pub fn new(name: impl Into<String>, mut entries: Vec<PrefixListEntry>) -> Self {
        entries.sort_by_key(|e| e.seq);
        let index = (entries.len() > SCAN_LIMIT).then(|| {
            let mut map: HashMap<(Family, u8, u128), Vec<usize>> = HashMap::new();
            let mut lens: Vec<u8> = Vec::new();
            for (i, e) in entries.iter().enumerate() {
                map.entry((e.key.family, e.key.len, e.key.bits))
                    .or_default()
                    .push(i);
                lens.push(e.key.len);
            }
            lens.sort_unstable();
            lens.dedup();
            (map, lens)
        });
        let packed = entries
            .iter()
            .map(|e| Packed {
                bits: e.key.bits,
                len: e.key.len,
                min_len: e.min_len,
                max_len: e.max_len,
                family: e.key.family,
            })
            .collect();
        PrefixList {
            name: name.into(),
            entries,
            packed,
            index,
        }
    }

    pub fn entries(&self) -> &[PrefixListEntry] {
        &self.entries
    }

    /// The family of the list's entries (`None` for an empty list).
    pub fn family(&self) -> Option<Family> {
        self.entries.first().map(|e| e.key.family)
    }

    /// The first entry matching `prefix`, if any.
    pub fn lookup(&self, prefix: &IpNet) -> Option<&PrefixListEntry> {
        self.lookup_key(&Key::of(prefix)).map(|i| &self.entries[i])
    }

    #[inline]
    fn lookup_key(&self, k: &Key) -> Option<usize> {
        match &self.index {
            None => self.packed.iter().position(|e| e.matches(k)),
            Some((map, lens)) => {
                let mut best: Option<usize> = None;
                for &len in lens.iter().take_while(|&&l| l <= k.len) {
                    if let Some(idxs) = map.get(&(k.family, len, k.truncated(len))) {
                        for &i in idxs {
                            if best.is_some_and(|b| b <= i) {
                                break;
                            }
                            if self.packed[i].matches(k) {
                                best = Some(i);
                                break;
                            }
                        }
                    }
                }
                best
            }
        }
    }

    /// IOS semantics: the first matching entry decides; no match is a deny.
    pub fn permits(&self, prefix: &IpNet) -> bool {
        self.permits_key(&Key::of(prefix))
    }

    /// [`PrefixList::permits`] with the route's key computed once by the caller.
    #[inline]
    pub fn permits_key(&self, k: &Key) -> bool {
        self.lookup_key(k)
            .is_some_and(|i| self.entries[i].action == Action::Permit)
    }
}

/// Route-maps up to this many sequences get a [`CandidateIndex`] (a stack bitset per route).
pub(crate) const INDEX_MAX_SEQUENCES: usize = 512;

/// (family, entry length, entry bits) → (min len, max len, sequence index).
type Buckets = HashMap<(Family, u8, u128), Vec<(u8, u8, u16)>>;

/// Which sequences of a route-map a route can possibly match, judged by their prefix-list
/// clause alone: a route no *permit* entry of any of the clause's lists covers can never
/// satisfy that clause, so its sequence is skipped without looking at it. One hash probe per
/// distinct entry length replaces a prefix-list scan per sequence — the difference between
/// trying 70 sequences per route and trying the two or three that can match.
#[derive(Clone)]
pub(crate) struct CandidateIndex {
    /// Sequences without a prefix-list clause: always candidates.
    always: [u64; INDEX_MAX_SEQUENCES / 64],
    buckets: Buckets,
    lens: Vec<u8>,
}

/// Derived from the sequences; left out of `Debug` so equal maps print equally.
impl fmt::Debug for CandidateIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CandidateIndex")
    }
}

impl CandidateIndex {
    /// `clauses[i]`: the lists of sequence i's prefix-list clause, if it has one.
    pub(crate) fn build(clauses: &[Option<&[std::sync::Arc<PrefixList>]>]) -> Option<Self> {
        if clauses.len() > INDEX_MAX_SEQUENCES || clauses.iter().all(Option::is_none) {
            return None;
        }
        let mut ix = CandidateIndex {
            always: [0; INDEX_MAX_SEQUENCES / 64],
            buckets: HashMap::new(),
            lens: Vec::new(),
        };
        for (i, c) in clauses.iter().enumerate() {
            match c {
                None => ix.always[i / 64] |= 1 << (i % 64),
                Some(lists) => {
                    for l in lists.iter() {
                        for (e, p) in l.entries.iter().zip(&l.packed) {
                            if e.action == Action::Permit {
                                ix.buckets
                                    .entry((p.family, p.len, p.bits))
                                    .or_default()
                                    .push((p.min_len, p.max_len, i as u16));
                                ix.lens.push(p.len);
                            }
                        }
                    }
                }
            }
        }
        ix.lens.sort_unstable();
        ix.lens.dedup();
        Some(ix)
    }

    /// Sets the bits of the sequences `k` may match.
    #[inline]
    pub(crate) fn candidates(&self, k: &Key, out: &mut [u64; INDEX_MAX_SEQUENCES / 64]) {
        *out = self.always;
        for &len in self.lens.iter().take_while(|&&l| l <= k.len) {
            if let Some(v) = self.buckets.get(&(k.family, len, k.truncated(len))) {
                for &(min, max, i) in v {
                    if k.len >= min && k.len <= max {
                        out[i as usize / 64] |= 1 << (i % 64);
                    }
                }
            }
        }
    }
}

/// The first set bit at or after `from`.
#[inline]
pub(crate) fn next_bit(bits: &[u64; INDEX_MAX_SEQUENCES / 64], from: usize) -> Option<usize> {
    let mut w = from / 64;
    if w >= bits.len() {
        return None;
    }
    let mut word = bits[w] & (!0u64 << (from % 64));
    loop {
        if word != 0 {
            return Some(w * 64 + word.trailing_zeros() as usize);
        }
        w += 1;
        if w >= bits.len() {
            return None;
        }
        word = bits[w];
    }
}

/// How one entry of a community-style list recognises a set of values.
#[derive(Clone, Debug)]
pub enum SetMatcher<T> {
    /// Standard entry: the route carries every listed value (`internet` = any route).
    Standard { values: Vec<T>, internet: bool },
    /// Expanded entry: an IOS regex over the set's text (`65001:1 65001:2`), searched; the
    /// anchored form is used for `exact-match`.
    Expanded {
        source: String,
        regex: Regex,
        anchored: Regex,
    },
}

impl<T: Ord + Clone + std::fmt::Display> SetMatcher<T> {
    pub fn standard(mut values: Vec<T>, internet: bool) -> Self {
        values.sort();
        values.dedup();
        SetMatcher::Standard { values, internet }
    }

    pub fn expanded(pattern: &str) -> Result<Self, PatternError> {
        Ok(SetMatcher::Expanded {
            source: pattern.to_string(),
            regex: compile_ios(pattern)?,
            anchored: compile_ios_anchored(pattern)?,
        })
    }

    fn matches(&self, set: &AttrSet<T>, exact: bool) -> bool {
        match self {
            SetMatcher::Standard { values, internet } => {
                if exact {
                    set.as_slice() == values.as_slice()
                } else {
                    *internet || set.contains_all(values)
                }
            }
            SetMatcher::Expanded {
                regex, anchored, ..
            } => {
                if exact {
                    anchored.is_match(set.text())
                } else {
                    regex.is_match(set.text())
                }
            }
        }
    }

    /// Whether this entry speaks about the single value `v` (for `comm-list … delete`).
    fn mentions(&self, v: &T) -> bool {
        match self {
            SetMatcher::Standard { values, internet } => *internet || values.contains(v),
            SetMatcher::Expanded { regex, .. } => regex.is_match(&v.to_string()),
        }
    }
}

/// One permit/deny line of a community-style list.
#[derive(Clone, Debug)]
pub struct SetListEntry<T> {
    pub action: Action,
    pub matcher: SetMatcher<T>,
}

/// A community-style list, in entry order.
#[derive(Clone, Debug)]
pub struct SetList<T> {
    pub name: String,
    pub entries: Vec<SetListEntry<T>>,
}

/// `ip community-list`.
pub type CommunityList = SetList<Community>;
/// `ip extcommunity-list`.
pub type ExtCommunityList = SetList<ExtCommunity>;
/// `ip large-community-list`.
pub type LargeCommunityList = SetList<LargeCommunity>;

impl<T: Ord + Clone + std::fmt::Display> SetList<T> {
    pub fn new(name: impl Into<String>, entries: Vec<SetListEntry<T>>) -> Self {
        SetList {
            name: name.into(),
            entries,
        }
    }

    /// First matching entry decides; no match denies. With `exact`, a standard entry matches
    /// only a set equal to its values, an expanded one only if its regex covers the whole text.
    pub fn permits(&self, set: &AttrSet<T>, exact: bool) -> bool {
        self.entries
            .iter()
            .find(|e| e.matcher.matches(set, exact))
            .is_some_and(|e| e.action == Action::Permit)
    }

    /// `set comm-list NAME delete`: each value is judged alone, by the first entry that
    /// mentions it; values whose deciding entry is a permit are removed.
    pub fn delete_from(&self, set: &AttrSet<T>) -> AttrSet<T> {
        set.without(|v| {
            self.entries
                .iter()
                .find(|e| e.matcher.mentions(v))
                .is_some_and(|e| e.action == Action::Permit)
        })
    }
}

/// One `ip as-path access-list N permit|deny REGEX` line.
#[derive(Clone, Debug)]
pub struct AsPathEntry {
    pub action: Action,
    pub regex: AsPathRegex,
}

/// `ip as-path access-list`: entries in order, first regex that matches decides.
#[derive(Clone, Debug)]
pub struct AsPathList {
    pub name: String,
    pub entries: Vec<AsPathEntry>,
}

impl AsPathList {
    pub fn new(name: impl Into<String>, entries: Vec<AsPathEntry>) -> Self {
        AsPathList {
            name: name.into(),
            entries,
        }
    }

    pub fn permits(&self, path: &AsPath) -> bool {
        self.entries
            .iter()
            .find(|e| e.regex.is_match(path))
            .is_some_and(|e| e.action == Action::Permit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::Communities;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn entry(seq: u32, a: Action, p: &str, ge: Option<u8>, le: Option<u8>) -> PrefixListEntry {
        PrefixListEntry::ios(seq, a, net(p), ge, le).unwrap()
    }

    /// IOS `ge`/`le` semantics, one row per case.
    #[test]
    fn ios_ge_le_table() {
        use Action::Permit as P;
        /// (entry prefix, ge, le, route, matches?)
        type Row = (&'static str, Option<u8>, Option<u8>, &'static str, bool);
        let rows: &[Row] = &[
            ("10.0.0.0/8", None, None, "10.0.0.0/8", true),
            ("10.0.0.0/8", None, None, "10.1.0.0/16", false),
            ("10.0.0.0/8", None, None, "11.0.0.0/8", false),
            ("10.0.0.0/8", None, Some(24), "10.0.0.0/8", true),
            ("10.0.0.0/8", None, Some(24), "10.1.2.0/24", true),
            ("10.0.0.0/8", None, Some(24), "10.1.2.0/25", false),
            ("10.0.0.0/8", Some(16), None, "10.0.0.0/8", false),
            ("10.0.0.0/8", Some(16), None, "10.1.0.0/16", true),
            ("10.0.0.0/8", Some(16), None, "10.1.2.3/32", true),
            ("10.0.0.0/8", Some(16), Some(24), "10.1.0.0/16", true),
            ("10.0.0.0/8", Some(16), Some(24), "10.1.2.0/24", true),
            ("10.0.0.0/8", Some(16), Some(24), "10.1.2.0/25", false),
            ("10.0.0.0/8", Some(16), Some(24), "10.0.0.0/12", false),
            ("0.0.0.0/0", None, None, "0.0.0.0/0", true),
            ("0.0.0.0/0", None, Some(32), "192.0.2.0/24", true),
            ("0.0.0.0/0", None, Some(32), "2001:db8::/32", false),
            ("2001:db8::/32", Some(48), Some(64), "2001:db8:1::/48", true),
            ("2001:db8::/32", Some(48), Some(64), "2001:db9::/48", false),
        ];
        for (i, (p, ge, le, route, want)) in rows.iter().enumerate() {
            let e = entry(5, P, p, *ge, *le);
            assert_eq!(
                e.matches(&net(route)),
                *want,
                "row {i}: {p} ge {ge:?} le {le:?} vs {route}"
            );
        }
    }

    #[test]
    fn ios_range_errors() {
        let p = net("10.0.0.0/8");
        assert!(matches!(
            PrefixListEntry::ios(1, Action::Permit, p, Some(8), None),
            Err(PrefixRangeError::GeTooShort { .. })
        ));
        assert!(matches!(
            PrefixListEntry::ios(1, Action::Permit, p, None, Some(8)),
            Err(PrefixRangeError::LeTooShort { .. })
        ));
        assert!(matches!(
            PrefixListEntry::ios(1, Action::Permit, p, Some(24), Some(16)),
            Err(PrefixRangeError::GeAboveLe { .. })
        ));
        assert!(matches!(
            PrefixListEntry::ios(1, Action::Permit, p, Some(33), None),
            Err(PrefixRangeError::TooLong { .. })
        ));
        assert!(matches!(
            PrefixListEntry::ios(1, Action::Permit, net("10.1.0.0/8"), None, None),
            Err(PrefixRangeError::HostBits { .. })
        ));
    }

    #[test]
    fn first_match_wins_and_implicit_deny() {
        let l = PrefixList::new(
            "L",
            vec![
                entry(10, Action::Permit, "10.0.0.0/8", None, Some(32)),
                entry(5, Action::Deny, "10.1.0.0/16", None, Some(32)),
            ],
        );
        assert!(!l.permits(&net("10.1.2.0/24")), "seq 5 deny comes first");
        assert!(l.permits(&net("10.2.0.0/16")));
        assert!(!l.permits(&net("192.0.2.0/24")), "implicit deny");
    }

    #[test]
    fn indexed_lists_agree_with_scanning() {
        let mut entries = Vec::new();
        for i in 0..200u32 {
            let p = format!("10.{}.0.0/16", i);
            let a = if i % 3 == 0 {
                Action::Deny
            } else {
                Action::Permit
            };
            entries.push(entry(i * 5 + 5, a, &p, None, Some(24)));
        }
        entries.push(entry(2000, Action::Permit, "10.0.0.0/8", None, Some(32)));
        entries.push(entry(1, Action::Deny, "10.7.7.0/24", None, None));
        let indexed = PrefixList::new("big", entries.clone());
        assert!(indexed.index.is_some());
        let scan = |p: &IpNet| {
            let mut es = entries.clone();
            es.sort_by_key(|e| e.seq);
            es.iter()
                .find(|e| e.matches(p))
                .is_some_and(|e| e.action == Action::Permit)
        };
        for route in [
            "10.0.0.0/16",
            "10.1.0.0/16",
            "10.3.5.0/24",
            "10.3.5.0/25",
            "10.7.7.0/24",
            "10.7.7.0/25",
            "10.250.0.0/16",
            "11.0.0.0/8",
            "10.0.0.0/8",
        ] {
            let r = net(route);
            assert_eq!(indexed.permits(&r), scan(&r), "{route}");
        }
    }

    fn comms(v: &[&str]) -> Communities {
        Communities::new(v.iter().map(|s| s.parse::<Community>().unwrap()))
    }

    #[test]
    fn standard_community_entries_need_all_values() {
        let l = CommunityList::new(
            "C",
            vec![SetListEntry {
                action: Action::Permit,
                matcher: SetMatcher::standard(
                    vec!["65001:1".parse().unwrap(), "no-export".parse().unwrap()],
                    false,
                ),
            }],
        );
        assert!(l.permits(&comms(&["65001:1", "no-export", "65001:9"]), false));
        assert!(!l.permits(&comms(&["65001:1"]), false));
        assert!(
            !l.permits(&comms(&["65001:1", "no-export", "65001:9"]), true),
            "exact-match"
        );
        assert!(l.permits(&comms(&["no-export", "65001:1"]), true));
        let internet = CommunityList::new(
            "I",
            vec![SetListEntry {
                action: Action::Permit,
                matcher: SetMatcher::standard(vec![], true),
            }],
        );
        assert!(internet.permits(&comms(&[]), false));
        assert!(internet.permits(&comms(&["1:1"]), false));
    }

    #[test]
    fn expanded_community_entries_match_the_text() {
        let l = CommunityList::new(
            "E",
            vec![
                SetListEntry {
                    action: Action::Deny,
                    matcher: SetMatcher::expanded("^65001:666$").unwrap(),
                },
                SetListEntry {
                    action: Action::Permit,
                    matcher: SetMatcher::expanded("_65001:[0-9]+_").unwrap(),
                },
            ],
        );
        assert!(l.permits(&comms(&["65001:5"]), false));
        assert!(l.permits(&comms(&["1:1", "65001:5", "65002:1"]), false));
        assert!(!l.permits(&comms(&["65001:666"]), false));
        assert!(!l.permits(&comms(&["165:1", "5:65001"]), false));
        assert!(!l.permits(&comms(&["65002:1"]), false));
        // The well-known values are matched by their numeric text.
        let ne = CommunityList::new(
            "N",
            vec![SetListEntry {
                action: Action::Permit,
                matcher: SetMatcher::expanded("65535:65281").unwrap(),
            }],
        );
        assert!(ne.permits(&comms(&["no-export"]), false));
        // exact-match: the regex must cover the whole text.
        assert!(!l.permits(&comms(&["1:1", "65001:5"]), true));
        assert!(l.permits(&comms(&["65001:5"]), true));
    }

    #[test]
    fn comm_list_delete_judges_each_value() {
        let l = CommunityList::new(
            "D",
            vec![
                SetListEntry {
                    action: Action::Deny,
                    matcher: SetMatcher::expanded("^65001:1$").unwrap(),
                },
                SetListEntry {
                    action: Action::Permit,
                    matcher: SetMatcher::expanded("^65001:").unwrap(),
                },
            ],
        );
        let out = l.delete_from(&comms(&["65001:1", "65001:2", "65002:3"]));
        assert_eq!(out, comms(&["65001:1", "65002:3"]));
    }

    #[test]
    fn ext_and_large_lists() {
        let rt: ExtCommunity = "rt 65000:1".parse().unwrap();
        let soo: ExtCommunity = "soo 65000:2".parse().unwrap();
        let l = ExtCommunityList::new(
            "X",
            vec![SetListEntry {
                action: Action::Permit,
                matcher: SetMatcher::standard(vec![rt], false),
            }],
        );
        assert!(l.permits(&AttrSet::new([rt, soo]), false));
        assert!(!l.permits(&AttrSet::new([soo]), false));
        let x = ExtCommunityList::new(
            "XR",
            vec![SetListEntry {
                action: Action::Permit,
                matcher: SetMatcher::expanded("^RT:65000:").unwrap(),
            }],
        );
        assert!(x.permits(&AttrSet::new([rt]), false));
        let big: LargeCommunity = "65000:1:2".parse().unwrap();
        let ll = LargeCommunityList::new(
            "L",
            vec![SetListEntry {
                action: Action::Permit,
                matcher: SetMatcher::expanded("^65000:1:").unwrap(),
            }],
        );
        assert!(ll.permits(&AttrSet::new([big]), false));
    }

    #[test]
    fn as_path_list_first_match() {
        let l = AsPathList::new(
            "1",
            vec![
                AsPathEntry {
                    action: Action::Deny,
                    regex: AsPathRegex::ios("_666_").unwrap(),
                },
                AsPathEntry {
                    action: Action::Permit,
                    regex: AsPathRegex::ios("^65002_").unwrap(),
                },
            ],
        );
        assert!(l.permits(&AsPath::from_sequence(vec![65002, 1])));
        assert!(!l.permits(&AsPath::from_sequence(vec![65002, 666])));
        assert!(!l.permits(&AsPath::from_sequence(vec![1])));
    }
}
