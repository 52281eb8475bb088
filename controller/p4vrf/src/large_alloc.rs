//! A global allocator wrapper that takes large blocks straight from the kernel.
//!
//! The daemon's big arrays — a table's index or entries, a hash table's buckets — grow by
//! being replaced with a larger one. The general-purpose allocator (mimalloc) keeps what was
//! freed for a while before giving it back (1 s by default), so while a full table comes in,
//! every array a table outgrew stays resident beside its successor: about 30 bytes a route at
//! a million routes (`docs/benchmarks.md`, "BGP ingest"). Making the allocator give back all
//! freed memory at once costs 15–20 % more CPU, because that also returns the small blocks'
//! pages that are about to be reused.
//!
//! [`LargeBlocksFromKernel`] draws the line by size instead: a block of [`LARGE_BLOCK`] bytes or
//! more is its own anonymous mapping, unmapped when it is freed and grown with `mremap` (the
//! kernel moves the pages; nothing is copied). Small blocks, where the allocator's reuse pays,
//! stay with the wrapped allocator. This is what glibc's malloc does above its mmap threshold,
//! with the threshold fixed rather than raised as blocks are freed.
//!
//! A large block asked for zeroed comes with its pages mapped (`MAP_POPULATE`): those are the
//! tables' new indexes, which a growth fills all over at once, and taking their pages in one
//! call instead of a fault each made ingesting a million routes about a tenth faster.

use std::alloc::{GlobalAlloc, Layout};
use std::ptr;

/// Blocks of this size or more are mapped from the kernel. A megabyte: the transient lists of
/// a commit (about 2,048 routes) stay below it, the arrays of tables that hold a full routing
/// table are far above it.
pub const LARGE_BLOCK: usize = 1 << 20;

/// The alignment a mapping always has (the smallest page size of the platforms we run on).
const PAGE: usize = 4096;

/// Wraps a global allocator `A`, serving blocks of [`LARGE_BLOCK`] bytes or more (with an
/// alignment up to a page) as anonymous mappings of their own.
pub struct LargeBlocksFromKernel<A> {
    pub small: A,
}

/// Whether a block of this layout is (or was) a mapping of its own: decided by the layout
/// alone, which Rust hands back unchanged on `dealloc` and `realloc`.
fn is_large(size: usize, align: usize) -> bool {
    size >= LARGE_BLOCK && align <= PAGE
}

/// A mapping's length for a block of `size` bytes.
fn mapped_len(size: usize) -> usize {
    size.div_ceil(PAGE) * PAGE
}

/// How a fresh mapping's pages come in.
#[derive(Clone, Copy, PartialEq)]
enum Pages {
    /// Each at its first touch (a page fault each).
    OnTouch,
    /// All at once, in the `mmap` call.
    Now,
}

/// A fresh anonymous mapping (zero-filled by the kernel), or null.
unsafe fn map(size: usize, pages: Pages) -> *mut u8 {
    let populate = if pages == Pages::Now {
        libc::MAP_POPULATE
    } else {
        0
    };
    // SAFETY: an anonymous private mapping at an address of the kernel's choice touches no
    // existing memory.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            mapped_len(size),
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | populate,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        ptr::null_mut()
    } else {
        p.cast()
    }
}

/// Unmaps a block made by [`map`] or [`remap`] for `size` bytes.
unsafe fn unmap(p: *mut u8, size: usize) {
    // SAFETY: the caller passes a mapping of ours with the size it was made for.
    unsafe {
        libc::munmap(p.cast(), mapped_len(size));
    }
}

/// Grows or shrinks a mapping, moving it if it must; null when the kernel refuses (the old
/// mapping is then untouched).
unsafe fn remap(p: *mut u8, old_size: usize, new_size: usize) -> *mut u8 {
    let (old_len, new_len) = (mapped_len(old_size), mapped_len(new_size));
    if old_len == new_len {
        return p;
    }
    // SAFETY: the caller passes a mapping of ours with the size it was made for.
    let q = unsafe { libc::mremap(p.cast(), old_len, new_len, libc::MREMAP_MAYMOVE) };
    if q == libc::MAP_FAILED {
        ptr::null_mut()
    } else {
        q.cast()
    }
}

// SAFETY: every block is served by exactly one of the two sources, chosen by its layout, and
// returned to the same one: `is_large` gives the same answer for the layout a block was made
// with whenever Rust hands it back.
unsafe impl<A: GlobalAlloc> GlobalAlloc for LargeBlocksFromKernel<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_large(layout.size(), layout.align()) {
            unsafe { map(layout.size(), Pages::OnTouch) }
        } else {
            unsafe { self.small.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if is_large(layout.size(), layout.align()) {
            // The kernel's pages are zero. A large zeroed block is a table's new index, which
            // the table fills all over at once (placing every entry it held): its pages are
            // mapped in the one call, where faulting them in one by one was a fifth of the
            // time of growing an index of a million entries.
            unsafe { map(layout.size(), Pages::Now) }
        } else {
            unsafe { self.small.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        if is_large(layout.size(), layout.align()) {
            unsafe { unmap(p, layout.size()) }
        } else {
            unsafe { self.small.dealloc(p, layout) }
        }
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let align = layout.align();
        match (is_large(layout.size(), align), is_large(new_size, align)) {
            (false, false) => unsafe { self.small.realloc(p, layout, new_size) },
            (true, true) => unsafe { remap(p, layout.size(), new_size) },
            (was_large, _) => {
                // Across the line: a new block from the other source, the contents copied.
                // SAFETY: `new_size` with the old alignment is a valid layout (the caller's
                // contract for `realloc`).
                let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, align) };
                let q = unsafe { self.alloc(new_layout) };
                if !q.is_null() {
                    unsafe {
                        ptr::copy_nonoverlapping(p, q, layout.size().min(new_size));
                        if was_large {
                            unmap(p, layout.size());
                        } else {
                            self.small.dealloc(p, layout);
                        }
                    }
                }
                q
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::alloc::System;

    use super::*;

    const ALLOC: LargeBlocksFromKernel<System> = LargeBlocksFromKernel { small: System };

    /// Whether every page of `len` bytes from `p` is mapped in this process (`mincore` fails
    /// with ENOMEM on a range that is not).
    fn mapped(p: *mut u8, len: usize) -> bool {
        let pages = len.div_ceil(PAGE);
        let mut residency = vec![0u8; pages];
        let start = (p as usize) & !(PAGE - 1);
        // SAFETY: mincore only reads the page tables and writes `pages` bytes.
        unsafe { libc::mincore(start as *mut libc::c_void, len, residency.as_mut_ptr()) == 0 }
    }

    /// How many of the pages of `len` bytes from `p` (page-aligned) are resident.
    fn resident_pages(p: *mut u8, len: usize) -> usize {
        let mut residency = vec![0u8; len.div_ceil(PAGE)];
        // SAFETY: mincore only reads the page tables and writes one byte a page.
        let ok = unsafe { libc::mincore(p.cast(), len, residency.as_mut_ptr()) == 0 };
        assert!(ok, "mincore on a mapping of ours");
        residency.iter().filter(|r| **r & 1 == 1).count()
    }

    fn fill(p: *mut u8, len: usize) {
        for i in 0..len {
            unsafe { *p.add(i) = (i % 251) as u8 }
        }
    }

    fn holds_fill(p: *mut u8, len: usize) -> bool {
        (0..len).all(|i| unsafe { *p.add(i) } == (i % 251) as u8)
    }

    /// A block grows from small to large and larger and shrinks back, keeping its contents;
    /// a large block is its own mapping, gone once freed or moved to the small side.
    #[test]
    fn blocks_keep_their_contents_across_the_line() {
        let small = 4000;
        let layout = Layout::from_size_align(small, 8).unwrap();
        unsafe {
            let p = ALLOC.alloc(layout);
            assert!(!p.is_null());
            fill(p, small);

            let large = 3 * LARGE_BLOCK + 123;
            let q = ALLOC.realloc(p, layout, large);
            assert!(!q.is_null());
            assert!(holds_fill(q, small));
            fill(q, large);
            assert!(mapped(q, large));

            let larger = 9 * LARGE_BLOCK;
            let large_layout = Layout::from_size_align(large, 8).unwrap();
            let r = ALLOC.realloc(q, large_layout, larger);
            assert!(!r.is_null());
            assert!(holds_fill(r, large));
            assert!(mapped(r, larger));
            if r != q {
                assert!(!mapped(q, large), "the old mapping is gone after a move");
            }

            let larger_layout = Layout::from_size_align(larger, 8).unwrap();
            let s = ALLOC.realloc(r, larger_layout, small);
            assert!(!s.is_null());
            assert!(holds_fill(s, small));
            assert!(
                !mapped(r, larger),
                "shrinking below the line unmaps the block"
            );
            ALLOC.dealloc(s, layout);
        }
    }

    /// A large block is unmapped when freed, so its memory goes back at once; zeroed
    /// allocations are zero on both sides; alignments above a page stay with the small side.
    #[test]
    fn large_blocks_are_given_back_when_freed() {
        unsafe {
            let layout = Layout::from_size_align(2 * LARGE_BLOCK, 64).unwrap();
            let p = ALLOC.alloc_zeroed(layout);
            assert!(!p.is_null());
            assert_eq!(p as usize % PAGE, 0);
            assert!((0..layout.size()).step_by(997).all(|i| *p.add(i) == 0));
            fill(p, layout.size());
            assert!(mapped(p, layout.size()));
            ALLOC.dealloc(p, layout);
            assert!(!mapped(p, layout.size()));

            let huge_align = Layout::from_size_align(LARGE_BLOCK, 2 * PAGE).unwrap();
            assert!(!is_large(huge_align.size(), huge_align.align()));
            let q = ALLOC.alloc(huge_align);
            assert!(!q.is_null());
            assert_eq!(q as usize % (2 * PAGE), 0);
            ALLOC.dealloc(q, huge_align);

            let small = Layout::from_size_align(LARGE_BLOCK - 1, 8).unwrap();
            let z = ALLOC.alloc_zeroed(small);
            assert!((0..small.size()).step_by(997).all(|i| *z.add(i) == 0));
            ALLOC.dealloc(z, small);
        }
    }

    /// A large zeroed block (a table's new index, filled all over at once) has its pages from
    /// the start; a large block asked for without zeroing gets them as they are touched.
    #[test]
    fn large_zeroed_blocks_come_with_their_pages() {
        unsafe {
            let layout = Layout::from_size_align(4 * LARGE_BLOCK, 8).unwrap();
            let pages = layout.size() / PAGE;
            let z = ALLOC.alloc_zeroed(layout);
            assert!(!z.is_null());
            assert_eq!(resident_pages(z, layout.size()), pages);
            assert!((0..layout.size()).step_by(997).all(|i| *z.add(i) == 0));
            ALLOC.dealloc(z, layout);

            let p = ALLOC.alloc(layout);
            assert!(!p.is_null());
            assert_eq!(resident_pages(p, layout.size()), 0);
            *p = 1;
            assert_eq!(resident_pages(p, layout.size()), 1);
            ALLOC.dealloc(p, layout);

            let small = Layout::from_size_align(LARGE_BLOCK - 1, 8).unwrap();
            let z = ALLOC.alloc_zeroed(small);
            assert!((0..small.size()).step_by(997).all(|i| *z.add(i) == 0));
            ALLOC.dealloc(z, small);
        }
    }
}
