//! Each rule the embedded switch enforces, one named test each, asserting
//! the P4Runtime code a caller sees in the WriteError.
//!
//! Most rules are caught by our own name-level validation first, so these
//! tests send raw protos with `write_proto` to reach the switch.

mod common;

use common::*;
use p4::update::Type::{Delete, Insert, Modify};
use p4rt::{Code, EmbeddedTarget, Entity, TableAction, Target, TargetError, Update, WriteError};
use p4runtime_proto::p4::v1 as p4;

async fn target() -> EmbeddedTarget {
    let t = EmbeddedTarget::new();
    t.set_pipeline(&p4info_bytes(), b"{\"bmv2\":\"json\"}")
        .await
        .expect("pipeline");
    t
}

async fn refused(t: &EmbeddedTarget, u: p4::Update) -> WriteError {
    t.write_proto(vec![u])
        .await
        .expect_err("the switch must refuse this update")
}

async fn code(t: &EmbeddedTarget, u: p4::Update) -> Code {
    let e = refused(t, u).await;
    assert_eq!(e.failures.len(), 1, "{e}");
    assert!(!e.rejected_locally);
    e.failures[0].code
}

async fn ok(t: &EmbeddedTarget, updates: Vec<p4::Update>) {
    if let Err(e) = t.write_proto(updates).await {
        panic!("unexpected failure: {e}");
    }
}

/// A selector with members 1 and 2 and group 10 {1, 2}.
async fn with_group(t: &EmbeddedTarget) {
    t.write(&[
        Update::insert(member(1, 1)),
        Update::insert(member(2, 2)),
        Update::insert(group(10, &[(1, 1), (2, 1)])),
    ])
    .await
    .expect("members and group");
}

// ---------------------------------------------------------------- pipeline

#[tokio::test]
async fn write_before_any_pipeline_is_failed_precondition() {
    let t = EmbeddedTarget::new();
    // The switch has no pipeline even though we know the P4Info.
    t.use_pipeline(&p4info_bytes()).unwrap();
    let e = t
        .write(&[Update::insert(route(1, [10, 0, 0, 0], 8, 1))])
        .await
        .unwrap_err();
    assert_eq!(e.codes(), vec![Code::FailedPrecondition]);
    assert_eq!(e.rpc_code, Code::FailedPrecondition);
    assert!(
        e.failures[0].message.contains("No forwarding pipeline"),
        "{e}"
    );
    assert!(!e.rejected_locally);
}

#[tokio::test]
async fn write_without_any_p4info_is_refused_locally() {
    let t = EmbeddedTarget::new();
    let e = t
        .write(&[Update::insert(route(1, [10, 0, 0, 0], 8, 1))])
        .await
        .unwrap_err();
    assert_eq!(e.codes(), vec![Code::FailedPrecondition]);
    assert!(e.rejected_locally);
}

#[tokio::test]
async fn read_before_any_pipeline_is_failed_precondition() {
    let t = EmbeddedTarget::new();
    t.use_pipeline(&p4info_bytes()).unwrap();
    let err = t.read_all().await.unwrap_err();
    assert!(
        matches!(&err, TargetError::Rpc { code, .. } if code == "FAILED_PRECONDITION"),
        "{err}"
    );
    assert_eq!(t.pipeline_cookie().await.unwrap(), None);
    assert_eq!(t.get_pipeline().await.unwrap(), None);
}

#[tokio::test]
async fn set_pipeline_wipes_state_and_sets_the_cookie() {
    let t = target().await;
    t.write(&[Update::insert(route(1, [10, 0, 0, 0], 8, 1))])
        .await
        .unwrap();
    assert_eq!(t.read_all().await.unwrap().len(), 1);
    let cookie = t.set_pipeline(&p4info_bytes(), b"other").await.unwrap();
    assert_eq!(cookie, p4rt::pipeline_cookie_for(&p4info_bytes(), b"other"));
    assert_eq!(t.pipeline_cookie().await.unwrap(), Some(cookie));
    assert!(t.read_all().await.unwrap().is_empty());
    let p = t.get_pipeline().await.unwrap().unwrap();
    assert_eq!(p.p4info, Some(p4info()));
}

#[tokio::test]
async fn ensure_pipeline_keeps_a_running_pipeline() {
    let switch = p4rt::EmbeddedSwitch::shared();
    let first = EmbeddedTarget::with_switch(switch.clone());
    let outcome = first
        .ensure_pipeline(&p4info_bytes(), b"json")
        .await
        .unwrap();
    assert!(matches!(outcome, p4rt::PipelineOutcome::Installed { .. }));
    first
        .write(&[Update::insert(route(1, [10, 0, 0, 0], 8, 1))])
        .await
        .unwrap();

    // A "restarted controller": new target, same switch, same pipeline.
    let second = EmbeddedTarget::with_switch(switch);
    let outcome = second
        .ensure_pipeline(&p4info_bytes(), b"json")
        .await
        .unwrap();
    assert!(matches!(
        outcome,
        p4rt::PipelineOutcome::AlreadyRunning { .. }
    ));
    assert_eq!(
        second.read_all().await.unwrap(),
        vec![route(1, [10, 0, 0, 0], 8, 1)]
    );

    // A changed device config is another pipeline: pushed, state wiped.
    let outcome = second
        .ensure_pipeline(&p4info_bytes(), b"json v2")
        .await
        .unwrap();
    assert!(matches!(outcome, p4rt::PipelineOutcome::Installed { .. }));
    assert!(second.read_all().await.unwrap().is_empty());
}

// ---------------------------------------------------------------- unknown names / ids

#[tokio::test]
async fn unknown_table_is_invalid_argument() {
    let t = target().await;
    let u = insert(0x0200_0099, vec![exact(1, &[1])], direct(DROP, &[]));
    assert_eq!(code(&t, u).await, Code::InvalidArgument);
}

#[tokio::test]
async fn unknown_action_is_invalid_argument() {
    let t = target().await;
    let u = insert(
        LPM,
        vec![exact(1, &[1]), lpm(2, &[10, 0, 0, 0], 8)],
        direct(0x0100_0099, &[]),
    );
    assert_eq!(code(&t, u).await, Code::InvalidArgument);
}

#[tokio::test]
async fn unknown_match_field_is_invalid_argument() {
    let t = target().await;
    let u = insert(LPM, vec![exact(1, &[1]), exact(7, &[1])], direct(DROP, &[]));
    assert_eq!(code(&t, u).await, Code::InvalidArgument);
}

#[tokio::test]
async fn unknown_action_profile_is_invalid_argument() {
    let t = target().await;
    let u = member_update(Insert, 0x1100_0099, 1, set_port_action(&[1]));
    assert_eq!(code(&t, u).await, Code::InvalidArgument);
    let u = group_update(Insert, 0x1100_0099, 1, &[], 0);
    assert_eq!(code(&t, u).await, Code::InvalidArgument);
}

#[tokio::test]
async fn unknown_param_is_invalid_argument() {
    let t = target().await;
    let u = insert(
        LPM,
        vec![exact(1, &[1]), lpm(2, &[10, 0, 0, 0], 8)],
        direct(SET_NEXTHOP, &[(9, &[1])]),
    );
    assert_eq!(code(&t, u).await, Code::InvalidArgument);
}

// ---------------------------------------------------------------- actions

#[tokio::test]
async fn action_not_allowed_for_table_is_invalid_argument() {
    let t = target().await;
    let u = insert(
        SMALL,
        vec![exact(1, &[1])],
        direct(SET_NEXTHOP, &[(1, &[1])]),
    );
    let e = refused(&t, u).await;
    assert_eq!(e.codes(), vec![Code::InvalidArgument]);
    assert!(
        e.failures[0]
            .message
            .contains("is not an action of table `ingress.small`"),
        "{e}"
    );
}

#[tokio::test]
async fn default_only_action_in_an_entry_is_permission_denied() {
    let t = target().await;
    let u = insert(
        LPM,
        vec![exact(1, &[1]), lpm(2, &[10, 0, 0, 0], 8)],
        direct(DEFAULT_ONLY, &[]),
    );
    assert_eq!(code(&t, u).await, Code::PermissionDenied);
}

#[tokio::test]
async fn missing_param_is_invalid_argument() {
    let t = target().await;
    let u = insert(
        LPM,
        vec![exact(1, &[1]), lpm(2, &[10, 0, 0, 0], 8)],
        direct(SET_NEXTHOP, &[]),
    );
    assert_eq!(code(&t, u).await, Code::InvalidArgument);
}

#[tokio::test]
async fn extra_param_is_invalid_argument() {
    let t = target().await;
    let u = insert(SMALL, vec![exact(1, &[1])], direct(DROP, &[(1, &[1])]));
    assert_eq!(code(&t, u).await, Code::InvalidArgument);
    let u = insert(
        LPM,
        vec![exact(1, &[1]), lpm(2, &[10, 0, 0, 0], 8)],
        direct(SET_NEXTHOP, &[(1, &[1]), (1, &[2])]),
    );
    assert_eq!(code(&t, u).await, Code::InvalidArgument);
}

#[tokio::test]
async fn missing_action_is_invalid_argument() {
    let t = target().await;
    let u = insert(SMALL, vec![exact(1, &[1])], None);
    assert_eq!(code(&t, u).await, Code::InvalidArgument);
}

// ---------------------------------------------------------------- values

#[tokio::test]
async fn value_wider_than_the_field_is_invalid_argument() {
    let t = target().await;
    // bit<16> vrf_id with a 17-bit value.
    let u = insert(
        LPM,
        vec![exact(1, &[1, 0, 0]), lpm(2, &[10, 0, 0, 0], 8)],
        direct(DROP, &[]),
    );
    assert_eq!(code(&t, u).await, Code::InvalidArgument);
    // bit<9> port param with 0x200.
    let u = member_update(Insert, SELECTOR, 1, set_port_action(&[2, 0]));
    assert_eq!(code(&t, u).await, Code::InvalidArgument);
}

#[tokio::test]
async fn empty_value_is_invalid_argument() {
    let t = target().await;
    let u = insert(SMALL, vec![exact(1, &[])], direct(DROP, &[]));
    assert_eq!(code(&t, u).await, Code::InvalidArgument);
}

#[tokio::test]
async fn padded_values_are_accepted_and_read_back_canonical() {
    // bmv2 accepts zero padding; so do we, and reads are canonical.
    let t = target().await;
    let u = insert(
        LPM,
        vec![exact(1, &[0, 0, 0, 1]), lpm(2, &[0, 10, 0, 0, 0], 8)],
        direct(SET_NEXTHOP, &[(1, &[0, 0, 1])]),
    );
    ok(&t, vec![u]).await;
    assert_eq!(
        t.read_table("ingress.vrf_lpm").await.unwrap(),
        vec![route(1, [10, 0, 0, 0], 8, 1)]
    );
}

#[tokio::test]
async fn lpm_with_host_bits_set_is_invalid_argument() {
    let t = target().await;
    let u = insert(
        LPM,
        vec![exact(1, &[1]), lpm(2, &[10, 1, 0, 0], 8)],
        direct(DROP, &[]),
    );
    let e = refused(&t, u).await;
    assert_eq!(e.codes(), vec![Code::InvalidArgument]);
    assert!(
        e.failures[0].message.contains("bits set after the prefix"),
        "{e}"
    );
}

#[tokio::test]
async fn lpm_prefix_longer_than_the_field_is_invalid_argument() {
    let t = target().await;
    let u = insert(
        LPM,
        vec![exact(1, &[1]), lpm(2, &[10, 0, 0, 0], 33)],
        direct(DROP, &[]),
    );
    assert_eq!(code(&t, u).await, Code::InvalidArgument);
    let u = insert(
        LPM,
        vec![exact(1, &[1]), lpm(2, &[10, 0, 0, 0], -1)],
        direct(DROP, &[]),
    );
    assert_eq!(code(&t, u).await, Code::InvalidArgument);
}

#[tokio::test]
async fn explicit_dont_care_matches_are_invalid_argument() {
    let t = target().await;
    // LPM /0
    let u = insert(
        LPM,
        vec![exact(1, &[1]), lpm(2, &[0], 0)],
        direct(DROP, &[]),
    );
    assert_eq!(code(&t, u).await, Code::InvalidArgument);
    // ternary with a zero mask
    let u = table_update(
        Insert,
        ACL,
        vec![ternary(1, &[0], &[0])],
        direct(DROP, &[]),
        1,
    );
    assert_eq!(code(&t, u).await, Code::InvalidArgument);
    // the full range
    let u = table_update(
        Insert,
        ACL,
        vec![range(3, &[0], &[0xff, 0xff])],
        direct(DROP, &[]),
        1,
    );
    assert_eq!(code(&t, u).await, Code::InvalidArgument);
    // ... while leaving them out is fine.
    let u = table_update(Insert, ACL, vec![], direct(DROP, &[]), 1);
    ok(&t, vec![u]).await;
}

#[tokio::test]
async fn ternary_value_outside_mask_is_invalid_argument() {
    let t = target().await;
    let u = table_update(
        Insert,
        ACL,
        vec![ternary(1, &[0x08, 0x01], &[0xff, 0x00])],
        direct(DROP, &[]),
        1,
    );
    assert_eq!(code(&t, u).await, Code::InvalidArgument);
}

#[tokio::test]
async fn inverted_range_is_invalid_argument() {
    let t = target().await;
    let u = table_update(
        Insert,
        ACL,
        vec![range(3, &[0, 90], &[0, 80])],
        direct(DROP, &[]),
        1,
    );
    assert_eq!(code(&t, u).await, Code::InvalidArgument);
}

#[tokio::test]
async fn wrong_match_kind_is_invalid_argument() {
    let t = target().await;
    let u = insert(
        LPM,
        vec![exact(1, &[1]), exact(2, &[10, 0, 0, 0])],
        direct(DROP, &[]),
    );
    assert_eq!(code(&t, u).await, Code::InvalidArgument);
}

#[tokio::test]
async fn missing_exact_field_is_invalid_argument() {
    let t = target().await;
    let u = insert(LPM, vec![lpm(2, &[10, 0, 0, 0], 8)], direct(DROP, &[]));
    assert_eq!(code(&t, u).await, Code::InvalidArgument);
}

#[tokio::test]
async fn duplicate_match_field_is_invalid_argument() {
    let t = target().await;
    let u = insert(
        SMALL,
        vec![exact(1, &[1]), exact(1, &[2])],
        direct(DROP, &[]),
    );
    assert_eq!(code(&t, u).await, Code::InvalidArgument);
}

#[tokio::test]
async fn priority_rules_are_invalid_argument() {
    let t = target().await;
    // ternary table without a priority
    let u = table_update(
        Insert,
        ACL,
        vec![ternary(1, &[8, 0], &[0xff, 0xff])],
        direct(DROP, &[]),
        0,
    );
    assert_eq!(code(&t, u).await, Code::InvalidArgument);
    // exact table with one
    let u = table_update(Insert, SMALL, vec![exact(1, &[1])], direct(DROP, &[]), 7);
    assert_eq!(code(&t, u).await, Code::InvalidArgument);
}

// ---------------------------------------------------------------- direct vs indirect

#[tokio::test]
async fn direct_action_on_a_selector_table_is_invalid_argument() {
    let t = target().await;
    let u = insert(
        ECMP,
        vec![exact(1, &[1])],
        direct(SET_PORT, &[(1, &[1]), (2, &[1])]),
    );
    assert_eq!(code(&t, u).await, Code::InvalidArgument);
}

#[tokio::test]
async fn member_or_group_on_a_direct_table_is_invalid_argument() {
    let t = target().await;
    with_group(&t).await;
    let u = insert(SMALL, vec![exact(1, &[1])], via_member(1));
    assert_eq!(code(&t, u).await, Code::InvalidArgument);
    let u = insert(SMALL, vec![exact(1, &[1])], via_group(10));
    assert_eq!(code(&t, u).await, Code::InvalidArgument);
}

#[tokio::test]
async fn entry_pointing_at_a_missing_member_or_group_is_not_found() {
    let t = target().await;
    let u = insert(ECMP, vec![exact(1, &[1])], via_member(5));
    assert_eq!(code(&t, u).await, Code::NotFound);
    let u = insert(ECMP, vec![exact(1, &[1])], via_group(5));
    assert_eq!(code(&t, u).await, Code::NotFound);
}

// ---------------------------------------------------------------- existence

#[tokio::test]
async fn duplicate_insert_is_already_exists() {
    let t = target().await;
    ok(&t, vec![raw_route()]).await;
    let e = refused(&t, raw_route()).await;
    assert_eq!(e.codes(), vec![Code::AlreadyExists]);
    // The failure is rendered by name.
    assert_eq!(
        e.failures[0].entity,
        "ingress.vrf_lpm vrf_id=0x0001 dst_addr=0x0a000000/8 -> ingress.set_nexthop(nexthop_id=0x0001)"
    );
    with_group(&t).await;
    assert_eq!(
        code(
            &t,
            member_update(Insert, SELECTOR, 1, set_port_action(&[1]))
        )
        .await,
        Code::AlreadyExists
    );
    assert_eq!(
        code(&t, group_update(Insert, SELECTOR, 10, &[(1, 1)], 4)).await,
        Code::AlreadyExists
    );
}

#[tokio::test]
async fn modify_or_delete_of_a_missing_entry_is_not_found() {
    let t = target().await;
    let mut m = raw_route();
    m.r#type = Modify as i32;
    assert_eq!(code(&t, m).await, Code::NotFound);
    let mut d = raw_route();
    d.r#type = Delete as i32;
    assert_eq!(code(&t, d).await, Code::NotFound);
    assert_eq!(
        code(
            &t,
            member_update(Modify, SELECTOR, 3, set_port_action(&[1]))
        )
        .await,
        Code::NotFound
    );
    assert_eq!(
        code(&t, member_update(Delete, SELECTOR, 3, None)).await,
        Code::NotFound
    );
    assert_eq!(
        code(&t, group_update(Modify, SELECTOR, 3, &[], 0)).await,
        Code::NotFound
    );
    assert_eq!(
        code(&t, group_update(Delete, SELECTOR, 3, &[], 0)).await,
        Code::NotFound
    );
}

#[tokio::test]
async fn modify_and_delete_of_existing_entries_apply() {
    let t = target().await;
    t.write(&[Update::insert(route(1, [10, 0, 0, 0], 8, 1))])
        .await
        .unwrap();
    t.write(&[Update::modify(route(1, [10, 0, 0, 0], 8, 2))])
        .await
        .unwrap();
    assert_eq!(
        t.read_all().await.unwrap(),
        vec![route(1, [10, 0, 0, 0], 8, 2)]
    );
    // DELETE matches on the key only.
    t.write(&[Update::delete(route(1, [10, 0, 0, 0], 8, 99))])
        .await
        .unwrap();
    assert!(t.read_all().await.unwrap().is_empty());
}

// ---------------------------------------------------------------- sizes

#[tokio::test]
async fn table_full_is_resource_exhausted() {
    let t = target().await;
    let small = |k: u8| insert(SMALL, vec![exact(1, &[k])], direct(DROP, &[]));
    ok(&t, vec![small(1), small(2)]).await;
    let e = refused(&t, small(3)).await;
    assert_eq!(e.codes(), vec![Code::ResourceExhausted]);
    assert!(e.failures[0].message.contains("is full"), "{e}");
    // A duplicate in a full table is still ALREADY_EXISTS (checked first).
    assert_eq!(code(&t, small(1)).await, Code::AlreadyExists);
}

#[tokio::test]
async fn action_profile_full_is_resource_exhausted() {
    let t = target().await;
    let members: Vec<_> = (1..=4)
        .map(|i| member_update(Insert, SELECTOR, i, set_port_action(&[1])))
        .collect();
    ok(&t, members).await;
    assert_eq!(
        code(
            &t,
            member_update(Insert, SELECTOR, 5, set_port_action(&[1]))
        )
        .await,
        Code::ResourceExhausted
    );
}

#[tokio::test]
async fn group_weights_over_the_maximum_are_resource_exhausted() {
    let t = target().await;
    with_group(&t).await;
    assert_eq!(
        code(&t, group_update(Insert, SELECTOR, 11, &[(1, 3), (2, 2)], 4)).await,
        Code::ResourceExhausted
    );
    // max_size above the selector's max_group_size is malformed.
    assert_eq!(
        code(&t, group_update(Insert, SELECTOR, 11, &[(1, 1)], 8)).await,
        Code::InvalidArgument
    );
}

// ---------------------------------------------------------------- profiles and groups

#[tokio::test]
async fn member_action_must_belong_to_the_profile_tables() {
    let t = target().await;
    let drop = Some(p4::Action {
        action_id: DROP,
        params: vec![],
    });
    assert_eq!(
        code(&t, member_update(Insert, SELECTOR, 1, drop)).await,
        Code::InvalidArgument
    );
}

#[tokio::test]
async fn group_referring_to_a_missing_member_is_not_found() {
    let t = target().await;
    with_group(&t).await;
    assert_eq!(
        code(&t, group_update(Insert, SELECTOR, 11, &[(1, 1), (9, 1)], 4)).await,
        Code::NotFound
    );
    assert_eq!(
        code(&t, group_update(Modify, SELECTOR, 10, &[(9, 1)], 4)).await,
        Code::NotFound
    );
}

#[tokio::test]
async fn group_with_a_member_twice_or_a_bad_weight_is_invalid_argument() {
    let t = target().await;
    with_group(&t).await;
    assert_eq!(
        code(&t, group_update(Insert, SELECTOR, 11, &[(1, 1), (1, 1)], 4)).await,
        Code::InvalidArgument
    );
    assert_eq!(
        code(&t, group_update(Insert, SELECTOR, 11, &[(1, 0)], 4)).await,
        Code::InvalidArgument
    );
}

#[tokio::test]
async fn group_max_size_cannot_change() {
    let t = target().await;
    with_group(&t).await;
    assert_eq!(
        code(&t, group_update(Modify, SELECTOR, 10, &[(1, 1)], 3)).await,
        Code::InvalidArgument
    );
    // 0 means "unchanged".
    ok(&t, vec![group_update(Modify, SELECTOR, 10, &[(1, 1)], 0)]).await;
}

#[tokio::test]
async fn deleting_a_member_still_in_a_group_is_failed_precondition() {
    let t = target().await;
    with_group(&t).await;
    let e = refused(&t, member_update(Delete, SELECTOR, 1, None)).await;
    assert_eq!(e.codes(), vec![Code::FailedPrecondition]);
    assert!(e.failures[0].message.contains("still in group 10"), "{e}");
    // Out of the group, it can go.
    ok(&t, vec![group_update(Modify, SELECTOR, 10, &[(2, 1)], 0)]).await;
    ok(&t, vec![member_update(Delete, SELECTOR, 1, None)]).await;
}

#[tokio::test]
async fn deleting_a_member_used_by_an_entry_is_failed_precondition() {
    let t = target().await;
    with_group(&t).await;
    t.write(&[
        Update::insert(member(3, 3)),
        Update::insert(ecmp(7, TableAction::Member(3))),
    ])
    .await
    .unwrap();
    assert_eq!(
        code(&t, member_update(Delete, SELECTOR, 3, None)).await,
        Code::FailedPrecondition
    );
    // Repointing the entry releases the member.
    t.write(&[Update::modify(ecmp(7, TableAction::Group(10)))])
        .await
        .unwrap();
    ok(&t, vec![member_update(Delete, SELECTOR, 3, None)]).await;
}

#[tokio::test]
async fn deleting_a_group_used_by_an_entry_is_failed_precondition() {
    let t = target().await;
    with_group(&t).await;
    t.write(&[Update::insert(ecmp(7, TableAction::Group(10)))])
        .await
        .unwrap();
    assert_eq!(
        code(&t, group_update(Delete, SELECTOR, 10, &[], 0)).await,
        Code::FailedPrecondition
    );
    t.write(&[Update::delete(ecmp(7, TableAction::Group(10)))])
        .await
        .unwrap();
    ok(&t, vec![group_update(Delete, SELECTOR, 10, &[], 0)]).await;
}

#[tokio::test]
async fn unsupported_entities_are_unimplemented() {
    let t = target().await;
    let u = p4::Update {
        r#type: Insert as i32,
        entity: Some(p4::Entity {
            entity: Some(p4::entity::Entity::CounterEntry(Default::default())),
        }),
    };
    assert_eq!(code(&t, u).await, Code::Unimplemented);
    let mut default_entry = insert(SMALL, vec![], direct(DROP, &[]));
    if let Some(p4::entity::Entity::TableEntry(te)) = default_entry
        .entity
        .as_mut()
        .and_then(|e| e.entity.as_mut())
    {
        te.is_default_action = true;
    }
    default_entry.r#type = Modify as i32;
    assert_eq!(code(&t, default_entry).await, Code::Unimplemented);
}

#[tokio::test]
async fn update_type_must_be_set() {
    let t = target().await;
    let mut u = raw_route();
    u.r#type = p4::update::Type::Unspecified as i32;
    assert_eq!(code(&t, u).await, Code::InvalidArgument);
}

// ---------------------------------------------------------------- batches and reads

#[tokio::test]
async fn each_failed_update_of_a_batch_is_reported_in_order() {
    let t = target().await;
    t.write(&[Update::insert(route(1, [10, 0, 0, 0], 8, 1))])
        .await
        .unwrap();
    let updates = vec![
        Update::insert(route(1, [10, 1, 0, 0], 16, 1)),
        Update::insert(route(1, [10, 0, 0, 0], 8, 1)), // exists
        Update::insert(route(2, [10, 0, 0, 0], 8, 1)),
        Update::delete(route(3, [10, 0, 0, 0], 8, 1)), // missing
    ];
    let e = t.write(&updates).await.unwrap_err();
    assert_eq!(e.codes(), vec![Code::AlreadyExists, Code::NotFound]);
    assert_eq!(
        e.failures.iter().map(|f| f.index).collect::<Vec<_>>(),
        vec![1, 3]
    );
    assert_eq!(e.rpc_code, Code::Unknown);
    assert_eq!(e.not_attempted, 0);
    let text = e.to_string();
    assert!(
        text.contains("update #3 DELETE ingress.vrf_lpm vrf_id=0x0003 dst_addr=0x0a000000/8"),
        "{text}"
    );
    // The good ones were applied (CONTINUE_ON_ERROR).
    assert_eq!(t.read_all().await.unwrap().len(), 3);
}

#[tokio::test]
async fn batches_keep_order_and_stop_at_the_first_failing_batch() {
    let t = EmbeddedTarget::new().with_batch_size(2);
    t.set_pipeline(&p4info_bytes(), b"").await.unwrap();
    t.write(&[Update::insert(route(9, [10, 0, 0, 0], 8, 1))])
        .await
        .unwrap();
    let updates = vec![
        // Order matters: the member must exist before the entry using it.
        Update::insert(member(1, 1)),
        Update::insert(ecmp(1, TableAction::Member(1))),
        Update::insert(route(1, [10, 0, 0, 0], 8, 1)),
        Update::insert(route(9, [10, 0, 0, 0], 8, 1)), // exists: batch 2..4 fails
        Update::insert(route(2, [10, 0, 0, 0], 8, 1)), // never sent
    ];
    let e = t.write(&updates).await.unwrap_err();
    assert_eq!(e.batch, 2..4);
    assert_eq!(e.failures.len(), 1);
    assert_eq!(e.failures[0].index, 3);
    assert_eq!(e.not_attempted, 1);
    let all = t.read_all().await.unwrap();
    assert!(all.contains(&route(1, [10, 0, 0, 0], 8, 1)));
    assert!(!all.contains(&route(2, [10, 0, 0, 0], 8, 1)));
}

#[tokio::test]
async fn invalid_entities_are_refused_before_anything_is_sent() {
    let t = target().await;
    let mut bad = route(1, [10, 0, 0, 0], 8, 1);
    if let Entity::Table(e) = &mut bad {
        e.table = "ingress.nope".into();
    }
    let e = t
        .write(&[
            Update::insert(route(2, [10, 0, 0, 0], 8, 1)),
            Update::insert(bad),
        ])
        .await
        .unwrap_err();
    assert!(e.rejected_locally);
    assert_eq!(e.codes(), vec![Code::InvalidArgument]);
    assert_eq!(e.failures[0].index, 1);
    assert!(e.failures[0]
        .message
        .contains("unknown table `ingress.nope`"));
    assert!(
        t.read_all().await.unwrap().is_empty(),
        "nothing half-applied"
    );
}

#[tokio::test]
async fn reads_return_sorted_canonical_entities() {
    let t = target().await;
    let written = vec![
        Update::insert(member(2, 2)),
        Update::insert(member(1, 1)),
        Update::insert(group(10, &[(2, 1), (1, 2)])),
        Update::insert(ecmp(5, TableAction::Group(10))),
        Update::insert(route(2, [10, 0, 0, 0], 8, 1)),
        Update::insert(route(1, [192, 168, 0, 0], 16, 3)),
    ];
    t.write(&written).await.unwrap();
    let all = t.read_all().await.unwrap();
    let mut expected: Vec<Entity> = vec![
        member(1, 1),
        member(2, 2),
        group(10, &[(1, 2), (2, 1)]),
        ecmp(5, TableAction::Group(10)),
        route(2, [10, 0, 0, 0], 8, 1),
        route(1, [192, 168, 0, 0], 16, 3),
    ];
    expected.sort();
    assert_eq!(all, expected);
    assert_eq!(
        t.read_table("ingress.vrf_lpm").await.unwrap(),
        vec![
            route(1, [192, 168, 0, 0], 16, 3),
            route(2, [10, 0, 0, 0], 8, 1)
        ]
    );
    let lines: Vec<String> = t
        .read_table("ingress.ecmp")
        .await
        .unwrap()
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(lines, vec!["ingress.ecmp nexthop_id=0x0005 -> group 10"]);
    assert!(matches!(
        t.read_table("ingress.nope").await,
        Err(TargetError::P4Info(_))
    ));
}
