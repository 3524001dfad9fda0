//! Collections whose length is bounded by a named constant, checked while decoding.
//!
//! A length prefix above the bound is refused before anything is allocated, so a hostile peer can never
//! make a decoder reserve more than the bound allows.

use alloc::vec::Vec;
use core::fmt;
use core::marker::PhantomData;
use core::ops::Deref;

use serde::de::{Error, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value would exceed its collection's bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapacityError {
    /// The bound that was hit.
    pub limit: usize,
}

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "more than {} elements", self.limit)
    }
}

impl core::error::Error for CapacityError {}

/// A vector of at most `MAX` elements.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BoundedVec<T, const MAX: usize>(Vec<T>);

impl<T, const MAX: usize> BoundedVec<T, MAX> {
    /// The bound.
    pub const MAX: usize = MAX;

    /// An empty vector.
    pub const fn new() -> Self {
        Self(Vec::new())
    }

    /// Appends `value`, or gives it back if the vector is full.
    pub fn push(&mut self, value: T) -> Result<(), T> {
        if self.0.len() >= MAX {
            return Err(value);
        }
        self.0.push(value);
        Ok(())
    }

    /// The elements as a vector.
    pub fn into_inner(self) -> Vec<T> {
        self.0
    }
}

impl<T, const MAX: usize> Default for BoundedVec<T, MAX> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, const MAX: usize> TryFrom<Vec<T>> for BoundedVec<T, MAX> {
    type Error = CapacityError;

    fn try_from(value: Vec<T>) -> Result<Self, CapacityError> {
        if value.len() > MAX {
            return Err(CapacityError { limit: MAX });
        }
        Ok(Self(value))
    }
}

impl<T, const MAX: usize> Deref for BoundedVec<T, MAX> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T: Serialize, const MAX: usize> Serialize for BoundedVec<T, MAX> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de, T: Deserialize<'de>, const MAX: usize> Deserialize<'de> for BoundedVec<T, MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BoundedVisitor<T, const MAX: usize>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>, const MAX: usize> Visitor<'de> for BoundedVisitor<T, MAX> {
            type Value = BoundedVec<T, MAX>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "at most {MAX} elements")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let announced = seq.size_hint().unwrap_or(0);
                if announced > MAX {
                    return Err(A::Error::invalid_length(announced, &self));
                }
                let mut out = Vec::with_capacity(announced);
                while let Some(value) = seq.next_element()? {
                    if out.len() >= MAX {
                        return Err(A::Error::invalid_length(MAX + 1, &self));
                    }
                    out.push(value);
                }
                Ok(BoundedVec(out))
            }
        }

        deserializer.deserialize_seq(BoundedVisitor::<T, MAX>(PhantomData))
    }
}

/// A byte string of at most `MAX` bytes, encoded as a length prefix and the raw bytes.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct BoundedBytes<const MAX: usize>(Vec<u8>);

impl<const MAX: usize> BoundedBytes<MAX> {
    /// The bound.
    pub const MAX: usize = MAX;

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }

    /// The bytes as a vector.
    pub fn into_inner(self) -> Vec<u8> {
        self.0
    }
}

impl<const MAX: usize> TryFrom<Vec<u8>> for BoundedBytes<MAX> {
    type Error = CapacityError;

    fn try_from(value: Vec<u8>) -> Result<Self, CapacityError> {
        if value.len() > MAX {
            return Err(CapacityError { limit: MAX });
        }
        Ok(Self(value))
    }
}

impl<const MAX: usize> TryFrom<&[u8]> for BoundedBytes<MAX> {
    type Error = CapacityError;

    fn try_from(value: &[u8]) -> Result<Self, CapacityError> {
        if value.len() > MAX {
            return Err(CapacityError { limit: MAX });
        }
        Ok(Self(value.to_vec()))
    }
}

impl<const MAX: usize> Deref for BoundedBytes<MAX> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl<const MAX: usize> fmt::Debug for BoundedBytes<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes", self.0.len())
    }
}

impl<const MAX: usize> Serialize for BoundedBytes<MAX> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de, const MAX: usize> Deserialize<'de> for BoundedBytes<MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BytesVisitor<const MAX: usize>;

        impl<const MAX: usize> Visitor<'_> for BytesVisitor<MAX> {
            type Value = BoundedBytes<MAX>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "at most {MAX} bytes")
            }

            fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Self::Value, E> {
                if v.len() > MAX {
                    return Err(E::invalid_length(v.len(), &self));
                }
                Ok(BoundedBytes(v.to_vec()))
            }
        }

        deserializer.deserialize_bytes(BytesVisitor::<MAX>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn push_stops_at_the_bound() {
        let mut v = BoundedVec::<u8, 2>::new();
        assert_eq!(v.push(1), Ok(()));
        assert_eq!(v.push(2), Ok(()));
        assert_eq!(v.push(3), Err(3));
        assert_eq!(&v[..], &[1, 2]);
        assert_eq!(BoundedVec::<u8, 2>::try_from(vec![1, 2, 3]), Err(CapacityError { limit: 2 }));
        assert_eq!(BoundedBytes::<2>::try_from(&[1u8, 2, 3][..]), Err(CapacityError { limit: 2 }));
    }

    #[test]
    fn decoding_refuses_lengths_above_the_bound() {
        let three: Vec<u8> = postcard::to_allocvec(&vec![1u16, 2, 3]).unwrap();
        assert!(postcard::from_bytes::<BoundedVec<u16, 2>>(&three).is_err());
        assert_eq!(&postcard::from_bytes::<BoundedVec<u16, 3>>(&three).unwrap()[..], &[1, 2, 3]);
        // A length prefix of u32::MAX with no data behind it is refused without allocating.
        let huge = postcard::to_allocvec(&u32::MAX).unwrap();
        assert!(postcard::from_bytes::<BoundedVec<u64, 8>>(&huge).is_err());
        assert!(postcard::from_bytes::<BoundedBytes<8>>(&huge).is_err());
        let bytes = postcard::to_allocvec(&BoundedBytes::<4>::try_from(&[9u8, 8, 7][..]).unwrap()).unwrap();
        assert_eq!(bytes, vec![3, 9, 8, 7]);
        assert!(postcard::from_bytes::<BoundedBytes<2>>(&bytes).is_err());
    }
}
