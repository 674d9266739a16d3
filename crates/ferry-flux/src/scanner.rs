//! The Flux lexer.
//!
//! The scanner is stateless: [`Scanner::scan`] reads one token starting at a byte offset in a
//! given [`Mode`], and the parser keeps the offset. Flux needs modes because the same bytes mean
//! different things by context:
//!
//! * [`Mode::Regex`] is used only where a primary expression may start; there `/…/` is a regular
//!   expression literal. Everywhere else (`Mode::Normal`) `/` is division.
//! * [`Mode::StringBody`] is used inside a string that contains `${…}` interpolation.
//!   A string without interpolation is scanned whole, as one [`TokenKind::String`] token; a string
//!   with interpolation (or an invalid escape, or no closing quote) yields a [`TokenKind::Quote`]
//!   and the parser then reads text parts, `${` and the closing quote in `StringBody` mode.
//!
//! Like libflux's scanner, a token is the longest match: `1h30m` is one duration, `1h30` is the
//! duration `1h` then the integer `30`, `2021-01-01T00:00:00` is one (invalid) time token,
//! `1.5h` is the float `1.5` then the identifier `h`.

use crate::error::Position;
use crate::token::{Token, TokenKind};

/// Which lexical grammar applies at the current position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Ordinary tokens; `/` is division.
    Normal,
    /// Ordinary tokens, but `/…/` is a regular expression literal.
    Regex,
    /// Inside an interpolated string: text, `${` or the closing quote.
    StringBody,
}

/// A lexer over one source text.
#[derive(Debug, Clone)]
pub struct Scanner<'a> {
    src: &'a str,
    line_starts: Vec<usize>,
}

const DURATION_UNITS: [(&str, &str); 11] = [
    ("mo", "mo"),
    ("ms", "ms"),
    ("us", "us"),
    ("µs", "us"),
    ("ns", "ns"),
    ("y", "y"),
    ("w", "w"),
    ("d", "d"),
    ("h", "h"),
    ("m", "m"),
    ("s", "s"),
];

impl<'a> Scanner<'a> {
    /// Creates a scanner for `src`.
    pub fn new(src: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(
            src.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        Scanner { src, line_starts }
    }

    /// The source text.
    pub fn source(&self) -> &'a str {
        self.src
    }

    /// Converts a byte offset into a 1-based line and byte column.
    pub fn position(&self, offset: usize) -> Position {
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let col = offset - self.line_starts[line];
        Position::new(
            u32::try_from(line + 1).unwrap_or(u32::MAX),
            u32::try_from(col + 1).unwrap_or(u32::MAX),
        )
    }

    fn byte(&self, i: usize) -> Option<u8> {
        self.src.as_bytes().get(i).copied()
    }

    fn char_at(&self, i: usize) -> Option<char> {
        self.src.get(i..).and_then(|s| s.chars().next())
    }

    /// Skips whitespace and `//` comments from `pos`; returns the offset of the next token.
    pub fn skip_trivia(&self, mut pos: usize) -> usize {
        let b = self.src.as_bytes();
        loop {
            match b.get(pos) {
                Some(b' ' | b'\t' | b'\n' | b'\r') => pos += 1,
                Some(b'/') if b.get(pos + 1) == Some(&b'/') => {
                    while pos < b.len() && b[pos] != b'\n' {
                        pos += 1;
                    }
                }
                _ => return pos,
            }
        }
    }

    /// Scans one token at `pos` (after trivia, except in [`Mode::StringBody`]).
    pub fn scan(&self, pos: usize, mode: Mode) -> Token {
        if mode == Mode::StringBody {
            return self.scan_string_body(pos);
        }
        let pos = self.skip_trivia(pos);
        let tok = |kind, end| Token {
            kind,
            start: pos,
            end,
        };
        let Some(c) = self.char_at(pos) else {
            return tok(TokenKind::Eof, pos);
        };
        let next = self.byte(pos + 1);
        use TokenKind as K;
        match c {
            '0'..='9' => self.scan_number(pos),
            '.' if matches!(next, Some(b'0'..=b'9')) => {
                let end = self.digits_end(pos + 1);
                tok(K::Float, end)
            }
            '"' => match self.string_literal_end(pos) {
                Some(end) => tok(K::String, end),
                None => tok(K::Quote, pos + 1),
            },
            '/' if mode == Mode::Regex => match self.regex_end(pos) {
                Some(end) => tok(K::Regex, end),
                None => tok(K::Div, pos + 1),
            },
            '+' => tok(K::Add, pos + 1),
            '-' => tok(K::Sub, pos + 1),
            '*' => tok(K::Mul, pos + 1),
            '/' => tok(K::Div, pos + 1),
            '%' => tok(K::Mod, pos + 1),
            '^' => tok(K::Pow, pos + 1),
            '=' => match next {
                Some(b'=') => tok(K::Eq, pos + 2),
                Some(b'~') => tok(K::RegexEq, pos + 2),
                Some(b'>') => tok(K::Arrow, pos + 2),
                _ => tok(K::Assign, pos + 1),
            },
            '!' => match next {
                Some(b'=') => tok(K::Neq, pos + 2),
                Some(b'~') => tok(K::RegexNeq, pos + 2),
                _ => tok(K::Illegal, pos + 1),
            },
            '<' => match next {
                Some(b'=') => tok(K::Lte, pos + 2),
                Some(b'-') => tok(K::PipeReceive, pos + 2),
                _ => tok(K::Lt, pos + 1),
            },
            '>' => match next {
                Some(b'=') => tok(K::Gte, pos + 2),
                _ => tok(K::Gt, pos + 1),
            },
            '|' => match next {
                Some(b'>') => tok(K::PipeForward, pos + 2),
                _ => tok(K::Illegal, pos + 1),
            },
            '(' => tok(K::LParen, pos + 1),
            ')' => tok(K::RParen, pos + 1),
            '[' => tok(K::LBrack, pos + 1),
            ']' => tok(K::RBrack, pos + 1),
            '{' => tok(K::LBrace, pos + 1),
            '}' => tok(K::RBrace, pos + 1),
            ',' => tok(K::Comma, pos + 1),
            '.' => tok(K::Dot, pos + 1),
            ':' => tok(K::Colon, pos + 1),
            '?' => tok(K::Question, pos + 1),
            '@' => match self.char_at(pos + 1) {
                Some(c) if c == '_' || c.is_alphabetic() => tok(K::At, pos + 1),
                _ => tok(K::Illegal, pos + 1),
            },
            c if c == '_' || c.is_alphabetic() => {
                let mut end = pos;
                for ch in self.src[pos..].chars() {
                    if ch == '_' || ch.is_alphabetic() || ch.is_ascii_digit() {
                        end += ch.len_utf8();
                    } else {
                        break;
                    }
                }
                let kind = TokenKind::keyword(&self.src[pos..end]).unwrap_or(K::Ident);
                tok(kind, end)
            }
            c => tok(K::Illegal, pos + c.len_utf8()),
        }
    }

    fn digits_end(&self, mut i: usize) -> usize {
        while matches!(self.byte(i), Some(b'0'..=b'9')) {
            i += 1;
        }
        i
    }

    /// Matches exactly `n` ASCII digits at `i`.
    fn exact_digits(&self, i: usize, n: usize) -> Option<usize> {
        (i..i + n)
            .all(|j| matches!(self.byte(j), Some(b'0'..=b'9')))
            .then_some(i + n)
    }

    fn expect_byte(&self, i: usize, b: u8) -> Option<usize> {
        (self.byte(i) == Some(b)).then_some(i + 1)
    }

    /// End of a date-time literal at `pos`, if one starts there.
    fn date_time_end(&self, pos: usize) -> Option<usize> {
        let i = self.exact_digits(pos, 4)?;
        let i = self.expect_byte(i, b'-')?;
        let i = self.exact_digits(i, 2)?;
        let i = self.expect_byte(i, b'-')?;
        let date_end = self.exact_digits(i, 2)?;
        let time = || -> Option<usize> {
            let i = self.expect_byte(date_end, b'T')?;
            let i = self.exact_digits(i, 2)?;
            let i = self.expect_byte(i, b':')?;
            let i = self.exact_digits(i, 2)?;
            let i = self.expect_byte(i, b':')?;
            let mut i = self.exact_digits(i, 2)?;
            if self.byte(i) == Some(b'.') && matches!(self.byte(i + 1), Some(b'0'..=b'9')) {
                i = self.digits_end(i + 1);
            }
            match self.byte(i) {
                Some(b'Z') => Some(i + 1),
                Some(b'+' | b'-') => {
                    let offset = || -> Option<usize> {
                        let j = self.exact_digits(i + 1, 2)?;
                        let j = self.expect_byte(j, b':')?;
                        self.exact_digits(j, 2)
                    };
                    Some(offset().unwrap_or(i))
                }
                _ => Some(i),
            }
        };
        Some(time().unwrap_or(date_end))
    }

    /// End of a duration unit at `i`, if one starts there.
    fn duration_unit_end(&self, i: usize) -> Option<usize> {
        let rest = self.src.get(i..)?;
        DURATION_UNITS
            .iter()
            .find(|(text, _)| rest.starts_with(text))
            .map(|(text, _)| i + text.len())
    }

    fn scan_number(&self, pos: usize) -> Token {
        let tok = |kind, end| Token {
            kind,
            start: pos,
            end,
        };
        if let Some(end) = self.date_time_end(pos) {
            return tok(TokenKind::Time, end);
        }
        let digits = self.digits_end(pos);
        if let Some(mut end) = self.duration_unit_end(digits) {
            loop {
                let d = self.digits_end(end);
                if d == end {
                    break;
                }
                match self.duration_unit_end(d) {
                    Some(e) => end = e,
                    None => break,
                }
            }
            return tok(TokenKind::Duration, end);
        }
        if self.byte(digits) == Some(b'.') {
            return tok(TokenKind::Float, self.digits_end(digits + 1));
        }
        tok(TokenKind::Int, digits)
    }

    /// Length of a valid escape sequence starting at the backslash at `i`.
    fn escape_len(&self, i: usize) -> Option<usize> {
        match self.byte(i + 1)? {
            b'n' | b'r' | b't' | b'\\' | b'"' => Some(2),
            b'$' if self.byte(i + 2) == Some(b'{') => Some(2),
            b'x' => {
                let hex = |j| matches!(self.byte(j), Some(b) if b.is_ascii_hexdigit());
                (hex(i + 2) && hex(i + 3)).then_some(4)
            }
            _ => None,
        }
    }

    /// End of a plain string literal (no interpolation, valid escapes) starting at `pos`.
    fn string_literal_end(&self, pos: usize) -> Option<usize> {
        let b = self.src.as_bytes();
        let mut i = pos + 1;
        loop {
            match *b.get(i)? {
                b'"' => return Some(i + 1),
                b'\\' => i += self.escape_len(i)?,
                // `$$` is plain text, so `$${` does not start an interpolation.
                b'$' if b.get(i + 1) == Some(&b'$') => i += 2,
                b'$' if b.get(i + 1) == Some(&b'{') => return None,
                _ => i += 1,
            }
        }
    }

    /// End of a regular expression literal starting at `pos`.
    fn regex_end(&self, pos: usize) -> Option<usize> {
        let b = self.src.as_bytes();
        let mut i = pos + 1;
        if b.get(i) == Some(&b'/') {
            return None;
        }
        loop {
            match *b.get(i)? {
                b'/' => return Some(i + 1),
                b'\\' => {
                    let c = self.char_at(i + 1)?;
                    i += 1 + c.len_utf8();
                }
                _ => i += 1,
            }
        }
    }

    fn scan_string_body(&self, pos: usize) -> Token {
        let b = self.src.as_bytes();
        let tok = |kind, end| Token {
            kind,
            start: pos,
            end,
        };
        match b.get(pos) {
            None => return tok(TokenKind::Eof, pos),
            Some(b'"') => return tok(TokenKind::Quote, pos + 1),
            Some(b'$') if b.get(pos + 1) == Some(&b'{') => {
                return tok(TokenKind::StringExpr, pos + 2)
            }
            _ => {}
        }
        let mut i = pos;
        while let Some(&c) = b.get(i) {
            match c {
                b'"' => break,
                b'$' if b.get(i + 1) == Some(&b'$') => i += 2,
                b'$' if b.get(i + 1) == Some(&b'{') => break,
                b'\\' => match self.escape_len(i) {
                    Some(n) => i += n,
                    None if i == pos => return tok(TokenKind::Illegal, pos + 1),
                    None => break,
                },
                _ => i += 1,
            }
        }
        tok(TokenKind::Text, i)
    }
}

/// Resolves the escapes of string text (without quotes).
///
/// Valid escapes are `\n \r \t \\ \" \$` (the last only before `{`) and `\xNN` bytes; the bytes
/// must form valid UTF-8.
pub fn unescape_string(text: &str) -> Result<String, crate::error::ParseErrorKind> {
    use crate::error::ParseErrorKind;
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let bad = || ParseErrorKind::InvalidEscape(text[i..].chars().take(2).collect());
        match b.get(i + 1) {
            Some(b'n') => out.push(b'\n'),
            Some(b'r') => out.push(b'\r'),
            Some(b't') => out.push(b'\t'),
            Some(b'\\') => out.push(b'\\'),
            Some(b'"') => out.push(b'"'),
            Some(b'$') => out.push(b'$'),
            Some(b'x') => {
                let hex = text.get(i + 2..i + 4).ok_or_else(bad)?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                i += 4;
                continue;
            }
            _ => return Err(bad()),
        }
        i += 2;
    }
    String::from_utf8(out).map_err(|_| ParseErrorKind::InvalidUtf8)
}

/// Resolves the escapes of a regular expression literal's body: only `\/` becomes `/`.
pub fn unescape_regex(body: &str) -> String {
    body.replace("\\/", "/")
}

/// Splits a duration token into `(magnitude text, unit)` pairs; `µs` is reported as `us`.
pub fn duration_parts(text: &str) -> Vec<(&str, &'static str)> {
    let mut parts = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (mag, after) = rest.split_at(digits);
        let Some((unit_text, unit)) = DURATION_UNITS.iter().find(|(t, _)| after.starts_with(t))
        else {
            break;
        };
        parts.push((mag, *unit));
        rest = &after[unit_text.len()..];
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str, mode: Mode) -> Vec<(TokenKind, &str)> {
        let s = Scanner::new(src);
        let mut pos = 0;
        let mut out = Vec::new();
        loop {
            let t = s.scan(pos, mode);
            if t.kind == TokenKind::Eof {
                return out;
            }
            out.push((t.kind, &src[t.start..t.end]));
            pos = t.end;
        }
    }

    #[test]
    fn durations_longest_match() {
        use TokenKind::*;
        assert_eq!(kinds("1h30m", Mode::Normal), vec![(Duration, "1h30m")]);
        assert_eq!(
            kinds("1h30", Mode::Normal),
            vec![(Duration, "1h"), (Int, "30")]
        );
        assert_eq!(
            kinds("1mo1ms1µs", Mode::Normal),
            vec![(Duration, "1mo1ms1µs")]
        );
        assert_eq!(
            kinds("1.5h", Mode::Normal),
            vec![(Float, "1.5"), (Ident, "h")]
        );
        assert_eq!(
            duration_parts("1mo2µs3s"),
            vec![("1", "mo"), ("2", "us"), ("3", "s")]
        );
    }

    #[test]
    fn times_and_numbers() {
        use TokenKind::*;
        assert_eq!(
            kinds("2021-01-01T00:00:00.5+07:00", Mode::Normal),
            vec![(Time, "2021-01-01T00:00:00.5+07:00")]
        );
        assert_eq!(
            kinds("2021-01-01T00:00", Mode::Normal)[0],
            (Time, "2021-01-01")
        );
        assert_eq!(kinds("1.", Mode::Normal), vec![(Float, "1.")]);
        assert_eq!(kinds(".5", Mode::Normal), vec![(Float, ".5")]);
        assert_eq!(kinds("1e5", Mode::Normal), vec![(Int, "1"), (Ident, "e5")]);
    }

    #[test]
    fn regex_only_in_regex_mode() {
        use TokenKind::*;
        assert_eq!(kinds("/a\\/b/", Mode::Regex)[0], (Regex, "/a\\/b/"));
        assert_eq!(kinds("a /b/ c", Mode::Normal)[1], (Div, "/"));
        assert_eq!(unescape_regex("a\\/b\\."), "a/b\\.");
    }

    #[test]
    fn strings_and_escapes() {
        use TokenKind::*;
        assert_eq!(
            kinds(r#""a\"b""#, Mode::Normal),
            vec![(String, r#""a\"b""#)]
        );
        assert_eq!(kinds(r#""a${b}""#, Mode::Normal)[0], (Quote, "\""));
        assert_eq!(kinds(r#""\${""#, Mode::Normal), vec![(String, r#""\${""#)]);
        assert_eq!(
            kinds(r#""$${x}""#, Mode::Normal),
            vec![(String, r#""$${x}""#)]
        );
        assert_eq!(unescape_string(r"\xe2\x82\xac\n").unwrap(), "€\n");
        assert!(unescape_string(r"\xff").is_err());
        assert!(unescape_string(r"\q").is_err());
    }

    #[test]
    fn positions_are_one_based_bytes() {
        let s = Scanner::new("ab\n\"é\" x");
        assert_eq!(s.position(0), Position::new(1, 1));
        assert_eq!(s.position(3), Position::new(2, 1));
        assert_eq!(s.position(8), Position::new(2, 6));
    }
}
