//! Reading YAML text: the document as a JSON value, and where each path of it starts.
//!
//! Values come from `serde_yaml` (YAML 1.2 types, duplicate keys refused); line numbers from
//! walking `yaml-rust2`'s parser events, which carry positions, into a map from paths
//! (`flows[0].steps[2].inputs.url`) to lines. Two passes over a definition cost little and keep
//! each library doing what it does well.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

use crate::Problem;

/// The lines where the nodes of a document start, by path.
#[derive(Debug, Default, Clone)]
pub struct Lines(HashMap<String, usize>);

impl Lines {
    /// The line of `path`, or of its nearest ancestor that has one.
    pub fn line_of(&self, path: &str) -> Option<usize> {
        let mut path = path;
        loop {
            if let Some(line) = self.0.get(path) {
                return Some(*line);
            }
            let cut = path.rfind(['.', '['])?;
            path = &path[..cut];
        }
    }
}

/// Parses YAML text into a JSON value and its line index; a syntax error is one problem.
pub fn parse(text: &str) -> Result<(Value, Lines), Problem> {
    let value: Value = serde_yaml::from_str(text).map_err(|err| Problem {
        path: String::new(),
        line: err.location().map(|l| l.line()),
        message: format!("invalid YAML: {}", strip_location(&err.to_string())),
    })?;
    let mut indexer = Indexer::default();
    let mut parser = Parser::new_from_str(text);
    // serde_yaml accepted the text, so this parser will too; a refusal only loses line numbers.
    let _ = parser.load(&mut indexer, false);
    // A repeated key would silently keep only its last value: refuse it.
    if let Some((path, line)) = indexer.duplicates.into_iter().next() {
        let key = path.rsplit('.').next().unwrap_or(&path).to_string();
        return Err(Problem {
            path,
            line: Some(line),
            message: format!("duplicate key {key:?}"),
        });
    }
    Ok((value, Lines(indexer.lines)))
}

/// serde_yaml appends " at line L column C"; the line is reported separately.
fn strip_location(message: &str) -> &str {
    message.split(" at line ").next().unwrap_or(message)
}

enum Frame {
    Mapping {
        path: String,
        key: Option<String>,
        seen: HashSet<String>,
    },
    Sequence {
        path: String,
        next: usize,
    },
}

#[derive(Default)]
struct Indexer {
    stack: Vec<Frame>,
    lines: HashMap<String, usize>,
    duplicates: Vec<(String, usize)>,
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl Indexer {
    /// The path of the node starting now, or `None` when the node is a mapping key.
    fn next_path(&mut self, event: &Event) -> Option<String> {
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Sequence { path, next }) => {
                let p = format!("{path}[{next}]");
                *next += 1;
                Some(p)
            }
            Some(Frame::Mapping { path, key, .. }) => match key.take() {
                Some(k) => Some(child(path, &k)),
                None => {
                    let name = match event {
                        Event::Scalar(text, ..) => text.clone(),
                        _ => String::from("?"),
                    };
                    *key = Some(name);
                    None
                }
            },
        }
    }
}

impl MarkedEventReceiver for Indexer {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let starts_node = matches!(
            event,
            Event::Scalar(..)
                | Event::SequenceStart(..)
                | Event::MappingStart(..)
                | Event::Alias(..)
        );
        if starts_node {
            let line = mark.line();
            match self.next_path(&event) {
                None => {
                    // A key: its entry starts on the key's line.
                    if let Some(Frame::Mapping {
                        path,
                        key: Some(k),
                        seen,
                    }) = self.stack.last_mut()
                    {
                        if !seen.insert(k.clone()) {
                            self.duplicates.push((child(path, k), line));
                        }
                        self.lines.entry(child(path, k)).or_insert(line);
                    }
                }
                Some(path) => {
                    self.lines.entry(path.clone()).or_insert(line);
                    match event {
                        Event::MappingStart(..) => self.stack.push(Frame::Mapping {
                            path,
                            key: None,
                            seen: HashSet::new(),
                        }),
                        Event::SequenceStart(..) => {
                            self.stack.push(Frame::Sequence { path, next: 0 })
                        }
                        _ => {}
                    }
                }
            }
        } else if matches!(event, Event::MappingEnd | Event::SequenceEnd) {
            self.stack.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_their_lines() {
        let text = "name: A\nflows:\n  - name: F\n    steps:\n      - name: S\n        inputs:\n          url: x\n";
        let (value, lines) = parse(text).unwrap();
        assert_eq!(value["flows"][0]["steps"][0]["inputs"]["url"], "x");
        assert_eq!(lines.line_of("name"), Some(1));
        assert_eq!(lines.line_of("flows[0]"), Some(3));
        assert_eq!(lines.line_of("flows[0].steps[0].inputs.url"), Some(7));
        assert_eq!(
            lines.line_of("flows[0].steps[0].inputs.missing"),
            Some(6),
            "falls back to the parent"
        );
    }

    #[test]
    fn syntax_errors_carry_their_line() {
        let problem = parse("name: A\nflows: [\n  - x: : :\n").unwrap_err();
        assert!(problem.message.starts_with("invalid YAML"), "{problem:?}");
        assert!(problem.line.is_some());
        let duplicate = parse("name: A\nname: B\n").unwrap_err();
        assert_eq!(duplicate.message, "duplicate key \"name\"");
        assert_eq!((duplicate.path.as_str(), duplicate.line), ("name", Some(2)));
    }
}
