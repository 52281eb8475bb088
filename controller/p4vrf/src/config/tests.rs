use super::*;

const SEED_LAB: &str = include_str!("../../../../examples/seed-lab/p4vrf.toml");

#[test]
fn seed_lab_is_valid() {
    let config = parse("seed.toml", SEED_LAB).unwrap();
    assert_eq!(config.vrfs.len(), 3);
    assert_eq!(config.interfaces.len(), 3);
    let c = &config.vrfs["VRF-C"];
    assert_eq!(c.policy.import.len(), 2);
    assert_eq!(c.statics.len(), 4);
    assert_eq!(config.vrfs["VRF-A"].statics[0].tag, 123);
}

/// Parses `text` and returns the single error as `line:column: message`.
fn one_error(text: &str) -> String {
    let errors = parse("t.toml", text).expect_err("should be rejected").0;
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = &errors[0];
    format!("{}:{}: {}", e.line, e.column, e.message)
}

const HEAD: &str = "[router]\nmac = \"02:00:00:00:00:01\"\n";

#[test]
fn unknown_vrf_is_located() {
    let text = format!("{HEAD}[[interface]]\nname = \"e1\"\nport = 1\nvrf = \"nope\"\n");
    assert_eq!(
        one_error(&text),
        "6:7: interface `e1` refers to unknown VRF `nope`"
    );
}

#[test]
fn malformed_rd_and_rt_are_located() {
    let text = format!("{HEAD}[[vrf]]\nname = \"a\"\nrd = \"65535\"\n");
    assert!(one_error(&text).starts_with("5:6: `65535` is not a valid route distinguisher"));
    let text = format!(
        "{HEAD}[[vrf]]\nname = \"a\"\nrd = \"1:1\"\nroute-target = {{ import = [\"1.2.3.4:70000\"] }}\n"
    );
    let e = one_error(&text);
    assert!(
        e.starts_with("6:28: `1.2.3.4:70000` is not a valid route target"),
        "{e}"
    );
}

#[test]
fn route_targets_need_an_rd() {
    let text = format!("{HEAD}[[vrf]]\nname = \"a\"\nroute-target = {{ both = [\"1:1\"] }}\n");
    assert!(one_error(&text).contains("has route targets but no `rd`"));
}

#[test]
fn duplicate_rd_is_rejected() {
    let text =
        format!("{HEAD}[[vrf]]\nname = \"a\"\nrd = \"1:1\"\n[[vrf]]\nname = \"b\"\nrd = \"1:1\"\n");
    assert_eq!(
        one_error(&text),
        "8:6: route distinguisher 1:1 is already used by VRF `a`"
    );
}

#[test]
fn overlapping_interface_addresses_in_one_vrf() {
    let text = format!(
        "{HEAD}[[vrf]]\nname = \"a\"\n\
         [[interface]]\nname = \"e1\"\nport = 1\nvrf = \"a\"\naddress = [\"10.0.0.1/16\"]\n\
         [[interface]]\nname = \"e2\"\nport = 2\nvrf = \"a\"\naddress = [\"10.0.5.1/24\"]\n"
    );
    assert_eq!(
        one_error(&text),
        "14:12: address 10.0.5.1/24 overlaps 10.0.0.0/16 of interface `e1` in VRF `a`"
    );
    // The same subnet in two VRFs is fine: that is what VRFs are for.
    let ok = format!(
        "{HEAD}[[vrf]]\nname = \"a\"\n[[vrf]]\nname = \"b\"\n\
         [[interface]]\nname = \"e1\"\nport = 1\nvrf = \"a\"\naddress = [\"10.0.0.1/24\"]\n\
         [[interface]]\nname = \"e2\"\nport = 2\nvrf = \"b\"\naddress = [\"10.0.0.1/24\"]\n"
    );
    parse("t.toml", &ok).unwrap();
}

#[test]
fn bad_mac_is_located() {
    let text = "[router]\nmac = \"02:00:00:00:00\"\n";
    assert!(one_error(text).starts_with("2:7: `02:00:00:00:00` is not a MAC address"));
    let text = "[router]\nmac = \"01:00:5e:00:00:01\"\n";
    assert!(one_error(text).contains("multicast"));
}

#[test]
fn duplicate_names_are_rejected() {
    let text = format!("{HEAD}[[vrf]]\nname = \"a\"\n[[vrf]]\nname = \"a\"\n");
    assert_eq!(one_error(&text), "6:8: VRF `a` is defined twice");
    let text = format!(
        "{HEAD}[[vrf]]\nname = \"a\"\n[[interface]]\nname = \"e\"\nport = 1\nvrf = \"a\"\n\
         [[interface]]\nname = \"e\"\nport = 2\nvrf = \"a\"\n"
    );
    assert_eq!(one_error(&text), "10:8: interface `e` is defined twice");
}

#[test]
fn duplicate_port_and_vlan() {
    let text = format!(
        "{HEAD}[[vrf]]\nname = \"a\"\n[[interface]]\nname = \"e1\"\nport = 1\nvlan = 10\nvrf = \"a\"\n\
         [[interface]]\nname = \"e2\"\nport = 1\nvlan = 10\nvrf = \"a\"\n"
    );
    assert_eq!(
        one_error(&text),
        "12:8: port 1 VLAN 10 is already used by interface `e1`"
    );
}

#[test]
fn static_route_checks() {
    let base = format!(
        "{HEAD}[[interface]]\nname = \"e1\"\nport = 1\nvrf = \"a\"\naddress = [\"10.0.0.1/24\"]\n\
         [[interface.neighbor]]\nip = \"10.0.0.2\"\nmac = \"02:00:00:00:00:02\"\n[[vrf]]\nname = \"a\"\n"
    );
    let with = |s: &str| format!("{base}[[vrf.static]]\n{s}\n");
    parse(
        "t.toml",
        &with("prefix = \"10.9.0.0/16\"\nnext-hop = [\"10.0.0.2\"]"),
    )
    .unwrap();
    assert_eq!(
        one_error(&with("prefix = \"10.9.0.1/16\"\nnext-hop = [\"10.0.0.2\"]")),
        "14:10: `10.9.0.1/16` has host bits set; did you mean 10.9.0.0/16?"
    );
    assert!(
        one_error(&with("prefix = \"10.9.0.0/16\"\nnext-hop = [\"10.0.0.3\"]"))
            .starts_with("15:13: next hop 10.0.0.3 is not a configured neighbor")
    );
    assert!(one_error(&with("prefix = \"10.9.0.0/16\"")).contains("needs `next-hop"));
    assert!(one_error(&with(
        "prefix = \"2001:db8::/32\"\nnext-hop = [\"10.0.0.2\"]"
    ))
    .contains("not of the same address family"));
    parse(
        "t.toml",
        &with("prefix = \"10.9.0.0/16\"\nblackhole = true\ntag = 123"),
    )
    .unwrap();
}

#[test]
fn neighbor_must_be_on_the_interface_subnet() {
    let text = format!(
        "{HEAD}[[vrf]]\nname = \"a\"\n[[interface]]\nname = \"e1\"\nport = 1\nvrf = \"a\"\naddress = [\"10.0.0.1/24\"]\n\
         [[interface.neighbor]]\nip = \"10.0.1.2\"\nmac = \"02:00:00:00:00:02\"\n"
    );
    assert_eq!(
        one_error(&text),
        "11:6: neighbor 10.0.1.2 is not inside any address of interface `e1`"
    );
}

#[test]
fn toml_syntax_and_unknown_keys_are_located() {
    let e = one_error("[router]\nmac = \"02:00:00:00:00:01\"\ncolour = 1\n");
    assert!(e.starts_with("3:1: unknown field `colour`"), "{e}");
    let e = one_error("[router\n");
    assert!(e.starts_with("1:"), "{e}");
}

#[test]
fn every_error_is_reported_at_once() {
    let text = format!("{HEAD}[[vrf]]\nname = \"a\"\nrd = \"x\"\n[[interface]]\nname = \"e\"\nport = 255\nvrf = \"b\"\n");
    let errors = parse("t.toml", &text).unwrap_err().0;
    assert_eq!(errors.len(), 3, "{errors:?}");
}

const SEED_000_POLICY: &str = r#"
[[route-map]]
name = "StaticToBGP"
[[route-map.entry]]
seq = 10
action = "permit"
match.tag = [123]
set.community = ["no-export"]
set.community-additive = true
"#;

#[test]
fn redistribution_through_a_route_map_and_vrf_maps() {
    let text = format!(
        "{HEAD}{SEED_000_POLICY}[[vrf]]\nname = \"a\"\nrd = \"1:1\"\nredistribute = [\"connected\", {{ protocol = \"static\", route-map = \"StaticToBGP\" }}]\nexport-map = \"StaticToBGP\"\nmaximum-paths = 4\n"
    );
    let config = parse("t.toml", &text).unwrap();
    let p = &config.vrfs["a"].policy;
    assert_eq!(p.redistribute[&Protocol::Connected], None);
    assert_eq!(
        p.redistribute[&Protocol::Static].as_ref().map(|m| m.name()),
        Some("StaticToBGP")
    );
    assert_eq!(p.export_map.as_ref().map(|m| m.name()), Some("StaticToBGP"));
    assert_eq!(p.decision.maximum_paths, 4);
    assert!(config.policy.0.route_maps.contains_key("StaticToBGP"));
    // The same text parsed twice is the same configuration (a reload changes nothing).
    assert_eq!(config, parse("t.toml", &text).unwrap());
}

#[test]
fn unknown_route_map_references_are_located() {
    let text = format!(
        "{HEAD}[[vrf]]\nname = \"a\"\nrd = \"1:1\"\nredistribute = [{{ protocol = \"static\", route-map = \"Nope\" }}]\n"
    );
    assert_eq!(one_error(&text), "6:17: unknown route-map `Nope`");
    let text = format!("{HEAD}[[vrf]]\nname = \"a\"\nrd = \"1:1\"\nimport-map = \"Nope\"\n");
    assert_eq!(one_error(&text), "6:14: unknown route-map `Nope`");
    let text =
        format!("{HEAD}[[vrf]]\nname = \"a\"\nexport-map = \"StaticToBGP\"\n{SEED_000_POLICY}");
    assert!(one_error(&text).contains("has an export or import map but no `rd`"));
}

#[test]
fn policy_errors_are_located_in_the_same_file() {
    let text = format!(
        "{HEAD}[[route-map]]\nname = \"M\"\n[[route-map.entry]]\nseq = 10\naction = \"permit\"\nmatch.prefix-list = [\"MISSING\"]\n[[route-map.entry]]\nseq = 10\naction = \"deny\"\n"
    );
    let errors = parse("t.toml", &text).expect_err("rejected").0;
    let msgs: Vec<String> = errors
        .iter()
        .map(|e| format!("{}:{}: {}", e.line, e.column, e.message))
        .collect();
    assert_eq!(
        msgs,
        vec![
            "8:22: unknown prefix-list `MISSING`".to_string(),
            "10:7: sequence 10 is used twice in route-map `M`".to_string()
        ]
    );
    // A route-map with errors is still a known name: no second "unknown route-map" error.
    let text = format!("{text}[[vrf]]\nname = \"a\"\nrd = \"1:1\"\nexport-map = \"M\"\n");
    assert_eq!(parse("t.toml", &text).expect_err("rejected").0.len(), 2);
}

const BGP: &str = r#"
[[vrf]]
name = "CUST"
rd = "65001:1"

[bgp]
asn = 65001
router-id = "1.1.1.1"
listen = ["127.0.0.1:1179"]

[[bgp.template]]
name = "IBGP"
remote-as = 65001
send-community = ["standard", "large"]
hold-time = 30

[[bgp.neighbor]]
address = "127.0.0.2"
template = "IBGP"
hold-time = 9

[[bgp.neighbor]]
address = "127.0.0.3"
remote-as = 65002
vrf = "CUST"
relationship = "customer"
"#;

#[test]
fn bgp_neighbors_take_their_template_and_vrf_neighbors_carry_unicast() {
    let c = parse("t.toml", &format!("{HEAD}{BGP}")).unwrap();
    let b = c.bgp.as_ref().unwrap();
    assert_eq!(b.listen, vec!["127.0.0.1:1179".parse().unwrap()]);
    let pe = &b.neighbors[&"127.0.0.2".parse().unwrap()];
    assert_eq!(pe.remote_as, 65001);
    assert_eq!(
        pe.hold_time, 9,
        "the neighbor's own setting wins over the template"
    );
    assert!(pe.send_community.standard && pe.send_community.large);
    assert!(
        pe.send_community.extended,
        "VPN sessions always carry route targets"
    );
    assert_eq!(
        pe.families,
        vec![::bgp::packet::Family::Vpnv4, ::bgp::packet::Family::Vpnv6]
    );
    let ce = &b.neighbors[&"127.0.0.3".parse().unwrap()];
    assert_eq!(ce.families, vec![::bgp::packet::Family::Ipv4Unicast]);
    assert_eq!(ce.relationship, policy::Relationship::Customer);
    assert_eq!(
        ce.send_community,
        policy::SendCommunity::NONE,
        "IOS default"
    );
}

#[test]
fn bgp_errors_are_located() {
    let text = format!("{HEAD}{BGP}").replace("template = \"IBGP\"", "template = \"NOPE\"");
    assert!(one_error(&text).ends_with("unknown template `NOPE`"));
    let text =
        format!("{HEAD}{BGP}").replace("vrf = \"CUST\"\nrelationship", "vrf = \"X\"\nrelationship");
    assert!(one_error(&text).ends_with("neighbor 127.0.0.3 refers to unknown VRF `X`"));
    let text = format!("{HEAD}{BGP}").replace("\"customer\"", "\"friend\"");
    assert!(one_error(&text).contains("relationship `friend`"));
    let text = format!("{HEAD}{BGP}").replace(
        "remote-as = 65002\n",
        "remote-as = 65002\nfamilies = [\"vpnv4\"]\n",
    );
    assert!(one_error(&text).contains("vpnv4 on neighbor 127.0.0.3"));
    let text = format!("{HEAD}{BGP}").replace(
        "relationship = \"customer\"",
        "relationship = \"customer\"\nnext-hop-ipv6 = \"10.0.0.1\"",
    );
    let e = one_error(&text);
    assert!(
        e.contains("29:17: ") && e.ends_with("next-hop-ipv6 `10.0.0.1` is not an IPv6 address"),
        "{e}"
    );
}

#[test]
fn a_ce_neighbor_can_have_an_ipv6_next_hop_beside_its_ipv4_one() {
    let text = format!("{HEAD}{BGP}").replace(
        "relationship = \"customer\"",
        "relationship = \"customer\"\nfamilies = [\"ipv4-unicast\", \"ipv6-unicast\"]\n\
         next-hop = \"10.0.0.1\"\nnext-hop-ipv6 = \"2001:db8::1\"",
    );
    let c = parse("t.toml", &text).unwrap();
    let ce = &c.bgp.as_ref().unwrap().neighbors[&"127.0.0.3".parse().unwrap()];
    assert_eq!(ce.next_hop, Some("10.0.0.1".parse().unwrap()));
    assert_eq!(ce.next_hop_ipv6, Some("2001:db8::1".parse().unwrap()));
}

/// A core interface with one neighbor and `lsp` lines under it.
fn with_lsp(core: bool, lsp: &str) -> String {
    format!(
        "{HEAD}[[vrf]]\nname = \"core\"\n\n[[interface]]\nname = \"c0\"\nport = 9\nvrf = \"core\"\n\
         address = [\"10.255.0.1/30\"]\ncore = {core}\n  [[interface.neighbor]]\n  \
         ip = \"10.255.0.2\"\n  mac = \"02:00:00:00:ff:02\"\n{lsp}"
    )
}

#[test]
fn static_lsps_hang_off_core_neighbors() {
    let c = parse(
        "t.toml",
        &with_lsp(
            true,
            "    [[interface.neighbor.lsp]]\n    to = \"192.0.2.9\"\n    label = 3001\n\
             [[interface.neighbor.lsp]]\n    to = \"192.0.2.10\"\n    label = 3\n",
        ),
    )
    .unwrap();
    let lsp = &c.lsps[&"192.0.2.9".parse().unwrap()];
    assert_eq!(
        (lsp.interface.as_str(), lsp.next_hop, lsp.label),
        ("c0", "10.255.0.2".parse().unwrap(), 3001)
    );
    assert_eq!(c.lsps[&"192.0.2.10".parse().unwrap()].label, 3);
}

#[test]
fn static_lsp_errors_are_located() {
    let lsp = |to: &str, label: u32| {
        format!("    [[interface.neighbor.lsp]]\n    to = \"{to}\"\n    label = {label}\n")
    };
    assert_eq!(
        one_error(&with_lsp(false, &lsp("192.0.2.9", 3001))),
        "16:10: an LSP needs a core interface: set `core = true` on `c0`"
    );
    assert_eq!(
        one_error(&with_lsp(true, &lsp("192.0.2.9", 7))),
        "17:13: transport label 7 is not usable: 16..=1048575, or 3 (implicit null)"
    );
    assert_eq!(
        one_error(&with_lsp(true, &lsp("pe9", 3001))),
        "16:10: LSP destination `pe9` is not an IP address"
    );
    let twice = format!("{}{}", lsp("192.0.2.9", 3001), lsp("192.0.2.9", 3002));
    assert_eq!(
        one_error(&with_lsp(true, &twice)),
        "19:10: there is already an LSP to 192.0.2.9; one path per remote PE"
    );
}

#[test]
fn graceful_restart_is_off_unless_asked_for_and_its_times_are_checked() {
    let c = parse("t.toml", &format!("{HEAD}{BGP}")).unwrap();
    let b = c.bgp.as_ref().unwrap();
    assert!(b.neighbors.values().all(|n| n.graceful_restart.is_none()));

    // On in the template, with the neighbor's own restart time.
    let text = format!("{HEAD}{BGP}")
        .replace(
            "hold-time = 30\n",
            "hold-time = 30\ngraceful-restart = true\n",
        )
        .replace("hold-time = 9\n", "hold-time = 9\nrestart-time = 60\n");
    let c = parse("t.toml", &text).unwrap();
    let gr = c.bgp.as_ref().unwrap().neighbors[&"127.0.0.2".parse().unwrap()]
        .graceful_restart
        .expect("on from the template");
    assert_eq!(gr.restart_time, 60);
    assert_eq!(gr.stale_routes_time, std::time::Duration::from_secs(360));

    let with = |extra: &str| {
        format!("{HEAD}{BGP}").replace(
            "relationship = \"customer\"",
            &format!("relationship = \"customer\"\n{extra}"),
        )
    };
    let c = parse(
        "t.toml",
        &with("graceful-restart = true\nstale-path-time = 30"),
    )
    .unwrap();
    let gr = c.bgp.as_ref().unwrap().neighbors[&"127.0.0.3".parse().unwrap()]
        .graceful_restart
        .unwrap();
    assert_eq!((gr.restart_time, gr.stale_routes_time.as_secs()), (120, 30));
    assert_eq!(
        one_error(&with("graceful-restart = true\nrestart-time = 4096")),
        "30:16: restart-time 4096: must be 1 to 4095 seconds (RFC 4724: 12 bits)"
    );
    assert_eq!(
        one_error(&with("graceful-restart = true\nstale-path-time = 0")),
        "30:19: stale-path-time must be at least 1 second"
    );
    assert_eq!(
        one_error(&with("restart-time = 60")),
        "29:16: restart-time on neighbor 127.0.0.3 without `graceful-restart = true`: it would do nothing"
    );
}
