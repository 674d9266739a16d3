//---- valid: edge x = a[b]
x = a[b]
//---- valid: edge x = {a: 1}["a"]
x = {a: 1}["a"]
//---- valid: edge x = f(a: 1)(b: 2)
x = f(a: 1)(b: 2)
//---- valid: edge x = (r) => r.a |> f()
x = (r) => r.a |> f()
//---- valid: edge x = 1 |> f()
x = 1 |> f()
//---- valid: edge x = "a" |> f()
x = "a" |> f()
//---- valid: edge x = [1] |> f()
x = [1] |> f()
//---- valid: edge x = a |> b.c.d()
x = a |> b.c.d()
//---- valid: edge x = a |> (f)()
x = a |> (f)()
//---- valid: edge x = a |> f()()
x = a |> f()()
//---- valid: edge x = <-
x = <-
//---- valid: edge x = f(a: <-)
x = f(a: <-)
//---- valid: edge x = (a=<-, b) => a
x = (a=<-, b) => a
//---- valid: edge x = -1h
x = -1h
//---- valid: edge x = not -1
x = not -1
//---- valid: edge x = exists -1
x = exists -1
//---- invalid: edge x = - not a
x = - not a
//---- valid: edge x = a.b(c: 1).d
x = a.b(c: 1).d
//---- valid: edge x = if not a then b else c
x = if not a then b else c
//---- valid: edge x = if a then not b else exists c
x = if a then not b else exists c
//---- valid: edge x = f(a: if a then b else c)
x = f(a: if a then b else c)
//---- valid: edge x = [if a then b else c]
x = [if a then b else c]
//---- valid: edge x = {a: if a then b else c}
x = {a: if a then b else c}
//---- valid: edge x = (if a then b else c)
x = (if a then b else c)
//---- invalid: edge x = a or if b then c else d
x = a or if b then c else d
//---- invalid: edge x = not if a then b else c
x = not if a then b else c
//---- valid: edge x = 1 == 2 == 3
x = 1 == 2 == 3
//---- valid: edge x = a =~ b
x = a =~ b
//---- valid: edge x = /a/ =~ "a"
x = /a/ =~ "a"
//---- valid: edge x = a / /b/
x = a / /b/
//---- valid: edge x = f(a: /b/, c: 1 / 2)
x = f(a: /b/, c: 1 / 2)
//---- valid: edge x = 1 /2/ 3
x = 1 /2/ 3
//---- valid: edge x = [/a/ ]
x = [/a/ ]
//---- valid: edge x = (/a/)
x = (/a/)
//---- valid: edge x = {a: /b/}
x = {a: /b/}
//---- valid: edge x = "${/a/}"
x = "${/a/}"
//---- valid: edge x = a[/b/]
x = a[/b/]
//---- valid: edge x = - /a/
x = - /a/
//---- valid: edge x = 2021-01-01T00:00:00Z + 1h
x = 2021-01-01T00:00:00Z + 1h
//---- valid: edge x = 1h-1m
x = 1h-1m
//---- valid: edge x = 2021-01-01-1
x = 2021-01-01-1
//---- valid: edge x = 1.0.5
x = 1.0.5
//---- valid: edge x = a.b.1
x = a.b.1
//---- valid: edge x = 1..2
x = 1..2
//---- valid: edge x = "\\${x}"
x = "\\${x}"
//---- valid: edge x = "$${x}"
x = "$${x}"
//---- valid: edge x = "${x}${y}"
x = "${x}${y}"
//---- valid: edge x = "${ {a: 1}.a }"
x = "${ {a: 1}.a }"
//---- valid: edge x = "${"}"}"
x = "${"}"}"
//---- valid: edge x = {"a": 1, b}
x = {"a": 1, b}
//---- valid: edge x = {a: 1, "b"}
x = {a: 1, "b"}
//---- valid: edge x = {r with "a": 1}
x = {r with "a": 1}
//---- valid: edge x = {a with b}
x = {a with b}
//---- valid: edge x = {with}
x = {with}
//---- valid: edge x = {with with a: 1}
x = {with with a: 1}
//---- valid: edge x = f(with: 1)
x = f(with: 1)
//---- invalid: edge x = f(a with b: 1)
x = f(a with b: 1)
//---- valid: edge x = () => ({})
x = () => ({})
//---- valid: edge x = (a) => {return a}
x = (a) => {return a}
//---- valid: edge x = (a,) => a
x = (a,) => a
//---- valid: edge x = (a=1,) => a
x = (a=1,) => a
//---- valid: edge x = (a) => (b) => {return a + b}
x = (a) => (b) => {return a + b}
//---- valid: edge x = () => {x = 1 y = 2 return x + y}
x = () => {x = 1 y = 2 return x + y}
//---- valid: edge x = () => {option a = 1 return a}
x = () => {option a = 1 return a}
//---- valid: edge x = () => {f() return 1}
x = () => {f() return 1}
//---- valid: edge x = () => {return 1 return 2}
x = () => {return 1 return 2}
//---- valid: edge x = () => {}()
x = () => {}()
//---- valid: edge option a = 1 option b = 2
option a = 1 option b = 2
//---- valid: edge import "a" import "b" x = 1
import "a" import "b" x = 1
//---- valid: edge import a"b"
import a"b"
//---- valid: edge x = a ⏎ .b
x = a
.b
//---- valid: edge x = a ⏎ |> f()
x = a
|> f()
//---- valid: edge x = a ⏎ [0]
x = a
[0]
//---- valid: edge x = a ⏎ -1
x = a
-1
//---- valid: edge x = 1 ⏎ +1
x = 1
+1
//---- valid: edge testcase a { } ⏎ testcase b extends "x" { return 1 }
testcase a { }
testcase b extends "x" { return 1 }
//---- valid: edge x = f(a: 1, a: 2)
x = f(a: 1, a: 2)
//---- valid: edge x = [a: 1]
x = [a: 1]
//---- valid: edge x = ["a": 1, "a": 2]
x = ["a": 1, "a": 2]
//---- valid: edge x = [[:]: 1]
x = [[:]: 1]
//---- valid: edge x = [f(): g()]
x = [f(): g()]
//---- valid: edge x = [1 + 2: 3]
x = [1 + 2: 3]
//---- valid: edge x = [(a): 1]
x = [(a): 1]
//---- valid: edge x = [-1]
x = [-1]
//---- valid: edge x = 0.
x = 0.
//---- valid: edge x = 00.5
x = 00.5
//---- valid: edge x = 0h0m
x = 0h0m
//---- valid: edge x = 1mo1mo
x = 1mo1mo
//---- valid: edge x = 1ms1m
x = 1ms1m
//---- valid: edge x = 3µ
x = 3µ
//---- invalid: edge x = "\x4"
x = "\x4"
//---- invalid: edge x = "\x4g"
x = "\x4g"
//---- invalid: edge x = "\X41"
x = "\X41"
//---- valid: edge x = /\//
x = /\//
//---- valid: edge x = /\\/
x = /\\/
//---- invalid: edge x = //
x = //
//---- valid: edge x = / a/
x = / a/
//---- valid: edge x = /a/i
x = /a/i
//---- invalid: edge x = 2021-01-01T00:00:00.Z
x = 2021-01-01T00:00:00.Z
//---- invalid: edge x = 2021-01-01T00:00:00+07
x = 2021-01-01T00:00:00+07
//---- valid: edge x = 2021-01-01T00:00:00Z1
x = 2021-01-01T00:00:00Z1
//---- invalid: edge x = 20210-01-01
x = 20210-01-01
//---- valid: edge x = 2021-01-01T00:00:60Z
x = 2021-01-01T00:00:60Z
//---- invalid: edge x = 2021-00-01
x = 2021-00-01
//---- invalid: edge x = 2021-01-00
x = 2021-01-00
//---- valid: edge x = 1_000
x = 1_000
//---- invalid: edge x = a.b = 1
x = a.b = 1
//---- invalid: edge x = a ==
x = a ==
//---- invalid: edge package a.b
package a.b
//---- valid: edge package a b = 1
package a b = 1
//---- valid: edge option a. b = 1
option a. b = 1
//---- valid: edge option task = {} option task = {}
option task = {} option task = {}
//---- invalid: edge return
return
//---- invalid: edge x = (return 1)
x = (return 1)
//---- invalid: edge x = if a then b else c else d
x = if a then b else c else d
//---- valid: edge x = a(b: 1, c)
x = a(b: 1, c)
//---- invalid: edge x = f(,)
x = f(,)
//---- invalid: edge x = [,]
x = [,]
//---- invalid: edge x = {,}
x = {,}
//---- invalid: edge x = (,) => 1
x = (,) => 1
