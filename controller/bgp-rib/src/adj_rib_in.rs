//! Adj-RIB-In: per neighbor, which routes it currently announces to us.
//!
//! Always kept: the keys, and whether import policy let each into the caller's RIB (so a
//! session that goes down, or a graceful restart that ends, knows what to withdraw from the
//! RIB, and the caller needs no second set of keys). With soft reconfiguration inbound
//! (`AdjRibIn::new(true)`) also the received path *before* import policy, so a changed
//! route-map can be re-applied to everything the neighbor sent without asking it for a
//! ROUTE-REFRESH — at the price of one key + label + `Arc` per route (the attribute sets
//! themselves are shared through the interner).
//!
//! **Layout.** Without soft reconfiguration a route here is only a key and two marks, and a
//! full table is hundreds of thousands of them, so the keys are packed: an IPv4 prefix into
//! 5 octets with one octet of marks, in hash tables (seeded multiply-fold hash), 7 octets a
//! bucket; a VPNv4 RD:prefix likewise in one such table per RD (`Vpn4Marks`), where a
//! B-tree of [`Nlri`] and a path-sized value took about 100 octets a route, and one table of
//! 12-octet keys 14 a bucket. Other families (IPv6, VPNv6) keep the
//! plain [`Nlri`] key. Nothing here needs key order on the UPDATE path; the few callers that
//! list keys (show commands, session down, stale flush) get them sorted.
//!
//! Graceful restart (RFC 4724 §4.2, helper side): when the neighbor's session drops, its
//! routes of the families it preserves are [marked stale](AdjRibIn::mark_stale) instead of
//! withdrawn; each re-announcement clears the mark, and at its End-of-RIB (or when the
//! restart timer fires) [`flush_stale`](AdjRibIn::flush_stale) returns what it did not
//! re-announce.

use std::collections::hash_map::{Entry, RandomState};
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::Ipv4Addr;
use std::sync::Arc;

use bgp::Family;
use ipnet::{IpNet, Ipv4Net};
use policy::Attrs;
use vpn_types::{AdminValue, RouteDistinguisher};

use crate::{Announcement, Inbound, Nlri};

/// Import policy accepted the route: it is in the caller's RIB ([`AdjRibIn::set_accepted`]).
const ACCEPTED: u8 = 1;
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

/// Records an announcement of `key` in a table: a new key with no marks, a known one with
/// `clear` cleared.
fn announce_in<K: Key>(m: &mut Marks<K>, key: K, clear: u8) -> bool {
    match m.entry(key) {
        Entry::Occupied(mut e) => {
            *e.get_mut() &= !clear;
            false
        }
        Entry::Vacant(e) => {
            e.insert(0);
            true
        }
    }
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

    fn contains_key(&self, key: &Vpn4) -> bool {
        let (rd, prefix) = Self::split(key);
        self.by_rd.get(&rd).is_some_and(|m| m.contains_key(&prefix))
    }

    fn get_mut(&mut self, key: &Vpn4) -> Option<&mut u8> {
        let (rd, prefix) = Self::split(key);
        self.by_rd.get_mut(&rd)?.get_mut(&prefix)
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

    fn announce(&mut self, key: Vpn4, clear: u8) {
        let (rd, prefix) = Self::split(&key);
        if announce_in(self.by_rd.entry(rd).or_default(), prefix, clear) {
            self.len += 1;
        }
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
trait Announce<K> {
    /// Adds `key` with no marks, or clears `clear` from the marks of a known one.
    fn announce_key(&mut self, key: K, clear: u8);
}

impl<K: Key> Announce<K> for Marks<K> {
    fn announce_key(&mut self, key: K, clear: u8) {
        announce_in(self, key, clear);
    }
}

impl Announce<Vpn4> for Vpn4Marks {
    fn announce_key(&mut self, key: Vpn4, clear: u8) {
        self.announce(key, clear);
    }
}

/// What an UPDATE changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InChanges {
    /// Every route announced (new, changed, or re-announced unchanged): the caller runs
    /// import policy on each.
    pub announced: Vec<Announcement>,
    /// Routes withdrawn that import policy had accepted: what the caller must take out of
    /// its RIB. Withdrawals of unknown keys, and of routes policy had refused, end here.
    pub withdrawn: Vec<Nlri>,
}

/// The routes one neighbor announces to us.
#[derive(Clone, Debug, Default)]
pub struct AdjRibIn {
    soft_reconfig: bool,
    /// IPv4 unicast keys → marks.
    v4: Marks<V4>,
    /// VPNv4 keys → marks.
    vpn4: Vpn4Marks,
    /// Every other family's keys → marks.
    other: Marks<Nlri>,
    /// The pre-policy paths (label, attributes), only with soft reconfiguration; in key
    /// order, which re-applying policy and `received-routes` list them in.
    paths: BTreeMap<Nlri, (Option<u32>, Arc<Attrs>)>,
    /// How many routes are accepted.
    accepted: usize,
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

    /// Removes a key; returns its marks.
    fn remove(&mut self, n: &Nlri) -> Option<u8> {
        if self.soft_reconfig {
            self.paths.remove(n);
        }
        with_table!(self, n, |m, k| m.remove(&k))
    }

    fn marks_mut(&mut self, n: &Nlri) -> Option<&mut u8> {
        with_table!(self, n, |m, k| m.get_mut(&k))
    }

    /// Records an announcement of `n`: a new key unaccepted, a known one no longer stale.
    fn announce(&mut self, n: &Nlri) {
        with_table!(self, n, |m, k| m.announce_key(k, STALE))
    }

    /// Applies one decoded UPDATE: withdrawals first, then announcements (so a key in both
    /// ends up announced, as RFC 4271 §9 processes the fields). A re-announced route keeps
    /// its accepted mark until the caller's policy says otherwise ([`Self::set_accepted`]).
    /// The announced routes are `inbound`'s: the caller runs import policy on each.
    pub fn apply(&mut self, inbound: &Inbound) -> InChanges {
        InChanges {
            withdrawn: self.apply_update(inbound),
            announced: inbound.announcements().collect(),
        }
    }

    /// [`Self::apply`] without the list of announcements (the caller walks
    /// [`Inbound::reach`], one attribute set at a time, instead of a copy per route): returns
    /// the withdrawn routes import policy had accepted.
    pub fn apply_update(&mut self, inbound: &Inbound) -> Vec<Nlri> {
        let mut withdrawn = Vec::new();
        for n in &inbound.withdrawn {
            if let Some(f) = self.remove(n) {
                if f & ACCEPTED != 0 {
                    self.accepted -= 1;
                    withdrawn.push(*n);
                }
            }
        }
        let mut any = false;
        for r in &inbound.reach {
            for (n, label) in &r.routes {
                any = true;
                self.announce(n);
                if self.soft_reconfig {
                    self.paths.insert(*n, (*label, r.attrs.clone()));
                }
            }
        }
        // A key withdrawn and announced in the same UPDATE is only announced; it is still in
        // the caller's RIB, so it stays accepted until policy runs on the new path.
        if !withdrawn.is_empty() && any {
            withdrawn.retain(|n| match self.marks_mut(n) {
                Some(f) => {
                    *f |= ACCEPTED;
                    self.accepted += 1;
                    false
                }
                None => true,
            });
        }
        withdrawn
    }

    /// Records import policy's verdict on a received route; returns the previous mark. A key
    /// not (or no longer) received is never accepted.
    pub fn set_accepted(&mut self, nlri: &Nlri, accepted: bool) -> bool {
        let Some(f) = self.marks_mut(nlri) else {
            return false;
        };
        let was = *f & ACCEPTED != 0;
        if accepted {
            *f |= ACCEPTED;
        } else {
            *f &= !ACCEPTED;
        }
        match (was, accepted) {
            (false, true) => self.accepted += 1,
            (true, false) => self.accepted -= 1,
            _ => {}
        }
        was
    }

    /// Routes import policy accepted.
    pub fn accepted_len(&self) -> usize {
        self.accepted
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

    /// The accepted routes' keys, in key order.
    pub fn iter_accepted(&self) -> impl Iterator<Item = Nlri> {
        self.sorted(None, |f| f & ACCEPTED != 0).into_iter()
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

    /// Graceful restart: the neighbor's session dropped; its routes of `family` are kept
    /// but marked stale.
    pub fn mark_stale(&mut self, family: Family) {
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

    /// Removes the routes of `family` still stale (not re-announced since
    /// [`mark_stale`](Self::mark_stale)) and returns the accepted ones among them, in key
    /// order, for the caller to withdraw.
    pub fn flush_stale(&mut self, family: Family) -> Vec<Nlri> {
        let stale = self.sorted(Some(family), |f| f & STALE != 0);
        let mut gone = Vec::new();
        for n in stale {
            if self.remove(&n).is_some_and(|f| f & ACCEPTED != 0) {
                gone.push(n);
            }
        }
        self.accepted -= gone.len();
        gone
    }

    /// Number of stale routes (all families).
    pub fn stale_len(&self) -> usize {
        let stale = |f: &u8| f & STALE != 0;
        self.v4.values().filter(|f| stale(f)).count()
            + self.vpn4.values().filter(|f| stale(f)).count()
            + self.other.values().filter(|f| stale(f)).count()
    }

    /// Session down without graceful restart: forgets everything and returns the accepted
    /// keys, for the caller to withdraw — in no particular order (withdrawals commute, and
    /// sorting a full table's keys costs about a tenth of withdrawing them from the RIB).
    pub fn clear(&mut self) -> Vec<Nlri> {
        let accepted = |f: u8| f & ACCEPTED != 0;
        let mut gone = Vec::with_capacity(self.accepted);
        collect(pairs(&self.v4), None, accepted, &mut gone);
        collect(self.vpn4.iter(), None, accepted, &mut gone);
        collect(pairs(&self.other), None, accepted, &mut gone);
        *self = AdjRibIn::new(self.soft_reconfig);
        gone
    }

    pub fn contains(&self, nlri: &Nlri) -> bool {
        match nlri {
            Nlri::Unicast(IpNet::V4(p)) => self.v4.contains_key(&V4(pack_v4(p))),
            n @ Nlri::Vpn {
                prefix: IpNet::V4(_),
                ..
            } => Vpn4::pack(n).is_some_and(|k| self.vpn4.contains_key(&k)),
            n => self.other.contains_key(n),
        }
    }

    pub fn len(&self) -> usize {
        self.v4.len() + self.vpn4.len() + self.other.len()
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

    /// Marks every received route accepted, as an import policy that permits all would.
    fn accept_all(rib: &mut AdjRibIn) {
        let keys = rib.sorted(None, |_| true);
        for k in keys {
            rib.set_accepted(&k, true);
        }
    }

    #[test]
    fn withdrawals_of_unknown_keys_are_dropped_and_announce_wins_over_withdraw() {
        let mut rib = AdjRibIn::new(false);
        let c = rib.apply(&inbound(&["10.0.0.0/8", "10.1.0.0/16"], &["10.9.0.0/16"]));
        assert_eq!(c.announced.len(), 2);
        assert!(c.withdrawn.is_empty());
        accept_all(&mut rib);
        let c = rib.apply(&inbound(&["10.0.0.0/8"], &["10.0.0.0/8", "10.1.0.0/16"]));
        assert_eq!(c.withdrawn, vec![v4("10.1.0.0/16")]);
        assert_eq!(c.announced.len(), 1);
        assert_eq!(rib.len(), 1);
        // Withdrawn and announced at once: still in the caller's RIB, so still accepted.
        assert_eq!(rib.accepted_len(), 1);
        assert_eq!(rib.iter_accepted().collect::<Vec<_>>(), [v4("10.0.0.0/8")]);
        // Without soft reconfiguration no path is kept.
        assert_eq!(rib.iter_pre_policy().count(), 0);
    }

    #[test]
    fn only_accepted_routes_are_handed_back_for_withdrawal() {
        let mut rib = AdjRibIn::new(false);
        rib.apply(&inbound(&["10.0.0.0/8", "10.1.0.0/16", "10.2.0.0/16"], &[]));
        assert!(!rib.set_accepted(&v4("10.0.0.0/8"), true));
        assert!(!rib.set_accepted(&v4("10.1.0.0/16"), true));
        assert!(!rib.set_accepted(&v4("10.9.0.0/16"), true), "not received");
        assert_eq!(rib.accepted_len(), 2);
        // Re-announced: the mark stays until policy runs again.
        rib.apply(&inbound(&["10.1.0.0/16"], &[]));
        assert_eq!(rib.accepted_len(), 2);
        assert!(rib.set_accepted(&v4("10.1.0.0/16"), false), "refused now");
        assert_eq!(rib.accepted_len(), 1);
        // The refused and the never-accepted routes are not the caller's to withdraw.
        let c = rib.apply(&inbound(&[], &["10.1.0.0/16", "10.2.0.0/16"]));
        assert!(c.withdrawn.is_empty());
        assert_eq!(rib.clear(), vec![v4("10.0.0.0/8")]);
        assert_eq!(rib.accepted_len(), 0);
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
        rib.set_accepted(&v4("10.1.0.0/16"), true);
        assert_eq!(rib.clear(), vec![v4("10.1.0.0/16")]);
        assert!(rib.is_empty());
    }

    #[test]
    fn graceful_restart_flushes_only_what_was_not_re_announced_in_that_family() {
        let mut rib = AdjRibIn::new(false);
        rib.apply(&inbound(&["10.0.0.0/8", "10.1.0.0/16", "10.2.0.0/16"], &[]));
        let v6 = Inbound {
            reach: vec![Reach {
                attrs: Arc::new(Attrs::new(SourceProtocol::Bgp)),
                routes: vec![(Nlri::unicast("2001:db8::/32".parse().unwrap()), None)],
            }],
            ..Inbound::default()
        };
        rib.apply(&v6);
        accept_all(&mut rib);
        rib.mark_stale(Family::Ipv4Unicast);
        assert_eq!(rib.stale_len(), 3);
        rib.apply(&inbound(&["10.1.0.0/16"], &["10.2.0.0/16"]));
        assert_eq!(rib.stale_len(), 1);
        assert_eq!(rib.flush_stale(Family::Ipv4Unicast), vec![v4("10.0.0.0/8")]);
        assert!(rib.flush_stale(Family::Ipv6Unicast).is_empty());
        assert_eq!(rib.len(), 2);
        assert_eq!(rib.accepted_len(), 2);
        assert!(rib.contains(&v4("10.1.0.0/16")));
    }

    proptest::proptest! {
        /// The per-RD VPNv4 table holds what one map of whole keys would: announcements, mark
        /// changes and removals over a few RDs, the count, and the keys listed back.
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
                        table.announce(key, STALE);
                        model.entry(b).and_modify(|m| *m &= !STALE).or_insert(0);
                    }
                    1 => proptest::prop_assert_eq!(table.remove(&key), model.remove(&b)),
                    2 => {
                        if let Some(m) = table.get_mut(&key) {
                            *m |= ACCEPTED | STALE;
                        }
                        if let Some(m) = model.get_mut(&b) {
                            *m |= ACCEPTED | STALE;
                        }
                    }
                    _ => proptest::prop_assert_eq!(table.contains_key(&key), model.contains_key(&b)),
                }
                proptest::prop_assert_eq!(table.len(), model.len());
                proptest::prop_assert_eq!(table.by_rd.values().all(|m| !m.is_empty()), true);
            }
            let mut listed: Vec<([u8; 12], u8)> = table.iter().map(|(k, m)| (k.0, m)).collect();
            listed.sort();
            let expected: Vec<([u8; 12], u8)> = model.into_iter().collect();
            proptest::prop_assert_eq!(listed, expected);
        }
    }
}
