//! The process's allocator: mimalloc, asked for a plain block wherever a
//! plain block has the alignment the layout needs.
//!
//! mimalloc instead of glibc's malloc because the request path allocates
//! and frees small objects on every request (header maps, bodies, boxed
//! futures); glibc's malloc and free were 9-13 % of the proxy's CPU in
//! profiles (docs/performance.md).
//!
//! The `mimalloc` crate's allocator sends every allocation through
//! `mi_malloc_aligned`, whose fast path serves only blocks of at most
//! 1 KiB that happen to sit at the alignment asked for; anything else (a
//! request's boxed futures, a header map's tables) takes its generic path,
//! which over-allocates. In callgrind that was six allocations and about
//! 1,000 instructions of a keep-alive request. Every block `mi_malloc`
//! returns is aligned to 16 bytes when it is at least 16 bytes large, to
//! 8 otherwise (mimalloc's `MI_MAX_ALIGN_SIZE`), so a layout whose
//! alignment is at most 16 and at most its size is served by the plain
//! calls, as Rust's `System` allocator does with `malloc`; larger
//! alignments still go to the aligned ones.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// What a plain mimalloc block is always aligned to, when it is at least
/// this large.
const PLAIN_ALIGN: usize = 16;

/// mimalloc as the global allocator (see the module documentation).
pub struct Mimalloc;

/// Whether a plain block of `size` bytes has the alignment `align`.
fn plain(size: usize, align: usize) -> bool {
    align <= PLAIN_ALIGN && align <= size
}

// The third unsafe site: an allocator is unsafe to implement by
// definition. Each call hands mimalloc's result on as it is.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Mimalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if plain(layout.size(), layout.align()) {
            unsafe { mi::mi_malloc(layout.size()).cast() }
        } else {
            unsafe { mi::mi_malloc_aligned(layout.size(), layout.align()).cast() }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if plain(layout.size(), layout.align()) {
            unsafe { mi::mi_zalloc(layout.size()).cast() }
        } else {
            unsafe { mi::mi_zalloc_aligned(layout.size(), layout.align()).cast() }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if plain(new_size, layout.align()) {
            unsafe { mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast() }
        } else {
            unsafe { mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast() }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every size up to 4 KiB at every alignment up to a page: four blocks
    /// of each layout at once (consecutive blocks of one size class sit
    /// at different alignments), each aligned, writable whole, keeping its
    /// bytes through a realloc, and zeroed when asked.
    #[test]
    #[allow(unsafe_code)]
    fn blocks_have_the_alignment_of_their_layout() {
        let allocator = Mimalloc;
        for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
            for size in 1..=4096 {
                let Ok(layout) = Layout::from_size_align(size, align) else {
                    continue;
                };
                // SAFETY: layouts of non-zero size; each block is freed
                // once, with the layout it was made with.
                unsafe {
                    let blocks: Vec<*mut u8> = (0..4).map(|_| allocator.alloc(layout)).collect();
                    for &block in &blocks {
                        assert!(!block.is_null());
                        assert_eq!(block as usize % align, 0, "size {size} align {align}");
                        block.write_bytes(0xA5, size);
                    }
                    for block in blocks {
                        let grown = allocator.realloc(block, layout, size * 2);
                        assert_eq!(grown as usize % align, 0, "realloc: size {size} align {align}");
                        assert_eq!(*grown.add(size - 1), 0xA5);
                        allocator.dealloc(grown, Layout::from_size_align_unchecked(size * 2, align));
                    }
                    let zeroed = allocator.alloc_zeroed(layout);
                    assert_eq!(zeroed as usize % align, 0, "zeroed: size {size} align {align}");
                    assert!(std::slice::from_raw_parts(zeroed, size).iter().all(|&b| b == 0));
                    allocator.dealloc(zeroed, layout);
                }
            }
        }
    }
}
