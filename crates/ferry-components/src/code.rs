//! What an import checks of a `code.run` step's values: its `language` is one Ferry runs, and
//! its code parses (JavaScript as the ES module the sandbox loads; TypeScript with its types
//! stripped, as they will be when it runs), so a syntax error is reported at import with the
//! line and column in the code.

use std::collections::BTreeMap;

use ferry_definition::InputProblem;
use ferry_js::typescript::{check_javascript, strip_types, Language};
use ferry_js::JsError;
use serde_json::Value;

/// The problems with a `code.run` step's `inputs`.
pub(crate) fn check(inputs: &BTreeMap<String, Value>) -> Vec<InputProblem> {
    let language = match inputs.get("language") {
        None => Language::JavaScript,
        Some(given) => match given.as_str().and_then(Language::parse) {
            Some(language) => language,
            None => {
                let message = format!("expected javascript or typescript, got {given}");
                return vec![problem("language", message)];
            }
        },
    };
    let Some(code) = inputs.get("code").and_then(Value::as_str) else {
        return Vec::new();
    };
    let (name, parsed) = match language {
        Language::TypeScript => ("TypeScript", strip_types(code, "code.ts").map(|_| ())),
        Language::JavaScript => ("JavaScript", check_javascript(code)),
    };
    match parsed {
        Ok(()) => Vec::new(),
        Err(JsError::Syntax {
            line,
            column,
            message,
        }) => vec![problem(
            "code",
            format!("{name} syntax error at line {line}, column {column} of the code: {message}"),
        )],
        Err(other) => vec![problem("code", other.to_string())],
    }
}

fn problem(input: &str, message: String) -> InputProblem {
    InputProblem {
        input: input.to_string(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inputs(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn accepts_javascript_without_a_language_and_typescript_that_parses() {
        let js = inputs(&[("code", json!("module.exports = async () => ({ data: 1 })"))]);
        assert!(check(&js).is_empty());
        let ts = inputs(&[
            (
                "code",
                json!("const n: number = 1;\nmodule.exports = async () => ({ data: n });"),
            ),
            ("language", json!("typescript")),
        ]);
        assert!(check(&ts).is_empty());
    }

    #[test]
    fn names_the_line_and_column_of_a_typescript_syntax_error() {
        let ts = inputs(&[
            (
                "code",
                json!("interface A { a: number }\nconst x: A = { a: 1 ;\n"),
            ),
            ("language", json!("typescript")),
        ]);
        let problems = check(&ts);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].input, "code");
        assert!(
            problems[0]
                .message
                .starts_with("TypeScript syntax error at line 2, column 21 of the code: "),
            "{}",
            problems[0].message
        );
    }

    #[test]
    fn names_the_line_and_column_of_a_javascript_syntax_error() {
        let js = inputs(&[(
            "code",
            json!("module.exports = async () => {\n  return { data: (1 + };\n};"),
        )]);
        let problems = check(&js);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].input, "code");
        assert!(
            problems[0]
                .message
                .starts_with("JavaScript syntax error at line 2, column 23 of the code: "),
            "{}",
            problems[0].message
        );
        // Strict mode, as the sandbox runs it: `with` is not JavaScript a step may use.
        let sloppy = inputs(&[("code", json!("with (Math) { module.exports = max; }"))]);
        assert_eq!(check(&sloppy).len(), 1);
    }

    #[test]
    fn refuses_an_unknown_language() {
        let given = inputs(&[("code", json!("x")), ("language", json!("python"))]);
        assert_eq!(
            check(&given),
            vec![problem(
                "language",
                "expected javascript or typescript, got \"python\"".into()
            )]
        );
    }
}
