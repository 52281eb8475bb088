//! One test per row of the GateD semantics table in `docs/policy.md`.

use super::*;
use crate::route::{AsPath, Attrs, Route};

const DEST: u32 = 65002;

fn route(prefix: &str, proto: SourceProtocol) -> Route {
    let mut a = Attrs::new(proto);
    a.med = None;
    Route::new(prefix.parse().unwrap(), a)
}

fn bgp(prefix: &str, peer_as: u32, path: &[u32], origin: Origin) -> Route {
    let mut a = Attrs::new(SourceProtocol::Bgp);
    a.peer_as = Some(peer_as);
    a.as_path = AsPath::from_sequence(path.to_vec());
    a.origin = origin;
    Route::new(prefix.parse().unwrap(), a)
}

fn filters(lines: &[&str]) -> Vec<Filter> {
    lines.iter().map(|l| parse_filter(l).unwrap()).collect()
}

fn source(criteria: SourceCriteria, metric: Option<u32>, lines: &[&str]) -> Source {
    Source {
        criteria,
        body: SourceBody::Export {
            metric,
            filters: filters(lines),
        },
    }
}

fn stmt(metric: Option<u32>, sources: Vec<Source>) -> ExportStatement {
    ExportStatement {
        dest_as: DEST,
        body: DestBody::Export { metric, sources },
    }
}

/// `None`: not exported; `Some(med)`: exported with that MED.
fn export(stmts: &[ExportStatement], dest: u32, r: &Route) -> Option<Option<u32>> {
    let g = GatedExport::compile(stmts);
    let map = g.route_map_for(dest);
    let mut st = map.new_stats();
    map.evaluate(r, &mut st).into_route().map(|r| r.attrs.med)
}

fn exported(stmts: &[ExportStatement], r: &Route) -> bool {
    export(stmts, DEST, r).is_some()
}

fn statics_with(lines: &[&str]) -> Vec<ExportStatement> {
    vec![stmt(
        None,
        vec![source(
            SourceCriteria::Proto(GatedProto::Static),
            None,
            lines,
        )],
    )]
}

fn st(p: &str) -> Route {
    route(p, SourceProtocol::Static)
}

#[test]
fn row_plain_filter_matches_network_and_longer() {
    let p = statics_with(&["10.0.0.0 mask 255.0.0.0"]);
    assert!(exported(&p, &st("10.0.0.0/8")), "the network itself");
    assert!(exported(&p, &st("10.1.0.0/16")), "a subnet");
    assert!(exported(&p, &st("10.1.2.3/32")), "a host");
    assert!(!exported(&p, &st("11.0.0.0/8")));
    assert!(!exported(&p, &st("0.0.0.0/0")), "shorter than the filter");
}

#[test]
fn row_exact_matches_only_the_mask_length() {
    let p = statics_with(&["10.0.0.0 mask 255.0.0.0 exact"]);
    assert!(exported(&p, &st("10.0.0.0/8")));
    assert!(!exported(&p, &st("10.1.0.0/16")));
}

#[test]
fn row_refines_matches_only_longer_masks() {
    let p = statics_with(&["10.0.0.0 mask 255.0.0.0 refines"]);
    assert!(!exported(&p, &st("10.0.0.0/8")), "not the network itself");
    assert!(exported(&p, &st("10.1.0.0/16")));
    assert!(exported(&p, &st("10.1.2.3/32")));
}

#[test]
fn row_masklen_forms_behave_like_mask() {
    for (line, net8, net16) in [
        ("10.0.0.0 masklen 8", true, true),
        ("10.0.0.0 masklen 8 exact", true, false),
        ("10.0.0.0 masklen 8 refines", false, true),
        ("10.0.0.0/8 refines", false, true),
    ] {
        let p = statics_with(&[line]);
        assert_eq!(exported(&p, &st("10.0.0.0/8")), net8, "{line} /8");
        assert_eq!(exported(&p, &st("10.9.0.0/16")), net16, "{line} /16");
    }
}

#[test]
fn row_bare_network_uses_the_natural_mask() {
    let a = statics_with(&["10.0.0.0 exact"]);
    assert!(exported(&a, &st("10.0.0.0/8")));
    assert!(!exported(&a, &st("10.0.0.0/16")));
    let b = statics_with(&["172.16.0.0 exact"]);
    assert!(exported(&b, &st("172.16.0.0/16")));
    let c = statics_with(&["192.168.1.0"]);
    assert!(exported(&c, &st("192.168.1.0/24")));
    assert!(exported(&c, &st("192.168.1.128/25")));
    assert!(!exported(&c, &st("192.168.0.0/16")));
    assert!(
        parse_filter("10.1.0.0").is_err(),
        "bits beyond the natural mask"
    );
    assert!(
        parse_filter("2001:db8::").is_err(),
        "IPv6 has no natural mask"
    );
}

#[test]
fn row_between_bounds_the_mask_length() {
    let p = statics_with(&["10.0.0.0 masklen 8 between 16 and 24"]);
    assert!(!exported(&p, &st("10.0.0.0/8")));
    assert!(exported(&p, &st("10.1.0.0/16")));
    assert!(exported(&p, &st("10.1.2.0/24")));
    assert!(!exported(&p, &st("10.1.2.0/25")));
}

#[test]
fn row_default_matches_only_the_default_route() {
    let p = statics_with(&["default"]);
    assert!(exported(&p, &st("0.0.0.0/0")));
    assert!(exported(&p, &st("::/0")));
    assert!(!exported(&p, &st("10.0.0.0/8")));
}

#[test]
fn row_host_matches_only_that_host_route() {
    let p = statics_with(&["host 192.0.2.1"]);
    assert!(exported(&p, &st("192.0.2.1/32")));
    assert!(!exported(&p, &st("192.0.2.0/24")));
    assert!(!exported(&p, &st("192.0.2.2/32")));
    let v6 = statics_with(&["host 2001:db8::1"]);
    assert!(exported(&v6, &st("2001:db8::1/128")));
}

#[test]
fn row_all_matches_everything() {
    let p = statics_with(&["all"]);
    for r in ["0.0.0.0/0", "10.0.0.0/8", "192.0.2.1/32", "2001:db8::/32"] {
        assert!(exported(&p, &st(r)), "{r}");
    }
}

#[test]
fn row_most_specific_filter_wins_whatever_the_order() {
    // The /16 restrict is more specific than the /8 export, listed before or after it.
    for lines in [
        ["10.0.0.0 masklen 8", "10.1.0.0 masklen 16 restrict"],
        ["10.1.0.0 masklen 16 restrict", "10.0.0.0 masklen 8"],
    ] {
        let p = statics_with(&lines);
        assert!(exported(&p, &st("10.2.0.0/16")), "{lines:?}");
        assert!(!exported(&p, &st("10.1.5.0/24")), "{lines:?}");
        assert!(!exported(&p, &st("10.1.0.0/16")), "{lines:?}");
    }
    // At equal masks, `exact` is more specific than plain.
    let p = statics_with(&[
        "10.0.0.0 masklen 8 metric 1",
        "10.0.0.0 masklen 8 exact metric 2",
    ]);
    assert_eq!(export(&p, DEST, &st("10.0.0.0/8")), Some(Some(2)));
    assert_eq!(export(&p, DEST, &st("10.3.0.0/16")), Some(Some(1)));
    // `refines` beats plain for longer routes.
    let p = statics_with(&["10.0.0.0 masklen 8 refines restrict", "10.0.0.0 masklen 8"]);
    assert!(exported(&p, &st("10.0.0.0/8")));
    assert!(!exported(&p, &st("10.3.0.0/16")));
}

#[test]
fn row_filter_restrict_blocks_what_it_matches() {
    let p = statics_with(&["all", "192.168.0.0 masklen 16 restrict"]);
    assert!(!exported(&p, &st("192.168.3.0/24")));
    assert!(exported(&p, &st("10.0.0.0/8")));
}

#[test]
fn row_source_restrict_blocks_the_source() {
    let p = vec![stmt(
        None,
        vec![
            Source {
                criteria: SourceCriteria::Proto(GatedProto::Static),
                body: SourceBody::Restrict,
            },
            source(SourceCriteria::Proto(GatedProto::Direct), None, &[]),
        ],
    )];
    assert!(!exported(&p, &st("10.0.0.0/8")));
    assert!(exported(
        &p,
        &route("10.0.0.0/8", SourceProtocol::Connected)
    ));
}

#[test]
fn row_destination_restrict_blocks_everything() {
    let p = vec![
        ExportStatement {
            dest_as: DEST,
            body: DestBody::Restrict,
        },
        stmt(
            None,
            vec![source(SourceCriteria::Proto(GatedProto::Direct), None, &[])],
        ),
    ];
    assert!(!exported(
        &p,
        &route("10.0.0.0/8", SourceProtocol::Connected)
    ));
    assert!(!exported(&p, &st("10.0.0.0/8")));
    // Another destination is unaffected (it keeps the default).
    assert!(export(&p, 65003, &route("10.0.0.0/8", SourceProtocol::Connected)).is_some());
}

#[test]
fn row_metric_most_specific_level_wins() {
    let p = vec![stmt(
        Some(300),
        vec![
            source(
                SourceCriteria::Proto(GatedProto::Static),
                Some(200),
                &["10.0.0.0 masklen 8 metric 100", "192.168.0.0 masklen 16"],
            ),
            source(SourceCriteria::Proto(GatedProto::Direct), None, &[]),
            source(SourceCriteria::Proto(GatedProto::Aggregate), Some(50), &[]),
        ],
    )];
    assert_eq!(
        export(&p, DEST, &st("10.1.0.0/16")),
        Some(Some(100)),
        "filter"
    );
    assert_eq!(
        export(&p, DEST, &st("192.168.1.0/24")),
        Some(Some(200)),
        "source"
    );
    assert_eq!(
        export(&p, DEST, &route("172.16.0.0/12", SourceProtocol::Connected)),
        Some(Some(300)),
        "destination"
    );
    assert_eq!(
        export(&p, DEST, &route("172.16.0.0/12", SourceProtocol::Aggregate)),
        Some(Some(50)),
        "source without filters"
    );
    let none = statics_with(&["all"]);
    let mut r = st("10.0.0.0/8");
    r.attrs_mut().med = Some(7);
    assert_eq!(
        export(&none, DEST, &r),
        Some(Some(7)),
        "no metric anywhere: MED unchanged"
    );
}

#[test]
fn row_implicit_all_restrict_after_the_filters() {
    let p = vec![stmt(
        None,
        vec![
            source(
                SourceCriteria::Proto(GatedProto::Static),
                None,
                &["10.0.0.0 masklen 8"],
            ),
            // A later source that would take every static route: never reached for statics,
            // because the implied `all restrict` of the first source matched them.
            source(
                SourceCriteria::Tag {
                    proto: None,
                    tag: 0,
                },
                None,
                &[],
            ),
        ],
    )];
    assert!(exported(&p, &st("10.1.0.0/16")));
    assert!(
        !exported(&p, &st("192.168.0.0/16")),
        "static outside the filters"
    );
    // The tag source still serves routes of other protocols.
    assert!(exported(
        &p,
        &route("192.168.0.0/16", SourceProtocol::Connected)
    ));
}

#[test]
fn row_source_without_filters_exports_all_its_routes() {
    let p = vec![stmt(
        None,
        vec![source(SourceCriteria::Proto(GatedProto::Static), None, &[])],
    )];
    for r in ["0.0.0.0/0", "10.0.0.0/8", "2001:db8::/48"] {
        assert!(exported(&p, &st(r)), "{r}");
    }
    assert!(
        !exported(&p, &route("10.0.0.0/8", SourceProtocol::Connected)),
        "other sources not"
    );
}

#[test]
fn row_no_policy_exports_only_attached_interfaces() {
    let none: Vec<ExportStatement> = vec![];
    assert!(exported(
        &none,
        &route("10.1.0.0/24", SourceProtocol::Connected)
    ));
    assert!(!exported(&none, &st("10.2.0.0/24")));
    assert!(!exported(
        &none,
        &bgp("10.3.0.0/24", 65010, &[65010], Origin::Igp)
    ));
    assert!(!exported(
        &none,
        &route("10.4.0.0/16", SourceProtocol::Aggregate)
    ));
    assert!(!GatedExport::compile(&none).has_policy(DEST));
}

#[test]
fn row_any_policy_overrides_the_default() {
    let p = statics_with(&["all"]);
    assert!(!exported(
        &p,
        &route("10.1.0.0/24", SourceProtocol::Connected)
    ));
    // A policy for one AS leaves another AS on the default.
    assert!(export(&p, 65003, &route("10.1.0.0/24", SourceProtocol::Connected)).is_some());
    assert!(export(&p, 65003, &st("10.1.0.0/24")).is_none());
}

#[test]
fn row_bgp_as_selects_routes_learned_from_that_as() {
    let p = vec![stmt(
        None,
        vec![source(SourceCriteria::BgpAs(65010), None, &[])],
    )];
    assert!(exported(
        &p,
        &bgp("10.0.0.0/8", 65010, &[65010, 1], Origin::Igp)
    ));
    assert!(!exported(
        &p,
        &bgp("10.0.0.0/8", 65011, &[65011, 65010], Origin::Igp)
    ));
    assert!(!exported(&p, &st("10.0.0.0/8")));
}

#[test]
fn row_aspath_and_origin() {
    let regex = Arc::new(AsPathRegex::gated("65010 .*").unwrap());
    let p = vec![stmt(
        None,
        vec![source(
            SourceCriteria::AsPath {
                proto: None,
                regex,
                origins: vec![Origin::Igp],
            },
            None,
            &[],
        )],
    )];
    assert!(exported(
        &p,
        &bgp("10.0.0.0/8", 65010, &[65010, 7], Origin::Igp)
    ));
    assert!(
        !exported(
            &p,
            &bgp("10.0.0.0/8", 65010, &[65010, 7], Origin::Incomplete)
        ),
        "origin"
    );
    assert!(
        !exported(&p, &bgp("10.0.0.0/8", 65011, &[65011, 65010], Origin::Igp)),
        "path"
    );
    // Interior routes have an empty path and origin IGP: `65010 .*` needs one AS, so no.
    assert!(!exported(&p, &st("10.0.0.0/8")));
    let any = vec![stmt(
        None,
        vec![source(
            SourceCriteria::AsPath {
                proto: None,
                regex: Arc::new(AsPathRegex::gated(".*").unwrap()),
                origins: vec![Origin::Igp, Origin::Egp, Origin::Incomplete],
            },
            None,
            &[],
        )],
    )];
    assert!(
        exported(&any, &st("10.0.0.0/8")),
        "interior route: empty path, origin IGP"
    );
    assert!(exported(&any, &bgp("10.0.0.0/8", 1, &[1], Origin::Egp)));
}

#[test]
fn row_tag_selects_by_route_tag() {
    let p = vec![stmt(
        None,
        vec![source(
            SourceCriteria::Tag {
                proto: Some(GatedProto::Static),
                tag: 123,
            },
            None,
            &[],
        )],
    )];
    let mut tagged = st("10.1.2.0/24");
    tagged.attrs_mut().tag = 123;
    assert!(exported(&p, &tagged));
    assert!(!exported(&p, &st("10.1.2.0/24")));
    let mut other_proto = route("10.1.2.0/24", SourceProtocol::Connected);
    other_proto.attrs_mut().tag = 123;
    assert!(!exported(&p, &other_proto), "proto static tag 123");
}

#[test]
fn row_first_matching_source_decides() {
    let p = vec![stmt(
        None,
        vec![
            source(SourceCriteria::Proto(GatedProto::Static), Some(1), &[]),
            source(
                SourceCriteria::Tag {
                    proto: None,
                    tag: 5,
                },
                Some(2),
                &[],
            ),
        ],
    )];
    let mut r = st("10.0.0.0/8");
    r.attrs_mut().tag = 5;
    assert_eq!(export(&p, DEST, &r), Some(Some(1)));
}

#[test]
fn filter_syntax() {
    let f = parse_filter("192.168.0.0 mask 255.255.0.0 exact metric 5").unwrap();
    assert_eq!(
        f.route,
        RouteFilter::Network {
            prefix: "192.168.0.0/16".parse().unwrap(),
            modifier: Modifier::Exact
        }
    );
    assert_eq!(f.action, FilterAction::Export { metric: Some(5) });
    assert_eq!(
        parse_filter("default restrict").unwrap().action,
        FilterAction::Restrict
    );
    assert_eq!(
        parse_filter("2001:db8:: masklen 32 refines").unwrap().route,
        RouteFilter::Network {
            prefix: "2001:db8::/32".parse().unwrap(),
            modifier: Modifier::Refines
        }
    );
    assert_eq!(
        parse_filter("2001:db8:: mask ffff:ffff:: exact")
            .unwrap()
            .route,
        RouteFilter::Network {
            prefix: "2001:db8::/32".parse().unwrap(),
            modifier: Modifier::Exact
        }
    );
    for bad in [
        "",
        "10.0.0.0 mask 255.0.255.0",
        "10.0.0.0 mask ffff::",
        "10.0.0.0 masklen 33",
        "10.0.0.0 masklen 8 restrict metric 5",
        "10.0.0.0 masklen 8 metric",
        "10.0.0.0 masklen 8 between 24 and 16",
        "10.0.0.0 masklen 16 between 4 and 8",
        "10.0.0.0 masklen 8 between 16 24",
        "10.1.0.0 masklen 8",
        "host",
        "host 10.0.0.0/8",
        "host 10.0.0.1 refines",
        "10.0.0.1 masklen 32 refines",
        "224.0.0.0",
        "nonsense",
        "all please",
    ] {
        assert!(parse_filter(bad).is_err(), "`{bad}` accepted");
    }
}
