//---- valid: no-param function
f = () => 1
//---- valid: one param
f = (r) => r._value
//---- valid: several params
f = (a, b, c) => a + b + c
//---- valid: defaults
f = (a, b=2, c="x") => a
//---- valid: pipe param
f = (tables=<-) => tables
//---- valid: pipe param and others
f = (tables=<-, n=1, fn) => tables |> limit(n: n)
//---- valid: trailing comma params
f = (a, b,) => a
//---- valid: default is function
f = (fn=(r) => true) => fn
//---- valid: default is record
f = (opts={a: 1}) => opts.a
//---- valid: block body
f = (x) => {
  y = x * 2
  return y + 1
}
//---- valid: block with nested function
f = (x) => {
  g = (y) => y + x
  return g(y: 1)
}
//---- valid: empty block
f = () => {}
//---- valid: function returning record
f = (r) => ({r with a: 1})
//---- valid: function returning function
f = (a) => (b) => a + b
//---- valid: immediately invoked
x = ((a) => a)(a: 1)
//---- valid: function in array
fs = [(x) => x, (x) => x + 1]
//---- valid: function as argument
x = map(fn: (r) => ({_value: r._value * 2.0}))
//---- invalid: function missing arrow
f = (a, b) a
//---- invalid: function missing body
f = (a) =>
//---- invalid: function string param
f = ("a") => 1
//---- invalid: function param literal default missing
f = (a=) => a
//---- invalid: function body record without parens
f = (r) => {a: 1}
//---- invalid: block without return value
f = () => { return }
//---- invalid: unclosed block
f = () => { x = 1
//---- valid: record literal
r = {a: 1, b: "two", c: 3.0}
//---- valid: record shorthand
r = {a, b, c}
//---- valid: record mixed shorthand
r = {a, b: 2}
//---- valid: record string keys
r = {"a b": 1, "c": 2}
//---- valid: record with
r = {r with a: 1}
//---- valid: record with several
r = {r with a: 1, b: 2, "c d": 3}
//---- valid: record with shorthand
r = {r with a, b}
//---- valid: record with trailing comma
r = {r with a: 1,}
//---- valid: empty record
r = {}
//---- valid: nested records
r = {a: {b: {c: 1}}, d: [{e: 2}]}
//---- valid: record trailing comma
r = {a: 1,}
//---- valid: key named with
r = {with: 1}
//---- valid: record with key named with
r = {r with with: 1}
//---- valid: record with and no properties
r = {r with}
//---- invalid: record missing comma
r = {a: 1 b: 2}
//---- invalid: record int key
r = {1: 2}
//---- invalid: record double colon
r = {a:: 1}
//---- invalid: record unclosed
r = {a: 1
//---- invalid: record with on string
r = {"r" with a: 1}
//---- invalid: record with on expression
r = {f() with a: 1}
//---- valid: record string key shorthand
r = {"a"}
//---- valid: member of record literal
x = {a: 1}.a
//---- valid: index of array literal
x = [1, 2][0]
//---- valid: map with conditional
x = map(fn: (r) => ({r with level: if r._value > 90 then "crit" else "ok"}))
//---- valid: records in dict values
d = ["a": {x: 1}, "b": {x: 2}]
