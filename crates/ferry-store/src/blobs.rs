//! The blob store: values too large for the hot tables. A trigger payload or a step result
//! whose JSON exceeds [`BLOB_THRESHOLD`] is written to the `blobs` table in the same
//! transaction as its row, which keeps only the blob's id (`executions.payload_blob`, and no
//! `execution_payloads` row; `step_results.results_blob`). Reads put the value back in SQL (the
//! column lists below), so callers never see the difference (`executions::COLUMNS`,
//! `records::STEP_COLUMNS`: the value is `COALESCE(<the blob's data>, <its usual place>)`). A payload's blob goes with its execution; a step
//! result's blob with the step result, so retention prunes it with the result.

use std::io;

use ferry_core::payload::Payload;
use serde_json::Value;

/// Values whose JSON is longer than this (64 KiB) are kept as blobs.
pub const BLOB_THRESHOLD: usize = 64 * 1024;

/// Whether `payload`'s JSON is longer than [`BLOB_THRESHOLD`] (its text is written now if it
/// was made from a value; the insert writes that text).
pub(crate) fn payload_oversized(payload: &Payload) -> bool {
    payload.text().len() > BLOB_THRESHOLD
}

/// Whether `value`'s JSON is longer than [`BLOB_THRESHOLD`]. Most values are far smaller: a
/// bound on the length, found without writing anything, settles those; the others are
/// written out until they pass the threshold, so measuring a large value costs no more than
/// the threshold.
pub(crate) fn oversized(value: &Value) -> bool {
    bound_within(value, BLOB_THRESHOLD).is_none()
        && serde_json::to_writer(Budget(BLOB_THRESHOLD), value).is_err()
}

/// An upper bound on the length of `value`'s JSON, when that bound is at most `budget`.
/// (No JSON crate offers a bound without writing the text, hence this walk.)
fn bound_within(value: &Value, budget: usize) -> Option<usize> {
    // A byte is written as at most six (`\u001f`); a number (f64, i64, u64) as at most 24.
    let text = |s: &str| s.len().checked_mul(6)?.checked_add(2);
    let bound = match value {
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => 24,
        Value::String(s) => text(s)?,
        Value::Array(items) => items.iter().try_fold(2 + items.len(), |sum, item| {
            sum.checked_add(bound_within(item, budget.checked_sub(sum)?)?)
        })?,
        Value::Object(map) => map.iter().try_fold(2 + 2 * map.len(), |sum, (key, item)| {
            let sum = sum.checked_add(text(key)?)?;
            sum.checked_add(bound_within(item, budget.checked_sub(sum)?)?)
        })?,
    };
    (bound <= budget).then_some(bound)
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
    fn the_bound_is_never_below_the_written_length() {
        let values = [
            serde_json::json!(null),
            serde_json::json!(-1.0e-300),
            serde_json::json!(u64::MAX),
            serde_json::json!("\u{1}\"\\é漢"),
            serde_json::json!({ "\n": [true, 1.5, "x", {}, []], "": null }),
        ];
        for value in values {
            let written = serde_json::to_string(&value).unwrap().len();
            let bound = bound_within(&value, usize::MAX).unwrap();
            assert!(bound >= written, "{value}: bound {bound} < {written}");
            assert_eq!(bound_within(&value, bound), Some(bound));
            assert_eq!(
                bound_within(&value, bound - 1),
                None,
                "{value}: over the budget"
            );
        }
    }

    #[test]
    fn values_past_the_threshold_are_oversized() {
        assert!(!oversized(&Value::String("x".repeat(BLOB_THRESHOLD - 2))));
        assert!(oversized(&Value::String("x".repeat(BLOB_THRESHOLD - 1))));
        let rows = |n: usize| Value::Array(vec![Value::String("x".repeat(998)); n]);
        let per_row = 1001;
        assert!(!oversized(&rows(BLOB_THRESHOLD / per_row)));
        assert!(oversized(&rows(BLOB_THRESHOLD / per_row + 1)));
    }
}
