//! The tree ensembles of [`super::trees`] behind the [`ChurnModel`] interface: a
//! feature schema travels with each fitted ensemble, explanations are exact TreeSHAP
//! (probability points for the forest, log-odds for boosting), and NaN / infinite
//! features are an error naming the column.
//!
//! Both default to balanced class weights; their raw scores are then not probabilities
//! of the real prevalence, which is why [`super::TrainedModel`] always fits a
//! calibration on held-out rows (keep `calibration_fraction > 0` for them).

use ndarray::{Array1, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use super::features::FeatureSchema;
use super::logistic::ClassWeight;
use super::model::{
    check_input, check_training_data, ChurnModel, Contribution, ContributionScale, FitChurnModel,
    ModelKind,
};
use super::trees::{
    Explanation as TreeExplanation, GradientBoosting, GradientBoostingConfig, RandomForest,
    RandomForestConfig,
};
use crate::error::{Error, Result};

/// A random forest with its feature schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForestModel {
    /// The columns it was trained on.
    pub schema: FeatureSchema,
    /// The fitted forest.
    pub forest: RandomForest,
}

/// Gradient-boosted trees with their feature schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoostingModel {
    /// The columns it was trained on.
    pub schema: FeatureSchema,
    /// The fitted ensemble.
    pub boosting: GradientBoosting,
}

/// Name the first non-finite value of `x` by column, as the logistic model does.
fn check_finite(x: ArrayView2<'_, f64>, schema: &FeatureSchema) -> Result<()> {
    if let Some(((i, j), v)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
        let name = schema.columns.get(j).map_or("?", |c| c.name.as_str());
        return Err(Error::invalid(
            format!("feature {name} (row {i})"),
            format!("tree models need finite values, got {v}"),
        ));
    }
    Ok(())
}

fn contributions(
    schema: &FeatureSchema,
    row: ArrayView1<'_, f64>,
    e: TreeExplanation,
) -> Vec<Contribution> {
    schema
        .columns
        .iter()
        .zip(row.iter())
        .zip(e.contributions)
        .map(|((c, &v), phi)| Contribution {
            feature: c.name.clone(),
            value: v,
            contribution: phi,
        })
        .collect()
}

fn check_row(row: ArrayView1<'_, f64>, schema: &FeatureSchema) -> Result<Vec<f64>> {
    check_input(row.insert_axis(ndarray::Axis(0)), schema)?;
    check_finite(row.insert_axis(ndarray::Axis(0)), schema)?;
    Ok(row.to_vec())
}

impl ForestModel {
    /// Check a loaded model's internal consistency.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.forest.n_features != self.schema.len() {
            return Err(Error::model(format!(
                "random forest has {} features, its schema {}",
                self.forest.n_features,
                self.schema.len()
            )));
        }
        for t in &self.forest.trees {
            t.validate(self.forest.n_features)?;
        }
        Ok(())
    }

    /// Share of the total split gain per feature, in schema order.
    pub fn feature_importances(&self) -> Vec<f64> {
        self.forest.feature_importances()
    }
}

impl BoostingModel {
    /// Check a loaded model's internal consistency.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.boosting.n_features != self.schema.len() || !self.boosting.base_score.is_finite() {
            return Err(Error::model(
                "gradient boosting model does not match its schema or has a bad base score",
            ));
        }
        for t in &self.boosting.trees {
            t.validate(self.boosting.n_features)?;
        }
        Ok(())
    }

    /// Share of the total split gain per feature, in schema order.
    pub fn feature_importances(&self) -> Vec<f64> {
        self.boosting.feature_importances()
    }
}

/// Default forest settings for churn: 100 trees, depth 10, balanced class weights.
fn default_forest_config() -> RandomForestConfig {
    RandomForestConfig::default()
        .max_depth(10)
        .min_samples_leaf(5)
        .class_weight(ClassWeight::Balanced)
}

/// Default boosting settings for churn: 200 trees of depth 4 at rate 0.05, balanced.
fn default_boosting_config() -> GradientBoostingConfig {
    GradientBoostingConfig::default()
        .n_trees(200)
        .learning_rate(0.05)
        .max_depth(4)
        .min_samples_leaf(10)
        .class_weight(ClassWeight::Balanced)
}

/// Settings wrapper so `Default` gives the churn defaults above.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ForestParams(pub RandomForestConfig);

impl Default for ForestParams {
    fn default() -> Self {
        ForestParams(default_forest_config())
    }
}

/// Settings wrapper so `Default` gives the churn defaults above.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoostingParams(pub GradientBoostingConfig);

impl Default for BoostingParams {
    fn default() -> Self {
        BoostingParams(default_boosting_config())
    }
}

impl FitChurnModel for ForestModel {
    type Params = ForestParams;
    fn fit(
        x: ArrayView2<'_, f64>,
        y: &[bool],
        schema: &FeatureSchema,
        params: &ForestParams,
    ) -> Result<Self> {
        check_training_data(x, y, schema)?;
        check_finite(x, schema)?;
        let forest = RandomForest::fit(&x.to_owned(), y, None, &params.0)?;
        Ok(ForestModel {
            schema: schema.clone(),
            forest,
        })
    }
}

impl FitChurnModel for BoostingModel {
    type Params = BoostingParams;
    fn fit(
        x: ArrayView2<'_, f64>,
        y: &[bool],
        schema: &FeatureSchema,
        params: &BoostingParams,
    ) -> Result<Self> {
        check_training_data(x, y, schema)?;
        check_finite(x, schema)?;
        let boosting = GradientBoosting::fit(&x.to_owned(), y, None, &params.0)?;
        Ok(BoostingModel {
            schema: schema.clone(),
            boosting,
        })
    }
}

impl ChurnModel for ForestModel {
    fn kind(&self) -> ModelKind {
        ModelKind::RandomForest
    }
    fn schema(&self) -> &FeatureSchema {
        &self.schema
    }
    fn predict_proba(&self, x: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
        check_input(x, &self.schema)?;
        check_finite(x, &self.schema)?;
        Ok(Array1::from(self.forest.predict_proba(&x.to_owned())?))
    }
    /// Exact TreeSHAP in probability points; the contributions plus the forest's mean
    /// training output sum to the raw probability.
    fn explain(&self, row: ArrayView1<'_, f64>) -> Result<Vec<Contribution>> {
        let r = check_row(row, &self.schema)?;
        Ok(contributions(&self.schema, row, self.forest.explain(&r)?))
    }
    fn contribution_scale(&self) -> ContributionScale {
        ContributionScale::Probability
    }
}

impl ChurnModel for BoostingModel {
    fn kind(&self) -> ModelKind {
        ModelKind::GradientBoosting
    }
    fn schema(&self) -> &FeatureSchema {
        &self.schema
    }
    fn predict_proba(&self, x: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
        check_input(x, &self.schema)?;
        check_finite(x, &self.schema)?;
        Ok(Array1::from(self.boosting.predict_proba(&x.to_owned())?))
    }
    /// Exact TreeSHAP in log-odds; the contributions plus the expected raw score sum to
    /// the raw model's log-odds.
    fn explain(&self, row: ArrayView1<'_, f64>) -> Result<Vec<Contribution>> {
        let r = check_row(row, &self.schema)?;
        Ok(contributions(&self.schema, row, self.boosting.explain(&r)?))
    }
    fn contribution_scale(&self) -> ContributionScale {
        ContributionScale::Logit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::churn::{FeatureConfig, FeatureSchema};
    use ndarray::Array2;

    fn data() -> (Array2<f64>, Vec<bool>, FeatureSchema) {
        let schema = FeatureSchema::for_config(&FeatureConfig::default());
        let p = schema.len();
        let x = Array2::from_shape_fn((400, p), |(i, j)| ((i * (j + 3)) % 29) as f64);
        // Churn when recency (column 0) is high.
        let y = (0..400).map(|i| x[[i, 0]] > 20.0).collect();
        (x, y, schema)
    }

    #[test]
    fn trees_fit_predict_and_explain_additively() {
        let (x, y, schema) = data();
        let f = ForestModel::fit(x.view(), &y, &schema, &ForestParams::default()).unwrap();
        let g = BoostingModel::fit(x.view(), &y, &schema, &BoostingParams::default()).unwrap();
        for m in [&f as &dyn ChurnModel, &g] {
            let p = m.predict_proba(x.view()).unwrap();
            let auc = crate::churn::roc_auc(&y, p.as_slice().unwrap()).unwrap();
            assert!(auc > 0.95, "{:?} auc {auc}", m.kind());
            let c = m.explain(x.row(7)).unwrap();
            assert_eq!(c.len(), schema.len());
            // The strongest push comes from the one informative feature.
            let top = c
                .iter()
                .max_by(|a, b| a.contribution.abs().total_cmp(&b.contribution.abs()))
                .unwrap();
            assert_eq!(top.feature, "recency_days");
        }
        // Forest contributions are additive in probability space.
        let e = f.forest.explain(&x.row(3).to_vec()).unwrap();
        let p = f.predict_proba(x.slice(ndarray::s![3..4, ..])).unwrap()[0];
        assert!((e.base_value + e.contributions.iter().sum::<f64>() - p).abs() < 1e-9);
        f.validate().unwrap();
        g.validate().unwrap();
    }

    #[test]
    fn bad_input_is_an_error() {
        let (mut x, y, schema) = data();
        let f = ForestModel::fit(x.view(), &y, &schema, &ForestParams::default()).unwrap();
        assert!(f.predict_proba(x.slice(ndarray::s![.., 1..])).is_err());
        x[[5, 2]] = f64::NAN;
        let e = f.predict_proba(x.view()).unwrap_err();
        assert!(e.to_string().contains("frequency"), "{e}");
        assert!(BoostingModel::fit(x.view(), &y, &schema, &BoostingParams::default()).is_err());
        let one_class = vec![true; y.len()];
        let (x, _, _) = data();
        assert!(ForestModel::fit(x.view(), &one_class, &schema, &ForestParams::default()).is_err());
    }
}
