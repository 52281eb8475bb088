//! [`Shared`]: an `Arc` whose representation this crate knows.
//!
//! A prefix's candidates keep their "none" and "several" states in the first word of a
//! route ([`crate::small_map::Packed`]), which is only sound if that word is a pointer that is
//! never null nor odd. `Arc`'s layout is not documented; this type's is: a pointer obtained
//! from [`Arc::into_raw`], which points at the value (so it is aligned as the value is).

use std::fmt;
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::Arc;

/// An `Arc<T>` held as the pointer [`Arc::into_raw`] gives: one word, never null, aligned as
/// `T`. Clones and drops as the `Arc` would; compares by value (pointer equality first).
#[repr(transparent)]
pub(crate) struct Shared<T>(NonNull<T>);

// SAFETY: `Shared<T>` is an `Arc<T>`, which is `Send` and `Sync` when `T` is both.
unsafe impl<T: Send + Sync> Send for Shared<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for Shared<T> {}

impl<T> Shared<T> {
    pub(crate) fn new(arc: Arc<T>) -> Self {
        // SAFETY: `Arc::into_raw` never returns null.
        Shared(unsafe { NonNull::new_unchecked(Arc::into_raw(arc).cast_mut()) })
    }

    pub(crate) fn as_ptr(&self) -> *const T {
        self.0.as_ptr()
    }
}

impl<T> Deref for Shared<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the pointer is a live `Arc`'s, which this value keeps alive.
        unsafe { self.0.as_ref() }
    }
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        // SAFETY: the pointer came from `Arc::into_raw` and its count is at least this one.
        unsafe { Arc::increment_strong_count(self.as_ptr()) };
        Shared(self.0)
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `Arc::into_raw`; this gives back the count it held.
        drop(unsafe { Arc::from_raw(self.as_ptr()) });
    }
}

impl<T: PartialEq> PartialEq for Shared<T> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0 || **self == **other
    }
}

impl<T: Eq> Eq for Shared<T> {}

impl<T: fmt::Debug> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_as_the_arc_it_holds() {
        let arc = Arc::new(7u64);
        let a = Shared::new(arc.clone());
        assert_eq!(Arc::strong_count(&arc), 2);
        let b = a.clone();
        assert_eq!(Arc::strong_count(&arc), 3);
        assert_eq!(a.as_ptr(), Arc::as_ptr(&arc));
        assert_eq!((*b, a == b), (7, true));
        assert_eq!(Shared::new(Arc::new(7u64)), a, "equal by value");
        drop((a, b));
        assert_eq!(Arc::strong_count(&arc), 1);
    }
}
