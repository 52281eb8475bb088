//! What can go wrong on the wire, and what the receiver must do about it.
//!
//! RFC 7606 sorts UPDATE problems into approaches of increasing strength: *attribute
//! discard*, *treat-as-withdraw*, *AFI/SAFI disable* and *session reset*. The first two leave
//! the session up and are reported as [`Finding`]s next to the decoded update; a session reset
//! is a [`DecodeError`], which carries everything needed to build the NOTIFICATION. AFI/SAFI
//! disable is not offered: RFC 7606 allows session reset wherever it allows AFI/SAFI disable,
//! and a session layer that wants the softer action can map [`UpdateProblem::is_mp`] problems
//! to it.

use super::consts::{notify, BGP_VERSION};
use super::message::Notification;

/// What the receiver of a malformed UPDATE keeps of it (RFC 7606 §2), weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// The attribute is dropped; the rest of the UPDATE is processed normally.
    AttributeDiscard,
    /// Every prefix the UPDATE announces is withdrawn instead (RFC 7606 §2).
    TreatAsWithdraw,
}

/// One malformed attribute found in an UPDATE that did not need a session reset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The attribute type code the problem is about (0 when the problem is the attribute
    /// list itself, e.g. an overrun).
    pub attr_type: u8,
    pub action: Action,
    pub problem: UpdateProblem,
}

/// Why part of an UPDATE is malformed. Shared by [`Finding`] and [`DecodeError::Update`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UpdateProblem {
    #[error("withdrawn routes length {0} overruns the message")]
    WithdrawnOverrun(u16),
    #[error("total path attribute length {0} overruns the message")]
    AttributesOverrun(u16),
    #[error("invalid prefix in the {0} field")]
    InvalidPrefix(&'static str),
    #[error("attribute list ends inside an attribute header or value")]
    AttributeTruncated,
    #[error("attribute flags {0:#04x} conflict with the attribute type")]
    FlagsConflict(u8),
    #[error("attribute length {0} is wrong for this attribute")]
    BadLength(usize),
    #[error("invalid ORIGIN value {0}")]
    InvalidOrigin(u8),
    #[error("malformed AS path: {0}")]
    MalformedAsPath(&'static str),
    #[error("well-known mandatory attribute {0} is missing")]
    MissingWellKnown(u8),
    #[error("unrecognized well-known attribute")]
    UnrecognizedWellKnown,
    #[error("attribute appears more than once")]
    Duplicate,
    #[error("MP_REACH_NLRI or MP_UNREACH_NLRI appears more than once")]
    DuplicateMp,
    #[error("MP attribute is malformed: {0}")]
    MalformedMp(&'static str),
    #[error("next hop length {len} is invalid for AFI {afi} SAFI {safi}")]
    BadNextHopLength { afi: u16, safi: u8, len: u8 },
    #[error("AFI {afi} SAFI {safi} was not negotiated")]
    UnnegotiatedFamily { afi: u16, safi: u8 },
    #[error("AS4_PATH or AS4_AGGREGATOR received from a 4-octet AS speaker")]
    As4FromNewSpeaker,
}

impl UpdateProblem {
    /// True for problems of MP_REACH_NLRI / MP_UNREACH_NLRI, where RFC 7606 §7.11 would also
    /// allow "AFI/SAFI disable" instead of a session reset.
    pub fn is_mp(&self) -> bool {
        matches!(
            self,
            UpdateProblem::DuplicateMp
                | UpdateProblem::MalformedMp(_)
                | UpdateProblem::BadNextHopLength { .. }
        )
    }
}

/// An error that ends the session: send [`DecodeError::notification`], then close.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("message header: marker is not all ones")]
    NotSynchronized,
    #[error("message header: bad message length {0}")]
    BadLength(u16),
    #[error("message header: unknown message type {0}")]
    BadType(u8),
    #[error("OPEN: unsupported BGP version {0}")]
    UnsupportedVersion(u8),
    #[error("OPEN: unacceptable hold time {0}")]
    UnacceptableHoldTime(u16),
    #[error("OPEN: BGP identifier must not be 0.0.0.0")]
    BadBgpIdentifier,
    #[error("OPEN: unsupported optional parameter type {0}")]
    UnsupportedOptionalParameter(u8),
    #[error("OPEN: malformed optional parameters: {0}")]
    MalformedOpen(&'static str),
    #[error("UPDATE: {problem}")]
    Update {
        /// The UPDATE Message Error subcode (RFC 4271 §6.3).
        subcode: u8,
        /// NOTIFICATION data: usually the offending attribute (flags, type, length, value).
        data: Vec<u8>,
        problem: UpdateProblem,
    },
    #[error("ROUTE-REFRESH: bad message length {0}")]
    BadRouteRefreshLength(u16),
}

impl DecodeError {
    /// The NOTIFICATION that RFC 4271 §6 (as revised by RFC 7606) says to send.
    pub fn notification(&self) -> Notification {
        use notify::*;
        let (code, subcode, data) = match self {
            DecodeError::NotSynchronized => (
                MESSAGE_HEADER,
                header::CONNECTION_NOT_SYNCHRONIZED,
                Vec::new(),
            ),
            DecodeError::BadLength(len) => (
                MESSAGE_HEADER,
                header::BAD_MESSAGE_LENGTH,
                len.to_be_bytes().to_vec(),
            ),
            DecodeError::BadType(t) => (MESSAGE_HEADER, header::BAD_MESSAGE_TYPE, vec![*t]),
            DecodeError::UnsupportedVersion(_) => (
                OPEN_MESSAGE,
                open::UNSUPPORTED_VERSION,
                u16::from(BGP_VERSION).to_be_bytes().to_vec(),
            ),
            DecodeError::UnacceptableHoldTime(_) => {
                (OPEN_MESSAGE, open::UNACCEPTABLE_HOLD_TIME, Vec::new())
            }
            DecodeError::BadBgpIdentifier => (OPEN_MESSAGE, open::BAD_BGP_IDENTIFIER, Vec::new()),
            DecodeError::UnsupportedOptionalParameter(_) => (
                OPEN_MESSAGE,
                open::UNSUPPORTED_OPTIONAL_PARAMETER,
                Vec::new(),
            ),
            DecodeError::MalformedOpen(_) => (OPEN_MESSAGE, open::UNSPECIFIC, Vec::new()),
            DecodeError::Update { subcode, data, .. } => (UPDATE_MESSAGE, *subcode, data.clone()),
            DecodeError::BadRouteRefreshLength(len) => (
                ROUTE_REFRESH_MESSAGE,
                route_refresh::INVALID_MESSAGE_LENGTH,
                len.to_be_bytes().to_vec(),
            ),
        };
        Notification {
            code,
            subcode,
            data,
        }
    }
}

/// Why a message could not be encoded (the codec never writes something it could not read).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("message of {len} octets exceeds the maximum of {max}")]
    TooLong { len: usize, max: usize },
    #[error("{what} of {len} octets does not fit its length field")]
    FieldTooLong { what: &'static str, len: usize },
    #[error("AS path segment with {0} AS numbers (at most 255)")]
    SegmentTooLong(usize),
    #[error("{0} cannot be carried in this address family")]
    WrongFamily(&'static str),
}
