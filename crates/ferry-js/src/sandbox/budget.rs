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
//! the arenas and the large blocks: a few calls per step, not one per object. Written by hand
//! because the limit must see each allocation (no allocator crate offers a budget with a
//! reserve).

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
    #[cfg(test)]
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

/// The system allocator, metered against a [`Budget`].
pub(super) struct Metered(pub(super) Rc<Budget>);

impl Metered {
    /// Counts what `ptr` (just allocated, or null) holds.
    #[allow(unsafe_code)]
    fn counted(&self, ptr: *mut libc::c_void) -> *mut u8 {
        if !ptr.is_null() {
            // SAFETY: `ptr` was just returned by the system allocator.
            self.0.add(unsafe { libc::malloc_usable_size(ptr) });
        }
        ptr.cast()
    }
}

// SAFETY: every pointer comes from the system allocator (malloc, calloc, realloc), which
// aligns to 16 bytes on the platforms Ferry builds for, more than `usize` needs; sizes are
// the system allocator's usable sizes.
#[allow(unsafe_code)]
unsafe impl Allocator for Metered {
    fn alloc(&mut self, size: usize) -> *mut u8 {
        if !self.0.allows(size) {
            return ptr::null_mut();
        }
        // SAFETY: plain malloc; a null result is passed on as QuickJS expects.
        self.counted(unsafe { libc::malloc(size) })
    }

    fn calloc(&mut self, count: usize, size: usize) -> *mut u8 {
        let Some(total) = count.checked_mul(size) else {
            return ptr::null_mut();
        };
        if !self.0.allows(total) {
            return ptr::null_mut();
        }
        // SAFETY: plain calloc; a null result is passed on as QuickJS expects.
        self.counted(unsafe { libc::calloc(count, size) })
    }

    unsafe fn dealloc(&mut self, ptr: *mut u8) {
        // SAFETY: the caller passes a pointer this allocator gave (QuickJS never frees null
        // through it).
        unsafe {
            self.0.remove(libc::malloc_usable_size(ptr.cast()));
            libc::free(ptr.cast());
        }
    }

    unsafe fn realloc(&mut self, ptr: *mut u8, new_size: usize) -> *mut u8 {
        // SAFETY: the caller passes a pointer this allocator gave; when realloc fails, the
        // old block stays valid and counted.
        unsafe {
            let old = libc::malloc_usable_size(ptr.cast());
            if new_size > old && !self.0.allows(new_size - old) {
                return ptr::null_mut();
            }
            let moved = libc::realloc(ptr.cast(), new_size);
            if moved.is_null() {
                return ptr::null_mut();
            }
            self.0.remove(old);
            self.counted(moved)
        }
    }

    unsafe fn usable_size(ptr: *mut u8) -> usize {
        // SAFETY: the caller passes a pointer this allocator gave.
        unsafe { libc::malloc_usable_size(ptr.cast()) }
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
        assert!(budget.used() >= 1000);
        let grown = unsafe { allocator.realloc(block, 5000) };
        assert!(budget.used() >= 5000);
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
