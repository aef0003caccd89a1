//! The memory limit, kept by the allocator a sandbox's QuickJS runtime gets its memory from
//! rather than by QuickJS itself.
//!
//! QuickJS reports running out of memory by throwing an `InternalError: out of memory`, which
//! it must allocate too: when the allocation that failed was a small one, making the error
//! fails as well, and QuickJS throws `null` instead, which a step could also throw itself. So
//! the limit is kept here ([`Metered`]): once an allocation is refused, a small reserve past
//! the limit lets QuickJS make its error, and the sandbox remembers the refusal
//! ([`Budget::refused`]) to judge whatever the step then threw.
//!
//! QuickJS hands out its small allocations from 4 KiB arenas of its own, so this allocator sees
//! the arenas and the large blocks: a few calls per step, not one per object. The blocks come
//! from Rust's global allocator, on every platform. Written by hand because the limit must see
//! each allocation (no allocator crate offers a budget with a reserve).

use std::alloc::{self, Layout};
use std::cell::Cell;
use std::ptr;
use std::rc::Rc;

use rquickjs::allocator::Allocator;

/// How far past the limit allocations may go once one was refused: room for QuickJS's error
/// and the step's unwinding, never for more of the step's own data.
const RESERVE: usize = 256 * 1024;

/// What a runtime has allocated, and what it may.
#[derive(Debug, Default)]
pub(super) struct Budget {
    used: Cell<usize>,
    /// The most it may hold; 0 for no limit.
    limit: Cell<usize>,
    refused: Cell<bool>,
}

impl Budget {
    /// Sets the limit, in bytes (0: none).
    pub(super) fn set_limit(&self, bytes: usize) {
        self.limit.set(bytes);
    }

    /// Forgets an earlier refusal: called as each step starts.
    pub(super) fn rearm(&self) {
        self.refused.set(false);
    }

    /// Whether an allocation was refused since the step started.
    pub(super) fn refused(&self) -> bool {
        self.refused.get()
    }

    /// What the runtime holds now, in bytes.
    pub(super) fn used(&self) -> usize {
        self.used.get()
    }

    /// Whether `more` bytes may be allocated; a refusal is remembered.
    fn allows(&self, more: usize) -> bool {
        let limit = self.limit.get();
        if limit == 0 {
            return true;
        }
        let room = if self.refused.get() {
            limit.saturating_add(RESERVE)
        } else {
            limit
        };
        if self.used.get().saturating_add(more) <= room {
            return true;
        }
        self.refused.set(true);
        false
    }

    fn add(&self, bytes: usize) {
        self.used.set(self.used.get().saturating_add(bytes));
    }

    fn remove(&self, bytes: usize) {
        self.used.set(self.used.get().saturating_sub(bytes));
    }
}

/// Rust's global allocator, metered against a [`Budget`]. Each block starts with a header
/// holding its size, which freeing needs and QuickJS asks for ([`Allocator::usable_size`]).
pub(super) struct Metered(pub(super) Rc<Budget>);

/// Bytes before each block that hold its size: 16 keeps the block aligned for any value.
const HEADER: usize = 16;

/// The layout of a block of `size` bytes with its header.
fn layout(size: usize) -> Option<Layout> {
    Layout::from_size_align(size.checked_add(HEADER)?, HEADER).ok()
}

/// The start of the block `ptr` is the data of, and the data's size.
///
/// # Safety
/// `ptr` must come from [`Metered`] and not be freed yet.
#[allow(unsafe_code)]
unsafe fn block_of(ptr: *mut u8) -> (*mut u8, usize) {
    // SAFETY: `ptr` is `HEADER` bytes into a block whose header holds the data's size.
    unsafe {
        let base = ptr.sub(HEADER);
        (base, base.cast::<usize>().read())
    }
}

impl Metered {
    /// A block for `size` bytes (zeroed or not), counted; null when refused or when memory
    /// runs out.
    #[allow(unsafe_code)]
    fn allocate(&self, size: usize, zeroed: bool) -> *mut u8 {
        let Some(layout) = layout(size).filter(|_| self.0.allows(size)) else {
            return ptr::null_mut();
        };
        // SAFETY: the layout's size is at least `HEADER`, never zero.
        let base = unsafe {
            if zeroed {
                alloc::alloc_zeroed(layout)
            } else {
                alloc::alloc(layout)
            }
        };
        if base.is_null() {
            return base;
        }
        self.0.add(size);
        // SAFETY: the block has room for the header, aligned for a `usize`, then `size` bytes.
        unsafe {
            base.cast::<usize>().write(size);
            base.add(HEADER)
        }
    }
}

// SAFETY: blocks come from Rust's global allocator with 16-byte alignment, more than `usize`
// needs, and each header holds the size its block was allocated with.
#[allow(unsafe_code)]
unsafe impl Allocator for Metered {
    fn alloc(&mut self, size: usize) -> *mut u8 {
        self.allocate(size, false)
    }

    fn calloc(&mut self, count: usize, size: usize) -> *mut u8 {
        match count.checked_mul(size) {
            Some(total) => self.allocate(total, true),
            None => ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&mut self, ptr: *mut u8) {
        // SAFETY: the caller passes a block this allocator gave (QuickJS never frees null
        // through it), allocated with the layout its header's size gives.
        unsafe {
            let (base, size) = block_of(ptr);
            self.0.remove(size);
            alloc::dealloc(
                base,
                Layout::from_size_align_unchecked(size + HEADER, HEADER),
            );
        }
    }

    unsafe fn realloc(&mut self, ptr: *mut u8, new_size: usize) -> *mut u8 {
        // SAFETY: the caller passes a block this allocator gave; when the reallocation is
        // refused or fails, the old block stays valid and counted.
        unsafe {
            let (base, old) = block_of(ptr);
            if new_size > old && !self.0.allows(new_size - old) {
                return ptr::null_mut();
            }
            let Some(new_layout) = layout(new_size) else {
                return ptr::null_mut();
            };
            let old_layout = Layout::from_size_align_unchecked(old + HEADER, HEADER);
            let moved = alloc::realloc(base, old_layout, new_layout.size());
            if moved.is_null() {
                return moved;
            }
            self.0.remove(old);
            self.0.add(new_size);
            moved.cast::<usize>().write(new_size);
            moved.add(HEADER)
        }
    }

    unsafe fn usable_size(ptr: *mut u8) -> usize {
        // SAFETY: the caller passes a block this allocator gave.
        unsafe { block_of(ptr).1 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metered(limit: usize) -> (Metered, Rc<Budget>) {
        let budget = Rc::new(Budget::default());
        budget.set_limit(limit);
        (Metered(budget.clone()), budget)
    }

    #[test]
    #[allow(unsafe_code)]
    fn allocations_count_until_freed() {
        let (mut allocator, budget) = metered(0);
        let block = allocator.alloc(1000);
        assert!(!block.is_null());
        assert_eq!(budget.used(), 1000);
        let grown = unsafe { allocator.realloc(block, 5000) };
        assert_eq!(budget.used(), 5000);
        unsafe { allocator.dealloc(grown) };
        assert_eq!(budget.used(), 0);
    }

    #[test]
    #[allow(unsafe_code)]
    fn past_the_limit_only_the_reserve_is_left_and_the_refusal_is_remembered() {
        let (mut allocator, budget) = metered(64 * 1024);
        let kept = allocator.alloc(64 * 1024 - 512);
        assert!(!budget.refused());
        assert!(allocator.alloc(8 * 1024).is_null(), "past the limit");
        assert!(budget.refused());
        let error = allocator.alloc(2048);
        assert!(budget.used() > 64 * 1024, "the reserve is past the limit");
        assert!(!error.is_null(), "the reserve makes room for the error");
        assert!(
            allocator.alloc(RESERVE).is_null(),
            "never more than the reserve"
        );
        let same = unsafe { allocator.realloc(kept, 2 * RESERVE) };
        assert!(same.is_null(), "a refused realloc leaves the block");
        budget.rearm();
        assert!(!budget.refused());
        unsafe {
            allocator.dealloc(error);
            allocator.dealloc(kept);
        }
        assert_eq!(budget.used(), 0);
    }
}
