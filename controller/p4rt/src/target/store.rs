//! Packed storage of one table of the embedded switch.
//!
//! A router's switch holds a million route entries, so what an entry costs there matters as
//! much as what it costs in the RIB. Every entry of a table is kept as one fixed-width record
//! of bytes: the canonical key packed at full width (the layout follows from the P4Info, so
//! it is the same for every entry of the table) followed by the action packed the same way.
//! Records live back to back in pages of ~64 KiB (see [`Pages`]); an index of record numbers
//! by the hash of their key bytes finds them (`open_addressing::PositionIndex`: a slot of 4
//! bytes holds the record number and, above it, the same bits of the hash — 11 at a million
//! records — so a search reads a record only where those bits match, and a write prefetches
//! the slot it will search a few updates ahead; the index hashes the records' keys again when
//! it grows. Session 10 — the `hashbrown` table of 3-byte record numbers before it took 4
//! bytes a bucket but read a record on one search in ten or so, its 7-bit tags matching by
//! chance; session 16 — its 8-byte slots held 32 bits of the hash). An IPv4 route (`vrf_id`, `dst_addr`/len,
//! `set_nexthop(nexthop_id)`) is a 10-byte record (7 of key, a byte naming the action, 2 of
//! next hop id), where a `BTreeMap` of boxed key fields and a separate action took ~200 bytes
//! of heap.
//!
//! A hash table has no order, so reads decode the records and sort them by the canonical key
//! (see `switch.rs`): reads return what they returned when the tables were ordered maps.

use crate::codec::byte_len;
use crate::p4info::{MatchKind, P4InfoIndex, TableInfo};
use foldhash::fast::RandomState;
use open_addressing::PositionIndex;
use std::collections::HashMap;
use std::hash::BuildHasher;

/// Record numbers stay below this (the index's positions are `u32`s, `u32::MAX` reserved).
const RECORD_LIMIT: u32 = u32::MAX - 1;

/// Bytes of the wide action head: a tag ([`TAG_DIRECT`], [`TAG_MEMBER`], [`TAG_GROUP`]) and a
/// little-endian `u32` (action id, or member / group id). A table without an action profile
/// and at most 256 actions (a route table) has a one-byte head instead: the action's position
/// in the table's action list, since its entries can only hold one of those (see
/// [`Layout::head`]).
const WIDE_HEAD: usize = 5;
pub(super) const TAG_DIRECT: u8 = 0;
pub(super) const TAG_MEMBER: u8 = 1;
pub(super) const TAG_GROUP: u8 = 2;

/// Where one key field sits in a record and how it is packed.
#[derive(Debug, Clone)]
pub(super) struct FieldLayout {
    /// Match field id.
    pub id: u32,
    pub kind: MatchKind,
    pub bitwidth: u32,
    /// Offset in the record.
    pub offset: usize,
    /// Bytes of the value at full width (`ceil(W / 8)`).
    pub n: usize,
}

impl FieldLayout {
    /// Bytes the field takes: exact `n`; LPM `n` + prefix length (1 byte, 2 when `W` > 255);
    /// ternary value + mask and range low + high `2n`; optional a presence byte + `n`.
    /// A field left out (don't-care) is stored as what cannot be written explicitly: prefix
    /// length 0, an all-zero mask, the full range, presence 0.
    fn size(kind: &MatchKind, bitwidth: u32, n: usize) -> usize {
        match kind {
            MatchKind::Exact => n,
            MatchKind::Lpm => n + Self::plen_bytes_for(bitwidth),
            MatchKind::Ternary | MatchKind::Range => 2 * n,
            MatchKind::Optional => 1 + n,
            MatchKind::Other(_) => 0,
        }
    }

    fn plen_bytes_for(bitwidth: u32) -> usize {
        if bitwidth > 255 {
            2
        } else {
            1
        }
    }

    /// Bytes of an LPM field's prefix length (after its value).
    pub fn plen_bytes(&self) -> usize {
        Self::plen_bytes_for(self.bitwidth)
    }
}

/// How the entries of one table are packed.
#[derive(Debug)]
pub(super) struct Layout {
    /// Key fields in P4Info (key) order.
    pub fields: Vec<FieldLayout>,
    /// Whether the key ends in a 4-byte big-endian priority (tables with ternary / range /
    /// optional fields); other tables' entries have priority 0.
    pub priority: bool,
    /// Bytes of the packed key; the action follows.
    pub key_len: usize,
    /// Bytes of the action head (1 or [`WIDE_HEAD`]); the parameters follow it.
    pub head: usize,
    /// Bytes of a record: key, action head, the widest parameter list of the table's actions.
    pub record: usize,
    /// With a one-byte head, the table's action ids by position (what the head holds).
    actions: Box<[u32]>,
    /// The key with every field left out (what a packed key starts from).
    pub empty_key: Vec<u8>,
    /// Whether entries can be packed straight from name-level entities: exact and LPM fields
    /// only and direct actions (a route table). Other tables take the P4Runtime path.
    pub direct_fast: bool,
}

impl Layout {
    pub fn new(index: &P4InfoIndex, table: &TableInfo) -> Self {
        let mut offset = 0;
        let mut fields = Vec::with_capacity(table.match_fields.len());
        for f in &table.match_fields {
            let n = byte_len(f.bitwidth);
            fields.push(FieldLayout {
                id: f.id,
                kind: f.kind.clone(),
                bitwidth: f.bitwidth,
                offset,
                n,
            });
            offset += FieldLayout::size(&f.kind, f.bitwidth, n);
        }
        let priority = table.needs_priority();
        let key_len = offset + if priority { 4 } else { 0 };
        let params = if table.implementation_id.is_some() {
            0
        } else {
            table
                .actions
                .iter()
                .filter_map(|(id, _)| index.action_by_id(*id).ok())
                .map(|a| a.params.iter().map(|p| byte_len(p.bitwidth)).sum())
                .max()
                .unwrap_or(0)
        };
        let mut empty_key = vec![0u8; key_len];
        for f in &fields {
            if f.kind == MatchKind::Range {
                // The full range: low 0, high all ones at W bits.
                let high = &mut empty_key[f.offset + f.n..f.offset + 2 * f.n];
                high.fill(0xff);
                let pad = f.n as u32 * 8 - f.bitwidth;
                if let Some(first) = high.first_mut() {
                    *first &= 0xffu8.checked_shr(pad).unwrap_or(0);
                }
            }
        }
        // One byte names any of up to 256 actions of a direct table.
        let actions: Box<[u32]> = if table.implementation_id.is_none() && table.actions.len() <= 256
        {
            table.action_ids().collect()
        } else {
            Box::default()
        };
        let head = if actions.is_empty() { WIDE_HEAD } else { 1 };
        let direct_fast = table.implementation_id.is_none()
            && table
                .match_fields
                .iter()
                .all(|f| matches!(f.kind, MatchKind::Exact | MatchKind::Lpm));
        Self {
            fields,
            priority,
            key_len,
            head,
            record: key_len + head + params,
            actions,
            empty_key,
            direct_fast,
        }
    }

    /// Writes the head of a packed action (`tag`, and the action, member or group `id`) at the
    /// start of `action`; false if the table cannot hold it (an action not of the table).
    pub fn put_head(&self, action: &mut [u8], tag: u8, id: u32) -> bool {
        if self.head == WIDE_HEAD {
            action[0] = tag;
            action[1..WIDE_HEAD].copy_from_slice(&id.to_le_bytes());
            return true;
        }
        match self.actions.iter().position(|a| *a == id) {
            Some(pos) if tag == TAG_DIRECT => {
                action[0] = pos as u8;
                true
            }
            _ => false,
        }
    }

    /// The (tag, id) at the start of a packed action.
    pub fn head(&self, action: &[u8]) -> (u8, u32) {
        if self.head == WIDE_HEAD {
            let mut id = [0u8; 4];
            id.copy_from_slice(&action[1..WIDE_HEAD]);
            (action[0], u32::from_le_bytes(id))
        } else {
            // A head is only written by `put_head`, so the position is in range.
            (TAG_DIRECT, self.actions[usize::from(action[0])])
        }
    }
}

/// What [`TableStore::insert`] did.
pub(super) enum Insert {
    /// Added as record number .0.
    Done(u32),
    /// The key is there already.
    Exists,
    /// The key is new and the table full.
    Full,
}

/// Bytes a page of records takes at most.
const PAGE_BYTES: usize = 64 * 1024;

/// Fixed-width records in pages of a power of two of them, allocated as they fill: a table
/// grows a page at a time, with at most one page not full, where one `Vec` of records grew by
/// doubling (up to half of it unused, and each growth a copy of the whole table into fresh
/// memory).
#[derive(Debug)]
struct Pages {
    record: usize,
    /// log2 of records per page.
    shift: u32,
    pages: Vec<Box<[u8]>>,
    /// Records handed out.
    len: u32,
}

impl Pages {
    fn new(record: usize) -> Self {
        let per_page = (PAGE_BYTES / record.max(1)).max(1);
        Self {
            record,
            shift: per_page.ilog2(),
            pages: Vec::new(),
            len: 0,
        }
    }

    fn at(&self, r: u32) -> (usize, usize) {
        let page = (r >> self.shift) as usize;
        let slot = (r & ((1 << self.shift) - 1)) as usize;
        (page, slot * self.record)
    }

    fn get(&self, r: u32) -> &[u8] {
        let (page, at) = self.at(r);
        &self.pages[page][at..at + self.record]
    }

    fn get_mut(&mut self, r: u32) -> &mut [u8] {
        let (page, at) = self.at(r);
        &mut self.pages[page][at..at + self.record]
    }

    /// A new record holding `record`; returns its number.
    fn push(&mut self, record: &[u8]) -> u32 {
        let r = self.len;
        let (page, _) = self.at(r);
        if page == self.pages.len() {
            self.pages
                .push(vec![0u8; self.record << self.shift].into_boxed_slice());
        }
        self.len += 1;
        self.get_mut(r).copy_from_slice(record);
        r
    }
}

/// The hash of the key of each record (its first `key_len` bytes): what the index asks for
/// when it rebuilds (its slots keep too few of a hash's bits to place themselves).
fn key_hash_at<'a>(
    records: &'a Pages,
    hasher: &'a RandomState,
    key_len: usize,
) -> impl FnMut(u32) -> u64 + 'a {
    move |r| hasher.hash_one(&records.get(r)[..key_len])
}

/// The entries of one table, packed (see the module docs).
#[derive(Debug)]
pub(super) struct TableStore {
    pub layout: Layout,
    /// Records, `layout.record` bytes each; the free ones are listed in `free`.
    records: Pages,
    free: Vec<u32>,
    /// Record numbers of the entries, by the hash of their key bytes.
    map: PositionIndex,
    hasher: RandomState,
    /// Controller metadata of the entries that have any (rare), by record number.
    metadata: HashMap<u32, Box<[u8]>>,
}

impl TableStore {
    pub fn new(layout: Layout) -> Self {
        Self {
            records: Pages::new(layout.record),
            map: PositionIndex::default(),
            layout,
            free: Vec::new(),
            hasher: RandomState::default(),
            metadata: HashMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// The record of an entry with this packed key, if any.
    pub fn find(&self, key: &[u8]) -> Option<u32> {
        let kl = self.layout.key_len;
        let records = &self.records;
        let hash = self.hasher.hash_one(key);
        self.map.find(hash, |r| &records.get(r)[..kl] == key)
    }

    /// Starts loading where an insert or a look-up of `key` will search (a hint).
    pub fn prefetch(&self, key: &[u8]) {
        self.map.prefetch(self.hasher.hash_one(key));
    }

    pub fn record(&self, r: u32) -> &[u8] {
        self.records.get(r)
    }

    /// The action part of record `r`, to overwrite (MODIFY).
    pub fn action_mut(&mut self, r: u32) -> &mut [u8] {
        &mut self.records.get_mut(r)[self.layout.key_len..]
    }

    /// Adds a record (`layout.record` bytes) unless its key is there already or, for a new
    /// key, the table is `full`; one hash of the key and one search for the look-up and the
    /// insert.
    pub fn insert(&mut self, record: &[u8], full: bool) -> Insert {
        let kl = self.layout.key_len;
        debug_assert_eq!(record.len(), self.layout.record);
        let key = &record[..kl];
        let hash = self.hasher.hash_one(key);
        let records = &self.records;
        let is = |r: u32| &records.get(r)[..kl] == key;
        if full || (self.free.is_empty() && records.len >= RECORD_LIMIT) {
            return match self.map.find(hash, is) {
                Some(_) => Insert::Exists,
                None => Insert::Full,
            };
        }
        // The record number a new entry gets: a free one, or the next.
        let new = self.free.last().copied().unwrap_or(records.len);
        let hash_at = key_hash_at(records, &self.hasher, kl);
        if self.map.find_or_insert(hash, is, new, hash_at).is_some() {
            return Insert::Exists;
        }
        match self.free.pop() {
            Some(r) => self.records.get_mut(r).copy_from_slice(record),
            None => {
                self.records.push(record);
            }
        }
        Insert::Done(new)
    }

    /// Removes the entry with this packed key; returns its action head (tag, id).
    pub fn remove(&mut self, key: &[u8]) -> Option<(u8, u32)> {
        let kl = self.layout.key_len;
        let records = &self.records;
        let hash = self.hasher.hash_one(key);
        let r = self.map.remove(hash, |r| &records.get(r)[..kl] == key)?;
        self.map
            .shrink_if_sparse(key_hash_at(records, &self.hasher, kl));
        let empty = self.map.is_empty();
        let head = self.layout.head(&self.record(r)[kl..]);
        self.free.push(r);
        self.forget_metadata(r);
        if empty {
            // Nothing left: give the memory back rather than keep a free list of it.
            self.records = Pages::new(self.layout.record);
            self.free = Vec::new();
            self.map = PositionIndex::default();
        }
        Some(head)
    }

    /// Every record number in the table, in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = u32> + '_ {
        self.map.positions()
    }

    pub fn metadata(&self, r: u32) -> Option<&[u8]> {
        self.metadata.get(&r).map(|m| &m[..])
    }

    /// Drops record `r`'s metadata; hashes `r` only when some entry has metadata (a remove from
    /// an empty `HashMap` hashes its key all the same, and this runs for every MODIFY and DELETE).
    fn forget_metadata(&mut self, r: u32) {
        if !self.metadata.is_empty() {
            self.metadata.remove(&r);
        }
    }

    pub fn set_metadata(&mut self, r: u32, metadata: &[u8]) {
        if metadata.is_empty() {
            self.forget_metadata(r);
        } else {
            self.metadata.insert(r, metadata.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Insert, Layout, Pages, TableStore, TAG_DIRECT, TAG_GROUP, TAG_MEMBER, WIDE_HEAD};
    use crate::p4info::tests::router_index;

    /// An empty store of the router's `ingress.vrf_lpm`.
    fn route_store() -> TableStore {
        let index = router_index();
        let table = index.table("ingress.vrf_lpm").expect("table");
        TableStore::new(Layout::new(&index, table))
    }

    /// Mixed inserts and removes (the index growing, shrinking and emptied) leave a store
    /// holding what a set of keys holds.
    #[test]
    fn stores_agree_with_a_set_through_churn() {
        use std::collections::HashSet;
        {
            let mut store = route_store();
            let (kl, len) = (store.layout.key_len, store.layout.record);
            let record = |i: u32| {
                let mut r = vec![0u8; len];
                r[..4].copy_from_slice(&i.to_be_bytes());
                r
            };
            let mut model = HashSet::new();
            let mut x: u32 = 12345;
            for step in 0..60_000u32 {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                // Keys from a range that widens then narrows: growth, then removals.
                let span = if step < 30_000 {
                    1 + step / 2
                } else {
                    60_000 - step
                };
                let key = (x >> 8) % span.max(1);
                if x.is_multiple_of(3) {
                    assert_eq!(
                        store.remove(&record(key)[..kl]).is_some(),
                        model.remove(&key),
                        "remove {key} at {step}"
                    );
                } else {
                    let done = matches!(store.insert(&record(key), false), Insert::Done(_));
                    assert_eq!(done, model.insert(key), "insert {key} at {step}");
                }
                if step % 5_000 == 0 {
                    assert_eq!(store.len(), model.len());
                    let all: HashSet<u32> = store
                        .entries()
                        .map(|r| u32::from_be_bytes(store.record(r)[..4].try_into().unwrap()))
                        .collect();
                    assert_eq!(all, model, "at {step}");
                }
            }
            for key in 0..30_000 {
                assert_eq!(
                    store.find(&record(key)[..kl]).is_some(),
                    model.contains(&key)
                );
            }
        }
    }

    /// The index finds, refuses and removes entries; freed records are reused.
    #[test]
    fn stores_find_refuse_and_remove() {
        {
            let mut store = route_store();
            let (kl, len) = (store.layout.key_len, store.layout.record);
            let record = |i: u32| {
                let mut r = vec![0u8; len];
                r[..4].copy_from_slice(&i.to_be_bytes());
                r[kl] = 1;
                r
            };
            let n = 5_000;
            for i in 0..n {
                assert!(matches!(store.insert(&record(i), false), Insert::Done(r) if r == i));
            }
            assert!(matches!(store.insert(&record(7), false), Insert::Exists));
            assert!(matches!(store.insert(&record(n), true), Insert::Full));
            assert_eq!(store.len(), n as usize);
            for i in (0..n).step_by(2) {
                assert!(store.remove(&record(i)[..kl]).is_some());
            }
            assert!(store.remove(&record(0)[..kl]).is_none());
            for i in 0..n {
                let found = store.find(&record(i)[..kl]);
                assert_eq!(found.is_some(), i % 2 == 1, "{i}");
            }
            let mut all: Vec<u32> = store.entries().collect();
            all.sort_unstable();
            assert_eq!(all, (1..n).step_by(2).collect::<Vec<_>>());
            // Freed records are reused.
            assert!(matches!(store.insert(&record(n + 1), false), Insert::Done(r) if r % 2 == 0));
        }
    }

    #[test]
    fn action_heads_round_trip() {
        let index = router_index();
        for table in index.tables() {
            let layout = Layout::new(&index, table);
            let mut head = [0u8; WIDE_HEAD];
            if table.implementation_id.is_some() {
                assert_eq!(layout.head, WIDE_HEAD, "{}", table.name);
                for (tag, id) in [(TAG_MEMBER, 7), (TAG_GROUP, u32::MAX)] {
                    assert!(layout.put_head(&mut head, tag, id));
                    assert_eq!(layout.head(&head), (tag, id));
                }
                continue;
            }
            assert_eq!(layout.head, 1, "{}", table.name);
            for id in table.action_ids() {
                assert!(layout.put_head(&mut head, TAG_DIRECT, id));
                assert_eq!(layout.head(&head), (TAG_DIRECT, id), "{}", table.name);
            }
            let other = index
                .actions()
                .map(|a| a.id)
                .find(|id| !table.action_ids().any(|t| t == *id));
            if let Some(other) = other {
                assert!(
                    !layout.put_head(&mut head, TAG_DIRECT, other),
                    "{}",
                    table.name
                );
            }
            assert!(!layout.put_head(&mut head, TAG_MEMBER, 1), "{}", table.name);
        }
    }

    #[test]
    fn records_keep_their_bytes_across_pages() {
        // 1, 2 and 4,096 records per page.
        for record in [40_000, 20_000, 14] {
            let mut pages = Pages::new(record);
            let fill = |i: u32| {
                let mut v = vec![i as u8; record];
                v[..4].copy_from_slice(&i.to_le_bytes());
                v
            };
            let n = 3 << pages.shift;
            for i in 0..n {
                assert_eq!(pages.push(&fill(i)), i);
            }
            assert_eq!(pages.pages.len(), 3);
            pages.get_mut(1).copy_from_slice(&fill(7));
            for i in 0..n {
                let want = if i == 1 { fill(7) } else { fill(i) };
                assert_eq!(pages.get(i), &want[..], "record {i} of {record} bytes");
            }
        }
    }
}
