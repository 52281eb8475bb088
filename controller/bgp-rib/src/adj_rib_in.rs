//! Adj-RIB-In: per neighbor, what it announces to us that the caller's RIB does not say.
//!
//! The routes import policy accepted are in the caller's RIB, as the neighbor's candidates
//! (the RIB lists them: `Rib::peer_prefixes`, `Rib::peer_vpn_keys`), so they are not kept here
//! a second time — a full table's keys were a hash table of a million entries beside the RIB's
//! own, and a probe of it per route. Kept here: how many of the neighbor's routes the RIB holds
//! (the caller reports what each RIB call added or removed), the keys import policy refused
//! (received, so counted and listed, but in no RIB), and during a graceful restart the keys
//! not re-announced yet. With soft reconfiguration inbound (`AdjRibIn::new(true)`) also the
//! received path *before* import policy, so a changed route-map can be re-applied to everything
//! the neighbor sent without asking it for a ROUTE-REFRESH — at the price of one key + label +
//! `Arc` per route (the attribute sets themselves are shared through the interner).
//!
//! **Layout.** The refused and stale keys can be a full table too (a route-map that refuses
//! everything, a restart), so they are packed: an IPv4 prefix into 5 octets with one octet of
//! marks, in hash tables (seeded multiply-fold hash), 7 octets a bucket; a VPNv4 RD:prefix
//! likewise in one such table per RD (`Vpn4Marks`). Other families (IPv6, VPNv6) keep the plain
//! [`Nlri`] key. On the UPDATE path of a neighbor whose routes are accepted the tables are empty
//! and never probed. The few callers that list keys (show commands, stale flush) get them
//! sorted.
//!
//! Graceful restart (RFC 4724 §4.2, helper side): when the neighbor's session drops, the caller
//! hands [`mark_stale`](AdjRibIn::mark_stale) the neighbor's routes of a family it preserves,
//! which stay in the RIB; each re-announcement clears the mark, and at its End-of-RIB (or when
//! the restart timer fires) [`flush_stale`](AdjRibIn::flush_stale) returns what it did not
//! re-announce.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::Ipv4Addr;
use std::sync::Arc;

use bgp::Family;
use ipnet::{IpNet, Ipv4Net};
use policy::Attrs;
use vpn_types::{AdminValue, RouteDistinguisher};

use crate::{Announcement, Inbound, Nlri};

/// Import policy refused the route: received, but in no RIB ([`AdjRibIn::refused`]).
const REFUSED: u8 = 1;
/// Graceful restart: not re-announced since the session dropped.
const STALE: u8 = 2;

/// A hasher for the packed keys: each word is folded into the state by a 64×64→128-bit
/// multiply, starting from a per-process random seed (so a neighbor cannot pick prefixes
/// that collide in every router), at a fraction of SipHash's cost per key.
#[derive(Clone, Copy)]
struct FoldHasher(u64);

const MUL: u64 = 0x9E37_79B9_7F4A_7C15;

impl FoldHasher {
    #[inline]
    fn mix(&mut self, v: u64) {
        let r = u128::from(self.0 ^ v) * u128::from(MUL);
        self.0 = (r as u64) ^ ((r >> 64) as u64);
    }
}

impl Hasher for FoldHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            self.mix(u64::from_le_bytes(w));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.mix(i.into())
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.mix(i.into())
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.mix(i.into())
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.mix(i)
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.mix(i as u64)
    }
}

/// Builds [`FoldHasher`]s from one random seed per table.
#[derive(Clone, Copy)]
struct Seeded(u64);

impl Default for Seeded {
    fn default() -> Self {
        Seeded(RandomState::new().hash_one(0x5eed_u64) | 1)
    }
}

impl std::fmt::Debug for Seeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seeded")
    }
}

impl BuildHasher for Seeded {
    type Hasher = FoldHasher;
    #[inline]
    fn build_hasher(&self) -> FoldHasher {
        FoldHasher(self.0)
    }
}

/// A route key as stored: packed for the big families, [`Nlri`] for the others.
trait Key: Copy + Eq + Hash {
    fn pack(n: &Nlri) -> Option<Self>;
    fn unpack(&self) -> Nlri;
}

/// An IPv4 unicast prefix: address and length, 5 octets (alignment 1, so a slot with its
/// marks is 6).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct V4([u8; 5]);

impl Hash for V4 {
    #[inline]
    fn hash<H: Hasher>(&self, h: &mut H) {
        let b = self.0;
        h.write_u64(u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], 0, 0, 0]));
    }
}

fn pack_v4(p: &Ipv4Net) -> [u8; 5] {
    let a = p.addr().octets();
    [a[0], a[1], a[2], a[3], p.prefix_len()]
}

fn unpack_v4(b: &[u8]) -> IpNet {
    let addr = Ipv4Addr::new(b[0], b[1], b[2], b[3]);
    IpNet::V4(Ipv4Net::new(addr, b[4]).expect("packed from a valid prefix"))
}

impl Key for V4 {
    #[inline]
    fn pack(n: &Nlri) -> Option<Self> {
        match n {
            Nlri::Unicast(IpNet::V4(p)) => Some(V4(pack_v4(p))),
            _ => None,
        }
    }
    fn unpack(&self) -> Nlri {
        Nlri::Unicast(unpack_v4(&self.0))
    }
}

/// A VPNv4 RD:prefix: the RD's type (0, 1, 2) and its six value octets, then the prefix as
/// in [`V4`]; 12 octets.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Vpn4([u8; 12]);

impl Hash for Vpn4 {
    #[inline]
    fn hash<H: Hasher>(&self, h: &mut H) {
        let b = self.0;
        h.write_u64(u64::from_le_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]));
        h.write_u32(u32::from_le_bytes([b[8], b[9], b[10], b[11]]));
    }
}

impl Key for Vpn4 {
    #[inline]
    fn pack(n: &Nlri) -> Option<Self> {
        let Nlri::Vpn {
            rd,
            prefix: IpNet::V4(p),
        } = n
        else {
            return None;
        };
        let mut b = [0u8; 12];
        b[0] = rd.0.type_code() as u8;
        b[1..7].copy_from_slice(&rd.0.value_bytes());
        b[7..].copy_from_slice(&pack_v4(p));
        Some(Vpn4(b))
    }
    fn unpack(&self) -> Nlri {
        let b = &self.0;
        let v = &b[1..7];
        let admin = match b[0] {
            0 => AdminValue::As2 {
                asn: u16::from_be_bytes([v[0], v[1]]),
                value: u32::from_be_bytes([v[2], v[3], v[4], v[5]]),
            },
            1 => AdminValue::Ipv4 {
                addr: Ipv4Addr::new(v[0], v[1], v[2], v[3]),
                value: u16::from_be_bytes([v[4], v[5]]),
            },
            _ => AdminValue::As4 {
                asn: u32::from_be_bytes([v[0], v[1], v[2], v[3]]),
                value: u16::from_be_bytes([v[4], v[5]]),
            },
        };
        Nlri::Vpn {
            rd: RouteDistinguisher(admin),
            prefix: unpack_v4(&b[7..]),
        }
    }
}

impl Key for Nlri {
    #[inline]
    fn pack(n: &Nlri) -> Option<Self> {
        Some(*n)
    }
    fn unpack(&self) -> Nlri {
        *self
    }
}

/// Keys of one layout → marks.
type Marks<K> = HashMap<K, u8, Seeded>;

/// A table's keys with their marks (what [`Vpn4Marks::iter`] gives for the VPNv4 table).
fn pairs<K: Copy>(m: &Marks<K>) -> impl Iterator<Item = (K, u8)> + '_ {
    m.iter().map(|(k, f)| (*k, *f))
}

/// Appends the keys whose marks satisfy `pred` (and whose family is `family`, if given) to
/// `out`.
fn collect<K: Key>(
    keys: impl Iterator<Item = (K, u8)>,
    family: Option<Family>,
    pred: impl Fn(u8) -> bool,
    out: &mut Vec<Nlri>,
) {
    out.extend(
        keys.filter(|(_, f)| pred(*f))
            .map(|(k, _)| k.unpack())
            .filter(|n| family.is_none_or(|fam| n.family() == fam)),
    );
}

/// VPNv4 keys → marks, one table of prefixes per RD. A million VPN routes in one table of
/// 12-octet keys took 2^21 buckets of 14 octets (29 MB, the table having just doubled); per
/// RD the keys are the 5-octet prefixes, 7 octets a bucket, and a table doubles alone.
#[derive(Clone, Debug, Default)]
struct Vpn4Marks {
    /// The RD's type and value octets → its prefixes.
    by_rd: HashMap<[u8; 7], Marks<V4>, Seeded>,
    len: usize,
}

impl Vpn4Marks {
    fn split(key: &Vpn4) -> ([u8; 7], V4) {
        let b = &key.0;
        (
            b[..7].try_into().expect("7 octets"),
            V4(b[7..].try_into().expect("5 octets")),
        )
    }

    fn join(rd: &[u8; 7], prefix: &V4) -> Vpn4 {
        let mut b = [0u8; 12];
        b[..7].copy_from_slice(rd);
        b[7..].copy_from_slice(&prefix.0);
        Vpn4(b)
    }

    fn len(&self) -> usize {
        self.len
    }

    fn get(&self, key: &Vpn4) -> Option<u8> {
        let (rd, prefix) = Self::split(key);
        self.by_rd.get(&rd)?.get(&prefix).copied()
    }

    fn remove(&mut self, key: &Vpn4) -> Option<u8> {
        let (rd, prefix) = Self::split(key);
        let prefixes = self.by_rd.get_mut(&rd)?;
        let marks = prefixes.remove(&prefix)?;
        self.len -= 1;
        if prefixes.is_empty() {
            self.by_rd.remove(&rd);
        }
        Some(marks)
    }

    fn iter(&self) -> impl Iterator<Item = (Vpn4, u8)> + '_ {
        self.by_rd.iter().flat_map(|(rd, prefixes)| {
            prefixes
                .iter()
                .map(move |(prefix, marks)| (Self::join(rd, prefix), *marks))
        })
    }

    fn values(&self) -> impl Iterator<Item = &u8> + '_ {
        self.by_rd.values().flat_map(|prefixes| prefixes.values())
    }

    fn values_mut(&mut self) -> impl Iterator<Item = &mut u8> + '_ {
        self.by_rd
            .values_mut()
            .flat_map(|prefixes| prefixes.values_mut())
    }
}

/// What the Adj-RIB-In does to its tables of keys → marks, whichever way one stores them.
trait MarkTable<K> {
    /// Sets `marks` on `key`, adding it if it is not there.
    fn mark(&mut self, key: K, marks: u8);
    fn remove_key(&mut self, key: &K) -> Option<u8>;
    fn is_empty(&self) -> bool;
}

impl<K: Key> MarkTable<K> for Marks<K> {
    fn mark(&mut self, key: K, marks: u8) {
        *self.entry(key).or_insert(0) |= marks;
    }
    fn remove_key(&mut self, key: &K) -> Option<u8> {
        self.remove(key)
    }
    fn is_empty(&self) -> bool {
        HashMap::is_empty(self)
    }
}

impl MarkTable<Vpn4> for Vpn4Marks {
    fn mark(&mut self, key: Vpn4, marks: u8) {
        let (rd, prefix) = Self::split(&key);
        let table = self.by_rd.entry(rd).or_default();
        let len = table.len();
        *table.entry(prefix).or_insert(0) |= marks;
        self.len += table.len() - len;
    }
    fn remove_key(&mut self, key: &Vpn4) -> Option<u8> {
        self.remove(key)
    }
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What an UPDATE changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InChanges {
    /// Every route announced (new, changed, or re-announced unchanged): the caller runs
    /// import policy on each.
    pub announced: Vec<Announcement>,
    /// Routes withdrawn that may be in the caller's RIB: every withdrawn key but those import
    /// policy refused (and those announced again in the same UPDATE). The caller takes each
    /// out of its RIB (a no-op for a key it does not hold) and reports what went
    /// ([`AdjRibIn::removed`]).
    pub withdrawn: Vec<Nlri>,
}

/// What one neighbor announces to us beyond what the caller's RIB holds of it.
#[derive(Clone, Debug, Default)]
pub struct AdjRibIn {
    soft_reconfig: bool,
    /// IPv4 unicast keys refused or stale → marks.
    v4: Marks<V4>,
    /// VPNv4 keys refused or stale → marks.
    vpn4: Vpn4Marks,
    /// Every other family's keys refused or stale → marks.
    other: Marks<Nlri>,
    /// The pre-policy paths (label, attributes), only with soft reconfiguration; in key
    /// order, which re-applying policy and `received-routes` list them in.
    paths: BTreeMap<Nlri, (Option<u32>, Arc<Attrs>)>,
    /// How many of the neighbor's routes the caller's RIB holds (accepted by import policy).
    accepted: usize,
    /// How many keys are refused (marked [`REFUSED`]).
    refused: usize,
}

/// Runs `$body` with `$m` bound to the table `$n` belongs in.
macro_rules! with_table {
    ($self:expr, $n:expr, |$m:ident, $k:ident| $body:expr) => {
        match $n {
            Nlri::Unicast(IpNet::V4(p)) => {
                let ($m, $k) = (&mut $self.v4, V4(pack_v4(p)));
                $body
            }
            n @ Nlri::Vpn {
                prefix: IpNet::V4(_),
                ..
            } => {
                let ($m, $k) = (&mut $self.vpn4, Vpn4::pack(n).expect("VPNv4"));
                $body
            }
            n => {
                let ($m, $k) = (&mut $self.other, *n);
                $body
            }
        }
    };
}

impl AdjRibIn {
    /// `soft_reconfig`: keep the received paths before policy (`soft-reconfiguration inbound`).
    pub fn new(soft_reconfig: bool) -> Self {
        AdjRibIn {
            soft_reconfig,
            ..Default::default()
        }
    }

    pub fn soft_reconfig(&self) -> bool {
        self.soft_reconfig
    }

    /// Whether no key is marked (no table to probe).
    fn nothing_marked(&self) -> bool {
        MarkTable::is_empty(&self.v4)
            && MarkTable::is_empty(&self.vpn4)
            && MarkTable::is_empty(&self.other)
    }

    /// Forgets a key's marks (if it has any); returns them.
    fn unmark(&mut self, n: &Nlri) -> Option<u8> {
        if self.nothing_marked() {
            return None;
        }
        let marks = with_table!(self, n, |m, k| m.remove_key(&k))?;
        if marks & REFUSED != 0 {
            self.refused -= 1;
        }
        Some(marks)
    }

    /// Applies one decoded UPDATE: withdrawals first, then announcements (so a key in both
    /// ends up announced, as RFC 4271 §9 processes the fields). The announced routes are
    /// `inbound`'s: the caller runs import policy on each and reports the verdict
    /// ([`Self::accepted`], [`Self::refused`]).
    pub fn apply(&mut self, inbound: &Inbound) -> InChanges {
        InChanges {
            withdrawn: self.apply_update(inbound),
            announced: inbound.announcements().collect(),
        }
    }

    /// [`Self::apply`] without the list of announcements (the caller walks
    /// [`Inbound::reach`], one attribute set at a time, instead of a copy per route): returns
    /// the withdrawn routes that may be in the caller's RIB ([`InChanges::withdrawn`]).
    pub fn apply_update(&mut self, inbound: &Inbound) -> Vec<Nlri> {
        let mut withdrawn = Vec::with_capacity(inbound.withdrawn.len());
        for n in &inbound.withdrawn {
            if self.soft_reconfig {
                self.paths.remove(n);
            }
            if self.unmark(n).is_none_or(|marks| marks & REFUSED == 0) {
                withdrawn.push(*n);
            }
        }
        for r in &inbound.reach {
            for (n, label) in &r.routes {
                // Announced again: no longer stale, and policy's verdict comes anew.
                self.unmark(n);
                if self.soft_reconfig {
                    self.paths.insert(*n, (*label, r.attrs.clone()));
                }
            }
        }
        // A key withdrawn and announced in the same UPDATE is only announced: import policy
        // on the new path replaces it in the caller's RIB or takes it out.
        if !withdrawn.is_empty() && inbound.reach.iter().any(|r| !r.routes.is_empty()) {
            let announced: std::collections::HashSet<Nlri> = inbound
                .reach
                .iter()
                .flat_map(|r| r.routes.iter().map(|(n, _)| *n))
                .collect();
            withdrawn.retain(|n| !announced.contains(n));
        }
        withdrawn
    }

    /// Import policy accepted `routes`, and the caller's RIB took them: `added` of them were
    /// not there before (the rest replaced the neighbor's earlier route for their key).
    pub fn accepted<'a>(&mut self, added: usize, routes: impl IntoIterator<Item = &'a Nlri>) {
        self.accepted += added;
        if !self.nothing_marked() {
            for n in routes {
                self.unmark(n);
            }
        }
    }

    /// Import policy refused a received route (or it is of a family this neighbor does not
    /// bring into the RIB): counted and listed as received, in no RIB. The caller takes any
    /// earlier version out of its RIB and reports it ([`Self::removed`]).
    pub fn refused(&mut self, n: &Nlri) {
        let marks = with_table!(self, n, |m, k| {
            let marks = m.remove_key(&k).unwrap_or(0);
            m.mark(k, REFUSED);
            marks
        });
        if marks & REFUSED == 0 {
            self.refused += 1;
        }
    }

    /// The caller's RIB dropped `count` of the neighbor's routes (withdrawn, refused now,
    /// flushed as stale).
    pub fn removed(&mut self, count: usize) {
        debug_assert!(count <= self.accepted, "more removed than the RIB held");
        self.accepted = self.accepted.saturating_sub(count);
    }

    /// Routes import policy accepted (the neighbor's routes in the caller's RIB).
    pub fn accepted_len(&self) -> usize {
        self.accepted
    }

    /// Routes import policy refused.
    pub fn refused_len(&self) -> usize {
        self.refused
    }

    /// The keys (of `family`, or all) whose marks satisfy `pred`, in key order.
    fn sorted(&self, family: Option<Family>, pred: impl Fn(u8) -> bool + Copy) -> Vec<Nlri> {
        let mut out = Vec::new();
        if family.is_none_or(|f| f == Family::Ipv4Unicast) {
            collect(pairs(&self.v4), None, pred, &mut out);
        }
        if family.is_none_or(|f| f == Family::Vpnv4) {
            collect(self.vpn4.iter(), None, pred, &mut out);
        }
        collect(pairs(&self.other), family, pred, &mut out);
        out.sort_unstable();
        out
    }

    /// The refused routes' keys, in key order.
    pub fn iter_refused(&self) -> impl Iterator<Item = Nlri> {
        self.sorted(None, |f| f & REFUSED != 0).into_iter()
    }

    /// The received paths before policy (empty without soft reconfiguration), in key order:
    /// what to re-run import policy on after it changed.
    pub fn iter_pre_policy(&self) -> impl Iterator<Item = Announcement> + '_ {
        self.paths.iter().map(|(n, (label, attrs))| Announcement {
            nlri: *n,
            label: *label,
            attrs: attrs.clone(),
        })
    }

    /// Graceful restart: the neighbor's session dropped; its routes of `family` in the
    /// caller's RIB (`in_rib`, as the RIB lists them) stay there but are marked stale, and so
    /// are its refused ones of that family.
    pub fn mark_stale(&mut self, family: Family, in_rib: impl IntoIterator<Item = Nlri>) {
        for n in in_rib {
            debug_assert_eq!(n.family(), family);
            with_table!(self, &n, |m, k| m.mark(k, STALE));
        }
        match family {
            Family::Ipv4Unicast => self.v4.values_mut().for_each(|f| *f |= STALE),
            Family::Vpnv4 => self.vpn4.values_mut().for_each(|f| *f |= STALE),
            _ => self
                .other
                .iter_mut()
                .filter(|(n, _)| n.family() == family)
                .for_each(|(_, f)| *f |= STALE),
        }
    }

    /// Forgets the keys of `family` still stale (not re-announced since
    /// [`mark_stale`](Self::mark_stale)) and returns those in the caller's RIB (not refused),
    /// in key order, for the caller to withdraw (and report, [`Self::removed`]).
    pub fn flush_stale(&mut self, family: Family) -> Vec<Nlri> {
        let stale = self.sorted(Some(family), |f| f & STALE != 0);
        let mut gone = Vec::new();
        for n in stale {
            if self.unmark(&n).is_some_and(|f| f & REFUSED == 0) {
                gone.push(n);
            }
        }
        gone
    }

    /// Number of stale routes (all families).
    pub fn stale_len(&self) -> usize {
        let stale = |f: &u8| f & STALE != 0;
        self.v4.values().filter(|f| stale(f)).count()
            + self.vpn4.values().filter(|f| stale(f)).count()
            + self.other.values().filter(|f| stale(f)).count()
    }

    /// Session down without graceful restart: forgets everything. The caller takes the
    /// neighbor's routes out of its RIB (the RIB lists them); none is counted here any more.
    pub fn clear(&mut self) {
        *self = AdjRibIn::new(self.soft_reconfig);
    }

    /// Whether import policy refused this received route.
    pub fn is_refused(&self, nlri: &Nlri) -> bool {
        let marks = match nlri {
            Nlri::Unicast(IpNet::V4(p)) => self.v4.get(&V4(pack_v4(p))).copied(),
            n @ Nlri::Vpn {
                prefix: IpNet::V4(_),
                ..
            } => Vpn4::pack(n).and_then(|k| self.vpn4.get(&k)),
            n => self.other.get(n).copied(),
        };
        marks.is_some_and(|f| f & REFUSED != 0)
    }

    /// Routes received: those in the caller's RIB and those refused.
    pub fn len(&self) -> usize {
        self.accepted + self.refused
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Reach;
    use policy::SourceProtocol;

    fn v4(s: &str) -> Nlri {
        Nlri::unicast(s.parse().unwrap())
    }

    fn inbound(announce: &[&str], withdraw: &[&str]) -> Inbound {
        Inbound {
            reach: vec![Reach {
                attrs: Arc::new(Attrs::new(SourceProtocol::Bgp)),
                routes: announce.iter().map(|s| (v4(s), None)).collect(),
            }],
            withdrawn: withdraw.iter().map(|s| v4(s)).collect(),
            ignored: 0,
        }
    }

    #[test]
    fn withdrawals_go_to_the_rib_and_announce_wins_over_withdraw() {
        let mut rib = AdjRibIn::new(false);
        let c = rib.apply(&inbound(&["10.0.0.0/8", "10.1.0.0/16"], &["10.9.0.0/16"]));
        assert_eq!(c.announced.len(), 2);
        // Unknown here: the caller's RIB decides (a no-op there).
        assert_eq!(c.withdrawn, vec![v4("10.9.0.0/16")]);
        rib.accepted(2, &[v4("10.0.0.0/8"), v4("10.1.0.0/16")]);
        assert_eq!((rib.len(), rib.accepted_len()), (2, 2));
        let c = rib.apply(&inbound(&["10.0.0.0/8"], &["10.0.0.0/8", "10.1.0.0/16"]));
        // Withdrawn and announced at once: only announced; policy on the new path decides.
        assert_eq!(c.withdrawn, vec![v4("10.1.0.0/16")]);
        assert_eq!(c.announced.len(), 1);
        rib.removed(1);
        rib.accepted(0, &[v4("10.0.0.0/8")]);
        assert_eq!((rib.len(), rib.accepted_len()), (1, 1));
        // Without soft reconfiguration no path is kept, and nothing is marked.
        assert_eq!(rib.iter_pre_policy().count(), 0);
        assert!(rib.nothing_marked());
    }

    #[test]
    fn refused_routes_are_received_but_never_withdrawn_from_the_rib() {
        let (a, b, c) = (v4("10.0.0.0/8"), v4("10.1.0.0/16"), v4("10.2.0.0/16"));
        let mut rib = AdjRibIn::new(false);
        rib.apply(&inbound(&["10.0.0.0/8", "10.1.0.0/16", "10.2.0.0/16"], &[]));
        rib.accepted(2, &[a, b]);
        rib.refused(&c);
        assert_eq!(
            (rib.len(), rib.accepted_len(), rib.refused_len()),
            (3, 2, 1)
        );
        assert!(rib.is_refused(&c) && !rib.is_refused(&a));
        // Re-announced and refused now: the caller takes it out of its RIB.
        rib.apply(&inbound(&["10.1.0.0/16"], &[]));
        rib.refused(&b);
        rib.removed(1);
        assert_eq!(
            (rib.len(), rib.accepted_len(), rib.refused_len()),
            (3, 1, 2)
        );
        assert_eq!(rib.iter_refused().collect::<Vec<_>>(), [b, c]);
        // Refused routes are in no RIB: their withdrawal is not the caller's.
        let w = rib.apply(&inbound(&[], &["10.1.0.0/16", "10.2.0.0/16"]));
        assert!(w.withdrawn.is_empty());
        assert_eq!((rib.len(), rib.refused_len()), (1, 0));
        // Refused twice counts once; accepted later, it is no longer refused.
        rib.apply(&inbound(&["10.2.0.0/16"], &[]));
        rib.refused(&c);
        rib.refused(&c);
        assert_eq!(rib.refused_len(), 1);
        rib.accepted(1, &[c]);
        assert_eq!(
            (rib.len(), rib.accepted_len(), rib.refused_len()),
            (2, 2, 0)
        );
        rib.clear();
        assert!(rib.is_empty() && rib.nothing_marked());
    }

    #[test]
    fn soft_reconfiguration_keeps_the_pre_policy_paths() {
        let mut rib = AdjRibIn::new(true);
        let inb = inbound(&["10.0.0.0/8", "10.1.0.0/16"], &[]);
        rib.apply(&inb);
        let pre: Vec<Announcement> = rib.iter_pre_policy().collect();
        assert_eq!(pre.len(), 2);
        assert!(Arc::ptr_eq(&pre[0].attrs, &inb.reach[0].attrs));
        // Kept before policy whether or not policy accepted them; only one was.
        rib.accepted(1, &[v4("10.1.0.0/16")]);
        rib.refused(&v4("10.0.0.0/8"));
        assert_eq!(rib.len(), 2);
        rib.apply(&inbound(&[], &["10.0.0.0/8"]));
        assert_eq!(rib.iter_pre_policy().count(), 1);
        rib.clear();
        assert!(rib.is_empty());
        assert!(rib.soft_reconfig());
    }

    #[test]
    fn graceful_restart_flushes_only_what_was_not_re_announced_in_that_family() {
        let (a, b, c, e) = (
            v4("10.0.0.0/8"),
            v4("10.1.0.0/16"),
            v4("10.2.0.0/16"),
            v4("10.4.0.0/16"),
        );
        let d = Nlri::unicast("2001:db8::/32".parse().unwrap());
        let mut rib = AdjRibIn::new(false);
        rib.apply(&inbound(
            &["10.0.0.0/8", "10.1.0.0/16", "10.2.0.0/16", "10.4.0.0/16"],
            &[],
        ));
        let v6 = Inbound {
            reach: vec![Reach {
                attrs: Arc::new(Attrs::new(SourceProtocol::Bgp)),
                routes: vec![(d, None)],
            }],
            ..Inbound::default()
        };
        rib.apply(&v6);
        rib.accepted(4, &[a, b, c, d]);
        rib.refused(&e);
        // The session drops: the RIB lists the neighbor's IPv4 routes, kept as stale.
        rib.mark_stale(Family::Ipv4Unicast, [a, b, c]);
        assert_eq!(rib.stale_len(), 4, "the refused one is stale too");
        let w = rib.apply(&inbound(&["10.1.0.0/16"], &["10.2.0.0/16"]));
        assert_eq!(
            w.withdrawn,
            vec![c],
            "a stale route is in the RIB: its withdrawal goes there"
        );
        rib.removed(1);
        rib.accepted(0, &[b]);
        assert_eq!(rib.stale_len(), 2);
        // At End-of-RIB: the stale route in the RIB goes; the stale refused one is forgotten.
        assert_eq!(rib.flush_stale(Family::Ipv4Unicast), vec![a]);
        rib.removed(1);
        assert!(rib.flush_stale(Family::Ipv6Unicast).is_empty());
        assert_eq!(
            (rib.len(), rib.accepted_len(), rib.refused_len()),
            (2, 2, 0)
        );
        assert_eq!(rib.stale_len(), 0);
        assert!(rib.nothing_marked());
    }

    proptest::proptest! {
        /// The per-RD VPNv4 table holds what one map of whole keys would: marks set, keys
        /// removed and read over a few RDs, the count, and the keys listed back.
        #[test]
        fn vpn4_keys_per_rd_behave_like_one_map(
            ops in proptest::collection::vec((0u8..4, 0u8..30, 0u8..4), 0..400)
        ) {
            use std::collections::BTreeMap;
            let mut table = Vpn4Marks::default();
            let mut model: BTreeMap<[u8; 12], u8> = BTreeMap::new();
            for (rd, prefix, op) in ops {
                let mut b = [0u8; 12];
                b[2] = rd;
                b[7] = 10;
                b[10] = prefix;
                b[11] = 24;
                let key = Vpn4(b);
                match op {
                    0 => {
                        table.mark(key, STALE);
                        *model.entry(b).or_insert(0) |= STALE;
                    }
                    1 => proptest::prop_assert_eq!(table.remove_key(&key), model.remove(&b)),
                    2 => {
                        table.mark(key, REFUSED);
                        *model.entry(b).or_insert(0) |= REFUSED;
                    }
                    _ => proptest::prop_assert_eq!(table.get(&key), model.get(&b).copied()),
                }
                proptest::prop_assert_eq!(table.len(), model.len());
                proptest::prop_assert_eq!(MarkTable::is_empty(&table), model.is_empty());
                proptest::prop_assert_eq!(table.by_rd.values().all(|m| !m.is_empty()), true);
            }
            let mut listed: Vec<([u8; 12], u8)> = table.iter().map(|(k, m)| (k.0, m)).collect();
            listed.sort();
            let expected: Vec<([u8; 12], u8)> = model.into_iter().collect();
            proptest::prop_assert_eq!(listed, expected);
        }
    }
}
