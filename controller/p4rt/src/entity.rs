//! Name-level entities: what the controller builds and what reads return.
//!
//! These types speak P4Info *names* and raw big-endian values, are ordered
//! (so sets of them diff deterministically) and print as one stable line for
//! snapshots. They are compact, as a switch holds a million of them: names
//! are interned ([`Name`], a `&'static str`) and values of up to 22 bytes are
//! kept in place ([`Value`]), so a route entry is two allocations (its key
//! fields and its parameters). The P4Runtime messages are built only when
//! written. [`Entity::to_proto`] turns them into P4Runtime messages through
//! a [`P4InfoIndex`] (validating names, match kinds, widths and actions, and
//! emitting canonical byte strings); [`Entity::from_proto`] turns what a
//! switch returns back into them.
//!
//! **Canonical form.** After [`Entity::from_proto`] (or
//! [`Entity::canonicalize`]) every value is exactly `ceil(bitwidth / 8)`
//! bytes, LPM and ternary values have no bits outside prefix / mask,
//! don't-care matches are absent, matches and params are in P4Info order and
//! group members are sorted by id. Build entities in that form (e.g.
//! `vrf_id.to_be_bytes()` for a `bit<16>`) and they compare equal to what a
//! read returns.

use crate::codec::{self, CodecError};
pub use crate::name::Name;
use crate::p4info::{
    ActionScope, Lookups, MatchFieldInfo, MatchKind, P4InfoError, P4InfoIndex, TableInfo,
};
pub use crate::value::Value;
use p4runtime_proto::p4::v1 as p4;
use std::fmt;

/// Why an entity cannot be converted to or from P4Runtime.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntityError {
    /// A name or id is not in the P4Info.
    #[error(transparent)]
    P4Info(#[from] P4InfoError),
    /// A value does not fit its field or parameter.
    #[error("{context}: {source}")]
    Value {
        /// Which field or parameter.
        context: String,
        /// What is wrong with the value.
        #[source]
        source: CodecError,
    },
    /// The match value is of another kind than the field.
    #[error("table `{table}` field `{field}` is a {expected} match, got {got}")]
    MatchKind {
        /// Table name.
        table: String,
        /// Field name.
        field: String,
        /// The field's kind.
        expected: MatchKind,
        /// The kind given.
        got: &'static str,
    },
    /// The same field appears twice in a key.
    #[error("table `{table}` field `{field}` is given twice")]
    DuplicateField {
        /// Table name.
        table: String,
        /// Field name.
        field: String,
    },
    /// Exact fields have no don't-care value, so they cannot be left out.
    #[error("table `{table}` needs a value for exact match field `{field}`")]
    MissingExact {
        /// Table name.
        table: String,
        /// Field name.
        field: String,
    },
    /// The action is not one of the table's actions.
    #[error("action `{action}` is not allowed in table `{table}`")]
    ActionNotAllowed {
        /// Table name.
        table: String,
        /// Action name.
        action: String,
    },
    /// The action may only be the table's default action.
    #[error("action `{action}` may only be the default action of table `{table}`")]
    DefaultOnlyAction {
        /// Table name.
        table: String,
        /// Action name.
        action: String,
    },
    /// P4Runtime has no default parameter values.
    #[error("action `{action}` needs parameter `{param}`")]
    MissingParam {
        /// Action name.
        action: String,
        /// Parameter name.
        param: String,
    },
    /// The same parameter appears twice.
    #[error("action `{action}` parameter `{param}` is given twice")]
    DuplicateParam {
        /// Action name.
        action: String,
        /// Parameter name.
        param: String,
    },
    /// Tables with an action profile take members or groups only.
    #[error("table `{table}` is implemented by `{profile}`: give a member or group, not a direct action")]
    DirectActionOnIndirectTable {
        /// Table name.
        table: String,
        /// Its action profile.
        profile: String,
    },
    /// Tables without an action profile take direct actions only.
    #[error("table `{table}` has no action profile: give a direct action, not a member or group")]
    IndirectActionOnDirectTable {
        /// Table name.
        table: String,
    },
    /// Groups exist only in action selectors.
    #[error("action profile `{profile}` has no selector, so it has no groups")]
    ProfileWithoutSelector {
        /// Profile name.
        profile: String,
    },
    /// Keys with ternary, range or optional fields need a priority.
    #[error(
        "table `{table}` entries need a priority > 0 (the key has ternary/range/optional fields)"
    )]
    PriorityRequired {
        /// Table name.
        table: String,
    },
    /// Keys with only exact / LPM fields take no priority.
    #[error("table `{table}` entries take no priority (got {priority})")]
    PriorityNotAllowed {
        /// Table name.
        table: String,
        /// The priority given.
        priority: i32,
    },
    /// A member's action must be an action of a table the profile implements.
    #[error("action `{action}` is not an action of the tables of action profile `{profile}`")]
    ActionNotInProfile {
        /// Profile name.
        profile: String,
        /// Action name.
        action: String,
    },
    /// An entity kind this crate does not model (meters, registers, ...).
    #[error("unsupported entity: {0}")]
    Unsupported(String),
    /// A P4Runtime message that lacks something required.
    #[error("malformed {0}")]
    Malformed(String),
}

/// Anything the controller writes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Entity {
    /// A table entry.
    Table(TableEntry),
    /// An action profile member.
    Member(ActionProfileMember),
    /// An action selector group.
    Group(ActionProfileGroup),
}

/// One entry of a table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableEntry {
    /// Fully qualified table name.
    pub table: Name,
    /// Key fields; don't-care fields are left out.
    pub matches: Vec<FieldMatch>,
    /// What a hit does.
    pub action: TableAction,
    /// 0 unless the key has ternary / range / optional fields.
    pub priority: i32,
}

/// One key field and its value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldMatch {
    /// Match field name as in the P4Info.
    pub field: Name,
    /// The value.
    pub value: MatchValue,
}

/// A key field's value, big-endian bytes of any padding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MatchValue {
    /// Exact value.
    Exact(Value),
    /// Prefix; bits after the prefix are cleared by `to_proto`.
    Lpm {
        /// The address.
        value: Value,
        /// Prefix length in bits.
        prefix_len: u32,
    },
    /// Value and mask; value bits outside the mask are cleared by `to_proto`.
    Ternary {
        /// The value.
        value: Value,
        /// The mask.
        mask: Value,
    },
    /// Inclusive range.
    Range {
        /// Lowest value.
        low: Value,
        /// Highest value.
        high: Value,
    },
    /// Exact value of an optional field (leave the field out for "any").
    Optional(Value),
}

impl MatchValue {
    fn kind_name(&self) -> &'static str {
        match self {
            MatchValue::Exact(_) => "exact",
            MatchValue::Lpm { .. } => "lpm",
            MatchValue::Ternary { .. } => "ternary",
            MatchValue::Range { .. } => "range",
            MatchValue::Optional(_) => "optional",
        }
    }
}

/// What a table entry does on a hit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TableAction {
    /// A direct action (tables without an action profile).
    Action(ActionCall),
    /// An action profile member, by id.
    Member(u32),
    /// An action selector group, by id.
    Group(u32),
}

/// An action with its arguments.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActionCall {
    /// Fully qualified action name.
    pub action: Name,
    /// (parameter name, big-endian value) for every parameter.
    pub params: Vec<(Name, Value)>,
}

/// An action profile member: an action with arguments under an id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActionProfileMember {
    /// Fully qualified action profile / selector name.
    pub profile: Name,
    /// Id chosen by the controller (non-zero).
    pub member_id: u32,
    /// The member's action.
    pub action: ActionCall,
}

/// An action selector group: weighted members.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActionProfileGroup {
    /// Fully qualified action selector name.
    pub profile: Name,
    /// Id chosen by the controller (non-zero).
    pub group_id: u32,
    /// (member id, weight).
    pub members: Vec<(u32, i32)>,
    /// Maximum sum of weights this group will hold (0: the selector's limit).
    pub max_size: i32,
}

/// The kind of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UpdateKind {
    /// Add; fails if the key exists.
    Insert,
    /// Change the action; fails if the key is missing.
    Modify,
    /// Remove; fails if the key is missing.
    Delete,
}

/// One write.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Update {
    /// Insert, modify or delete.
    pub kind: UpdateKind,
    /// What.
    pub entity: Entity,
}

/// What identifies an entity for INSERT / DELETE: the table and key (match
/// fields and priority), or the profile and member / group id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntityKey {
    /// A table entry's key; matches sorted by field name.
    Table {
        /// Table name.
        table: Name,
        /// Key fields, sorted by field name.
        matches: Vec<FieldMatch>,
        /// Priority.
        priority: i32,
    },
    /// A member's identity.
    Member {
        /// Profile name.
        profile: Name,
        /// Member id.
        member_id: u32,
    },
    /// A group's identity.
    Group {
        /// Profile name.
        profile: Name,
        /// Group id.
        group_id: u32,
    },
}

// ------------------------------------------------------------------ builders

impl TableEntry {
    /// An entry with no key fields yet and priority 0.
    pub fn new(table: impl Into<Name>, action: TableAction) -> Self {
        Self {
            table: table.into(),
            matches: Vec::new(),
            action,
            priority: 0,
        }
    }

    /// Adds a key field.
    pub fn with_match(mut self, field: impl Into<Name>, value: MatchValue) -> Self {
        self.matches.push(FieldMatch {
            field: field.into(),
            value,
        });
        self
    }

    /// Sets the priority.
    pub fn with_priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }
}

impl ActionCall {
    /// An action with no arguments yet.
    pub fn new(action: impl Into<Name>) -> Self {
        Self {
            action: action.into(),
            params: Vec::new(),
        }
    }

    /// Adds an argument.
    pub fn with_param(mut self, name: impl Into<Name>, value: impl Into<Value>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }
}

impl Update {
    /// INSERT of `entity`.
    pub fn insert(entity: Entity) -> Self {
        Self {
            kind: UpdateKind::Insert,
            entity,
        }
    }

    /// MODIFY of `entity`.
    pub fn modify(entity: Entity) -> Self {
        Self {
            kind: UpdateKind::Modify,
            entity,
        }
    }

    /// DELETE of `entity`.
    pub fn delete(entity: Entity) -> Self {
        Self {
            kind: UpdateKind::Delete,
            entity,
        }
    }

    /// The P4Runtime update.
    pub fn to_proto(&self, index: &P4InfoIndex) -> Result<p4::Update, EntityError> {
        let kind = match self.kind {
            UpdateKind::Insert => p4::update::Type::Insert,
            UpdateKind::Modify => p4::update::Type::Modify,
            UpdateKind::Delete => p4::update::Type::Delete,
        };
        Ok(p4::Update {
            r#type: kind as i32,
            entity: Some(self.entity.to_proto(index)?),
        })
    }
}

impl From<TableEntry> for Entity {
    fn from(e: TableEntry) -> Self {
        Entity::Table(e)
    }
}

impl From<ActionProfileMember> for Entity {
    fn from(m: ActionProfileMember) -> Self {
        Entity::Member(m)
    }
}

impl From<ActionProfileGroup> for Entity {
    fn from(g: ActionProfileGroup) -> Self {
        Entity::Group(g)
    }
}

// ------------------------------------------------------------------ to proto

fn value_err(context: impl FnOnce() -> String) -> impl FnOnce(CodecError) -> EntityError {
    move |source| EntityError::Value {
        context: context(),
        source,
    }
}

fn field_match(field_id: u32, kind: p4::field_match::FieldMatchType) -> p4::FieldMatch {
    p4::FieldMatch {
        field_id,
        field_match_type: Some(kind),
    }
}

/// The P4Runtime field match (`None` for a don't-care value). With `build` false only checks
/// (names, kinds, widths, prefix lengths: the same errors) and builds nothing.
fn match_to_proto(
    table: &TableInfo,
    f: &MatchFieldInfo,
    m: &FieldMatch,
    build: bool,
) -> Result<Option<p4::FieldMatch>, EntityError> {
    use p4::field_match::{self as fm, FieldMatchType as K};
    let ctx = || format!("table `{}` field `{}`", table.name, f.name);
    let w = f.bitwidth;
    if !build {
        let check = |v: &[u8]| codec::check_width(v, w).map_err(value_err(ctx));
        match (&f.kind, &m.value) {
            (MatchKind::Exact, MatchValue::Exact(v))
            | (MatchKind::Optional, MatchValue::Optional(v)) => check(v)?,
            (MatchKind::Lpm, MatchValue::Lpm { value, prefix_len }) => {
                check(value)?;
                codec::check_prefix_len(*prefix_len, w).map_err(value_err(ctx))?;
            }
            (MatchKind::Ternary, MatchValue::Ternary { value: a, mask: b })
            | (MatchKind::Range, MatchValue::Range { low: a, high: b }) => {
                check(a)?;
                check(b)?;
            }
            (kind, v) => {
                return Err(EntityError::MatchKind {
                    table: table.name.clone(),
                    field: f.name.clone(),
                    expected: kind.clone(),
                    got: v.kind_name(),
                })
            }
        }
        return Ok(None);
    }
    let out = match (&f.kind, &m.value) {
        (MatchKind::Exact, MatchValue::Exact(v)) => Some(K::Exact(fm::Exact {
            value: codec::encode_bytes(v, w).map_err(value_err(ctx))?,
        })),
        (MatchKind::Lpm, MatchValue::Lpm { value, prefix_len }) => {
            let v = codec::encode_lpm(value, *prefix_len, w).map_err(value_err(ctx))?;
            // A /0 prefix is a don't-care: P4Runtime wants the field left out.
            (*prefix_len > 0).then_some(K::Lpm(fm::Lpm {
                value: v,
                prefix_len: *prefix_len as i32,
            }))
        }
        (MatchKind::Ternary, MatchValue::Ternary { value, mask }) => {
            let (v, mk) = codec::mask_ternary_full(value, mask, w).map_err(value_err(ctx))?;
            (!codec::is_zero(&mk)).then(|| {
                K::Ternary(fm::Ternary {
                    value: codec::canonical(&v),
                    mask: codec::canonical(&mk),
                })
            })
        }
        (MatchKind::Range, MatchValue::Range { low, high }) => {
            let lo = codec::encode_bytes(low, w).map_err(value_err(ctx))?;
            let hi = codec::encode_bytes(high, w).map_err(value_err(ctx))?;
            let everything = codec::is_zero(&lo) && codec::is_all_ones(&hi, w);
            (!everything).then_some(K::Range(fm::Range { low: lo, high: hi }))
        }
        (MatchKind::Optional, MatchValue::Optional(v)) => Some(K::Optional(fm::Optional {
            value: codec::encode_bytes(v, w).map_err(value_err(ctx))?,
        })),
        (kind, v) => {
            return Err(EntityError::MatchKind {
                table: table.name.clone(),
                field: f.name.clone(),
                expected: kind.clone(),
                got: v.kind_name(),
            })
        }
    };
    Ok(out.map(|k| field_match(f.id, k)))
}

/// The P4Runtime action for a call: names resolved, every parameter present
/// once, values canonical, params in P4Info order.
pub fn action_to_proto(index: &P4InfoIndex, call: &ActionCall) -> Result<p4::Action, EntityError> {
    encode_action(&mut Lookups::new(index), call, true)
}

/// [`action_to_proto`]; with `build` false only checks, and the action has no parameters
/// (only its id is used then).
fn encode_action(
    lookups: &mut Lookups<'_>,
    call: &ActionCall,
    build: bool,
) -> Result<p4::Action, EntityError> {
    let action = lookups.action(call.action)?;
    // Checking alone builds nothing: it runs for every entity a target is given.
    let mut params: Vec<p4::action::Param> =
        Vec::with_capacity(if build { call.params.len() } else { 0 });
    let mut given = Positions::default();
    let mut in_order = true;
    for (name, value) in &call.params {
        let p = action.param(name)?;
        let pos = action.params.iter().position(|q| q.id == p.id).unwrap_or(0);
        in_order &= given.all_below(pos);
        if !given.insert(pos) {
            return Err(EntityError::DuplicateParam {
                action: action.name.clone(),
                param: p.name.clone(),
            });
        }
        let ctx = || format!("action `{}` parameter `{}`", action.name, p.name);
        if build {
            params.push(p4::action::Param {
                param_id: p.id,
                value: codec::encode_bytes(value, p.bitwidth).map_err(value_err(ctx))?,
            });
        } else {
            codec::check_width(value, p.bitwidth).map_err(value_err(ctx))?;
        }
    }
    if let Some(missing) = (0..action.params.len()).find(|pos| !given.contains(*pos)) {
        return Err(EntityError::MissingParam {
            action: action.name.clone(),
            param: action.params[missing].name.clone(),
        });
    }
    if !in_order {
        params.sort_by_key(|p| action.params.iter().position(|q| q.id == p.param_id));
    }
    Ok(p4::Action {
        action_id: action.id,
        params,
    })
}

/// Which positions (in P4Info order) of a table's fields or an action's parameters an entity
/// gave: a bit set, without allocating for the first 64.
#[derive(Default)]
struct Positions {
    bits: u64,
    more: Vec<usize>,
}

impl Positions {
    /// Records `pos`; false if it was given already.
    fn insert(&mut self, pos: usize) -> bool {
        if pos < 64 {
            let new = self.bits & (1 << pos) == 0;
            self.bits |= 1 << pos;
            new
        } else if self.more.contains(&pos) {
            false
        } else {
            self.more.push(pos);
            true
        }
    }

    fn contains(&self, pos: usize) -> bool {
        if pos < 64 {
            self.bits & (1 << pos) != 0
        } else {
            self.more.contains(&pos)
        }
    }

    /// Whether every position given so far is below `pos` (so far, in order).
    fn all_below(&self, pos: usize) -> bool {
        let low_ok = pos >= 64 || self.bits >> pos == 0;
        low_ok && self.more.iter().all(|p| *p < pos)
    }
}

impl TableEntry {
    /// The P4Runtime table entry (see the module docs for what is checked).
    pub fn to_proto(&self, index: &P4InfoIndex) -> Result<p4::TableEntry, EntityError> {
        self.encode(&mut Lookups::new(index), true)
    }

    /// Whether [`TableEntry::to_proto`] would succeed (the same error if not), without
    /// building the message.
    pub fn check(&self, index: &P4InfoIndex) -> Result<(), EntityError> {
        self.encode(&mut Lookups::new(index), false).map(|_| ())
    }

    /// With `build` false, the checks alone: the entry returned is empty.
    fn encode(
        &self,
        lookups: &mut Lookups<'_>,
        build: bool,
    ) -> Result<p4::TableEntry, EntityError> {
        use p4::table_action::Type as A;
        let index = lookups.index();
        let table = lookups.table(self.table)?;
        let mut matches: Vec<p4::FieldMatch> =
            Vec::with_capacity(if build { self.matches.len() } else { 0 });
        let mut given = Positions::default();
        let mut in_order = true;
        for m in &self.matches {
            let f = table.match_field(&m.field)?;
            let pos = table
                .match_fields
                .iter()
                .position(|x| x.id == f.id)
                .unwrap_or(0);
            in_order &= given.all_below(pos);
            if !given.insert(pos) {
                return Err(EntityError::DuplicateField {
                    table: table.name.clone(),
                    field: f.name.clone(),
                });
            }
            if let Some(p) = match_to_proto(table, f, m, build)? {
                matches.push(p);
            }
        }
        for (pos, f) in table.match_fields.iter().enumerate() {
            if f.kind == MatchKind::Exact && !given.contains(pos) {
                return Err(EntityError::MissingExact {
                    table: table.name.clone(),
                    field: f.name.clone(),
                });
            }
        }
        if !in_order {
            matches.sort_by_key(|m| table.match_fields.iter().position(|x| x.id == m.field_id));
        }

        if table.needs_priority() && self.priority <= 0 {
            return Err(EntityError::PriorityRequired {
                table: table.name.clone(),
            });
        }
        if !table.needs_priority() && self.priority != 0 {
            return Err(EntityError::PriorityNotAllowed {
                table: table.name.clone(),
                priority: self.priority,
            });
        }

        let profile = match table.implementation_id {
            Some(id) => Some(index.action_profile_by_id(id)?),
            None => None,
        };
        let action = match (&self.action, profile) {
            (TableAction::Action(_), Some(p)) => {
                return Err(EntityError::DirectActionOnIndirectTable {
                    table: table.name.clone(),
                    profile: p.name.clone(),
                })
            }
            (TableAction::Action(call), None) => {
                let a = encode_action(lookups, call, build)?;
                match table.action_scope(a.action_id) {
                    None => {
                        return Err(EntityError::ActionNotAllowed {
                            table: table.name.clone(),
                            action: call.action.to_string(),
                        })
                    }
                    Some(ActionScope::DefaultOnly) => {
                        return Err(EntityError::DefaultOnlyAction {
                            table: table.name.clone(),
                            action: call.action.to_string(),
                        })
                    }
                    Some(_) => A::Action(a),
                }
            }
            (TableAction::Member(_) | TableAction::Group(_), None) => {
                return Err(EntityError::IndirectActionOnDirectTable {
                    table: table.name.clone(),
                })
            }
            (TableAction::Member(id), Some(_)) => A::ActionProfileMemberId(*id),
            (TableAction::Group(id), Some(p)) => {
                if !p.with_selector {
                    return Err(EntityError::ProfileWithoutSelector {
                        profile: p.name.clone(),
                    });
                }
                A::ActionProfileGroupId(*id)
            }
        };

        Ok(p4::TableEntry {
            table_id: table.id,
            r#match: matches,
            action: Some(p4::TableAction {
                r#type: Some(action),
            }),
            priority: self.priority,
            ..Default::default()
        })
    }
}

impl ActionProfileMember {
    /// The P4Runtime member.
    pub fn to_proto(&self, index: &P4InfoIndex) -> Result<p4::ActionProfileMember, EntityError> {
        self.encode(&mut Lookups::new(index), true)
    }

    fn encode(
        &self,
        lookups: &mut Lookups<'_>,
        build: bool,
    ) -> Result<p4::ActionProfileMember, EntityError> {
        let index = lookups.index();
        let profile = index.action_profile(&self.profile)?;
        let action = encode_action(lookups, &self.action, build)?;
        if !index.profile_allows_action(profile, action.action_id) {
            return Err(EntityError::ActionNotInProfile {
                profile: profile.name.clone(),
                action: self.action.action.to_string(),
            });
        }
        Ok(p4::ActionProfileMember {
            action_profile_id: profile.id,
            member_id: self.member_id,
            action: Some(action),
        })
    }
}

impl ActionProfileGroup {
    /// The P4Runtime group.
    pub fn to_proto(&self, index: &P4InfoIndex) -> Result<p4::ActionProfileGroup, EntityError> {
        let profile = index.action_profile(&self.profile)?;
        if !profile.with_selector {
            return Err(EntityError::ProfileWithoutSelector {
                profile: profile.name.clone(),
            });
        }
        Ok(p4::ActionProfileGroup {
            action_profile_id: profile.id,
            group_id: self.group_id,
            members: self
                .members
                .iter()
                .map(|(member_id, weight)| p4::action_profile_group::Member {
                    member_id: *member_id,
                    weight: *weight,
                    watch_kind: None,
                })
                .collect(),
            max_size: self.max_size,
        })
    }
}

// ------------------------------------------------------------------ from proto

fn full(value: &[u8], bitwidth: u32, ctx: impl FnOnce() -> String) -> Result<Value, EntityError> {
    codec::to_full_width(value, bitwidth)
        .map(Value::from)
        .map_err(value_err(ctx))
}

/// A P4Runtime action back to names, params in P4Info order at full width.
pub fn action_from_proto(index: &P4InfoIndex, a: &p4::Action) -> Result<ActionCall, EntityError> {
    let action = index.action_by_id(a.action_id)?;
    let mut params: Vec<(usize, Name, Value)> = Vec::with_capacity(a.params.len());
    for p in &a.params {
        let info = action.param_by_id(p.param_id)?;
        let pos = action
            .params
            .iter()
            .position(|q| q.id == info.id)
            .unwrap_or(0);
        let ctx = || format!("action `{}` parameter `{}`", action.name, info.name);
        params.push((
            pos,
            Name::new(&info.name),
            full(&p.value, info.bitwidth, ctx)?,
        ));
    }
    params.sort_by_key(|(pos, _, _)| *pos);
    Ok(ActionCall {
        action: Name::new(&action.name),
        params: params.into_iter().map(|(_, n, v)| (n, v)).collect(),
    })
}

impl TableEntry {
    /// A P4Runtime table entry back to names (canonical form).
    pub fn from_proto(index: &P4InfoIndex, e: &p4::TableEntry) -> Result<Self, EntityError> {
        use p4::field_match::FieldMatchType as K;
        use p4::table_action::Type as A;
        let table = index.table_by_id(e.table_id)?;
        if e.is_default_action {
            return Err(EntityError::Unsupported(format!(
                "default entry of table `{}`",
                table.name
            )));
        }
        let mut matches: Vec<(usize, FieldMatch)> = Vec::with_capacity(e.r#match.len());
        for m in &e.r#match {
            let f = table.match_field_by_id(m.field_id)?;
            let pos = table
                .match_fields
                .iter()
                .position(|x| x.id == f.id)
                .unwrap_or(0);
            let ctx = || format!("table `{}` field `{}`", table.name, f.name);
            let w = f.bitwidth;
            let got = match &m.field_match_type {
                Some(K::Exact(_)) => "exact",
                Some(K::Lpm(_)) => "lpm",
                Some(K::Ternary(_)) => "ternary",
                Some(K::Range(_)) => "range",
                Some(K::Optional(_)) => "optional",
                Some(K::Other(_)) => "other",
                None => "nothing",
            };
            let value = match (&f.kind, &m.field_match_type) {
                (MatchKind::Exact, Some(K::Exact(x))) => MatchValue::Exact(full(&x.value, w, ctx)?),
                (MatchKind::Lpm, Some(K::Lpm(x))) => MatchValue::Lpm {
                    value: full(&x.value, w, ctx)?,
                    prefix_len: u32::try_from(x.prefix_len).map_err(|_| {
                        EntityError::Malformed(format!(
                            "table `{}` field `{}`: prefix length {}",
                            table.name, f.name, x.prefix_len
                        ))
                    })?,
                },
                (MatchKind::Ternary, Some(K::Ternary(x))) => MatchValue::Ternary {
                    value: full(&x.value, w, ctx)?,
                    mask: full(&x.mask, w, ctx)?,
                },
                (MatchKind::Range, Some(K::Range(x))) => MatchValue::Range {
                    low: full(&x.low, w, ctx)?,
                    high: full(&x.high, w, ctx)?,
                },
                (MatchKind::Optional, Some(K::Optional(x))) => {
                    MatchValue::Optional(full(&x.value, w, ctx)?)
                }
                (kind, _) => {
                    return Err(EntityError::MatchKind {
                        table: table.name.clone(),
                        field: f.name.clone(),
                        expected: kind.clone(),
                        got,
                    })
                }
            };
            matches.push((
                pos,
                FieldMatch {
                    field: Name::new(&f.name),
                    value,
                },
            ));
        }
        matches.sort_by_key(|(pos, _)| *pos);

        let action = match e.action.as_ref().and_then(|a| a.r#type.as_ref()) {
            Some(A::Action(a)) => TableAction::Action(action_from_proto(index, a)?),
            Some(A::ActionProfileMemberId(id)) => TableAction::Member(*id),
            Some(A::ActionProfileGroupId(id)) => TableAction::Group(*id),
            Some(A::ActionProfileActionSet(_)) => {
                return Err(EntityError::Unsupported(format!(
                    "one-shot action set in table `{}`",
                    table.name
                )))
            }
            None => {
                return Err(EntityError::Malformed(format!(
                    "entry of table `{}` without an action",
                    table.name
                )))
            }
        };
        Ok(TableEntry {
            table: Name::new(&table.name),
            matches: matches.into_iter().map(|(_, m)| m).collect(),
            action,
            priority: e.priority,
        })
    }
}

impl ActionProfileMember {
    /// A P4Runtime member back to names.
    pub fn from_proto(
        index: &P4InfoIndex,
        m: &p4::ActionProfileMember,
    ) -> Result<Self, EntityError> {
        let profile = index.action_profile_by_id(m.action_profile_id)?;
        let action = m.action.as_ref().ok_or_else(|| {
            EntityError::Malformed(format!(
                "member {} of `{}` without an action",
                m.member_id, profile.name
            ))
        })?;
        Ok(Self {
            profile: Name::new(&profile.name),
            member_id: m.member_id,
            action: action_from_proto(index, action)?,
        })
    }
}

impl ActionProfileGroup {
    /// A P4Runtime group back to names; members sorted by id.
    pub fn from_proto(
        index: &P4InfoIndex,
        g: &p4::ActionProfileGroup,
    ) -> Result<Self, EntityError> {
        let profile = index.action_profile_by_id(g.action_profile_id)?;
        let mut members: Vec<(u32, i32)> =
            g.members.iter().map(|m| (m.member_id, m.weight)).collect();
        members.sort();
        Ok(Self {
            profile: Name::new(&profile.name),
            group_id: g.group_id,
            members,
            max_size: g.max_size,
        })
    }
}

impl Entity {
    /// Whether [`Entity::to_proto`] would succeed (the same error if not), without building
    /// the message: what a write checks of every update before it sends any.
    pub fn check(&self, index: &P4InfoIndex) -> Result<(), EntityError> {
        self.check_with(&mut Lookups::new(index))
    }

    /// [`Entity::check`] with look-ups shared across the entities of a write.
    pub fn check_with(&self, lookups: &mut Lookups<'_>) -> Result<(), EntityError> {
        match self {
            Entity::Table(t) => t.encode(lookups, false).map(|_| ()),
            Entity::Member(m) => m.encode(lookups, false).map(|_| ()),
            // A group's message holds nothing but ids: building it is the check.
            Entity::Group(g) => g.to_proto(lookups.index()).map(|_| ()),
        }
    }

    /// The P4Runtime entity: names resolved, values validated and canonical.
    pub fn to_proto(&self, index: &P4InfoIndex) -> Result<p4::Entity, EntityError> {
        use p4::entity::Entity as E;
        let e = match self {
            Entity::Table(t) => E::TableEntry(t.to_proto(index)?),
            Entity::Member(m) => E::ActionProfileMember(m.to_proto(index)?),
            Entity::Group(g) => E::ActionProfileGroup(g.to_proto(index)?),
        };
        Ok(p4::Entity { entity: Some(e) })
    }

    /// A P4Runtime entity (as a switch returns it) back to names.
    pub fn from_proto(index: &P4InfoIndex, e: &p4::Entity) -> Result<Self, EntityError> {
        use p4::entity::Entity as E;
        match &e.entity {
            Some(E::TableEntry(t)) => TableEntry::from_proto(index, t).map(Entity::Table),
            Some(E::ActionProfileMember(m)) => {
                ActionProfileMember::from_proto(index, m).map(Entity::Member)
            }
            Some(E::ActionProfileGroup(g)) => {
                ActionProfileGroup::from_proto(index, g).map(Entity::Group)
            }
            Some(other) => Err(EntityError::Unsupported(
                proto_entity_kind(other).to_string(),
            )),
            None => Err(EntityError::Malformed(
                "entity with nothing set".to_string(),
            )),
        }
    }

    /// The same entity in canonical form (see the module docs), or why it
    /// cannot be written.
    pub fn canonicalize(&self, index: &P4InfoIndex) -> Result<Self, EntityError> {
        Self::from_proto(index, &self.to_proto(index)?)
    }

    /// What identifies this entity for INSERT / DELETE.
    pub fn key(&self) -> EntityKey {
        match self {
            Entity::Table(t) => {
                let mut matches = t.matches.clone();
                matches.sort();
                EntityKey::Table {
                    table: t.table,
                    matches,
                    priority: t.priority,
                }
            }
            Entity::Member(m) => EntityKey::Member {
                profile: m.profile,
                member_id: m.member_id,
            },
            Entity::Group(g) => EntityKey::Group {
                profile: g.profile,
                group_id: g.group_id,
            },
        }
    }
}

/// A short name for the kind of a P4Runtime entity, for messages.
pub fn proto_entity_kind(e: &p4::entity::Entity) -> &'static str {
    use p4::entity::Entity as E;
    match e {
        E::ExternEntry(_) => "extern entry",
        E::TableEntry(_) => "table entry",
        E::ActionProfileMember(_) => "action profile member",
        E::ActionProfileGroup(_) => "action profile group",
        E::MeterEntry(_) => "meter entry",
        E::DirectMeterEntry(_) => "direct meter entry",
        E::CounterEntry(_) => "counter entry",
        E::DirectCounterEntry(_) => "direct counter entry",
        E::PacketReplicationEngineEntry(_) => "packet replication engine entry",
        E::ValueSetEntry(_) => "value set entry",
        E::RegisterEntry(_) => "register entry",
        E::DigestEntry(_) => "digest entry",
    }
}

// ------------------------------------------------------------------ display

impl fmt::Display for MatchValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MatchValue::Exact(v) | MatchValue::Optional(v) => f.write_str(&codec::hex(v)),
            MatchValue::Lpm { value, prefix_len } => {
                write!(f, "{}/{prefix_len}", codec::hex(value))
            }
            MatchValue::Ternary { value, mask } => {
                write!(f, "{}&&&{}", codec::hex(value), codec::hex(mask))
            }
            MatchValue::Range { low, high } => {
                write!(f, "{}..{}", codec::hex(low), codec::hex(high))
            }
        }
    }
}

impl fmt::Display for FieldMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.field, self.value)
    }
}

impl fmt::Display for ActionCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.action)?;
        for (i, (name, value)) in self.params.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{name}={}", codec::hex(value))?;
        }
        f.write_str(")")
    }
}

impl fmt::Display for TableAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableAction::Action(a) => a.fmt(f),
            TableAction::Member(id) => write!(f, "member {id}"),
            TableAction::Group(id) => write!(f, "group {id}"),
        }
    }
}

/// `ingress.ipv4_vrf_lpm vrf_id=0x0001 dst_addr=0x0a010100/24 -> ingress.set_nexthop(nexthop_id=0x0003)`
impl fmt::Display for TableEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.table)?;
        for m in &self.matches {
            write!(f, " {m}")?;
        }
        if self.priority != 0 {
            write!(f, " priority={}", self.priority)?;
        }
        write!(f, " -> {}", self.action)
    }
}

/// `ingress.ecmp_selector member 7 -> ingress.set_nexthop(nexthop_id=0x0003)`
impl fmt::Display for ActionProfileMember {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} member {} -> {}",
            self.profile, self.member_id, self.action
        )
    }
}

/// `ingress.ecmp_selector group 3 -> [7 weight 1, 8 weight 2] max_size=16`
impl fmt::Display for ActionProfileGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} group {} -> [", self.profile, self.group_id)?;
        for (i, (member, weight)) in self.members.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{member} weight {weight}")?;
        }
        write!(f, "] max_size={}", self.max_size)
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entity::Table(t) => t.fmt(f),
            Entity::Member(m) => m.fmt(f),
            Entity::Group(g) => g.fmt(f),
        }
    }
}

impl fmt::Display for UpdateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UpdateKind::Insert => "INSERT",
            UpdateKind::Modify => "MODIFY",
            UpdateKind::Delete => "DELETE",
        })
    }
}

/// `INSERT <entity>`
impl fmt::Display for Update {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.entity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::p4info::tests::*;

    fn lpm_entry(vrf: u16, addr: [u8; 4], len: u32, nexthop: u16) -> TableEntry {
        TableEntry::new(
            "ingress.vrf_lpm",
            TableAction::Action(
                ActionCall::new("ingress.set_nexthop")
                    .with_param("nexthop_id", nexthop.to_be_bytes()),
            ),
        )
        .with_match(
            "vrf_id",
            MatchValue::Exact(Value::from(vrf.to_be_bytes().to_vec())),
        )
        .with_match(
            "dst_addr",
            MatchValue::Lpm {
                value: Value::from(addr.to_vec()),
                prefix_len: len,
            },
        )
    }

    #[test]
    fn display_is_one_stable_line() {
        let e = Entity::Table(lpm_entry(1, [10, 1, 1, 0], 24, 3));
        assert_eq!(
            e.to_string(),
            "ingress.vrf_lpm vrf_id=0x0001 dst_addr=0x0a010100/24 -> ingress.set_nexthop(nexthop_id=0x0003)"
        );
        let m = Entity::Member(ActionProfileMember {
            profile: "ingress.selector".into(),
            member_id: 7,
            action: ActionCall::new("ingress.set_port")
                .with_param("port", vec![0x00, 0x05])
                .with_param("smac", vec![0, 0xaa, 0xbb, 0xcc, 0xdd, 0xee]),
        });
        assert_eq!(
            m.to_string(),
            "ingress.selector member 7 -> ingress.set_port(port=0x0005, smac=0x00aabbccddee)"
        );
        let g = Update::insert(Entity::Group(ActionProfileGroup {
            profile: "ingress.selector".into(),
            group_id: 3,
            members: vec![(7, 1), (8, 2)],
            max_size: 4,
        }));
        assert_eq!(
            g.to_string(),
            "INSERT ingress.selector group 3 -> [7 weight 1, 8 weight 2] max_size=4"
        );
        let acl = TableEntry::new(
            "ingress.acl",
            TableAction::Action(ActionCall::new("ingress.drop")),
        )
        .with_match(
            "ether_type",
            MatchValue::Ternary {
                value: vec![0x08, 0x00].into(),
                mask: vec![0xff, 0xff].into(),
            },
        )
        .with_match(
            "l4_port",
            MatchValue::Range {
                low: vec![0, 80].into(),
                high: vec![0, 88].into(),
            },
        )
        .with_priority(10);
        assert_eq!(
            acl.to_string(),
            "ingress.acl ether_type=0x0800&&&0xffff l4_port=0x0050..0x0058 priority=10 -> ingress.drop()"
        );
    }

    #[test]
    fn to_proto_canonicalises_values() {
        let idx = router_index();
        let e = lpm_entry(1, [10, 1, 1, 77], 24, 3);
        let p = e.to_proto(&idx).unwrap();
        assert_eq!(p.table_id, LPM);
        use p4::field_match::FieldMatchType as K;
        assert_eq!(
            p.r#match[0].field_match_type,
            Some(K::Exact(p4::field_match::Exact { value: vec![1] }))
        );
        assert_eq!(
            p.r#match[1].field_match_type,
            Some(K::Lpm(p4::field_match::Lpm {
                value: vec![10, 1, 1, 0],
                prefix_len: 24
            }))
        );
        let Some(p4::table_action::Type::Action(a)) = p.action.and_then(|a| a.r#type) else {
            panic!("direct action expected");
        };
        assert_eq!(a.action_id, SET_NEXTHOP);
        assert_eq!(a.params[0].value, vec![3]);
    }

    #[test]
    fn round_trip_gives_canonical_form() {
        let idx = router_index();
        // Padded, out of order, with host bits: canonical after the round trip.
        let mut e = lpm_entry(1, [10, 1, 1, 77], 24, 3);
        e.matches.reverse();
        e.matches[1].value = MatchValue::Exact(Value::from(vec![0, 0, 0, 1]));
        let back = Entity::Table(e).canonicalize(&idx).unwrap();
        assert_eq!(back, Entity::Table(lpm_entry(1, [10, 1, 1, 0], 24, 3)));

        let member = Entity::Member(ActionProfileMember {
            profile: "ingress.selector".into(),
            member_id: 7,
            action: ActionCall::new("ingress.set_port")
                .with_param("smac", vec![0xaa; 6])
                .with_param("port", vec![5]),
        });
        let Entity::Member(m) = member.canonicalize(&idx).unwrap() else {
            panic!("member expected");
        };
        assert_eq!(
            m.action.params,
            vec![
                (Name::from("port"), Value::from([0, 5])),
                (Name::from("smac"), Value::from([0xaa; 6]))
            ]
        );

        let group = Entity::Group(ActionProfileGroup {
            profile: "ingress.selector".into(),
            group_id: 3,
            members: vec![(8, 2), (7, 1)],
            max_size: 4,
        });
        let Entity::Group(g) = group.canonicalize(&idx).unwrap() else {
            panic!("group expected");
        };
        assert_eq!(g.members, vec![(7, 1), (8, 2)]);

        let via_group = Entity::Table(
            TableEntry::new("ingress.ecmp", TableAction::Group(3))
                .with_match("nexthop_id", MatchValue::Exact(Value::from(vec![0, 9]))),
        );
        assert_eq!(via_group.canonicalize(&idx).unwrap(), via_group);
    }

    #[test]
    fn dont_care_matches_are_left_out() {
        let idx = router_index();
        let e = TableEntry::new(
            "ingress.acl",
            TableAction::Action(ActionCall::new("ingress.drop")),
        )
        .with_match(
            "ether_type",
            MatchValue::Ternary {
                value: vec![0].into(),
                mask: vec![0].into(),
            },
        )
        .with_match(
            "l4_port",
            MatchValue::Range {
                low: vec![0].into(),
                high: vec![0xff, 0xff].into(),
            },
        )
        .with_match("in_port", MatchValue::Optional(Value::from(vec![0, 1])))
        .with_priority(1);
        let p = e.to_proto(&idx).unwrap();
        assert_eq!(p.r#match.len(), 1);
        assert_eq!(p.r#match[0].field_id, 2);
        // An LPM /0 is a don't-care too.
        let p = lpm_entry(1, [0, 0, 0, 0], 0, 3).to_proto(&idx).unwrap();
        assert_eq!(p.r#match.len(), 1);
    }

    #[test]
    fn validation_errors_name_the_problem() {
        let idx = router_index();
        let err = |e: TableEntry| Entity::Table(e).to_proto(&idx).unwrap_err().to_string();

        let mut e = lpm_entry(1, [10, 0, 0, 0], 8, 3);
        e.table = "ingress.nope".into();
        assert_eq!(err(e), "unknown table `ingress.nope`");

        let mut e = lpm_entry(1, [10, 0, 0, 0], 8, 3);
        e.matches[0].field = "vrf".into();
        assert_eq!(err(e), "table `ingress.vrf_lpm` has no match field `vrf`");

        let mut e = lpm_entry(1, [10, 0, 0, 0], 8, 3);
        e.matches[0].value = MatchValue::Exact(Value::from(vec![1, 0, 0]));
        assert_eq!(
            err(e),
            "table `ingress.vrf_lpm` field `vrf_id`: value 0x010000 needs 17 bits, field is bit<16>"
        );

        let mut e = lpm_entry(1, [10, 0, 0, 0], 8, 3);
        e.matches[1].value = MatchValue::Exact(Value::from(vec![10, 0, 0, 0]));
        assert_eq!(
            err(e),
            "table `ingress.vrf_lpm` field `dst_addr` is a lpm match, got exact"
        );

        let mut e = lpm_entry(1, [10, 0, 0, 0], 8, 3);
        e.matches.remove(0);
        assert_eq!(
            err(e),
            "table `ingress.vrf_lpm` needs a value for exact match field `vrf_id`"
        );

        let mut e = lpm_entry(1, [10, 0, 0, 0], 8, 3);
        e.matches.push(e.matches[0].clone());
        assert_eq!(
            err(e),
            "table `ingress.vrf_lpm` field `vrf_id` is given twice"
        );

        let mut e = lpm_entry(1, [10, 0, 0, 0], 8, 3);
        e.action = TableAction::Action(ActionCall::new("ingress.set_port"));
        assert!(err(e).contains("needs parameter"));

        let mut e = lpm_entry(1, [10, 0, 0, 0], 8, 3);
        e.action = TableAction::Action(
            ActionCall::new("ingress.set_port")
                .with_param("port", vec![1])
                .with_param("smac", vec![1]),
        );
        assert_eq!(
            err(e),
            "action `ingress.set_port` is not allowed in table `ingress.vrf_lpm`"
        );

        let mut e = lpm_entry(1, [10, 0, 0, 0], 8, 3);
        e.action = TableAction::Action(ActionCall::new("ingress.default_only"));
        assert!(err(e).contains("may only be the default action"));

        let mut e = lpm_entry(1, [10, 0, 0, 0], 8, 3);
        e.action = TableAction::Member(1);
        assert!(err(e).contains("has no action profile"));

        let mut e = lpm_entry(1, [10, 0, 0, 0], 8, 3);
        e.priority = 5;
        assert_eq!(
            err(e),
            "table `ingress.vrf_lpm` entries take no priority (got 5)"
        );

        let direct = TableEntry::new(
            "ingress.ecmp",
            TableAction::Action(
                ActionCall::new("ingress.set_port")
                    .with_param("port", vec![1])
                    .with_param("smac", vec![1]),
            ),
        )
        .with_match("nexthop_id", MatchValue::Exact(Value::from(vec![1])));
        assert!(err(direct).contains("is implemented by `ingress.selector`"));

        let acl = TableEntry::new(
            "ingress.acl",
            TableAction::Action(ActionCall::new("ingress.drop")),
        );
        assert!(err(acl).contains("need a priority"));

        let mut e = lpm_entry(1, [10, 0, 0, 0], 8, 3);
        e.action = TableAction::Action(
            ActionCall::new("ingress.set_nexthop")
                .with_param("nexthop_id", vec![1])
                .with_param("nexthop_id", vec![2]),
        );
        assert!(err(e).contains("given twice"));

        let bad_member = Entity::Member(ActionProfileMember {
            profile: "ingress.selector".into(),
            member_id: 1,
            action: ActionCall::new("ingress.drop"),
        });
        assert_eq!(
            bad_member.to_proto(&idx).unwrap_err().to_string(),
            "action `ingress.drop` is not an action of the tables of action profile `ingress.selector`"
        );
    }

    /// `check` is what a write runs on every update before it sends any: it must refuse exactly
    /// what `to_proto` refuses, with the same error.
    #[test]
    fn check_agrees_with_to_proto() {
        let idx = router_index();
        let mut cases: Vec<Entity> = Vec::new();
        let lpm = |f: &dyn Fn(&mut TableEntry)| {
            let mut e = lpm_entry(1, [10, 0, 0, 0], 8, 3);
            f(&mut e);
            Entity::Table(e)
        };
        cases.push(lpm(&|_| {}));
        cases.push(lpm(&|e| e.table = "ingress.nope".into()));
        cases.push(lpm(&|e| e.matches[0].field = "vrf".into()));
        cases.push(lpm(&|e| {
            e.matches[0].value = MatchValue::Exact([1, 0, 0].into())
        }));
        cases.push(lpm(&|e| {
            e.matches[0].value = MatchValue::Exact(Value::default())
        }));
        cases.push(lpm(&|e| {
            e.matches[1].value = MatchValue::Exact([10, 0, 0, 0].into())
        }));
        cases.push(lpm(&|e| {
            e.matches[1].value = MatchValue::Lpm {
                value: [10, 0, 0, 0].into(),
                prefix_len: 33,
            }
        }));
        cases.push(lpm(&|e| {
            e.matches[1].value = MatchValue::Lpm {
                value: [1, 10, 0, 0, 0].into(),
                prefix_len: 8,
            }
        }));
        cases.push(lpm(&|e| {
            e.matches[1].value = MatchValue::Lpm {
                value: [10, 0, 0, 0].into(),
                prefix_len: 0,
            }
        }));
        cases.push(lpm(&|e| {
            e.matches.remove(0);
        }));
        cases.push(lpm(&|e| e.matches.push(e.matches[0].clone())));
        cases.push(lpm(&|e| e.priority = 5));
        cases.push(lpm(&|e| e.action = TableAction::Member(1)));
        cases.push(lpm(&|e| {
            e.action = TableAction::Action(ActionCall::new("ingress.set_port"))
        }));
        cases.push(lpm(&|e| {
            e.action = TableAction::Action(
                ActionCall::new("ingress.set_nexthop").with_param("nexthop_id", [1, 0, 0]),
            )
        }));
        cases.push(lpm(&|e| {
            e.action = TableAction::Action(
                ActionCall::new("ingress.set_nexthop")
                    .with_param("nexthop_id", [1])
                    .with_param("nexthop_id", [2]),
            )
        }));
        cases.push(lpm(&|e| {
            e.action =
                TableAction::Action(ActionCall::new("ingress.set_nexthop").with_param("hop", [1]))
        }));
        cases.push(lpm(&|e| {
            e.action = TableAction::Action(
                ActionCall::new("ingress.set_port")
                    .with_param("port", [1])
                    .with_param("smac", [1]),
            )
        }));
        cases.push(lpm(&|e| {
            e.action = TableAction::Action(ActionCall::new("ingress.default_only"))
        }));
        cases.push(lpm(&|e| {
            e.action = TableAction::Action(ActionCall::new("ingress.nope"))
        }));
        let acl = |value: &[u8], mask: &[u8], low: &[u8], high: &[u8], priority: i32| {
            Entity::Table(
                TableEntry::new(
                    "ingress.acl",
                    TableAction::Action(ActionCall::new("ingress.drop")),
                )
                .with_match(
                    "ether_type",
                    MatchValue::Ternary {
                        value: value.into(),
                        mask: mask.into(),
                    },
                )
                .with_match(
                    "l4_port",
                    MatchValue::Range {
                        low: low.into(),
                        high: high.into(),
                    },
                )
                .with_priority(priority),
            )
        };
        cases.push(acl(&[8, 0], &[0xff, 0xff], &[0, 80], &[0, 88], 10));
        cases.push(acl(&[8, 0], &[0xff, 0xff], &[0, 80], &[0, 88], 0));
        cases.push(acl(&[1, 8, 0], &[0xff, 0xff], &[0, 80], &[0, 88], 10));
        cases.push(acl(&[8, 0], &[1, 0xff, 0xff], &[0, 80], &[0, 88], 10));
        cases.push(acl(&[8, 0], &[0xff, 0xff], &[1, 0, 80], &[0, 88], 10));
        cases.push(acl(&[8, 0], &[0xff, 0xff], &[0, 80], &[1, 0, 88], 10));
        cases.push(acl(&[0], &[0], &[0], &[0xff, 0xff], 10));
        let member = |action: ActionCall, profile: &'static str| {
            Entity::Member(ActionProfileMember {
                profile: profile.into(),
                member_id: 1,
                action,
            })
        };
        let set_port = ActionCall::new("ingress.set_port")
            .with_param("port", [5])
            .with_param("smac", [0xaa; 6]);
        cases.push(member(set_port.clone(), "ingress.selector"));
        cases.push(member(set_port, "ingress.nope"));
        cases.push(member(ActionCall::new("ingress.drop"), "ingress.selector"));
        cases.push(member(
            ActionCall::new("ingress.set_port")
                .with_param("port", [5])
                .with_param("smac", [1; 7]),
            "ingress.selector",
        ));
        cases.push(Entity::Table(
            TableEntry::new("ingress.ecmp", TableAction::Group(3))
                .with_match("nexthop_id", MatchValue::Exact([0, 9].into())),
        ));
        cases.push(Entity::Group(ActionProfileGroup {
            profile: "ingress.selector".into(),
            group_id: 3,
            members: vec![(7, 1)],
            max_size: 4,
        }));
        let mut refused = 0;
        for e in &cases {
            let built = e.to_proto(&idx).map(|_| ());
            refused += usize::from(built.is_err());
            assert_eq!(e.check(&idx), built, "{e}");
        }
        assert!(
            refused > 20,
            "the cases exercise the errors ({refused} refused)"
        );
    }

    #[test]
    fn from_proto_rejects_what_it_cannot_name() {
        let idx = router_index();
        let bad = p4::Entity {
            entity: Some(p4::entity::Entity::TableEntry(p4::TableEntry {
                table_id: 0x0200_0099,
                ..Default::default()
            })),
        };
        assert_eq!(
            Entity::from_proto(&idx, &bad).unwrap_err().to_string(),
            "unknown table id 0x02000099"
        );
        let meter = p4::Entity {
            entity: Some(p4::entity::Entity::MeterEntry(Default::default())),
        };
        assert_eq!(
            Entity::from_proto(&idx, &meter).unwrap_err().to_string(),
            "unsupported entity: meter entry"
        );
    }

    #[test]
    fn keys_identify_entries() {
        let a = Entity::Table(lpm_entry(1, [10, 1, 1, 0], 24, 3));
        let b = Entity::Table(lpm_entry(1, [10, 1, 1, 0], 24, 4));
        let c = Entity::Table(lpm_entry(2, [10, 1, 1, 0], 24, 3));
        assert_ne!(a, b);
        assert_eq!(a.key(), b.key());
        assert_ne!(a.key(), c.key());
        // Order of the matches does not matter for the key.
        let Entity::Table(mut r) = a.clone() else {
            unreachable!()
        };
        r.matches.reverse();
        assert_eq!(Entity::Table(r).key(), a.key());
        // Ordering: tables, then members, then groups.
        let m = Entity::Member(ActionProfileMember {
            profile: "p".into(),
            member_id: 1,
            action: ActionCall::new("a"),
        });
        assert!(a < m);
    }
}
