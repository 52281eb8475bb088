use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};

use super::*;
use crate::config;

fn seed_lab_text() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed-lab/p4vrf.toml");
    std::fs::read_to_string(path).expect("the seed lab configuration")
}

fn router_from(text: &str) -> Router {
    let config = config::parse("p4vrf.toml", text).expect("valid configuration");
    let mut router = Router::new();
    router.apply(config).expect("applies");
    router
}

fn seed_lab() -> Router {
    router_from(&seed_lab_text())
}

/// The seed lab with seed 000's `redistribute static route-map StaticToBGP` in VRF-A.
fn seed_lab_with_route_map() -> Router {
    let text = seed_lab_text().replacen(
        r#"redistribute = ["connected", "static"]"#,
        r#"redistribute = ["connected", { protocol = "static", route-map = "StaticToBGP" }]"#,
        1,
    ) + r#"
[[route-map]]
name = "StaticToBGP"
[[route-map.entry]]
seq = 10
action = "permit"
match.tag = [123]
set.community = ["no-export"]
set.community-additive = true
"#;
    router_from(&text)
}

fn ask(router: &Router, words: &str, json: bool) -> Response {
    answer(
        &ShowContext { router, bgp: None },
        &Request::new(words.split_whitespace(), json),
    )
}

fn text(router: &Router, words: &str) -> String {
    match ask(router, words, false) {
        Response::Text(t) => t,
        other => panic!("`{words}`: expected text, got {other:?}"),
    }
}

fn data(router: &Router, words: &str) -> Value {
    match ask(router, words, true) {
        Response::Data(d) => d,
        other => panic!("`{words}`: expected data, got {other:?}"),
    }
}

fn error(router: &Router, words: &str, json: bool) -> String {
    match ask(router, words, json) {
        Response::Error(e) => e,
        other => panic!("`{words}`: expected an error, got {other:?}"),
    }
}

#[test]
fn ip_route_vrf_text_is_show_output_and_json_has_every_route() {
    let r = seed_lab();
    let t = text(&r, "ip route vrf VRF-C");
    assert_eq!(
        t,
        show::ip_route_vrf(r.rib(), "VRF-C", Family::Ipv4),
        "the text is show.rs's"
    );
    assert!(
        t.contains("B +   10.1.1.0/24 [200/0] via 10.1.0.2 (VRF-A), Ethernet1, tag 123"),
        "{t}"
    );
    // A leading `show` is accepted.
    assert_eq!(text(&r, "show ip route vrf VRF-C"), t);

    let d = data(&r, "ip route vrf VRF-C");
    assert_eq!(d["vrf"], "VRF-C");
    assert_eq!(d["family"], "ipv4");
    let routes = d["routes"].as_array().unwrap();
    assert_eq!(routes.len(), 10, "{d:#}");
    let leaked = routes
        .iter()
        .find(|r| r["prefix"] == "10.1.1.0/24")
        .unwrap();
    assert_eq!(
        leaked,
        &json!({
            "prefix": "10.1.1.0/24", "protocol": "bgp", "code": "B", "distance": 200, "tag": 123,
            "leaked": {"rd": "65535:1", "vrf": "VRF-A", "protocol": "static"},
            "peer": null,
            "forward": {"type": "nexthops", "nexthops": [
                {"address": "10.1.0.2", "interface": "Ethernet1", "label": null}
            ]}
        })
    );
    let local = routes
        .iter()
        .find(|r| r["prefix"] == "10.3.0.1/32")
        .unwrap();
    assert_eq!(
        local["forward"],
        json!({"type": "receive", "interface": "Ethernet3"})
    );
    assert_eq!(local["leaked"], Value::Null);
}

#[test]
fn ipv6_route_vrf_text_and_json() {
    let r = seed_lab();
    let t = text(&r, "ipv6 route vrf VRF-A");
    assert!(t.starts_with("p4vrf# show ipv6 route vrf VRF-A\n"), "{t}");
    assert!(t.contains("2001:db8:c:1::/64"), "{t}");
    assert!(!t.contains("10.1.0.0/24"), "{t}");
    let d = data(&r, "ipv6 route vrf VRF-A");
    assert_eq!(d["family"], "ipv6");
    let prefixes: Vec<&str> = d["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["prefix"].as_str().unwrap())
        .collect();
    assert!(prefixes.contains(&"2001:db8:c:1::/64"), "{prefixes:?}");
    assert!(prefixes.iter().all(|p| p.contains(':')), "{prefixes:?}");
}

#[test]
fn an_unknown_vrf_is_an_error_in_both_forms() {
    let r = seed_lab();
    assert_eq!(
        error(&r, "ip route vrf VRF-X", false),
        "% VRF VRF-X does not exist"
    );
    assert_eq!(
        error(&r, "ipv6 route vrf VRF-X", true),
        "% VRF VRF-X does not exist"
    );
    assert_eq!(error(&r, "vrf VRF-X", false), "% VRF VRF-X does not exist");
}

#[test]
fn vpnv4_all_text_detail_aliases_and_json() {
    let r = seed_lab();
    let t = text(&r, "ip bgp vpnv4 all");
    assert_eq!(t, show::bgp_vpn_all(r.rib(), Family::Ipv4, false));
    assert!(
        t.contains("Route Distinguisher: 65535:3 (default for vrf VRF-C)"),
        "{t}"
    );
    assert_eq!(text(&r, "bgp vpnv4 all"), t);
    assert_eq!(text(&r, "bgp vpnv4 unicast all"), t);
    let detail = text(&r, "ip bgp vpnv4 all detail");
    assert_eq!(detail, show::bgp_vpn_all(r.rib(), Family::Ipv4, true));
    assert!(
        detail.contains("Extended Community: RT:65535:1"),
        "{detail}"
    );
    assert_eq!(text(&r, "bgp vpnv4 all detail"), detail);
    assert!(matches!(
        ask(&r, "ip bgp vpnv4 all details", false),
        Response::Error(_)
    ));

    let d = data(&r, "ip bgp vpnv4 all");
    assert_eq!(data(&r, "ip bgp vpnv4 all detail"), d);
    assert_eq!(d["family"], "ipv4");
    let rds = d["route_distinguishers"].as_array().unwrap();
    let rd_names: Vec<&str> = rds.iter().map(|v| v["rd"].as_str().unwrap()).collect();
    assert_eq!(rd_names, ["65535:1", "65535:2", "65535:3"]);
    assert_eq!(rds[2]["vrf"], "VRF-C");
    // Under VRF-C's RD: its own 10.3.1.0/24, and VRF-A's 10.1.1.0/24 it imported.
    let prefix = |rd: &Value, p: &str| -> Value {
        rd["prefixes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["prefix"] == p)
            .cloned()
            .unwrap_or_else(|| panic!("no {p} in {rd:#}"))
    };
    let own = &prefix(&rds[2], "10.3.1.0/24")["paths"][0];
    assert_eq!(own["best"], true);
    assert_eq!(own["valid"], true);
    assert_eq!(own["source"], json!({"vrf": "VRF-C"}));
    assert_eq!(own["imported_from"], Value::Null);
    assert_eq!(own["next_hop"], "10.3.0.2");
    assert_eq!(own["origin"], "incomplete");
    assert_eq!(own["route_targets"], json!(["65535:3"]));
    assert_eq!(own["ext_communities"], json!(["RT:65535:3"]));
    let imported = &prefix(&rds[2], "10.1.1.0/24")["paths"][0];
    assert_eq!(
        imported["imported_from"],
        json!({"rd": "65535:1", "vrf": "VRF-A"})
    );
    assert_eq!(imported["source"], json!({"vrf": "VRF-A"}));
    assert_eq!(imported["tag"], 123);
    assert_eq!(imported["label"], Value::Null);
}

#[test]
fn vpnv6_all_text_and_json() {
    let r = seed_lab();
    let t = text(&r, "bgp vpnv6 unicast all");
    assert_eq!(t, show::bgp_vpn_all(r.rib(), Family::Ipv6, false));
    assert!(t.contains("2001:db8:a:1::/64"), "{t}");
    assert_eq!(
        text(&r, "bgp vpnv6 unicast all detail"),
        show::bgp_vpn_all(r.rib(), Family::Ipv6, true)
    );
    let d = data(&r, "bgp vpnv6 unicast all");
    assert_eq!(d["family"], "ipv6");
    let first = &d["route_distinguishers"][0]["prefixes"][0];
    assert!(first["prefix"].as_str().unwrap().contains(':'), "{d:#}");
    assert_eq!(first["paths"][0]["next_hop"], "::");
}

#[test]
fn route_maps_with_their_hit_counters() {
    let r = seed_lab_with_route_map();
    let t = text(&r, "route-map");
    assert!(t.starts_with("p4vrf# show route-map\n"), "{t}");
    assert!(
        t.contains("route-map StaticToBGP, permit, sequence 10\n"),
        "{t}"
    );
    assert!(t.contains("    tag 123\n"), "{t}");
    // VRF-A's four statics went through it: the one tagged 123 matched.
    assert!(t.contains("  Matches: 1 routes\n"), "{t}");
    assert!(
        t.contains("  Permitted 1, denied 0, implicit deny 3\n"),
        "{t}"
    );
    assert_eq!(
        text(&r, "route-map StaticToBGP"),
        t.replace("show route-map\n", "show route-map StaticToBGP\n")
    );

    let d = data(&r, "route-map");
    assert_eq!(
        d,
        json!({"route_maps": [{
            "name": "StaticToBGP",
            "sequences": [{
                "seq": 10, "action": "permit",
                "match": ["tag 123"], "set": ["community no-export additive"],
                "continue": null, "hits": 1
            }],
            "permitted": 1, "denied": 0, "implicit_denied": 3
        }]})
    );
    assert_eq!(
        error(&r, "route-map Nope", true),
        "% route-map Nope does not exist"
    );

    // A neighbor's route-map in counts in the same view: the speaker's counters are added.
    let speaker_counts = policy::RouteMapStats {
        hits: vec![5],
        permitted: 5,
        denied: 0,
        implicit_denied: 2,
    };
    let bgp = FakeBgp(BTreeMap::from([(
        "StaticToBGP".to_string(),
        speaker_counts,
    )]));
    let ctx = ShowContext {
        router: &r,
        bgp: Some(&bgp),
    };
    let Response::Data(d) = answer(&ctx, &Request::new(["route-map"], true)) else {
        panic!("data")
    };
    let m = &d["route_maps"][0];
    assert_eq!(
        (
            &m["sequences"][0]["hits"],
            &m["permitted"],
            &m["implicit_denied"]
        ),
        (&json!(6), &json!(6), &json!(5)),
        "RIB (1 hit, 3 implicit denies) + speaker (5 hits, 2 implicit denies): {d}"
    );

    let plain = seed_lab();
    assert!(text(&plain, "route-map").contains("(no route-maps configured)"));
    assert_eq!(data(&plain, "route-map"), json!({"route_maps": []}));
}

#[test]
fn vrfs_with_rd_route_targets_label_and_interfaces() {
    let r = seed_lab_with_route_map();
    let t = text(&r, "vrf");
    assert!(
        t.contains(
            "VRF VRF-A; default RD 65535:1; VPN label none\n\
             \x20 Interfaces: Ethernet1\n\
             \x20 Export VPN route-target communities: RT:65535:1\n\
             \x20 Import VPN route-target communities: RT:65535:3\n\
             \x20 Redistribute: connected, static route-map StaticToBGP\n"
        ),
        "{t}"
    );
    assert!(
        t.contains("Import VPN route-target communities: RT:65535:1 RT:65535:2\n"),
        "{t}"
    );
    let one = text(&r, "vrf VRF-B");
    assert!(
        one.starts_with("p4vrf# show vrf VRF-B\nVRF VRF-B;"),
        "{one}"
    );
    assert!(!one.contains("VRF-A"), "{one}");

    let d = data(&r, "vrf");
    let vrfs = d["vrfs"].as_array().unwrap();
    assert_eq!(vrfs.len(), 3);
    assert_eq!(
        vrfs[0],
        json!({
            "name": "VRF-A", "rd": "65535:1", "import": ["65535:3"], "export": ["65535:1"],
            "vpn_label": null, "interfaces": ["Ethernet1"],
            "redistribute": [
                {"protocol": "connected", "route_map": null},
                {"protocol": "static", "route_map": "StaticToBGP"}
            ],
            "export_map": null, "import_map": null
        })
    );
    assert_eq!(data(&r, "vrf VRF-C")["vrfs"][0]["name"], "VRF-C");
}

#[test]
fn vrfs_show_their_vpn_label_with_an_mpls_core() {
    let text_cfg = seed_lab_text().replacen(
        "vrf = \"VRF-C\"\naddress",
        "vrf = \"VRF-C\"\ncore = true\naddress",
        1,
    );
    assert_ne!(text_cfg, seed_lab_text(), "the substitution applies");
    let r = router_from(&text_cfg);
    let label = r.vpn_label("VRF-A").expect("labels with a core");
    assert!(text(&r, "vrf VRF-A").contains(&format!("VPN label {label}\n")));
    assert_eq!(data(&r, "vrf VRF-A")["vrfs"][0]["vpn_label"], label);
}

#[test]
fn p4_entries_are_the_main_loops_and_formatted_here() {
    let r = seed_lab();
    assert!(error(&r, "p4 entries", false).contains("main loop"));
    assert!(Request::new(["show", "p4", "entries"], false).is_p4_entries());
    assert!(!Request::new(["p4"], false).is_p4_entries());
    let entities: Vec<p4rt::entity::Entity> =
        r.reconcile(&[]).into_iter().map(|u| u.entity).collect();
    let Response::Text(t) = p4_entries(&entities, false) else {
        panic!("text")
    };
    assert_eq!(t, show::p4_entries(&entities));
    let Response::Data(d) = p4_entries(&entities, true) else {
        panic!("data")
    };
    assert_eq!(d["count"], entities.len());
    let lines: Vec<&str> = t.lines().skip(1).collect();
    assert_eq!(d["entries"], json!(lines));
}

struct FakeBgp(BTreeMap<String, policy::RouteMapStats>);

impl BgpShow for FakeBgp {
    fn route_map_stats(&self) -> Option<&BTreeMap<String, policy::RouteMapStats>> {
        Some(&self.0)
    }

    fn show(
        &self,
        words: &[String],
        json: bool,
        _rib: &rib::Rib,
    ) -> Option<Result<Output, String>> {
        match (words.join(" ").as_str(), json) {
            ("bgp summary", false) => Some(Ok(Output::Text("BGP router identifier\n".into()))),
            ("bgp summary", true) => Some(Ok(Output::Data(json!({"neighbors": []})))),
            ("bgp neighbors 192.0.2.9", _) => Some(Err("% no such neighbor".into())),
            _ => None,
        }
    }
}

#[test]
fn bgp_commands_go_to_the_speaker_or_say_bgp_is_not_configured() {
    let r = seed_lab();
    assert_eq!(error(&r, "bgp summary", false), "% BGP is not configured");
    assert_eq!(
        error(&r, "ip bgp neighbors", true),
        "% BGP is not configured"
    );
    let bgp = FakeBgp(BTreeMap::new());
    let ctx = ShowContext {
        router: &r,
        bgp: Some(&bgp),
    };
    let ask = |words: &str, json| answer(&ctx, &Request::new(words.split_whitespace(), json));
    assert_eq!(
        ask("bgp summary", false),
        Response::Text("BGP router identifier\n".into())
    );
    assert_eq!(
        ask("show bgp summary", true),
        Response::Data(json!({"neighbors": []}))
    );
    assert_eq!(
        ask("bgp neighbors 192.0.2.9", false),
        Response::Error("% no such neighbor".into())
    );
    let Response::Error(e) = ask("bgp dampening", false) else {
        panic!("unknown to the speaker")
    };
    assert!(
        e.starts_with("% unknown command `show bgp dampening`"),
        "{e}"
    );
    // The VPN tables are ours, with or without a speaker.
    assert!(matches!(ask("bgp vpnv4 all", false), Response::Text(_)));
}

#[test]
fn help_and_unknown_commands_list_the_commands() {
    let r = seed_lab();
    let e = error(&r, "ip route", false);
    assert!(e.starts_with("% unknown command `show ip route`; the commands are:\n"));
    assert!(e.contains("  ip route vrf NAME "), "{e}");
    assert!(e.contains("  route-map [NAME] "), "{e}");
    assert!(text(&r, "help").contains("  vrf [NAME] "));
}

#[test]
fn wire_forms_of_requests_and_responses() {
    let req: Request = serde_json::from_str(r#"{"command": ["vrf"]}"#).unwrap();
    assert_eq!(req, Request::new(["vrf"], false));
    for (response, wire) in [
        (
            Response::Text("x\n".into()),
            r#"{"ok":true,"output":"x\n"}"#,
        ),
        (
            Response::Data(json!({"a": [1]})),
            r#"{"ok":true,"data":{"a":[1]}}"#,
        ),
        (
            Response::Error("% no".into()),
            r#"{"ok":false,"error":"% no"}"#,
        ),
    ] {
        assert_eq!(serde_json::to_string(&response).unwrap(), wire);
        assert_eq!(serde_json::from_str::<Response>(wire).unwrap(), response);
    }
    assert!(serde_json::from_str::<Response>(r#"{"ok":true}"#).is_err());
}

// ----- the socket ------------------------------------------------------------------------------

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("p4vrf-api-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A main loop: answers every call from the seed lab, until the channel closes.
fn spawn_main_loop(mut calls: tokio::sync::mpsc::Receiver<ApiCall>) {
    tokio::spawn(async move {
        let router = seed_lab();
        while let Some(call) = calls.recv().await {
            let response = answer(
                &ShowContext {
                    router: &router,
                    bgp: None,
                },
                &call.request,
            );
            call.respond(response);
        }
    });
}

async fn query_async(path: &std::path::Path, request: Request) -> Result<Response, ClientError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || query(&path, &request, Duration::from_secs(10)))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_answers_through_the_main_loop_and_removes_its_socket() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("serve");
    // The directory is created (0700) when missing.
    let path = dir.join("run/p4vrf.sock");
    let (server, calls) = ApiServer::start(&path).unwrap();
    spawn_main_loop(calls);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    assert_eq!(server.path(), path);

    let Response::Text(t) =
        query_async(&path, Request::new(["ip", "route", "vrf", "VRF-A"], false))
            .await
            .unwrap()
    else {
        panic!("text")
    };
    assert!(t.contains("Routing Table: VRF-A"), "{t}");
    let Response::Data(d) = query_async(&path, Request::new(["vrf"], true))
        .await
        .unwrap()
    else {
        panic!("data")
    };
    assert_eq!(d["vrfs"][2]["name"], "VRF-C");
    assert_eq!(
        query_async(&path, Request::new(["nope"], false))
            .await
            .unwrap(),
        unknown(&["nope".to_string()])
    );

    drop(server);
    assert!(!path.exists(), "the socket file is removed");
    assert!(matches!(
        query_async(&path, Request::new(["vrf"], false)).await,
        Err(ClientError::NotRunning { .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Sends raw bytes, returns the raw answer.
async fn raw(path: &std::path::Path, bytes: Vec<u8>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::UnixStream::connect(path).await.unwrap();
    // The server may answer (and close) before reading everything: ignore write errors.
    let _ = s.write_all(&bytes).await;
    let _ = s.shutdown().await;
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_malformed_and_silent_requests_are_answered_with_errors() {
    let dir = temp_dir("bad");
    let path = dir.join("s");
    let (_server, calls) = ApiServer::start(&path).unwrap();
    spawn_main_loop(calls);

    let mut big = br#"{"command": [""#.to_vec();
    big.extend(std::iter::repeat_n(b'x', MAX_REQUEST));
    big.extend(b"\"]}\n");
    let answer: Response = serde_json::from_str(&raw(&path, big).await).unwrap();
    assert_eq!(
        answer,
        Response::Error(format!("% request larger than {MAX_REQUEST} bytes"))
    );

    let answer: Response =
        serde_json::from_str(&raw(&path, b"{\"cmd\": 1}\n".to_vec()).await).unwrap();
    let Response::Error(e) = answer else {
        panic!("an error")
    };
    assert!(e.starts_with("% malformed request: "), "{e}");

    // A request without its newline is still read (the client closed its side).
    let answer: Response =
        serde_json::from_str(&raw(&path, br#"{"command": ["vrf"], "json": true}"#.to_vec()).await)
            .unwrap();
    assert!(matches!(answer, Response::Data(_)), "{answer:?}");

    // A client that says nothing is dropped after the read timeout.
    let silent = tokio::net::UnixStream::connect(&path).await.unwrap();
    let start = std::time::Instant::now();
    let mut out = String::new();
    {
        use tokio::io::AsyncReadExt;
        let mut silent = silent;
        silent.read_to_string(&mut out).await.unwrap();
    }
    assert!(
        start.elapsed() >= Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    assert!(out.contains("no request received in time"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_socket_is_replaced_but_a_live_daemon_or_a_file_is_not() {
    let dir = temp_dir("stale");
    let path = dir.join("s");
    // A dead daemon's socket: bound, never removed.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let (server, calls) = ApiServer::start(&path).expect("the stale socket is replaced");
    spawn_main_loop(calls);

    let second = ApiServer::start(&path).unwrap_err();
    assert!(matches!(second, ApiError::InUse { .. }), "{second}");
    assert!(
        second
            .to_string()
            .contains("another p4vrf daemon answers on"),
        "{second}"
    );
    // The live daemon's socket was left alone.
    assert!(matches!(
        query_async(&path, Request::new(["vrf"], false)).await,
        Ok(Response::Text(_))
    ));
    drop(server);

    let file = dir.join("f");
    std::fs::write(&file, "keep me").unwrap();
    let e = ApiServer::start(&file).unwrap_err();
    assert!(matches!(e, ApiError::NotASocket { .. }), "{e}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_client_says_when_no_daemon_listens() {
    let path = std::env::temp_dir().join(format!("p4vrf-api-none-{}/s", std::process::id()));
    let e = query(&path, &Request::new(["vrf"], false), Duration::from_secs(1)).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "no p4vrf daemon answers: is `p4vrf run` running? (socket {})",
            path.display()
        )
    );
}

/// VRF-A of the seed lab (seed 000's route-map) plus a CE neighbor's route and a remote PE's
/// VPN path importing into VRF-A by RT 65535:3.
fn vrf_a_with_bgp_paths() -> Router {
    use policy::{AsPath, Attrs, ExtCommunities, ExtCommunity, NextHop, Origin, SourceProtocol};
    use std::sync::Arc;
    let mut r = seed_lab_with_route_map();
    let ce = rib::PeerRef {
        addr: "10.1.0.2".parse().unwrap(),
        router_id: "10.1.0.2".parse().unwrap(),
        ebgp: true,
        rr_client: false,
    };
    let mut ce_attrs = Attrs::new(SourceProtocol::Bgp);
    ce_attrs.next_hop = NextHop::Addr("10.1.0.2".parse().unwrap());
    ce_attrs.as_path = AsPath::from_sequence(vec![64512]);
    ce_attrs.origin = Origin::Igp;
    ce_attrs.med = Some(7);
    let ce_attrs = Arc::new(ce_attrs);
    let pe = rib::PeerRef {
        addr: "192.0.2.9".parse().unwrap(),
        router_id: "192.0.2.9".parse().unwrap(),
        ebgp: false,
        rr_client: false,
    };
    let mut pe_attrs = Attrs::new(SourceProtocol::Bgp);
    pe_attrs.next_hop = NextHop::Addr("192.0.2.9".parse().unwrap());
    pe_attrs.local_pref = Some(100);
    pe_attrs.origin = Origin::Igp;
    pe_attrs.ext_communities =
        ExtCommunities::new([ExtCommunity::route_target("65535:3".parse().unwrap())]);
    let rib = r.rib_mut();
    // A CE route for a prefix of its own, and one beside the redistributed static 10.1.1.0/24.
    for prefix in ["10.1.7.0/24", "10.1.1.0/24"] {
        rib.upsert_peer_route("VRF-A", prefix.parse().unwrap(), ce, ce_attrs.clone())
            .unwrap();
    }
    rib.upsert_vpn_path(
        "65000:9".parse().unwrap(),
        "172.16.9.0/24".parse().unwrap(),
        pe,
        4242,
        Arc::new(pe_attrs),
    );
    let _ = r.commit().expect("commits");
    r
}

#[test]
fn bgp_vrf_table_shows_redistributed_ce_and_imported_paths_in_text_and_json() {
    let r = vrf_a_with_bgp_paths();
    let t = text(&r, "bgp vrf VRF-A ipv4 unicast");
    assert_eq!(t, text(&r, "ip bgp vrf VRF-A"), "the IOS alias");
    assert!(
        t.contains("BGP table of vrf VRF-A (route distinguisher 65535:1)"),
        "{t}"
    );
    let line = |needle: &str| -> &str {
        t.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle} in\n{t}"))
    };
    // The redistributed static beats the CE's path for the same prefix (locally originated).
    let static_best = line("10.1.1.0/24");
    assert!(static_best.starts_with("*>r"), "{static_best}");
    assert!(static_best.contains("10.1.0.2"), "{static_best}");
    let ce_second = t
        .lines()
        .skip_while(|l| !l.contains("10.1.1.0/24"))
        .nth(1)
        .unwrap();
    assert!(ce_second.starts_with("*  "), "{ce_second}");
    assert!(ce_second.ends_with("64512 i"), "{ce_second}");
    // The CE's own prefix: best, eBGP, MED 7.
    let ce = line("10.1.7.0/24");
    assert!(ce.starts_with("*> "), "{ce}");
    assert!(ce.contains("     7"), "{ce}");
    // Leaked from VRF-C (a local VRF) and imported from the remote PE with its label; the PE
    // is not reachable over a core interface in the seed lab, so its path is not valid.
    assert!(
        t.contains("imported from 65535:3:10.3.0.0/24 (vrf VRF-C)"),
        "{t}"
    );
    let pe = line("172.16.9.0/24");
    assert!(pe.starts_with("  x"), "{pe}");
    assert!(
        t.contains("imported from 65000:9:172.16.9.0/24 (neighbor 192.0.2.9, label 4242)"),
        "{t}"
    );
    assert!(t.contains("Displayed "), "{t}");
    // Untagged statics are not redistributed by StaticToBGP: 10.1.2.0/24 is not in BGP.
    assert!(!t.contains("10.1.2.0/24"), "{t}");

    let j = data(&r, "bgp vrf VRF-A ipv4 unicast");
    assert_eq!(j["vrf"], "VRF-A");
    assert_eq!(j["family"], "ipv4");
    assert_eq!(j["rd"], "65535:1");
    let prefix = |p: &str| -> Value {
        j["prefixes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["prefix"] == p)
            .unwrap_or_else(|| panic!("{p} missing in {j}"))
            .clone()
    };
    let both = prefix("10.1.1.0/24");
    assert_eq!(both["paths"][0]["kind"], "redistributed");
    assert_eq!(both["paths"][0]["protocol"], "static");
    assert_eq!(both["paths"][0]["best"], true);
    assert_eq!(
        both["paths"][0]["communities"],
        json!(["65535:65281"]),
        "JSON gives the numeric form, as the VPN view does"
    );
    assert_eq!(both["paths"][1]["kind"], "neighbor");
    assert_eq!(both["paths"][1]["peer"]["address"], "10.1.0.2");
    assert_eq!(both["paths"][1]["best"], false);
    let pe = prefix("172.16.9.0/24");
    assert_eq!(pe["paths"][0]["kind"], "imported");
    assert_eq!(pe["paths"][0]["label"], 4242);
    assert_eq!(pe["paths"][0]["valid"], false);
    assert_eq!(pe["paths"][0]["imported_from"]["rd"], "65000:9");
    assert_eq!(pe["paths"][0]["imported_from"]["neighbor"], "192.0.2.9");

    let v6 = data(&r, "bgp vrf VRF-A ipv6 unicast");
    assert_eq!(v6["family"], "ipv6");
    assert!(v6["prefixes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["prefix"].as_str().unwrap().contains(':')));
    assert!(error(&r, "bgp vrf NOPE ipv4 unicast", false).contains("VRF NOPE does not exist"));
    assert!(error(&r, "bgp vrf NOPE ipv4 unicast", true).contains("VRF NOPE does not exist"));
}
