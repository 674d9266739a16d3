//---- valid: precedence add mul
x = 1 + 2 * 3 - 4 / 2 % 3
//---- valid: precedence power
x = 2 ^ 3 ^ 2 * 4
//---- valid: precedence pipe over unary
x = -a |> f()
//---- valid: unary minus binds tighter than mul
x = -a * b
//---- valid: unary minus on member
x = -task.every
//---- valid: unary minus on call
x = -f()
//---- valid: double unary
x = - -1
//---- valid: unary plus minus
x = +-1
//---- valid: comparison chain
x = a < b == c
//---- valid: comparisons all
x = [a == b, a != b, a < b, a <= b, a > b, a >= b, a =~ /x/, a !~ /y/]
//---- valid: logical precedence
x = a or b and c or d and not e
//---- valid: not over comparison
x = not a == b
//---- valid: double not
x = not not a
//---- valid: exists member
x = exists r.host
//---- valid: not exists
x = not exists r.host
//---- valid: exists and comparison
x = exists r.v and r.v > 0
//---- invalid: not after comparison operator
x = a == not b
//---- invalid: not after plus
x = a + not b
//---- invalid: unary minus before not
x = -not a
//---- valid: parens change precedence
x = (1 + 2) * 3
//---- valid: nested parens
x = ((((1))))
//---- valid: paren identifier then member
x = (a).b
//---- valid: paren identifier then binary
x = (a) + 1
//---- valid: paren expression with pipe
x = (a |> f()) |> g()
//---- valid: paren identifier with pipe inside
x = (a |> f())
//---- valid: paren ident comparison
x = (a == b)
//---- valid: conditional
x = if a then b else c
//---- valid: nested conditional in else
x = if a then 1 else if b then 2 else 3
//---- valid: conditional in condition
x = if if a then b else c then 1 else 2
//---- valid: conditional with logic
x = if a > 1 and b < 2 then "yes" else "no"
//---- valid: conditional as operand via paren
x = (if a then 1 else 2) + 3
//---- invalid: conditional without else
x = if a then b
//---- invalid: conditional without then
x = if a b else c
//---- invalid: conditional as binary operand
x = 1 + if a then 1 else 2
//---- valid: member chain
x = a.b.c.d
//---- valid: bracket member
x = r["_value"]
//---- valid: bracket member chain
x = r["a"]["b"].c
//---- valid: index
x = arr[0]
//---- valid: index expression
x = arr[i + 1]
//---- valid: bracket with string concat is index
x = r["a" + "b"]
//---- valid: bracket with interpolated string is index
x = r["${k}"]
//---- valid: nested index
x = m[0][1]
//---- valid: call then member then index
x = f(a: 1).b[2]
//---- valid: call chain
x = f()()
//---- valid: call on member
x = strings.toUpper(v: "x")
//---- valid: call with shorthand args
x = f(a, b, c: 1)
//---- valid: call with trailing comma
x = f(a: 1,)
//---- valid: call with string keys
x = f("a": 1)
//---- invalid: call positional int
x = f(1)
//---- invalid: call positional record
x = f({a: 1})
//---- invalid: call unclosed
x = f(a: 1
//---- invalid: call double comma
x = f(a: 1,, b: 2)
//---- valid: pipe chain
x = a |> b() |> c(x: 1) |> d.e()
//---- invalid: pipe into non-call
x = a |> b
//---- invalid: pipe into literal
x = a |> 1
//---- invalid: pipe into unary call
x = a |> -f()
//---- valid: pipe into member call result
x = a |> f().g()
//---- valid: pipe precedence with add
x = a + b |> f()
//---- valid: pipe argument from paren function
x = (() => 1)()
//---- invalid: missing operand
x = 1 +
//---- invalid: double operator
x = 1 + * 2
//---- invalid: trailing dot
x = a.
//---- invalid: member with keyword
x = a.if
//---- valid: member with int is identifier then float .0
x = a.0
//---- invalid: empty index
x = a[]
//---- invalid: slice syntax
x = a[1:2]
//---- invalid: unclosed paren
x = (1 + 2
//---- invalid: unbalanced close paren
x = 1 + 2)
//---- invalid: bang alone
x = !a
//---- invalid: single pipe
x = a | b
//---- invalid: question mark
x = a ? b : c
//---- invalid: assignment in expression
x = (a = 1)
//---- valid: newline separated call args
x = f(
    a: 1,
    b: 2
)
//---- valid: paren call on newline continues call
x = a
(b)
//---- valid: statements without separators
a = 1 b = 2 c = a + b
//---- valid: keyword-like identifiers
empty = 1
in = 2
with = 3
extends = 4
//---- valid: underscore identifiers
_x = 1
__y_2 = _x
//---- valid: unicode identifiers
é = 1
données = é
//---- valid: arithmetic mix
x = (a + b) * (c - d) / (e % f) ^ g
//---- valid: comparisons with literals
x = 1h > 30m and 2021-01-01 < 2022-01-01
//---- valid: string concat chain
x = "a" + "b" + "c" + d
//---- valid: logical with parens
x = (a or b) and (c or d)
//---- valid: regex match member
x = r._field =~ /^usage_/ or r._field !~ /^idle/
