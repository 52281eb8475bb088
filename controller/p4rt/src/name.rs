//! Interned P4Info names.
//!
//! Entities name their table, fields, action, parameters and profile. A program has a few
//! dozen such names and a switch a million entries, so an entity holds a [`Name`]: a
//! `&'static str` that copies without allocating. Literals (`"ingress.ipv4_vrf_lpm"`) are used
//! as they are; names made at run time (from a P4Info, or a `String`) are stored once per
//! distinct name, on first use, for the life of the process. That is meant for P4Info names,
//! which are few; do not make names from unbounded input.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::fmt;
use std::ops::Deref;
use std::sync::{OnceLock, RwLock};

/// A P4Info name; compares, orders and hashes as the string it is.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(&'static str);

fn names() -> &'static RwLock<HashSet<&'static str>> {
    static NAMES: OnceLock<RwLock<HashSet<&'static str>>> = OnceLock::new();
    NAMES.get_or_init(Default::default)
}

impl Name {
    /// A name from a string literal (or any `'static` string): nothing is stored.
    pub const fn from_static(name: &'static str) -> Self {
        Name(name)
    }

    /// The interned name equal to `name`, stored on first use.
    pub fn new(name: &str) -> Self {
        // A poisoned lock still holds a consistent set (inserts are single calls).
        if let Some(n) = names().read().unwrap_or_else(|p| p.into_inner()).get(name) {
            return Name(n);
        }
        let mut set = names().write().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = set.get(name) {
            return Name(n);
        }
        let stored: &'static str = Box::leak(name.to_owned().into_boxed_str());
        set.insert(stored);
        Name(stored)
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }

    /// Whether `other` is this very name: the same string at the same address, so equal
    /// without comparing the strings (a name's string is never freed, so its address is not
    /// reused). Equal names made apart (a literal and a stored name) are not `is`.
    #[inline]
    pub fn is(self, other: Name) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        self.0
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        self.0
    }
}

impl From<&'static str> for Name {
    fn from(name: &'static str) -> Self {
        Name(name)
    }
}

impl From<String> for Name {
    fn from(name: String) -> Self {
        Name::new(&name)
    }
}

impl From<&String> for Name {
    fn from(name: &String) -> Self {
        Name::new(name)
    }
}

impl From<Name> for String {
    fn from(name: Name) -> Self {
        name.0.to_string()
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        self.0 == other
    }
}

impl PartialEq<Name> for &str {
    fn eq(&self, other: &Name) -> bool {
        *self == other.0
    }
}

impl PartialEq<Name> for str {
    fn eq(&self, other: &Name) -> bool {
        self == other.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// As a `String` prints.
impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_names_are_one_string_and_compare_as_strings() {
        let a = Name::new(&format!("ingress.{}", "t"));
        let b = Name::from(String::from("ingress.t"));
        assert!(std::ptr::eq(a.as_str(), b.as_str()), "stored once");
        assert_eq!(a, Name::from_static("ingress.t"));
        assert!(a.is(b));
        assert!(!a.is(Name::from_static("ingress.t")), "a literal elsewhere");
        assert!(!a.is(Name::from_static("a")));
        assert_eq!(a, "ingress.t");
        assert!(Name::from("a") < Name::from("b"));
        assert_eq!(format!("{a} {a:?}"), "ingress.t \"ingress.t\"");
    }
}
