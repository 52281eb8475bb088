//! The configuration model: a complete example compiles and behaves; every class of error is
//! reported with its `line:column`.

use super::*;
use crate::route::{AsPath, Attrs, Route};

fn errors(text: &str) -> Vec<String> {
    match parse("p4vrf.toml", text) {
        Ok(_) => vec![],
        Err(es) => es.iter().map(|e| e.to_string()).collect(),
    }
}

fn one_error(text: &str) -> String {
    let es = errors(text);
    assert_eq!(es.len(), 1, "expected one error, got {es:#?}");
    es.into_iter().next().unwrap_or_default()
}

fn eval(policy: &Policy, map: &str, r: &Route) -> Option<Route> {
    let m = &policy.route_maps[map];
    let mut st = m.new_stats();
    m.evaluate(r, &mut st).into_route()
}

const SEED_000: &str = r#"
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
fn seed_000_route_map_from_toml() {
    let p = parse("seed.toml", SEED_000).unwrap();
    let mut r = Route::new(
        "10.1.2.0/24".parse().unwrap(),
        Attrs::new(SourceProtocol::Static),
    );
    r.attrs_mut().tag = 123;
    let out = eval(&p, "StaticToBGP", &r).unwrap();
    assert!(out.attrs.communities.contains(&Community::NO_EXPORT));
    let untagged = Route::new(
        "10.1.3.0/24".parse().unwrap(),
        Attrs::new(SourceProtocol::Static),
    );
    assert!(eval(&p, "StaticToBGP", &untagged).is_none());
}

/// Every ```toml block of docs/policy.md compiles (the docs cannot rot).
#[test]
fn docs_examples_compile() {
    let doc = include_str!("../../../../docs/policy.md");
    let mut blocks = 0;
    let mut rest = doc;
    while let Some(start) = rest.find("```toml\n") {
        let body = &rest[start + 8..];
        let end = body.find("```").expect("closed block");
        let text = &body[..end];
        if let Err(es) = parse("docs/policy.md", text) {
            panic!("docs example {blocks} does not compile:\n{es:#?}\n{text}");
        }
        blocks += 1;
        rest = &body[end + 3..];
    }
    assert!(blocks >= 2, "docs/policy.md has its TOML examples");
}

const FULL: &str = r#"
[[prefix-list]]
name = "CUSTOMERS"
entry = [
  { seq = 5, action = "deny", prefix = "10.99.0.0/16", le = 32 },
  { seq = 10, action = "permit", prefix = "10.0.0.0/8", ge = 16, le = 24 },
]

[[prefix-list]]
name = "V6"
entry = [{ action = "permit", prefix = "2001:db8::/32", le = 48 }]

[[community-list]]
name = "NOEXP"
entry = [{ action = "permit", communities = ["no-export"] }]

[[community-list]]
name = "FROM-65001"
type = "expanded"
entry = [{ action = "permit", regex = "^65001:" }]

[[extcommunity-list]]
name = "RT-A"
entry = [{ action = "permit", rt = ["65000:1"] }]

[[large-community-list]]
name = "LC"
entry = [{ action = "permit", communities = ["65000:1:2"] }]

[[as-path-list]]
name = "VIA-65002"
entry = [
  { action = "deny", regex = "_666_" },
  { action = "permit", regex = "^65002_" },
]

[[route-map]]
name = "IMPORT"
family = "ipv4"

[[route-map.entry]]
seq = 10
action = "deny"
match.as-path = ["VIA-65002"]
match.community = ["NOEXP"]

[[route-map.entry]]
seq = 20
action = "permit"
match.prefix-list = ["CUSTOMERS"]
set.local-preference = 200
set.metric = "+10"
set.as-path-prepend = [65001, 65001]
set.next-hop = "192.0.2.1"
continue = 30

[[route-map.entry]]
seq = 30
action = "permit"
match.extcommunity = ["RT-A"]
set.extcommunity-rt = ["65000:9"]
set.extcommunity-rt-additive = true
set.comm-list-delete = "FROM-65001"

[[route-map.entry]]
seq = 40
action = "permit"
match.large-community = ["LC"]
match.origin = ["igp", "egp"]
match.metric = 100
match.metric-deviation = 5
match.source-protocol = ["bgp"]
match.route-type = ["external"]
set.large-community-none = true
set.weight = 10
set.origin = "igp"
set.tag = 9
set.next-hop = "self"
"#;

#[test]
fn full_example_compiles_and_evaluates() {
    let p = parse("full.toml", FULL).unwrap();
    assert_eq!(p.prefix_lists.len(), 2);
    assert_eq!(p.route_maps["IMPORT"].sequences().len(), 4);
    let mut a = Attrs::new(SourceProtocol::Bgp);
    a.med = Some(1);
    a.ext_communities =
        crate::route::ExtCommunities::new([ExtCommunity::route_target("65000:1".parse().unwrap())]);
    a.communities =
        crate::route::Communities::new([Community::new(65001, 5), Community::new(7, 7)]);
    let r = Route::new("10.1.0.0/16".parse().unwrap(), a);
    let out = eval(&p, "IMPORT", &r).unwrap();
    assert_eq!(out.attrs.local_pref, Some(200));
    assert_eq!(out.attrs.med, Some(11));
    assert_eq!(out.attrs.as_path.text(), "65001 65001");
    assert_eq!(
        out.attrs.ext_communities.len(),
        2,
        "RT additive via continue 30"
    );
    assert_eq!(out.attrs.communities.text(), "7:7", "65001:* deleted");
    // Denied by 10: through 65002 and carrying no-export.
    let mut d = Attrs::new(SourceProtocol::Bgp);
    d.as_path = AsPath::from_sequence(vec![65002, 1]);
    d.communities = crate::route::Communities::new([Community::NO_EXPORT]);
    assert!(eval(&p, "IMPORT", &Route::new("10.1.0.0/16".parse().unwrap(), d)).is_none());
}

#[test]
fn unknown_names_are_reported_where_they_are_used() {
    let text = r#"
[[route-map]]
name = "M"
[[route-map.entry]]
seq = 10
action = "permit"
match.prefix-list = ["NOPE"]
match.community = ["NOC"]
match.extcommunity = ["NOX"]
match.large-community = ["NOL"]
match.as-path = ["NOA"]
match.next-hop-prefix-list = ["NON"]
set.comm-list-delete = "NOD"
"#;
    let es = errors(text);
    assert_eq!(
        es,
        vec![
            "p4vrf.toml:7:22: unknown prefix-list `NOPE`",
            "p4vrf.toml:8:20: unknown community-list `NOC`",
            "p4vrf.toml:9:23: unknown extcommunity-list `NOX`",
            "p4vrf.toml:10:26: unknown large-community-list `NOL`",
            "p4vrf.toml:11:18: unknown as-path-list `NOA`",
            "p4vrf.toml:12:31: unknown prefix-list `NON`",
            "p4vrf.toml:13:24: unknown community-list `NOD`",
        ]
    );
}

#[test]
fn bad_regexes_are_reported() {
    let e = one_error(
        r#"
[[as-path-list]]
name = "A"
entry = [{ action = "permit", regex = "_(65001_" }]
"#,
    );
    assert!(
        e.starts_with("p4vrf.toml:4:39: bad regular expression `_(65001_`"),
        "{e}"
    );
    let e = one_error(
        r#"
[[community-list]]
name = "C"
type = "expanded"
entry = [{ action = "permit", regex = "[65001" }]
"#,
    );
    assert!(
        e.starts_with("p4vrf.toml:5:39: bad regular expression"),
        "{e}"
    );
    let e = one_error(
        r#"
[[gated-export]]
proto = "bgp"
as = 65002
[[gated-export.source]]
proto = "all"
aspath = "65001 (.*"
"#,
    );
    assert!(
        e.starts_with("p4vrf.toml:7:10: bad regular expression `65001 (.*`"),
        "{e}"
    );
}

#[test]
fn duplicate_sequence_numbers_and_names() {
    let text = r#"
[[route-map]]
name = "M"
[[route-map.entry]]
seq = 10
action = "permit"
[[route-map.entry]]
seq = 10
action = "deny"

[[prefix-list]]
name = "P"
entry = [
  { seq = 5, action = "permit", prefix = "10.0.0.0/8" },
  { seq = 5, action = "deny", prefix = "11.0.0.0/8" },
]

[[prefix-list]]
name = "P"
"#;
    assert_eq!(
        errors(text),
        vec![
            "p4vrf.toml:8:7: sequence 10 is used twice in route-map `M`",
            "p4vrf.toml:15:11: sequence 5 is used twice in prefix-list `P`",
            "p4vrf.toml:19:8: prefix-list `P` is defined twice",
        ]
    );
}

#[test]
fn next_hop_of_the_wrong_family() {
    // Declared IPv4-only map.
    let e = one_error(
        r#"
[[route-map]]
name = "V4"
family = "ipv4"
[[route-map.entry]]
seq = 10
action = "permit"
set.next-hop = "2001:db8::1"
"#,
    );
    assert_eq!(
        e,
        "p4vrf.toml:8:16: IPv6 next hop 2001:db8::1 in route-map `V4`, which is IPv4 only"
    );
    // Undeclared, but the sequence only matches IPv4 prefixes.
    let e = one_error(
        r#"
[[prefix-list]]
name = "P4"
entry = [{ action = "permit", prefix = "10.0.0.0/8", le = 32 }]
[[route-map]]
name = "M"
[[route-map.entry]]
seq = 10
action = "permit"
match.prefix-list = ["P4"]
set.next-hop = "2001:db8::1"
"#,
    );
    assert!(
        e.starts_with("p4vrf.toml:11:16: IPv6 next hop 2001:db8::1 in sequence 10"),
        "{e}"
    );
    // A declared family that a prefix list contradicts.
    let e = one_error(
        r#"
[[prefix-list]]
name = "P6"
entry = [{ action = "permit", prefix = "2001:db8::/32" }]
[[route-map]]
name = "M"
family = "ipv4"
[[route-map.entry]]
seq = 10
action = "permit"
match.prefix-list = ["P6"]
"#,
    );
    assert!(e.contains("can never match"), "{e}");
    // Mixed families in one prefix list.
    let e = one_error(
        r#"
[[prefix-list]]
name = "MIX"
entry = [
  { action = "permit", prefix = "10.0.0.0/8" },
  { action = "permit", prefix = "2001:db8::/32" },
]
"#,
    );
    assert!(
        e.starts_with("p4vrf.toml:6:33: prefix-list `MIX` is IPv4 but"),
        "{e}"
    );
}

#[test]
fn value_errors() {
    let cases: &[(&str, &str)] = &[
        (
            r#"[[prefix-list]]
name = "P"
entry = [{ action = "permit", prefix = "10.1.0.0/8" }]"#,
            "p4vrf.toml:3:40: 10.1.0.0/8 has host bits set; did you mean 10.0.0.0/8?",
        ),
        (
            r#"[[prefix-list]]
name = "P"
entry = [{ action = "permit", prefix = "10.0.0.0/8", ge = 8 }]"#,
            "p4vrf.toml:3:59: `ge 8` must be longer than the prefix length 8 (IOS: len < ge <= le <= 32)",
        ),
        (
            r#"[[prefix-list]]
name = "P"
entry = [{ action = "allow", prefix = "10.0.0.0/8" }]"#,
            "p4vrf.toml:3:21: unknown variant `allow`, expected `permit` or `deny`",
        ),
        (
            r#"[[community-list]]
name = "C"
entry = [{ action = "permit", communities = ["no-exprot"] }]"#,
            "p4vrf.toml:3:46: `no-exprot` is not a valid community: expected ASN:NN, a 32-bit number or a well-known name such as no-export",
        ),
        (
            r#"[[community-list]]
name = "C"
entry = [{ action = "permit", regex = "^1:" }]"#,
            "p4vrf.toml:3:39: a standard community-list entry lists values; `regex` needs `type = \"expanded\"`",
        ),
        (
            r#"[[route-map]]
name = "M"
[[route-map.entry]]
seq = 10
action = "permit"
set.community = ["1:1"]
set.community-none = true"#,
            "p4vrf.toml:6:17: `community` and `community-none` exclude each other",
        ),
        (
            r#"[[route-map]]
name = "M"
[[route-map.entry]]
seq = 10
action = "permit"
set.metric = "x5""#,
            "p4vrf.toml:6:14: `metric` is a number, or a string \"+N\" / \"-N\" relative to the route's MED",
        ),
        (
            r#"[[route-map]]
name = "M"
[[route-map.entry]]
seq = 10
action = "permit"
continue = 5"#,
            "p4vrf.toml:6:12: `continue 5` must go to a later sequence than 10",
        ),
        (
            r#"[[route-map]]
name = "M"
[[route-map.entry]]
seq = 10
action = "permit"
continue = 20"#,
            "p4vrf.toml:6:12: `continue 20`: route-map `M` has no sequence 20",
        ),
        (
            r#"[[route-map]]
name = "M"
[[route-map.entry]]
seq = 10
action = "permit"
match.colour = "red""#,
            "p4vrf.toml:6:7: unknown field `colour`, expected one of `tag`, `prefix-list`, `next-hop-prefix-list`, `community`, `community-exact-match`, `extcommunity`, `large-community`, `as-path`, `origin`, `metric`, `metric-deviation`, `source-protocol`, `route-type`",
        ),
        (
            r#"[[route-map]]
name = "M"
[[route-map.entry]]
seq = 10
action = "permit"
set.as-path-prepend-last-as = 11"#,
            "p4vrf.toml:6:31: `as-path-prepend-last-as` is 1..=10, as in IOS",
        ),
        (
            r#"[[route-map]]
name = "M"
[[route-map.entry]]
seq = 10
action = "permit"
set.next-hop = "router""#,
            "p4vrf.toml:6:16: next hop `router` is neither an IP address nor `self`",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(one_error(text), *want, "{text}");
    }
}

#[test]
fn gated_errors() {
    let cases: &[(&str, &str)] = &[
        (
            r#"[[gated-export]]
proto = "ospfase"
as = 1"#,
            "p4vrf.toml:2:9: `export proto ospfase`: p4vrf exports only to BGP (`proto = \"bgp\"`)",
        ),
        (
            r#"[[gated-export]]
proto = "bgp"
as = 1
restrict = true
metric = 5"#,
            "p4vrf.toml:4:12: a destination with `restrict` exports nothing: it takes no `metric` and no sources",
        ),
        (
            r#"[[gated-export]]
proto = "bgp"
as = 1
[[gated-export.source]]
proto = "static"
as = 65001"#,
            "p4vrf.toml:6:6: `as` selects BGP routes by neighbor AS: only with `proto = \"bgp\"`",
        ),
        (
            r#"[[gated-export]]
proto = "bgp"
as = 1
[[gated-export.source]]
proto = "all""#,
            "p4vrf.toml:5:9: `proto = \"all\"` needs `aspath` or `tag`",
        ),
        (
            r#"[[gated-export]]
proto = "bgp"
as = 1
[[gated-export.source]]
proto = "static"
filter = ["10.0.0.0 masklen 8", "10.0.0.0 mask 255.0.0.0"]"#,
            "p4vrf.toml:6:33: route filter `10.0.0.0 mask 255.0.0.0` duplicates an earlier one (same network, mask and modifier)",
        ),
        (
            r#"[[gated-export]]
proto = "bgp"
as = 1
[[gated-export.source]]
proto = "static"
restrict = true
filter = ["all"]"#,
            "p4vrf.toml:6:12: a source with `restrict` exports nothing: it takes no `metric` and no filters",
        ),
        (
            r#"[[gated-export]]
proto = "bgp"
as = 1
[[gated-export.source]]
proto = "static"
filter = ["10.0.0.0 masklen 8 metric 5 restrict"]"#,
            "p4vrf.toml:6:11: unexpected `restrict` after the route filter (restrict and metric exclude each other)",
        ),
        (
            r#"[[gated-export]]
proto = "bgp"
as = 1
[[gated-export.source]]
proto = "all"
aspath = ".*"
origin = ["igp", "bgp"]"#,
            "p4vrf.toml:7:10: origin `bgp`: expected `any` or a list of igp, egp, incomplete",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(one_error(text), *want, "{text}");
    }
}

#[test]
fn all_errors_at_once_sorted_by_position() {
    let text = r#"
[[as-path-list]]
name = "A"
entry = [{ action = "permit", regex = "(" }]
[[route-map]]
name = "M"
[[route-map.entry]]
seq = 10
action = "permit"
match.prefix-list = ["X"]
"#;
    let es = errors(text);
    assert_eq!(es.len(), 2, "{es:#?}");
    assert!(es[0].starts_with("p4vrf.toml:4:"), "{es:#?}");
    assert!(es[1].starts_with("p4vrf.toml:10:"), "{es:#?}");
}
