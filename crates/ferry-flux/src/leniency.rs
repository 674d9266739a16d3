//! Three mistakes of the InfluxDB guides' own scripts, which a real InfluxDB refuses, run on
//! Ferry with a note (a query's response header, a task run's log) unless the node or the
//! request asks for strict mode, which answers InfluxDB's own errors:
//!
//! 1. `import "secrets"`: no such package; read as `influxdata/influxdb/secrets` (no real
//!    package has the short name, so this cannot change a valid script's meaning);
//! 2. a negative `every` in `aggregateWindow` or `window` (`every: -task.every`): taken as
//!    its absolute value;
//! 3. a stray `]` just before the `)` closing a call's arguments (`to(bucket: "b"])`):
//!    dropped.
//!
//! Each is narrow on purpose: anything else that InfluxDB refuses is refused here too.

use parking_lot::Mutex;

use crate::ast::File;
use crate::error::ParseError;

/// The path the guides import secrets by, and the package it means.
pub const SECRETS_ALIAS: (&str, &str) = ("secrets", "influxdata/influxdb/secrets");

/// Most stray `]`s dropped from one script before the parser's error stands.
const MAX_BRACKET_FIXES: usize = 4;

/// Whether leniencies apply, and the notes of those that did.
#[derive(Debug, Default)]
pub struct Leniency {
    strict: bool,
    notes: Mutex<Vec<String>>,
}

impl Leniency {
    /// Leniencies on (`strict` false) or off.
    pub fn new(strict: bool) -> Leniency {
        Leniency {
            strict,
            notes: Mutex::new(Vec::new()),
        }
    }

    /// True (and `note` recorded once) when the leniency applies; false in strict mode.
    pub fn allow(&self, note: impl Into<String>) -> bool {
        if self.strict {
            return false;
        }
        let note = note.into();
        let mut notes = self.notes.lock();
        if !notes.contains(&note) {
            notes.push(note);
        }
        true
    }

    /// The notes so far.
    pub fn notes(&self) -> Vec<String> {
        self.notes.lock().clone()
    }
}

/// Parses `src`, dropping a stray `]` that stands right before a `)` where the parser stops
/// at it (leniency 3). The error is the parser's first one when the leniency does not apply.
///
/// The nodes keep their positions but not their source text (which nothing that runs a
/// script reads): a copy per node costs an allocation each, and up to input size × tree
/// height in memory.
pub fn parse(src: &str, leniency: &Leniency) -> Result<File, ParseError> {
    let parse = |src: &str| crate::parse_with(src, crate::ParseOptions { source_text: false });
    let first = match parse(src) {
        Ok(f) => return Ok(f),
        Err(e) => e,
    };
    let mut text = src.to_string();
    let mut err = first.clone();
    for _ in 0..MAX_BRACKET_FIXES {
        let Some(at) = stray_bracket(&text, &err) else {
            return Err(first);
        };
        let (line, col) = (err.start.line, err.start.column);
        if !leniency.allow(format!(
            "dropped a stray `]` before `)` at {line}:{col} (InfluxDB refuses it: invalid expression)"
        )) {
            return Err(first);
        }
        text.remove(at);
        match parse(&text) {
            Ok(f) => return Ok(f),
            Err(e) => err = e,
        }
    }
    Err(first)
}

/// The byte offset of a `]` at the error's start that only whitespace separates from a `)`.
fn stray_bracket(text: &str, err: &ParseError) -> Option<usize> {
    let line_start = text
        .split_inclusive('\n')
        .take(err.start.line.saturating_sub(1) as usize)
        .map(str::len)
        .sum::<usize>();
    let at = line_start + err.start.column.saturating_sub(1) as usize;
    let rest = text.get(at..)?;
    let after = rest.strip_prefix(']')?;
    after.trim_start().starts_with(')').then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUIDE_TAIL: &str = "from(bucket: \"a\")\n  |> range(start: -1h)\n  |> to(bucket: \"example-downsampled-bucket\"])\n";

    #[test]
    fn a_stray_bracket_before_a_closing_paren_is_dropped_with_a_note() {
        let l = Leniency::new(false);
        let f = parse(GUIDE_TAIL, &l).expect("parses leniently");
        assert_eq!(f.body.len(), 1);
        let notes = l.notes();
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].contains("stray `]`") && notes[0].contains("3:"),
            "{notes:?}"
        );
    }

    /// A script to run keeps its nodes' positions (for errors) without copies of their text.
    #[test]
    fn parsed_nodes_carry_positions_not_source_text() {
        let f = parse("x = 1 + 2\n", &Leniency::new(false)).unwrap();
        let crate::ast::Statement::VariableAssignment(va) = &f.body[0] else {
            panic!("{f:?}")
        };
        let loc = va.init.location().expect("a location");
        assert_eq!((loc.start.line, loc.start.column), (1, 5));
        assert_eq!((loc.end.line, loc.end.column), (1, 10));
        assert_eq!(loc.source, None);
    }

    #[test]
    fn strict_mode_and_other_brackets_keep_the_parsers_error() {
        let strict = Leniency::new(true);
        let e = parse(GUIDE_TAIL, &strict).unwrap_err();
        assert_eq!(e, crate::parse(GUIDE_TAIL).unwrap_err());
        assert!(strict.notes().is_empty());
        // a `]` not followed by `)` is not this mistake
        let l = Leniency::new(false);
        assert!(parse("x = f(a: 1] + 2)\n", &l).is_err());
        assert!(l.notes().is_empty());
    }
}
