//! BGP sessions: the RFC 4271 state machine, capability negotiation, the graceful restart
//! helper and a tokio transport that runs them for many neighbors.
//!
//! Layered like holo's `holo-bgp` (instance → neighbor → family as plain structs, one
//! handler per event), with the state machine kept free of I/O:
//!
//! ```text
//! Speaker (listeners, neighbor table)
//!   └─ neighbor task ── Fsm::handle(Input) ──► Vec<Action> ──► sockets, timers, events
//!         ▲   reads: frame() + decode with the negotiated Context
//!         └── commands (start/stop); UPDATEs go straight to the writer queue
//! ```
//!
//! * [`fsm`]: states, inputs, actions, events; collision detection; graceful restart helper.
//! * [`negotiate`]: our OPEN, checks on the peer's OPEN, the [`Negotiated`] session.
//! * [`inbound`]: UPDATE checks that need to know the peer (first AS, eBGP-only attributes).
//! * [`speaker`]: the tokio [`Speaker`] and its [`Neighbor`] handles.
//!
//! See docs/bgp-sessions.md for the state table and the interop tests.

pub mod config;
pub mod fsm;
pub mod inbound;
pub mod negotiate;
pub mod notification;
pub mod speaker;
pub mod timers;
mod transport;

#[cfg(test)]
mod tests;

pub use config::{
    ConfigError, GracefulRestartConfig, NeighborConfig, RetryTimers, BGP_PORT, DEFAULT_HOLD_TIME,
};
pub use fsm::{Action, ConnId, Direction, Event, Fsm, Input, Reason, StaleCause, State, Timer};
pub use negotiate::{Families, Negotiated, OpenProblem, PeerGracefulRestart};
pub use notification::{cease, cease_notification, Describe};
pub use speaker::{Events, Neighbor, NeighborEvent, SessionError, Speaker, SpeakerConfig};
