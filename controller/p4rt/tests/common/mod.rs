//! A small router-shaped P4Info and entity builders shared by the
//! integration tests.
#![allow(dead_code)]

use p4rt::{
    ActionCall, ActionProfileGroup, ActionProfileMember, Entity, MatchValue, TableAction,
    TableEntry,
};
use p4runtime_proto::p4::config::v1 as cfg;
use p4runtime_proto::p4::v1 as p4;
use prost::Message;

pub const LPM: u32 = 0x0200_0001;
pub const ECMP: u32 = 0x0200_0002;
pub const ACL: u32 = 0x0200_0003;
pub const SMALL: u32 = 0x0200_0004;
pub const SET_NEXTHOP: u32 = 0x0100_0001;
pub const DROP: u32 = 0x0100_0002;
pub const SET_PORT: u32 = 0x0100_0003;
pub const DEFAULT_ONLY: u32 = 0x0100_0004;
pub const SELECTOR: u32 = 0x1100_0001;

fn pre(id: u32, name: &str) -> Option<cfg::Preamble> {
    Some(cfg::Preamble {
        id,
        name: name.to_string(),
        ..Default::default()
    })
}

fn field(id: u32, name: &str, bitwidth: i32, kind: cfg::match_field::MatchType) -> cfg::MatchField {
    cfg::MatchField {
        id,
        name: name.to_string(),
        bitwidth,
        r#match: Some(cfg::match_field::Match::MatchType(kind as i32)),
        ..Default::default()
    }
}

fn action(id: u32, name: &str, params: &[(u32, &str, i32)]) -> cfg::Action {
    cfg::Action {
        preamble: pre(id, name),
        params: params
            .iter()
            .map(|(id, name, bitwidth)| cfg::action::Param {
                id: *id,
                name: name.to_string(),
                bitwidth: *bitwidth,
                ..Default::default()
            })
            .collect(),
    }
}

fn aref(id: u32) -> cfg::ActionRef {
    cfg::ActionRef {
        id,
        ..Default::default()
    }
}

/// * `ingress.vrf_lpm` (size 16): vrf_id bit<16> exact, dst_addr bit<32>
///   lpm; set_nexthop(nexthop_id bit<16>), drop, default_only (DEFAULT_ONLY).
/// * `ingress.ecmp` (size 16): nexthop_id bit<16> exact, via selector
///   `ingress.selector` (size 4 members, max_group_size 4); set_port(port
///   bit<9>, smac bit<48>).
/// * `ingress.acl` (size 16): ether_type bit<16> ternary, in_port bit<9>
///   optional, l4_port bit<16> range; drop.
/// * `ingress.small` (size 2): key bit<8> exact; drop.
pub fn p4info() -> cfg::P4Info {
    use cfg::match_field::MatchType as M;
    cfg::P4Info {
        tables: vec![
            cfg::Table {
                preamble: pre(LPM, "ingress.vrf_lpm"),
                match_fields: vec![
                    field(1, "vrf_id", 16, M::Exact),
                    field(2, "dst_addr", 32, M::Lpm),
                ],
                action_refs: vec![
                    aref(SET_NEXTHOP),
                    aref(DROP),
                    cfg::ActionRef {
                        id: DEFAULT_ONLY,
                        scope: cfg::action_ref::Scope::DefaultOnly as i32,
                        ..Default::default()
                    },
                ],
                size: 16,
                ..Default::default()
            },
            cfg::Table {
                preamble: pre(ECMP, "ingress.ecmp"),
                match_fields: vec![field(1, "nexthop_id", 16, M::Exact)],
                action_refs: vec![aref(SET_PORT)],
                implementation_id: SELECTOR,
                size: 16,
                ..Default::default()
            },
            cfg::Table {
                preamble: pre(ACL, "ingress.acl"),
                match_fields: vec![
                    field(1, "ether_type", 16, M::Ternary),
                    field(2, "in_port", 9, M::Optional),
                    field(3, "l4_port", 16, M::Range),
                ],
                action_refs: vec![aref(DROP)],
                size: 16,
                ..Default::default()
            },
            cfg::Table {
                preamble: pre(SMALL, "ingress.small"),
                match_fields: vec![field(1, "key", 8, M::Exact)],
                action_refs: vec![aref(DROP)],
                size: 2,
                ..Default::default()
            },
        ],
        actions: vec![
            action(SET_NEXTHOP, "ingress.set_nexthop", &[(1, "nexthop_id", 16)]),
            action(DROP, "ingress.drop", &[]),
            action(
                SET_PORT,
                "ingress.set_port",
                &[(1, "port", 9), (2, "smac", 48)],
            ),
            action(DEFAULT_ONLY, "ingress.default_only", &[]),
        ],
        action_profiles: vec![cfg::ActionProfile {
            preamble: pre(SELECTOR, "ingress.selector"),
            table_ids: vec![ECMP],
            with_selector: true,
            size: 4,
            max_group_size: 4,
            ..Default::default()
        }],
        ..Default::default()
    }
}

pub fn p4info_bytes() -> Vec<u8> {
    p4info().encode_to_vec()
}

/// `ingress.vrf_lpm vrf_id=<vrf> dst_addr=<addr>/<len> -> set_nexthop(<nh>)`
pub fn route(vrf: u16, addr: [u8; 4], len: u32, nexthop: u16) -> Entity {
    Entity::Table(
        TableEntry::new(
            "ingress.vrf_lpm",
            TableAction::Action(
                ActionCall::new("ingress.set_nexthop")
                    .with_param("nexthop_id", nexthop.to_be_bytes()),
            ),
        )
        .with_match("vrf_id", MatchValue::Exact(vrf.to_be_bytes().to_vec()))
        .with_match(
            "dst_addr",
            MatchValue::Lpm {
                value: addr.to_vec(),
                prefix_len: len,
            },
        ),
    )
}

pub fn member(id: u32, port: u16) -> Entity {
    Entity::Member(ActionProfileMember {
        profile: "ingress.selector".into(),
        member_id: id,
        action: ActionCall::new("ingress.set_port")
            .with_param("port", port.to_be_bytes())
            .with_param("smac", vec![0, 0, 0, 0, 0, id as u8]),
    })
}

pub fn group(id: u32, members: &[(u32, i32)]) -> Entity {
    Entity::Group(ActionProfileGroup {
        profile: "ingress.selector".into(),
        group_id: id,
        members: members.to_vec(),
        max_size: 4,
    })
}

pub fn ecmp(nexthop: u16, action: TableAction) -> Entity {
    Entity::Table(TableEntry::new("ingress.ecmp", action).with_match(
        "nexthop_id",
        MatchValue::Exact(nexthop.to_be_bytes().to_vec()),
    ))
}

// ---- raw proto builders, for sending what our own validation would refuse

pub fn exact(field_id: u32, value: &[u8]) -> p4::FieldMatch {
    p4::FieldMatch {
        field_id,
        field_match_type: Some(p4::field_match::FieldMatchType::Exact(
            p4::field_match::Exact {
                value: value.to_vec(),
            },
        )),
    }
}

pub fn lpm(field_id: u32, value: &[u8], prefix_len: i32) -> p4::FieldMatch {
    p4::FieldMatch {
        field_id,
        field_match_type: Some(p4::field_match::FieldMatchType::Lpm(p4::field_match::Lpm {
            value: value.to_vec(),
            prefix_len,
        })),
    }
}

pub fn ternary(field_id: u32, value: &[u8], mask: &[u8]) -> p4::FieldMatch {
    p4::FieldMatch {
        field_id,
        field_match_type: Some(p4::field_match::FieldMatchType::Ternary(
            p4::field_match::Ternary {
                value: value.to_vec(),
                mask: mask.to_vec(),
            },
        )),
    }
}

pub fn range(field_id: u32, low: &[u8], high: &[u8]) -> p4::FieldMatch {
    p4::FieldMatch {
        field_id,
        field_match_type: Some(p4::field_match::FieldMatchType::Range(
            p4::field_match::Range {
                low: low.to_vec(),
                high: high.to_vec(),
            },
        )),
    }
}

pub fn direct(action_id: u32, params: &[(u32, &[u8])]) -> Option<p4::TableAction> {
    Some(p4::TableAction {
        r#type: Some(p4::table_action::Type::Action(p4::Action {
            action_id,
            params: params
                .iter()
                .map(|(id, v)| p4::action::Param {
                    param_id: *id,
                    value: v.to_vec(),
                })
                .collect(),
        })),
    })
}

pub fn via_member(id: u32) -> Option<p4::TableAction> {
    Some(p4::TableAction {
        r#type: Some(p4::table_action::Type::ActionProfileMemberId(id)),
    })
}

pub fn via_group(id: u32) -> Option<p4::TableAction> {
    Some(p4::TableAction {
        r#type: Some(p4::table_action::Type::ActionProfileGroupId(id)),
    })
}

pub fn table_update(
    kind: p4::update::Type,
    table_id: u32,
    matches: Vec<p4::FieldMatch>,
    action: Option<p4::TableAction>,
    priority: i32,
) -> p4::Update {
    p4::Update {
        r#type: kind as i32,
        entity: Some(p4::Entity {
            entity: Some(p4::entity::Entity::TableEntry(p4::TableEntry {
                table_id,
                r#match: matches,
                action,
                priority,
                ..Default::default()
            })),
        }),
    }
}

pub fn insert(
    table_id: u32,
    matches: Vec<p4::FieldMatch>,
    action: Option<p4::TableAction>,
) -> p4::Update {
    table_update(p4::update::Type::Insert, table_id, matches, action, 0)
}

/// A valid route insert as a raw proto: vrf 1, 10.0.0.0/8 -> nexthop 1.
pub fn raw_route() -> p4::Update {
    insert(
        LPM,
        vec![exact(1, &[1]), lpm(2, &[10, 0, 0, 0], 8)],
        direct(SET_NEXTHOP, &[(1, &[1])]),
    )
}

pub fn member_update(
    kind: p4::update::Type,
    profile: u32,
    member_id: u32,
    action: Option<p4::Action>,
) -> p4::Update {
    p4::Update {
        r#type: kind as i32,
        entity: Some(p4::Entity {
            entity: Some(p4::entity::Entity::ActionProfileMember(
                p4::ActionProfileMember {
                    action_profile_id: profile,
                    member_id,
                    action,
                },
            )),
        }),
    }
}

pub fn group_update(
    kind: p4::update::Type,
    profile: u32,
    group_id: u32,
    members: &[(u32, i32)],
    max_size: i32,
) -> p4::Update {
    p4::Update {
        r#type: kind as i32,
        entity: Some(p4::Entity {
            entity: Some(p4::entity::Entity::ActionProfileGroup(
                p4::ActionProfileGroup {
                    action_profile_id: profile,
                    group_id,
                    members: members
                        .iter()
                        .map(|(m, w)| p4::action_profile_group::Member {
                            member_id: *m,
                            weight: *w,
                            watch_kind: None,
                        })
                        .collect(),
                    max_size,
                },
            )),
        }),
    }
}

pub fn set_port_action(port: &[u8]) -> Option<p4::Action> {
    Some(p4::Action {
        action_id: SET_PORT,
        params: vec![
            p4::action::Param {
                param_id: 1,
                value: port.to_vec(),
            },
            p4::action::Param {
                param_id: 2,
                value: vec![1],
            },
        ],
    })
}
