//! Routing policy for p4vrf: the route view policy works on, prefix / community / AS-path
//! lists, IOS route-maps, GateD export statements compiled into the same route-maps, and the
//! well-known communities' per-neighbor rules. Pure: no I/O, no sockets, no clocks.
//!
//! * [`route`] — [`Route`] = prefix + `Arc<`[`Attrs`]`>`, built to be interned.
//! * [`intern`] — [`AttrInterner`]: one `Arc<Attrs>` per distinct attribute set.
//! * [`lists`] — [`PrefixList`], community-style [`SetList`]s, [`AsPathList`].
//! * [`route_map`] — [`RouteMap::evaluate`] → [`Verdict`], counters in [`RouteMapStats`].
//! * [`well_known`] — [`on_receive`], [`may_advertise`], [`prepare_outbound`] per [`Neighbor`].
//! * [`gated`] — [`GatedExport`]: GateD `export` statements as route-maps per destination AS.
//! * [`config`] — the TOML model ([`PolicyConfig`]) and [`compile`] / [`parse`] with located
//!   errors.
//!
//! ```
//! use policy::{Attrs, Community, Route, SourceProtocol};
//!
//! let policy = policy::parse("p4vrf.toml", r#"
//!     [[route-map]]
//!     name = "StaticToBGP"
//!     [[route-map.entry]]
//!     seq = 10
//!     action = "permit"
//!     match.tag = [123]
//!     set.community = ["no-export"]
//!     set.community-additive = true
//! "#).expect("valid policy");
//!
//! let map = &policy.route_maps["StaticToBGP"];
//! let mut stats = map.new_stats();
//! let mut route = Route::new("10.1.2.0/24".parse().unwrap(), Attrs::new(SourceProtocol::Static));
//! route.attrs_mut().tag = 123;
//! let out = map.evaluate(&route, &mut stats).into_route().expect("permitted");
//! assert!(out.attrs.communities.contains(&Community::NO_EXPORT));
//! assert_eq!(stats.hits, vec![1]);
//!
//! // NO_EXPORT: kept inside the AS.
//! use policy::{may_advertise, Neighbor, Relationship, Suppressed};
//! assert_eq!(may_advertise(&out, &Neighbor::ibgp()), Ok(()));
//! assert_eq!(may_advertise(&out, &Neighbor::ebgp(Relationship::Customer)), Err(Suppressed::NoExport));
//!
//! // No GateD export statement for AS 65002: only attached interfaces are exported to it.
//! assert!(!policy.gated_export.has_policy(65002));
//! ```
//!
//! See `docs/policy.md` for the semantics tables.

pub mod community;
pub mod config;
pub mod gated;
pub mod intern;
pub mod lists;
pub mod pattern;
pub mod route;
pub mod route_map;
pub mod well_known;

pub use community::{Community, CommunityParseError, ExtCommunity, LargeCommunity};
pub use config::{
    compile, parse, validate, LocatedError, Policy, PolicyConfig, PolicyError, PolicyErrorKind,
};
pub use gated::{
    DestBody, ExportStatement, Filter, FilterAction, GatedExport, GatedProto, Modifier,
    RouteFilter, Source, SourceBody, SourceCriteria,
};
pub use intern::AttrInterner;
pub use lists::{
    Action, AsPathEntry, AsPathList, CommunityList, ExtCommunityList, Family, LargeCommunityList,
    PrefixList, PrefixListEntry, PrefixRangeError, SetList, SetListEntry, SetMatcher,
};
pub use pattern::{AsPathRegex, PatternError};
pub use route::{
    AsPath, AsSegment, AttrSet, Attrs, Communities, ExtCommunities, LargeCommunities, NextHop,
    OpaqueAttr, Origin, Route, RouteType, SegmentType, SourceProtocol,
};
pub use route_map::{
    Continue, Match, MetricSet, RouteMap, RouteMapError, RouteMapStats, Sequence, Set, Verdict,
};
pub use well_known::{
    may_advertise, on_receive, prepare_outbound, Neighbor, NeighborOptions, PeerType, Received,
    Rejected, Relationship, SendCommunity, Suppressed,
};

/// The compiled policy is shared by every thread of the speaker: keep it `Send + Sync`.
#[cfg(test)]
mod thread_safety {
    fn shared<T: Send + Sync>() {}

    #[test]
    fn compiled_policy_is_send_and_sync() {
        shared::<crate::Route>();
        shared::<crate::RouteMap>();
        shared::<crate::Policy>();
        shared::<crate::GatedExport>();
        shared::<crate::RouteMapStats>();
    }
}
