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

#[path = "../fixture/router_p4info.rs"]
mod router_fixture;
pub use router_fixture::*;

/// The router-shaped P4Info every integration test runs against (see the fixture file).
pub fn p4info() -> cfg::P4Info {
    router_p4info()
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
        .with_match(
            "vrf_id",
            MatchValue::Exact(vrf.to_be_bytes().to_vec().into()),
        )
        .with_match(
            "dst_addr",
            MatchValue::Lpm {
                value: addr.to_vec().into(),
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
        MatchValue::Exact(nexthop.to_be_bytes().to_vec().into()),
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
