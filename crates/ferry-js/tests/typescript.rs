//! TypeScript: what `strip_types` keeps and removes, where it places a syntax error, and a
//! TypeScript code step run end to end (stripped once, then served from the bytecode cache).

mod common;

use common::{call, Host};
use ferry_js::typescript::strip_types;
use ferry_js::{JsError, JsOptions, JsRuntime, Language};
use serde_json::json;

#[test]
fn types_interfaces_generics_and_type_only_imports_are_removed() {
    let js = strip_types(
        r#"import type { Order } from "./order";
import { type Line, price } from "./line";
export interface Totals { [sku: string]: number }
type Pair<A, B> = [A, B];
declare const debug: boolean;
function first<T>(items: readonly T[]): T | undefined { return items[0]; }
const pair = ["a", 1] as Pair<string, number>;
const n = first<number>([1])!;
export default function run(order: Order, lines: Line[]): Totals { return { n: price(lines) + n }; }
"#,
        "step.ts",
    )
    .unwrap();
    for gone in [
        "interface",
        "type ",
        "Order",
        "Line",
        "<T>",
        ": T",
        "declare",
        " as ",
        "!;",
    ] {
        assert!(!js.contains(gone), "{gone:?} is still in:\n{js}");
    }
    assert!(js.contains("import { price } from \"./line\""), "{js}");
    assert!(
        js.contains("export default function run(order, lines)"),
        "{js}"
    );
}

#[test]
fn enums_namespaces_and_parameter_properties_become_javascript() {
    let js = strip_types(
        r#"enum Level { Low = 1, High }
namespace Util { export const twice = (n: number) => n * 2; }
class Point { constructor(public x: number, private y = 0) {} }
"#,
        "step.ts",
    )
    .unwrap();
    assert!(js.contains("Level[Level[\"Low\"] = 1] = \"Low\""), "{js}");
    assert!(js.contains("Util"), "{js}");
    assert!(js.contains("this.x = x"), "{js}");
}

#[test]
fn a_syntax_error_names_its_line_and_column_in_the_typescript() {
    let error = strip_types(
        "interface A { a: number }\nconst x: A = { a: 1 ;\n",
        "step.ts",
    )
    .unwrap_err();
    let JsError::Syntax { line, column, .. } = error else {
        panic!("{error:?}")
    };
    assert_eq!((line, column), (2, 21));

    let error = strip_types("let s = 'é';\nlet n: number = = 2;\n", "step.ts").unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("syntax error at line 2, column 17: "),
        "{error}"
    );
}

#[test]
fn jsx_is_refused_and_commonjs_exports_stay() {
    let error = strip_types("const a = <div/>;", "view.tsx").unwrap_err();
    assert!(
        error.to_string().contains("JSX is not supported"),
        "{error}"
    );
    let js = strip_types("module.exports = (x: number) => x;", "bundle.ts").unwrap();
    assert!(js.contains("module.exports = (x) => x"), "{js}");
}

#[tokio::test]
async fn a_typescript_step_runs_and_its_compiled_code_is_cached() {
    let runtime = JsRuntime::new(JsOptions::default());
    let code = r#"
interface Input { n: number }
const double = <T extends number>(n: T): number => n * 2;
module.exports = async (context: unknown, stepResults: { trigger: { results: Input } }) =>
  ({ data: double(stepResults.trigger.results.n) });
"#;
    for n in [2, 5] {
        let mut step = call(
            code,
            json!({}),
            json!({ "trigger": { "results": { "n": n } } }),
            10.0,
        );
        step.language = Language::TypeScript;
        let output = runtime.run_code(step, &Host::default()).await.unwrap();
        assert_eq!(output.data, json!(n * 2));
    }
    // The same text as JavaScript is another program: it does not parse.
    let as_js = call(code, json!({}), json!({}), 10.0);
    let error = runtime.run_code(as_js, &Host::default()).await.unwrap_err();
    assert!(matches!(error, JsError::Syntax { .. }), "{error:?}");
}

#[tokio::test]
async fn a_typescript_syntax_error_ends_the_step_with_its_place() {
    let runtime = JsRuntime::new(JsOptions::default());
    let mut step = call("const a: = 1;", json!({}), json!({}), 10.0);
    step.language = Language::TypeScript;
    let error = runtime.run_code(step, &Host::default()).await.unwrap_err();
    let JsError::Syntax { line, column, .. } = error else {
        panic!("{error:?}")
    };
    assert_eq!((line, column), (1, 10));
}
