//! The southbound: where entities go. One trait, two implementations.
//!
//! * [`GrpcTarget`] talks P4Runtime to a switch (bmv2 `simple_switch_grpc`,
//!   Stratum): arbitration on the stream channel, pipeline push, batched
//!   writes, wildcard reads.
//! * [`EmbeddedTarget`] keeps the pipeline and tables in memory in an
//!   [`EmbeddedSwitch`], which enforces what a switch enforces and answers
//!   with the same P4Runtime statuses. It is the product's default target, so
//!   p4vrf runs on a machine without a switch.
//!
//! Both go through the same code for batching and for turning a failed Write
//! RPC into a [`WriteError`], so callers see identical errors either way.

mod embedded;
mod grpc;
pub mod server;
mod store;
mod switch;

pub use embedded::EmbeddedTarget;
pub use grpc::{GrpcTarget, ARBITRATION_TIMEOUT};
pub use switch::{EmbeddedSwitch, SharedSwitch};

use crate::entity::{Entity, EntityError, Update, UpdateKind};
use crate::p4info::{P4InfoError, P4InfoIndex};
use p4runtime_proto::google::rpc::{Code, Status};
use p4runtime_proto::p4::config::v1::P4Info;
use p4runtime_proto::p4::v1 as p4;
use prost::Message;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, RwLock};

/// Updates per Write RPC unless configured otherwise. Large enough to keep
/// the RPC overhead small, small enough to stay far below gRPC's default
/// 4 MiB message limit on the switch side (a route entry is ~60 bytes).
pub const DEFAULT_BATCH_SIZE: usize = 1000;

/// Type URL of a `p4.v1.Error` in `google.rpc.Status.details`.
pub const P4_ERROR_TYPE_URL: &str = "type.googleapis.com/p4.v1.Error";

/// The `space` our embedded switch puts in its `p4.v1.Error`s.
pub const EMBEDDED_ERROR_SPACE: &str = "p4vrf-embedded";

/// The name of a canonical code (`NOT_FOUND`); unknown numbers as `CODE_<n>`.
pub fn code_name(code: i32) -> String {
    Code::try_from(code)
        .map(|c| c.as_str_name().to_string())
        .unwrap_or_else(|_| format!("CODE_{code}"))
}

fn code_of(code: i32) -> Code {
    Code::try_from(code).unwrap_or(Code::Unknown)
}

/// One update the switch (or our own validation) rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateFailure {
    /// Position in the slice given to `write`.
    pub index: usize,
    /// Insert, modify or delete.
    pub kind: UpdateKind,
    /// The entity, rendered with the name-level `Display`.
    pub entity: String,
    /// Canonical code: ALREADY_EXISTS, NOT_FOUND, INVALID_ARGUMENT, ...
    pub code: Code,
    /// What the switch (or our validation) said.
    pub message: String,
}

impl fmt::Display for UpdateFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "update #{} {} {}: {}: {}",
            self.index,
            self.kind,
            self.entity,
            self.code.as_str_name(),
            self.message
        )
    }
}

/// A write that did not fully apply.
///
/// Batches go out in order; the first batch with a failure stops the write,
/// so every update before `batch.start` was applied, the updates of `batch`
/// not listed in `failures` were applied, and `not_attempted` updates after
/// the batch were never sent. When `rejected_locally` is set, nothing was
/// sent: our own validation (names, widths, kinds) failed first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteError {
    /// The failed updates, by index.
    pub failures: Vec<UpdateFailure>,
    /// Code of the Write RPC itself (UNKNOWN when per-update details follow,
    /// or e.g. FAILED_PRECONDITION / PERMISSION_DENIED / UNAVAILABLE for the
    /// whole batch).
    pub rpc_code: Code,
    /// Message of the Write RPC itself.
    pub rpc_message: String,
    /// The indices of the batch that failed.
    pub batch: std::ops::Range<usize>,
    /// Updates after the failed batch that were not sent.
    pub not_attempted: usize,
    /// True if the write was refused before anything was sent.
    pub rejected_locally: bool,
}

impl WriteError {
    /// The codes of the failures, in order (handy in tests).
    pub fn codes(&self) -> Vec<Code> {
        self.failures.iter().map(|f| f.code).collect()
    }

    /// The failure of update `index`, if it failed.
    pub fn failure(&self, index: usize) -> Option<&UpdateFailure> {
        self.failures.iter().find(|f| f.index == index)
    }
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rejected_locally {
            write!(
                f,
                "write refused before sending: {} invalid update(s)",
                self.failures.len()
            )?;
        } else {
            write!(
                f,
                "write failed: {} update(s) of batch {}..{} rejected (Write RPC: {}",
                self.failures.len(),
                self.batch.start,
                self.batch.end,
                self.rpc_code.as_str_name()
            )?;
            if !self.rpc_message.is_empty() {
                write!(f, " {}", self.rpc_message)?;
            }
            write!(f, "), {} later update(s) not sent", self.not_attempted)?;
        }
        for failure in &self.failures {
            write!(f, "\n  {failure}")?;
        }
        Ok(())
    }
}

impl std::error::Error for WriteError {}

/// Errors of everything but `write`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The connection could not be made.
    #[error("cannot connect to P4Runtime server at {addr}: {message}")]
    Connect {
        /// Address as given.
        addr: String,
        /// The transport's explanation.
        message: String,
    },
    /// No arbitration answer in time.
    #[error("P4Runtime server at {addr} sent no arbitration answer within {secs} s")]
    ArbitrationTimeout {
        /// Address.
        addr: String,
        /// The bound.
        secs: u64,
    },
    /// Another controller is primary (or the server refused us).
    #[error("not primary at {addr} for device {device_id} with election id {election_id}: {code} {message}")]
    NotPrimary {
        /// Address.
        addr: String,
        /// Device id.
        device_id: u64,
        /// Our election id.
        election_id: u128,
        /// The status code the server sent (ALREADY_EXISTS: someone else is primary).
        code: String,
        /// The server's message.
        message: String,
    },
    /// The stream channel ended.
    #[error("stream channel to {addr} closed: {message}")]
    StreamClosed {
        /// Address.
        addr: String,
        /// Why, if known.
        message: String,
    },
    /// An RPC failed.
    #[error("P4Runtime {rpc} to {addr} failed: {code}: {message}")]
    Rpc {
        /// Address.
        addr: String,
        /// Which RPC.
        rpc: &'static str,
        /// Canonical code name.
        code: String,
        /// The server's message.
        message: String,
    },
    /// We have no P4Info to translate names with.
    #[error("no pipeline known: call set_pipeline, ensure_pipeline or use_pipeline first")]
    NoPipeline,
    /// The P4Info does not load.
    #[error(transparent)]
    P4Info(#[from] P4InfoError),
    /// A read returned something we cannot name.
    #[error("cannot name an entity read from {addr}: {source}")]
    Decode {
        /// Address.
        addr: String,
        /// Why.
        #[source]
        source: EntityError,
    },
}

/// The pipeline a switch runs, as GetForwardingPipelineConfig tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// The P4Info, when asked for.
    pub p4info: Option<P4Info>,
    /// The cookie set with it, if any.
    pub cookie: Option<u64>,
}

/// What `ensure_pipeline` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PipelineOutcome {
    /// The switch runs another (or no) pipeline: ours was pushed, and the
    /// switch's forwarding state is now empty.
    Installed {
        /// The cookie pushed with it.
        cookie: u64,
    },
    /// The switch already runs exactly our pipeline: nothing was pushed, its
    /// tables are intact and can be reconciled.
    AlreadyRunning {
        /// The cookie found.
        cookie: u64,
    },
}

/// The cookie for a pipeline: a stable 64-bit FNV-1a hash of the P4Info and
/// device config bytes, so a restarted controller recognises its own
/// pipeline on the switch without reading it back.
pub fn pipeline_cookie_for(p4info: &[u8], device_config: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;
    let mut h = OFFSET;
    let lengths = [p4info.len() as u64, device_config.len() as u64];
    for chunk in [
        &lengths[0].to_be_bytes()[..],
        p4info,
        &lengths[1].to_be_bytes()[..],
        device_config,
    ] {
        for b in chunk {
            h ^= u64::from(*b);
            h = h.wrapping_mul(PRIME);
        }
    }
    h
}

/// A VERIFY_AND_COMMIT request for a pipeline (without device and election ids, which only
/// a switch connection knows), with the index and cookie that go with it.
fn commit_request(
    p4info: &[u8],
    device_config: &[u8],
) -> Result<
    (
        Arc<P4InfoIndex>,
        u64,
        p4::SetForwardingPipelineConfigRequest,
    ),
    TargetError,
> {
    use p4::set_forwarding_pipeline_config_request::Action;
    let index = Arc::new(P4InfoIndex::from_binary(p4info)?);
    let cookie = pipeline_cookie_for(p4info, device_config);
    let req = p4::SetForwardingPipelineConfigRequest {
        action: Action::VerifyAndCommit as i32,
        config: Some(p4::ForwardingPipelineConfig {
            p4info: Some(index.raw().clone()),
            p4_device_config: device_config.to_vec(),
            cookie: Some(p4::forwarding_pipeline_config::Cookie { cookie }),
        }),
        ..Default::default()
    };
    Ok((index, cookie, req))
}

/// A place to write P4Runtime entities to and read them from.
///
/// Methods take `&self` and return `Send` futures, so one target can be
/// shared (e.g. in an `Arc`) and driven from spawned tasks. For a target
/// chosen at run time use [`AnyTarget`].
pub trait Target: Send + Sync {
    /// The P4Info the target translates names with, once known.
    fn index(&self) -> Option<Arc<P4InfoIndex>>;

    /// Adopts a P4Info for name translation without pushing anything (the
    /// switch already runs it, e.g. after `pipeline_cookie` matched).
    fn use_pipeline(&self, p4info: &[u8]) -> Result<Arc<P4InfoIndex>, TargetError>;

    /// SetForwardingPipelineConfig VERIFY_AND_COMMIT with the cookie of
    /// [`pipeline_cookie_for`]; wipes the switch's forwarding state. Returns
    /// the cookie.
    fn set_pipeline(
        &self,
        p4info: &[u8],
        device_config: &[u8],
    ) -> impl Future<Output = Result<u64, TargetError>> + Send;

    /// GetForwardingPipelineConfig COOKIE_ONLY: the cookie of the running
    /// pipeline, `None` if there is no pipeline or no cookie.
    fn pipeline_cookie(&self) -> impl Future<Output = Result<Option<u64>, TargetError>> + Send;

    /// GetForwardingPipelineConfig P4INFO_AND_COOKIE; `None` if no pipeline.
    fn get_pipeline(&self) -> impl Future<Output = Result<Option<Pipeline>, TargetError>> + Send;

    /// Writes updates in order, in batches; see [`WriteError`] for what a
    /// failure leaves applied.
    fn write(&self, updates: &[Update]) -> impl Future<Output = Result<(), WriteError>> + Send;

    /// Writes P4Runtime updates as they are (no name-level validation);
    /// failures are rendered by name where the index allows.
    fn write_proto(
        &self,
        updates: Vec<p4::Update>,
    ) -> impl Future<Output = Result<(), WriteError>> + Send;

    /// Every entry of one table, sorted.
    fn read_table(
        &self,
        table: &str,
    ) -> impl Future<Output = Result<Vec<Entity>, TargetError>> + Send;

    /// Every table entry, action profile member and group, sorted.
    fn read_all(&self) -> impl Future<Output = Result<Vec<Entity>, TargetError>> + Send;

    /// Pushes our pipeline unless the switch already runs it (same cookie),
    /// and adopts its P4Info either way. This is what lets a restarted
    /// controller reconcile instead of wiping the switch.
    fn ensure_pipeline(
        &self,
        p4info: &[u8],
        device_config: &[u8],
    ) -> impl Future<Output = Result<PipelineOutcome, TargetError>> + Send {
        async move {
            let cookie = pipeline_cookie_for(p4info, device_config);
            if self.pipeline_cookie().await? == Some(cookie) {
                self.use_pipeline(p4info)?;
                tracing::info!(
                    cookie = format_args!("{cookie:#018x}"),
                    "switch already runs our pipeline"
                );
                return Ok(PipelineOutcome::AlreadyRunning { cookie });
            }
            let cookie = self.set_pipeline(p4info, device_config).await?;
            Ok(PipelineOutcome::Installed { cookie })
        }
    }
}

// ------------------------------------------------------------------ shared machinery

/// The P4Info slot both targets keep.
#[derive(Debug, Default)]
pub(crate) struct IndexSlot(RwLock<Option<Arc<P4InfoIndex>>>);

impl IndexSlot {
    pub(crate) fn get(&self) -> Option<Arc<P4InfoIndex>> {
        match self.0.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub(crate) fn set(&self, index: Arc<P4InfoIndex>) {
        match self.0.write() {
            Ok(mut g) => *g = Some(index),
            Err(poisoned) => *poisoned.into_inner() = Some(index),
        }
    }

    pub(crate) fn load(&self, p4info: &[u8]) -> Result<Arc<P4InfoIndex>, TargetError> {
        let index = Arc::new(P4InfoIndex::from_binary(p4info)?);
        self.set(index.clone());
        Ok(index)
    }
}

/// Checks that every name-level update translates (names, kinds, widths), without building
/// any message; refuses the whole write (nothing sent) if one does not. The messages are
/// built a batch at a time as they are sent ([`encode_batch`]), so a write holds one batch of
/// them, not one per update.
pub(crate) fn check_updates(
    index: Option<&P4InfoIndex>,
    updates: &[Update],
) -> Result<(), WriteError> {
    let mut failures = Vec::new();
    let mut lookups = index.map(crate::p4info::Lookups::new);
    for (i, u) in updates.iter().enumerate() {
        let result = match &mut lookups {
            Some(lookups) => u
                .entity
                .check_with(lookups)
                .map_err(|e| (Code::InvalidArgument, e.to_string())),
            None => Err((
                Code::FailedPrecondition,
                TargetError::NoPipeline.to_string(),
            )),
        };
        match result {
            Ok(()) => {}
            Err((code, message)) => failures.push(UpdateFailure {
                index: i,
                kind: u.kind,
                entity: u.entity.to_string(),
                code,
                message,
            }),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(WriteError {
            failures,
            rpc_code: if index.is_some() {
                Code::InvalidArgument
            } else {
                Code::FailedPrecondition
            },
            rpc_message: "not sent".to_string(),
            batch: 0..updates.len(),
            not_attempted: updates.len(),
            rejected_locally: true,
        })
    }
}

/// Kind and name-level rendering of a proto update, for error reports.
pub(crate) fn describe_proto(index: Option<&P4InfoIndex>, u: &p4::Update) -> (UpdateKind, String) {
    let kind = match p4::update::Type::try_from(u.r#type) {
        Ok(p4::update::Type::Modify) => UpdateKind::Modify,
        Ok(p4::update::Type::Delete) => UpdateKind::Delete,
        _ => UpdateKind::Insert,
    };
    let entity = match (index, &u.entity) {
        (Some(idx), Some(e)) => match Entity::from_proto(idx, e) {
            Ok(named) => named.to_string(),
            Err(_) => format!("{e:?}"),
        },
        (_, Some(e)) => format!("{e:?}"),
        (_, None) => "(no entity)".to_string(),
    };
    (kind, entity)
}

/// Builds the error for a failed batch from the Write RPC's status: one
/// failure per non-OK `p4.v1.Error` in the details, or, when the server gave
/// no per-update details (e.g. FAILED_PRECONDITION before any pipeline), the
/// RPC's own code for every update of the batch.
pub(crate) fn batch_error(
    status: &Status,
    batch: std::ops::Range<usize>,
    total: usize,
    describe: &(dyn Fn(usize) -> (UpdateKind, String) + Sync),
) -> WriteError {
    let errors: Vec<p4::Error> = status
        .details
        .iter()
        .filter(|any| any.type_url.ends_with("p4.v1.Error"))
        .filter_map(|any| p4::Error::decode(any.value.as_slice()).ok())
        .collect();
    let mut failures = Vec::new();
    for (offset, e) in errors.iter().enumerate() {
        let index = batch.start + offset;
        if e.canonical_code == Code::Ok as i32 || index >= batch.end {
            continue;
        }
        let (kind, entity) = describe(index);
        failures.push(UpdateFailure {
            index,
            kind,
            entity,
            code: code_of(e.canonical_code),
            message: e.message.clone(),
        });
    }
    if failures.is_empty() {
        for index in batch.clone() {
            let (kind, entity) = describe(index);
            failures.push(UpdateFailure {
                index,
                kind,
                entity,
                code: code_of(status.code),
                message: status.message.clone(),
            });
        }
    }
    WriteError {
        failures,
        rpc_code: code_of(status.code),
        rpc_message: status.message.clone(),
        not_attempted: total - batch.end,
        batch,
        rejected_locally: false,
    }
}

/// The P4Runtime messages of a batch of updates already checked by [`check_updates`].
pub(crate) fn encode_batch(
    index: &P4InfoIndex,
    updates: &[Update],
) -> Result<Vec<p4::Update>, Status> {
    updates
        .iter()
        .map(|u| u.to_proto(index))
        .collect::<Result<_, _>>()
        .map_err(|e| Status {
            code: Code::Internal as i32,
            message: format!("checked update does not encode: {e}"),
            details: Vec::new(),
        })
}

/// Sends `total` updates in batches of `batch_size`, in order, stopping at the
/// first batch that fails; `batch` makes the messages of a range of them.
/// A batch is usually its P4Runtime messages; the embedded target sends the range itself.
pub(crate) async fn write_batches<T, B, F, Fut>(
    total: usize,
    batch_size: usize,
    describe: &(dyn Fn(usize) -> (UpdateKind, String) + Sync),
    mut batch: B,
    mut send: F,
) -> Result<(), WriteError>
where
    B: FnMut(std::ops::Range<usize>) -> Result<T, Status> + Send,
    F: FnMut(T) -> Fut + Send,
    Fut: Future<Output = Result<(), Status>> + Send,
{
    let mut start = 0;
    while start < total {
        let end = (start + batch_size.max(1)).min(total);
        tracing::debug!(start, end, total, "P4Runtime write batch");
        let sent = match batch(start..end) {
            Ok(messages) => send(messages).await,
            Err(status) => Err(status),
        };
        if let Err(status) = sent {
            let err = batch_error(&status, start..end, total, describe);
            tracing::warn!(
                failed = err.failures.len(),
                start,
                end,
                code = err.rpc_code.as_str_name(),
                "write batch failed"
            );
            return Err(err);
        }
        start = end;
    }
    Ok(())
}

/// A failed RPC (other than Write) as a [`TargetError`].
pub(crate) fn rpc_error(addr: &str, rpc: &'static str, status: &Status) -> TargetError {
    TargetError::Rpc {
        addr: addr.to_string(),
        rpc,
        code: code_name(status.code),
        message: status.message.clone(),
    }
}

/// Proto entities from a read, named and sorted.
pub(crate) fn name_entities(
    index: &P4InfoIndex,
    addr: &str,
    entities: &[p4::Entity],
) -> Result<Vec<Entity>, TargetError> {
    let mut out = entities
        .iter()
        .map(|e| Entity::from_proto(index, e))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TargetError::Decode {
            addr: addr.to_string(),
            source,
        })?;
    out.sort();
    Ok(out)
}

/// The wildcard read of one table.
pub(crate) fn table_wildcard(table_id: u32) -> p4::Entity {
    p4::Entity {
        entity: Some(p4::entity::Entity::TableEntry(p4::TableEntry {
            table_id,
            ..Default::default()
        })),
    }
}

/// Wildcard reads of every table, member and group the P4Info declares.
/// One entity per object rather than the all-zero wildcards, which not
/// every server implements.
pub(crate) fn all_wildcards(index: &P4InfoIndex) -> Vec<p4::Entity> {
    let mut out: Vec<p4::Entity> = index.tables().map(|t| table_wildcard(t.id)).collect();
    for p in index.action_profiles() {
        out.push(p4::Entity {
            entity: Some(p4::entity::Entity::ActionProfileMember(
                p4::ActionProfileMember {
                    action_profile_id: p.id,
                    ..Default::default()
                },
            )),
        });
        if p.with_selector {
            out.push(p4::Entity {
                entity: Some(p4::entity::Entity::ActionProfileGroup(
                    p4::ActionProfileGroup {
                        action_profile_id: p.id,
                        ..Default::default()
                    },
                )),
            });
        }
    }
    out
}

/// Either target, chosen at run time.
pub enum AnyTarget {
    /// A switch over gRPC (boxed: it is much larger than the embedded one).
    Grpc(Box<GrpcTarget>),
    /// The in-memory switch.
    Embedded(EmbeddedTarget),
}

impl Target for AnyTarget {
    fn index(&self) -> Option<Arc<P4InfoIndex>> {
        match self {
            AnyTarget::Grpc(t) => t.index(),
            AnyTarget::Embedded(t) => t.index(),
        }
    }

    fn use_pipeline(&self, p4info: &[u8]) -> Result<Arc<P4InfoIndex>, TargetError> {
        match self {
            AnyTarget::Grpc(t) => t.use_pipeline(p4info),
            AnyTarget::Embedded(t) => t.use_pipeline(p4info),
        }
    }

    async fn set_pipeline(&self, p4info: &[u8], device_config: &[u8]) -> Result<u64, TargetError> {
        match self {
            AnyTarget::Grpc(t) => t.set_pipeline(p4info, device_config).await,
            AnyTarget::Embedded(t) => t.set_pipeline(p4info, device_config).await,
        }
    }

    async fn pipeline_cookie(&self) -> Result<Option<u64>, TargetError> {
        match self {
            AnyTarget::Grpc(t) => t.pipeline_cookie().await,
            AnyTarget::Embedded(t) => t.pipeline_cookie().await,
        }
    }

    async fn get_pipeline(&self) -> Result<Option<Pipeline>, TargetError> {
        match self {
            AnyTarget::Grpc(t) => t.get_pipeline().await,
            AnyTarget::Embedded(t) => t.get_pipeline().await,
        }
    }

    async fn write(&self, updates: &[Update]) -> Result<(), WriteError> {
        match self {
            AnyTarget::Grpc(t) => t.write(updates).await,
            AnyTarget::Embedded(t) => t.write(updates).await,
        }
    }

    async fn write_proto(&self, updates: Vec<p4::Update>) -> Result<(), WriteError> {
        match self {
            AnyTarget::Grpc(t) => t.write_proto(updates).await,
            AnyTarget::Embedded(t) => t.write_proto(updates).await,
        }
    }

    async fn read_table(&self, table: &str) -> Result<Vec<Entity>, TargetError> {
        match self {
            AnyTarget::Grpc(t) => t.read_table(table).await,
            AnyTarget::Embedded(t) => t.read_table(table).await,
        }
    }

    async fn read_all(&self) -> Result<Vec<Entity>, TargetError> {
        match self {
            AnyTarget::Grpc(t) => t.read_all().await,
            AnyTarget::Embedded(t) => t.read_all().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_types::Any;

    fn err(code: Code, message: &str) -> Any {
        Any {
            type_url: P4_ERROR_TYPE_URL.to_string(),
            value: p4::Error {
                canonical_code: code as i32,
                message: message.to_string(),
                ..Default::default()
            }
            .encode_to_vec(),
        }
    }

    fn describe(i: usize) -> (UpdateKind, String) {
        (UpdateKind::Insert, format!("entity {i}"))
    }

    #[test]
    fn per_update_details_map_to_global_indices() {
        let status = Status {
            code: Code::Unknown as i32,
            message: String::new(),
            details: vec![
                err(Code::Ok, ""),
                err(Code::AlreadyExists, "exists"),
                err(Code::Ok, ""),
                err(Code::NotFound, "missing"),
            ],
        };
        let e = batch_error(&status, 10..14, 20, &describe);
        assert_eq!(e.codes(), vec![Code::AlreadyExists, Code::NotFound]);
        assert_eq!(e.failures[0].index, 11);
        assert_eq!(e.failures[1].entity, "entity 13");
        assert_eq!(e.not_attempted, 6);
        assert_eq!(e.rpc_code, Code::Unknown);
        let text = e.to_string();
        assert!(
            text.contains("update #11 INSERT entity 11: ALREADY_EXISTS: exists"),
            "{text}"
        );
    }

    #[test]
    fn status_without_details_fails_the_whole_batch() {
        let status = Status {
            code: Code::FailedPrecondition as i32,
            message: "No forwarding pipeline config set for this device".to_string(),
            details: vec![],
        };
        let e = batch_error(&status, 0..3, 3, &describe);
        assert_eq!(e.codes(), vec![Code::FailedPrecondition; 3]);
        assert_eq!(e.not_attempted, 0);
    }

    #[test]
    fn cookie_is_stable_and_sensitive() {
        let a = pipeline_cookie_for(b"info", b"json");
        assert_eq!(a, pipeline_cookie_for(b"info", b"json"));
        assert_ne!(a, pipeline_cookie_for(b"info", b"json2"));
        // The split between the two inputs matters.
        assert_ne!(
            pipeline_cookie_for(b"ab", b"c"),
            pipeline_cookie_for(b"a", b"bc")
        );
        assert_eq!(code_name(5), "NOT_FOUND");
        assert_eq!(code_name(99), "CODE_99");
    }
}
