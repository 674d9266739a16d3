//! The Nelder-Mead simplex minimizer `holt_winters` fits its parameters with: 1.6's
//! `query/neldermead` (after Michael F. Hutt's), step for step, so the fit ends on the
//! same floats. A leaf.
//!
//! As in 1.6 the objective may change the point it is given (the Holt-Winters error
//! clamps its parameters and rewrites its seasonal terms in place), and the simplex keeps
//! the changed point.

const MAX_ITERATIONS: usize = 1000;
/// Reflection coefficient.
const ALPHA: f64 = 1.0;
/// Contraction coefficient.
const BETA: f64 = 0.5;
/// Expansion coefficient.
const GAMMA: f64 = 2.0;

/// Minimizes `f` from `start` (a simplex of edge `scale`) until the spread of the values at
/// its vertices is below `epsilon` or 1000 steps: the least value and the point it was
/// found at (as the point was before `f` last read it).
pub fn optimize(
    f: &mut dyn FnMut(&mut [f64]) -> f64,
    start: &[f64],
    epsilon: f64,
    scale: f64,
) -> (f64, Vec<f64>) {
    let n = start.len();
    let nf = n as f64;
    let pn = scale * ((nf + 1.0).sqrt() - 1.0 + nf) / (nf * 2f64.sqrt());
    let qn = scale * ((nf + 1.0).sqrt() - 1.0) / (nf * 2f64.sqrt());
    // the vertices: `start` and one step from it along each axis
    let mut v: Vec<Vec<f64>> = vec![start.to_vec()];
    for i in 1..=n {
        v.push(
            (0..n)
                .map(|j| (if i - 1 == j { pn } else { qn }) + start[j])
                .collect(),
        );
    }
    let mut fv: Vec<f64> = v.iter_mut().map(|x| f(x)).collect();
    let mut vr = vec![0.0; n];
    let mut ve = vec![0.0; n];
    let mut vc = vec![0.0; n];
    let mut vm = vec![0.0; n];
    for _ in 0..MAX_ITERATIONS {
        // the greatest value, the least, and the second greatest
        let (mut vg, mut vs) = (0, 0);
        for i in 0..=n {
            if fv[i] > fv[vg] {
                vg = i;
            }
            if fv[i] < fv[vs] {
                vs = i;
            }
        }
        let mut vh = vs;
        for i in 0..=n {
            if fv[i] > fv[vh] && fv[i] < fv[vg] {
                vh = i;
            }
        }
        // the centroid of all but the worst
        for (i, c) in vm.iter_mut().enumerate() {
            let mut cent = 0.0;
            for (m, row) in v.iter().enumerate() {
                if m != vg {
                    cent += row[i];
                }
            }
            *c = cent / nf;
        }
        // reflection
        for i in 0..n {
            vr[i] = vm[i] + ALPHA * (vm[i] - v[vg][i]);
        }
        let fr = f(&mut vr);
        if fr < fv[vh] && fr >= fv[vs] {
            v[vg].copy_from_slice(&vr);
            fv[vg] = fr;
        }
        // a step further the same way
        if fr < fv[vs] {
            for i in 0..n {
                ve[i] = vm[i] + GAMMA * (vr[i] - vm[i]);
            }
            let fe = f(&mut ve);
            if fe < fr {
                v[vg].copy_from_slice(&ve);
                fv[vg] = fe;
            } else {
                v[vg].copy_from_slice(&vr);
                fv[vg] = fr;
            }
        }
        // contraction
        if fr >= fv[vh] {
            if fr < fv[vg] && fr >= fv[vh] {
                for i in 0..n {
                    vc[i] = vm[i] + BETA * (vr[i] - vm[i]);
                }
            } else {
                for i in 0..n {
                    vc[i] = vm[i] - BETA * (vm[i] - v[vg][i]);
                }
            }
            let fc = f(&mut vc);
            if fc < fv[vg] {
                v[vg].copy_from_slice(&vc);
                fv[vg] = fc;
            } else {
                // halve every vertex's distance to the best; 1.6 then reads the function
                // again at the worst and the second worst only
                let best = v[vs].clone();
                for (row, x) in v.iter_mut().enumerate() {
                    if row != vs {
                        for i in 0..n {
                            x[i] = best[i] + (x[i] - best[i]) / 2.0;
                        }
                    }
                }
                fv[vg] = f(&mut v[vg]);
                fv[vh] = f(&mut v[vh]);
            }
        }
        // converged?
        let favg = fv.iter().fold(0.0, |s, x| s + x) / (nf + 1.0);
        let s = fv
            .iter()
            .fold(0.0, |s, x| s + (x - favg) * (x - favg) / nf)
            .sqrt();
        if s < epsilon {
            break;
        }
    }
    let mut vs = 0;
    for i in 0..=n {
        if fv[i] < fv[vs] {
            vs = i;
        }
    }
    let params = v[vs].clone();
    let min = f(&mut v[vs]);
    (min, params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_minimum() {
        let mut f = |x: &mut [f64]| (x[0] - 3.0) * (x[0] - 3.0) + (x[1] + 1.0) * (x[1] + 1.0);
        let (min, at) = optimize(&mut f, &[0.0, 0.0], 1e-12, 1.0);
        assert!(min < 1e-9, "{min}");
        assert!(
            (at[0] - 3.0).abs() < 1e-4 && (at[1] + 1.0).abs() < 1e-4,
            "{at:?}"
        );
    }
}
