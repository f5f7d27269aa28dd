//! Quantile binning of features into at most 256 bins, so trees split on bin
//! histograms instead of sorted values.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// Most bins per feature (bin indices fit a `u8`).
pub const MAX_BINS: usize = 256;

/// Per-feature split thresholds: a value `v` falls in bin `j` = the number of thresholds
/// strictly below `v`, so "bin <= j" is the same test as "v <= thresholds[j]".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinMapper {
    /// Sorted, strictly increasing thresholds of each feature (at most 255).
    pub thresholds: Vec<Vec<f64>>,
}

/// A binned training matrix, column-major (`data[f * n_rows + i]`).
pub(crate) struct Binned {
    pub n_rows: usize,
    pub data: Vec<u8>,
}

impl Binned {
    pub fn column(&self, f: usize) -> &[u8] {
        &self.data[f * self.n_rows..(f + 1) * self.n_rows]
    }
}

impl BinMapper {
    /// Thresholds from the training matrix (finite values, checked by the caller). A
    /// feature with at most 256 distinct values gets midpoints between them; otherwise
    /// 255 quantiles. A constant feature gets no threshold and is never split on.
    pub fn fit(x: &Array2<f64>) -> Self {
        let thresholds = x
            .columns()
            .into_iter()
            .map(|col| {
                let mut v: Vec<f64> = col.iter().copied().collect();
                v.sort_unstable_by(f64::total_cmp);
                v.dedup();
                if v.len() <= MAX_BINS {
                    v.windows(2).map(|w| w[0] + (w[1] - w[0]) / 2.0).collect()
                } else {
                    let mut t: Vec<f64> =
                        (1..MAX_BINS).map(|j| v[j * v.len() / MAX_BINS]).collect();
                    t.dedup();
                    t
                }
            })
            .collect();
        Self { thresholds }
    }

    /// Bin of value `v` for feature `f`.
    pub fn bin(&self, f: usize, v: f64) -> u8 {
        self.thresholds[f].partition_point(|&t| t < v) as u8
    }

    pub(crate) fn transform(&self, x: &Array2<f64>) -> Binned {
        let (n, p) = x.dim();
        let mut data = vec![0u8; n * p];
        for f in 0..p {
            let out = &mut data[f * n..(f + 1) * n];
            for (o, &v) in out.iter_mut().zip(x.column(f).iter()) {
                *o = self.bin(f, v);
            }
        }
        Binned { n_rows: n, data }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn bins_agree_with_thresholds() {
        let x = array![[1.0, 5.0], [2.0, 5.0], [2.0, 5.0], [10.0, 5.0]];
        let m = BinMapper::fit(&x);
        assert_eq!(m.thresholds[0], vec![1.5, 6.0]);
        assert!(m.thresholds[1].is_empty());
        let b = m.transform(&x);
        assert_eq!(b.column(0), &[0, 1, 1, 2]);
        assert_eq!(b.column(1), &[0, 0, 0, 0]);
        // "bin <= j" iff "v <= thresholds[j]", also for unseen values.
        for v in [-3.0, 1.5, 1.6, 6.0, 6.1, 100.0] {
            for (j, &t) in m.thresholds[0].iter().enumerate() {
                assert_eq!(m.bin(0, v) as usize <= j, v <= t, "v = {v}, j = {j}");
            }
        }
    }

    #[test]
    fn many_values_get_at_most_256_bins() {
        let x = Array2::from_shape_fn((10_000, 1), |(i, _)| (i as f64).sqrt());
        let m = BinMapper::fit(&x);
        assert!(m.thresholds[0].len() < MAX_BINS);
        assert!(m.thresholds[0].windows(2).all(|w| w[0] < w[1]));
        let b = m.transform(&x);
        let max = *b.column(0).iter().max().unwrap() as usize;
        assert_eq!(max, m.thresholds[0].len());
    }
}
