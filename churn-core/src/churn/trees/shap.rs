//! Exact TreeSHAP (Lundberg, Erion & Lee 2018, "Consistent individualized feature
//! attribution for tree ensembles", Algorithm 2), path-dependent variant: a feature
//! outside the coalition follows both children weighted by their training cover.
//! Per tree, the contributions sum to `f(x) − E[f]` (E = cover-weighted mean leaf).

use super::tree::Tree;

#[derive(Debug, Clone, Copy, Default)]
struct PathElement {
    feature: i64,
    zero_fraction: f64,
    one_fraction: f64,
    pweight: f64,
}

fn extend(path: &mut [PathElement], depth: usize, zero: f64, one: f64, feature: i64) {
    path[depth] = PathElement {
        feature,
        zero_fraction: zero,
        one_fraction: one,
        pweight: if depth == 0 { 1.0 } else { 0.0 },
    };
    let d1 = (depth + 1) as f64;
    for i in (0..depth).rev() {
        path[i + 1].pweight += one * path[i].pweight * (i + 1) as f64 / d1;
        path[i].pweight = zero * path[i].pweight * (depth - i) as f64 / d1;
    }
}

fn unwind(path: &mut [PathElement], depth: usize, index: usize) {
    let one = path[index].one_fraction;
    let zero = path[index].zero_fraction;
    let d1 = (depth + 1) as f64;
    let mut next_one = path[depth].pweight;
    for i in (0..depth).rev() {
        if one != 0.0 {
            let tmp = path[i].pweight;
            path[i].pweight = next_one * d1 / ((i + 1) as f64 * one);
            next_one = tmp - path[i].pweight * zero * (depth - i) as f64 / d1;
        } else {
            path[i].pweight = path[i].pweight * d1 / (zero * (depth - i) as f64);
        }
    }
    for i in index..depth {
        path[i].feature = path[i + 1].feature;
        path[i].zero_fraction = path[i + 1].zero_fraction;
        path[i].one_fraction = path[i + 1].one_fraction;
    }
}

fn unwound_sum(path: &[PathElement], depth: usize, index: usize) -> f64 {
    let one = path[index].one_fraction;
    let zero = path[index].zero_fraction;
    let d1 = (depth + 1) as f64;
    let mut next_one = path[depth].pweight;
    let mut total = 0.0;
    for i in (0..depth).rev() {
        if one != 0.0 {
            let tmp = next_one * d1 / ((i + 1) as f64 * one);
            total += tmp;
            next_one = path[i].pweight - tmp * zero * (depth - i) as f64 / d1;
        } else if zero != 0.0 {
            total += path[i].pweight / zero / ((depth - i) as f64 / d1);
        }
    }
    total
}

#[allow(clippy::too_many_arguments)]
fn recurse(
    tree: &Tree,
    row: &[f64],
    phi: &mut [f64],
    node: usize,
    buf: &mut [PathElement],
    parent_off: usize,
    depth: usize,
    zero: f64,
    one: f64,
    feature: i64,
) {
    // This node's path lives right after the parent's (as in the reference C++): copy
    // the parent's elements, then extend. No allocation per node.
    let off = parent_off + depth + 1;
    let (head, tail) = buf.split_at_mut(off);
    tail[..depth].copy_from_slice(&head[parent_off..parent_off + depth]);
    let path = &mut tail[..depth + 1];
    extend(path, depth, zero, one, feature);
    let n = &tree.nodes[node];
    if n.is_leaf() {
        for i in 1..=depth {
            let w = unwound_sum(path, depth, i);
            let el = path[i];
            phi[el.feature as usize] += w * (el.one_fraction - el.zero_fraction) * n.value;
        }
        return;
    }
    let (hot, cold) = if row[n.feature as usize] <= n.threshold {
        (n.left as usize, n.right as usize)
    } else {
        (n.right as usize, n.left as usize)
    };
    let cover = n.cover;
    let frac = |c: usize| {
        if cover > 0.0 {
            tree.nodes[c].cover / cover
        } else {
            0.5
        }
    };
    let (hot_zero, cold_zero) = (frac(hot), frac(cold));
    let mut incoming_zero = 1.0;
    let mut incoming_one = 1.0;
    let mut depth = depth;
    if let Some(k) = (1..=depth).find(|&k| path[k].feature == n.feature as i64) {
        incoming_zero = path[k].zero_fraction;
        incoming_one = path[k].one_fraction;
        unwind(path, depth, k);
        depth -= 1;
    }
    let f = n.feature as i64;
    recurse(
        tree,
        row,
        phi,
        hot,
        buf,
        off,
        depth + 1,
        hot_zero * incoming_zero,
        incoming_one,
        f,
    );
    recurse(
        tree,
        row,
        phi,
        cold,
        buf,
        off,
        depth + 1,
        cold_zero * incoming_zero,
        0.0,
        f,
    );
}

/// Adds the SHAP values of `tree` at `row` to `phi` (length = number of features).
pub(crate) fn tree_shap(tree: &Tree, row: &[f64], phi: &mut [f64]) {
    let d = tree.depth() + 2;
    let mut buf = vec![PathElement::default(); (d + 1) * (d + 2) / 2 + d];
    recurse(tree, row, phi, 0, &mut buf, 0, 0, 1.0, 1.0, -1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::churn::trees::tree::Node;
    use proptest::prelude::*;

    /// E[f(x) | x_S] with the path-dependent rule: features in S follow x, others
    /// average both children by cover.
    fn cond_expectation(tree: &Tree, row: &[f64], s: u32, node: usize) -> f64 {
        let n = &tree.nodes[node];
        if n.is_leaf() {
            return n.value;
        }
        if s & (1 << n.feature) != 0 {
            let next = if row[n.feature as usize] <= n.threshold {
                n.left
            } else {
                n.right
            };
            cond_expectation(tree, row, s, next as usize)
        } else {
            let (l, r) = (&tree.nodes[n.left as usize], &tree.nodes[n.right as usize]);
            (l.cover * cond_expectation(tree, row, s, n.left as usize)
                + r.cover * cond_expectation(tree, row, s, n.right as usize))
                / n.cover
        }
    }

    /// Shapley values by enumerating every coalition: the obviously-correct slow version.
    fn brute_force(tree: &Tree, row: &[f64], p: usize) -> Vec<f64> {
        let fact = |k: usize| (1..=k).map(|v| v as f64).product::<f64>();
        let mut phi = vec![0.0; p];
        for (i, out) in phi.iter_mut().enumerate() {
            for s in 0u32..(1 << p) {
                if s & (1 << i) != 0 {
                    continue;
                }
                let k = s.count_ones() as usize;
                let w = fact(k) * fact(p - k - 1) / fact(p);
                *out += w
                    * (cond_expectation(tree, row, s | (1 << i), 0)
                        - cond_expectation(tree, row, s, 0));
            }
        }
        phi
    }

    /// A random full binary tree over `p` features (features may repeat on a path).
    fn random_tree(seed: u64, p: usize, depth: usize) -> Tree {
        let mut rng = crate::churn::trees::rng::SplitMix64::new(seed);
        fn build(
            rng: &mut crate::churn::trees::rng::SplitMix64,
            nodes: &mut Vec<Node>,
            p: usize,
            depth: usize,
        ) -> (u32, f64) {
            let id = nodes.len();
            nodes.push(Node {
                feature: 0,
                threshold: 0.0,
                split_bin: 0,
                left: 0,
                right: 0,
                value: 0.0,
                cover: 0.0,
                gain: 0.0,
            });
            if depth == 0 || rng.next_f64() < 0.2 {
                nodes[id].value = rng.next_f64() * 4.0 - 2.0;
                nodes[id].cover = 1.0 + (rng.below(20) as f64);
                return (id as u32, nodes[id].cover);
            }
            let feature = rng.below(p) as u32;
            let threshold = rng.next_f64();
            let (l, cl) = build(rng, nodes, p, depth - 1);
            let (r, cr) = build(rng, nodes, p, depth - 1);
            nodes[id] = Node {
                feature,
                threshold,
                split_bin: 0,
                left: l,
                right: r,
                value: 0.0,
                cover: cl + cr,
                gain: 1.0,
            };
            (id as u32, cl + cr)
        }
        let mut nodes = Vec::new();
        build(&mut rng, &mut nodes, p, depth);
        Tree { nodes }
    }

    proptest! {
        #[test]
        fn tree_shap_equals_brute_force_shapley(seed in 0u64..10_000, p in 1usize..6, depth in 1usize..6,
                                                 row in proptest::collection::vec(0.0f64..1.0, 6)) {
            let tree = random_tree(seed, p, depth);
            let row = &row[..p];
            let mut phi = vec![0.0; p];
            tree_shap(&tree, row, &mut phi);
            let want = brute_force(&tree, row, p);
            for (a, b) in phi.iter().zip(&want) {
                prop_assert!((a - b).abs() < 1e-9, "{:?} vs {:?}", phi, want);
            }
            let sum: f64 = phi.iter().sum();
            prop_assert!((sum - (tree.predict_row(row) - tree.expected_value())).abs() < 1e-9);
        }
    }

    #[test]
    fn single_split_by_hand() {
        // x0 <= 0.5 -> 1.0 (cover 3), else 5.0 (cover 1). E = 2. At x0 = 0.9: phi0 = 3.
        let leaf = |value, cover| Node {
            feature: 0,
            threshold: 0.0,
            split_bin: 0,
            left: 0,
            right: 0,
            value,
            cover,
            gain: 0.0,
        };
        let tree = Tree {
            nodes: vec![
                Node {
                    feature: 0,
                    threshold: 0.5,
                    split_bin: 0,
                    left: 1,
                    right: 2,
                    value: 0.0,
                    cover: 4.0,
                    gain: 1.0,
                },
                leaf(1.0, 3.0),
                leaf(5.0, 1.0),
            ],
        };
        let mut phi = vec![0.0; 2];
        tree_shap(&tree, &[0.9, 0.0], &mut phi);
        assert_eq!(phi, vec![3.0, 0.0]);
        assert_eq!(tree.expected_value(), 2.0);
    }
}
