//! A `#![no_std]` static library that links `igra-proto`: it builds only while nothing in the core's
//! dependency graph links `std`.
#![no_std]

extern crate alloc;

use core::alloc::{GlobalAlloc, Layout};
use core::panic::PanicInfo;

/// An allocator that never allocates: the canary only has to link, never to run.
struct NoAllocator;

// SAFETY: returning null is the documented way for an allocator to report failure, and `dealloc` is
// never reached because nothing is ever allocated.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for NoAllocator {
    unsafe fn alloc(&self, _layout: Layout) -> *mut u8 {
        core::ptr::null_mut()
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

#[global_allocator]
static ALLOCATOR: NoAllocator = NoAllocator;

#[panic_handler]
fn panic(_info: &PanicInfo<'_>) -> ! {
    loop {}
}

/// Uses the core so that it is linked: the envelope domain hash of a byte.
#[unsafe(no_mangle)]
pub extern "C" fn igra_canary_hash_first_byte(byte: u8) -> u8 {
    let digest = igra_proto::hash::domain_hash(igra_proto::hash::Domain::Envelope, &[byte]);
    digest[0] ^ (blake3::hash(&[byte]).as_bytes()[0])
}
