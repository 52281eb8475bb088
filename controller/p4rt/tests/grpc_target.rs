//! GrpcTarget end to end against the embedded switch served by our own tonic
//! server stub on 127.0.0.1 (ephemeral port): arbitration, pipeline push and
//! cookie, batched writes, per-update error details, reads. No bmv2 needed.

mod common;

use common::*;
use p4rt::target::server::spawn_local;
use p4rt::{
    Code, EmbeddedSwitch, EmbeddedTarget, GrpcTarget, PipelineOutcome, SharedSwitch, TableAction,
    Target, TargetError, Update,
};
use std::net::SocketAddr;
use std::time::Duration;

const DEVICE: u64 = 1;

async fn server() -> (SharedSwitch, SocketAddr) {
    let switch = EmbeddedSwitch::shared();
    let (addr, _task) = spawn_local(switch.clone(), DEVICE)
        .await
        .expect("bind 127.0.0.1");
    (switch, addr)
}

async fn connect(addr: SocketAddr, election: u128) -> GrpcTarget {
    match GrpcTarget::connect(&addr.to_string(), DEVICE, election).await {
        Ok(t) => t,
        Err(e) => panic!("connect: {e}"),
    }
}

#[tokio::test]
async fn connects_as_primary_writes_and_reads() {
    let (switch, addr) = server().await;
    let t = connect(addr, 1).await.with_batch_size(3);
    assert!(t.is_primary());
    assert!(t.stream_open());
    assert_eq!(t.capabilities().await.unwrap(), "1.5.0");

    assert_eq!(t.pipeline_cookie().await.unwrap(), None);
    let outcome = t.ensure_pipeline(&p4info_bytes(), b"{}").await.unwrap();
    let PipelineOutcome::Installed { cookie } = outcome else {
        panic!("expected a push, got {outcome:?}");
    };
    assert_eq!(t.pipeline_cookie().await.unwrap(), Some(cookie));

    let updates: Vec<Update> = vec![
        Update::insert(member(1, 1)),
        Update::insert(member(2, 2)),
        Update::insert(group(10, &[(1, 1), (2, 1)])),
        Update::insert(ecmp(1, TableAction::Group(10))),
        Update::insert(route(1, [10, 0, 0, 0], 8, 1)),
        Update::insert(route(1, [10, 1, 0, 0], 16, 1)),
        Update::insert(route(2, [10, 0, 0, 0], 8, 1)),
    ];
    t.write(&updates).await.unwrap();
    assert_eq!(switch.lock().unwrap().entry_count(), 4);

    let mut expected: Vec<_> = updates.into_iter().map(|u| u.entity).collect();
    expected.sort();
    assert_eq!(t.read_all().await.unwrap(), expected);
    assert_eq!(t.read_table("ingress.vrf_lpm").await.unwrap().len(), 3);

    // The same switch read through the embedded target gives the same answer.
    let local = EmbeddedTarget::with_switch(switch);
    local.use_pipeline(&p4info_bytes()).unwrap();
    assert_eq!(local.read_all().await.unwrap(), t.read_all().await.unwrap());
}

#[tokio::test]
async fn write_errors_carry_the_switch_per_update_details() {
    let (_switch, addr) = server().await;
    let t = connect(addr, 1).await;
    t.set_pipeline(&p4info_bytes(), b"").await.unwrap();
    t.write(&[Update::insert(route(1, [10, 0, 0, 0], 8, 1))])
        .await
        .unwrap();

    let updates = vec![
        Update::insert(route(1, [10, 1, 0, 0], 16, 1)),
        Update::insert(route(1, [10, 0, 0, 0], 8, 1)),
        Update::delete(route(3, [10, 0, 0, 0], 8, 1)),
        Update::insert(ecmp(1, TableAction::Member(42))),
    ];
    let e = t.write(&updates).await.unwrap_err();
    assert_eq!(
        e.codes(),
        vec![Code::AlreadyExists, Code::NotFound, Code::NotFound]
    );
    assert_eq!(
        e.failures.iter().map(|f| f.index).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(e.rpc_code, Code::Unknown);
    let f = &e.failures[0];
    assert_eq!(
        f.entity,
        "ingress.vrf_lpm vrf_id=0x0001 dst_addr=0x0a000000/8 -> ingress.set_nexthop(nexthop_id=0x0001)"
    );
    assert!(f.message.contains("already has this entry"), "{e}");
    assert!(e.failures[2].message.contains("has no member 42"), "{e}");

    // Exactly what the embedded target reports for the same writes.
    let local = EmbeddedTarget::new();
    local.set_pipeline(&p4info_bytes(), b"").await.unwrap();
    local
        .write(&[Update::insert(route(1, [10, 0, 0, 0], 8, 1))])
        .await
        .unwrap();
    let e_local = local.write(&updates).await.unwrap_err();
    assert_eq!(e_local, e);
}

#[tokio::test]
async fn raw_rule_violations_come_back_with_their_codes() {
    let (_switch, addr) = server().await;
    let t = connect(addr, 1).await;
    t.set_pipeline(&p4info_bytes(), b"").await.unwrap();
    let e = t
        .write_proto(vec![
            raw_route(),
            insert(
                LPM,
                vec![exact(1, &[1]), lpm(2, &[10, 1, 0, 0], 8)],
                direct(DROP, &[]),
            ),
            insert(
                LPM,
                vec![exact(1, &[1, 0, 0]), lpm(2, &[10, 0, 0, 0], 8)],
                direct(DROP, &[]),
            ),
            insert(
                SMALL,
                vec![exact(1, &[1])],
                direct(SET_NEXTHOP, &[(1, &[1])]),
            ),
        ])
        .await
        .unwrap_err();
    assert_eq!(e.codes(), vec![Code::InvalidArgument; 3]);
    assert_eq!(e.failures[0].index, 1);
}

#[tokio::test]
async fn write_before_a_pipeline_is_failed_precondition() {
    let (_switch, addr) = server().await;
    let t = connect(addr, 1).await;
    t.use_pipeline(&p4info_bytes()).unwrap();
    let e = t
        .write(&[Update::insert(route(1, [10, 0, 0, 0], 8, 1))])
        .await
        .unwrap_err();
    assert_eq!(e.codes(), vec![Code::FailedPrecondition]);
    assert_eq!(e.rpc_code, Code::FailedPrecondition);
    assert_eq!(t.get_pipeline().await.unwrap(), None);
}

#[tokio::test]
async fn a_restarted_controller_finds_its_pipeline_and_entries() {
    let (_switch, addr) = server().await;
    {
        let t = connect(addr, 1).await;
        t.ensure_pipeline(&p4info_bytes(), b"json").await.unwrap();
        t.write(&[Update::insert(route(1, [10, 0, 0, 0], 8, 1))])
            .await
            .unwrap();
    }
    // The old connection is gone; a new one (same election id) takes over
    // once the server has noticed (until then the id is still in use).
    let mut attempt = 0;
    let t = loop {
        match GrpcTarget::connect(&addr.to_string(), DEVICE, 1).await {
            Ok(t) => break t,
            Err(e) if attempt < 100 => {
                attempt += 1;
                tracing::debug!(%e, "retrying");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("reconnect: {e}"),
        }
    };
    let outcome = t.ensure_pipeline(&p4info_bytes(), b"json").await.unwrap();
    assert!(
        matches!(outcome, PipelineOutcome::AlreadyRunning { .. }),
        "{outcome:?}"
    );
    assert_eq!(
        t.read_all().await.unwrap(),
        vec![route(1, [10, 0, 0, 0], 8, 1)]
    );
}

#[tokio::test]
async fn a_lower_election_id_is_not_primary() {
    let (_switch, addr) = server().await;
    let _primary = connect(addr, 5).await;
    let err = GrpcTarget::connect(&addr.to_string(), DEVICE, 3)
        .await
        .unwrap_err();
    match &err {
        TargetError::NotPrimary {
            code, election_id, ..
        } => {
            assert_eq!(code, "ALREADY_EXISTS");
            assert_eq!(*election_id, 3);
        }
        other => panic!("expected NotPrimary, got {other}"),
    }
    assert!(err.to_string().contains(&addr.to_string()));
}

#[tokio::test]
async fn a_higher_election_id_takes_over() {
    let (_switch, addr) = server().await;
    let old = connect(addr, 1).await;
    old.set_pipeline(&p4info_bytes(), b"").await.unwrap();
    let new = connect(addr, (1u128 << 64) | 1).await;
    assert!(new.is_primary());
    let e = old
        .write(&[Update::insert(route(1, [10, 0, 0, 0], 8, 1))])
        .await
        .unwrap_err();
    assert_eq!(e.codes(), vec![Code::PermissionDenied]);
    for _ in 0..100 {
        if !old.is_primary() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        !old.is_primary(),
        "the old primary hears that it was demoted"
    );
    new.use_pipeline(&p4info_bytes()).unwrap();
    new.write(&[Update::insert(route(1, [10, 0, 0, 0], 8, 1))])
        .await
        .unwrap();
}

#[tokio::test]
async fn a_wrong_device_id_fails_arbitration() {
    let (_switch, addr) = server().await;
    let err = GrpcTarget::connect(&addr.to_string(), 99, 1)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TargetError::Rpc { code, .. } if code == "NOT_FOUND"),
        "{err}"
    );
}

#[tokio::test]
async fn connection_errors_name_the_address() {
    // Bind and drop a listener to get a loopback port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let uri = format!("127.0.0.1:{port}");
    let err = GrpcTarget::connect(&uri, DEVICE, 1).await.unwrap_err();
    assert!(matches!(err, TargetError::Connect { .. }), "{err}");
    assert!(err.to_string().contains(&uri), "{err}");
}
