//! Packed storage of one table of the embedded switch.
//!
//! A router's switch holds a million route entries, so what an entry costs there matters as
//! much as what it costs in the RIB. Every entry of a table is kept as one fixed-width record
//! of bytes: the canonical key packed at full width (the layout follows from the P4Info, so
//! it is the same for every entry of the table) followed by the action packed the same way.
//! Records live back to back in one `Vec<u8>`; a hash table of record numbers (4 bytes each,
//! hashed on the key bytes) finds them. An IPv4 route (`vrf_id`, `dst_addr`/len,
//! `set_nexthop(nexthop_id)`) is a 14-byte record, where a `BTreeMap` of boxed key fields
//! and a separate action took ~200 bytes of heap.
//!
//! A hash table has no order, so reads decode the records and sort them by the canonical key
//! (see `switch.rs`): reads return what they returned when the tables were ordered maps.

use crate::codec::byte_len;
use crate::p4info::{MatchKind, P4InfoIndex, TableInfo};
use foldhash::fast::RandomState;
use hashbrown::HashTable;
use std::collections::HashMap;
use std::hash::BuildHasher;

/// Bytes of the action head: a tag ([`TAG_DIRECT`], [`TAG_MEMBER`], [`TAG_GROUP`]) and a
/// little-endian `u32` (action id, or member / group id).
pub(super) const ACTION_HEAD: usize = 5;
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
    /// Bytes of a record: key, action head, the widest parameter list of the table's actions.
    pub record: usize,
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
        let direct_fast = table.implementation_id.is_none()
            && table
                .match_fields
                .iter()
                .all(|f| matches!(f.kind, MatchKind::Exact | MatchKind::Lpm));
        Self {
            fields,
            priority,
            key_len,
            record: key_len + ACTION_HEAD + params,
            empty_key,
            direct_fast,
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

/// The entries of one table, packed (see the module docs).
#[derive(Debug)]
pub(super) struct TableStore {
    pub layout: Layout,
    /// Records, `layout.record` bytes each; the free ones are listed in `free`.
    records: Vec<u8>,
    free: Vec<u32>,
    /// Record numbers of the entries, hashed on their key bytes.
    map: HashTable<u32>,
    hasher: RandomState,
    /// Controller metadata of the entries that have any (rare), by record number.
    metadata: HashMap<u32, Box<[u8]>>,
}

impl TableStore {
    pub fn new(layout: Layout) -> Self {
        Self {
            layout,
            records: Vec::new(),
            free: Vec::new(),
            map: HashTable::new(),
            hasher: RandomState::default(),
            metadata: HashMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// The record of an entry with this packed key, if any.
    pub fn find(&self, key: &[u8]) -> Option<u32> {
        let (rec, kl) = (self.layout.record, self.layout.key_len);
        let records = &self.records;
        let hash = self.hasher.hash_one(key);
        self.map
            .find(hash, |&r| {
                let at = r as usize * rec;
                &records[at..at + kl] == key
            })
            .copied()
    }

    pub fn record(&self, r: u32) -> &[u8] {
        let at = r as usize * self.layout.record;
        &self.records[at..at + self.layout.record]
    }

    /// The action part of record `r`, to overwrite (MODIFY).
    pub fn action_mut(&mut self, r: u32) -> &mut [u8] {
        let at = r as usize * self.layout.record;
        &mut self.records[at + self.layout.key_len..at + self.layout.record]
    }

    /// Adds a record (`layout.record` bytes) unless its key is there already or, for a new
    /// key, the table is `full`; one hash of the key for the look-up and the insert.
    pub fn insert(&mut self, record: &[u8], full: bool) -> Insert {
        let (rec, kl) = (self.layout.record, self.layout.key_len);
        debug_assert_eq!(record.len(), rec);
        let key = &record[..kl];
        let Self {
            records,
            free,
            map,
            hasher,
            ..
        } = self;
        let hash = hasher.hash_one(key);
        let entry = map.entry(
            hash,
            |&r| {
                let at = r as usize * rec;
                &records[at..at + kl] == key
            },
            |&r| {
                let at = r as usize * rec;
                hasher.hash_one(&records[at..at + kl])
            },
        );
        let hashbrown::hash_table::Entry::Vacant(vacant) = entry else {
            return Insert::Exists;
        };
        if full {
            return Insert::Full;
        }
        let r = match free.pop() {
            Some(r) => {
                let at = r as usize * rec;
                records[at..at + rec].copy_from_slice(record);
                r
            }
            None => {
                let r = (records.len() / rec.max(1)) as u32;
                records.extend_from_slice(record);
                r
            }
        };
        vacant.insert(r);
        Insert::Done(r)
    }

    /// Removes the entry with this packed key; returns its action head (tag, id).
    pub fn remove(&mut self, key: &[u8]) -> Option<(u8, u32)> {
        let (rec, kl) = (self.layout.record, self.layout.key_len);
        let records = &self.records;
        let hash = self.hasher.hash_one(key);
        let entry = self
            .map
            .find_entry(hash, |&r| {
                let at = r as usize * rec;
                &records[at..at + kl] == key
            })
            .ok()?;
        let (r, _) = entry.remove();
        let head = action_head(&self.record(r)[kl..]);
        self.free.push(r);
        self.metadata.remove(&r);
        if self.map.is_empty() {
            // Nothing left: give the memory back rather than keep a free list of it.
            self.records = Vec::new();
            self.free = Vec::new();
        }
        Some(head)
    }

    /// Every record number in the table, in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = u32> + '_ {
        self.map.iter().copied()
    }

    pub fn metadata(&self, r: u32) -> Option<&[u8]> {
        self.metadata.get(&r).map(|m| &m[..])
    }

    pub fn set_metadata(&mut self, r: u32, metadata: &[u8]) {
        if metadata.is_empty() {
            self.metadata.remove(&r);
        } else {
            self.metadata.insert(r, metadata.into());
        }
    }
}

/// The (tag, id) at the start of a packed action.
pub(super) fn action_head(action: &[u8]) -> (u8, u32) {
    let mut id = [0u8; 4];
    id.copy_from_slice(&action[1..ACTION_HEAD]);
    (action[0], u32::from_le_bytes(id))
}
