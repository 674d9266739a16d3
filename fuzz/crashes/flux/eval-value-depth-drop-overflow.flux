f = (x) => [[[[[[[[[[x]]]]]]]]]]
g = (x) => f(x: f(x: f(x: f(x: f(x: f(x: f(x: f(x: f(x: f(x: x))))))))))
h = (x) => g(x: g(x: g(x: g(x: g(x: g(x: g(x: g(x: g(x: g(x: x))))))))))
i = (x) => h(x: h(x: h(x: h(x: h(x: h(x: h(x: h(x: h(x: h(x: x))))))))))
j = (x) => i(x: i(x: i(x: i(x: i(x: i(x: i(x: i(x: i(x: i(x: x))))))))))
v = j(x: 1)
