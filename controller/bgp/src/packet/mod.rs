//! The codec proper: one module per concern, re-exported flat.

pub mod attribute;
pub mod capability;
pub mod community;
pub mod consts;
pub mod error;
pub mod message;
pub mod nlri;
mod wire;

pub use attribute::{
    prepare_for_readvertisement, Aggregator, AsPath, AsSegment, AttrValue, MpReach, MpUnreach,
    NextHop, Origin, PathAttribute, SegmentKind,
};
pub use capability::{Capability, GracefulRestart, GracefulRestartFamily};
pub use community::{Community, ExtCommunity, LargeCommunity};
pub use error::{Action, DecodeError, EncodeError, Finding, UpdateProblem};
pub use message::{
    frame, Context, Decoded, Frame, Message, Notification, Open, RouteRefresh, Update, UpdateFrame,
    UpdateOutcome,
};
pub use nlri::{AfiSafi, Family, FamilySet, Label, LabelStack, NlriList, Rd, VpnPrefix};
/// The RIB's RD / RT types, which the codec decodes into (re-exported for callers).
pub use vpn_types::{AdminValue, RouteDistinguisher, RouteTarget};
