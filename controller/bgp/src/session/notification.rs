//! NOTIFICATIONs the session sends on its own (FSM errors, Cease) and how to name the ones it
//! receives, so a state change can say *why* in words an operator knows.

use std::fmt;

use crate::consts::notify;
use crate::Notification;

/// Cease subcodes (RFC 4486, RFC 8538).
pub mod cease {
    pub const MAX_PREFIXES: u8 = 1;
    pub const ADMINISTRATIVE_SHUTDOWN: u8 = 2;
    pub const PEER_DECONFIGURED: u8 = 3;
    pub const ADMINISTRATIVE_RESET: u8 = 4;
    pub const CONNECTION_REJECTED: u8 = 5;
    pub const OTHER_CONFIGURATION_CHANGE: u8 = 6;
    pub const CONNECTION_COLLISION_RESOLUTION: u8 = 7;
    pub const OUT_OF_RESOURCES: u8 = 8;
    pub const HARD_RESET: u8 = 9;
}

/// FSM error subcodes (RFC 6608): which state the unexpected message arrived in.
pub mod fsm_error {
    pub const UNSPECIFIED: u8 = 0;
    pub const UNEXPECTED_IN_OPEN_SENT: u8 = 1;
    pub const UNEXPECTED_IN_OPEN_CONFIRM: u8 = 2;
    pub const UNEXPECTED_IN_ESTABLISHED: u8 = 3;
}

/// Longest shutdown communication RFC 9003 allows, in octets of UTF-8.
pub const MAX_SHUTDOWN_MESSAGE: usize = 255;

/// A Cease NOTIFICATION; for administrative shutdown and reset the optional text travels as
/// an RFC 9003 shutdown communication (length octet + UTF-8, cut at a character boundary).
pub fn cease_notification(subcode: u8, message: Option<&str>) -> Notification {
    let mut n = Notification::cease(subcode);
    let carries_text = matches!(
        subcode,
        cease::ADMINISTRATIVE_SHUTDOWN | cease::ADMINISTRATIVE_RESET
    );
    if let (true, Some(text)) = (carries_text, message) {
        let mut end = text.len().min(MAX_SHUTDOWN_MESSAGE);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        n.data.push(end as u8);
        n.data.extend_from_slice(&text.as_bytes()[..end]);
    }
    n
}

/// The RFC 9003 shutdown communication of a received Cease, when it has a well-formed one.
pub fn shutdown_message(n: &Notification) -> Option<&str> {
    if n.code != notify::CEASE
        || !matches!(
            n.subcode,
            cease::ADMINISTRATIVE_SHUTDOWN | cease::ADMINISTRATIVE_RESET
        )
    {
        return None;
    }
    let (&len, rest) = n.data.split_first()?;
    let text = rest.get(..usize::from(len))?;
    std::str::from_utf8(text).ok().filter(|t| !t.is_empty())
}

pub(crate) fn fsm_error(subcode: u8) -> Notification {
    Notification {
        code: notify::FSM,
        subcode,
        data: Vec::new(),
    }
}

pub(crate) fn hold_timer_expired() -> Notification {
    Notification {
        code: notify::HOLD_TIMER_EXPIRED,
        subcode: 0,
        data: Vec::new(),
    }
}

/// Names a NOTIFICATION the way `show bgp neighbor` output does ("Cease/Administrative
/// Shutdown"), with the shutdown communication when there is one.
pub struct Describe<'a>(pub &'a Notification);

impl fmt::Display for Describe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        use notify::*;
        let code = match n.code {
            MESSAGE_HEADER => "Message Header Error",
            OPEN_MESSAGE => "OPEN Message Error",
            UPDATE_MESSAGE => "UPDATE Message Error",
            HOLD_TIMER_EXPIRED => "Hold Timer Expired",
            FSM => "Finite State Machine Error",
            CEASE => "Cease",
            ROUTE_REFRESH_MESSAGE => "ROUTE-REFRESH Message Error",
            _ => "Unknown Error",
        };
        let sub = match (n.code, n.subcode) {
            (MESSAGE_HEADER, 1) => "Connection Not Synchronized",
            (MESSAGE_HEADER, 2) => "Bad Message Length",
            (MESSAGE_HEADER, 3) => "Bad Message Type",
            (OPEN_MESSAGE, 1) => "Unsupported Version Number",
            (OPEN_MESSAGE, 2) => "Bad Peer AS",
            (OPEN_MESSAGE, 3) => "Bad BGP Identifier",
            (OPEN_MESSAGE, 4) => "Unsupported Optional Parameter",
            (OPEN_MESSAGE, 6) => "Unacceptable Hold Time",
            (OPEN_MESSAGE, 7) => "Unsupported Capability",
            (UPDATE_MESSAGE, 1) => "Malformed Attribute List",
            (UPDATE_MESSAGE, 2) => "Unrecognized Well-known Attribute",
            (UPDATE_MESSAGE, 3) => "Missing Well-known Attribute",
            (UPDATE_MESSAGE, 4) => "Attribute Flags Error",
            (UPDATE_MESSAGE, 5) => "Attribute Length Error",
            (UPDATE_MESSAGE, 6) => "Invalid ORIGIN Attribute",
            (UPDATE_MESSAGE, 8) => "Invalid NEXT_HOP Attribute",
            (UPDATE_MESSAGE, 9) => "Optional Attribute Error",
            (UPDATE_MESSAGE, 10) => "Invalid Network Field",
            (UPDATE_MESSAGE, 11) => "Malformed AS_PATH",
            (FSM, 1) => "Unexpected Message in OpenSent",
            (FSM, 2) => "Unexpected Message in OpenConfirm",
            (FSM, 3) => "Unexpected Message in Established",
            (CEASE, 1) => "Maximum Number of Prefixes Reached",
            (CEASE, 2) => "Administrative Shutdown",
            (CEASE, 3) => "Peer De-configured",
            (CEASE, 4) => "Administrative Reset",
            (CEASE, 5) => "Connection Rejected",
            (CEASE, 6) => "Other Configuration Change",
            (CEASE, 7) => "Connection Collision Resolution",
            (CEASE, 8) => "Out of Resources",
            (CEASE, 9) => "Hard Reset",
            (ROUTE_REFRESH_MESSAGE, 1) => "Invalid Message Length",
            (_, 0) => "Unspecific",
            _ => "",
        };
        if sub.is_empty() {
            write!(f, "{code}/subcode {}", n.subcode)?;
        } else {
            write!(f, "{code}/{sub}")?;
        }
        if let Some(text) = shutdown_message(n) {
            write!(f, " \"{}\"", text.escape_debug())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shutdown_communication_round_trips_and_is_cut_on_a_char_boundary() {
        let n = cease_notification(cease::ADMINISTRATIVE_SHUTDOWN, Some("maintenance"));
        assert_eq!(n.data[0], 11);
        assert_eq!(shutdown_message(&n), Some("maintenance"));
        assert_eq!(
            Describe(&n).to_string(),
            "Cease/Administrative Shutdown \"maintenance\""
        );
        let long = "é".repeat(200); // 400 octets
        let n = cease_notification(cease::ADMINISTRATIVE_RESET, Some(&long));
        assert_eq!(n.data[0], 254);
        assert_eq!(shutdown_message(&n).map(str::len), Some(254));
        // Other subcodes carry no text.
        assert!(cease_notification(cease::PEER_DECONFIGURED, Some("x"))
            .data
            .is_empty());
    }

    #[test]
    fn malformed_shutdown_communication_is_ignored() {
        let mut n = Notification::cease(cease::ADMINISTRATIVE_SHUTDOWN);
        n.data = vec![10, b'a'];
        assert_eq!(shutdown_message(&n), None);
        n.data = vec![2, 0xff, 0xfe];
        assert_eq!(shutdown_message(&n), None);
        assert_eq!(Describe(&n).to_string(), "Cease/Administrative Shutdown");
        let odd = Notification {
            code: 9,
            subcode: 9,
            data: vec![],
        };
        assert_eq!(Describe(&odd).to_string(), "Unknown Error/subcode 9");
    }
}
