//! The BGP instance layer of p4vrf: between the wire codec (`bgp`) and the routing policy
//! model (`policy`), pure — no I/O, no tasks, no clocks — so every rule here is a unit test.
//!
//! ```text
//! session ──Update──► inbound::decode_update ──Inbound──► AdjRibIn (soft-reconfig copy, GR stale)
//!                                                              │ caller: import policy, best path
//!           best path ──► export::prepare (RFC 4271/4456/5065 rules, well-known communities,
//!                         route-map out / GateD export) ──Arc<Attrs>──► AdjRibOut (per neighbor,
//!                         per family: what was advertised, what changed)
//!           AdjRibOut::take_pending ──► outbound::pack ──Vec<Update>──► session
//! ```
//!
//! * [`nlri`] — [`Nlri`], the route key (prefix, or RD + prefix; the label is not part of it).
//! * [`inbound`] — [`decode_update`]: UPDATE → [`Inbound`] (routes grouped by shared attributes).
//! * [`outbound`] — [`pack`]: announcements and withdrawals → UPDATEs that fit the session.
//! * [`export`] — [`prepare`]: what one best path becomes towards one neighbor, or why not.
//! * [`adj_rib_out`] — [`AdjRibOut`]: advertised routes and the pending difference.
//! * [`adj_rib_in`] — [`AdjRibIn`]: received routes, soft reconfiguration, graceful restart.
//!
//! See `docs/bgp-rib.md`.

use std::sync::Arc;

pub mod adj_rib_in;
pub mod adj_rib_out;
pub mod export;
pub mod inbound;
pub mod nlri;
pub mod outbound;

pub use adj_rib_in::{AdjRibIn, InChanges};
pub use adj_rib_out::{AdjRibOut, Pending};
pub use export::{
    as_path_loop, prepare, prepare_counted, reflection_loop, ExportNeighbor, Learned, Suppressed,
};
pub use inbound::{decode_update, Inbound, PeerInfo, Reach};
pub use nlri::Nlri;
pub use outbound::{pack, PackContext, PackError, Packed};
pub use policy::AttrInterner;

/// One route with its path: key, VPN label (20 bits, `None` for unicast) and attributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announcement {
    pub nlri: Nlri,
    pub label: Option<u32>,
    pub attrs: Arc<policy::Attrs>,
}

/// Attribute sets compare by pointer first (interned sets are equal exactly when they are
/// the same allocation), then by value.
pub(crate) fn same_attrs(a: &Arc<policy::Attrs>, b: &Arc<policy::Attrs>) -> bool {
    Arc::ptr_eq(a, b) || a == b
}
