//! A named route-map as the RIB holds it: compared by name and content, so a configuration
//! reload that recompiles an unchanged route-map does not re-run it over every route.

use std::collections::hash_map::DefaultHasher;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use policy::RouteMap;

#[derive(Clone)]
pub struct MapRef {
    pub map: Arc<RouteMap>,
    /// A hash of the compiled map (sequences and the lists they use, by value).
    fingerprint: u64,
}

impl MapRef {
    pub fn new(map: Arc<RouteMap>) -> Self {
        let mut h = DefaultHasher::new();
        format!("{map:?}").hash(&mut h);
        MapRef {
            fingerprint: h.finish(),
            map,
        }
    }

    pub fn name(&self) -> &str {
        &self.map.name
    }
}

impl PartialEq for MapRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.map, &other.map)
            || (self.map.name == other.map.name && self.fingerprint == other.fingerprint)
    }
}

impl Eq for MapRef {}

impl fmt::Debug for MapRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "route-map {}", self.map.name)
    }
}
