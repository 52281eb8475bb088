//! What the daemon has written to the switch, for `show p4 summary`: entries per table (and
//! action profile), how many writes and updates, and the wall-clock time of the last write.
//!
//! Counted from the writes themselves (an insert adds one, a delete removes one), so asking
//! costs nothing, unlike `show p4 entries`, which reads the whole switch back. After a
//! reconcile the counts are reset from what was read back. The time of the last write is what
//! the BGP ingest benchmark reads: when the last FIB delta was handed to the southbound.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use p4rt::entity::{Entity, Update, UpdateKind};

use crate::api::Response;

/// What one write changes in the counts.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    entries: BTreeMap<String, i64>,
    updates: usize,
}

impl Tally {
    pub fn of(updates: &[Update]) -> Tally {
        let mut tally = Tally::default();
        tally.add(updates);
        tally
    }

    /// Counts `updates` too (a write made in several parts).
    pub fn add(&mut self, updates: &[Update]) {
        let entries = &mut self.entries;
        let mut add = |n: &str, delta: i64| match entries.get_mut(n) {
            Some(c) => *c += delta,
            None => {
                entries.insert(n.to_string(), delta);
            }
        };
        // Updates come in runs of one table (a FIB delta's routes, one after another), so a
        // run is summed first and looked up once: names are interned, so one table's name is
        // one pointer.
        let mut run: Option<(&'static str, i64)> = None;
        for u in updates {
            let delta = match u.kind {
                UpdateKind::Insert => 1,
                UpdateKind::Delete => -1,
                UpdateKind::Modify => continue,
            };
            let n = name(&u.entity);
            match &mut run {
                Some((r, c)) if std::ptr::eq(*r, n) => *c += delta,
                _ => {
                    if let Some((r, c)) = run.replace((n, delta)) {
                        add(r, c);
                    }
                }
            }
        }
        if let Some((r, c)) = run {
            add(r, c);
        }
        self.updates += updates.len();
    }

    /// Updates in the write.
    pub fn updates(&self) -> usize {
        self.updates
    }
}

/// Counters of the writes to the switch.
#[derive(Clone, Debug, Default)]
pub struct WriteStats {
    /// Entries per table or action profile, as the writes left them.
    entries: BTreeMap<String, i64>,
    /// Successful write calls (each may be several P4Runtime batches).
    writes: u64,
    /// Updates in them.
    updates: u64,
    /// When the last successful write returned, and how long it took.
    last_write: Option<(SystemTime, Duration, usize)>,
}

fn name(entity: &Entity) -> &'static str {
    match entity {
        Entity::Table(t) => t.table.as_str(),
        Entity::Member(m) => m.profile.as_str(),
        Entity::Group(g) => g.profile.as_str(),
    }
}

impl WriteStats {
    pub fn new() -> Self {
        Self::default()
    }

    /// A successful write of `updates` that started at `started` and has just returned.
    pub fn record(&mut self, updates: &[Update], started: SystemTime) {
        self.record_tally(Tally::of(updates), started, SystemTime::now());
    }

    /// [`WriteStats::record`] for a write whose updates were counted before they went to
    /// another thread, and which returned at `now`.
    pub fn record_tally(&mut self, tally: Tally, started: SystemTime, now: SystemTime) {
        for (n, delta) in tally.entries {
            *self.entries.entry(n).or_default() += delta;
        }
        self.writes += 1;
        self.updates += tally.updates as u64;
        self.last_write = Some((
            now,
            now.duration_since(started).unwrap_or_default(),
            tally.updates,
        ));
    }

    /// The switch was read back (reconcile): the counts start again from what it holds.
    pub fn reset_entries(&mut self, entities: &[Entity]) {
        self.entries.clear();
        for e in entities {
            *self.entries.entry(name(e).to_string()).or_default() += 1;
        }
    }

    /// Entries of one table or action profile.
    pub fn entries(&self, table: &str) -> i64 {
        self.entries.get(table).copied().unwrap_or(0)
    }

    /// `show p4 summary`, text or JSON.
    pub fn show(&self, json: bool) -> Response {
        let total: i64 = self.entries.values().sum();
        let unix_ns = |t: SystemTime| {
            t.duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0)
        };
        if json {
            let last = self.last_write.map(|(t, took, n)| {
                serde_json::json!({
                    "unix_ns": unix_ns(t),
                    "duration_us": took.as_micros() as u64,
                    "updates": n,
                })
            });
            return Response::Data(serde_json::json!({
                "entries": self.entries,
                "total_entries": total,
                "writes": self.writes,
                "updates": self.updates,
                "last_write": last,
            }));
        }
        let mut out = String::new();
        let _ = writeln!(
            out,
            "P4 entries written by this daemon (inserts − deletes):"
        );
        for (t, n) in &self.entries {
            let _ = writeln!(out, "  {t:<40} {n:>10}");
        }
        let _ = writeln!(out, "  {:<40} {total:>10}", "total");
        let _ = writeln!(out, "Writes: {}, updates: {}", self.writes, self.updates);
        match self.last_write {
            Some((t, took, n)) => {
                let ns = unix_ns(t);
                let _ = writeln!(
                    out,
                    "Last write: {n} updates, returned at {}.{:09} (Unix time), took {} µs",
                    ns / 1_000_000_000,
                    ns % 1_000_000_000,
                    took.as_micros()
                );
            }
            None => {
                let _ = writeln!(out, "Last write: none");
            }
        }
        Response::Text(out)
    }
}
