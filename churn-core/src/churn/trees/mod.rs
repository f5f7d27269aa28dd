//! Tree ensembles for churn classification.
