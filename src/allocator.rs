//! The process's allocator: mimalloc, asked for a plain block wherever a
//! plain block has the alignment the layout needs.
//!
//! mimalloc instead of glibc's malloc because the request path allocates
//! and frees small objects on every request (header maps, bodies, boxed
//! futures); glibc's malloc and free were 9-13 % of the proxy's CPU in
//! profiles (docs/performance.md).
//!
//! The `mimalloc` crate sends every allocation through
//! `mi_malloc_aligned`, whose fast path serves only blocks of at most
//! 1 KiB that happen to sit at the alignment asked for; anything else (a
//! request's boxed futures, a header map's tables) takes its generic
//! path, which over-allocates unless the size class is a power of two. In
//! callgrind that was six of a keep-alive request's fifteen allocations
//! and about 1,000 of its instructions.
//!
//! How mimalloc (v3, as built here: no `debug` feature, so no guarded
//! blocks) lays out its pages makes every block `mi_malloc` returns
//! 16-aligned when it is 16 bytes or larger: pages start 16-aligned and
//! every size class above one word is a multiple of 16 bytes; the
//! one-word class is 8-aligned. This is how the library is built, not a
//! promise of its API, so the test below checks it for every size up to
//! 4 KiB and for larger ones. A layout whose alignment is at most 16 and
//! at most its size therefore gets a plain block, as Rust's `System`
//! allocator does with `malloc`; larger alignments still go to the aligned
//! calls. With mimalloc's `debug` feature and `MIMALLOC_GUARDED_PRECISE`
//! set, blocks are placed against a guard page and this would not hold:
//! that mode is not supported.

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

// SAFETY: one of the four documented unsafe sites (an allocator is
// unsafe to implement by definition). Each call hands mimalloc's block on
// as it is: a plain block only where `plain` holds, which mimalloc's
// layout makes aligned (module documentation; checked by the test), the
// aligned calls otherwise; null on failure, as `GlobalAlloc` requires.
// Blocks are freed with `mi_free`, which takes either kind.
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

    /// Every size up to 4 KiB and some larger ones (mimalloc's medium,
    /// large and huge pages), at alignments 1 to 64 and a page: four
    /// blocks of each layout at once (consecutive blocks of one size class
    /// sit at different alignments), each aligned and writable whole,
    /// keeping its bytes through a realloc that grows it and one that
    /// shrinks it, and zeroed when asked.
    #[test]
    #[allow(unsafe_code)]
    fn blocks_have_the_alignment_of_their_layout() {
        let allocator = Mimalloc;
        let sizes = (1..=4096).chain([6000, 8192, 65_536, 100_000, 1 << 20, 3 << 20]);
        for size in sizes {
            for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
                let Ok(layout) = Layout::from_size_align(size, align) else {
                    continue;
                };
                // SAFETY: layouts of non-zero size; each block is used
                // within its size and freed once, with the layout it has.
                unsafe {
                    let blocks: Vec<*mut u8> = (0..4).map(|_| allocator.alloc(layout)).collect();
                    for (n, &block) in blocks.iter().enumerate() {
                        assert!(!block.is_null());
                        assert_eq!(block as usize % align, 0, "size {size} align {align}");
                        block.write_bytes(n as u8 + 1, size);
                    }
                    for (n, block) in blocks.into_iter().enumerate() {
                        let grown = allocator.realloc(block, layout, size * 2);
                        assert_eq!(grown as usize % align, 0, "grown: size {size} align {align}");
                        // Every byte of the small ones, the ends of the large.
                        let kept = std::slice::from_raw_parts(grown, size);
                        let checked = [&kept[..size.min(4096)], &kept[size.saturating_sub(64)..]];
                        assert!(
                            checked.iter().all(|part| part.iter().all(|&b| b == n as u8 + 1)),
                            "grown: size {size}"
                        );
                        let grown_layout = Layout::from_size_align_unchecked(size * 2, align);
                        let shrunk = allocator.realloc(grown, grown_layout, size.div_ceil(2));
                        assert_eq!(shrunk as usize % align, 0, "shrunk: size {size} align {align}");
                        assert_eq!(*shrunk, n as u8 + 1);
                        allocator.dealloc(shrunk, Layout::from_size_align_unchecked(size.div_ceil(2), align));
                    }
                    let zeroed = allocator.alloc_zeroed(layout);
                    assert_eq!(zeroed as usize % align, 0, "zeroed: size {size} align {align}");
                    let zeros = std::slice::from_raw_parts(zeroed, size);
                    assert!(zeros[..size.min(4096)]
                        .iter()
                        .chain(&zeros[size.saturating_sub(64)..])
                        .all(|&b| b == 0));
                    allocator.dealloc(zeroed, layout);
                }
            }
        }
    }
}
