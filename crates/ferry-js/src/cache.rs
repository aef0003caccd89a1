//! Compiled code, cached as QuickJS bytecode under the SHA-256 of the code's language and text
//! and shared by every sandbox thread (TypeScript is stripped only on a miss). Bounded: past the limits the cache is emptied and fills again with
//! what runs next.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::Language;

/// The most code texts kept.
const MAX_ENTRIES: usize = 1024;

/// The most bytecode kept, in bytes.
const MAX_BYTES: usize = 64 * 1024 * 1024;

/// A code text's key.
pub(crate) type CodeKey = [u8; 32];

/// The key of `code` written in `language`.
pub(crate) fn key_of(language: Language, code: &str) -> CodeKey {
    let mut hash = Sha256::new();
    hash.update(language.as_str().as_bytes());
    hash.update([0]);
    hash.update(code.as_bytes());
    hash.finalize().into()
}

/// Bytecode by code key.
#[derive(Default)]
pub(crate) struct CodeCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<CodeKey, Arc<[u8]>>,
    bytes: usize,
}

impl CodeCache {
    /// The bytecode compiled from the code with `key`, if kept.
    pub(crate) fn get(&self, key: &CodeKey) -> Option<Arc<[u8]>> {
        self.lock().entries.get(key).cloned()
    }

    /// Keeps `bytecode` for the code with `key`.
    pub(crate) fn put(&self, key: CodeKey, bytecode: Vec<u8>) {
        let mut inner = self.lock();
        if inner.entries.len() >= MAX_ENTRIES || inner.bytes + bytecode.len() > MAX_BYTES {
            inner.entries.clear();
            inner.bytes = 0;
        }
        inner.bytes += bytecode.len();
        if let Some(old) = inner.entries.insert(key, bytecode.into()) {
            inner.bytes -= old.len();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Nothing panics while holding this lock; if something did, the map is still whole.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_bytecode_by_the_hash_of_the_code() {
        let cache = CodeCache::default();
        cache.put(key_of(Language::JavaScript, "a"), vec![1, 2]);
        assert_eq!(
            cache.get(&key_of(Language::JavaScript, "a")).as_deref(),
            Some(&[1u8, 2][..])
        );
        assert!(cache.get(&key_of(Language::JavaScript, "b")).is_none());
    }

    #[test]
    fn keeps_the_same_text_apart_by_language() {
        let cache = CodeCache::default();
        cache.put(key_of(Language::TypeScript, "a"), vec![1]);
        assert!(cache.get(&key_of(Language::JavaScript, "a")).is_none());
    }

    #[test]
    fn empties_itself_when_full_instead_of_growing() {
        let cache = CodeCache::default();
        for i in 0..MAX_ENTRIES + 1 {
            cache.put(key_of(Language::JavaScript, &i.to_string()), vec![0]);
        }
        assert!(cache.get(&key_of(Language::JavaScript, "0")).is_none());
        assert!(cache
            .get(&key_of(Language::JavaScript, &MAX_ENTRIES.to_string()))
            .is_some());
    }
}
