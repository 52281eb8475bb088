//! Sample messages for the cross-implementation compatibility proof.
//!
//! Two sets, each known to both sides of the proof:
//!
//! * `rust_*`: built here, encoded by prost, written by the `encode_samples`
//!   example; `ptf-tests/test_proto_compat.py` decodes them with the PyPI
//!   `p4runtime` classes and checks every value.
//! * `python_*`: the messages the Python test builds with the PyPI classes and
//!   encodes; here they describe what those bytes must decode to.
//!
//! Keeping the expected values in one module lets the example, the cargo
//! tests and the Python test agree on one definition.

use crate::google::rpc::{Code, Status};
use crate::p4::config::v1 as cfg;
use crate::p4::v1 as p4;
use prost::Message;
use prost_types::Any;

/// Ids used by the samples, in the P4Info id spaces (top byte = kind).
pub mod ids {
    /// `ingress.vrf_lpm` table.
    pub const TABLE: u32 = 0x0200_0001;
    /// `ingress.ecmp` table (uses the selector).
    pub const ECMP_TABLE: u32 = 0x0200_0002;
    /// `ingress.set_nexthop` action.
    pub const ACTION: u32 = 0x0100_0001;
    /// `ingress.drop` action.
    pub const DROP: u32 = 0x0100_0002;
    /// `ingress.selector` action selector.
    pub const PROFILE: u32 = 0x1100_0001;
    /// Direct counter on the lpm table.
    pub const COUNTER: u32 = 0x1300_0001;
    /// `packet_in` controller header.
    pub const PACKET_IN: u32 = 0x0400_0001;
}

/// Type URL of a `p4.v1.Error` packed in `google.protobuf.Any`.
pub const P4_ERROR_TYPE_URL: &str = "type.googleapis.com/p4.v1.Error";

/// One named sample: the file name both sides use and the encoded bytes.
pub struct Sample {
    /// File name, e.g. `rust_write_request.bin`.
    pub name: &'static str,
    /// The encoded message.
    pub bytes: Vec<u8>,
}

fn exact(field_id: u32, value: &[u8]) -> p4::FieldMatch {
    p4::FieldMatch {
        field_id,
        field_match_type: Some(p4::field_match::FieldMatchType::Exact(
            p4::field_match::Exact {
                value: value.to_vec(),
            },
        )),
    }
}

fn lpm(field_id: u32, value: &[u8], prefix_len: i32) -> p4::FieldMatch {
    p4::FieldMatch {
        field_id,
        field_match_type: Some(p4::field_match::FieldMatchType::Lpm(p4::field_match::Lpm {
            value: value.to_vec(),
            prefix_len,
        })),
    }
}

fn ternary(field_id: u32, value: &[u8], mask: &[u8]) -> p4::FieldMatch {
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

fn action(action_id: u32, params: &[(u32, &[u8])]) -> p4::Action {
    p4::Action {
        action_id,
        params: params
            .iter()
            .map(|(param_id, value)| p4::action::Param {
                param_id: *param_id,
                value: value.to_vec(),
            })
            .collect(),
    }
}

fn update(kind: p4::update::Type, entity: p4::entity::Entity) -> p4::Update {
    p4::Update {
        r#type: kind as i32,
        entity: Some(p4::Entity {
            entity: Some(entity),
        }),
    }
}

/// A WriteRequest exercising exact / lpm / ternary matches, a direct action
/// with params, a member, a group and member/group table actions.
pub fn rust_write_request() -> p4::WriteRequest {
    use p4::entity::Entity as E;
    use p4::table_action::Type as A;
    use p4::update::Type as U;
    let routed = p4::TableEntry {
        table_id: ids::TABLE,
        r#match: vec![
            exact(1, &[0x00, 0x01]),
            lpm(2, &[0x0a, 0x01, 0x01, 0x00], 24),
            ternary(3, &[0x08, 0x00], &[0xff, 0xff]),
        ],
        action: Some(p4::TableAction {
            r#type: Some(A::Action(action(
                ids::ACTION,
                &[(1, &[0x03]), (2, &[0x00, 0xaa, 0xbb, 0xcc, 0xdd, 0xee])],
            ))),
        }),
        priority: 10,
        ..Default::default()
    };
    let member = p4::ActionProfileMember {
        action_profile_id: ids::PROFILE,
        member_id: 7,
        action: Some(action(ids::ACTION, &[(1, &[0x04]), (2, &[0x02; 6])])),
    };
    let group = p4::ActionProfileGroup {
        action_profile_id: ids::PROFILE,
        group_id: 3,
        members: vec![
            p4::action_profile_group::Member {
                member_id: 7,
                weight: 1,
                watch_kind: None,
            },
            p4::action_profile_group::Member {
                member_id: 8,
                weight: 2,
                watch_kind: None,
            },
        ],
        max_size: 16,
    };
    let via_group = p4::TableEntry {
        table_id: ids::ECMP_TABLE,
        r#match: vec![exact(1, &[0x2a])],
        action: Some(p4::TableAction {
            r#type: Some(A::ActionProfileGroupId(3)),
        }),
        ..Default::default()
    };
    let via_member = p4::TableEntry {
        table_id: ids::ECMP_TABLE,
        r#match: vec![exact(1, &[0x2b])],
        action: Some(p4::TableAction {
            r#type: Some(A::ActionProfileMemberId(7)),
        }),
        ..Default::default()
    };
    p4::WriteRequest {
        device_id: 1,
        election_id: Some(p4::Uint128 { high: 0, low: 1 }),
        updates: vec![
            update(U::Insert, E::TableEntry(routed)),
            update(U::Insert, E::ActionProfileMember(member)),
            update(U::Insert, E::ActionProfileGroup(group)),
            update(U::Modify, E::TableEntry(via_group)),
            update(U::Delete, E::TableEntry(via_member)),
        ],
        atomicity: p4::write_request::Atomicity::ContinueOnError as i32,
        ..Default::default()
    }
}

/// The first message of a StreamChannel: claim primary for device 1.
pub fn rust_stream_arbitration() -> p4::StreamMessageRequest {
    p4::StreamMessageRequest {
        update: Some(p4::stream_message_request::Update::Arbitration(
            p4::MasterArbitrationUpdate {
                device_id: 1,
                role: None,
                election_id: Some(p4::Uint128 {
                    high: 0x1,
                    low: 0xffff_ffff_ffff_fffe,
                }),
                status: None,
            },
        )),
    }
}

fn preamble(id: u32, name: &str, alias: &str) -> Option<cfg::Preamble> {
    Some(cfg::Preamble {
        id,
        name: name.to_string(),
        alias: alias.to_string(),
        ..Default::default()
    })
}

fn match_field(
    id: u32,
    name: &str,
    bitwidth: i32,
    kind: cfg::match_field::MatchType,
) -> cfg::MatchField {
    cfg::MatchField {
        id,
        name: name.to_string(),
        bitwidth,
        r#match: Some(cfg::match_field::Match::MatchType(kind as i32)),
        ..Default::default()
    }
}

/// A P4Info with one table, two actions, a selector, a direct counter and a
/// controller header, shaped like what p4c emits.
pub fn rust_p4info() -> cfg::P4Info {
    use cfg::match_field::MatchType as M;
    cfg::P4Info {
        pkg_info: Some(cfg::PkgInfo {
            arch: "v1model".to_string(),
            ..Default::default()
        }),
        tables: vec![cfg::Table {
            preamble: preamble(ids::TABLE, "ingress.vrf_lpm", "vrf_lpm"),
            match_fields: vec![
                match_field(1, "vrf_id", 16, M::Exact),
                match_field(2, "hdr.ipv4.dst_addr", 32, M::Lpm),
            ],
            action_refs: vec![
                cfg::ActionRef {
                    id: ids::ACTION,
                    ..Default::default()
                },
                cfg::ActionRef {
                    id: ids::DROP,
                    scope: cfg::action_ref::Scope::DefaultOnly as i32,
                    ..Default::default()
                },
            ],
            const_default_action_id: ids::DROP,
            direct_resource_ids: vec![ids::COUNTER],
            size: 1024,
            ..Default::default()
        }],
        actions: vec![
            cfg::Action {
                preamble: preamble(ids::ACTION, "ingress.set_nexthop", "set_nexthop"),
                params: vec![
                    cfg::action::Param {
                        id: 1,
                        name: "nexthop_id".to_string(),
                        bitwidth: 16,
                        ..Default::default()
                    },
                    cfg::action::Param {
                        id: 2,
                        name: "dmac".to_string(),
                        bitwidth: 48,
                        ..Default::default()
                    },
                ],
            },
            cfg::Action {
                preamble: preamble(ids::DROP, "ingress.drop", "drop"),
                params: vec![],
            },
        ],
        action_profiles: vec![cfg::ActionProfile {
            preamble: preamble(ids::PROFILE, "ingress.selector", "selector"),
            table_ids: vec![ids::ECMP_TABLE],
            with_selector: true,
            size: 128,
            max_group_size: 16,
            selector_size_semantics: Some(
                cfg::action_profile::SelectorSizeSemantics::SumOfWeights(
                    cfg::action_profile::SumOfWeights {},
                ),
            ),
            ..Default::default()
        }],
        direct_counters: vec![cfg::DirectCounter {
            preamble: preamble(ids::COUNTER, "ingress.lpm_counter", "lpm_counter"),
            spec: Some(cfg::CounterSpec {
                unit: cfg::counter_spec::Unit::Both as i32,
            }),
            direct_table_id: ids::TABLE,
        }],
        controller_packet_metadata: vec![cfg::ControllerPacketMetadata {
            preamble: preamble(ids::PACKET_IN, "packet_in", "packet_in"),
            metadata: vec![cfg::controller_packet_metadata::Metadata {
                id: 1,
                name: "ingress_port".to_string(),
                bitwidth: 9,
                ..Default::default()
            }],
        }],
        ..Default::default()
    }
}

/// The error a switch returns for a Write with two updates, the second of
/// which failed: a google.rpc.Status whose details are `p4.v1.Error`s.
pub fn rust_write_error_status() -> Status {
    let ok = p4::Error {
        canonical_code: Code::Ok as i32,
        ..Default::default()
    };
    let failed = p4::Error {
        canonical_code: Code::AlreadyExists as i32,
        message: "Match entry exists, use MODIFY if you wish to change action".to_string(),
        space: "ALL-sswitch-p4org".to_string(),
        code: 0,
        details: None,
    };
    Status {
        code: Code::Unknown as i32,
        message: "Write failure.".to_string(),
        details: [ok, failed]
            .iter()
            .map(|e| Any {
                type_url: P4_ERROR_TYPE_URL.to_string(),
                value: e.encode_to_vec(),
            })
            .collect(),
    }
}

/// Every Rust-built sample, encoded.
pub fn rust_samples() -> Vec<Sample> {
    vec![
        Sample {
            name: "rust_write_request.bin",
            bytes: rust_write_request().encode_to_vec(),
        },
        Sample {
            name: "rust_stream_arbitration.bin",
            bytes: rust_stream_arbitration().encode_to_vec(),
        },
        Sample {
            name: "rust_p4info.bin",
            bytes: rust_p4info().encode_to_vec(),
        },
        Sample {
            name: "rust_write_error_status.bin",
            bytes: rust_write_error_status().encode_to_vec(),
        },
    ]
}

/// What `python_write_request.bin` must decode to: built in Python as
/// device 3, election (0, 9), role "sdn", ROLLBACK_ON_ERROR, one INSERT of a
/// table entry (exact 0x0a0b, lpm 0x20010db8/32, ternary 0x00ff&0x0fff,
/// optional 0x01; priority 5; member action 11) and one DELETE of a group.
pub fn python_write_request() -> p4::WriteRequest {
    use p4::entity::Entity as E;
    use p4::table_action::Type as A;
    use p4::update::Type as U;
    let entry = p4::TableEntry {
        table_id: ids::TABLE,
        r#match: vec![
            exact(1, &[0x0a, 0x0b]),
            lpm(2, &[0x20, 0x01, 0x0d, 0xb8], 32),
            ternary(3, &[0x00, 0xff], &[0x0f, 0xff]),
            p4::FieldMatch {
                field_id: 4,
                field_match_type: Some(p4::field_match::FieldMatchType::Optional(
                    p4::field_match::Optional { value: vec![0x01] },
                )),
            },
        ],
        action: Some(p4::TableAction {
            r#type: Some(A::ActionProfileMemberId(11)),
        }),
        priority: 5,
        ..Default::default()
    };
    let group = p4::ActionProfileGroup {
        action_profile_id: ids::PROFILE,
        group_id: 12,
        ..Default::default()
    };
    p4::WriteRequest {
        device_id: 3,
        election_id: Some(p4::Uint128 { high: 0, low: 9 }),
        role: "sdn".to_string(),
        updates: vec![
            update(U::Insert, E::TableEntry(entry)),
            update(U::Delete, E::ActionProfileGroup(group)),
        ],
        atomicity: p4::write_request::Atomicity::RollbackOnError as i32,
        ..Default::default()
    }
}

/// What `python_stream_response.bin` must decode to: the server's answer
/// to arbitration, primary (status OK), election (0, 9).
pub fn python_stream_response() -> p4::StreamMessageResponse {
    p4::StreamMessageResponse {
        update: Some(p4::stream_message_response::Update::Arbitration(
            p4::MasterArbitrationUpdate {
                device_id: 3,
                role: None,
                election_id: Some(p4::Uint128 { high: 0, low: 9 }),
                status: Some(Status {
                    code: Code::Ok as i32,
                    message: "primary".to_string(),
                    details: vec![],
                }),
            },
        )),
    }
}

/// What `python_write_error_status.bin` must decode to: Status UNKNOWN with
/// one OK error and one NOT_FOUND error ("no such member") in its details.
pub fn python_write_error_status() -> Status {
    let errors = [
        p4::Error {
            canonical_code: Code::Ok as i32,
            ..Default::default()
        },
        p4::Error {
            canonical_code: Code::NotFound as i32,
            message: "no such member".to_string(),
            ..Default::default()
        },
    ];
    Status {
        code: Code::Unknown as i32,
        message: "Write failure.".to_string(),
        details: errors
            .iter()
            .map(|e| Any {
                type_url: P4_ERROR_TYPE_URL.to_string(),
                value: e.encode_to_vec(),
            })
            .collect(),
    }
}

/// What `python_p4info.bin` must decode to: one ternary-keyed table
/// `ingress.acl` (id 0x02000010, size 256, fields `hdr.ethernet.ether_type`
/// bit<16> TERNARY and `meta.flag` bit<1> OPTIONAL, action `ingress.punt`),
/// action `ingress.punt` (id 0x01000010, no params), a register
/// `ingress.reg` (id 0x16000001, bit<32>, size 8) and a digest
/// `ingress.learn` (id 0x17000001, struct `learn_t`) plus type info
/// describing `learn_t` as a struct of one bit<48> member `mac`.
pub fn python_p4info() -> cfg::P4Info {
    use cfg::match_field::MatchType as M;
    let bit = |w: i32| cfg::P4DataTypeSpec {
        type_spec: Some(cfg::p4_data_type_spec::TypeSpec::Bitstring(
            cfg::P4BitstringLikeTypeSpec {
                type_spec: Some(cfg::p4_bitstring_like_type_spec::TypeSpec::Bit(
                    cfg::P4BitTypeSpec { bitwidth: w },
                )),
                ..Default::default()
            },
        )),
    };
    let mut structs = std::collections::HashMap::new();
    structs.insert(
        "learn_t".to_string(),
        cfg::P4StructTypeSpec {
            members: vec![cfg::p4_struct_type_spec::Member {
                name: "mac".to_string(),
                type_spec: Some(bit(48)),
            }],
            ..Default::default()
        },
    );
    cfg::P4Info {
        tables: vec![cfg::Table {
            preamble: preamble(0x0200_0010, "ingress.acl", "acl"),
            match_fields: vec![
                match_field(1, "hdr.ethernet.ether_type", 16, M::Ternary),
                match_field(2, "meta.flag", 1, M::Optional),
            ],
            action_refs: vec![cfg::ActionRef {
                id: 0x0100_0010,
                ..Default::default()
            }],
            size: 256,
            ..Default::default()
        }],
        actions: vec![cfg::Action {
            preamble: preamble(0x0100_0010, "ingress.punt", "punt"),
            params: vec![],
        }],
        registers: vec![cfg::Register {
            preamble: preamble(0x1600_0001, "ingress.reg", "reg"),
            type_spec: Some(bit(32)),
            size: 8,
            ..Default::default()
        }],
        digests: vec![cfg::Digest {
            preamble: preamble(0x1700_0001, "ingress.learn", "learn"),
            type_spec: Some(cfg::P4DataTypeSpec {
                type_spec: Some(cfg::p4_data_type_spec::TypeSpec::Struct(cfg::P4NamedType {
                    name: "learn_t".to_string(),
                })),
            }),
        }],
        type_info: Some(cfg::P4TypeInfo {
            structs,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A mismatch between decoded bytes and the expected message.
#[derive(Debug)]
pub struct SampleMismatch {
    /// Which file.
    pub name: &'static str,
    /// What went wrong (decode error, or both values).
    pub detail: String,
}

impl std::fmt::Display for SampleMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.detail)
    }
}

impl std::error::Error for SampleMismatch {}

fn check<M: Message + Default + PartialEq + std::fmt::Debug>(
    name: &'static str,
    bytes: &[u8],
    expected: &M,
) -> Result<(), SampleMismatch> {
    let got = M::decode(bytes).map_err(|e| SampleMismatch {
        name,
        detail: format!("does not decode: {e}"),
    })?;
    if &got != expected {
        return Err(SampleMismatch {
            name,
            detail: format!("decoded {got:?}\nexpected {expected:?}"),
        });
    }
    Ok(())
}

/// File names of the Python-built samples, in the order `check_python_sample`
/// knows them.
pub const PYTHON_SAMPLES: &[&str] = &[
    "python_write_request.bin",
    "python_stream_response.bin",
    "python_write_error_status.bin",
    "python_p4info.bin",
];

/// Decodes one Python-built sample and compares it with the expected value.
pub fn check_python_sample(name: &str, bytes: &[u8]) -> Result<(), SampleMismatch> {
    match name {
        "python_write_request.bin" => {
            check("python_write_request.bin", bytes, &python_write_request())
        }
        "python_stream_response.bin" => check(
            "python_stream_response.bin",
            bytes,
            &python_stream_response(),
        ),
        "python_write_error_status.bin" => check(
            "python_write_error_status.bin",
            bytes,
            &python_write_error_status(),
        ),
        "python_p4info.bin" => check("python_p4info.bin", bytes, &python_p4info()),
        _ => Err(SampleMismatch {
            name: "?",
            detail: format!("unknown sample {name}"),
        }),
    }
}
