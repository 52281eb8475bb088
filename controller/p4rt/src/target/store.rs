//! Packed storage of one table of the embedded switch.
//!
//! A router's switch holds a million route entries, so what an entry costs there matters as
//! much as what it costs in the RIB. Every entry of a table is kept as one fixed-width record
//! of bytes: the canonical key packed at full width (the layout follows from the P4Info, so
//! it is the same for every entry of the table) followed by the action packed the same way.
//! Records live back to back in pages of ~64 KiB (see [`Pages`]); a hash table of record
//! numbers (3 bytes each when the table's size allows, else 4; hashed on the key bytes) finds
//! them ([`Index`]). An IPv4 route (`vrf_id`, `dst_addr`/len,
//! `set_nexthop(nexthop_id)`) is a 10-byte record (7 of key, a byte naming the action, 2 of
//! next hop id), where a `BTreeMap` of boxed key fields and a separate action took ~200 bytes
//! of heap.
//!
//! A hash table has no order, so reads decode the records and sort them by the canonical key
//! (see `switch.rs`): reads return what they returned when the tables were ordered maps.

use crate::codec::byte_len;
use crate::p4info::{MatchKind, P4InfoIndex, TableInfo};
use foldhash::fast::RandomState;
use hashbrown::HashTable;
use std::collections::HashMap;
use std::hash::BuildHasher;

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
    /// Whether the table's size bounds its record numbers below 2^24, so that its hash index
    /// holds them in 3 bytes instead of 4 (see [`Index`]).
    pub narrow: bool,
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
            narrow: table.size > 0 && table.size <= 1 << 24,
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

/// A record number in a hash index slot.
trait Slot: Copy {
    /// Record numbers a slot holds are below this.
    const LIMIT: u32;
    fn new(r: u32) -> Self;
    fn get(self) -> u32;
}

impl Slot for u32 {
    const LIMIT: u32 = u32::MAX;
    fn new(r: u32) -> Self {
        r
    }
    fn get(self) -> u32 {
        self
    }
}

/// A record number below 2^24 in 3 bytes.
#[derive(Clone, Copy)]
struct U24([u8; 3]);

impl Slot for U24 {
    const LIMIT: u32 = 1 << 24;
    fn new(r: u32) -> Self {
        debug_assert!(r < 1 << 24);
        let [a, b, c, _] = r.to_le_bytes();
        U24([a, b, c])
    }
    fn get(self) -> u32 {
        let [a, b, c] = self.0;
        u32::from_le_bytes([a, b, c, 0])
    }
}

/// Record numbers of a table's entries, hashed on their key bytes. A slot of the index costs
/// its record number and a control byte, at a load of 7/16 to 7/8: a table whose size keeps
/// its record numbers below 2^24 (any route table of a real switch) stores them in 3 bytes,
/// 4 bytes a slot instead of 5.
#[derive(Debug)]
enum Index {
    Narrow(HashTable<U24>),
    Wide(HashTable<u32>),
}

impl std::fmt::Debug for U24 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

/// Runs `$body` with `$t` the hash table of `$index`, whichever slot it has.
macro_rules! with_index {
    ($index:expr, $t:ident => $body:expr) => {
        match $index {
            Index::Narrow($t) => $body,
            Index::Wide($t) => $body,
        }
    };
}

/// The entries of one table, packed (see the module docs).
#[derive(Debug)]
pub(super) struct TableStore {
    pub layout: Layout,
    /// Records, `layout.record` bytes each; the free ones are listed in `free`.
    records: Pages,
    free: Vec<u32>,
    /// Record numbers of the entries, hashed on their key bytes.
    map: Index,
    /// How many entries `map` held room for when [`grow`] last built it (0 before), which a
    /// hash table does not tell: see [`grow`].
    map_room: usize,
    hasher: RandomState,
    /// Controller metadata of the entries that have any (rare), by record number.
    metadata: HashMap<u32, Box<[u8]>>,
}

impl TableStore {
    pub fn new(layout: Layout) -> Self {
        Self {
            records: Pages::new(layout.record),
            map: Self::index(&layout),
            map_room: 0,
            layout,
            free: Vec::new(),
            hasher: RandomState::default(),
            metadata: HashMap::new(),
        }
    }

    fn index(layout: &Layout) -> Index {
        if layout.narrow {
            Index::Narrow(HashTable::new())
        } else {
            Index::Wide(HashTable::new())
        }
    }

    pub fn len(&self) -> usize {
        with_index!(&self.map, t => t.len())
    }

    /// The record of an entry with this packed key, if any.
    pub fn find(&self, key: &[u8]) -> Option<u32> {
        let kl = self.layout.key_len;
        let records = &self.records;
        let hash = self.hasher.hash_one(key);
        with_index!(&self.map, t => t
            .find(hash, |s| &records.get(s.get())[..kl] == key)
            .map(|s| s.get()))
    }

    pub fn record(&self, r: u32) -> &[u8] {
        self.records.get(r)
    }

    /// The action part of record `r`, to overwrite (MODIFY).
    pub fn action_mut(&mut self, r: u32) -> &mut [u8] {
        &mut self.records.get_mut(r)[self.layout.key_len..]
    }

    /// Adds a record (`layout.record` bytes) unless its key is there already or, for a new
    /// key, the table is `full`; one hash of the key for the look-up and the insert.
    pub fn insert(&mut self, record: &[u8], full: bool) -> Insert {
        let Self {
            layout,
            records,
            free,
            map,
            map_room,
            hasher,
            ..
        } = self;
        with_index!(map, t => {
            grow(t, map_room, layout.key_len, records, free, hasher);
            insert_into(t, layout, records, free, hasher, record, full)
        })
    }

    /// Removes the entry with this packed key; returns its action head (tag, id).
    pub fn remove(&mut self, key: &[u8]) -> Option<(u8, u32)> {
        let kl = self.layout.key_len;
        let records = &self.records;
        let hash = self.hasher.hash_one(key);
        let (r, empty) = with_index!(&mut self.map, t => {
            let entry = t
                .find_entry(hash, |s| &records.get(s.get())[..kl] == key)
                .ok()?;
            let (s, rest) = entry.remove();
            (s.get(), rest.into_table().is_empty())
        });
        let head = self.layout.head(&self.record(r)[kl..]);
        self.free.push(r);
        self.forget_metadata(r);
        if empty {
            // Nothing left: give the memory back rather than keep a free list of it.
            self.records = Pages::new(self.layout.record);
            self.free = Vec::new();
            self.map = Self::index(&self.layout);
            self.map_room = 0;
        }
        Some(head)
    }

    /// Every record number in the table, in no particular order.
    pub fn entries(&self) -> Box<dyn Iterator<Item = u32> + '_> {
        match &self.map {
            Index::Narrow(t) => Box::new(t.iter().map(|s| s.get())),
            Index::Wide(t) => Box::new(t.iter().copied()),
        }
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

/// Before an insert: when the index `t` is full, builds it anew with twice the room, from the
/// records in the order they lie in memory, where the hash table's own growth re-hashed its
/// entries in its own order, each reading its record's key from wherever it lies (a cache miss
/// per entry, as many entries again as the table holds at every doubling). `room` is what it
/// held room for when last built here. An index full of removed entries' marks rather than
/// entries (at most half of `room` in use) is left to the hash table, which cleans them up in
/// place without growing.
fn grow<S: Slot>(
    t: &mut HashTable<S>,
    room: &mut usize,
    kl: usize,
    records: &Pages,
    free: &[u32],
    hasher: &RandomState,
) {
    if t.len() < t.capacity() || (!t.is_empty() && t.len() <= *room / 2) {
        return;
    }
    let mut new = HashTable::with_capacity((*room + 1).max(3));
    // The records in use: all handed out but the free ones.
    let mut is_free = vec![
        false;
        if free.is_empty() {
            0
        } else {
            records.len as usize
        }
    ];
    for r in free {
        is_free[*r as usize] = true;
    }
    let rehash = |s: &S| hasher.hash_one(&records.get(s.get())[..kl]);
    for r in 0..records.len {
        if !is_free.get(r as usize).copied().unwrap_or(false) {
            let hash = hasher.hash_one(&records.get(r)[..kl]);
            new.insert_unique(hash, S::new(r), rehash);
        }
    }
    debug_assert_eq!(new.len(), t.len());
    *room = new.capacity();
    *t = new;
}

/// [`TableStore::insert`] into an index of either slot.
fn insert_into<S: Slot>(
    t: &mut HashTable<S>,
    layout: &Layout,
    records: &mut Pages,
    free: &mut Vec<u32>,
    hasher: &RandomState,
    record: &[u8],
    full: bool,
) -> Insert {
    let kl = layout.key_len;
    debug_assert_eq!(record.len(), layout.record);
    let key = &record[..kl];
    let hash = hasher.hash_one(key);
    let entry = t.entry(
        hash,
        |s| &records.get(s.get())[..kl] == key,
        |s| hasher.hash_one(&records.get(s.get())[..kl]),
    );
    let hashbrown::hash_table::Entry::Vacant(vacant) = entry else {
        return Insert::Exists;
    };
    if full || (free.is_empty() && records.len >= S::LIMIT) {
        return Insert::Full;
    }
    let r = match free.pop() {
        Some(r) => {
            records.get_mut(r).copy_from_slice(record);
            r
        }
        None => records.push(record),
    };
    vacant.insert(S::new(r));
    Insert::Done(r)
}

#[cfg(test)]
mod tests {
    use super::{
        Insert, Layout, Pages, Slot, TableStore, TAG_DIRECT, TAG_GROUP, TAG_MEMBER, U24, WIDE_HEAD,
    };
    use crate::p4info::tests::router_index;

    #[test]
    fn narrow_slots_hold_24_bits() {
        for r in [0, 1, 0xff, 0x1234, 0xab_cdef, (1 << 24) - 1] {
            assert_eq!(U24::new(r).get(), r);
        }
    }

    /// An empty store of the router's `ingress.vrf_lpm`, with a narrow (3-byte) index and
    /// with a wide one.
    fn route_stores_of_both_widths() -> impl Iterator<Item = (bool, TableStore)> {
        let index = router_index();
        [true, false].into_iter().map(move |narrow| {
            let table = index.table("ingress.vrf_lpm").expect("table");
            let mut layout = Layout::new(&index, table);
            layout.narrow = narrow;
            (narrow, TableStore::new(layout))
        })
    }

    /// Mixed inserts and removes (the index growing, cleaned up in place and emptied) leave a
    /// store holding what a set of keys holds.
    #[test]
    fn stores_agree_with_a_set_through_churn() {
        use std::collections::HashSet;
        for (narrow, mut store) in route_stores_of_both_widths() {
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
                    assert_eq!(all, model, "at {step} (narrow {narrow})");
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

    /// Both kinds of index find, refuse and remove the same entries.
    #[test]
    fn narrow_and_wide_indexes_agree() {
        for (narrow, mut store) in route_stores_of_both_widths() {
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
                assert_eq!(found.is_some(), i % 2 == 1, "{i} (narrow {narrow})");
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
