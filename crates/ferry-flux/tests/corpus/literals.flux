//---- valid: int zero
x = 0
//---- valid: int max
x = 9223372036854775807
//---- invalid: int overflow
x = 9223372036854775808
//---- invalid: int leading zero
x = 007
//---- valid: float forms
a = 1.5
b = .5
c = 1.
d = 0.0
e = 123456.789
//---- valid: float then identifier (no exponent syntax)
x = 1.5e3
//---- valid: int then identifier
x = 1e5
//---- valid: hex is int then identifier
x = 0x1F
//---- valid: negative numbers
x = -1
y = -1.5
z = - 2
//---- valid: unary plus
x = +1
//---- valid: string escapes
s = "quote \" backslash \\ newline \n tab \t cr \r dollar \${x}"
//---- valid: hex byte escapes
s = "\x41\x42 \xe2\x82\xac"
//---- invalid: hex escape invalid utf8
s = "\xff"
//---- invalid: unknown escape
s = "\q"
//---- invalid: dollar escape without brace
s = "\$"
//---- invalid: unicode escape not supported
s = "\u0041"
//---- valid: empty string
s = ""
//---- valid: multi-line string
s = "line one
line two"
//---- valid: unicode string
s = "héllo wörld ✓ 日本"
//---- valid: dollar without brace
s = "cost: $5 and $ {x}"
//---- valid: interpolation simple
s = "value: ${x}"
//---- valid: interpolation only
s = "${x}"
//---- valid: interpolation with member and call
s = "${r.host}-${string(v: r._value)}!"
//---- valid: nested interpolation
s = "a${"b${c}d"}e"
//---- valid: interpolation with escapes around
s = "\"${x}\" \n ${y}\t"
//---- valid: interpolation arithmetic
s = "${1 + 2 * 3}"
//---- invalid: unterminated string
s = "abc
//---- invalid: unterminated interpolation
s = "${x"
//---- invalid: empty interpolation
s = "${}"
//---- valid: regex simple
r = /abc/
//---- valid: regex with escaped slash
r = /a\/b/
//---- valid: regex with classes
r = /^[a-z]+\d{2,3}\.\w*$/
//---- valid: regex with backslashes
r = /a\\b/
//---- valid: regex with unicode
r = /héllo|wörld/
//---- valid: regex in comparison
x = "a" =~ /a/
//---- valid: regex not match
x = "a" !~ /b/
//---- valid: division not regex
x = a / b / c
//---- valid: division with spaces
x = 10 / 2
//---- valid: regex in array
x = [/a/, /b/]
//---- valid: regex as call argument
x = f(r: /x/)
//---- valid: durations all units
d = [1y, 1mo, 1w, 1d, 1h, 1m, 1s, 1ms, 1us, 1µs, 1ns]
//---- valid: compound durations
d = [1h30m, 1m0s, 0s, 2d12h, 1y2mo3w4d5h6m7s8ms9us10ns]
//---- valid: duration with leading zero magnitude
d = 01h
//---- valid: duration repeated unit
d = 1d2d
//---- valid: duration followed by int
d = 1h30
//---- valid: float duration is float then identifier
d = 1.5h
//---- valid: uppercase unit is int then identifier
d = 1H
//---- invalid: duration magnitude overflow
d = 99999999999999999999h
//---- valid: negative duration
d = -5m
//---- valid: date only
t = 2021-01-01
//---- valid: datetime Z
t = 2021-01-01T00:00:00Z
//---- valid: datetime offset
t = 2021-01-01T10:20:30+07:00
//---- valid: datetime fraction offset
t = 2021-01-01T10:20:30.123456789-07:00
//---- invalid: datetime no offset
t = 2021-01-01T00:00:00
//---- valid: pipe literal default
f = (tables=<-) => tables
//---- valid: booleans are identifiers
t = true
f = false
//---- valid: array of mixed literals
a = [1, 2.0, "three", 4h, 2021-01-01, /five/, true]
//---- valid: empty array
a = []
//---- valid: trailing comma array
a = [1, 2, 3,]
//---- invalid: double comma array
a = [1,, 2]
//---- invalid: leading comma array
a = [, 1]
//---- valid: dict literal
d = ["a": 1, "b": 2]
//---- valid: empty dict
d = [:]
//---- valid: dict with non-string keys
d = [1: "one", 2: "two"]
//---- valid: dict trailing comma
d = ["a": 1,]
//---- invalid: dict missing value
d = ["a": ]
//---- invalid: dict mixed with array
d = ["a": 1, 2]
//---- invalid: dict empty with space
d = [ : 1]
//---- valid: nested arrays and dicts
x = [[1, 2], [3], []]
y = ["a": [1], "b": [:]]
