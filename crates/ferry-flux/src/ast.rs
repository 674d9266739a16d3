//! The Flux abstract syntax tree.
//!
//! The types serialize with serde to the JSON shape of libflux's AST (the shape InfluxDB's
//! `/api/v2/query` accepts in `extern` and the `flux-lsp` oracle prints): node kinds carry a
//! `"type"` field where libflux writes one, `IntegerLiteral.value` is a string, durations are
//! `values: [{magnitude, unit}]`, and every node has an optional `location`.
//!
//! Nodes that libflux writes *without* `"type"` when they sit in a fixed slot (an assignment's
//! `id`, an import's `path`, a pipe's `call`, a member assignment's `member`) are plain structs
//! here; they gain `"type"` only when wrapped in [`Expression`] or [`Statement`].
//!
//! Deserialization accepts the same shape, with `location` optional and unknown fields (such as
//! `errors`, `comments`, `attributes`) ignored, so client-sent `extern` files can be read.
//!
//! Recursive children are boxed so that [`Expression`] stays two words wide.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Position;

/// Where a node sits in the source: start and end (exclusive) positions and the source text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceLocation {
    /// First position of the node.
    pub start: Position,
    /// Position just past the node.
    pub end: Position,
    /// The node's source text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Location field shared by every node: optional, since client-built ASTs carry none.
pub type Loc = Option<SourceLocation>;

/// A Flux source file (libflux `File`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub struct File {
    /// Span of the whole file (first to last token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// File name; empty for parsed strings.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Parser identification, `parser-type=rust` like libflux.
    #[serde(default)]
    pub metadata: String,
    /// The `package` clause, if any.
    #[serde(default)]
    pub package: Option<PackageClause>,
    /// Import declarations.
    #[serde(default)]
    pub imports: Vec<ImportDeclaration>,
    /// Statements in order.
    #[serde(default)]
    pub body: Vec<Statement>,
}

/// `package name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub struct PackageClause {
    /// Location of the clause.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// Attributes (`@name(params)`) written before it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    /// The package name.
    pub name: Identifier,
}

/// `import "path"` or `import alias "path"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub struct ImportDeclaration {
    /// Location of the declaration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// Attributes (`@name(params)`) written before it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    /// The alias, if given.
    #[serde(rename = "as", default)]
    pub alias: Option<Identifier>,
    /// The import path.
    pub path: StringLiteral,
}

/// An attribute `@name` or `@name(p1, p2)` annotating the next statement or declaration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attribute {
    /// Location of `@name(…)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// The name without `@`.
    pub name: String,
    /// The parameters.
    #[serde(default)]
    pub params: Vec<AttributeParam>,
}

/// One parameter of an [`Attribute`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeParam {
    /// Location (like libflux, it includes a following comma).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// The value.
    pub value: Expression,
}

/// A statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Statement {
    /// An expression evaluated for its value (e.g. a pipeline producing a result).
    ExpressionStatement(Box<ExpressionStatement>),
    /// `name = expr`.
    VariableAssignment(Box<VariableAssignment>),
    /// `option name = expr` or `option pkg.name = expr`.
    OptionStatement(Box<OptionStatement>),
    /// `return expr` (inside a function block).
    ReturnStatement(Box<ReturnStatement>),
    /// `testcase name { … }`.
    TestCaseStatement(Box<TestCaseStatement>),
    /// A statement the parser could not read (only in ASTs produced by libflux).
    BadStatement(Box<BadStatement>),
}

/// An expression statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpressionStatement {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// Attributes (`@name(params)`) written before it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    /// The expression.
    pub expression: Expression,
}

/// `id = init`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariableAssignment {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// Attributes (`@name(params)`) written before it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    /// The bound name.
    pub id: Identifier,
    /// The bound value.
    pub init: Expression,
}

/// `object.property = init`, the target of `option pkg.name = …`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberAssignment {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// The assigned member.
    pub member: MemberExpression,
    /// The assigned value.
    pub init: Expression,
}

/// The assignment inside an option statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Assignment {
    /// `option name = …`.
    VariableAssignment(Box<VariableAssignment>),
    /// `option pkg.name = …`.
    MemberAssignment(Box<MemberAssignment>),
}

/// `option …`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptionStatement {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// Attributes (`@name(params)`) written before it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    /// The assignment.
    pub assignment: Assignment,
}

/// `return argument`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReturnStatement {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// Attributes (`@name(params)`) written before it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    /// The returned value.
    pub argument: Expression,
}

/// `testcase id [extends "path"] { … }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestCaseStatement {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// Attributes (`@name(params)`) written before it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    /// Test case name.
    pub id: Identifier,
    /// The extended test case path, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<StringLiteral>,
    /// The body.
    pub block: Block,
}

/// A statement libflux could not parse. Ferry's parser reports an error instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BadStatement {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// The unparsed text.
    #[serde(default)]
    pub text: String,
}

/// `{ statements }`, the body of a block-bodied function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub struct Block {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// The statements.
    #[serde(default)]
    pub body: Vec<Statement>,
}

/// An expression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Expression {
    /// A name.
    Identifier(Box<Identifier>),
    /// `[a, b]`.
    ArrayExpression(Box<ArrayExpression>),
    /// `["k": v]` or `[:]`.
    DictExpression(Box<DictExpression>),
    /// `(params) => body`.
    FunctionExpression(Box<FunctionExpression>),
    /// `and` / `or`.
    LogicalExpression(Box<LogicalExpression>),
    /// A record literal `{a: 1}` / `{r with a: 1}` (libflux calls it an object).
    ObjectExpression(Box<ObjectExpression>),
    /// `a.b` or `a["b"]`.
    MemberExpression(Box<MemberExpression>),
    /// `a[i]`.
    IndexExpression(Box<IndexExpression>),
    /// Arithmetic and comparison.
    BinaryExpression(Box<BinaryExpression>),
    /// `-x`, `+x`, `not x`, `exists x`.
    UnaryExpression(Box<UnaryExpression>),
    /// `arg |> call()`.
    PipeExpression(Box<PipeExpression>),
    /// `f(a: 1)`.
    CallExpression(Box<CallExpression>),
    /// `if t then c else a`.
    ConditionalExpression(Box<ConditionalExpression>),
    /// A string with `${}` interpolation.
    StringExpression(Box<StringExpression>),
    /// `(expr)`.
    ParenExpression(Box<ParenExpression>),
    /// `42`.
    IntegerLiteral(Box<IntegerLiteral>),
    /// Unsigned integer (never produced by the parser; accepted from JSON).
    UnsignedIntegerLiteral(Box<UnsignedIntegerLiteral>),
    /// `1.5`.
    FloatLiteral(Box<FloatLiteral>),
    /// `"text"`.
    StringLiteral(Box<StringLiteral>),
    /// `1h30m`.
    DurationLiteral(Box<DurationLiteral>),
    /// `2021-01-01T00:00:00Z`.
    DateTimeLiteral(Box<DateTimeLiteral>),
    /// Boolean (never produced by the parser, where `true` is an identifier; accepted from JSON).
    BooleanLiteral(Box<BooleanLiteral>),
    /// `/regex/`.
    RegexpLiteral(Box<RegexpLiteral>),
    /// `<-`.
    PipeLiteral(Box<PipeLiteral>),
    /// An expression libflux could not parse. Ferry's parser reports an error instead.
    BadExpression(Box<BadExpression>),
}

/// A name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identifier {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// The name.
    pub name: String,
}

/// `[elements]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArrayExpression {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// The elements.
    #[serde(default)]
    pub elements: Vec<Expression>,
}

/// `[k: v, …]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DictExpression {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// The entries.
    #[serde(default)]
    pub elements: Vec<DictItem>,
}

/// One `key: val` entry of a dictionary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DictItem {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// The key.
    pub key: Expression,
    /// The value.
    pub val: Expression,
}

/// A function literal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionExpression {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// Parameters; `value` holds the default (or a [`PipeLiteral`] for the pipe parameter).
    #[serde(default)]
    pub params: Vec<Property>,
    /// The body.
    pub body: FunctionBody,
}

/// A function body: a block or a single expression.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum FunctionBody {
    /// `{ … return x }`.
    Block(Block),
    /// `=> expr`.
    Expression(Expression),
}

impl<'de> Deserialize<'de> for FunctionBody {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let v = serde_json::Value::deserialize(d)?;
        if v.get("type").and_then(|t| t.as_str()) == Some("Block") {
            serde_json::from_value(v).map(FunctionBody::Block)
        } else {
            serde_json::from_value(v).map(FunctionBody::Expression)
        }
        .map_err(D::Error::custom)
    }
}

/// Logical operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LogicalOperator {
    /// `and`
    #[serde(rename = "and")]
    And,
    /// `or`
    #[serde(rename = "or")]
    Or,
}

/// `left and right`, `left or right`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogicalExpression {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// The operator.
    pub operator: LogicalOperator,
    /// Left operand.
    pub left: Expression,
    /// Right operand.
    pub right: Expression,
}

/// A record literal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectExpression {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// The record extended by `{r with …}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<Identifier>,
    /// The properties.
    #[serde(default)]
    pub properties: Vec<Property>,
}

/// `key: value`, or the shorthand `key` (value `None`); also a function parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub struct Property {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// The key.
    pub key: PropertyKey,
    /// The value, absent in the shorthand form.
    #[serde(default)]
    pub value: Option<Expression>,
}

/// A property key or member name: an identifier or a string literal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum PropertyKey {
    /// `a`
    Identifier(Identifier),
    /// `"a"`
    StringLiteral(StringLiteral),
}

impl PropertyKey {
    /// The key as text.
    pub fn name(&self) -> &str {
        match self {
            PropertyKey::Identifier(i) => &i.name,
            PropertyKey::StringLiteral(s) => &s.value,
        }
    }
}

/// `object.property` or `object["property"]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberExpression {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// The record.
    pub object: Expression,
    /// The member name.
    pub property: PropertyKey,
}

/// `array[index]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexExpression {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// The indexed value.
    pub array: Expression,
    /// The index.
    pub index: Expression,
}

/// Binary and unary operators, spelled as libflux serializes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Operator {
    /// `*`
    #[serde(rename = "*")]
    Multiplication,
    /// `/`
    #[serde(rename = "/")]
    Division,
    /// `%`
    #[serde(rename = "%")]
    Modulo,
    /// `^`
    #[serde(rename = "^")]
    Power,
    /// `+`
    #[serde(rename = "+")]
    Addition,
    /// `-`
    #[serde(rename = "-")]
    Subtraction,
    /// `<=`
    #[serde(rename = "<=")]
    LessThanEqual,
    /// `<`
    #[serde(rename = "<")]
    LessThan,
    /// `>=`
    #[serde(rename = ">=")]
    GreaterThanEqual,
    /// `>`
    #[serde(rename = ">")]
    GreaterThan,
    /// `==`
    #[serde(rename = "==")]
    Equal,
    /// `!=`
    #[serde(rename = "!=")]
    NotEqual,
    /// `=~`
    #[serde(rename = "=~")]
    RegexpMatch,
    /// `!~`
    #[serde(rename = "!~")]
    NotRegexpMatch,
    /// `not`
    #[serde(rename = "not")]
    Not,
    /// `exists`
    #[serde(rename = "exists")]
    Exists,
}

impl Operator {
    /// The operator as written in Flux.
    pub fn as_str(self) -> &'static str {
        use Operator::*;
        match self {
            Multiplication => "*",
            Division => "/",
            Modulo => "%",
            Power => "^",
            Addition => "+",
            Subtraction => "-",
            LessThanEqual => "<=",
            LessThan => "<",
            GreaterThanEqual => ">=",
            GreaterThan => ">",
            Equal => "==",
            NotEqual => "!=",
            RegexpMatch => "=~",
            NotRegexpMatch => "!~",
            Not => "not",
            Exists => "exists",
        }
    }
}

/// `left op right`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinaryExpression {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// The operator.
    pub operator: Operator,
    /// Left operand.
    pub left: Expression,
    /// Right operand.
    pub right: Expression,
}

/// `op argument`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnaryExpression {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// The operator: `-`, `+`, `not` or `exists`.
    pub operator: Operator,
    /// The operand.
    pub argument: Expression,
}

/// `argument |> call`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipeExpression {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// The piped value.
    pub argument: Expression,
    /// The receiving call.
    pub call: CallExpression,
}

/// `callee(arguments)`: the named arguments are one record in `arguments[0]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallExpression {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// The called function.
    pub callee: Expression,
    /// Empty for `f()`, else one [`ObjectExpression`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arguments: Vec<Expression>,
}

/// `if test then consequent else alternate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionalExpression {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// The condition.
    pub test: Expression,
    /// Value when true.
    pub consequent: Expression,
    /// Value when false.
    pub alternate: Expression,
}

/// A string with interpolation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StringExpression {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// Text and interpolated parts in order; empty text parts are omitted.
    #[serde(default)]
    pub parts: Vec<StringExpressionPart>,
}

/// A part of a [`StringExpression`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum StringExpressionPart {
    /// Literal text, escapes resolved.
    TextPart(TextPart),
    /// `${expression}`.
    InterpolatedPart(InterpolatedPart),
}

/// Literal text inside a string expression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextPart {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// The text.
    pub value: String,
}

/// `${expression}` inside a string expression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InterpolatedPart {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// The interpolated expression.
    pub expression: Expression,
}

/// `(expression)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParenExpression {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// The inner expression.
    pub expression: Expression,
}

/// An integer literal; serialized with a string `value` like libflux.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntegerLiteral {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// The value.
    #[serde(serialize_with = "ser_display", deserialize_with = "de_i64")]
    pub value: i64,
}

/// An unsigned integer literal; serialized with a string `value`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnsignedIntegerLiteral {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// The value.
    #[serde(serialize_with = "ser_display", deserialize_with = "de_u64")]
    pub value: u64,
}

/// A float literal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FloatLiteral {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// The value.
    pub value: f64,
}

/// A string literal without interpolation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StringLiteral {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// The value, escapes resolved.
    pub value: String,
}

/// A boolean literal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BooleanLiteral {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// The value.
    pub value: bool,
}

/// One `magnitude unit` term of a duration literal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Duration {
    /// The magnitude (non-negative in parsed source).
    pub magnitude: i64,
    /// One of `y mo w d h m s ms us ns`.
    pub unit: String,
}

/// A duration literal such as `1h30m`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DurationLiteral {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// The terms in source order.
    pub values: Vec<Duration>,
}

/// A date-time literal. `value` is RFC 3339 as libflux prints it
/// (`2021-01-01T00:00:00+00:00`; see [`crate::datetime`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DateTimeLiteral {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// The instant, RFC 3339.
    pub value: String,
}

/// A regular expression literal; `value` is the pattern with `\/` resolved to `/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegexpLiteral {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// The pattern.
    pub value: String,
}

/// `<-`, the pipe-receive default of a function parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipeLiteral {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
}

/// An expression libflux could not parse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BadExpression {
    /// Where the node is in the script (start and end line:column); absent on nodes built
    /// by the evaluator rather than parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Loc,
    /// What could not be parsed, in libflux's words (its `text`); only read back from an AST.
    #[serde(default)]
    pub text: String,
}

fn ser_display<T: std::fmt::Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StrOrNum<T> {
    Str(String),
    Num(T),
}

fn de_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    match StrOrNum::<i64>::deserialize(d)? {
        StrOrNum::Num(n) => Ok(n),
        StrOrNum::Str(s) => s.trim().parse().map_err(serde::de::Error::custom),
    }
}

fn de_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match StrOrNum::<u64>::deserialize(d)? {
        StrOrNum::Num(n) => Ok(n),
        StrOrNum::Str(s) => s.trim().parse().map_err(serde::de::Error::custom),
    }
}

impl Expression {
    /// The node's location, if known.
    pub fn location(&self) -> Option<&SourceLocation> {
        use Expression::*;
        match self {
            Identifier(n) => n.location.as_ref(),
            ArrayExpression(n) => n.location.as_ref(),
            DictExpression(n) => n.location.as_ref(),
            FunctionExpression(n) => n.location.as_ref(),
            LogicalExpression(n) => n.location.as_ref(),
            ObjectExpression(n) => n.location.as_ref(),
            MemberExpression(n) => n.location.as_ref(),
            IndexExpression(n) => n.location.as_ref(),
            BinaryExpression(n) => n.location.as_ref(),
            UnaryExpression(n) => n.location.as_ref(),
            PipeExpression(n) => n.location.as_ref(),
            CallExpression(n) => n.location.as_ref(),
            ConditionalExpression(n) => n.location.as_ref(),
            StringExpression(n) => n.location.as_ref(),
            ParenExpression(n) => n.location.as_ref(),
            IntegerLiteral(n) => n.location.as_ref(),
            UnsignedIntegerLiteral(n) => n.location.as_ref(),
            FloatLiteral(n) => n.location.as_ref(),
            StringLiteral(n) => n.location.as_ref(),
            DurationLiteral(n) => n.location.as_ref(),
            DateTimeLiteral(n) => n.location.as_ref(),
            BooleanLiteral(n) => n.location.as_ref(),
            RegexpLiteral(n) => n.location.as_ref(),
            PipeLiteral(n) => n.location.as_ref(),
            BadExpression(n) => n.location.as_ref(),
        }
    }
}
