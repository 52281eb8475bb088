//! What a neighbor is configured with, and the checks that keep a bad configuration from ever
//! reaching the wire.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crate::{Family, FamilySet};

/// The IANA port of BGP. Tests use high ports instead (see [`NeighborConfig::remote_port`]).
pub const BGP_PORT: u16 = 179;

/// Hold time proposed when none is configured (RFC 4271 §10 suggests 90 s).
pub const DEFAULT_HOLD_TIME: u16 = 90;

/// Hold timer while waiting for the peer's OPEN (RFC 4271 §8.2.2 suggests 4 minutes).
pub const OPEN_HOLD_TIME: Duration = Duration::from_secs(240);

/// One neighbor. Plain data: the speaker copies it into the neighbor's task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NeighborConfig {
    /// The peer's address; incoming connections are matched to neighbors by it.
    pub remote_addr: IpAddr,
    /// Port to connect to for the active open (several test daemons can share an address
    /// by listening on different ports).
    pub remote_port: u16,
    /// Source address of outgoing connections; when set, an incoming connection must also
    /// arrive on this address.
    pub local_addr: Option<IpAddr>,
    pub local_as: u32,
    pub remote_as: u32,
    /// Our BGP identifier.
    pub router_id: Ipv4Addr,
    /// Hold time we propose: 0 (no keepalives) or at least 3 seconds.
    pub hold_time: u16,
    /// Address families we advertise with the multiprotocol capability.
    pub families: FamilySet,
    /// Never connect, only accept (RFC 4271 "PassiveTcpEstablishment").
    pub passive: bool,
    /// Advertise the extended message capability (RFC 8654).
    pub extended_message: bool,
    /// Graceful restart helper (RFC 4724); `None` = neither advertised nor honoured.
    pub graceful_restart: Option<GracefulRestartConfig>,
    /// Treat-as-withdraw routes from an external peer whose AS path does not start with the
    /// peer's AS (off only for transparent route servers).
    pub enforce_first_as: bool,
    pub timers: RetryTimers,
}

/// Graceful restart in helper ("receiving speaker") mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GracefulRestartConfig {
    /// Restart time we advertise (12 bits, seconds). We never restart gracefully ourselves
    /// (no forwarding-state families are advertised), so peers only use it as a hint.
    pub restart_time: u16,
    /// Upper bound on how long the peer's stale routes survive after its session came back
    /// without an End-of-RIB for their family.
    pub stale_routes_time: Duration,
}

impl Default for GracefulRestartConfig {
    fn default() -> Self {
        GracefulRestartConfig {
            restart_time: 120,
            stale_routes_time: Duration::from_secs(360),
        }
    }
}

/// When to try again. Both retry intervals double with every consecutive failure, up to
/// `max_backoff`, and start over once a session reaches Established.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryTimers {
    /// ConnectRetry timer: how long an outgoing attempt may take before the next one.
    pub connect_retry: Duration,
    /// How long a neighbor rests in Idle after an error before it starts again.
    pub idle_hold: Duration,
    pub max_backoff: Duration,
    /// Hold timer from TCP established until the peer's OPEN arrives.
    pub open_hold: Duration,
}

impl Default for RetryTimers {
    fn default() -> Self {
        RetryTimers {
            connect_retry: Duration::from_secs(30),
            idle_hold: Duration::from_secs(1),
            max_backoff: Duration::from_secs(120),
            open_hold: OPEN_HOLD_TIME,
        }
    }
}

impl RetryTimers {
    /// `base` doubled `failures` times, capped at `max_backoff` (never below `base`).
    pub fn backoff(&self, base: Duration, failures: u32) -> Duration {
        let factor = 1u32.checked_shl(failures.min(16)).unwrap_or(u32::MAX);
        base.saturating_mul(factor).min(self.max_backoff.max(base))
    }
}

/// A configuration the session layer refuses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("neighbor {0}: hold time {1} s is not allowed (0 or at least 3)")]
    HoldTime(IpAddr, u16),
    #[error("neighbor {0}: router id 0.0.0.0 is not a valid BGP identifier")]
    RouterId(IpAddr),
    #[error("neighbor {0}: AS 0 is reserved (RFC 7607)")]
    AsZero(IpAddr),
    #[error("neighbor {0}: no address family configured")]
    NoFamily(IpAddr),
    #[error("neighbor {0}: graceful restart time {1} s does not fit in 12 bits")]
    RestartTime(IpAddr, u16),
    #[error("neighbor {0}: {1} must not be zero")]
    ZeroTimer(IpAddr, &'static str),
    #[error("neighbor {0}: remote port 0")]
    Port(IpAddr),
    #[error("neighbor {addr}: local address {local} is not of the same family")]
    LocalAddrFamily { addr: IpAddr, local: IpAddr },
}

impl NeighborConfig {
    /// A neighbor with the defaults: port 179, hold time 90 s, IPv4 unicast, active,
    /// no graceful restart, extended messages advertised.
    pub fn new(remote_addr: IpAddr, local_as: u32, remote_as: u32, router_id: Ipv4Addr) -> Self {
        NeighborConfig {
            remote_addr,
            remote_port: BGP_PORT,
            local_addr: None,
            local_as,
            remote_as,
            router_id,
            hold_time: DEFAULT_HOLD_TIME,
            families: [Family::Ipv4Unicast].into_iter().collect(),
            passive: false,
            extended_message: true,
            graceful_restart: None,
            enforce_first_as: true,
            timers: RetryTimers::default(),
        }
    }

    /// Same AS on both sides.
    pub fn is_ibgp(&self) -> bool {
        self.local_as == self.remote_as
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let a = self.remote_addr;
        if self.hold_time == 1 || self.hold_time == 2 {
            return Err(ConfigError::HoldTime(a, self.hold_time));
        }
        if self.router_id.is_unspecified() {
            return Err(ConfigError::RouterId(a));
        }
        if self.local_as == 0 || self.remote_as == 0 {
            return Err(ConfigError::AsZero(a));
        }
        if self.families.iter().next().is_none() {
            return Err(ConfigError::NoFamily(a));
        }
        if let Some(gr) = &self.graceful_restart {
            if gr.restart_time > 0x0FFF {
                return Err(ConfigError::RestartTime(a, gr.restart_time));
            }
        }
        let t = &self.timers;
        for (d, name) in [
            (t.connect_retry, "connect retry time"),
            (t.idle_hold, "idle hold time"),
            (t.open_hold, "open hold time"),
        ] {
            if d.is_zero() {
                return Err(ConfigError::ZeroTimer(a, name));
            }
        }
        if self.remote_port == 0 {
            return Err(ConfigError::Port(a));
        }
        if let Some(local) = self.local_addr {
            if local.is_ipv4() != a.is_ipv4() {
                return Err(ConfigError::LocalAddrFamily { addr: a, local });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> NeighborConfig {
        NeighborConfig::new(
            IpAddr::from([127, 0, 0, 2]),
            65001,
            65002,
            Ipv4Addr::new(1, 1, 1, 1),
        )
    }

    #[test]
    fn validation_names_the_neighbor_and_the_problem() {
        assert_eq!(cfg().validate(), Ok(()));
        let mut c = cfg();
        c.hold_time = 2;
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "neighbor 127.0.0.2: hold time 2 s is not allowed (0 or at least 3)"
        );
        let mut c = cfg();
        c.router_id = Ipv4Addr::UNSPECIFIED;
        assert!(matches!(c.validate(), Err(ConfigError::RouterId(_))));
        let mut c = cfg();
        c.remote_as = 0;
        assert!(matches!(c.validate(), Err(ConfigError::AsZero(_))));
        let mut c = cfg();
        c.families = FamilySet::empty();
        assert!(matches!(c.validate(), Err(ConfigError::NoFamily(_))));
        let mut c = cfg();
        c.graceful_restart = Some(GracefulRestartConfig {
            restart_time: 4096,
            ..Default::default()
        });
        assert!(matches!(
            c.validate(),
            Err(ConfigError::RestartTime(_, 4096))
        ));
        let mut c = cfg();
        c.timers.connect_retry = Duration::ZERO;
        assert!(matches!(c.validate(), Err(ConfigError::ZeroTimer(..))));
        let mut c = cfg();
        c.local_addr = Some("::1".parse().unwrap());
        assert!(matches!(
            c.validate(),
            Err(ConfigError::LocalAddrFamily { .. })
        ));
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let t = RetryTimers {
            max_backoff: Duration::from_secs(20),
            ..Default::default()
        };
        let b = |n| t.backoff(Duration::from_secs(3), n).as_secs();
        assert_eq!([b(0), b(1), b(2), b(3), b(40)], [3, 6, 12, 20, 20]);
        // A base above the cap is not cut below itself.
        assert_eq!(
            t.backoff(Duration::from_secs(30), 3),
            Duration::from_secs(30)
        );
    }
}
