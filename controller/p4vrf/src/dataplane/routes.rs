//! The route entries the switch should hold, packed.
//!
//! There is one per FIB entry (a million on a full table), so each costs what its key and
//! action need and no more: per VRF id, an IPv4 entry is one `u64` (address, prefix length
//! and action packed) in a hashed [`V4Table`] (8 bytes a slot, ~10–14 per entry; one probe
//! finds an entry) instead of a `((u16, IpNet), RouteAction)` pair (24 bytes); IPv6 entries,
//! rarer, are `(address, prefix length) → action` in a B-tree. Iteration order is the order of
//! `(VRF id, IpNet)`: by VRF id, IPv4 before IPv6 (as `IpNet` orders its variants), then
//! address, then prefix length (as `Ipv4Net` / `Ipv6Net` order), so what is built from it is
//! unchanged; the IPv4 entries, in no order in their table, are sorted as they are read (the
//! packed `u64`s sort in that order).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::{RouteAction, RouteKey};

mod v4_table;
use v4_table::V4Table;

/// Bits of a packed [`RouteAction`]: 2 of kind above 16 of id.
const ACTION_BITS: u32 = 18;
const ACTION_MASK: u64 = (1 << ACTION_BITS) - 1;

fn pack_action(action: RouteAction) -> u32 {
    match action {
        RouteAction::Nexthop(id) => u32::from(id),
        RouteAction::Group(id) => 1 << 16 | u32::from(id),
        RouteAction::Drop => 2 << 16,
        RouteAction::Punt => 3 << 16,
    }
}

fn unpack_action(bits: u32) -> RouteAction {
    let id = bits as u16;
    match bits >> 16 {
        0 => RouteAction::Nexthop(id),
        1 => RouteAction::Group(id),
        2 => RouteAction::Drop,
        _ => RouteAction::Punt,
    }
}

/// Set in every IPv4 entry, so that none is 0 (an empty slot of a [`V4Table`]).
const PRESENT: u64 = 1 << 23;

/// An IPv4 entry without its action: address in the top 32 bits, prefix length in the next
/// 8 (ordered as `Ipv4Net` orders), [`PRESENT`], the action in the low [`ACTION_BITS`].
fn v4_key(net: &Ipv4Net) -> u64 {
    u64::from(u32::from(net.addr())) << 32 | u64::from(net.prefix_len()) << 24 | PRESENT
}

fn v4_net(bits: u64) -> Ipv4Net {
    let addr = Ipv4Addr::from((bits >> 32) as u32);
    // The length came from an `Ipv4Net`, so it is valid.
    Ipv4Net::new(addr, (bits >> 24) as u8).unwrap_or_default()
}

/// The route entries of one VRF id.
#[derive(Debug)]
struct VrfRoutes {
    v4: V4Table,
    v6: BTreeMap<(u128, u8), RouteAction>,
}

impl Default for VrfRoutes {
    fn default() -> Self {
        VrfRoutes {
            v4: V4Table::new(!ACTION_MASK),
            v6: BTreeMap::new(),
        }
    }
}

impl VrfRoutes {
    fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// In key order: the IPv4 entries are sorted first (a copy, 8 bytes each).
    fn iter(&self) -> impl Iterator<Item = (IpNet, RouteAction)> + '_ {
        let v4 = self.v4.sorted().into_iter().map(|b| {
            (
                IpNet::V4(v4_net(b)),
                unpack_action(b as u32 & ACTION_MASK as u32),
            )
        });
        let v6 = self.v6.iter().map(|((addr, len), a)| {
            let net = Ipv6Net::new(Ipv6Addr::from(*addr), *len).unwrap_or_default();
            (IpNet::V6(net), *a)
        });
        v4.chain(v6)
    }
}

/// Every route entry, by (VRF id, prefix).
#[derive(Debug, Default)]
pub(super) struct Routes {
    /// Indexed by VRF id: ids are handed out lowest first, so this is as long as there are
    /// VRFs, and finding a change's VRF is an index, not a search (three per FIB change). An
    /// id without entries holds no memory; trailing ones are dropped.
    vrfs: Vec<VrfRoutes>,
    len: usize,
}

impl Routes {
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The entry of `key` (the tests' read: a FIB change reads it as it writes, with
    /// [`Routes::replace`]).
    #[cfg(test)]
    pub(super) fn get(&self, (vrf, prefix): RouteKey) -> Option<RouteAction> {
        let routes = self.vrfs.get(usize::from(vrf))?;
        match prefix {
            IpNet::V4(net) => routes
                .v4
                .get(v4_key(&net))
                .map(|b| unpack_action(b as u32 & ACTION_MASK as u32)),
            IpNet::V6(net) => routes
                .v6
                .get(&(u128::from(net.addr()), net.prefix_len()))
                .copied(),
        }
    }

    /// Starts loading where [`Routes::replace`] of `key` will look (see [`V4Table::prefetch`]).
    pub(super) fn prefetch(&self, (vrf, prefix): RouteKey) {
        if let (Some(routes), IpNet::V4(net)) = (self.vrfs.get(usize::from(vrf)), prefix) {
            routes.v4.prefetch(v4_key(&net));
        }
    }

    /// Sets the entry of `key` to `new`, or removes it (`None`); returns the one it had.
    ///
    /// Reading the old entry and writing the new one are one probe of the IPv4 table (see
    /// [`V4Table::insert`]): a FIB change needs both, and at a million entries each probe is
    /// a wait for memory, so a get and then a set cost two.
    pub(super) fn replace(
        &mut self,
        (vrf, prefix): RouteKey,
        new: Option<RouteAction>,
    ) -> Option<RouteAction> {
        let Some(new) = new else {
            return self.remove((vrf, prefix));
        };
        let routes = self.vrf_mut(vrf);
        let old = match prefix {
            IpNet::V4(net) => routes
                .v4
                .insert(v4_key(&net) | u64::from(pack_action(new)))
                .map(|b| unpack_action(b as u32 & ACTION_MASK as u32)),
            IpNet::V6(net) => routes
                .v6
                .insert((u128::from(net.addr()), net.prefix_len()), new),
        };
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// The entries of VRF id `vrf`, made if it has none.
    fn vrf_mut(&mut self, vrf: u16) -> &mut VrfRoutes {
        let i = usize::from(vrf);
        if self.vrfs.len() <= i {
            self.vrfs.resize_with(i + 1, VrfRoutes::default);
        }
        &mut self.vrfs[i]
    }

    /// Drops the trailing VRF ids without entries.
    fn trim(&mut self) {
        while self.vrfs.last().is_some_and(VrfRoutes::is_empty) {
            self.vrfs.pop();
        }
    }

    /// Removes the entry of `key`; returns it.
    fn remove(&mut self, (vrf, prefix): RouteKey) -> Option<RouteAction> {
        let routes = self.vrfs.get_mut(usize::from(vrf))?;
        let old = match prefix {
            IpNet::V4(net) => {
                let old = routes.v4.remove(v4_key(&net))?;
                unpack_action(old as u32 & ACTION_MASK as u32)
            }
            IpNet::V6(net) => routes
                .v6
                .remove(&(u128::from(net.addr()), net.prefix_len()))?,
        };
        if routes.is_empty() {
            self.trim();
        }
        self.len -= 1;
        Some(old)
    }

    /// Every entry, in key order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (RouteKey, RouteAction)> + '_ {
        self.vrfs.iter().enumerate().flat_map(|(vrf, routes)| {
            routes
                .iter()
                .map(move |(prefix, action)| ((vrf as u16, prefix), action))
        })
    }

    /// The entries of one VRF id, in key order.
    pub(super) fn of_vrf(&self, vrf: u16) -> Vec<(RouteKey, RouteAction)> {
        self.vrfs
            .get(usize::from(vrf))
            .map_or_else(Vec::new, |routes| {
                routes
                    .iter()
                    .map(|(prefix, action)| ((vrf, prefix), action))
                    .collect()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterates_in_the_order_of_vrf_id_and_ipnet() {
        let nets = [
            "10.0.0.0/8",
            "10.0.0.0/16",
            "0.0.0.0/0",
            "255.255.255.255/32",
            "10.1.2.3/24",
            "::/0",
            "2001:db8::/32",
            "2001:db8::1/128",
            "ffff::/16",
        ];
        let actions = [
            RouteAction::Nexthop(0),
            RouteAction::Nexthop(u16::MAX),
            RouteAction::Group(7),
            RouteAction::Group(u16::MAX),
            RouteAction::Drop,
            RouteAction::Punt,
        ];
        let mut want = BTreeMap::new();
        let mut routes = Routes::default();
        for (i, n) in nets.iter().enumerate() {
            for vrf in [3u16, 1, u16::MAX] {
                let key = (vrf, n.parse::<IpNet>().unwrap());
                let action = actions[(i + vrf as usize) % actions.len()];
                assert_eq!(routes.replace(key, Some(action)), want.insert(key, action));
                let again = actions[(i + 1) % actions.len()];
                assert_eq!(routes.replace(key, Some(again)), want.insert(key, again));
            }
        }
        assert_eq!(routes.len(), want.len());
        let got: Vec<_> = routes.iter().collect();
        let expected: Vec<_> = want.iter().map(|(k, a)| (*k, *a)).collect();
        assert_eq!(got, expected);
        assert_eq!(
            routes.of_vrf(3),
            expected
                .iter()
                .filter(|(k, _)| k.0 == 3)
                .copied()
                .collect::<Vec<_>>()
        );
        for (k, a) in &expected {
            assert_eq!(routes.replace(*k, Some(RouteAction::Punt)), Some(*a));
            assert_eq!(routes.get(*k), Some(RouteAction::Punt));
            assert_eq!(routes.replace(*k, None), Some(RouteAction::Punt));
            assert_eq!(routes.get(*k), None);
            assert_eq!(routes.replace(*k, None), None);
            assert_eq!(routes.replace(*k, Some(*a)), None);
            assert_eq!(routes.get(*k), Some(*a));
            assert_eq!(routes.remove(*k), Some(*a));
            assert_eq!(routes.get(*k), None);
            assert_eq!(routes.remove(*k), None);
        }
        assert_eq!(routes.len(), 0);
        assert!(routes.vrfs.is_empty());
    }
}
