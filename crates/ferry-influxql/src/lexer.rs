//! The InfluxQL lexer: scans one token at a time at a char position (the parser asks for a
//! regex where one may start, since `/` is also division).

/// A token.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// Identifier or keyword; `quoted` when written in double quotes.
    Ident(String, bool),
    /// `'string'`
    Str(String),
    /// Integer literal.
    Int(i64),
    /// Float literal.
    Num(f64),
    /// Duration literal (ns).
    Dur(i64),
    /// `/regex/`
    Regex(String),
    /// Operators and punctuation.
    Op(&'static str),
    /// `$name`: a bound parameter (the parser replaces it by its value's token).
    Param(String),
    /// End of input.
    Eof,
    /// Something the lexer cannot read.
    Bad(String),
}

impl Tok {
    /// How error messages show the token.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s, _) => s.clone(),
            Tok::Str(s) => s.clone(),
            Tok::Int(i) => i.to_string(),
            Tok::Num(f) => f.to_string(),
            Tok::Dur(_) => "duration".into(),
            Tok::Regex(r) => format!("/{r}/"),
            Tok::Op(o) => o.to_string(),
            Tok::Param(p) => format!("${p}"),
            Tok::Eof => "EOF".into(),
            Tok::Bad(s) => s.clone(),
        }
    }
}

/// Scans `src` from `pos` (a char index) after skipping spaces and comments; returns the token,
/// its start and the position after it.
pub fn scan(src: &[char], mut pos: usize, regex: bool) -> (Tok, usize, usize) {
    loop {
        while pos < src.len() && src[pos].is_whitespace() {
            pos += 1;
        }
        if pos + 1 < src.len() && src[pos] == '-' && src[pos + 1] == '-' {
            while pos < src.len() && src[pos] != '\n' {
                pos += 1;
            }
            continue;
        }
        if pos + 1 < src.len() && src[pos] == '/' && src[pos + 1] == '*' {
            pos += 2;
            while pos + 1 < src.len() && !(src[pos] == '*' && src[pos + 1] == '/') {
                pos += 1;
            }
            pos = (pos + 2).min(src.len());
            continue;
        }
        break;
    }
    let start = pos;
    if pos >= src.len() {
        return (Tok::Eof, start, pos);
    }
    let c = src[pos];
    if regex && c == '/' {
        let mut s = String::new();
        pos += 1;
        while pos < src.len() {
            match src[pos] {
                '\\' if pos + 1 < src.len() && src[pos + 1] == '/' => {
                    s.push('/');
                    pos += 2;
                }
                '/' => return (Tok::Regex(s), start, pos + 1),
                ch => {
                    s.push(ch);
                    pos += 1;
                }
            }
        }
        return (Tok::Bad("unterminated regex".into()), start, pos);
    }
    if c == '$' {
        pos += 1;
        while pos < src.len() && (src[pos].is_alphanumeric() || src[pos] == '_') {
            pos += 1;
        }
        return (Tok::Param(src[start + 1..pos].iter().collect()), start, pos);
    }
    if c.is_alphabetic() || c == '_' {
        while pos < src.len() && (src[pos].is_alphanumeric() || src[pos] == '_') {
            pos += 1;
        }
        return (
            Tok::Ident(src[start..pos].iter().collect(), false),
            start,
            pos,
        );
    }
    if c == '"' || c == '\'' {
        let mut s = String::new();
        pos += 1;
        while pos < src.len() {
            match src[pos] {
                '\\' if pos + 1 < src.len() => {
                    let n = src[pos + 1];
                    match n {
                        'n' => s.push('\n'),
                        '\\' => s.push('\\'),
                        '"' | '\'' => s.push(n),
                        other => return (Tok::Bad(format!("\\{other}")), pos, pos + 2),
                    }
                    pos += 2;
                }
                '\n' => break,
                ch if ch == c => {
                    let tok = if c == '"' {
                        Tok::Ident(s, true)
                    } else {
                        Tok::Str(s)
                    };
                    return (tok, start, pos + 1);
                }
                ch => {
                    s.push(ch);
                    pos += 1;
                }
            }
        }
        let what = if c == '"' { "identifier" } else { "string" };
        return (Tok::Bad(format!("unterminated {what}")), start, pos);
    }
    if c.is_ascii_digit() || (c == '.' && pos + 1 < src.len() && src[pos + 1].is_ascii_digit()) {
        while pos < src.len() && src[pos].is_ascii_digit() {
            pos += 1;
        }
        let mut float = false;
        if pos < src.len() && src[pos] == '.' {
            float = true;
            pos += 1;
            while pos < src.len() && src[pos].is_ascii_digit() {
                pos += 1;
            }
        }
        let num: String = src[start..pos].iter().collect();
        // duration units
        if !float && pos < src.len() && src[pos].is_alphabetic() {
            let mut total: i64 = 0;
            let mut p = start;
            loop {
                let ds = p;
                while p < src.len() && src[p].is_ascii_digit() {
                    p += 1;
                }
                if ds == p {
                    break;
                }
                let n: i64 = match src[ds..p].iter().collect::<String>().parse() {
                    Ok(n) => n,
                    Err(_) => return (Tok::Bad("invalid duration".into()), start, p),
                };
                let us = p;
                while p < src.len() && (src[p].is_alphabetic()) {
                    p += 1;
                }
                let unit: String = src[us..p].iter().collect();
                let mult: i64 = match unit.as_str() {
                    "ns" => 1,
                    "u" | "µ" => 1_000,
                    "ms" => 1_000_000,
                    "s" => 1_000_000_000,
                    "m" => 60_000_000_000,
                    "h" => 3_600_000_000_000,
                    "d" => 86_400_000_000_000,
                    "w" => 604_800_000_000_000,
                    _ => return (Tok::Bad("invalid duration".into()), start, p),
                };
                match n.checked_mul(mult).and_then(|d| total.checked_add(d)) {
                    Some(t) => total = t,
                    None => {
                        while p < src.len() && (src[p].is_ascii_alphanumeric()) {
                            p += 1;
                        }
                        let text: String = src[start..p].iter().collect();
                        return (Tok::Bad(overflowed_duration(&text)), start, p);
                    }
                }
            }
            return (Tok::Dur(total), start, p);
        }
        if float {
            return match num.parse::<f64>() {
                Ok(f) => (Tok::Num(f), start, pos),
                Err(_) => (Tok::Bad(num), start, pos),
            };
        }
        return match num.parse::<i64>() {
            Ok(i) => (Tok::Int(i), start, pos),
            Err(_) => match num.parse::<f64>() {
                Ok(f) => (Tok::Num(f), start, pos),
                Err(_) => (Tok::Bad(num), start, pos),
            },
        };
    }
    let two: String = src[pos..(pos + 2).min(src.len())].iter().collect();
    for op in ["!=", "<>", "<=", ">=", "=~", "!~", "::"] {
        if two == op {
            return (Tok::Op(op), start, pos + 2);
        }
    }
    let op = match c {
        '=' => "=",
        '<' => "<",
        '>' => ">",
        '+' => "+",
        '-' => "-",
        '*' => "*",
        '/' => "/",
        '%' => "%",
        '(' => "(",
        ')' => ")",
        ',' => ",",
        ';' => ";",
        '.' => ".",
        _ => return (Tok::Bad(c.to_string()), start, pos + 1),
    };
    (Tok::Op(op), start, pos + 1)
}

/// InfluxDB 1.x's text for a duration literal past ±292 years (it does not saturate).
pub(crate) fn overflowed_duration(text: &str) -> String {
    format!("overflowed duration {text}: choose a smaller duration or INF")
}

/// Whether a [`Tok::Bad`] carries an error to report as it is.
pub(crate) fn is_reported(bad: &str) -> bool {
    bad.starts_with("overflowed duration ")
}
