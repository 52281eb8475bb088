//! What a prefix's last delta left in its table entry besides the candidate indexes — the FIB
//! action it installed and, for a few prefixes, the rare parts of its selection — in one word.
//!
//! A VRF table holds a million entries inline, so a word matters: the action (a shared `Arc`,
//! present on nearly every entry) and the rare parts (a `Box`, on almost none) were two
//! pointers, 16 bytes of every slot. Here they are one: the word is the action's pointer, or,
//! for an entry with rare parts, the pointer of a box that holds both (told apart by the low
//! bit, which neither pointer uses). An IPv4 slot went from 64 to 56 bytes (48 since a route's
//! forwarding and origin share one pointer, `RouteVia`).

use std::fmt;
use std::sync::Arc;

use policy::Attrs;

use crate::{FibAction, Route};

/// The parts of a prefix's selection only some prefixes have.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct RareSelection {
    /// With multipath, the selected route with its forwarding merged with the equal paths';
    /// `None` when the candidate's own route is the selection.
    pub merged: Option<Route>,
    /// When the BGP best path is a redistributed own route: its attributes as BGP sees them
    /// (after the redistribution route-map). A BGP route's are its own.
    pub bgp_attrs: Option<Arc<Attrs>>,
}

impl RareSelection {
    fn is_empty(&self) -> bool {
        self.merged.is_none() && self.bgp_attrs.is_none()
    }
}

/// The candidate indexes of a selection too large for the entry's own bits (the selected
/// candidate's, then the BGP best path's, as `PrefixEntry` keeps them): a prefix with
/// thousands of candidates.
pub(crate) type WideIndexes = (u32, u32);

/// The boxed form: an action, and rare parts or wide indexes (at least one of the two).
#[derive(Clone)]
struct WithRare {
    fib: Option<Arc<FibAction>>,
    rare: RareSelection,
    wide: Option<WideIndexes>,
}

/// Set in the word when it points at a [`WithRare`] box.
const BOXED: usize = 1;

// Both pointees leave the low bit of their address free.
const _: () = assert!(align_of::<FibAction>() > BOXED && align_of::<WithRare>() > BOXED);

/// The installed FIB action and the rare selection parts of a table entry, in one word:
/// null (neither), an `Arc<FibAction>`'s pointer (the action alone), or a `Box<WithRare>`'s
/// pointer with [`BOXED`] set in its address.
pub(crate) struct Held(*mut u8);

// SAFETY: `Held` owns an `Arc<FibAction>` or a `Box<WithRare>`, both `Send` and `Sync`.
unsafe impl Send for Held {}
// SAFETY: as above; shared access only reads.
unsafe impl Sync for Held {}

impl Held {
    pub(crate) const fn new() -> Self {
        Held(std::ptr::null_mut())
    }

    fn is_boxed(&self) -> bool {
        self.0.addr() & BOXED != 0
    }

    /// The box's pointer, when the word is one.
    fn box_ptr(&self) -> Option<*mut WithRare> {
        self.is_boxed()
            .then(|| self.0.map_addr(|a| a & !BOXED).cast::<WithRare>())
    }

    fn boxed(&self) -> Option<&WithRare> {
        // SAFETY: with BOXED set the word is a live `Box<WithRare>` we own.
        self.box_ptr().map(|p| unsafe { &*p })
    }

    fn boxed_mut(&mut self) -> Option<&mut WithRare> {
        // SAFETY: as in `boxed`, and `&mut self` makes the access unique.
        self.box_ptr().map(|p| unsafe { &mut *p })
    }

    /// Takes what the word owns, leaving it empty.
    fn take(
        &mut self,
    ) -> (
        Option<Arc<FibAction>>,
        Option<RareSelection>,
        Option<WideIndexes>,
    ) {
        match self.box_ptr() {
            Some(p) => {
                self.0 = std::ptr::null_mut();
                // SAFETY: the word was a `Box<WithRare>` we owned; it is ours again.
                let boxed = unsafe { Box::from_raw(p) };
                (boxed.fib, Some(boxed.rare), boxed.wide)
            }
            None => (self.take_unboxed(), None, None),
        }
    }

    /// Owns `fib`, `rare` and `wide` (boxed only when `rare` has something or `wide` is
    /// there).
    fn put(
        &mut self,
        fib: Option<Arc<FibAction>>,
        rare: Option<RareSelection>,
        wide: Option<WideIndexes>,
    ) {
        debug_assert!(self.0.is_null());
        self.0 = match (fib, rare.filter(|r| !r.is_empty()), wide) {
            (None, None, None) => std::ptr::null_mut(),
            (Some(fib), None, None) => Arc::into_raw(fib).cast_mut().cast(),
            (fib, rare, wide) => Box::into_raw(Box::new(WithRare {
                fib,
                rare: rare.unwrap_or_default(),
                wide,
            }))
            .cast::<u8>()
            .map_addr(|a| a | BOXED),
        };
    }

    /// The FIB action the last delta installed.
    pub(crate) fn fib(&self) -> Option<&FibAction> {
        if self.is_boxed() {
            return self.boxed().and_then(|b| b.fib.as_deref());
        }
        // SAFETY: without BOXED a non-null word is `Arc::into_raw` of an action whose count
        // we hold, so it lives as long as `self` does.
        (!self.0.is_null()).then(|| unsafe { &*self.0.cast::<FibAction>() })
    }

    /// The installed action's `Arc`, cloned.
    fn fib_arc(&self) -> Option<Arc<FibAction>> {
        if self.is_boxed() {
            return self.boxed().and_then(|b| b.fib.clone());
        }
        let p = self.0.cast_const().cast::<FibAction>();
        // SAFETY: a non-null `p` is `Arc::into_raw` of an action whose count we hold: one
        // more count, then an `Arc` that owns it.
        (!p.is_null()).then(|| unsafe {
            Arc::increment_strong_count(p);
            Arc::from_raw(p)
        })
    }

    /// An unboxed word's action, taken out (the word left null).
    fn take_unboxed(&mut self) -> Option<Arc<FibAction>> {
        debug_assert!(!self.is_boxed());
        let word = std::mem::replace(&mut self.0, std::ptr::null_mut());
        // SAFETY: without BOXED a non-null word is an `Arc<FibAction>` we owned (one count);
        // it is ours again.
        (!word.is_null()).then(|| unsafe { Arc::from_raw(word.cast::<FibAction>()) })
    }

    /// Takes the action out; a box stays (it holds rare parts or wide indexes). Once per
    /// route a delta: the word is not rebuilt.
    pub(crate) fn take_fib(&mut self) -> Option<Arc<FibAction>> {
        match self.boxed_mut() {
            Some(boxed) => boxed.fib.take(),
            None => self.take_unboxed(),
        }
    }

    pub(crate) fn set_fib(&mut self, fib: Option<Arc<FibAction>>) {
        if let Some(boxed) = self.boxed_mut() {
            boxed.fib = fib;
            return;
        }
        drop(self.take_unboxed());
        self.put(fib, None, None);
    }

    pub(crate) fn rare(&self) -> Option<&RareSelection> {
        self.boxed().map(|b| &b.rare).filter(|r| !r.is_empty())
    }

    /// Replaces the rare parts (none, or empty ones, unbox the action).
    pub(crate) fn set_rare(&mut self, rare: Option<RareSelection>) {
        if !self.is_boxed() && rare.as_ref().is_none_or(RareSelection::is_empty) {
            return; // nothing boxed, nothing to box: the common case, left as it is
        }
        let (fib, _, wide) = self.take();
        self.put(fib, rare, wide);
    }

    /// Forgets the merged multipath route (its candidate left).
    pub(crate) fn clear_merged(&mut self) {
        if let Some(boxed) = self.boxed_mut() {
            boxed.rare.merged = None;
            if boxed.rare.is_empty() && boxed.wide.is_none() {
                let (fib, _, _) = self.take();
                self.put(fib, None, None);
            }
        }
    }

    /// The selection's indexes, when the entry's bits could not hold them.
    pub(crate) fn wide(&self) -> Option<WideIndexes> {
        self.boxed()?.wide
    }

    /// Keeps (or, with `None`, forgets) indexes too wide for the entry's bits.
    pub(crate) fn set_wide(&mut self, wide: Option<WideIndexes>) {
        if let Some(boxed) = self.boxed_mut() {
            if wide.is_some() || !boxed.rare.is_empty() {
                boxed.wide = wide;
                return;
            }
        } else if wide.is_none() {
            return; // the common case: nothing boxed, nothing to box
        }
        let (fib, rare, _) = self.take();
        self.put(fib, rare, wide);
    }
}

impl Default for Held {
    fn default() -> Self {
        Held::new()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        drop(self.take());
    }
}

impl Clone for Held {
    fn clone(&self) -> Self {
        let mut copy = Held::new();
        match self.boxed() {
            Some(b) => copy.put(b.fib.clone(), Some(b.rare.clone()), b.wide),
            None => copy.put(self.fib_arc(), None, None),
        }
        copy
    }
}

impl fmt::Debug for Held {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Held")
            .field("fib", &self.fib())
            .field("rare", &self.rare())
            .field("wide", &self.wide())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Adjacency, Forward, Protocol};

    fn action(n: u8) -> Arc<FibAction> {
        let adj = Adjacency {
            interface: Arc::from(format!("eth{n}").as_str()),
            address: std::net::IpAddr::from([10, 0, 0, n]),
            vpn_label: None,
            transport_label: None,
        };
        Arc::new(FibAction::Forward(Arc::from(vec![adj])))
    }

    fn rare(tag: u32) -> RareSelection {
        let mut route = Route::local(Protocol::Static, Forward::Blackhole, tag);
        let forward = route.forward().clone();
        route.set_via(crate::RouteVia::new(Protocol::Static, 7, forward, None));
        RareSelection {
            merged: Some(route),
            bgp_attrs: None,
        }
    }

    /// Every transition between the word's three forms keeps the action and the rare parts
    /// apart and right, and drops what it replaces (the shared action's count comes back).
    #[test]
    fn one_word_holds_the_action_and_the_rare_parts() {
        assert_eq!(size_of::<Held>(), 8);
        let a = action(1);
        let b = action(2);
        let mut held = Held::new();
        assert!(held.fib().is_none() && held.rare().is_none());

        held.set_fib(Some(a.clone()));
        assert_eq!(held.fib(), Some(&*a));
        assert_eq!(Arc::strong_count(&a), 2);
        assert!(held.rare().is_none());

        held.set_rare(Some(rare(5)));
        assert_eq!(held.fib(), Some(&*a), "boxing keeps the action");
        assert_eq!(held.rare(), Some(&rare(5)));

        held.set_fib(Some(b.clone()));
        assert_eq!(held.fib(), Some(&*b));
        assert_eq!(Arc::strong_count(&a), 1, "the replaced action is released");
        assert_eq!(
            held.rare(),
            Some(&rare(5)),
            "a new action keeps the rare parts"
        );

        let copy = held.clone();
        assert_eq!(Arc::strong_count(&b), 3);
        assert_eq!(copy.rare(), Some(&rare(5)));

        held.clear_merged();
        assert!(held.rare().is_none(), "nothing rare left: unboxed");
        assert_eq!(held.fib(), Some(&*b));
        let unboxed_copy = held.clone();
        assert_eq!(unboxed_copy.fib(), Some(&*b));
        assert_eq!(
            Arc::strong_count(&b),
            4,
            "a copy of the unboxed word holds a count"
        );
        drop(unboxed_copy);

        held.set_rare(Some(RareSelection::default()));
        assert!(held.rare().is_none(), "empty rare parts are not boxed");

        assert_eq!(held.take_fib(), Some(b.clone()));
        assert!(held.fib().is_none());
        held.set_rare(Some(rare(6)));
        assert!(held.fib().is_none());
        assert_eq!(held.rare(), Some(&rare(6)));
        held.set_rare(None);
        assert!(held.fib().is_none() && held.rare().is_none());

        drop(copy);
        drop(held);
        assert_eq!(Arc::strong_count(&b), 1);
    }

    /// Wide indexes box the word like rare parts do, and each survives the other's and the
    /// action's changes; the word unboxes once neither is left.
    #[test]
    fn wide_indexes_share_the_box_with_the_rare_parts() {
        let a = action(1);
        let mut held = Held::new();
        held.set_wide(None);
        assert!(!held.is_boxed(), "no indexes, nothing to box");
        held.set_fib(Some(a.clone()));
        held.set_wide(Some((9000, 5000)));
        assert_eq!(held.wide(), Some((9000, 5000)));
        assert_eq!(held.fib(), Some(&*a), "boxing keeps the action");
        assert!(held.rare().is_none(), "indexes alone are no rare parts");

        held.set_rare(Some(rare(5)));
        assert_eq!(
            held.wide(),
            Some((9000, 5000)),
            "rare parts keep the indexes"
        );
        held.clear_merged();
        assert!(held.rare().is_none());
        assert_eq!(
            held.wide(),
            Some((9000, 5000)),
            "still boxed for the indexes"
        );
        assert_eq!(held.take_fib(), Some(a.clone()));
        assert_eq!(held.wide(), Some((9000, 5000)));
        let copy = held.clone();
        assert_eq!(copy.wide(), Some((9000, 5000)));

        held.set_rare(Some(rare(6)));
        held.set_wide(None);
        assert_eq!(
            held.rare(),
            Some(&rare(6)),
            "dropping the indexes keeps the rare parts"
        );
        held.set_rare(None);
        assert!(!held.is_boxed(), "neither left: unboxed");
        held.set_wide(Some((1, 2)));
        held.set_wide(None);
        assert!(!held.is_boxed());
        drop(copy);
        assert_eq!(Arc::strong_count(&a), 1, "every count given back");
    }
}
