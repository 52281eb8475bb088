//! p4rt: the P4Runtime southbound of p4vrf.
//!
//! One job per module:
//!
//! * [`p4info`]: load a binary P4Info and look its objects up by name or id;
//! * [`codec`]: canonical P4Runtime byte strings (widths, LPM / ternary
//!   masking, addresses);
//! * [`entity`]: name-level, ordered, printable entities (table entries,
//!   action profile members and groups) and their conversion to and from
//!   P4Runtime through a [`P4InfoIndex`];
//! * [`target`]: where entities go: [`GrpcTarget`] (a switch over
//!   P4Runtime) or [`EmbeddedTarget`] (an in-memory switch that enforces the
//!   same rules), behind one [`Target`] trait.
//!
//! The crate is generic over any P4 program: nothing here knows the names
//! of p4vrf's own tables.

pub mod codec;
pub mod entity;
mod name;
pub mod p4info;
pub mod target;
mod value;

pub use entity::{
    ActionCall, ActionProfileGroup, ActionProfileMember, Entity, EntityError, EntityKey,
    FieldMatch, MatchValue, Name, TableAction, TableEntry, Update, UpdateKind, Value,
};
pub use p4info::{P4InfoError, P4InfoIndex};
pub use p4runtime_proto::google::rpc::Code;
pub use target::{
    pipeline_cookie_for, AnyTarget, EmbeddedSwitch, EmbeddedTarget, GrpcTarget, Pipeline,
    PipelineOutcome, SharedSwitch, Target, TargetError, UpdateFailure, WriteError,
    DEFAULT_BATCH_SIZE,
};
