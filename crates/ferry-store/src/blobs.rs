//! The blob store: values too large for the hot tables. A trigger payload or a step result
//! whose JSON exceeds [`BLOB_THRESHOLD`] is written to the `blobs` table in the same
//! transaction as its row, which keeps only the blob's id (`executions.payload_blob`,
//! `step_results.results_blob`). Reads put the value back in SQL (the column lists below), so
//! callers never see the difference (`executions::COLUMNS`, `records::STEP_COLUMNS`: the
//! value's column is `COALESCE(<the blob's data>, <the column>)`). A payload's blob goes with its execution; a step
//! result's blob with the step result, so retention prunes it with the result.

use std::io;

use serde_json::Value;

/// Values whose JSON is longer than this (64 KiB) are kept as blobs.
pub const BLOB_THRESHOLD: usize = 64 * 1024;

/// Whether `value`'s JSON is longer than [`BLOB_THRESHOLD`]; stops writing it out as soon as
/// it is, so measuring a large value costs no more than the threshold.
pub(crate) fn oversized(value: &Value) -> bool {
    serde_json::to_writer(Budget(BLOB_THRESHOLD), value).is_err()
}

/// A writer that accepts up to its budget of bytes and fails beyond.
struct Budget(usize);

impl io::Write for Budget {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 = self
            .0
            .checked_sub(buf.len())
            .ok_or_else(|| io::Error::other("over the blob threshold"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_past_the_threshold_are_oversized() {
        assert!(!oversized(&Value::String("x".repeat(BLOB_THRESHOLD - 2))));
        assert!(oversized(&Value::String("x".repeat(BLOB_THRESHOLD - 1))));
    }
}
