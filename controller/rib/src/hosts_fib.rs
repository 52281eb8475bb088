//! A VRF's FIB actions of prefixes without a table entry, which every route's FIB work asks
//! about.
//!
//! They are few — a VRF's neighbors' host entries, and what the last delta installed for a
//! prefix whose entry has left since — but once a VRF has a neighbor the map is never empty,
//! and each route's FIB work looked its prefix up in it twice: two B-tree searches a route
//! that almost always miss (callgrind: 24 M of the 1,311 M instructions of taking in 200,000
//! unicast routes). The map also keeps which prefix lengths it has held since it was last
//! empty; a prefix of another length is not looked for.

use std::collections::BTreeMap;
use std::ops::Deref;

use ipnet::IpNet;

use crate::FibAction;

#[derive(Clone, Default, Debug)]
pub(crate) struct HostsFib {
    map: BTreeMap<IpNet, FibAction>,
    /// A bit per prefix length (IPv4 0–32, then IPv6 0–128): set for the length of every key
    /// in the map, and maybe for lengths no key has any more (cleared when the map empties).
    lengths: [u64; 3],
}

/// Where a prefix's length is in [`HostsFib::lengths`].
fn length_bit(prefix: &IpNet) -> (usize, u64) {
    let i = match prefix {
        IpNet::V4(n) => usize::from(n.prefix_len()),
        IpNet::V6(n) => 33 + usize::from(n.prefix_len()),
    };
    (i / 64, 1 << (i % 64))
}

impl HostsFib {
    /// Whether a key of `prefix`'s length may be in the map.
    fn may_hold(&self, prefix: &IpNet) -> bool {
        let (word, bit) = length_bit(prefix);
        self.lengths[word] & bit != 0
    }

    pub(crate) fn get(&self, prefix: &IpNet) -> Option<&FibAction> {
        if !self.may_hold(prefix) {
            return None;
        }
        self.map.get(prefix)
    }

    pub(crate) fn insert(&mut self, prefix: IpNet, action: FibAction) -> Option<FibAction> {
        let (word, bit) = length_bit(&prefix);
        self.lengths[word] |= bit;
        self.map.insert(prefix, action)
    }

    pub(crate) fn remove(&mut self, prefix: &IpNet) -> Option<FibAction> {
        if !self.may_hold(prefix) {
            return None;
        }
        let removed = self.map.remove(prefix);
        if self.map.is_empty() {
            self.lengths = [0; 3];
        }
        removed
    }
}

/// Reading the map as it is (ranges, iteration); changes go through the methods above, which
/// keep the lengths.
impl Deref for HostsFib {
    type Target = BTreeMap<IpNet, FibAction>;
    fn deref(&self) -> &Self::Target {
        &self.map
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn prefix(n: u8) -> IpNet {
        let len = n % 9 * 4;
        if n.is_multiple_of(2) {
            IpNet::V4(ipnet::Ipv4Net::new([10, n % 7, 0, 0].into(), len).unwrap()).trunc()
        } else {
            let addr = std::net::Ipv6Addr::new(0x2001, 0xdb8, u16::from(n % 7), 0, 0, 0, 0, 1);
            IpNet::V6(ipnet::Ipv6Net::new(addr, 128 - len).unwrap()).trunc()
        }
    }

    proptest! {
        /// Through any inserts and removals it answers as a plain map: a length it skips
        /// holds no key.
        #[test]
        fn answers_as_a_plain_map(ops in proptest::collection::vec((any::<bool>(), any::<u8>()), 0..200)) {
            let mut hosts = HostsFib::default();
            let mut model: BTreeMap<IpNet, FibAction> = BTreeMap::new();
            for (insert, n) in ops {
                let p = prefix(n);
                if insert {
                    prop_assert_eq!(hosts.insert(p, FibAction::Drop), model.insert(p, FibAction::Drop));
                } else {
                    prop_assert_eq!(hosts.remove(&p), model.remove(&p));
                }
                for m in 0..=255u8 {
                    let q = prefix(m);
                    prop_assert_eq!(hosts.get(&q), model.get(&q));
                }
                prop_assert_eq!(&*hosts, &model);
            }
        }
    }

    /// A prefix of a length the map never held is not looked for; emptying forgets them.
    #[test]
    fn lengths_follow_the_keys() {
        let mut hosts = HostsFib::default();
        let host: IpNet = "10.0.0.2/32".parse().unwrap();
        hosts.insert(host, FibAction::Drop);
        assert!(hosts.may_hold(&"10.9.9.9/32".parse().unwrap()));
        assert!(!hosts.may_hold(&"10.9.0.0/24".parse().unwrap()));
        assert!(
            !hosts.may_hold(&"::a/32".parse().unwrap()),
            "the families apart"
        );
        hosts.remove(&host);
        assert_eq!(hosts.lengths, [0; 3]);
    }
}
