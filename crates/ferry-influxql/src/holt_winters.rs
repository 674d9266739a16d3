//! `holt_winters(aggregate, N, S)` and `holt_winters_with_fit`: 1.6's damped Holt-Winters
//! forecast (its `FloatHoltWintersReducer`), ported step for step so the forecasts are the
//! same floats: the initial level, trend and seasons guessed from the data, the smoothing
//! parameters fitted by [`crate::neldermead`] from a grid of 16 starting points, then the
//! series run `N` intervals past its last window.
//!
//! 1.6's arithmetic is kept where it is odd: each step's level is updated from the previous
//! step's *forecast*, and `phi^t` is computed as Go's `math.Pow` computes it ([`go_pow`]).

use crate::ast::Expr;
use crate::neldermead;

/// A bad argument to `holt_winters`/`holt_winters_with_fit`, in 1.6's words (the first
/// argument, which must be an aggregate, is left to the caller).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    /// Not three arguments.
    #[error("invalid number of arguments for {name}, expected 3, got {got}")]
    Count {
        /// The function.
        name: &'static str,
        /// How many it got.
        got: usize,
    },
    /// N is not an integer literal.
    #[error("expected integer argument as second arg in {0}")]
    NType(&'static str),
    /// N is not positive.
    #[error("second arg to {name} must be greater than 0, got {got}")]
    NRange {
        /// The function.
        name: &'static str,
        /// The N given.
        got: i64,
    },
    /// S is not an integer literal.
    #[error("expected integer argument as third arg in {0}")]
    SType(&'static str),
    /// S is negative.
    #[error("third arg to {name} cannot be negative, got {got}")]
    SRange {
        /// The function.
        name: &'static str,
        /// The S given.
        got: i64,
    },
    /// The first argument is not a function call.
    #[error("must use aggregate function with {0}")]
    NotAggregate(&'static str),
}

/// A checked call: how many intervals to forecast, the season's length in intervals (below
/// 2: no season) and whether the fitted values over the data come first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    h: usize,
    m: usize,
    with_fit: bool,
}

/// Arbitrary weight of the non-seasonal initial guesses.
const WEIGHT: f64 = 0.5;
/// When the fit stops.
const EPSILON: f64 = 1.0e-4;
/// The grid of starting guesses for alpha, beta, gamma and phi: 0.3 and 0.7 each.
const GUESS_LOWER: f64 = 0.3;
const GUESS_UPPER: f64 = 1.0;
const GUESS_STEP: f64 = 0.4;

impl Spec {
    /// The call `name(args)` checked as 1.6's compiler checks it; `None` when `name` is
    /// neither function.
    pub fn parse(name: &str, args: &[Expr]) -> Option<Result<Spec, ArgError>> {
        let (name, with_fit) = match name {
            "holt_winters" => ("holt_winters", false),
            "holt_winters_with_fit" => ("holt_winters_with_fit", true),
            _ => return None,
        };
        Some(Spec::check(name, with_fit, args))
    }

    fn check(name: &'static str, with_fit: bool, args: &[Expr]) -> Result<Spec, ArgError> {
        if args.len() != 3 {
            return Err(ArgError::Count {
                name,
                got: args.len(),
            });
        }
        let h = match args[1] {
            Expr::Integer(n) if n > 0 => n as usize,
            Expr::Integer(n) => return Err(ArgError::NRange { name, got: n }),
            _ => return Err(ArgError::NType(name)),
        };
        let m = match args[2] {
            Expr::Integer(s) if s >= 0 => s as usize,
            Expr::Integer(s) => return Err(ArgError::SRange { name, got: s }),
            _ => return Err(ArgError::SType(name)),
        };
        if !matches!(args[0], Expr::Call(..)) {
            return Err(ArgError::NotAggregate(name));
        }
        Ok(Spec { h, m, with_fit })
    }

    /// The forecast of one series of window values (`pts`, in time order, one per window of
    /// `interval` ns): the `N` values after the last window, preceded by the fitted values
    /// from the first window on when `with_fit`.
    pub fn run(&self, pts: &[(i64, f64)], interval: i64) -> Vec<(i64, f64)> {
        let seasonal = self.m >= 2;
        let m = self.m;
        let round = |t: i64| {
            // 1.6's overflow-safe rounding to the interval
            if t % interval > interval / 2 {
                (t / interval + 1) * interval
            } else {
                (t / interval) * interval
            }
        };
        let (Some(first), Some(last)) = (pts.first(), pts.last()) else {
            return Vec::new();
        };
        if pts.len() < 2 || (seasonal && pts.len() < m) {
            return Vec::new();
        }
        if (round(last.0) - round(first.0)) / interval <= 0 {
            return Vec::new();
        }
        // the values, NaN for a missing window
        let mut y = vec![first.1];
        let mut t = round(first.0);
        for p in &pts[1..] {
            let rounded = round(p.0);
            if rounded <= t {
                continue;
            }
            t += interval;
            while rounded != t {
                y.push(f64::NAN);
                t += interval;
            }
            y.push(p.1);
        }
        // several points in one window can leave fewer values than a season (1.6 then
        // reads past its slice and fails)
        if seasonal && y.len() < m {
            return Vec::new();
        }
        let fit = Fit { y: &y, seasonal };

        // the initial guesses (a missing value is skipped)
        let mut l0 = 0.0;
        if seasonal {
            for v in y.iter().take(m).filter(|v| !v.is_nan()) {
                l0 += (1.0 / m as f64) * v;
            }
        } else {
            l0 += WEIGHT * y[0];
        }
        let mut b0 = 0.0;
        if seasonal {
            let mut i = 0;
            while i < m && m + i < y.len() {
                if !y[i].is_nan() && !y[m + i].is_nan() {
                    b0 += 1.0 / (m * m) as f64 * (y[m + i] - y[i]);
                }
                i += 1;
            }
        } else if !y[1].is_nan() {
            b0 = WEIGHT * (y[1] - y[0]);
        }
        let seasons: Vec<f64> = if seasonal {
            y[..m]
                .iter()
                .map(|v| if v.is_nan() { 0.0 } else { v / l0 })
                .collect()
        } else {
            Vec::new()
        };
        let mut params = vec![0.0; 6];
        params[4] = l0;
        params[5] = b0;
        params.extend(seasons);

        // the best fit from each starting guess of the grid
        let mut min_sse = f64::INFINITY;
        let mut best: Option<Vec<f64>> = None;
        let mut sse = |p: &mut [f64]| fit.sse(p);
        let mut alpha = GUESS_LOWER;
        while alpha < GUESS_UPPER {
            let mut beta = GUESS_LOWER;
            while beta < GUESS_UPPER {
                let mut gamma = GUESS_LOWER;
                while gamma < GUESS_UPPER {
                    let mut phi = GUESS_LOWER;
                    while phi < GUESS_UPPER {
                        params[..4].copy_from_slice(&[alpha, beta, gamma, phi]);
                        let (e, p) = neldermead::optimize(&mut sse, &params, EPSILON, 1.0);
                        if e < min_sse || best.is_none() {
                            min_sse = e;
                            best = Some(p);
                        }
                        phi += GUESS_STEP;
                    }
                    gamma += GUESS_STEP;
                }
                beta += GUESS_STEP;
            }
            alpha += GUESS_STEP;
        }
        let Some(mut best) = best else {
            return Vec::new();
        };
        let forecast = fit.forecast(self.h, &mut best);
        let (from, skip) = if self.with_fit {
            (first.0, 0)
        } else {
            (last.0 + interval, y.len())
        };
        forecast
            .into_iter()
            .skip(skip)
            .enumerate()
            .filter(|(_, v)| !v.is_nan())
            .map(|(i, v)| (from + interval * i as i64, v))
            .collect()
    }
}

/// The data a fit runs over.
struct Fit<'a> {
    y: &'a [f64],
    seasonal: bool,
}

impl Fit<'_> {
    /// The sum of squared errors of the one-step forecasts with `params` (a forecast NaN
    /// where the data has a value: infinite). Clamps `params` and rewrites their seasonal
    /// terms, as 1.6 does.
    fn sse(&self, params: &mut [f64]) -> f64 {
        let forecast = self.forecast(0, params);
        let mut sse = 0.0;
        for (f, y) in forecast.iter().zip(self.y) {
            if !y.is_nan() {
                if f.is_nan() {
                    return f64::INFINITY;
                }
                let diff = f - y;
                sse += diff * diff;
            }
        }
        sse
    }

    /// The values the recursion gives over the data and `h` steps past it.
    fn forecast(&self, h: usize, params: &mut [f64]) -> Vec<f64> {
        // alpha, beta, gamma and phi clamped to [0, 1]
        for p in params.iter_mut().take(4) {
            // as 1.6's two comparisons: NaN and -0 stay
            *p = p.clamp(0.0, 1.0);
        }
        let (alpha, beta, gamma, phi) = (params[0], params[1], params[2], params[3]);
        let mut y_t = self.y[0];
        let mut phi_h = phi;
        let mut l_t = params[4];
        let mut b_t = params[5];
        let seasons = &mut params[6..];
        let m = seasons.len();
        // the season index offset
        let mut so = 0;
        if self.seasonal {
            if m == 1 {
                seasons[0] = 1.0;
            }
            so = m - 1;
        }
        let l = self.y.len();
        let mut out = vec![0.0; l + h];
        out[0] = y_t;
        let (mut stm, mut stmh) = (1.0, 1.0);
        for (t, slot) in out.iter_mut().enumerate().skip(1) {
            if self.seasonal {
                let hm = t % m;
                stm = seasons[(t + so - m) % m];
                stmh = seasons[(t + so + hm - m) % m];
            }
            let (l_p, b_p) = (l_t, b_t);
            l_t = alpha * (y_t / stm) + (1.0 - alpha) * (l_p + phi * b_p);
            b_t = beta * (l_t - l_p) + (1.0 - beta) * phi * b_p;
            let s_t = gamma * (y_t / (l_p + phi * b_p)) + (1.0 - gamma) * stm;
            y_t = (l_t + phi_h * b_t) * stmh;
            phi_h += go_pow(phi, t as f64);
            if self.seasonal {
                seasons[(t + so) % m] = s_t;
                so += 1;
            }
            *slot = y_t;
        }
        out
    }
}

/// `x` to the power `y` as Go's `math.Pow` computes it: for an integer `y`, by squaring
/// the mantissa, which can differ in the last bit from a correctly rounded power.
fn go_pow(x: f64, y: f64) -> f64 {
    if y == 0.0 || x == 1.0 {
        return 1.0;
    }
    if y == 1.0 {
        return x;
    }
    if x.is_nan() || y.is_nan() || x == 0.0 || x.is_infinite() || y.fract() != 0.0 || y < 0.0 {
        // not the integer powers of a finite number that holt_winters takes
        return x.powf(y);
    }
    let (mut a1, mut ae) = (1.0, 0i64);
    let (mut x1, mut xe) = frexp(x);
    let mut i = y as i64;
    while i != 0 {
        if !(-(1 << 12)..=(1 << 12)).contains(&xe) {
            // catastrophic overflow: left to ldexp
            ae += xe;
            break;
        }
        if i & 1 == 1 {
            a1 *= x1;
            ae += xe;
        }
        x1 *= x1;
        xe <<= 1;
        if x1 < 0.5 {
            x1 += x1;
            xe -= 1;
        }
        i >>= 1;
    }
    ldexp(a1, ae)
}

/// Go's `math.Frexp`: `f` as a fraction in [0.5, 1) and a power of two.
fn frexp(f: f64) -> (f64, i64) {
    if f == 0.0 || f.is_nan() || f.is_infinite() {
        return (f, 0);
    }
    let (f, mut exp) = normalize(f);
    let mut x = f.to_bits();
    exp += ((x >> 52) & 0x7ff) as i64 - 1022;
    x &= !(0x7ff << 52);
    x |= 1022 << 52;
    (f64::from_bits(x), exp)
}

/// A subnormal `f` scaled to a normal number, and the power of two that undoes it.
fn normalize(f: f64) -> (f64, i64) {
    if f.abs() < f64::MIN_POSITIVE {
        (f * (1u64 << 52) as f64, -52)
    } else {
        (f, 0)
    }
}

/// Go's `math.Ldexp`: `frac * 2^exp`, rounding into the subnormals as Go does.
fn ldexp(frac: f64, exp: i64) -> f64 {
    if frac == 0.0 || frac.is_nan() || frac.is_infinite() {
        return frac;
    }
    let (frac, e) = normalize(frac);
    let mut exp = exp + e;
    let mut x = frac.to_bits();
    exp += ((x >> 52) & 0x7ff) as i64 - 1023;
    if exp < -1075 {
        return 0f64.copysign(frac);
    }
    if exp > 1023 {
        return f64::INFINITY.copysign(frac);
    }
    let mut m = 1.0;
    if exp < -1022 {
        exp += 53;
        m = 1.0 / (1u64 << 53) as f64;
    }
    x &= !(0x7ff << 52);
    x |= ((exp + 1023) as u64) << 52;
    m * f64::from_bits(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_pow_of_integer_powers() {
        for x in [0.3f64, 0.7, 0.999, 0.5, 1e-3] {
            for t in 1..60 {
                let want = x.powf(t as f64);
                let got = go_pow(x, t as f64);
                assert!((got - want).abs() <= want * 1e-14, "{x}^{t}: {got} {want}");
            }
        }
        assert_eq!(go_pow(0.5, 3.0), 0.125);
        assert_eq!(go_pow(1e-300, 2.0), 0.0);
    }

    #[test]
    fn arguments_are_checked_in_16s_words() {
        let call = Expr::Call("mean".into(), vec![]);
        let e = |args: Vec<Expr>| {
            Spec::parse("holt_winters", &args)
                .unwrap()
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            e(vec![call.clone()]),
            "invalid number of arguments for holt_winters, expected 3, got 1"
        );
        assert_eq!(
            e(vec![call.clone(), Expr::Integer(0), Expr::Integer(1)]),
            "second arg to holt_winters must be greater than 0, got 0"
        );
        assert_eq!(
            e(vec![call, Expr::Integer(1), Expr::Integer(-1)]),
            "third arg to holt_winters cannot be negative, got -1"
        );
        assert_eq!(
            e(vec![
                Expr::Str("v".into()),
                Expr::Integer(1),
                Expr::Integer(1)
            ]),
            "must use aggregate function with holt_winters"
        );
    }

    #[test]
    fn forecasts_a_line() {
        let spec = Spec::parse(
            "holt_winters",
            &[
                Expr::Call("mean".into(), vec![]),
                Expr::Integer(2),
                Expr::Integer(0),
            ],
        )
        .unwrap()
        .unwrap();
        let pts: Vec<(i64, f64)> = (0..10).map(|i| (i * 10, 5.0 + 2.0 * i as f64)).collect();
        let out = spec.run(&pts, 10);
        assert_eq!(out.iter().map(|p| p.0).collect::<Vec<_>>(), vec![100, 110]);
        assert!((out[0].1 - 25.0).abs() < 1.0, "{out:?}");
    }
}
