//! p4vrf: a multi-VRF router control plane for P4 switches.
//!
//! The binary (`src/main.rs`) wires these modules together:
//! configuration → RIB ([`rib`]) → FIB delta → P4 entries ([`dataplane`]) → southbound ([`p4rt`]).

pub mod api;
pub mod config;
pub mod dataplane;
pub mod large_alloc;
pub mod pipeline;
pub mod router;
pub mod show;
pub mod small_blocks;
pub mod southbound;
pub mod speaker;
