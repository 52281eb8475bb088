//! An index over a P4Info: look tables, actions, action profiles, counters
//! and controller headers up by fully qualified name or by id.
//!
//! The controller speaks names (`ingress.ipv4_vrf_lpm`); the wire speaks ids.
//! Everything that converts between the two goes through this index, which
//! also keeps the raw P4Info (the pipeline push needs it).

use crate::name::Name;
use foldhash::fast::FixedState;
use p4runtime_proto::p4::config::v1 as cfg;
use prost::Message;
use std::collections::HashMap;

/// What went wrong loading a P4Info or looking something up in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum P4InfoError {
    /// The bytes are not a binary P4Info.
    #[error("P4Info does not decode: {0}")]
    Decode(String),
    /// The P4Info is inconsistent (duplicate ids or names, missing preamble).
    #[error("P4Info is invalid: {0}")]
    Invalid(String),
    /// No table of that name.
    #[error("unknown table `{0}`")]
    UnknownTable(String),
    /// No table of that id.
    #[error("unknown table id {0:#010x}")]
    UnknownTableId(u32),
    /// No action of that name.
    #[error("unknown action `{0}`")]
    UnknownAction(String),
    /// No action of that id.
    #[error("unknown action id {0:#010x}")]
    UnknownActionId(u32),
    /// No action profile / selector of that name.
    #[error("unknown action profile `{0}`")]
    UnknownActionProfile(String),
    /// No action profile / selector of that id.
    #[error("unknown action profile id {0:#010x}")]
    UnknownActionProfileId(u32),
    /// No direct counter of that name.
    #[error("unknown direct counter `{0}`")]
    UnknownDirectCounter(String),
    /// No direct counter of that id.
    #[error("unknown direct counter id {0:#010x}")]
    UnknownDirectCounterId(u32),
    /// No controller packet metadata (packet_in / packet_out header) of that name.
    #[error("unknown controller packet metadata `{0}`")]
    UnknownPacketMetadata(String),
    /// No controller packet metadata of that id.
    #[error("unknown controller packet metadata id {0:#010x}")]
    UnknownPacketMetadataId(u32),
    /// The table has no such key field.
    #[error("table `{table}` has no match field `{field}`")]
    UnknownMatchField {
        /// Table name.
        table: String,
        /// Field name asked for.
        field: String,
    },
    /// The table has no key field of that id.
    #[error("table `{table}` has no match field with id {id}")]
    UnknownMatchFieldId {
        /// Table name.
        table: String,
        /// Field id asked for.
        id: u32,
    },
    /// The action has no such parameter.
    #[error("action `{action}` has no parameter `{param}`")]
    UnknownParam {
        /// Action name.
        action: String,
        /// Parameter name asked for.
        param: String,
    },
    /// The action has no parameter of that id.
    #[error("action `{action}` has no parameter with id {id}")]
    UnknownParamId {
        /// Action name.
        action: String,
        /// Parameter id asked for.
        id: u32,
    },
}

/// How a key field matches.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MatchKind {
    /// Exact value.
    Exact,
    /// Longest prefix.
    Lpm,
    /// Value and mask.
    Ternary,
    /// Low..=high.
    Range,
    /// Exact value or wildcard.
    Optional,
    /// An architecture-specific kind (`other_match_type`), by name.
    Other(String),
}

impl MatchKind {
    /// Kinds whose entries need a priority (P4Runtime: ternary, range, optional).
    pub fn needs_priority(&self) -> bool {
        matches!(
            self,
            MatchKind::Ternary | MatchKind::Range | MatchKind::Optional
        )
    }
}

impl std::fmt::Display for MatchKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MatchKind::Exact => f.write_str("exact"),
            MatchKind::Lpm => f.write_str("lpm"),
            MatchKind::Ternary => f.write_str("ternary"),
            MatchKind::Range => f.write_str("range"),
            MatchKind::Optional => f.write_str("optional"),
            MatchKind::Other(s) => f.write_str(s),
        }
    }
}

/// One key field of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchFieldInfo {
    /// Id, unique within the table (1, 2, ... in key order).
    pub id: u32,
    /// Name as in the P4Info (`hdr.ipv4.dst_addr`, or the `@name`).
    pub name: String,
    /// Width in bits.
    pub bitwidth: u32,
    /// Match kind.
    pub kind: MatchKind,
}

/// Where an action may be used in a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionScope {
    /// Entries and the default action.
    TableAndDefault,
    /// Entries only.
    TableOnly,
    /// Only as the default action (not in entries).
    DefaultOnly,
}

/// A table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableInfo {
    /// P4Info id.
    pub id: u32,
    /// Fully qualified name.
    pub name: String,
    /// Short alias.
    pub alias: String,
    /// Declared size (maximum number of entries the program asked for).
    pub size: i64,
    /// Key fields, in key order.
    pub match_fields: Vec<MatchFieldInfo>,
    /// Allowed actions with their scope, in P4Info order.
    pub actions: Vec<(u32, ActionScope)>,
    /// Action profile or selector implementing the table, if indirect.
    pub implementation_id: Option<u32>,
    /// Direct counter attached to the table, if any.
    pub direct_counter_id: Option<u32>,
    /// Direct meter attached to the table, if any.
    pub direct_meter_id: Option<u32>,
    /// The default action when it cannot be changed.
    pub const_default_action_id: Option<u32>,
    /// Whether the entries are fixed in the program.
    pub is_const: bool,
}

impl TableInfo {
    /// The key field of that name.
    pub fn match_field(&self, name: &str) -> Result<&MatchFieldInfo, P4InfoError> {
        self.match_fields
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| P4InfoError::UnknownMatchField {
                table: self.name.clone(),
                field: name.to_string(),
            })
    }

    /// The key field of that id.
    pub fn match_field_by_id(&self, id: u32) -> Result<&MatchFieldInfo, P4InfoError> {
        self.match_fields
            .iter()
            .find(|m| m.id == id)
            .ok_or_else(|| P4InfoError::UnknownMatchFieldId {
                table: self.name.clone(),
                id,
            })
    }

    /// Ids of the actions this table allows (any scope).
    pub fn action_ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.actions.iter().map(|(id, _)| *id)
    }

    /// The scope of an action in this table, or `None` if not allowed.
    pub fn action_scope(&self, action_id: u32) -> Option<ActionScope> {
        self.actions
            .iter()
            .find(|(id, _)| *id == action_id)
            .map(|(_, s)| *s)
    }

    /// Whether an entry of this table needs a priority.
    pub fn needs_priority(&self) -> bool {
        self.match_fields.iter().any(|m| m.kind.needs_priority())
    }
}

/// One parameter of an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamInfo {
    /// Id, unique within the action.
    pub id: u32,
    /// Name.
    pub name: String,
    /// Width in bits.
    pub bitwidth: u32,
}

/// An action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionInfo {
    /// P4Info id.
    pub id: u32,
    /// Fully qualified name.
    pub name: String,
    /// Short alias.
    pub alias: String,
    /// Parameters, in declaration order.
    pub params: Vec<ParamInfo>,
}

impl ActionInfo {
    /// The parameter of that name.
    pub fn param(&self, name: &str) -> Result<&ParamInfo, P4InfoError> {
        self.params
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| P4InfoError::UnknownParam {
                action: self.name.clone(),
                param: name.to_string(),
            })
    }

    /// The parameter of that id.
    pub fn param_by_id(&self, id: u32) -> Result<&ParamInfo, P4InfoError> {
        self.params
            .iter()
            .find(|p| p.id == id)
            .ok_or_else(|| P4InfoError::UnknownParamId {
                action: self.name.clone(),
                id,
            })
    }
}

/// An action profile, or an action selector when `with_selector`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionProfileInfo {
    /// P4Info id.
    pub id: u32,
    /// Fully qualified name.
    pub name: String,
    /// Tables implemented by this profile.
    pub table_ids: Vec<u32>,
    /// Whether groups (selection) are supported.
    pub with_selector: bool,
    /// Maximum number of members.
    pub size: i64,
    /// Maximum sum of weights in one group (0: no static limit).
    pub max_group_size: i32,
}

/// A direct counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectCounterInfo {
    /// P4Info id.
    pub id: u32,
    /// Fully qualified name.
    pub name: String,
    /// The table it counts for.
    pub table_id: u32,
}

/// A field of a controller header (packet_in / packet_out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketMetadataField {
    /// Id, unique within the header.
    pub id: u32,
    /// Name.
    pub name: String,
    /// Width in bits.
    pub bitwidth: u32,
}

/// A controller header (`@controller_header("packet_in")`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketMetadataInfo {
    /// P4Info id.
    pub id: u32,
    /// Name (`packet_in`, `packet_out`).
    pub name: String,
    /// Fields in header order.
    pub fields: Vec<PacketMetadataField>,
}

/// Objects of one kind, found by name or by id.
#[derive(Debug, Clone)]
struct Named<T> {
    items: Vec<T>,
    /// foldhash rather than SipHash: every entity written looks up its table and action by
    /// name (twice on the embedded target), and the names come from the P4Info, not from
    /// the network, so there is no flooding to defend against.
    by_name: HashMap<String, usize, FixedState>,
    by_id: HashMap<u32, usize, FixedState>,
}

impl<T> Default for Named<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            by_name: HashMap::default(),
            by_id: HashMap::default(),
        }
    }
}

impl<T> Named<T> {
    fn insert(&mut self, kind: &str, id: u32, name: &str, item: T) -> Result<(), P4InfoError> {
        if id == 0 {
            return Err(P4InfoError::Invalid(format!("{kind} `{name}` has id 0")));
        }
        if self.by_id.contains_key(&id) {
            return Err(P4InfoError::Invalid(format!(
                "duplicate {kind} id {id:#010x}"
            )));
        }
        if self.by_name.contains_key(name) {
            return Err(P4InfoError::Invalid(format!(
                "duplicate {kind} name `{name}`"
            )));
        }
        self.by_id.insert(id, self.items.len());
        self.by_name.insert(name.to_string(), self.items.len());
        self.items.push(item);
        Ok(())
    }

    fn name(&self, name: &str) -> Option<&T> {
        self.by_name.get(name).map(|i| &self.items[*i])
    }

    fn id(&self, id: u32) -> Option<&T> {
        self.by_id.get(&id).map(|i| &self.items[*i])
    }
}

/// A loaded P4Info with lookups by name and id. Cheap to share behind an
/// `Arc`; immutable once built.
#[derive(Debug, Clone)]
pub struct P4InfoIndex {
    raw: cfg::P4Info,
    tables: Named<TableInfo>,
    actions: Named<ActionInfo>,
    profiles: Named<ActionProfileInfo>,
    direct_counters: Named<DirectCounterInfo>,
    packet_metadata: Named<PacketMetadataInfo>,
}

fn preamble<'a>(
    p: &'a Option<cfg::Preamble>,
    kind: &str,
) -> Result<&'a cfg::Preamble, P4InfoError> {
    p.as_ref()
        .ok_or_else(|| P4InfoError::Invalid(format!("a {kind} has no preamble")))
}

/// Bit width as unsigned. 0 is allowed: p4c emits it for fields translated
/// to strings (`@p4runtime_translation` with `sdn_string`); such fields
/// load, and only values written to them fail (the codec refuses width 0).
fn width(bitwidth: i32, what: impl FnOnce() -> String) -> Result<u32, P4InfoError> {
    u32::try_from(bitwidth)
        .map_err(|_| P4InfoError::Invalid(format!("{} has bit width {bitwidth}", what())))
}

fn match_kind(m: &cfg::MatchField, table: &str) -> Result<MatchKind, P4InfoError> {
    use cfg::match_field::{Match, MatchType};
    match &m.r#match {
        Some(Match::MatchType(t)) => match MatchType::try_from(*t) {
            Ok(MatchType::Exact) => Ok(MatchKind::Exact),
            Ok(MatchType::Lpm) => Ok(MatchKind::Lpm),
            Ok(MatchType::Ternary) => Ok(MatchKind::Ternary),
            Ok(MatchType::Range) => Ok(MatchKind::Range),
            Ok(MatchType::Optional) => Ok(MatchKind::Optional),
            _ => Err(P4InfoError::Invalid(format!(
                "table `{table}` field `{}` has match type {t}",
                m.name
            ))),
        },
        Some(Match::OtherMatchType(s)) => Ok(MatchKind::Other(s.clone())),
        None => Err(P4InfoError::Invalid(format!(
            "table `{table}` field `{}` has no match type",
            m.name
        ))),
    }
}

impl P4InfoIndex {
    /// Loads a binary P4Info (p4c `--p4runtime-files x.binpb`).
    pub fn from_binary(bytes: &[u8]) -> Result<Self, P4InfoError> {
        let raw = cfg::P4Info::decode(bytes).map_err(|e| P4InfoError::Decode(e.to_string()))?;
        Self::from_proto(raw)
    }

    /// Indexes an already decoded P4Info.
    pub fn from_proto(raw: cfg::P4Info) -> Result<Self, P4InfoError> {
        let mut actions = Named::default();
        for a in &raw.actions {
            let p = preamble(&a.preamble, "action")?;
            let mut params = Vec::with_capacity(a.params.len());
            for param in &a.params {
                if params
                    .iter()
                    .any(|q: &ParamInfo| q.id == param.id || q.name == param.name)
                {
                    return Err(P4InfoError::Invalid(format!(
                        "action `{}` has a duplicate parameter `{}`",
                        p.name, param.name
                    )));
                }
                params.push(ParamInfo {
                    id: param.id,
                    name: param.name.clone(),
                    bitwidth: width(param.bitwidth, || {
                        format!("action `{}` parameter `{}`", p.name, param.name)
                    })?,
                });
            }
            let info = ActionInfo {
                id: p.id,
                name: p.name.clone(),
                alias: p.alias.clone(),
                params,
            };
            actions.insert("action", p.id, &p.name, info)?;
        }

        let mut direct_counters = Named::default();
        for c in &raw.direct_counters {
            let p = preamble(&c.preamble, "direct counter")?;
            let info = DirectCounterInfo {
                id: p.id,
                name: p.name.clone(),
                table_id: c.direct_table_id,
            };
            direct_counters.insert("direct counter", p.id, &p.name, info)?;
        }
        let direct_meter_ids: Vec<u32> = raw
            .direct_meters
            .iter()
            .filter_map(|m| m.preamble.as_ref().map(|p| p.id))
            .collect();

        let mut tables = Named::default();
        for t in &raw.tables {
            let p = preamble(&t.preamble, "table")?;
            let mut match_fields: Vec<MatchFieldInfo> = Vec::with_capacity(t.match_fields.len());
            for m in &t.match_fields {
                if match_fields
                    .iter()
                    .any(|f| f.id == m.id || f.name == m.name)
                {
                    return Err(P4InfoError::Invalid(format!(
                        "table `{}` has a duplicate match field `{}`",
                        p.name, m.name
                    )));
                }
                match_fields.push(MatchFieldInfo {
                    id: m.id,
                    name: m.name.clone(),
                    bitwidth: width(m.bitwidth, || {
                        format!("table `{}` match field `{}`", p.name, m.name)
                    })?,
                    kind: match_kind(m, &p.name)?,
                });
            }
            let mut table_actions = Vec::with_capacity(t.action_refs.len());
            for r in &t.action_refs {
                if actions.id(r.id).is_none() {
                    return Err(P4InfoError::Invalid(format!(
                        "table `{}` refers to unknown action id {:#010x}",
                        p.name, r.id
                    )));
                }
                let scope = match cfg::action_ref::Scope::try_from(r.scope) {
                    Ok(cfg::action_ref::Scope::TableOnly) => ActionScope::TableOnly,
                    Ok(cfg::action_ref::Scope::DefaultOnly) => ActionScope::DefaultOnly,
                    _ => ActionScope::TableAndDefault,
                };
                table_actions.push((r.id, scope));
            }
            let direct_counter_id = t
                .direct_resource_ids
                .iter()
                .copied()
                .find(|id| direct_counters.id(*id).is_some());
            let direct_meter_id = t
                .direct_resource_ids
                .iter()
                .copied()
                .find(|id| direct_meter_ids.contains(id));
            let info = TableInfo {
                id: p.id,
                name: p.name.clone(),
                alias: p.alias.clone(),
                size: t.size,
                match_fields,
                actions: table_actions,
                implementation_id: (t.implementation_id != 0).then_some(t.implementation_id),
                direct_counter_id,
                direct_meter_id,
                const_default_action_id: (t.const_default_action_id != 0)
                    .then_some(t.const_default_action_id),
                is_const: t.is_const_table,
            };
            tables.insert("table", p.id, &p.name, info)?;
        }

        let mut profiles = Named::default();
        for ap in &raw.action_profiles {
            let p = preamble(&ap.preamble, "action profile")?;
            let info = ActionProfileInfo {
                id: p.id,
                name: p.name.clone(),
                table_ids: ap.table_ids.clone(),
                with_selector: ap.with_selector,
                size: ap.size,
                max_group_size: ap.max_group_size,
            };
            profiles.insert("action profile", p.id, &p.name, info)?;
        }
        for t in &tables.items {
            if let Some(imp) = t.implementation_id {
                if profiles.id(imp).is_none() {
                    return Err(P4InfoError::Invalid(format!(
                        "table `{}` is implemented by unknown action profile id {imp:#010x}",
                        t.name
                    )));
                }
            }
        }

        let mut packet_metadata = Named::default();
        for c in &raw.controller_packet_metadata {
            let p = preamble(&c.preamble, "controller packet metadata")?;
            let mut fields = Vec::with_capacity(c.metadata.len());
            for m in &c.metadata {
                fields.push(PacketMetadataField {
                    id: m.id,
                    name: m.name.clone(),
                    bitwidth: width(m.bitwidth, || format!("`{}` field `{}`", p.name, m.name))?,
                });
            }
            let info = PacketMetadataInfo {
                id: p.id,
                name: p.name.clone(),
                fields,
            };
            packet_metadata.insert("controller packet metadata", p.id, &p.name, info)?;
        }

        Ok(Self {
            raw,
            tables,
            actions,
            profiles,
            direct_counters,
            packet_metadata,
        })
    }

    /// The P4Info as loaded.
    pub fn raw(&self) -> &cfg::P4Info {
        &self.raw
    }

    /// The P4Info, encoded again (for a pipeline push).
    pub fn to_binary(&self) -> Vec<u8> {
        self.raw.encode_to_vec()
    }

    /// Table by fully qualified name.
    pub fn table(&self, name: &str) -> Result<&TableInfo, P4InfoError> {
        self.tables
            .name(name)
            .ok_or_else(|| P4InfoError::UnknownTable(name.to_string()))
    }

    /// Table by id.
    pub fn table_by_id(&self, id: u32) -> Result<&TableInfo, P4InfoError> {
        self.tables.id(id).ok_or(P4InfoError::UnknownTableId(id))
    }

    /// All tables, in P4Info order.
    pub fn tables(&self) -> impl Iterator<Item = &TableInfo> {
        self.tables.items.iter()
    }

    /// Action by fully qualified name.
    pub fn action(&self, name: &str) -> Result<&ActionInfo, P4InfoError> {
        self.actions
            .name(name)
            .ok_or_else(|| P4InfoError::UnknownAction(name.to_string()))
    }

    /// Action by id.
    pub fn action_by_id(&self, id: u32) -> Result<&ActionInfo, P4InfoError> {
        self.actions.id(id).ok_or(P4InfoError::UnknownActionId(id))
    }

    /// All actions, in P4Info order.
    pub fn actions(&self) -> impl Iterator<Item = &ActionInfo> {
        self.actions.items.iter()
    }

    /// Action profile or selector by fully qualified name.
    pub fn action_profile(&self, name: &str) -> Result<&ActionProfileInfo, P4InfoError> {
        self.profiles
            .name(name)
            .ok_or_else(|| P4InfoError::UnknownActionProfile(name.to_string()))
    }

    /// Action profile or selector by id.
    pub fn action_profile_by_id(&self, id: u32) -> Result<&ActionProfileInfo, P4InfoError> {
        self.profiles
            .id(id)
            .ok_or(P4InfoError::UnknownActionProfileId(id))
    }

    /// All action profiles and selectors, in P4Info order.
    pub fn action_profiles(&self) -> impl Iterator<Item = &ActionProfileInfo> {
        self.profiles.items.iter()
    }

    /// Direct counter by fully qualified name.
    pub fn direct_counter(&self, name: &str) -> Result<&DirectCounterInfo, P4InfoError> {
        self.direct_counters
            .name(name)
            .ok_or_else(|| P4InfoError::UnknownDirectCounter(name.to_string()))
    }

    /// Direct counter by id.
    pub fn direct_counter_by_id(&self, id: u32) -> Result<&DirectCounterInfo, P4InfoError> {
        self.direct_counters
            .id(id)
            .ok_or(P4InfoError::UnknownDirectCounterId(id))
    }

    /// All direct counters.
    pub fn direct_counters(&self) -> impl Iterator<Item = &DirectCounterInfo> {
        self.direct_counters.items.iter()
    }

    /// Controller header by name (`packet_in`, `packet_out`).
    pub fn packet_metadata(&self, name: &str) -> Result<&PacketMetadataInfo, P4InfoError> {
        self.packet_metadata
            .name(name)
            .ok_or_else(|| P4InfoError::UnknownPacketMetadata(name.to_string()))
    }

    /// Controller header by id.
    pub fn packet_metadata_by_id(&self, id: u32) -> Result<&PacketMetadataInfo, P4InfoError> {
        self.packet_metadata
            .id(id)
            .ok_or(P4InfoError::UnknownPacketMetadataId(id))
    }

    /// All controller headers.
    pub fn packet_metadata_all(&self) -> impl Iterator<Item = &PacketMetadataInfo> {
        self.packet_metadata.items.iter()
    }

    /// Whether an action may be used by a member of this profile: it must be
    /// allowed in one of the tables the profile implements.
    pub fn profile_allows_action(&self, profile: &ActionProfileInfo, action_id: u32) -> bool {
        profile.table_ids.iter().any(|t| {
            self.tables
                .id(*t)
                .is_some_and(|t| t.action_scope(action_id).is_some())
        })
    }
}

/// Table and action look-ups by name that remember the last of each: the entities of a write
/// come in runs of one table and one action (a FIB delta's routes), so a run costs one hash
/// look-up of each, and then a comparison of the name, instead of one look-up per entity. The
/// comparison is of the names' addresses first ([`Name::is`]): a run names its table with the
/// same `Name` every time.
#[derive(Clone, Copy)]
pub struct Lookups<'a> {
    index: &'a P4InfoIndex,
    table: Option<(Name, &'a TableInfo)>,
    action: Option<(Name, &'a ActionInfo)>,
}

impl<'a> Lookups<'a> {
    pub fn new(index: &'a P4InfoIndex) -> Self {
        Self {
            index,
            table: None,
            action: None,
        }
    }

    pub fn index(&self) -> &'a P4InfoIndex {
        self.index
    }

    /// [`P4InfoIndex::table`].
    pub fn table(&mut self, name: Name) -> Result<&'a TableInfo, P4InfoError> {
        let index = self.index;
        remembered(&mut self.table, name, |t| &t.name, |n| index.table(n))
    }

    /// [`P4InfoIndex::action`].
    pub fn action(&mut self, name: Name) -> Result<&'a ActionInfo, P4InfoError> {
        let index = self.index;
        remembered(&mut self.action, name, |a| &a.name, |n| index.action(n))
    }
}

/// The item `last` remembers when it has this name (the same `Name` first, then an equal
/// string), else the one `find` finds, which `last` then remembers.
fn remembered<'a, T>(
    last: &mut Option<(Name, &'a T)>,
    name: Name,
    name_of: impl Fn(&T) -> &String,
    find: impl FnOnce(&str) -> Result<&'a T, P4InfoError>,
) -> Result<&'a T, P4InfoError> {
    match *last {
        Some((n, item)) if n.is(name) => Ok(item),
        Some((_, item)) if *name_of(item) == *name => {
            *last = Some((name, item));
            Ok(item)
        }
        _ => {
            let item = find(&name)?;
            *last = Some((name, item));
            Ok(item)
        }
    }
}

/// The test P4Info, shared with the integration tests (`tests/fixture/`).
#[cfg(test)]
#[path = "../tests/fixture/router_p4info.rs"]
mod router_fixture;

#[cfg(test)]
pub(crate) mod tests {
    pub use super::router_fixture::*;
    use super::*;

    pub fn router_index() -> P4InfoIndex {
        P4InfoIndex::from_binary(&router_p4info().encode_to_vec()).expect("test P4Info loads")
    }

    #[test]
    fn remembered_lookups_answer_as_the_index() {
        let idx = router_index();
        let mut lookups = Lookups::new(&idx);
        // Each name twice: stored, and as a copy at another address.
        let names = |all: Vec<&str>| -> Vec<Name> {
            all.into_iter()
                .chain(["no.such"])
                .flat_map(|n| {
                    [
                        Name::new(n),
                        Name::from(Box::leak(n.into()) as &'static str),
                    ]
                })
                .collect()
        };
        let tables = names(idx.tables().map(|t| t.name.as_str()).collect());
        let actions = names(idx.actions().map(|a| a.name.as_str()).collect());
        for round in 0..3 {
            for (i, name) in tables.iter().enumerate() {
                for _ in 0..=(i + round) % 2 {
                    assert_eq!(
                        lookups.table(*name).map(|t| t.id),
                        idx.table(name).map(|t| t.id)
                    );
                }
            }
            for (i, name) in actions.iter().enumerate() {
                for _ in 0..=(i + round) % 2 {
                    assert_eq!(
                        lookups.action(*name).map(|a| a.id),
                        idx.action(name).map(|a| a.id)
                    );
                }
            }
        }
    }

    #[test]
    fn lookups_by_name_and_id() {
        let idx = router_index();
        let t = idx.table("ingress.vrf_lpm").unwrap();
        assert_eq!(t.id, LPM);
        assert_eq!(t.size, 16);
        assert_eq!(idx.table_by_id(LPM).unwrap().name, "ingress.vrf_lpm");
        let f = t.match_field("dst_addr").unwrap();
        assert_eq!((f.id, f.bitwidth, &f.kind), (2, 32, &MatchKind::Lpm));
        assert_eq!(t.match_field_by_id(1).unwrap().name, "vrf_id");
        assert_eq!(
            t.action_ids().collect::<Vec<_>>(),
            vec![SET_NEXTHOP, DROP, DEFAULT_ONLY]
        );
        assert_eq!(t.action_scope(DEFAULT_ONLY), Some(ActionScope::DefaultOnly));
        assert_eq!(t.action_scope(SET_PORT), None);
        assert_eq!(t.direct_counter_id, Some(COUNTER));
        assert_eq!(t.implementation_id, None);
        assert!(!t.needs_priority());
        assert!(idx.table("ingress.acl").unwrap().needs_priority());

        let ecmp = idx.table("ingress.ecmp").unwrap();
        assert_eq!(ecmp.implementation_id, Some(SELECTOR));
        let sel = idx.action_profile("ingress.selector").unwrap();
        assert!(sel.with_selector);
        assert_eq!((sel.size, sel.max_group_size), (4, 4));
        assert_eq!(sel.table_ids, vec![ECMP]);
        assert_eq!(
            idx.action_profile_by_id(SELECTOR).unwrap().name,
            "ingress.selector"
        );
        assert!(idx.profile_allows_action(sel, SET_PORT));
        assert!(!idx.profile_allows_action(sel, DROP));

        let a = idx.action("ingress.set_port").unwrap();
        assert_eq!(a.param("smac").unwrap().bitwidth, 48);
        assert_eq!(a.param_by_id(1).unwrap().name, "port");
        assert_eq!(idx.action_by_id(DROP).unwrap().name, "ingress.drop");

        assert_eq!(
            idx.direct_counter("ingress.vrf_lpm_counter")
                .unwrap()
                .table_id,
            LPM
        );
        assert_eq!(idx.direct_counter_by_id(COUNTER).unwrap().id, COUNTER);
        let pin = idx.packet_metadata("packet_in").unwrap();
        assert_eq!(pin.fields[0].bitwidth, 9);
        assert_eq!(
            idx.packet_metadata_by_id(0x0400_0001).unwrap().name,
            "packet_in"
        );
        assert_eq!(idx.tables().count(), 4);
        assert_eq!(idx.raw().tables.len(), 4);
    }

    #[test]
    fn errors_say_what_is_missing() {
        let idx = router_index();
        assert_eq!(
            idx.table("ingress.nope").unwrap_err().to_string(),
            "unknown table `ingress.nope`"
        );
        assert_eq!(
            idx.table_by_id(0x0200_0099).unwrap_err().to_string(),
            "unknown table id 0x02000099"
        );
        let t = idx.table("ingress.vrf_lpm").unwrap();
        assert_eq!(
            t.match_field("src_addr").unwrap_err().to_string(),
            "table `ingress.vrf_lpm` has no match field `src_addr`"
        );
        assert_eq!(
            idx.action("ingress.set_port")
                .unwrap()
                .param("vlan")
                .unwrap_err()
                .to_string(),
            "action `ingress.set_port` has no parameter `vlan`"
        );
        assert_eq!(
            idx.action_profile("x").unwrap_err().to_string(),
            "unknown action profile `x`"
        );
        assert!(matches!(
            P4InfoIndex::from_binary(&[0xff, 0xff]),
            Err(P4InfoError::Decode(_))
        ));
    }

    #[test]
    fn inconsistent_p4info_is_rejected() {
        let mut info = router_p4info();
        info.tables[1].preamble = pre(LPM, "ingress.other");
        assert!(matches!(
            P4InfoIndex::from_proto(info),
            Err(P4InfoError::Invalid(m)) if m.contains("duplicate table id")
        ));
        let mut info = router_p4info();
        info.tables[0].action_refs.push(aref(0x0100_0099));
        assert!(P4InfoIndex::from_proto(info).is_err());
        let mut info = router_p4info();
        info.tables[0].match_fields[0].bitwidth = -1;
        assert!(P4InfoIndex::from_proto(info).is_err());
        let mut info = router_p4info();
        info.tables[0].match_fields[0].bitwidth = 0;
        assert!(
            P4InfoIndex::from_proto(info).is_ok(),
            "string-translated fields load"
        );
    }

    #[test]
    fn round_trips_the_raw_p4info() {
        let idx = router_index();
        assert_eq!(
            cfg::P4Info::decode(idx.to_binary().as_slice()).unwrap(),
            router_p4info()
        );
    }
}
