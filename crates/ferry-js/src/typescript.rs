//! TypeScript without a build tool: [`strip_types`] turns TypeScript into the JavaScript the
//! sandbox runs, with `oxc` (parser, TypeScript transform, code generator), all in Rust.
//!
//! What it takes is TypeScript as `tsc` with `isolatedModules` would compile it one file at a
//! time: type annotations, interfaces, type aliases, generics, `as`/`satisfies`/`!`, type-only
//! imports and exports (and imports only types use) are removed; `enum`s (not `const enum`s
//! across files), namespaces and parameter properties become the JavaScript `tsc` would write.
//! Nothing is type-checked, and nothing is lowered: the output keeps the source's
//! JavaScript syntax, which QuickJS runs. JSX (`.tsx`) is refused: there is no React to call.
//! [`check_javascript`] uses the same parser to check a JavaScript step's syntax at import.

use std::path::Path;

use oxc_allocator::Allocator;
use oxc_codegen::Codegen;
use oxc_parser::Parser;
use oxc_semantic::SemanticBuilder;
use oxc_span::SourceType;
use oxc_transformer::{TransformOptions, Transformer};

use crate::JsError;

/// The language a code step is written in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Language {
    /// JavaScript, run as written.
    #[default]
    JavaScript,
    /// TypeScript, whose types are stripped before it runs.
    TypeScript,
}

impl Language {
    /// Every language by the name steps give it.
    pub const NAMES: [(&'static str, Language); 2] = [
        ("javascript", Language::JavaScript),
        ("typescript", Language::TypeScript),
    ];

    /// The language named `name` (`javascript` or `typescript`), if any.
    pub fn parse(name: &str) -> Option<Language> {
        Self::NAMES
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, language)| *language)
    }

    /// Its name, as steps give it.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::JavaScript => "javascript",
            Language::TypeScript => "typescript",
        }
    }
}

/// Whether `source` is JavaScript that parses, read as an ES module, as the sandbox loads a
/// code step (so in strict mode, with the language's early errors): the import-time check of a
/// JavaScript step, which reports a syntax error with its line and column before anything
/// runs. Nothing is run or resolved.
pub fn check_javascript(source: &str) -> Result<(), JsError> {
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, source, SourceType::mjs()).parse();
    if let Some(first) = parsed.errors.first() {
        return Err(syntax_error(source, first));
    }
    // The early errors the parser leaves to the semantic pass (strict mode's among them).
    let checked = SemanticBuilder::new()
        .with_check_syntax_error(true)
        .build(&parsed.program);
    match checked.errors.first() {
        Some(first) => Err(syntax_error(source, first)),
        None => Ok(()),
    }
}

/// The JavaScript in `source`, read as an ES module, once its types are stripped. `file_name`
/// names it to the transpiler; a `.tsx` (or `.jsx`) one is refused, since JSX needs React.
/// A problem is a [`JsError::Syntax`] with the line and column in `source` (1-based; columns
/// count characters).
pub fn strip_types(source: &str, file_name: &str) -> Result<String, JsError> {
    if file_name.ends_with(".tsx") || file_name.ends_with(".jsx") {
        return Err(JsError::Syntax {
            line: 1,
            column: 1,
            message: format!("{file_name}: JSX is not supported; write plain TypeScript (.ts)"),
        });
    }
    let source_type = SourceType::ts().with_module(true);
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, source, source_type).parse();
    if let Some(first) = parsed.errors.first() {
        return Err(syntax_error(source, first));
    }
    let mut program = parsed.program;
    let scoping = SemanticBuilder::new()
        .with_excess_capacity(2.0)
        .build(&program)
        .semantic
        .into_scoping();
    let options = TransformOptions::default();
    let transformed = Transformer::new(&allocator, Path::new(file_name), &options)
        .build_with_scoping(scoping, &mut program);
    if let Some(first) = transformed.errors.first() {
        return Err(syntax_error(source, first));
    }
    Ok(Codegen::new().build(&program).code)
}

/// A diagnostic as a syntax error at its first label's place (the start when it has none).
fn syntax_error(source: &str, diagnostic: &oxc_diagnostics::OxcDiagnostic) -> JsError {
    let offset = diagnostic
        .labels
        .as_ref()
        .and_then(|labels| labels.first())
        .map_or(0, |label| label.offset());
    let (line, column) = line_and_column(source, offset);
    let mut message = diagnostic.message.to_string();
    if let Some(help) = &diagnostic.help {
        message.push_str(&format!(" ({help})"));
    }
    JsError::Syntax {
        line,
        column,
        message,
    }
}

/// The 1-based line and column (in characters) of byte `offset` in `source`.
fn line_and_column(source: &str, offset: usize) -> (u32, u32) {
    let before = source.get(..offset.min(source.len())).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    let column = before[line_start..].chars().count() + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_offsets_by_line_and_character() {
        assert_eq!(line_and_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_and_column("ab\ncd", 4), (2, 2));
        assert_eq!(line_and_column("é\nxy", 4), (2, 2));
        assert_eq!(line_and_column("ab", 99), (1, 3));
    }

    #[test]
    fn names_languages_both_ways() {
        for (name, language) in Language::NAMES {
            assert_eq!(Language::parse(name), Some(language));
            assert_eq!(language.as_str(), name);
        }
        assert_eq!(Language::parse("coffeescript"), None);
    }
}
