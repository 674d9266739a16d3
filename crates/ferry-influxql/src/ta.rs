//! The technical-analysis transformations of InfluxQL 1.6 (its `query/internal/gota`):
//! `exponential_moving_average`, `double_exponential_moving_average`,
//! `triple_exponential_moving_average`, `triple_exponential_derivative`,
//! `relative_strength_index`, `kaufmans_efficiency_ratio`,
//! `kaufmans_adaptive_moving_average` and `chande_momentum_oscillator`.
//!
//! [`Spec::parse`] checks a call's arguments as 1.6's compiler does (its words in
//! [`ArgError`]); [`Spec::run`] reduces one series' values in time order. The arithmetic is
//! 1.6's, operation for operation, so the answers are the same floats. A leaf: it names no
//! other part of the crate but the syntax tree.

use crate::ast::Expr;

/// A bad argument to one of these functions, in 1.6's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    /// Too few or too many arguments.
    #[error("invalid number of arguments for {name}, expected at least 2 but no more than {max}, got {got}")]
    Count {
        /// The function.
        name: String,
        /// How many it takes at most.
        max: usize,
        /// How many it got.
        got: usize,
    },
    /// The period is not an integer literal.
    #[error("{0} period must be an integer")]
    PeriodType(String),
    /// The period is below 1.
    #[error("{0} period must be greater than or equal to 1")]
    PeriodRange(String),
    /// The hold period is not an integer literal.
    #[error("{0} hold period must be an integer")]
    HoldType(String),
    /// The hold period is below its minimum (`min`: 1 for the derivative, else 0).
    #[error("{name} hold period must be greater than or equal to {min}")]
    HoldRange {
        /// The function.
        name: String,
        /// The least hold period it takes (besides -1, "the default").
        min: i64,
    },
    /// The warmup type is not a string literal.
    #[error("{0} warmup type must be a string")]
    WarmupType(String),
    /// The warmup type is not one the function knows (`choices` as 1.6 lists them).
    #[error("{name} warmup type must be one of: {choices}")]
    WarmupValue {
        /// The function.
        name: String,
        /// The types it takes, quoted.
        choices: &'static str,
    },
}

/// A field of strings or booleans given to one of these functions, in 1.6's words
/// (`iterator`: the Go type 1.6 names, `stringInterruptIterator` or
/// `booleanInterruptIterator`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported {} iterator type: *query.{}", .name.replace('_', " "), .iterator)]
pub struct Unsupported {
    /// The function.
    pub name: String,
    /// The Go iterator type.
    pub iterator: &'static str,
}

/// How an exponential average starts (1.6's `WarmupType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warmup {
    /// An exponential average from the first value, its weight scaled until warm.
    Exponential,
    /// A simple average of the first `period` values.
    Simple,
    /// No smoothing: `chande_momentum_oscillator`'s plain form.
    None,
}

/// Which algorithm a call runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ema,
    Dema,
    Tema,
    Trix,
    Rsi,
    Ker,
    Kama,
    Cmo,
}

/// A checked call: the algorithm, its period, how many values it holds back and its warmup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    kind: Kind,
    period: usize,
    /// `None`: the algorithm's own warm-up count (1.6's hold period -1, the default).
    hold: Option<u32>,
    warmup: Warmup,
}

impl Spec {
    /// The call `name(args)` checked as 1.6's compiler checks it (the first argument, the
    /// field or aggregate, is left to the caller); `None` when `name` is not
    /// one of the functions this module answers.
    pub fn parse(name: &str, args: &[Expr]) -> Option<Result<Spec, ArgError>> {
        let kind = match name {
            "exponential_moving_average" => Kind::Ema,
            "double_exponential_moving_average" => Kind::Dema,
            "triple_exponential_moving_average" => Kind::Tema,
            "triple_exponential_derivative" => Kind::Trix,
            "relative_strength_index" => Kind::Rsi,
            "kaufmans_efficiency_ratio" => Kind::Ker,
            "kaufmans_adaptive_moving_average" => Kind::Kama,
            "chande_momentum_oscillator" => Kind::Cmo,
            _ => return None,
        };
        Some(Spec::check(kind, name, args))
    }

    fn check(kind: Kind, name: &str, args: &[Expr]) -> Result<Spec, ArgError> {
        let kaufmans = matches!(kind, Kind::Ker | Kind::Kama);
        let max = if kaufmans { 3 } else { 4 };
        if !(2..=max).contains(&args.len()) {
            return Err(ArgError::Count {
                name: name.into(),
                max,
                got: args.len(),
            });
        }
        let period = match args[1] {
            Expr::Integer(p) if p >= 1 => p as usize,
            Expr::Integer(_) => return Err(ArgError::PeriodRange(name.into())),
            _ => return Err(ArgError::PeriodType(name.into())),
        };
        let hold = match args.get(2) {
            None | Some(Expr::Integer(-1)) => None,
            Some(Expr::Integer(h)) => {
                let min = if kind == Kind::Trix { 1 } else { 0 };
                if *h < min {
                    return Err(ArgError::HoldRange {
                        name: name.into(),
                        min,
                    });
                }
                Some(u32::try_from(*h).unwrap_or(u32::MAX))
            }
            Some(_) => return Err(ArgError::HoldType(name.into())),
        };
        let cmo = kind == Kind::Cmo;
        let warmup = match args.get(3) {
            None if cmo => Warmup::None,
            None => Warmup::Exponential,
            Some(Expr::Str(w)) => match w.as_str() {
                "exponential" => Warmup::Exponential,
                "simple" => Warmup::Simple,
                "none" if cmo => Warmup::None,
                _ => {
                    return Err(ArgError::WarmupValue {
                        name: name.into(),
                        choices: if cmo {
                            "'none' 'exponential' 'simple'"
                        } else {
                            "'exponential' 'simple'"
                        },
                    })
                }
            },
            Some(_) => return Err(ArgError::WarmupType(name.into())),
        };
        Ok(Spec {
            kind,
            period,
            hold,
            warmup,
        })
    }

    /// The function over one series' values in time order: a value for each input value
    /// past the hold period, at that value's time (1.6 drops the infinite answers of the
    /// triple exponential derivative and of Kaufman's two).
    pub fn run(&self, pts: &[(i64, f64)]) -> Vec<(i64, f64)> {
        let mut alg = Alg::new(self);
        let hold = self.hold.unwrap_or_else(|| alg.warm_count());
        let drops_inf = matches!(self.kind, Kind::Trix | Kind::Ker | Kind::Kama);
        let mut out = Vec::new();
        let mut count: u32 = 0;
        for &(t, v) in pts {
            let y = alg.add(v);
            count = count.wrapping_add(1);
            if count <= hold || (drops_inf && y.is_infinite()) {
                continue;
            }
            out.push((t, y));
        }
        out
    }
}

/// 1.6's EMA: an exponential moving average warmed by `warmup`.
#[derive(Debug, Clone)]
struct Ema {
    period: usize,
    last: f64,
    count: usize,
    alpha: f64,
    warmup: Warmup,
}

impl Ema {
    fn new(period: usize, warmup: Warmup) -> Ema {
        Ema {
            period,
            last: 0.0,
            count: 0,
            alpha: 2.0 / (period + 1) as f64,
            warmup,
        }
    }

    fn warm_count(&self) -> u32 {
        (self.period - 1) as u32
    }

    fn warmed(&self) -> bool {
        self.count == self.period
    }

    /// Whether the next average down a chain takes this one's values (it waits for this one
    /// to warm when the warmup is simple).
    fn feeds(&self) -> bool {
        self.warmed() || self.warmup != Warmup::Simple
    }

    fn add(&mut self, v: f64) -> f64 {
        let avg = if self.count == 0 {
            v
        } else if self.warmed() {
            (v - self.last) * self.alpha + self.last
        } else if self.warmup == Warmup::Simple {
            (self.last * self.count as f64 + v) / (self.count + 1) as f64
        } else {
            // the weight scaled so the first values do not dominate
            let alpha = 2.0 / (self.count + 2) as f64;
            (v - self.last) * alpha + self.last
        };
        self.last = avg;
        if self.count < self.period {
            self.count += 1;
        }
        avg
    }
}

/// Up and down moves smoothed apart (1.6's RSI and CMOS): an EMA of `period` steps with
/// weight `1 / weight`.
#[derive(Debug, Clone)]
struct UpDown {
    up: Ema,
    down: Ema,
    last: f64,
}

impl UpDown {
    fn new(period: usize, weight: usize, warmup: Warmup) -> UpDown {
        let mut ema = Ema::new(period, warmup);
        ema.alpha = 1.0 / weight as f64;
        UpDown {
            up: ema.clone(),
            down: ema,
            last: 0.0,
        }
    }

    fn add(&mut self, v: f64) {
        let (mut up, mut down) = (0.0, 0.0);
        if v > self.last {
            up = v - self.last;
        } else if v < self.last {
            down = self.last - v;
        }
        self.up.add(up);
        self.down.add(down);
        self.last = v;
    }
}

/// A price and its move from the one before (1.6's KER and CMO ring buffers).
#[derive(Debug, Clone, Copy, Default)]
struct Move {
    price: f64,
    diff: f64,
}

/// 1.6's KER: Kaufman's efficiency ratio over a ring of `period` prices.
#[derive(Debug, Clone)]
struct Ker {
    points: Vec<Move>,
    noise: f64,
    count: usize,
    /// The newest point.
    idx: usize,
}

impl Ker {
    fn new(period: usize) -> Ker {
        Ker {
            points: vec![Move::default(); period],
            noise: 0.0,
            count: 0,
            idx: 0,
        }
    }

    fn warmed(&self) -> bool {
        self.count == self.points.len() + 1
    }

    fn add(&mut self, v: f64) -> f64 {
        let n = self.points.len();
        let oldest = if self.idx + 1 >= n { 0 } else { self.idx + 1 };
        let signal = (v - self.points[oldest].price).abs();
        let m = Move {
            price: v,
            diff: (v - self.points[self.idx].price).abs(),
        };
        self.noise -= self.points[oldest].diff;
        self.noise += m.diff;
        let noise = self.noise;
        self.idx = oldest;
        self.points[oldest] = m;
        if !self.warmed() {
            self.count += 1;
        }
        if signal == 0.0 || noise == 0.0 {
            return 0.0;
        }
        signal / noise
    }
}

/// 1.6's CMO without smoothing: sums of the up and down moves over the last `period`
/// moves (the newest, and a ring of the `period - 1` before it).
#[derive(Debug, Clone)]
struct Cmo {
    points: Vec<Move>,
    sum_up: f64,
    sum_down: f64,
    count: usize,
    idx: usize,
    /// The last price added.
    last: f64,
}

impl Cmo {
    fn new(period: usize) -> Cmo {
        Cmo {
            points: vec![Move::default(); period - 1],
            sum_up: 0.0,
            sum_down: 0.0,
            count: 0,
            idx: 0,
            last: 0.0,
        }
    }

    fn warmed(&self) -> bool {
        self.count == self.points.len() + 2
    }

    /// Takes a move out of the sums.
    fn forget(&mut self, diff: f64) {
        if diff > 0.0 {
            self.sum_up -= diff;
        } else if diff < 0.0 {
            self.sum_down += diff;
        }
    }

    fn add(&mut self, v: f64) -> f64 {
        let n = self.points.len();
        let mut oldest = self.idx + 1;
        if oldest == n {
            oldest = 0;
        }
        let mut diff = 0.0;
        if self.count != 0 {
            diff = v - self.last;
            if diff > 0.0 {
                self.sum_up += diff;
            } else if diff < 0.0 {
                self.sum_down -= diff;
            }
        }
        let mut out = 0.0;
        if self.sum_up != 0.0 || self.sum_down != 0.0 {
            out = 100.0 * ((self.sum_up - self.sum_down) / (self.sum_up + self.sum_down));
        }
        match self.points.get(oldest).copied() {
            Some(old) => {
                self.forget(old.diff);
                self.points[oldest] = Move { price: v, diff };
                self.idx = oldest;
            }
            // period 1, an empty ring (where 1.6 indexes past it and fails): the sums hold
            // the newest move alone
            None => self.forget(diff),
        }
        self.last = v;
        if !self.warmed() {
            self.count += 1;
        }
        out
    }
}

/// One algorithm's state.
#[derive(Debug, Clone)]
enum Alg {
    Ema(Ema),
    Dema(Ema, Ema),
    Tema(Ema, Ema, Ema),
    Trix { emas: [Ema; 3], last: f64 },
    Rsi(UpDown),
    Ker(Ker),
    Kama { ker: Ker, last: f64 },
    Cmo(Cmo),
    Cmos(UpDown),
}

impl Alg {
    fn new(s: &Spec) -> Alg {
        let ema = || Ema::new(s.period, s.warmup);
        match s.kind {
            Kind::Ema => Alg::Ema(ema()),
            Kind::Dema => Alg::Dema(ema(), ema()),
            Kind::Tema => Alg::Tema(ema(), ema(), ema()),
            Kind::Trix => Alg::Trix {
                emas: [ema(), ema(), ema()],
                last: 0.0,
            },
            // 1.6 smooths over one step more than the period, with weight 1 / period
            Kind::Rsi => Alg::Rsi(UpDown::new(s.period + 1, s.period, s.warmup)),
            Kind::Ker => Alg::Ker(Ker::new(s.period)),
            Kind::Kama => Alg::Kama {
                ker: Ker::new(s.period),
                last: 0.0,
            },
            Kind::Cmo if s.warmup == Warmup::None => Alg::Cmo(Cmo::new(s.period)),
            Kind::Cmo => Alg::Cmos(UpDown::new(s.period + 1, s.period, s.warmup)),
        }
    }

    /// How many values the algorithm takes to warm: the default hold period.
    fn warm_count(&self) -> u32 {
        match self {
            Alg::Ema(e) => e.warm_count(),
            Alg::Dema(e, _) | Alg::Tema(e, ..) if e.warmup != Warmup::Simple => e.warm_count(),
            Alg::Dema(e, _) => 2 * e.warm_count(),
            Alg::Tema(e, ..) => 3 * e.warm_count(),
            Alg::Trix { emas, .. } if emas[0].warmup != Warmup::Simple => emas[0].warm_count() + 1,
            Alg::Trix { emas, .. } => emas[0].warm_count() * 3 + 1,
            Alg::Rsi(m) | Alg::Cmos(m) => m.up.warm_count(),
            Alg::Ker(k) | Alg::Kama { ker: k, .. } => k.points.len() as u32,
            Alg::Cmo(c) => c.points.len() as u32,
        }
    }

    fn add(&mut self, v: f64) -> f64 {
        match self {
            Alg::Ema(e) => e.add(v),
            Alg::Dema(e1, e2) => {
                let a1 = e1.add(v);
                let a2 = if e1.feeds() { e2.add(a1) } else { a1 };
                2.0 * a1 - a2
            }
            Alg::Tema(e1, e2, e3) => {
                let a1 = e1.add(v);
                let a2 = if e1.feeds() { e2.add(a1) } else { a1 };
                let a3 = if e2.feeds() { e3.add(a2) } else { a2 };
                3.0 * a1 - 3.0 * a2 + a3
            }
            Alg::Trix { emas, last } => {
                let mut cur = emas[0].add(v);
                if emas[0].feeds() {
                    cur = emas[1].add(cur);
                    if emas[1].feeds() {
                        cur = emas[2].add(cur);
                    }
                }
                let rate = ((cur / *last) - 1.0) * 100.0;
                *last = cur;
                rate
            }
            Alg::Rsi(m) => {
                // from a previous value of 0, as the smoothed CMO
                m.add(v);
                100.0 - (100.0 / (1.0 + m.up.last / m.down.last))
            }
            Alg::Ker(k) => k.add(v),
            Alg::Kama { ker, last } => {
                if !ker.warmed() {
                    // started from the last value
                    *last = ker.points[ker.idx].price;
                }
                let er = ker.add(v);
                // 1.6's `er*(2.0/(2.0+1.0)-2.0/(30.0+1.0))+2.0/(30.0+1.0)`: Go folds the
                // constant 2/3 - 2/31 exactly (56/93) before rounding it once
                let sc = er * (56.0 / 93.0) + 2.0 / 31.0;
                let sc = sc * sc;
                *last += sc * (v - *last);
                *last
            }
            Alg::Cmo(c) => c.add(v),
            Alg::Cmos(m) => {
                m.add(v);
                let (up, down) = (m.up.last, m.down.last);
                100.0 * ((up - down) / (up + down))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, args: Vec<Expr>) -> Result<Spec, ArgError> {
        let mut all = vec![Expr::Ref("v".into(), crate::ast::RefKind::Any)];
        all.extend(args);
        Spec::parse(name, &all).expect("a technical-analysis function")
    }

    fn run(name: &str, args: Vec<Expr>, vals: &[f64]) -> Vec<f64> {
        let pts: Vec<(i64, f64)> = vals
            .iter()
            .enumerate()
            .map(|(i, v)| (i as i64, *v))
            .collect();
        spec(name, args)
            .unwrap()
            .run(&pts)
            .into_iter()
            .map(|p| p.1)
            .collect()
    }

    #[test]
    fn ema_warms_exponentially_or_simply() {
        let v = [1.0, 2.0, 3.0, 4.0];
        // exponential: 1, then weight 2/3, then the period's 2/4
        let a2 = (2.0 - 1.0) * (2.0 / 3.0) + 1.0;
        let a3 = (3.0 - a2) * 0.5 + a2;
        let a4 = (4.0 - a3) * 0.5 + a3;
        assert_eq!(
            run(
                "exponential_moving_average",
                vec![Expr::Integer(3), Expr::Integer(0)],
                &v
            ),
            vec![1.0, a2, a3, a4]
        );
        // simple: the running mean until warm; the default hold is period - 1
        let out = run(
            "exponential_moving_average",
            vec![
                Expr::Integer(3),
                Expr::Integer(-1),
                Expr::Str("simple".into()),
            ],
            &v,
        );
        assert_eq!(out, vec![2.0, 3.0]);
    }

    #[test]
    fn arguments_are_checked_in_16s_words() {
        let e = |name: &str, args: Vec<Expr>| spec(name, args).unwrap_err().to_string();
        assert_eq!(
            e("exponential_moving_average", vec![]),
            "invalid number of arguments for exponential_moving_average, expected at least 2 but no more than 4, got 1"
        );
        assert_eq!(
            e("kaufmans_efficiency_ratio", vec![Expr::Integer(2), Expr::Integer(1), Expr::Integer(1)]),
            "invalid number of arguments for kaufmans_efficiency_ratio, expected at least 2 but no more than 3, got 4"
        );
        assert_eq!(
            e("relative_strength_index", vec![Expr::Number(2.5)]),
            "relative_strength_index period must be an integer"
        );
        assert_eq!(
            e(
                "triple_exponential_derivative",
                vec![Expr::Integer(2), Expr::Integer(0)]
            ),
            "triple_exponential_derivative hold period must be greater than or equal to 1"
        );
        assert_eq!(
            e(
                "chande_momentum_oscillator",
                vec![Expr::Integer(2), Expr::Integer(0), Expr::Str("x".into())]
            ),
            "chande_momentum_oscillator warmup type must be one of: 'none' 'exponential' 'simple'"
        );
        assert_eq!(
            e(
                "exponential_moving_average",
                vec![Expr::Integer(2), Expr::Integer(0), Expr::Str("none".into())]
            ),
            "exponential_moving_average warmup type must be one of: 'exponential' 'simple'"
        );
        assert!(Spec::parse("moving_average", &[]).is_none());
    }

    #[test]
    fn default_holds_are_the_warm_counts() {
        let v: Vec<f64> = (1..=12).map(f64::from).collect();
        let n = |name: &str, args: Vec<Expr>| run(name, args, &v).len();
        assert_eq!(n("exponential_moving_average", vec![Expr::Integer(3)]), 10);
        assert_eq!(
            n(
                "double_exponential_moving_average",
                vec![
                    Expr::Integer(3),
                    Expr::Integer(-1),
                    Expr::Str("simple".into())
                ]
            ),
            8
        );
        assert_eq!(n("relative_strength_index", vec![Expr::Integer(3)]), 9);
        assert_eq!(n("kaufmans_efficiency_ratio", vec![Expr::Integer(3)]), 9);
        assert_eq!(n("chande_momentum_oscillator", vec![Expr::Integer(3)]), 10);
        // the derivative's first rate divides by 0: infinite, dropped
        assert_eq!(
            n(
                "triple_exponential_derivative",
                vec![Expr::Integer(3), Expr::Integer(1)]
            ),
            11
        );
    }
}
