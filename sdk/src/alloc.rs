//! The allocator connectors run with: a per-call arena in front of the system allocator.
//!
//! The host runs every call in a fresh instance and resets its memory when the call ends, so
//! small blocks need not be freed one by one: [`CallArena`] hands them out from one region by
//! bumping a pointer, and freeing one only takes it back when it is the last one handed out (a
//! temporary string, a vector that grows in place). Large blocks, and every block once the
//! region is used up, go to the system allocator and are freed as usual, so a call that moves
//! megabytes (a media download) uses no more memory than it would without the arena.
//!
//! [`export_connector!`](crate::export_connector) installs it; pass `system_allocator` to the
//! macro to keep Rust's default allocator instead.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;

/// Blocks up to this many bytes come from the arena; larger ones from the system allocator.
pub const SMALL_BLOCK_MAX: usize = 4096;
/// The arena's region: a zeroed static, so part of the memory an instance starts with (no
/// `memory.grow`). Only the pages a call writes are touched, and reset by the host afterwards.
pub const REGION_BYTES: usize = 64 * 1024;
/// The strictest alignment the arena serves; stricter requests go to the system allocator.
const MAX_ALIGN: usize = 16;

/// A bump region: `[start, end)`, handed out up to `next`.
#[derive(Debug, Default)]
struct Region {
    start: usize,
    next: usize,
    end: usize,
}

impl Region {
    /// A block of `layout` from the region, if it fits.
    fn take(&mut self, layout: Layout) -> Option<usize> {
        let at = self.next.checked_next_multiple_of(layout.align())?;
        let after = at.checked_add(layout.size())?;
        if self.end == 0 || after > self.end {
            return None;
        }
        self.next = after;
        Some(at)
    }

    /// Whether `ptr` lies in the region.
    fn owns(&self, ptr: usize) -> bool {
        self.start <= ptr && ptr < self.end
    }

    /// Give back a block: only the last one handed out can be reused.
    fn give_back(&mut self, ptr: usize, size: usize) {
        if ptr + size == self.next {
            self.next = ptr;
        }
    }

    /// Resize the last block handed out in place, if it is `ptr` and the new size fits.
    fn resize_last(&mut self, ptr: usize, old_size: usize, new_size: usize) -> bool {
        if ptr + old_size != self.next || new_size > self.end - ptr {
            return false;
        }
        self.next = ptr + new_size;
        true
    }
}

/// A per-call arena for small blocks in front of [`System`]. See the [module](self) docs.
pub struct CallArena {
    region: Mutex<Region>,
    bytes: std::cell::UnsafeCell<Bytes>,
}

/// The region's bytes, aligned for any small block.
#[repr(C, align(16))]
struct Bytes([u8; REGION_BYTES]);

impl CallArena {
    /// An arena whose region is not yet in use.
    pub const fn new() -> CallArena {
        CallArena { region: Mutex::new(Region { start: 0, next: 0, end: 0 }), bytes: std::cell::UnsafeCell::new(Bytes([0; REGION_BYTES])) }
    }

    fn small(layout: &Layout) -> bool {
        layout.size() <= SMALL_BLOCK_MAX && layout.align() <= MAX_ALIGN
    }

    fn region(&self) -> std::sync::MutexGuard<'_, Region> {
        // Allocation never panics while holding the lock, but never let a poisoned lock stop it.
        self.region.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

// SAFETY: the bytes are never read or written by the arena itself; it only hands out disjoint
// pieces of them, under the region's lock.
unsafe impl Sync for CallArena {}

impl Default for CallArena {
    fn default() -> CallArena {
        CallArena::new()
    }
}

// SAFETY: small blocks come from the arena's own bytes (only ever handed out through `region`,
// whose lock serializes every use) and never overlap: the region hands out each byte once,
// except after `give_back`/`resize_last` of the block that ends at `next`, which the caller no
// longer uses. Every other block is `System`'s, and a pointer is sent back to the allocator
// that owns its address.
unsafe impl GlobalAlloc for CallArena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if Self::small(&layout) {
            let mut region = self.region();
            if region.end == 0 {
                let base = self.bytes.get() as usize;
                *region = Region { start: base, next: base, end: base + REGION_BYTES };
            }
            if let Some(at) = region.take(layout) {
                return at as *mut u8;
            }
        }
        // SAFETY: the caller's layout, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let mut region = self.region();
        if region.owns(ptr as usize) {
            region.give_back(ptr as usize, layout.size());
            return;
        }
        drop(region);
        // SAFETY: not the region's, so `System` handed it out with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let owned = {
            let mut region = self.region();
            let owned = region.owns(ptr as usize);
            if owned && new_size <= SMALL_BLOCK_MAX && region.resize_last(ptr as usize, layout.size(), new_size) {
                return ptr;
            }
            owned
        };
        if !owned && new_size > SMALL_BLOCK_MAX {
            // SAFETY: `System`'s block, resized by `System`.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // Move between the region and `System`, or within the region.
        // SAFETY: `new_size` is non-zero and fits `isize` (the caller's contract).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as above; copy what both blocks hold, then free the old one where it came from.
        unsafe {
            let moved = self.alloc(new_layout);
            if !moved.is_null() {
                std::ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            moved
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region() -> Region {
        Region { start: 1000, next: 1000, end: 1100 }
    }

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn hands_out_aligned_blocks_that_do_not_overlap() {
        let mut r = region();
        assert_eq!(r.take(layout(3, 1)), Some(1000));
        assert_eq!(r.take(layout(8, 8)), Some(1008));
        assert_eq!(r.take(layout(1, 1)), Some(1016));
        assert_eq!(r.next, 1017);
    }

    #[test]
    fn a_full_region_refuses_and_an_empty_one_has_nothing() {
        let mut r = region();
        assert_eq!(r.take(layout(100, 1)), Some(1000));
        assert_eq!(r.take(layout(1, 1)), None);
        assert_eq!(Region::default().take(layout(1, 1)), None);
    }

    #[test]
    fn only_the_last_block_is_reused() {
        let mut r = region();
        let a = r.take(layout(10, 1)).unwrap();
        let b = r.take(layout(10, 1)).unwrap();
        r.give_back(a, 10);
        assert_eq!(r.next, 1020, "an earlier block stays taken");
        r.give_back(b, 10);
        assert_eq!(r.next, 1010, "the last block is reused");
    }

    #[test]
    fn the_last_block_grows_and_shrinks_in_place_within_the_region() {
        let mut r = region();
        let a = r.take(layout(10, 1)).unwrap();
        assert!(r.resize_last(a, 10, 50));
        assert_eq!(r.next, 1050);
        assert!(r.resize_last(a, 50, 20));
        assert_eq!(r.next, 1020);
        assert!(!r.resize_last(a, 20, 101), "past the end of the region");
        let b = r.take(layout(5, 1)).unwrap();
        assert!(!r.resize_last(a, 20, 30), "no longer the last block");
        assert!(r.resize_last(b, 5, 6));
    }

    #[test]
    fn owns_only_its_region() {
        let r = region();
        assert!(r.owns(1000) && r.owns(1099));
        assert!(!r.owns(999) && !r.owns(1100));
        assert!(!Region::default().owns(0));
    }

    #[test]
    fn blocks_keep_their_contents_across_moves() {
        // Exercise the allocator itself (natively) through a vector that grows from the region
        // into the system allocator and strings freed in any order.
        let arena = CallArena::new();
        unsafe {
            let l = layout(16, 8);
            let p = arena.alloc(l);
            p.copy_from_nonoverlapping(b"0123456789abcdef".as_ptr(), 16);
            let other = arena.alloc(layout(7, 1));
            let grown = arena.realloc(p, l, 3000);
            assert_eq!(std::slice::from_raw_parts(grown, 16), b"0123456789abcdef");
            let big = arena.realloc(grown, layout(3000, 8), 100_000);
            assert_eq!(std::slice::from_raw_parts(big, 16), b"0123456789abcdef");
            assert!(!arena.region().owns(big as usize), "large blocks come from the system allocator");
            let small = arena.realloc(big, layout(100_000, 8), 32);
            assert_eq!(std::slice::from_raw_parts(small, 16), b"0123456789abcdef");
            assert!(arena.region().owns(small as usize));
            arena.dealloc(other, layout(7, 1));
            arena.dealloc(small, layout(32, 8));
        }
    }
}
