//! One regression tree grown on gradient/hessian histograms (second-order, like
//! XGBoost/LightGBM). With `g = -w·y`, `h = w` and no regularisation it is a CART
//! classification tree (variance reduction = Gini for 0/1 labels, leaf = weighted share
//! of positives), which the random forest uses.

use serde::{Deserialize, Serialize};

use super::binning::{BinMapper, Binned, MAX_BINS};
use super::rng::SplitMix64;

/// A node. Leaves have `left == 0` (node 0 is the root, never a child).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Split feature (internal nodes).
    pub feature: u32,
    /// Rows with `x[feature] <= threshold` go left.
    pub threshold: f64,
    /// The same split as a bin index of the training binning.
    pub split_bin: u8,
    /// Left child index, 0 for a leaf.
    pub left: u32,
    /// Right child index.
    pub right: u32,
    /// Leaf output (already scaled by the learning rate for boosting).
    pub value: f64,
    /// Training hessian (sample weight for the forest) that reached the node: TreeSHAP's
    /// "cover".
    pub cover: f64,
    /// Loss reduction of the split (0 for leaves): feature importance.
    pub gain: f64,
}

impl Node {
    /// Whether the node is a leaf.
    pub fn is_leaf(&self) -> bool {
        self.left == 0
    }
}

/// A fitted tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// Nodes, root first.
    pub nodes: Vec<Node>,
}

impl Tree {
    /// Output for one row of raw features.
    pub fn predict_row(&self, row: &[f64]) -> f64 {
        let mut i = 0usize;
        loop {
            let n = &self.nodes[i];
            if n.is_leaf() {
                return n.value;
            }
            i = if row[n.feature as usize] <= n.threshold {
                n.left as usize
            } else {
                n.right as usize
            };
        }
    }

    pub(crate) fn predict_view(&self, row: &ndarray::ArrayView1<f64>) -> f64 {
        let mut i = 0usize;
        loop {
            let n = &self.nodes[i];
            if n.is_leaf() {
                return n.value;
            }
            i = if row[n.feature as usize] <= n.threshold {
                n.left as usize
            } else {
                n.right as usize
            };
        }
    }

    pub(crate) fn predict_binned(&self, binned: &Binned, row: usize) -> f64 {
        let mut i = 0usize;
        loop {
            let n = &self.nodes[i];
            if n.is_leaf() {
                return n.value;
            }
            let b = binned.column(n.feature as usize)[row];
            i = if b <= n.split_bin {
                n.left as usize
            } else {
                n.right as usize
            };
        }
    }

    /// Cover-weighted mean output: the expected value TreeSHAP attributes from.
    pub fn expected_value(&self) -> f64 {
        let root = self.nodes[0].cover;
        if root <= 0.0 {
            return 0.0;
        }
        self.nodes
            .iter()
            .filter(|n| n.is_leaf())
            .map(|n| n.value * n.cover)
            .sum::<f64>()
            / root
    }

    /// Deepest root-to-leaf path length.
    pub fn depth(&self) -> usize {
        fn go(t: &Tree, i: usize) -> usize {
            let n = &t.nodes[i];
            if n.is_leaf() {
                0
            } else {
                1 + go(t, n.left as usize).max(go(t, n.right as usize))
            }
        }
        go(self, 0)
    }
}

/// Growth limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GrowParams {
    pub max_depth: usize,
    pub min_samples_leaf: usize,
    pub min_child_weight: f64,
    pub lambda: f64,
    pub min_gain: f64,
    /// Features tried per split (random subset); `None` = all, with the histogram
    /// subtraction trick.
    pub features_per_split: Option<usize>,
    /// Multiplies leaf values (learning rate).
    pub leaf_scale: f64,
}

#[derive(Clone)]
struct Hist {
    g: Vec<f64>,
    h: Vec<f64>,
    c: Vec<u32>,
}

impl Hist {
    fn zeros(p: usize) -> Self {
        Self {
            g: vec![0.0; p * MAX_BINS],
            h: vec![0.0; p * MAX_BINS],
            c: vec![0; p * MAX_BINS],
        }
    }
}

pub(crate) struct Grower<'a> {
    pub binned: &'a Binned,
    pub mapper: &'a BinMapper,
    pub grad: &'a [f64],
    pub hess: &'a [f64],
    pub params: GrowParams,
    pub rng: SplitMix64,
    nodes: Vec<Node>,
    /// For each training row, the leaf it ended in (rows not grown on: u32::MAX).
    pub leaf_of: Vec<u32>,
}

struct Split {
    feature: usize,
    bin: u8,
    gain: f64,
}

impl<'a> Grower<'a> {
    pub fn new(
        binned: &'a Binned,
        mapper: &'a BinMapper,
        grad: &'a [f64],
        hess: &'a [f64],
        params: GrowParams,
        seed: u64,
    ) -> Self {
        Self {
            binned,
            mapper,
            grad,
            hess,
            params,
            rng: SplitMix64::new(seed),
            nodes: Vec::new(),
            leaf_of: vec![u32::MAX; binned.n_rows],
        }
    }

    /// Grows a tree on `rows` (indices into the binned matrix).
    pub fn grow(mut self, rows: &mut [u32]) -> (Tree, Vec<u32>) {
        let p = self.mapper.thresholds.len();
        let all: Vec<usize> = (0..p).collect();
        let hist = if self.params.features_per_split.is_none() {
            let mut h = Hist::zeros(p);
            self.fill(&mut h, rows, &all);
            Some(h)
        } else {
            None
        };
        self.node(rows, 0, hist);
        (Tree { nodes: self.nodes }, self.leaf_of)
    }

    /// Fills slot `j` of `hist` with feature `features[j]`.
    fn fill(&self, hist: &mut Hist, rows: &[u32], features: &[usize]) {
        for (j, &f) in features.iter().enumerate() {
            let col = self.binned.column(f);
            let off = j * MAX_BINS;
            let (g, h, c) = (
                &mut hist.g[off..off + MAX_BINS],
                &mut hist.h[off..off + MAX_BINS],
                &mut hist.c[off..off + MAX_BINS],
            );
            for &i in rows {
                let i = i as usize;
                let b = col[i] as usize;
                g[b] += self.grad[i];
                h[b] += self.hess[i];
                c[b] += 1;
            }
        }
    }

    fn leaf_value(&self, g: f64, h: f64) -> f64 {
        let denom = h + self.params.lambda;
        if denom <= 0.0 {
            0.0
        } else {
            -g / denom * self.params.leaf_scale
        }
    }

    fn best_split(
        &self,
        hist: &Hist,
        features: &[usize],
        g: f64,
        h: f64,
        n: usize,
    ) -> Option<Split> {
        let GrowParams {
            lambda,
            min_samples_leaf,
            min_child_weight,
            ..
        } = self.params;
        let parent = g * g / (h + lambda);
        let mut best: Option<Split> = None;
        for (j, &f) in features.iter().enumerate() {
            let nb = self.mapper.thresholds[f].len();
            let off = j * MAX_BINS;
            let (mut gl, mut hl, mut cl) = (0.0, 0.0, 0usize);
            for b in 0..nb {
                gl += hist.g[off + b];
                hl += hist.h[off + b];
                cl += hist.c[off + b] as usize;
                let (gr, hr, cr) = (g - gl, h - hl, n - cl);
                if cl < min_samples_leaf || hl < min_child_weight {
                    continue;
                }
                if cr < min_samples_leaf || hr < min_child_weight {
                    break;
                }
                let gain = gl * gl / (hl + lambda) + gr * gr / (hr + lambda) - parent;
                if gain > self.params.min_gain && best.as_ref().is_none_or(|s| gain > s.gain) {
                    best = Some(Split {
                        feature: f,
                        bin: b as u8,
                        gain,
                    });
                }
            }
        }
        best
    }

    fn node(&mut self, rows: &mut [u32], depth: usize, hist: Option<Hist>) -> u32 {
        let id = self.nodes.len() as u32;
        let (g, h) = rows.iter().fold((0.0, 0.0), |(g, h), &i| {
            (g + self.grad[i as usize], h + self.hess[i as usize])
        });
        self.nodes.push(Node {
            feature: 0,
            threshold: 0.0,
            split_bin: 0,
            left: 0,
            right: 0,
            value: self.leaf_value(g, h),
            cover: h,
            gain: 0.0,
        });
        let p = self.mapper.thresholds.len();
        let can_split =
            depth < self.params.max_depth && rows.len() >= 2 * self.params.min_samples_leaf.max(1);
        let split = if can_split {
            match (&hist, self.params.features_per_split) {
                (Some(hist), _) => {
                    let all: Vec<usize> = (0..p).collect();
                    self.best_split(hist, &all, g, h, rows.len())
                }
                (None, k) => {
                    let k = k.unwrap_or(p).clamp(1, p);
                    let features = self.rng.sample_without_replacement(p, k);
                    let mut local = Hist::zeros(features.len());
                    self.fill(&mut local, rows, &features);
                    self.best_split(&local, &features, g, h, rows.len())
                }
            }
        } else {
            None
        };
        let Some(split) = split else {
            for &i in rows.iter() {
                self.leaf_of[i as usize] = id;
            }
            return id;
        };
        // Partition rows: bin <= split.bin first.
        let col = self.binned.column(split.feature);
        let mut mid = 0;
        for k in 0..rows.len() {
            if col[rows[k] as usize] <= split.bin {
                rows.swap(k, mid);
                mid += 1;
            }
        }
        let (left_rows, right_rows) = rows.split_at_mut(mid);
        let (left_hist, right_hist) = match hist {
            Some(mut parent) => {
                // Histogram of the smaller child, the other by subtraction.
                let all: Vec<usize> = (0..p).collect();
                let mut small = Hist::zeros(p);
                let left_is_small = left_rows.len() <= right_rows.len();
                self.fill(
                    &mut small,
                    if left_is_small { left_rows } else { right_rows },
                    &all,
                );
                for k in 0..parent.g.len() {
                    parent.g[k] -= small.g[k];
                    parent.h[k] -= small.h[k];
                    parent.c[k] -= small.c[k];
                }
                if left_is_small {
                    (Some(small), Some(parent))
                } else {
                    (Some(parent), Some(small))
                }
            }
            None => (None, None),
        };
        let left = self.node(left_rows, depth + 1, left_hist);
        let right = self.node(right_rows, depth + 1, right_hist);
        let n = &mut self.nodes[id as usize];
        n.feature = split.feature as u32;
        n.split_bin = split.bin;
        n.threshold = self.mapper.thresholds[split.feature][split.bin as usize];
        n.left = left;
        n.right = right;
        n.gain = split.gain;
        id
    }
}

impl Tree {
    /// Checks a tree read from outside: children after their parent and in range,
    /// features in range, finite values. A tree that passes cannot loop or index out of
    /// bounds when predicting.
    pub fn validate(&self, n_features: usize) -> crate::Result<()> {
        let bad = |reason: String| {
            Err(crate::Error::Model {
                message: format!("invalid tree: {reason}"),
            })
        };
        if self.nodes.is_empty() {
            return bad("no nodes".into());
        }
        for (i, n) in self.nodes.iter().enumerate() {
            if !n.value.is_finite() || !n.cover.is_finite() || n.threshold.is_nan() {
                return bad(format!("node {i} has a non-finite value"));
            }
            if n.is_leaf() {
                continue;
            }
            let (l, r) = (n.left as usize, n.right as usize);
            if l <= i || r <= i || l >= self.nodes.len() || r >= self.nodes.len() {
                return bad(format!(
                    "node {i} has children {l}, {r} out of order or range"
                ));
            }
            if n.feature as usize >= n_features {
                return bad(format!(
                    "node {i} splits on feature {} of {n_features}",
                    n.feature
                ));
            }
        }
        Ok(())
    }
}
