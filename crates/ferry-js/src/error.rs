//! The one error type: every way a code step can fail, each with a message that names the
//! place (line and column, the result's path) or the limit it hit.

/// Why a code step gave no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsError {
    /// The code does not parse.
    #[error("syntax error at line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
        /// What the parser said.
        message: String,
    },
    /// The code ran but exported no function.
    #[error("module.exports must be a function, but it is {found}")]
    NoExport {
        /// What it is instead (`an object`, `undefined`, …).
        found: String,
    },
    /// A component bundle ran but exported no component.
    #[error("the bundle must export a component made with component({{ … }}) (export default, module.exports or exports.default), but it exports {found}")]
    NoComponent {
        /// What it exports instead.
        found: String,
    },
    /// The code threw, or its promise was rejected.
    #[error("{message}{}", stack.as_deref().map(|s| format!("\n{s}")).unwrap_or_default())]
    Thrown {
        /// `TypeError: x is not a function`, or a description of a thrown non-Error value.
        message: String,
        /// The JavaScript stack, for thrown `Error`s.
        stack: Option<String>,
    },
    /// The execution's time limit passed while the code ran.
    #[error("exceeded the time limit of {seconds} s")]
    TimeLimit {
        /// The limit, in seconds.
        seconds: u64,
    },
    /// The code allocated more than the memory limit.
    #[error("exceeded the memory limit of {mebibytes} MiB")]
    MemoryLimit {
        /// The limit, in MiB.
        mebibytes: usize,
    },
    /// The code recursed past the stack limit.
    #[error("stack overflow: the code recursed too deeply (maximum call stack size exceeded)")]
    StackOverflow,
    /// The returned value holds something JSON cannot carry.
    #[error("the result cannot be serialized: {path} {problem}")]
    Unserializable {
        /// Where, from the returned object: `data.items[3].callback`.
        path: String,
        /// What is wrong there: `is a function`, `refers back to data (a cycle)`, ….
        problem: String,
    },
    /// The returned object breaks the shape `{ data, statusCode?, headers?, contentType? }`.
    #[error("invalid result: {0}")]
    InvalidResult(String),
    /// The code's promise can never settle: nothing is left that could settle it.
    #[error("the code's promise never settled: it waits for nothing that is still running")]
    Unsettled,
    /// The caller stopped waiting (the execution was cancelled or timed out).
    #[error("the code step was cancelled")]
    Cancelled,
    /// The runtime itself failed (no thread, no context): not the code's fault.
    #[error("the JavaScript runtime failed: {0}")]
    Runtime(String),
}
