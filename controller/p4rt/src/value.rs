//! Values of match fields and action parameters.
//!
//! Every value of a router program (ids, ports, MAC addresses, IPv4 and IPv6 addresses) is at
//! most 16 bytes, and an entity has a few of them; a `Vec<u8>` each would be an allocation per
//! value. [`Value`] keeps up to [`Value::INLINE`] bytes in place (in the 24 bytes a `Vec`
//! takes) and only wider values on the heap.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// A big-endian value; compares, orders, hashes and prints (`{:?}`) as the bytes it holds, like
/// the `Vec<u8>` it replaces.
#[derive(Clone)]
pub struct Value(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, bytes: [u8; Value::INLINE] },
    Heap(Box<[u8]>),
}

impl Value {
    /// How many bytes are kept without an allocation.
    pub const INLINE: usize = 22;

    #[inline]
    pub fn new(bytes: &[u8]) -> Self {
        if bytes.len() <= Self::INLINE {
            let mut inline = [0; Self::INLINE];
            inline[..bytes.len()].copy_from_slice(bytes);
            Value(Repr::Inline {
                len: bytes.len() as u8,
                bytes: inline,
            })
        } else {
            Value(Repr::Heap(bytes.into()))
        }
    }

    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..*len as usize],
            Repr::Heap(b) => b,
        }
    }
}

impl Default for Value {
    fn default() -> Self {
        Value::new(&[])
    }
}

impl Deref for Value {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for Value {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Borrow<[u8]> for Value {
    #[inline]
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl From<&[u8]> for Value {
    #[inline]
    fn from(bytes: &[u8]) -> Self {
        Value::new(bytes)
    }
}

impl From<Vec<u8>> for Value {
    fn from(bytes: Vec<u8>) -> Self {
        if bytes.len() <= Self::INLINE {
            Value::new(&bytes)
        } else {
            Value(Repr::Heap(bytes.into_boxed_slice()))
        }
    }
}

impl From<&Vec<u8>> for Value {
    fn from(bytes: &Vec<u8>) -> Self {
        Value::new(bytes)
    }
}

impl<const N: usize> From<[u8; N]> for Value {
    #[inline]
    fn from(bytes: [u8; N]) -> Self {
        Value::new(&bytes)
    }
}

impl<const N: usize> From<&[u8; N]> for Value {
    #[inline]
    fn from(bytes: &[u8; N]) -> Self {
        Value::new(bytes)
    }
}

impl From<Value> for Vec<u8> {
    fn from(value: Value) -> Self {
        value.to_vec()
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Value {}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state)
    }
}

impl PartialEq<[u8]> for Value {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_slice() == other
    }
}

impl PartialEq<&[u8]> for Value {
    fn eq(&self, other: &&[u8]) -> bool {
        self.as_slice() == *other
    }
}

impl PartialEq<Vec<u8>> for Value {
    fn eq(&self, other: &Vec<u8>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<const N: usize> PartialEq<[u8; N]> for Value {
    fn eq(&self, other: &[u8; N]) -> bool {
        self.as_slice() == other
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_slice(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acts_like_the_bytes_it_holds() {
        assert_eq!(std::mem::size_of::<Value>(), 24);
        let short = Value::from(vec![0, 1]);
        let long = Value::from(vec![7; 40]);
        assert_eq!(&*short, &[0, 1]);
        assert_eq!(long.len(), 40);
        assert_eq!(short.cmp(&Value::from([0, 2])), Ordering::Less);
        assert_eq!(Value::from([0, 1, 0]).cmp(&short), Ordering::Greater);
        assert_eq!(
            short.cmp(&long),
            vec![0u8, 1].cmp(&vec![7u8; 40]),
            "ordered like Vec<u8>"
        );
        assert_eq!(format!("{short:?}"), format!("{:?}", vec![0u8, 1]));
        assert_eq!(Value::from(vec![9; 22]), vec![9; 22]);
        assert_eq!(Value::default().len(), 0);
    }
}
