//! How the daemon's allocator for small blocks (mimalloc) gives freed memory back.
//!
//! mimalloc hands the pages of freed blocks back to the kernel after a delay, so that memory
//! freed and soon wanted again is not given back and faulted in again. Its version 3 (the
//! `mimalloc` crate's default) waits a second where version 2 waited 10 ms. Ingest frees the
//! short-lived lists of each batch of routes (the decoded UPDATEs, the deltas, the switch
//! updates) every few milliseconds, and with a second's delay their pages stayed resident
//! through the whole load: alternated at a million routes, 10 ms took the resident memory
//! from 147 to 138 bytes a route (VPNv4) and 124 to 117 (IPv4), at the same speed
//! (docs/benchmarks.md, "BGP ingest", session 15).
//!
//! The option is set through mimalloc's C interface, declared here: the `mimalloc` crate
//! links it, but exposes it only with its `extended` feature, whose `cty` dependency this
//! build has no copy of.

use std::os::raw::{c_int, c_long};

// Linked for its C library, which defines the functions below.
use mimalloc as _;

/// `mi_option_purge_delay` in mimalloc's `mi_option_t` (checked by a test against its
/// default of 1000 ms, which no neighboring option has).
const PURGE_DELAY: c_int = 15;

/// What the daemon sets the purge delay to, in milliseconds.
pub const PURGE_DELAY_MS: c_long = 10;

/// The environment variable through which an operator sets the delay instead.
pub const PURGE_DELAY_ENV: &str = "MIMALLOC_PURGE_DELAY";

extern "C" {
    fn mi_option_get(option: c_int) -> c_long;
    fn mi_option_set(option: c_int, value: c_long);
}

/// Sets mimalloc's purge delay to [`PURGE_DELAY_MS`], unless [`PURGE_DELAY_ENV`] is set
/// (mimalloc then reads it). Call it first thing in `main`, before other threads start
/// (mimalloc's option setting is not thread-safe).
pub fn set_purge_delay() {
    if std::env::var_os(PURGE_DELAY_ENV).is_some() {
        return;
    }
    // SAFETY: sets one of mimalloc's options by its index; no other thread runs yet.
    unsafe { mi_option_set(PURGE_DELAY, PURGE_DELAY_MS) };
}

/// The purge delay in force, in milliseconds.
pub fn purge_delay() -> c_long {
    // SAFETY: reads one of mimalloc's options by its index.
    unsafe { mi_option_get(PURGE_DELAY) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Index 15 is the purge delay: version 3's default for it is 1000 ms, and the options
    /// beside it (eager-commit delay, NUMA nodes) default to 1 and 0. Then setting it takes.
    #[test]
    fn the_purge_delay_is_option_15_and_setting_it_takes() {
        // SAFETY: reads options by index; the set below is the only one in this process.
        let (before, at, after) = unsafe {
            (
                mi_option_get(PURGE_DELAY - 1),
                mi_option_get(PURGE_DELAY),
                mi_option_get(PURGE_DELAY + 1),
            )
        };
        assert_eq!(
            (before, at, after),
            (1, 1000, 0),
            "mimalloc's defaults around the purge delay ({PURGE_DELAY_ENV} must be unset here)"
        );
        set_purge_delay();
        assert_eq!(purge_delay(), PURGE_DELAY_MS);
    }
}
