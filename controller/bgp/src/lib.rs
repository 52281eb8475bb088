//! The BGP-4 wire codec of p4vrf.
//!
//! Like GoBGP's `pkg/packet/bgp`, this crate knows nothing of sessions, timers or tables: it
//! turns bytes into typed messages and back. What the session negotiated (4-octet AS numbers,
//! extended messages, address families) comes in as a [`Context`].
//!
//! Decoding is two-phase, in the spirit of rustbgpd:
//!
//! 1. [`frame`] finds one message in a byte stream (marker, length, type) without allocating;
//!    an UPDATE frame can be split into its withdrawn / attributes / NLRI slices for free
//!    ([`UpdateFrame`]), which is enough for a session to count, log or forward it;
//! 2. [`Frame::decode`] (or [`Message::decode`]) builds the typed message. UPDATE decoding
//!    applies RFC 7606: it returns an [`UpdateOutcome`] (the update plus the per-attribute
//!    findings, and treat-as-withdraw already applied) or a [`DecodeError`] whose
//!    [`DecodeError::notification`] is the NOTIFICATION to send before resetting the session.
//!
//! Encoding never needs a context beyond the same [`Context`]: 2-octet AS_PATH / AGGREGATOR
//! with AS_TRANS and the AS4_* attributes are produced automatically for an old speaker.
//!
//! The [`session`] module sits on top of the codec (and only it knows about sockets and
//! timers): the RFC 4271 state machine, capability negotiation, graceful restart helper and
//! a tokio transport.

pub mod packet;
pub mod session;

pub use packet::*;
