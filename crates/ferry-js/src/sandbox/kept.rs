//! Contexts kept warm between executions, when the node asks for it
//! ([`crate::JsOptions::keep_warm`]): a code step that ended cleanly leaves its context, with its
//! code evaluated, on a shelf under its scope (the engine gives the instance's id) and its code;
//! a later step of the same scope and code runs in it, calling the same exported function
//! again, instead of preparing a fresh context and loading the code. What the code keeps at its
//! module's top level (a cache, a counter) then lasts from one execution to the next, as on
//! serverless platforms; nothing crosses scopes.
//!
//! Only a context nothing is left running in is kept: the step succeeded, was not stopped, and
//! has no host work or timers outstanding and no jobs queued. And only while the runtime holds
//! at most a quarter of its memory limit (64 MiB at most): what kept contexts hold counts
//! against the next step's limit, and a step stopped at the limit drops them all. What a
//! dropped context held can outlast the first collection after it, so the shelf may refuse a
//! context or two after a large one went.

use std::collections::VecDeque;

use rquickjs::{Function, Persistent};

use super::{Ready, Warm};
use crate::{CodeCall, Language};

/// Who may run in a kept context: the scope and the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Key {
    scope: String,
    language: Language,
    code: String,
}

impl Key {
    /// The key of `call`, when it may run in a kept context.
    pub(super) fn of(call: &CodeCall) -> Option<Key> {
        Some(Key {
            scope: call.warm_scope.clone()?,
            language: call.language,
            code: call.code.clone(),
        })
    }

    fn fits(&self, scope: &str, call: &CodeCall) -> bool {
        self.scope == scope && self.language == call.language && self.code == call.code
    }
}

/// A context kept with the function its code exported.
///
/// Fields drop in order: the saved function before the context holding it.
pub(super) struct Kept {
    code: Persistent<Function<'static>>,
    warm: Warm,
    key: Key,
}

impl Kept {
    pub(super) fn new(key: Key, warm: Warm, code: Persistent<Function<'static>>) -> Kept {
        Kept { code, warm, key }
    }

    /// The context, ready for the step, with the function to call in it (and its key, to
    /// keep it under again).
    pub(super) fn into_ready(self) -> Ready {
        Ready {
            code: Some(self.code),
            warm: self.warm,
            key: Some(self.key),
        }
    }
}

/// The kept contexts of one runtime, most recently used first.
pub(super) struct Shelf {
    kept: VecDeque<Kept>,
    /// The most kept at once.
    most: usize,
    /// The most the runtime may hold, in bytes, for the context that just ran to be kept.
    room: usize,
}

/// The most of a runtime's memory limit kept contexts may hold together.
const SHARE_OF_LIMIT: usize = 4;

/// The most kept contexts may hold together, in bytes, whatever the limit.
const MAX_ROOM: usize = 64 * 1024 * 1024;

impl Shelf {
    /// Room for `most` contexts in a runtime limited to `memory_limit` bytes.
    pub(super) fn new(most: usize, memory_limit: usize) -> Shelf {
        Shelf {
            kept: VecDeque::with_capacity(most),
            most,
            room: (memory_limit / SHARE_OF_LIMIT).min(MAX_ROOM),
        }
    }

    /// Whether contexts are kept at all.
    pub(super) fn keeps(&self) -> bool {
        self.most > 0
    }

    /// Takes the context kept for `call`'s scope and code, if any.
    pub(super) fn take(&mut self, call: &CodeCall) -> Option<Kept> {
        let scope = call.warm_scope.as_deref()?;
        let at = self
            .kept
            .iter()
            .position(|kept| kept.key.fits(scope, call))?;
        self.kept.remove(at)
    }

    /// Whether a runtime holding `used` bytes has room for one more kept context.
    pub(super) fn fits(&self, used: usize) -> bool {
        used <= self.room
    }

    /// Keeps `kept` if the runtime, now holding `used` bytes, has room for it: the contexts
    /// it drops (the least recently used one when the shelf is full; every one, `kept` too,
    /// when there is no room), which the caller collects.
    pub(super) fn put(&mut self, kept: Kept, used: usize) -> Vec<Kept> {
        if self.most == 0 || !self.fits(used) {
            let mut dropped: Vec<Kept> = self.kept.drain(..).collect();
            dropped.push(kept);
            return dropped;
        }
        self.kept.push_front(kept);
        let mut dropped = Vec::new();
        while self.kept.len() > self.most {
            dropped.extend(self.kept.pop_back());
        }
        dropped
    }

    /// Drops every kept context (after a step stopped at the memory limit, which they may
    /// have caused): how many there were.
    pub(super) fn clear(&mut self) -> usize {
        let count = self.kept.len();
        self.kept.clear();
        count
    }
}
