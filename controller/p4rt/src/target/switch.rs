//! The embedded switch: a P4Runtime device model in memory.
//!
//! It takes and returns P4Runtime protos (WriteRequest, ReadRequest,
//! pipeline config) and answers with `google.rpc.Status` exactly the way a
//! P4Runtime server does: request-level problems as the RPC's status, and
//! per-update problems as one `p4.v1.Error` per update in the status
//! details. So the embedded target and the gRPC target share one error path,
//! and the same model can be served over gRPC ([`super::server`]).
//!
//! The rules follow the P4Runtime spec and what bmv2 (through PI) does;
//! where the two differ we follow the spec and say so:
//!
//! | situation | code |
//! |---|---|
//! | Write / Read before any pipeline | FAILED_PRECONDITION (RPC status, no details) |
//! | atomicity other than CONTINUE_ON_ERROR | UNIMPLEMENTED (as bmv2) |
//! | unknown table / action / param / field / profile id | INVALID_ARGUMENT (as bmv2) |
//! | match kind differs from the field's | INVALID_ARGUMENT |
//! | value wider than the bit width, empty value | INVALID_ARGUMENT |
//! | LPM with host bits set, prefix 0 or > width | INVALID_ARGUMENT |
//! | ternary mask 0 / full range sent explicitly (don't-care) | INVALID_ARGUMENT |
//! | exact field missing, field twice, wrong priority | INVALID_ARGUMENT |
//! | action not in the table, param missing / extra / twice | INVALID_ARGUMENT |
//! | action that is DEFAULT_ONLY used in an entry | PERMISSION_DENIED (as bmv2) |
//! | direct action on a table with an action profile, or member / group on a table without | INVALID_ARGUMENT |
//! | entry refers to a missing member / group | NOT_FOUND (spec; bmv2 says INVALID_ARGUMENT) |
//! | INSERT of an existing key / member / group | ALREADY_EXISTS |
//! | MODIFY / DELETE of a missing one | NOT_FOUND |
//! | table at its P4Info size, profile at its size | RESOURCE_EXHAUSTED (spec; bmv2 says UNKNOWN) |
//! | group refers to a missing member | NOT_FOUND |
//! | group weights over max_size / max_group_size | RESOURCE_EXHAUSTED |
//! | DELETE of a member in a group or used by an entry, of a group used by an entry | FAILED_PRECONDITION (spec; bmv2 refuses with UNKNOWN) |
//! | default entries, one-shot action sets, meters, counters, registers, ... | UNIMPLEMENTED |

use super::store::{FieldLayout, Insert, Layout, TableStore, TAG_DIRECT, TAG_GROUP, TAG_MEMBER};
use super::{encode_batch, EMBEDDED_ERROR_SPACE, P4_ERROR_TYPE_URL};
use crate::codec::{self, CodecError};
use crate::entity::{Entity, MatchValue, TableAction, Update, UpdateKind};
use crate::name::Name;
use crate::p4info::{
    ActionProfileInfo, ActionScope, Lookups, MatchKind, P4InfoIndex, ParamInfo, TableInfo,
};
use crate::value::Value;
use foldhash::fast::FixedState;
use p4runtime_proto::google::rpc::{Code, Status};
use p4runtime_proto::p4::v1 as p4;
use prost::Message;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// How many packed updates ahead a write starts loading the index slot it will search.
const PREFETCH_AHEAD: usize = 8;

/// Name-level updates checked and packed in one pass ([`EmbeddedSwitch::pack_updates`]), for
/// [`EmbeddedSwitch::write_updates`] to apply without checking and packing them again.
#[derive(Debug)]
pub(crate) struct Packed {
    /// The [`Installed::id`] the records were packed for.
    pipeline: u64,
    /// Per update, its table and where its record starts in `records`; [`Packed::NONE`] for an
    /// update that takes the usual way.
    items: Vec<(u32, u32)>,
    records: Vec<u8>,
}

impl Packed {
    const NONE: (u32, u32) = (0, u32::MAX);
}

/// Positions of key fields and action parameters by name, remembered by the [`Name`] itself
/// ([`Name::is`]): the entities of a write name them with the same few `Name`s, so a look-up
/// is a comparison of addresses instead of one of strings per name and entity.
#[derive(Default)]
struct NameMemo {
    /// (the table or action, the name, its position), the latest few.
    seen: Vec<(*const (), Name, usize)>,
}

impl NameMemo {
    /// The position of `name` among the fields of a table or the parameters of an action
    /// (`owner`, alive as long as the memo is used), from `find` the first time.
    fn position<T>(
        &mut self,
        owner: &T,
        name: Name,
        find: impl FnOnce() -> Option<usize>,
    ) -> Option<usize> {
        let owner = (owner as *const T).cast::<()>();
        if let Some((_, _, pos)) = self.seen.iter().find(|(o, n, _)| *o == owner && n.is(name)) {
            return Some(*pos);
        }
        let pos = find()?;
        if self.seen.len() == 16 {
            self.seen.clear();
        }
        self.seen.push((owner, name, pos));
        Some(pos)
    }
}

/// An embedded switch shared between a target, a gRPC server and tests.
pub type SharedSwitch = Arc<Mutex<EmbeddedSwitch>>;

/// A P4Runtime device in memory: one pipeline, its tables, action profile
/// members and groups.
#[derive(Debug, Default)]
pub struct EmbeddedSwitch {
    pipeline: Option<Installed>,
}

#[derive(Debug)]
struct Installed {
    /// Which commit of a pipeline this is (unique in the process), so that records packed
    /// for it ([`Packed`]) are never applied to another.
    id: u64,
    index: Arc<P4InfoIndex>,
    config: p4::ForwardingPipelineConfig,
    /// Entries by table id, packed ([`super::store`]).
    tables: HashMap<u32, TableStore, FixedState>,
    profiles: HashMap<u32, Profile>,
    /// A P4Info index other than `index` found to hold the same P4Info (an
    /// [`super::EmbeddedTarget`]'s own copy): name-level updates checked against it are
    /// applied without the P4Runtime round trip ([`EmbeddedSwitch::write_updates`]). Kept as
    /// a strong reference so that the pointer comparison cannot match a later, different
    /// index at the same address.
    same_index: Option<Arc<P4InfoIndex>>,
}

/// One key field, canonical. Values of up to 22 bytes are kept in place; the kinds with two
/// values, rare in routing tables, are boxed so that a field stays small.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    Exact(Value),
    Lpm(Value, i32),
    Ternary(Box<(Value, Value)>),
    Range(Box<(Value, Value)>),
    Optional(Value),
}

/// A table entry's identity: canonical key fields (by field id) and priority.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    fields: Box<[(u32, Part)]>,
    priority: i32,
}

/// What a table entry points at in its table's action profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ref {
    Member(u32),
    Group(u32),
}

#[derive(Debug, Default)]
struct Profile {
    members: BTreeMap<u32, p4::Action>,
    groups: BTreeMap<u32, Group>,
    /// Table entries pointing at each member / group.
    member_refs: HashMap<u32, usize>,
    group_refs: HashMap<u32, usize>,
}

#[derive(Debug, Clone)]
struct Group {
    members: BTreeMap<u32, i32>,
    max_size: i32,
}

/// A per-update failure: canonical code and message.
type Fail = (Code, String);

fn fail<T>(code: Code, message: impl Into<String>) -> Result<T, Fail> {
    Err((code, message.into()))
}

fn status(code: Code, message: impl Into<String>) -> Status {
    Status {
        code: code as i32,
        message: message.into(),
        details: Vec::new(),
    }
}

/// What bmv2 answers (word for word) when there is no pipeline yet.
fn no_pipeline() -> Status {
    status(
        Code::FailedPrecondition,
        "No forwarding pipeline config set for this device",
    )
}

/// The answer to a Write of `n` updates: OK, or UNKNOWN with one `p4.v1.Error` per update,
/// in order, in its details (OK for the updates that applied).
fn write_status(n: usize, failures: Vec<(usize, Fail)>) -> Result<(), Status> {
    if failures.is_empty() {
        return Ok(());
    }
    let failed = failures.len();
    let mut errors = vec![p4::Error::default(); n];
    for (i, (code, message)) in failures {
        tracing::debug!(code = code.as_str_name(), %message, "embedded switch refused an update");
        errors[i] = p4::Error {
            canonical_code: code as i32,
            message,
            space: EMBEDDED_ERROR_SPACE.to_string(),
            code: 0,
            details: None,
        };
    }
    Err(Status {
        code: Code::Unknown as i32,
        message: format!("{failed} of {n} updates failed"),
        details: errors
            .iter()
            .map(|e| prost_types::Any {
                type_url: P4_ERROR_TYPE_URL.to_string(),
                value: e.encode_to_vec(),
            })
            .collect(),
    })
}

impl EmbeddedSwitch {
    /// A switch with no pipeline.
    pub fn new() -> Self {
        Self::default()
    }

    /// A new switch behind the shared handle.
    pub fn shared() -> SharedSwitch {
        Arc::new(Mutex::new(Self::new()))
    }

    /// The installed P4Info, if any.
    pub fn index(&self) -> Option<Arc<P4InfoIndex>> {
        self.pipeline.as_ref().map(|p| p.index.clone())
    }

    /// Number of entries in all tables.
    pub fn entry_count(&self) -> usize {
        self.pipeline
            .as_ref()
            .map_or(0, |p| p.tables.values().map(TableStore::len).sum())
    }

    /// SetForwardingPipelineConfig: VERIFY checks the P4Info,
    /// VERIFY_AND_COMMIT installs it and clears all forwarding state.
    pub fn set_pipeline(
        &mut self,
        req: &p4::SetForwardingPipelineConfigRequest,
    ) -> Result<(), Status> {
        use p4::set_forwarding_pipeline_config_request::Action;
        let action = Action::try_from(req.action).unwrap_or(Action::Unspecified);
        let config = req.config.as_ref().ok_or_else(|| {
            status(
                Code::InvalidArgument,
                "SetForwardingPipelineConfig without a config",
            )
        })?;
        let p4info = config
            .p4info
            .clone()
            .ok_or_else(|| status(Code::InvalidArgument, "pipeline config without a P4Info"))?;
        match action {
            Action::Verify | Action::VerifyAndCommit => {
                let index = P4InfoIndex::from_proto(p4info)
                    .map_err(|e| status(Code::InvalidArgument, e.to_string()))?;
                if action == Action::VerifyAndCommit {
                    tracing::info!(
                        tables = index.tables().count(),
                        cookie = config.cookie.as_ref().map(|c| c.cookie),
                        "embedded switch: pipeline committed"
                    );
                    static COMMITS: AtomicU64 = AtomicU64::new(0);
                    self.pipeline = Some(Installed {
                        id: COMMITS.fetch_add(1, Ordering::Relaxed),
                        index: Arc::new(index),
                        config: config.clone(),
                        tables: HashMap::default(),
                        profiles: HashMap::new(),
                        same_index: None,
                    });
                }
                Ok(())
            }
            Action::Unspecified => Err(status(
                Code::InvalidArgument,
                "SetForwardingPipelineConfig action is not set",
            )),
            other => Err(status(
                Code::Unimplemented,
                format!(
                    "SetForwardingPipelineConfig {} is not supported by the embedded switch; use VERIFY_AND_COMMIT",
                    other.as_str_name()
                ),
            )),
        }
    }

    /// GetForwardingPipelineConfig, honouring the response type.
    pub fn get_pipeline(
        &self,
        req: &p4::GetForwardingPipelineConfigRequest,
    ) -> Result<p4::ForwardingPipelineConfig, Status> {
        use p4::get_forwarding_pipeline_config_request::ResponseType as R;
        let installed = self.pipeline.as_ref().ok_or_else(no_pipeline)?;
        let config = &installed.config;
        let mut out = p4::ForwardingPipelineConfig {
            cookie: config.cookie,
            ..Default::default()
        };
        match R::try_from(req.response_type) {
            Ok(R::All) => {
                out.p4info = config.p4info.clone();
                out.p4_device_config = config.p4_device_config.clone();
            }
            Ok(R::CookieOnly) => {}
            Ok(R::P4infoAndCookie) => out.p4info = config.p4info.clone(),
            Ok(R::DeviceConfigAndCookie) => out.p4_device_config = config.p4_device_config.clone(),
            Err(_) => {
                return Err(status(
                    Code::InvalidArgument,
                    format!("invalid response_type {}", req.response_type),
                ))
            }
        }
        Ok(out)
    }

    /// Write: every update applied or refused on its own (CONTINUE_ON_ERROR);
    /// if any is refused the status is UNKNOWN with one `p4.v1.Error` per
    /// update, in order, in its details.
    pub fn write(&mut self, req: &p4::WriteRequest) -> Result<(), Status> {
        let installed = self.pipeline.as_mut().ok_or_else(no_pipeline)?;
        if req.atomicity != p4::write_request::Atomicity::ContinueOnError as i32 {
            return Err(status(
                Code::Unimplemented,
                "only CONTINUE_ON_ERROR writes are supported",
            ));
        }
        let mut failures = Vec::new();
        for (i, update) in req.updates.iter().enumerate() {
            if let Err(f) = installed.apply(update) {
                failures.push((i, f));
            }
        }
        write_status(req.updates.len(), failures)
    }

    /// Write of name-level updates that [`super::check_updates`] (or
    /// [`EmbeddedSwitch::pack_updates`]) accepted against `index`,
    /// with the outcome [`EmbeddedSwitch::write`] gives for their P4Runtime messages (the
    /// same codes, messages and per-update details), but without building and re-parsing
    /// those messages: a route entry goes from the entity straight into its packed record.
    /// That is what makes the embedded target's writes cheap (the P4Runtime round trip was
    /// most of their cost).
    ///
    /// Only tables with exact / LPM keys and direct actions (route tables) take the direct
    /// way; other updates, and any write when `index` does not hold the switch's P4Info, go
    /// through the P4Runtime messages. A checked entity meets every rule the switch checks
    /// in a key and action of such a table (names, kinds, widths, prefix lengths, fields and
    /// parameters present once, action allowed, priority), so what is left to decide here is
    /// what depends on the state: ALREADY_EXISTS, NOT_FOUND and RESOURCE_EXHAUSTED.
    ///
    /// `packed` is what [`EmbeddedSwitch::pack_updates`] made of a write these updates start
    /// at `.1` of: its records are applied as they are (unless the pipeline changed since).
    pub(crate) fn write_updates(
        &mut self,
        index: &Arc<P4InfoIndex>,
        updates: &[Update],
        packed: Option<(&Packed, usize)>,
    ) -> Result<(), Status> {
        let Some(installed) = self.pipeline.as_mut() else {
            return Err(no_pipeline());
        };
        let packed = packed.filter(|(p, _)| p.pipeline == installed.id);
        if !installed.holds(index) {
            let req = p4::WriteRequest {
                updates: encode_batch(index, updates)?,
                ..Default::default()
            };
            return self.write(&req);
        }
        let mut failures = Vec::new();
        let mut record = Vec::new();
        let installed_index = installed.index.clone();
        let mut lookups = Lookups::new(&installed_index);
        let mut last_table: Option<&TableInfo> = None;
        let mut memo = NameMemo::default();
        for (i, u) in updates.iter().enumerate() {
            // The packed record a few updates on is searched for meanwhile.
            if let Some((p, start)) = packed {
                if let Some(&(table_id, at)) = p.items.get(start + i + PREFETCH_AHEAD) {
                    if (table_id, at) != Packed::NONE {
                        installed.prefetch_packed(table_id, &p.records[at as usize..]);
                    }
                }
            }
            let pre = packed
                .map(|(p, start)| (p, p.items[start + i]))
                .filter(|(_, item)| *item != Packed::NONE);
            let direct = match (pre, &u.entity) {
                (Some((p, (table_id, at))), _) => {
                    let table = match last_table {
                        Some(t) if t.id == table_id => Some(t),
                        _ => installed_index.table_by_id(table_id).ok(),
                    };
                    last_table = table;
                    table.map(|t| installed.put_packed(u.kind, t, &p.records[at as usize..]))
                }
                (None, Entity::Table(te)) => {
                    installed.direct_table_write(&mut lookups, &mut memo, u.kind, te, &mut record)
                }
                _ => None,
            };
            let result = direct.unwrap_or_else(|| match u.to_proto(index) {
                Ok(update) => installed.apply(&update),
                Err(e) => fail(
                    Code::Internal,
                    format!("checked update does not encode: {e}"),
                ),
            });
            if let Err(f) = result {
                failures.push((i, f));
            }
        }
        write_status(updates.len(), failures)
    }

    /// The check of a write of name-level updates ([`super::check_updates`]) and the packing of
    /// its route entries in one pass, where checking every entity first and packing it later
    /// read and validated each one twice. `None` when an update fails its check (the caller
    /// then runs the check for the report; nothing is written), or when `index` does not hold
    /// the switch's P4Info. Updates that cannot be packed straight from their entity (see
    /// [`EmbeddedSwitch::write_updates`]) are checked here with [`Entity::check_with`] and
    /// take the usual way when written.
    pub(crate) fn pack_updates(
        &mut self,
        index: &Arc<P4InfoIndex>,
        updates: &[Update],
    ) -> Option<Packed> {
        let installed = self.pipeline.as_mut()?;
        if !installed.holds(index) {
            return None;
        }
        let installed_index = installed.index.clone();
        let mut lookups = Lookups::new(&installed_index);
        let mut memo = NameMemo::default();
        let mut packed = Packed {
            pipeline: installed.id,
            items: Vec::with_capacity(updates.len()),
            records: Vec::new(),
        };
        for u in updates {
            let at = u32::try_from(packed.records.len()).ok()?;
            let table = match &u.entity {
                Entity::Table(te) => {
                    installed.pack_direct(&mut lookups, &mut memo, te, &mut packed.records)
                }
                _ => None,
            };
            match table {
                Some(t) => packed.items.push((t.id, at)),
                None => {
                    u.entity.check_with(&mut lookups).ok()?;
                    packed.items.push(Packed::NONE);
                }
            }
        }
        Some(packed)
    }

    /// Read: every entity asked for; zero ids are wildcards.
    pub fn read(&self, req: &p4::ReadRequest) -> Result<Vec<p4::Entity>, Status> {
        let installed = self.pipeline.as_ref().ok_or_else(no_pipeline)?;
        let mut out = Vec::new();
        for e in &req.entities {
            installed
                .read_one(e, &mut out)
                .map_err(|(code, message)| status(code, message))?;
        }
        Ok(out)
    }
}

/// The failure for a bad value; `what` names the field or parameter and is only formatted on
/// failure (the checks run for every entry written).
fn codec_fail(what: impl FnOnce() -> String) -> impl FnOnce(CodecError) -> Fail {
    move |e| (Code::InvalidArgument, format!("{}: {e}", what()))
}

fn table_entity(entry: p4::TableEntry) -> p4::Entity {
    p4::Entity {
        entity: Some(p4::entity::Entity::TableEntry(entry)),
    }
}

impl Key {
    fn to_proto(&self) -> Vec<p4::FieldMatch> {
        use p4::field_match::{self as fm, FieldMatchType as K};
        self.fields
            .iter()
            .map(|(id, part)| p4::FieldMatch {
                field_id: *id,
                field_match_type: Some(match part {
                    Part::Exact(v) => K::Exact(fm::Exact { value: v.to_vec() }),
                    Part::Lpm(v, len) => K::Lpm(fm::Lpm {
                        value: v.to_vec(),
                        prefix_len: *len,
                    }),
                    Part::Ternary(vm) => K::Ternary(fm::Ternary {
                        value: vm.0.to_vec(),
                        mask: vm.1.to_vec(),
                    }),
                    Part::Range(lh) => K::Range(fm::Range {
                        low: lh.0.to_vec(),
                        high: lh.1.to_vec(),
                    }),
                    Part::Optional(v) => K::Optional(fm::Optional { value: v.to_vec() }),
                }),
            })
            .collect()
    }
}

/// Checks a table entry's key the way a switch does and returns it in
/// canonical form.
fn build_key(table: &TableInfo, te: &p4::TableEntry) -> Result<Key, Fail> {
    use p4::field_match::FieldMatchType as K;
    if te.r#match.len() > table.match_fields.len() {
        return fail(
            Code::InvalidArgument,
            format!("too many fields in the match key of table `{}`", table.name),
        );
    }
    let mut fields: Vec<(usize, u32, Part)> = Vec::with_capacity(te.r#match.len());
    for m in &te.r#match {
        let Ok(f) = table.match_field_by_id(m.field_id) else {
            return fail(
                Code::InvalidArgument,
                format!(
                    "table `{}` has no match field with id {}",
                    table.name, m.field_id
                ),
            );
        };
        let pos = table
            .match_fields
            .iter()
            .position(|x| x.id == f.id)
            .unwrap_or(0);
        if fields.iter().any(|(p, _, _)| *p == pos) {
            return fail(
                Code::InvalidArgument,
                format!(
                    "table `{}` match field `{}` is given twice",
                    table.name, f.name
                ),
            );
        }
        let what = || format!("table `{}` field `{}`", table.name, f.name);
        let w = f.bitwidth;
        let got = match &m.field_match_type {
            Some(K::Exact(_)) => "exact",
            Some(K::Lpm(_)) => "lpm",
            Some(K::Ternary(_)) => "ternary",
            Some(K::Range(_)) => "range",
            Some(K::Optional(_)) => "optional",
            Some(K::Other(_)) => "other",
            None => "no value",
        };
        let part = match (&f.kind, &m.field_match_type) {
            (MatchKind::Exact, Some(K::Exact(x))) => Part::Exact(
                codec::encode_bytes(&x.value, w)
                    .map_err(codec_fail(what))?
                    .into(),
            ),
            (MatchKind::Lpm, Some(K::Lpm(x))) => {
                if x.prefix_len == 0 {
                    return fail(
                        Code::InvalidArgument,
                        format!(
                            "{}: prefix length 0 is a don't-care; omit the field instead",
                            what()
                        ),
                    );
                }
                let Ok(len) = u32::try_from(x.prefix_len) else {
                    return fail(
                        Code::InvalidArgument,
                        format!("{}: negative prefix length {}", what(), x.prefix_len),
                    );
                };
                if len > w {
                    return fail(
                        Code::InvalidArgument,
                        format!("{}: prefix length {len} exceeds {w} bits", what()),
                    );
                }
                Part::Lpm(
                    codec::check_lpm(&x.value, len, w)
                        .map_err(codec_fail(what))?
                        .into(),
                    x.prefix_len,
                )
            }
            (MatchKind::Ternary, Some(K::Ternary(x))) => {
                let (v, mask) =
                    codec::check_ternary(&x.value, &x.mask, w).map_err(codec_fail(what))?;
                if codec::is_zero(&mask) {
                    return fail(
                        Code::InvalidArgument,
                        format!(
                            "{}: an all-zero mask is a don't-care; omit the field instead",
                            what()
                        ),
                    );
                }
                Part::Ternary(Box::new((v.into(), mask.into())))
            }
            (MatchKind::Range, Some(K::Range(x))) => {
                let lo = codec::to_full_width(&x.low, w).map_err(codec_fail(what))?;
                let hi = codec::to_full_width(&x.high, w).map_err(codec_fail(what))?;
                if lo > hi {
                    return fail(
                        Code::InvalidArgument,
                        format!(
                            "{}: range low {} > high {}",
                            what(),
                            codec::hex(&lo),
                            codec::hex(&hi)
                        ),
                    );
                }
                if codec::is_zero(&lo) && codec::is_all_ones(&hi, w) {
                    return fail(
                        Code::InvalidArgument,
                        format!(
                            "{}: the full range is a don't-care; omit the field instead",
                            what()
                        ),
                    );
                }
                Part::Range(Box::new((
                    codec::canonical(&lo).into(),
                    codec::canonical(&hi).into(),
                )))
            }
            (MatchKind::Optional, Some(K::Optional(x))) => Part::Optional(
                codec::encode_bytes(&x.value, w)
                    .map_err(codec_fail(what))?
                    .into(),
            ),
            (MatchKind::Other(kind), _) => {
                return fail(
                    Code::Unimplemented,
                    format!("{}: match kind `{kind}` is not supported", what()),
                )
            }
            (kind, _) => {
                return fail(
                    Code::InvalidArgument,
                    format!("{} is a {kind} match, got {got}", what()),
                )
            }
        };
        fields.push((pos, f.id, part));
    }
    for (pos, f) in table.match_fields.iter().enumerate() {
        if f.kind == MatchKind::Exact && !fields.iter().any(|(p, _, _)| *p == pos) {
            return fail(
                Code::InvalidArgument,
                format!(
                    "table `{}`: exact match field `{}` is missing",
                    table.name, f.name
                ),
            );
        }
    }
    if table.needs_priority() && te.priority <= 0 {
        return fail(
            Code::InvalidArgument,
            format!(
                "table `{}` has ternary/range/optional fields: entries need a priority > 0",
                table.name
            ),
        );
    }
    if !table.needs_priority() && te.priority != 0 {
        return fail(
            Code::InvalidArgument,
            format!(
                "table `{}` has only exact/lpm fields: priority must be 0, got {}",
                table.name, te.priority
            ),
        );
    }
    fields.sort_by_key(|(pos, _, _)| *pos);
    Ok(Key {
        fields: fields.into_iter().map(|(_, id, part)| (id, part)).collect(),
        priority: te.priority,
    })
}

/// Checks an action call and returns it canonical (params in P4Info order).
fn check_action(index: &P4InfoIndex, a: &p4::Action) -> Result<p4::Action, Fail> {
    let Ok(action) = index.action_by_id(a.action_id) else {
        return fail(
            Code::InvalidArgument,
            format!("unknown action id {:#010x}", a.action_id),
        );
    };
    if a.params.len() != action.params.len() {
        return fail(
            Code::InvalidArgument,
            format!(
                "action `{}` takes {} parameter(s), got {}",
                action.name,
                action.params.len(),
                a.params.len()
            ),
        );
    }
    let mut params: Vec<(usize, p4::action::Param)> = Vec::with_capacity(a.params.len());
    for p in &a.params {
        let Ok(info) = action.param_by_id(p.param_id) else {
            return fail(
                Code::InvalidArgument,
                format!(
                    "action `{}` has no parameter with id {}",
                    action.name, p.param_id
                ),
            );
        };
        let pos = action
            .params
            .iter()
            .position(|q| q.id == info.id)
            .unwrap_or(0);
        if params.iter().any(|(q, _)| *q == pos) {
            return fail(
                Code::InvalidArgument,
                format!(
                    "action `{}` parameter `{}` is given twice",
                    action.name, info.name
                ),
            );
        }
        let value = codec::encode_bytes(&p.value, info.bitwidth).map_err(codec_fail(|| {
            format!("action `{}` parameter `{}`", action.name, info.name)
        }))?;
        params.push((
            pos,
            p4::action::Param {
                param_id: info.id,
                value,
            },
        ));
    }
    params.sort_by_key(|(pos, _)| *pos);
    Ok(p4::Action {
        action_id: action.id,
        params: params.into_iter().map(|(_, p)| p).collect(),
    })
}

/// Writes a big-endian value (any padding, known to fit) right-aligned into `dst`.
fn put(dst: &mut [u8], value: &[u8]) {
    dst.fill(0);
    let n = dst.len();
    let significant = &value[value.len().saturating_sub(n)..];
    dst[n - significant.len()..].copy_from_slice(significant);
}

/// [`put`] into bytes that are zero already.
#[inline]
fn put_zeroed(dst: &mut [u8], value: &[u8]) {
    let n = dst.len();
    let significant = &value[value.len().saturating_sub(n)..];
    dst[n - significant.len()..].copy_from_slice(significant);
}

/// Zeroes the bits after the prefix of a full-width (`ceil(W / 8)` bytes) LPM value.
fn clear_host_bits(value: &mut [u8], prefix_len: u32, bitwidth: u32) {
    // Bits kept from the left: the padding above W and the prefix.
    let keep = (value.len() as u32 * 8 - bitwidth + prefix_len) as usize;
    let (whole, rest) = (keep / 8, keep % 8);
    if whole < value.len() {
        value[whole] &= !(0xffu8 >> rest);
        value[whole + 1..].fill(0);
    }
}

fn put_plen(f: &FieldLayout, dst: &mut [u8], prefix_len: u32) {
    if f.plen_bytes() == 1 {
        dst[0] = prefix_len as u8;
    } else {
        dst[..2].copy_from_slice(&(prefix_len as u16).to_be_bytes());
    }
}

fn get_plen(f: &FieldLayout, src: &[u8]) -> i32 {
    if f.plen_bytes() == 1 {
        i32::from(src[0])
    } else {
        i32::from(u16::from_be_bytes([src[0], src[1]]))
    }
}

/// The canonical value (no leading zero bytes; zero is one zero byte) of a full-width one.
fn canonical_value(bytes: &[u8]) -> Value {
    match bytes.iter().position(|b| *b != 0) {
        Some(i) => Value::new(&bytes[i..]),
        None => Value::new(&[0]),
    }
}

/// Packs a canonical key ([`build_key`]) into `out` (`layout.key_len` bytes).
fn pack_key(layout: &Layout, key: &Key, out: &mut [u8]) {
    out.copy_from_slice(&layout.empty_key);
    for (id, part) in key.fields.iter() {
        let Some(f) = layout.fields.iter().find(|f| f.id == *id) else {
            continue;
        };
        let (at, n) = (f.offset, f.n);
        match part {
            Part::Exact(v) => put(&mut out[at..at + n], v),
            Part::Lpm(v, len) => {
                put(&mut out[at..at + n], v);
                put_plen(f, &mut out[at + n..], *len as u32);
            }
            Part::Ternary(pair) | Part::Range(pair) => {
                put(&mut out[at..at + n], &pair.0);
                put(&mut out[at + n..at + 2 * n], &pair.1);
            }
            Part::Optional(v) => {
                out[at] = 1;
                put(&mut out[at + 1..at + 1 + n], v);
            }
        }
    }
    if layout.priority {
        let kl = layout.key_len;
        out[kl - 4..kl].copy_from_slice(&key.priority.to_be_bytes());
    }
}

/// The canonical key of a packed one: what [`build_key`] made of the entry's message.
fn unpack_key(layout: &Layout, key: &[u8]) -> Key {
    let mut fields = Vec::with_capacity(layout.fields.len());
    for f in &layout.fields {
        let (at, n) = (f.offset, f.n);
        let b = &key[at..];
        let part = match f.kind {
            MatchKind::Exact => Part::Exact(canonical_value(&b[..n])),
            MatchKind::Lpm => match get_plen(f, &b[n..]) {
                0 => continue,
                len => Part::Lpm(canonical_value(&b[..n]), len),
            },
            MatchKind::Ternary => {
                if codec::is_zero(&b[n..2 * n]) {
                    continue;
                }
                Part::Ternary(Box::new((
                    canonical_value(&b[..n]),
                    canonical_value(&b[n..2 * n]),
                )))
            }
            MatchKind::Range => {
                if b[..2 * n] == layout.empty_key[at..at + 2 * n] {
                    continue;
                }
                Part::Range(Box::new((
                    canonical_value(&b[..n]),
                    canonical_value(&b[n..2 * n]),
                )))
            }
            MatchKind::Optional => {
                if b[0] == 0 {
                    continue;
                }
                Part::Optional(canonical_value(&b[1..1 + n]))
            }
            MatchKind::Other(_) => continue,
        };
        fields.push((f.id, part));
    }
    let priority = if layout.priority {
        let kl = layout.key_len;
        i32::from_be_bytes([key[kl - 4], key[kl - 3], key[kl - 2], key[kl - 1]])
    } else {
        0
    };
    Key {
        fields: fields.into_boxed_slice(),
        priority,
    }
}

/// Packs a checked, canonical action (params in P4Info order, all present) into `out`, the
/// action part of a record of `layout`.
fn pack_action(
    index: &P4InfoIndex,
    layout: &Layout,
    action: &p4::TableAction,
    out: &mut [u8],
) -> Result<(), Fail> {
    use p4::table_action::Type as A;
    out.fill(0);
    let (tag, id) = match action.r#type.as_ref() {
        Some(A::Action(a)) => {
            let Ok(info) = index.action_by_id(a.action_id) else {
                return fail(Code::Internal, "checked action is unknown");
            };
            let mut at = layout.head;
            for (p, given) in info.params.iter().zip(&a.params) {
                let n = codec::byte_len(p.bitwidth);
                put(&mut out[at..at + n], &given.value);
                at += n;
            }
            (TAG_DIRECT, a.action_id)
        }
        Some(A::ActionProfileMemberId(id)) => (TAG_MEMBER, *id),
        Some(A::ActionProfileGroupId(id)) => (TAG_GROUP, *id),
        Some(A::ActionProfileActionSet(_)) | None => {
            return fail(Code::Internal, "checked action without a type")
        }
    };
    if !layout.put_head(out, tag, id) {
        return fail(Code::Internal, "checked action is not of its table");
    }
    Ok(())
}

/// The canonical action of a packed one (of a record of `layout`), as a read returns it.
fn unpack_action(index: &P4InfoIndex, layout: &Layout, action: &[u8]) -> p4::TableAction {
    use p4::table_action::Type as A;
    let (tag, id) = layout.head(action);
    let t = match tag {
        TAG_MEMBER => A::ActionProfileMemberId(id),
        TAG_GROUP => A::ActionProfileGroupId(id),
        _ => {
            let mut at = layout.head;
            let params = index.action_by_id(id).map_or_else(
                |_| Vec::new(),
                |info| {
                    info.params
                        .iter()
                        .map(|p| {
                            let n = codec::byte_len(p.bitwidth);
                            let value = canonical_value(&action[at..at + n]).to_vec();
                            at += n;
                            p4::action::Param {
                                param_id: p.id,
                                value,
                            }
                        })
                        .collect()
                },
            );
            A::Action(p4::Action {
                action_id: id,
                params,
            })
        }
    };
    p4::TableAction { r#type: Some(t) }
}

/// What a packed action points at in its table's action profile.
fn ref_of((tag, id): (u8, u32)) -> Option<Ref> {
    match tag {
        TAG_MEMBER => Some(Ref::Member(id)),
        TAG_GROUP => Some(Ref::Group(id)),
        _ => None,
    }
}

/// INSERT or MODIFY of a checked, packed record in its table's store; returns what the
/// entry pointed at before a MODIFY.
fn put_record(
    store: &mut TableStore,
    kind: UpdateKind,
    table: &TableInfo,
    record: &[u8],
    metadata: &[u8],
) -> Result<Option<Ref>, Fail> {
    let kl = store.layout.key_len;
    if kind == UpdateKind::Insert {
        let full = table.size > 0 && store.len() as i64 >= table.size;
        match store.insert(record, full) {
            Insert::Exists => fail(
                Code::AlreadyExists,
                format!(
                    "table `{}` already has this entry; use MODIFY to change its action",
                    table.name
                ),
            ),
            Insert::Full => fail(
                Code::ResourceExhausted,
                format!("table `{}` is full ({} entries)", table.name, table.size),
            ),
            Insert::Done(r) => {
                if !metadata.is_empty() {
                    store.set_metadata(r, metadata);
                }
                Ok(None)
            }
        }
    } else {
        let Some(r) = store.find(&record[..kl]) else {
            return fail(
                Code::NotFound,
                format!("table `{}` has no such entry", table.name),
            );
        };
        let old = ref_of(store.layout.head(&store.record(r)[kl..]));
        store.action_mut(r).copy_from_slice(&record[kl..]);
        store.set_metadata(r, metadata);
        Ok(old)
    }
}

/// Entry `r` of a table as a read returns it, with its key already unpacked.
fn entry_proto(
    index: &P4InfoIndex,
    table_id: u32,
    store: &TableStore,
    key: &Key,
    r: u32,
) -> p4::TableEntry {
    let record = store.record(r);
    p4::TableEntry {
        table_id,
        r#match: key.to_proto(),
        action: Some(unpack_action(
            index,
            &store.layout,
            &record[store.layout.key_len..],
        )),
        priority: key.priority,
        metadata: store.metadata(r).map(<[u8]>::to_vec).unwrap_or_default(),
        ..Default::default()
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        "entry"
    } else {
        "entries"
    }
}

impl Installed {
    fn apply(&mut self, update: &p4::Update) -> Result<(), Fail> {
        use p4::entity::Entity as E;
        use p4::update::Type;
        let kind = match Type::try_from(update.r#type) {
            Ok(Type::Unspecified) | Err(_) => {
                return fail(Code::InvalidArgument, "update type is not set")
            }
            Ok(kind) => kind,
        };
        match update.entity.as_ref().and_then(|e| e.entity.as_ref()) {
            Some(E::TableEntry(te)) => self.table_write(kind, te),
            Some(E::ActionProfileMember(m)) => self.member_write(kind, m),
            Some(E::ActionProfileGroup(g)) => self.group_write(kind, g),
            Some(other) => fail(
                Code::Unimplemented,
                format!(
                    "{} writes are not supported by the embedded switch",
                    crate::entity::proto_entity_kind(other)
                ),
            ),
            None => fail(Code::InvalidArgument, "update without an entity"),
        }
    }

    fn profile_of(&self, table: &TableInfo) -> Result<Option<ActionProfileInfo>, Fail> {
        match table.implementation_id {
            None => Ok(None),
            Some(id) => match self.index.action_profile_by_id(id) {
                Ok(p) => Ok(Some(p.clone())),
                Err(e) => fail(Code::Internal, e.to_string()),
            },
        }
    }

    /// Validates a table action; returns it canonical plus what it points at.
    fn check_table_action(
        &self,
        table: &TableInfo,
        action: Option<&p4::TableAction>,
    ) -> Result<(p4::TableAction, Option<Ref>), Fail> {
        use p4::table_action::Type as A;
        let Some(kind) = action.and_then(|a| a.r#type.as_ref()) else {
            return fail(
                Code::InvalidArgument,
                format!("entry of table `{}` has no action", table.name),
            );
        };
        let profile = self.profile_of(table)?;
        let wrap = |t: A| p4::TableAction { r#type: Some(t) };
        match (kind, profile) {
            (A::ActionProfileActionSet(_), _) => fail(
                Code::Unimplemented,
                "one-shot action profile action sets are not supported by the embedded switch",
            ),
            (A::Action(_), Some(p)) => fail(
                Code::InvalidArgument,
                format!(
                    "table `{}` is implemented by action profile `{}`: give a member or group id, not a direct action",
                    table.name, p.name
                ),
            ),
            (A::ActionProfileMemberId(_) | A::ActionProfileGroupId(_), None) => fail(
                Code::InvalidArgument,
                format!(
                    "table `{}` has no action profile: give a direct action, not a member or group id",
                    table.name
                ),
            ),
            (A::Action(a), None) => {
                let a = check_action(&self.index, a)?;
                let name = self
                    .index
                    .action_by_id(a.action_id)
                    .map(|x| x.name.clone())
                    .unwrap_or_default();
                match table.action_scope(a.action_id) {
                    None => fail(
                        Code::InvalidArgument,
                        format!("action `{name}` is not an action of table `{}`", table.name),
                    ),
                    Some(ActionScope::DefaultOnly) => fail(
                        Code::PermissionDenied,
                        format!("action `{name}` may only be the default action of table `{}`", table.name),
                    ),
                    Some(_) => Ok((wrap(A::Action(a)), None)),
                }
            }
            (A::ActionProfileMemberId(id), Some(p)) => {
                let exists = self
                    .profiles
                    .get(&p.id)
                    .is_some_and(|s| s.members.contains_key(id));
                if !exists {
                    return fail(
                        Code::NotFound,
                        format!("action profile `{}` has no member {id}", p.name),
                    );
                }
                Ok((wrap(A::ActionProfileMemberId(*id)), Some(Ref::Member(*id))))
            }
            (A::ActionProfileGroupId(id), Some(p)) => {
                if !p.with_selector {
                    return fail(
                        Code::InvalidArgument,
                        format!("action profile `{}` has no selector, so it has no groups", p.name),
                    );
                }
                let exists = self
                    .profiles
                    .get(&p.id)
                    .is_some_and(|s| s.groups.contains_key(id));
                if !exists {
                    return fail(
                        Code::NotFound,
                        format!("action selector `{}` has no group {id}", p.name),
                    );
                }
                Ok((wrap(A::ActionProfileGroupId(*id)), Some(Ref::Group(*id))))
            }
        }
    }

    fn check_direct_resources(table: &TableInfo, te: &p4::TableEntry) -> Result<(), Fail> {
        if te.counter_data.is_some() && table.direct_counter_id.is_none() {
            return fail(
                Code::InvalidArgument,
                format!("table `{}` has no direct counter", table.name),
            );
        }
        if (te.meter_config.is_some() || te.meter_counter_data.is_some())
            && table.direct_meter_id.is_none()
        {
            return fail(
                Code::InvalidArgument,
                format!("table `{}` has no direct meter", table.name),
            );
        }
        if te.idle_timeout_ns < 0 {
            return fail(
                Code::InvalidArgument,
                "idle_timeout_ns must not be negative",
            );
        }
        if te.idle_timeout_ns > 0 {
            return fail(
                Code::Unimplemented,
                "idle timeouts are not supported by the embedded switch",
            );
        }
        Ok(())
    }

    fn adjust_ref(&mut self, profile_id: Option<u32>, r: Option<Ref>, up: bool) {
        let (Some(pid), Some(r)) = (profile_id, r) else {
            return;
        };
        let state = self.profiles.entry(pid).or_default();
        let (map, id) = match r {
            Ref::Member(id) => (&mut state.member_refs, id),
            Ref::Group(id) => (&mut state.group_refs, id),
        };
        let n = map.entry(id).or_insert(0);
        if up {
            *n += 1;
        } else {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&id);
            }
        }
    }

    fn table_write(&mut self, kind: p4::update::Type, te: &p4::TableEntry) -> Result<(), Fail> {
        use p4::update::Type;
        let index = self.index.clone();
        let Ok(table) = index.table_by_id(te.table_id) else {
            return fail(
                Code::InvalidArgument,
                format!("unknown table id {:#010x}", te.table_id),
            );
        };
        if te.is_default_action {
            return fail(
                Code::Unimplemented,
                format!(
                    "default entries are not supported by the embedded switch (table `{}`)",
                    table.name
                ),
            );
        }
        if te.time_since_last_hit.is_some() {
            return fail(
                Code::InvalidArgument,
                "time_since_last_hit must not be set in a write",
            );
        }
        let key = build_key(table, te)?;
        match kind {
            Type::Insert | Type::Modify => {
                let (action, target) = self.check_table_action(table, te.action.as_ref())?;
                Self::check_direct_resources(table, te)?;
                let layout = &self.store(&index, table).layout;
                let mut record = vec![0u8; layout.record];
                pack_key(layout, &key, &mut record[..layout.key_len]);
                let kl = layout.key_len;
                pack_action(&index, layout, &action, &mut record[kl..])?;
                let kind = if kind == Type::Insert {
                    UpdateKind::Insert
                } else {
                    UpdateKind::Modify
                };
                self.put_entry(kind, table, &record, &te.metadata, target)
            }
            Type::Delete => {
                let Some(store) = self.tables.get(&table.id) else {
                    return fail(
                        Code::NotFound,
                        format!("table `{}` has no such entry", table.name),
                    );
                };
                let mut packed = vec![0u8; store.layout.key_len];
                pack_key(&store.layout, &key, &mut packed);
                self.delete_entry(table, &packed)
            }
            Type::Unspecified => fail(Code::InvalidArgument, "update type is not set"),
        }
    }

    /// The store of a table, made on first use.
    fn store(&mut self, index: &P4InfoIndex, table: &TableInfo) -> &mut TableStore {
        self.tables
            .entry(table.id)
            .or_insert_with(|| TableStore::new(Layout::new(index, table)))
    }

    /// Whether `index` holds the installed P4Info (see `same_index`).
    fn holds(&mut self, index: &Arc<P4InfoIndex>) -> bool {
        if Arc::ptr_eq(&self.index, index)
            || self
                .same_index
                .as_ref()
                .is_some_and(|s| Arc::ptr_eq(s, index))
        {
            return true;
        }
        if index.raw() == self.index.raw() {
            self.same_index = Some(index.clone());
            return true;
        }
        false
    }

    /// INSERT or MODIFY of a checked, packed record (key then action): what depends on the
    /// table's state, and the action profile references.
    fn put_entry(
        &mut self,
        kind: UpdateKind,
        table: &TableInfo,
        record: &[u8],
        metadata: &[u8],
        target: Option<Ref>,
    ) -> Result<(), Fail> {
        let index = self.index.clone();
        let old_target = put_record(self.store(&index, table), kind, table, record, metadata)?;
        self.adjust_ref(table.implementation_id, old_target, false);
        self.adjust_ref(table.implementation_id, target, true);
        Ok(())
    }

    /// DELETE of a packed key.
    fn delete_entry(&mut self, table: &TableInfo, key: &[u8]) -> Result<(), Fail> {
        let removed = self.tables.get_mut(&table.id).and_then(|s| s.remove(key));
        let Some(head) = removed else {
            return fail(
                Code::NotFound,
                format!("table `{}` has no such entry", table.name),
            );
        };
        self.adjust_ref(table.implementation_id, ref_of(head), false);
        Ok(())
    }

    /// A checked name-level table update applied without its P4Runtime message, when its
    /// table allows ([`Layout::direct_fast`]); `None` when it must take the P4Runtime way.
    /// `record` is scratch space reused across a batch, as are the `lookups` (of the installed
    /// P4Info).
    fn direct_table_write(
        &mut self,
        lookups: &mut Lookups<'_>,
        memo: &mut NameMemo,
        kind: UpdateKind,
        te: &crate::entity::TableEntry,
        record: &mut Vec<u8>,
    ) -> Option<Result<(), Fail>> {
        record.clear();
        let table = self.pack_direct(lookups, memo, te, record)?;
        Some(self.put_packed(kind, table, record))
    }

    /// Appends the record of a table entry to `out` and returns its table, when the table
    /// takes entries straight from name-level entities ([`Layout::direct_fast`]) and the entry
    /// meets every rule [`Entity::check_with`] checks (so this pass can stand in for it);
    /// `None`, with `out` as it was, otherwise: the entry then takes the P4Runtime way, and
    /// the check decides whether it is valid.
    fn pack_direct<'i>(
        &mut self,
        lookups: &mut Lookups<'i>,
        memo: &mut NameMemo,
        te: &crate::entity::TableEntry,
        out: &mut Vec<u8>,
    ) -> Option<&'i TableInfo> {
        let start = out.len();
        let packed = self.pack_direct_into(lookups, memo, te, out);
        if packed.is_none() {
            out.truncate(start);
        }
        packed
    }

    fn pack_direct_into<'i>(
        &mut self,
        lookups: &mut Lookups<'i>,
        memo: &mut NameMemo,
        te: &crate::entity::TableEntry,
        out: &mut Vec<u8>,
    ) -> Option<&'i TableInfo> {
        let index = lookups.index();
        let table = lookups.table(te.table).ok()?;
        let TableAction::Action(call) = &te.action else {
            return None;
        };
        let store = self
            .tables
            .entry(table.id)
            .or_insert_with(|| TableStore::new(Layout::new(index, table)));
        let layout = &store.layout;
        // Key fields and parameters given, by position, in a bit set: more than 64 of either
        // take the P4Runtime way.
        if !layout.direct_fast || te.priority != 0 || layout.fields.len() > 64 {
            return None;
        }
        let start = out.len();
        // Exact and LPM fields left out are zeros (only a range's is not), and so is an
        // action before it is packed: the record starts as zeros, and values are copied in
        // without clearing their bytes first (`put_zeroed`).
        debug_assert!(layout.empty_key.iter().all(|b| *b == 0));
        out.resize(start + layout.record, 0);
        let record = &mut out[start..];
        let mut given = 0u64;
        for m in &te.matches {
            // The layout's fields are the table's, in the same order.
            let pos = memo.position(table, m.field, || {
                table.match_fields.iter().position(|f| f.name == *m.field)
            })?;
            if given & (1 << pos) != 0 {
                return None; // given twice
            }
            given |= 1 << pos;
            let f = &layout.fields[pos];
            let at = f.offset;
            match (&f.kind, &m.value) {
                (MatchKind::Exact, MatchValue::Exact(v)) => {
                    codec::check_width(v, f.bitwidth).ok()?;
                    put_zeroed(&mut record[at..at + f.n], v);
                }
                (MatchKind::Lpm, MatchValue::Lpm { value, prefix_len }) => {
                    codec::check_width(value, f.bitwidth).ok()?;
                    codec::check_prefix_len(*prefix_len, f.bitwidth).ok()?;
                    if *prefix_len == 0 {
                        continue; // a don't-care: left out, as in its P4Runtime message
                    }
                    let v = &mut record[at..at + f.n];
                    put_zeroed(v, value);
                    clear_host_bits(v, *prefix_len, f.bitwidth);
                    put_plen(f, &mut record[at + f.n..], *prefix_len);
                }
                _ => return None,
            }
        }
        let exact_missing = layout
            .fields
            .iter()
            .enumerate()
            .any(|(pos, f)| f.kind == MatchKind::Exact && given & (1 << pos) == 0);
        if exact_missing {
            return None;
        }
        // The action, checked for DELETE too (as the check does), packed for all.
        let action = lookups.action(call.action).ok()?;
        if !matches!(
            table.action_scope(action.id),
            Some(ActionScope::TableAndDefault | ActionScope::TableOnly)
        ) || action.params.len() > 64
        {
            return None;
        }
        let kl = layout.key_len;
        if !layout.put_head(&mut record[kl..], TAG_DIRECT, action.id) {
            return None;
        }
        let mut params = 0u64;
        for (name, value) in &call.params {
            let pos = memo.position(action, *name, || {
                action.params.iter().position(|p| p.name == **name)
            })?;
            if params & (1 << pos) != 0 {
                return None; // given twice
            }
            params |= 1 << pos;
            let widths = |p: &ParamInfo| codec::byte_len(p.bitwidth);
            let at = kl + layout.head + action.params[..pos].iter().map(widths).sum::<usize>();
            let p = &action.params[pos];
            codec::check_width(value, p.bitwidth).ok()?;
            put_zeroed(record.get_mut(at..at + widths(p))?, value);
        }
        if params.count_ones() as usize != action.params.len() {
            return None; // a parameter missing
        }
        Some(table)
    }

    /// Starts loading where [`Installed::put_packed`] of this record will search its table
    /// (a hint: a table of a million entries misses the cache on every search).
    fn prefetch_packed(&self, table_id: u32, record: &[u8]) {
        if let Some(store) = self.tables.get(&table_id) {
            store.prefetch(&record[..store.layout.key_len]);
        }
    }

    /// Applies a record [`Installed::pack_direct`] made for `table` (`record` starts with it).
    fn put_packed(
        &mut self,
        kind: UpdateKind,
        table: &TableInfo,
        record: &[u8],
    ) -> Result<(), Fail> {
        let Some(store) = self.tables.get_mut(&table.id) else {
            return fail(Code::Internal, "packed record of a table without a store");
        };
        let (kl, len) = (store.layout.key_len, store.layout.record);
        if kind == UpdateKind::Delete {
            // A direct table: no action profile reference to release.
            return match store.remove(&record[..kl]) {
                Some(_) => Ok(()),
                None => fail(
                    Code::NotFound,
                    format!("table `{}` has no such entry", table.name),
                ),
            };
        }
        put_record(store, kind, table, &record[..len], &[]).map(|_| ())
    }

    fn member_write(
        &mut self,
        kind: p4::update::Type,
        m: &p4::ActionProfileMember,
    ) -> Result<(), Fail> {
        use p4::update::Type;
        let index = self.index.clone();
        let Ok(profile) = index.action_profile_by_id(m.action_profile_id) else {
            return fail(
                Code::InvalidArgument,
                format!("unknown action profile id {:#010x}", m.action_profile_id),
            );
        };
        if m.member_id == 0 {
            return fail(
                Code::InvalidArgument,
                "member id 0 is not valid (it means \"all\" in reads)",
            );
        }
        let checked_action = |m: &p4::ActionProfileMember| -> Result<p4::Action, Fail> {
            let Some(a) = m.action.as_ref() else {
                return fail(
                    Code::InvalidArgument,
                    format!("member {} of `{}` has no action", m.member_id, profile.name),
                );
            };
            let a = check_action(&index, a)?;
            if !index.profile_allows_action(profile, a.action_id) {
                let name = index
                    .action_by_id(a.action_id)
                    .map(|x| x.name.clone())
                    .unwrap_or_default();
                return fail(
                    Code::InvalidArgument,
                    format!(
                        "action `{name}` is not an action of the tables of action profile `{}`",
                        profile.name
                    ),
                );
            }
            Ok(a)
        };
        let state = self.profiles.entry(profile.id).or_default();
        match kind {
            Type::Insert => {
                let a = checked_action(m)?;
                if state.members.contains_key(&m.member_id) {
                    return fail(
                        Code::AlreadyExists,
                        format!(
                            "action profile `{}` already has member {}",
                            profile.name, m.member_id
                        ),
                    );
                }
                if profile.size > 0 && state.members.len() as i64 >= profile.size {
                    return fail(
                        Code::ResourceExhausted,
                        format!(
                            "action profile `{}` is full ({} members)",
                            profile.name, profile.size
                        ),
                    );
                }
                state.members.insert(m.member_id, a);
                Ok(())
            }
            Type::Modify => {
                let a = checked_action(m)?;
                let Some(slot) = state.members.get_mut(&m.member_id) else {
                    return fail(
                        Code::NotFound,
                        format!(
                            "action profile `{}` has no member {}",
                            profile.name, m.member_id
                        ),
                    );
                };
                *slot = a;
                Ok(())
            }
            Type::Delete => {
                if !state.members.contains_key(&m.member_id) {
                    return fail(
                        Code::NotFound,
                        format!(
                            "action profile `{}` has no member {}",
                            profile.name, m.member_id
                        ),
                    );
                }
                if let Some((gid, _)) = state
                    .groups
                    .iter()
                    .find(|(_, g)| g.members.contains_key(&m.member_id))
                {
                    return fail(
                        Code::FailedPrecondition,
                        format!(
                            "member {} of `{}` is still in group {gid}; remove it from the group first",
                            m.member_id, profile.name
                        ),
                    );
                }
                if let Some(n) = state.member_refs.get(&m.member_id) {
                    return fail(
                        Code::FailedPrecondition,
                        format!(
                            "member {} of `{}` is still used by {n} table {}",
                            m.member_id,
                            profile.name,
                            plural(*n)
                        ),
                    );
                }
                state.members.remove(&m.member_id);
                Ok(())
            }
            Type::Unspecified => fail(Code::InvalidArgument, "update type is not set"),
        }
    }

    fn group_write(
        &mut self,
        kind: p4::update::Type,
        g: &p4::ActionProfileGroup,
    ) -> Result<(), Fail> {
        use p4::update::Type;
        let index = self.index.clone();
        let Ok(profile) = index.action_profile_by_id(g.action_profile_id) else {
            return fail(
                Code::InvalidArgument,
                format!("unknown action profile id {:#010x}", g.action_profile_id),
            );
        };
        if !profile.with_selector {
            return fail(
                Code::InvalidArgument,
                format!(
                    "action profile `{}` has no selector, so it has no groups",
                    profile.name
                ),
            );
        }
        if g.group_id == 0 {
            return fail(
                Code::InvalidArgument,
                "group id 0 is not valid (it means \"all\" in reads)",
            );
        }
        let state = self.profiles.entry(profile.id).or_default();
        let check_members = |state: &Profile, max_size: i32| -> Result<BTreeMap<u32, i32>, Fail> {
            if max_size < 0 {
                return fail(Code::InvalidArgument, "group max_size must not be negative");
            }
            if profile.max_group_size > 0 && max_size > profile.max_group_size {
                return fail(
                    Code::InvalidArgument,
                    format!(
                        "group max_size {max_size} exceeds max_group_size {} of `{}`",
                        profile.max_group_size, profile.name
                    ),
                );
            }
            let mut members = BTreeMap::new();
            let mut sum: i64 = 0;
            for member in &g.members {
                if member.weight <= 0 {
                    return fail(
                        Code::InvalidArgument,
                        format!(
                            "group {}: member {} has weight {}; weights must be positive",
                            g.group_id, member.member_id, member.weight
                        ),
                    );
                }
                if members.insert(member.member_id, member.weight).is_some() {
                    return fail(
                        Code::InvalidArgument,
                        format!(
                            "group {}: member {} is given twice; use its weight instead",
                            g.group_id, member.member_id
                        ),
                    );
                }
                if !state.members.contains_key(&member.member_id) {
                    return fail(
                        Code::NotFound,
                        format!(
                            "group {} refers to member {}, which `{}` does not have",
                            g.group_id, member.member_id, profile.name
                        ),
                    );
                }
                sum += i64::from(member.weight);
            }
            let limit = if max_size > 0 {
                max_size
            } else {
                profile.max_group_size
            };
            if limit > 0 && sum > i64::from(limit) {
                return fail(
                    Code::ResourceExhausted,
                    format!(
                        "group {}: sum of weights {sum} exceeds its maximum size {limit}",
                        g.group_id
                    ),
                );
            }
            Ok(members)
        };
        match kind {
            Type::Insert => {
                if state.groups.contains_key(&g.group_id) {
                    return fail(
                        Code::AlreadyExists,
                        format!(
                            "action selector `{}` already has group {}",
                            profile.name, g.group_id
                        ),
                    );
                }
                let members = check_members(state, g.max_size)?;
                state.groups.insert(
                    g.group_id,
                    Group {
                        members,
                        max_size: g.max_size,
                    },
                );
                Ok(())
            }
            Type::Modify => {
                let Some(existing) = state.groups.get(&g.group_id) else {
                    return fail(
                        Code::NotFound,
                        format!(
                            "action selector `{}` has no group {}",
                            profile.name, g.group_id
                        ),
                    );
                };
                let max_size = existing.max_size;
                if g.max_size != 0 && g.max_size != max_size {
                    return fail(
                        Code::InvalidArgument,
                        format!(
                            "group {}: max_size cannot change after the group is created",
                            g.group_id
                        ),
                    );
                }
                let members = check_members(state, max_size)?;
                state.groups.insert(g.group_id, Group { members, max_size });
                Ok(())
            }
            Type::Delete => {
                if !state.groups.contains_key(&g.group_id) {
                    return fail(
                        Code::NotFound,
                        format!(
                            "action selector `{}` has no group {}",
                            profile.name, g.group_id
                        ),
                    );
                }
                if let Some(n) = state.group_refs.get(&g.group_id) {
                    return fail(
                        Code::FailedPrecondition,
                        format!(
                            "group {} of `{}` is still used by {n} table {}",
                            g.group_id,
                            profile.name,
                            plural(*n)
                        ),
                    );
                }
                state.groups.remove(&g.group_id);
                Ok(())
            }
            Type::Unspecified => fail(Code::InvalidArgument, "update type is not set"),
        }
    }

    fn read_one(&self, e: &p4::Entity, out: &mut Vec<p4::Entity>) -> Result<(), Fail> {
        use p4::entity::Entity as E;
        match e.entity.as_ref() {
            Some(E::TableEntry(te)) => self.read_tables(te, out),
            Some(E::ActionProfileMember(m)) => {
                for (pid, state) in self.selected_profiles(m.action_profile_id, false)? {
                    for (id, action) in &state.members {
                        if m.member_id == 0 || m.member_id == *id {
                            out.push(p4::Entity {
                                entity: Some(E::ActionProfileMember(p4::ActionProfileMember {
                                    action_profile_id: pid,
                                    member_id: *id,
                                    action: Some(action.clone()),
                                })),
                            });
                        }
                    }
                }
                Ok(())
            }
            Some(E::ActionProfileGroup(g)) => {
                for (pid, state) in self.selected_profiles(g.action_profile_id, true)? {
                    for (id, group) in &state.groups {
                        if g.group_id == 0 || g.group_id == *id {
                            out.push(p4::Entity {
                                entity: Some(E::ActionProfileGroup(p4::ActionProfileGroup {
                                    action_profile_id: pid,
                                    group_id: *id,
                                    members: group
                                        .members
                                        .iter()
                                        .map(|(m, w)| p4::action_profile_group::Member {
                                            member_id: *m,
                                            weight: *w,
                                            watch_kind: None,
                                        })
                                        .collect(),
                                    max_size: group.max_size,
                                })),
                            });
                        }
                    }
                }
                Ok(())
            }
            Some(other) => fail(
                Code::Unimplemented,
                format!(
                    "{} reads are not supported by the embedded switch",
                    crate::entity::proto_entity_kind(other)
                ),
            ),
            None => fail(Code::InvalidArgument, "read of an empty entity"),
        }
    }

    /// The profiles a member / group read selects (0: all), in id order.
    fn selected_profiles(
        &self,
        id: u32,
        selectors_only: bool,
    ) -> Result<Vec<(u32, &Profile)>, Fail> {
        let ids: Vec<u32> = if id == 0 {
            let mut all: Vec<u32> = self
                .index
                .action_profiles()
                .filter(|p| !selectors_only || p.with_selector)
                .map(|p| p.id)
                .collect();
            all.sort_unstable();
            all
        } else {
            if self.index.action_profile_by_id(id).is_err() {
                return fail(
                    Code::InvalidArgument,
                    format!("unknown action profile id {id:#010x}"),
                );
            }
            vec![id]
        };
        Ok(ids
            .into_iter()
            .filter_map(|id| self.profiles.get(&id).map(|p| (id, p)))
            .collect())
    }

    fn read_tables(&self, te: &p4::TableEntry, out: &mut Vec<p4::Entity>) -> Result<(), Fail> {
        if te.is_default_action {
            return fail(
                Code::Unimplemented,
                "default entries are not supported by the embedded switch",
            );
        }
        let tables: Vec<&TableInfo> = if te.table_id == 0 {
            let mut all: Vec<&TableInfo> = self.index.tables().collect();
            all.sort_by_key(|t| t.id);
            all
        } else {
            match self.index.table_by_id(te.table_id) {
                Ok(t) => vec![t],
                Err(_) => {
                    return fail(
                        Code::InvalidArgument,
                        format!("unknown table id {:#010x}", te.table_id),
                    )
                }
            }
        };
        for table in tables {
            let Some(store) = self.tables.get(&table.id) else {
                continue;
            };
            let kl = store.layout.key_len;
            if te.r#match.is_empty() {
                // In the order of the canonical keys, as when the tables were ordered maps.
                let mut keyed: Vec<(Key, u32)> = store
                    .entries()
                    .map(|r| (unpack_key(&store.layout, &store.record(r)[..kl]), r))
                    .collect();
                keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                out.reserve(keyed.len());
                out.extend(keyed.iter().map(|(key, r)| {
                    table_entity(entry_proto(&self.index, table.id, store, key, *r))
                }));
            } else {
                let key = build_key(table, te)?;
                let mut packed = vec![0u8; kl];
                pack_key(&store.layout, &key, &mut packed);
                if let Some(r) = store.find(&packed) {
                    out.push(table_entity(entry_proto(
                        &self.index,
                        table.id,
                        store,
                        &key,
                        r,
                    )));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::{
        ActionCall, FieldMatch, MatchValue, TableAction, TableEntry, Update, UpdateKind,
    };
    use crate::p4info::tests::*;

    fn switch() -> (EmbeddedSwitch, P4InfoIndex) {
        let index = router_index();
        let mut sw = EmbeddedSwitch::new();
        sw.set_pipeline(&p4::SetForwardingPipelineConfigRequest {
            action: p4::set_forwarding_pipeline_config_request::Action::VerifyAndCommit as i32,
            config: Some(p4::ForwardingPipelineConfig {
                p4info: Some(index.raw().clone()),
                ..Default::default()
            }),
            ..Default::default()
        })
        .expect("pipeline");
        (sw, index)
    }

    fn insert(entry: p4::TableEntry) -> p4::WriteRequest {
        p4::WriteRequest {
            updates: vec![p4::Update {
                r#type: p4::update::Type::Insert as i32,
                entity: Some(table_entity(entry)),
            }],
            atomicity: p4::write_request::Atomicity::ContinueOnError as i32,
            ..Default::default()
        }
    }

    /// What is kept compactly (one-parameter actions without their parameter id, metadata only
    /// when there is some) reads back as it was written.
    #[test]
    fn entries_read_back_as_written() {
        let (mut sw, index) = switch();
        let route = TableEntry::new(
            "ingress.vrf_lpm",
            TableAction::Action(
                ActionCall::new("ingress.set_nexthop").with_param("nexthop_id", [0, 7]),
            ),
        )
        .with_match("vrf_id", MatchValue::Exact([0, 1].into()))
        .with_match(
            "dst_addr",
            MatchValue::Lpm {
                value: [10, 1, 0, 0].into(),
                prefix_len: 16,
            },
        );
        let mut with_metadata = route.to_proto(&index).expect("valid");
        with_metadata.metadata = vec![1, 2, 3];
        sw.write(&insert(with_metadata.clone())).expect("written");
        let mut plain = route.clone();
        plain.matches[0].value = MatchValue::Exact([0, 2].into());
        let plain = plain.to_proto(&index).expect("valid");
        sw.write(&insert(plain.clone())).expect("written");
        let read = sw
            .read(&p4::ReadRequest {
                entities: vec![table_entity(p4::TableEntry::default())],
                ..Default::default()
            })
            .expect("read");
        let canonical = |e: p4::TableEntry| {
            let name = TableEntry::from_proto(&index, &e).expect("names");
            (name.to_proto(&index).expect("valid"), e.metadata)
        };
        let got: Vec<(p4::TableEntry, Vec<u8>)> = read
            .into_iter()
            .map(|e| match e.entity {
                Some(p4::entity::Entity::TableEntry(t)) => canonical(t),
                other => panic!("not a table entry: {other:?}"),
            })
            .collect();
        assert_eq!(got, vec![canonical(with_metadata), canonical(plain)]);
        assert_eq!(got[0].1, vec![1, 2, 3]);
    }

    /// A route update of `ingress.vrf_lpm` (`drop` when `nexthop` is `None`).
    fn route(
        kind: UpdateKind,
        vrf: &[u8],
        addr: [u8; 4],
        len: u32,
        nexthop: Option<&[u8]>,
    ) -> Update {
        let action = match nexthop {
            Some(nh) => ActionCall::new("ingress.set_nexthop").with_param("nexthop_id", nh),
            None => ActionCall::new("ingress.drop"),
        };
        let entry = TableEntry::new("ingress.vrf_lpm", TableAction::Action(action))
            .with_match("vrf_id", MatchValue::Exact(vrf.into()))
            .with_match(
                "dst_addr",
                MatchValue::Lpm {
                    value: addr.into(),
                    prefix_len: len,
                },
            );
        Update {
            kind,
            entity: entry.into(),
        }
    }

    fn acl(kind: UpdateKind, ether_type: u16, port: Option<u16>, range: (u16, u16)) -> Update {
        let mut entry = TableEntry::new(
            "ingress.acl",
            TableAction::Action(ActionCall::new("ingress.drop")),
        )
        .with_match(
            "ether_type",
            MatchValue::Ternary {
                value: ether_type.to_be_bytes().into(),
                mask: [0xff, 0x0f].into(),
            },
        )
        .with_match(
            "l4_port",
            MatchValue::Range {
                low: range.0.to_be_bytes().into(),
                high: range.1.to_be_bytes().into(),
            },
        )
        .with_priority(10);
        if let Some(p) = port {
            entry = entry.with_match("in_port", MatchValue::Optional(p.to_be_bytes().into()));
        }
        Update {
            kind,
            entity: entry.into(),
        }
    }

    /// The one-pass check and packing accepts exactly what the check accepts: every entity the
    /// check refuses makes it give up (the target then reports the check's failures), and a
    /// record packed for one pipeline is not applied after another was committed.
    #[test]
    fn packing_refuses_what_the_check_refuses() {
        use UpdateKind::{Delete, Insert};
        let (mut sw, _) = switch();
        let own = Arc::new(router_index());
        let good = || route(Insert, &[0, 1], [10, 1, 0, 0], 16, Some(&[0, 1]));
        let with_entry = |f: &dyn Fn(&mut TableEntry)| {
            let mut u = good();
            let Entity::Table(te) = &mut u.entity else {
                unreachable!()
            };
            f(te);
            u
        };
        let with_call = |f: &dyn Fn(&mut ActionCall)| {
            with_entry(&|te| {
                if let TableAction::Action(call) = &mut te.action {
                    f(call)
                }
            })
        };
        let lpm = |value: &[u8], prefix_len| FieldMatch {
            field: "dst_addr".into(),
            value: MatchValue::Lpm {
                value: value.into(),
                prefix_len,
            },
        };
        let bad = vec![
            with_entry(&|te| te.table = "ingress.nope".into()),
            with_entry(&|te| te.priority = 5),
            with_entry(&|te| te.matches[0].value = MatchValue::Exact([1, 0, 0].into())),
            with_entry(&|te| te.matches[0].value = MatchValue::Exact(Value::default())),
            with_entry(&|te| te.matches[0].value = MatchValue::Optional([1].into())),
            with_entry(&|te| te.matches[0].field = "nope".into()),
            with_entry(&|te| {
                te.matches.remove(0);
            }),
            with_entry(&|te| te.matches.push(lpm(&[10, 0, 0, 0], 8))),
            with_entry(&|te| te.matches[1] = lpm(&[10, 0, 0, 0], 33)),
            with_entry(&|te| te.matches[1] = lpm(&[1, 10, 0, 0, 0], 8)),
            with_entry(&|te| te.action = TableAction::Member(1)),
            with_call(&|c| c.action = "ingress.nope".into()),
            with_call(&|c| c.params.clear()),
            with_call(&|c| c.params.push(c.params[0].clone())),
            with_call(&|c| c.params[0].0 = "nope".into()),
            with_call(&|c| c.params[0].1 = [1, 0, 0].into()),
            with_call(&|c| c.params[0].1 = Value::default()),
        ];
        let mut default_only = router_p4info();
        let only = default_only
            .tables
            .iter_mut()
            .find(|t| {
                t.preamble
                    .as_ref()
                    .is_some_and(|p| p.name == "ingress.vrf_lpm")
            })
            .expect("vrf_lpm");
        for r in &mut only.action_refs {
            r.scope = p4runtime_proto::p4::config::v1::action_ref::Scope::DefaultOnly as i32;
        }
        let default_only =
            Arc::new(P4InfoIndex::from_binary(&default_only.encode_to_vec()).expect("P4Info"));
        let (mut only_sw, _) = switch();
        only_sw
            .set_pipeline(&p4::SetForwardingPipelineConfigRequest {
                action: p4::set_forwarding_pipeline_config_request::Action::VerifyAndCommit as i32,
                config: Some(p4::ForwardingPipelineConfig {
                    p4info: Some(default_only.raw().clone()),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .expect("pipeline");
        assert!(crate::target::check_updates(Some(&default_only), &[good()]).is_err());
        assert!(only_sw.pack_updates(&default_only, &[good()]).is_none());
        for (i, u) in bad.into_iter().enumerate() {
            for kind in [Insert, Delete] {
                let u = Update { kind, ..u.clone() };
                let batch = [good(), u];
                assert!(
                    crate::target::check_updates(Some(&own), &batch).is_err(),
                    "case {i} is not refused by the check"
                );
                assert!(sw.pack_updates(&own, &batch).is_none(), "case {i} packed");
            }
        }
        assert_eq!(sw.entry_count(), 0);

        // Packed for one pipeline, applied after another was committed: the usual way.
        let pack = sw.pack_updates(&own, &[good()]).expect("packs");
        assert_ne!(pack.items[0], Packed::NONE);
        let again = sw.pipeline.as_ref().map(|p| p.index.raw().clone());
        sw.set_pipeline(&p4::SetForwardingPipelineConfigRequest {
            action: p4::set_forwarding_pipeline_config_request::Action::VerifyAndCommit as i32,
            config: Some(p4::ForwardingPipelineConfig {
                p4info: again,
                ..Default::default()
            }),
            ..Default::default()
        })
        .expect("pipeline");
        sw.write_updates(&own, &[good()], Some((&pack, 0)))
            .expect("written");
        assert_eq!(sw.entry_count(), 1);
    }

    /// Name-level writes applied straight to the packed tables answer exactly as their
    /// P4Runtime messages do (codes, messages, per-update details, what reads return after),
    /// through every outcome: inserts, duplicates, a full table, modifies and deletes of
    /// present and missing entries, don't-care and padded values, host bits, an action with
    /// no parameter, and updates of a table that takes the P4Runtime way (ACL).
    #[test]
    fn direct_writes_answer_as_their_messages_do() {
        use UpdateKind::{Delete, Insert, Modify};
        let (mut by_proto, index) = switch();
        let (mut direct, _) = switch();
        // Checked and packed in one pass first, as the embedded target writes.
        let (mut packed, _) = switch();
        let (mut by_proto_split, _) = switch();
        // The target's own copy of the P4Info: equal, not the same allocation.
        let own = Arc::new(router_index());
        let mut batches: Vec<Vec<Update>> = Vec::new();
        let mut first = Vec::new();
        for i in 0..12u8 {
            first.push(route(Insert, &[0, 1], [10, i, 0, 0], 16, Some(&[0, i])));
        }
        first.push(route(Insert, &[1], [10, 0, 0, 0], 16, Some(&[9]))); // same key, padded
        first.push(route(Insert, &[0, 0, 2], [192, 168, 1, 77], 24, None)); // host bits
        first.push(route(Insert, &[2], [0, 0, 0, 0], 0, Some(&[1]))); // /0: don't-care
        batches.push(first);
        let mut second = Vec::new();
        for i in 0..6u8 {
            second.push(route(Insert, &[7], [172, 16, i, 0], 24, Some(&[i]))); // fills, then full
        }
        second.push(route(Modify, &[0, 1], [10, 3, 0, 0], 16, None));
        second.push(route(Modify, &[0, 1], [10, 99, 0, 0], 16, Some(&[1])));
        second.push(route(Delete, &[2], [1, 2, 3, 4], 0, Some(&[1])));
        second.push(route(Delete, &[2], [1, 2, 3, 4], 0, Some(&[1])));
        second.push(route(Delete, &[0, 1], [10, 77, 0, 0], 16, Some(&[1])));
        second.push(acl(Insert, 0x0800, Some(3), (80, 443)));
        second.push(acl(Insert, 0x0800, Some(3), (80, 443)));
        second.push(acl(Insert, 0x86dd, None, (0, 1023)));
        second.push(acl(Delete, 0x86dd, None, (1, 1023)));
        batches.push(second);
        batches.push(vec![
            route(Delete, &[0, 1], [10, 5, 0, 0], 16, None),
            route(Insert, &[0, 1], [10, 5, 0, 0], 16, Some(&[0, 0, 5])),
            route(Modify, &[7], [172, 16, 0, 0], 24, None),
        ]);
        for (n, batch) in batches.iter().enumerate() {
            crate::target::check_updates(Some(&own), batch).expect("valid updates");
            let req = p4::WriteRequest {
                updates: encode_batch(&index, batch).expect("encodes"),
                ..Default::default()
            };
            let want = by_proto.write(&req);
            let got = direct.write_updates(&own, batch, None);
            assert_eq!(got, want, "batch {n}");
            let pack = packed.pack_updates(&own, batch).expect("valid updates");
            let acls = pack.items.iter().filter(|i| **i == Packed::NONE).count();
            let want_acls = batch
                .iter()
                .filter(|u| matches!(&u.entity, Entity::Table(t) if t.table == "ingress.acl"))
                .count();
            assert_eq!(
                acls, want_acls,
                "batch {n}: only the ACL entries are not packed"
            );
            // Applied in two parts, as a write in two batches is.
            let mid = batch.len() / 2;
            let first = packed.write_updates(&own, &batch[..mid], Some((&pack, 0)));
            let second = packed.write_updates(&own, &batch[mid..], Some((&pack, mid)));
            let mut split = by_proto_split.write(&p4::WriteRequest {
                updates: encode_batch(&index, &batch[..mid]).expect("encodes"),
                ..Default::default()
            });
            assert_eq!(first, split, "batch {n}, first part");
            split = by_proto_split.write(&p4::WriteRequest {
                updates: encode_batch(&index, &batch[mid..]).expect("encodes"),
                ..Default::default()
            });
            assert_eq!(second, split, "batch {n}, second part");
            assert_eq!(want.is_err(), n < 2, "batch {n}");
        }
        let all = p4::ReadRequest {
            entities: vec![table_entity(p4::TableEntry::default())],
            ..Default::default()
        };
        let read = by_proto.read(&all).expect("read");
        assert_eq!(direct.read(&all).expect("read"), read);
        assert_eq!(packed.read(&all).expect("read"), read);
        assert_eq!(direct.entry_count(), by_proto.entry_count());
        assert_eq!(packed.entry_count(), by_proto.entry_count());
        assert_eq!(
            read.len(),
            15 + 2,
            "vrf_lpm full less one delete, two ACL entries"
        );
    }
}
