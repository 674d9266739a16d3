//---- valid: empty file

//---- valid: comment only file
// nothing here
//---- valid: package clause
package foo
//---- valid: package then imports
package main

import "strings"
import s "strings"
import "influxdata/influxdb/schema"

x = 1
//---- valid: import alias
import str "strings"

str.toUpper(v: "a")
//---- invalid: import without path
import
//---- invalid: import non-string path
import strings
//---- invalid: import interpolated path
import "${x}"
//---- invalid: import after statement
x = 1
import "strings"
//---- invalid: package after import
import "strings"
package foo
//---- invalid: package without name
package
//---- invalid: package string name
package "foo"
//---- valid: option simple
option now = () => 2020-01-01T00:00:00Z
//---- valid: option member
option a.b = 1
//---- valid: option record
option task = {name: "t", every: 1h, offset: -5m}
//---- invalid: option without value
option x =
//---- invalid: option without assign
option x
//---- invalid: option deep member
option a.b.c = 1
//---- invalid: option keyword name
option if = 1
//---- valid: option then statements
option v = {timeRangeStart: -1h}
x = v.timeRangeStart
//---- valid: return at top level parses
return 1
//---- invalid: return without value
f = () => {
  return
}
//---- valid: expression statements
1
"a"
a.b
f()
//---- invalid: member assignment statement
a.b = 1
//---- invalid: assignment to literal
1 = 2
//---- invalid: double assign
a = = 1
//---- invalid: stray close brace
}
//---- invalid: stray close bracket
]
//---- invalid: stray comma
,
//---- invalid: stray colon
a = 1 : 2
//---- invalid: stray arrow
=> 1
//---- invalid: lone keyword then
then
//---- invalid: lone else
else 1
//---- invalid: lone and
and
//---- valid: testcase statement
testcase my_test {
  x = 1
}
//---- valid: testcase extends
testcase t extends "flux/universe_test" {
  y = 2
}
//---- invalid: testcase without block
testcase t
//---- valid: windows line endings
x = 1
y = 2
//---- valid: tabs and blank lines
	x	=	1


	y = x
//---- valid: comment at end without newline
x = 1 // trailing
//---- valid: comment between pipes
from(bucket: "b")
  // the range
  |> range(start: -1h)
  // and a filter
  |> filter(fn: (r) => true)
//---- valid: many statements
a = 1
b = a + 1
c = b * 2
d = [a, b, c]
e = {a, b, c}
f = () => e
g = f().a
//---- valid: slash slash inside string is not comment
s = "http://example.com"
//---- valid: slash slash inside regex
r = /http:\/\/x/
//---- valid: regex statement
/abc/
//---- invalid: illegal character
x = 1 # comment
//---- invalid: backtick
x = `raw`
//---- invalid: single quotes
x = 'a'
//---- invalid: semicolon
x = 1;
//---- valid: at sign alone (libflux quirk, known disagreement)
@
//---- valid: attribute on assignment
@edition("2022.1")
x = 1
//---- valid: attributes several with params
@foo("a", 1) @bar() @baz
x = 1
//---- valid: attribute trailing comma param
@a(1,) x = 1
//---- valid: attribute on package and import
@edition("2022.1")
package main

@deprecated
import "strings"

x = 1
//---- valid: attribute on option and expression
@a option b = 1
@c f()
//---- valid: attribute inside block
f = () => {
  @a x = 1
  return x
}
//---- invalid: dangling attribute
x = 1
@foo
//---- invalid: attribute with space
@ x = 1
//---- invalid: attribute with member name
@a.b x = 1
//---- invalid: attribute dangling in block
f = () => { x = 1 @a }
//---- invalid: hash
#
//---- valid: windows line endings crlf
x = 1
y = 2
//---- valid: builtin statement (not supported, known disagreement)
builtin foo : (a: int, ?b: A, <-tables: stream[{A with _value: B}]) => [A:B] where A: Addable + Comparable
