//! Tokens produced by the [`crate::scanner`].

use std::fmt;

/// The kind of a token. Names follow libflux's scanner so error messages read alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// A character sequence no rule accepts.
    Illegal,
    /// End of input.
    Eof,
    /// Keyword `and`.
    And,
    /// Keyword `or`.
    Or,
    /// Keyword `not`.
    Not,
    /// Keyword `exists`.
    Exists,
    /// Keyword `import`.
    Import,
    /// Keyword `package`.
    Package,
    /// Keyword `return`.
    Return,
    /// Keyword `option`.
    Option,
    /// Keyword `builtin`.
    Builtin,
    /// Keyword `testcase`.
    Testcase,
    /// Keyword `if`.
    If,
    /// Keyword `then`.
    Then,
    /// Keyword `else`.
    Else,
    /// An identifier.
    Ident,
    /// An integer literal (digits only).
    Int,
    /// A float literal (`1.5`, `.5`, `1.`).
    Float,
    /// A complete string literal without interpolation.
    String,
    /// A regular expression literal `/…/`.
    Regex,
    /// A date-time literal.
    Time,
    /// A duration literal.
    Duration,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
    /// `==`
    Eq,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `<=`
    Lte,
    /// `>=`
    Gte,
    /// `!=`
    Neq,
    /// `=~`
    RegexEq,
    /// `!~`
    RegexNeq,
    /// `=`
    Assign,
    /// `=>`
    Arrow,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `[`
    LBrack,
    /// `]`
    RBrack,
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// `,`
    Comma,
    /// `.`
    Dot,
    /// `:`
    Colon,
    /// `?`
    Question,
    /// `@`
    At,
    /// `|>`
    PipeForward,
    /// `<-`
    PipeReceive,
    /// `"` opening or closing a string with interpolation.
    Quote,
    /// `${` inside a string.
    StringExpr,
    /// Literal text inside a string with interpolation.
    Text,
}

impl TokenKind {
    /// The libflux-style upper-case name of the token kind.
    pub fn name(self) -> &'static str {
        use TokenKind::*;
        match self {
            Illegal => "ILLEGAL",
            Eof => "EOF",
            And => "AND",
            Or => "OR",
            Not => "NOT",
            Exists => "EXISTS",
            Import => "IMPORT",
            Package => "PACKAGE",
            Return => "RETURN",
            Option => "OPTION",
            Builtin => "BUILTIN",
            Testcase => "TESTCASE",
            If => "IF",
            Then => "THEN",
            Else => "ELSE",
            Ident => "IDENT",
            Int => "INT",
            Float => "FLOAT",
            String => "STRING",
            Regex => "REGEX",
            Time => "TIME",
            Duration => "DURATION",
            Add => "ADD",
            Sub => "SUB",
            Mul => "MUL",
            Div => "DIV",
            Mod => "MOD",
            Pow => "POW",
            Eq => "EQ",
            Lt => "LT",
            Gt => "GT",
            Lte => "LTE",
            Gte => "GTE",
            Neq => "NEQ",
            RegexEq => "REGEXEQ",
            RegexNeq => "REGEXNEQ",
            Assign => "ASSIGN",
            Arrow => "ARROW",
            LParen => "LPAREN",
            RParen => "RPAREN",
            LBrack => "LBRACK",
            RBrack => "RBRACK",
            LBrace => "LBRACE",
            RBrace => "RBRACE",
            Comma => "COMMA",
            Dot => "DOT",
            Colon => "COLON",
            Question => "QUESTION_MARK",
            At => "ATTRIBUTE",
            PipeForward => "PIPE_FORWARD",
            PipeReceive => "PIPE_RECEIVE",
            Quote => "QUOTE",
            StringExpr => "STRINGEXPR",
            Text => "TEXT",
        }
    }

    /// The keyword kind for an identifier-shaped word, if it is reserved.
    pub fn keyword(word: &str) -> Option<TokenKind> {
        use TokenKind::*;
        Some(match word {
            "and" => And,
            "or" => Or,
            "not" => Not,
            "exists" => Exists,
            "import" => Import,
            "package" => Package,
            "return" => Return,
            "option" => Option,
            "builtin" => Builtin,
            "testcase" => Testcase,
            "if" => If,
            "then" => Then,
            "else" => Else,
            _ => return None,
        })
    }
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A token: its kind and its byte range in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    /// What kind of token this is.
    pub kind: TokenKind,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
}
