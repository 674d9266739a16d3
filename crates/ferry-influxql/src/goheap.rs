//! Go's `container/heap` as influxd 1.6 runs it: the same sifts, comparisons and swaps, so
//! that items comparing equal sit where 1.6's heap leaves them. Where 1.6 answers in its
//! heap's array order (its sorted merge of series, its top/bottom reducer), only an exact
//! replay gives the same rows.

/// `heap.down`: sifts item `i0` down over the first `n` items, ordered by `less`; whether it
/// moved.
pub(crate) fn down<T>(h: &mut [T], less: impl Fn(&T, &T) -> bool, i0: usize, n: usize) -> bool {
    let mut i = i0;
    loop {
        let j1 = 2 * i + 1;
        if j1 >= n {
            break;
        }
        let mut j = j1;
        let j2 = j1 + 1;
        if j2 < n && less(&h[j2], &h[j1]) {
            j = j2;
        }
        if !less(&h[j], &h[i]) {
            break;
        }
        h.swap(i, j);
        i = j;
    }
    i > i0
}

/// `heap.up`: sifts item `j` up, ordered by `less`.
pub(crate) fn up<T>(h: &mut [T], less: impl Fn(&T, &T) -> bool, mut j: usize) {
    while j > 0 {
        let i = (j - 1) / 2;
        if !less(&h[j], &h[i]) {
            break;
        }
        h.swap(i, j);
        j = i;
    }
}

/// `heap.Init`: orders `h` as a heap.
pub(crate) fn init<T>(h: &mut [T], less: impl Fn(&T, &T) -> bool + Copy) {
    let n = h.len();
    for i in (0..n / 2).rev() {
        down(h, less, i, n);
    }
}

/// `heap.Pop`: swaps the root with the last item, sifts the new root down over the rest,
/// and takes the last.
pub(crate) fn pop<T>(h: &mut Vec<T>, less: impl Fn(&T, &T) -> bool) -> Option<T> {
    let last = h.len().checked_sub(1)?;
    h.swap(0, last);
    down(h, less, 0, last);
    h.pop()
}

/// `heap.Push`: appends `x` and sifts it up.
pub(crate) fn push<T>(h: &mut Vec<T>, less: impl Fn(&T, &T) -> bool, x: T) {
    h.push(x);
    let j = h.len() - 1;
    up(h, less, j);
}

/// `heap.Fix`: restores the order after item `i` changed.
pub(crate) fn fix<T>(h: &mut [T], less: impl Fn(&T, &T) -> bool + Copy, i: usize) {
    let n = h.len();
    if !down(h, less, i, n) {
        up(h, less, i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pushing then popping (swap root and last, sift down, take last) gives the items in
    /// order, and equal items come out in the order Go's heap gives them (worked by hand
    /// from Go's code for this input).
    #[test]
    fn pushes_and_pops_like_go() {
        let less = |a: &(i32, char), b: &(i32, char)| a.0 < b.0;
        let mut h = Vec::new();
        for x in [(2, 'a'), (1, 'b'), (2, 'c'), (1, 'd'), (0, 'e'), (2, 'f')] {
            push(&mut h, less, x);
        }
        assert_eq!(
            h,
            vec![(0, 'e'), (1, 'b'), (2, 'c'), (2, 'a'), (1, 'd'), (2, 'f')]
        );
        let mut out = Vec::new();
        while let Some(x) = pop(&mut h, less) {
            out.push(x);
        }
        let order: String = out.iter().map(|x| x.1).collect();
        assert_eq!(order, "ebdacf");
    }

    /// `init` orders an array as Go's `heap.Init` does (worked by hand), and `fix` after
    /// replacing the root moves it down when it grew, leaving the heap valid.
    #[test]
    fn fix_after_replacing_the_root() {
        let less = |a: &i32, b: &i32| a < b;
        let mut h = vec![5, 3, 8, 1, 9];
        init(&mut h, less);
        assert_eq!(h, vec![1, 3, 8, 5, 9]);
        h[0] = 7;
        fix(&mut h, less, 0);
        assert_eq!(h[0], 3);
        for i in 1..h.len() {
            assert!(!less(&h[i], &h[(i - 1) / 2]), "{h:?}");
        }
    }
}
