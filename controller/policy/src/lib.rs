//! Routing policy for p4vrf: the route view policy works on, prefix / community / AS-path
//! lists, IOS route-maps, GateD export statements compiled into the same route-maps, and the
//! well-known communities' per-neighbor rules. Pure: no I/O, no sockets, no clocks.
//!
//! See `docs/policy.md` for the semantics tables.

pub mod community;
pub mod config;
pub mod gated;
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
pub use lists::{
    Action, AsPathEntry, AsPathList, CommunityList, ExtCommunityList, Family, LargeCommunityList,
    PrefixList, PrefixListEntry, PrefixRangeError, SetList, SetListEntry, SetMatcher,
};
pub use pattern::{AsPathRegex, PatternError};
pub use route::{
    AsPath, AsSegment, AttrSet, Attrs, Communities, ExtCommunities, LargeCommunities, NextHop,
    Origin, Route, RouteType, SegmentType, SourceProtocol,
};
pub use route_map::{
    Continue, Match, MetricSet, RouteMap, RouteMapError, RouteMapStats, Sequence, Set, Verdict,
};
pub use well_known::{
    may_advertise, on_receive, Neighbor, NeighborOptions, PeerType, Received, Rejected,
    Relationship, Suppressed,
};
