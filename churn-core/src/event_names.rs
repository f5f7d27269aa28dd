//! Which event names mean what (purchases, tickets, emails, subscriptions, ...) and
//! where amounts and plans are read: one vocabulary shared by the engine's user profiles
//! and the churn features (re-exported as `churn::FeatureConfig`). Always compiled, so the
//! browser build (no `churn` feature) has it too.

use serde::{Deserialize, Serialize};

/// Which events mean what, and where amounts and plans are read. Defaults follow
/// DEFINITIONS (revenue from `purchase` / `payment_completed`; `email_sent` and other
/// system events are not activity).
///
/// ```
/// use churn_core::event_names::FeatureConfig;
/// let cfg = FeatureConfig::default().purchase_events(["order"]).plans(["free", "pro"]);
/// assert_eq!(cfg.purchase_events, vec!["order"]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct FeatureConfig {
    /// Purchases (frequency, monetary, gaps).
    pub purchase_events: Vec<String>,
    /// Support ticket opened.
    pub ticket_opened_events: Vec<String>,
    /// Support ticket resolved.
    pub ticket_resolved_events: Vec<String>,
    /// Email opened.
    pub email_opened_events: Vec<String>,
    /// Email sent.
    pub email_sent_events: Vec<String>,
    /// Notification clicked.
    pub notification_clicked_events: Vec<String>,
    /// Notification sent.
    pub notification_sent_events: Vec<String>,
    /// Subscription started, renewed or changed (billing becomes active).
    pub subscription_active_events: Vec<String>,
    /// Subscription cancelled (also a churn label in the horizon).
    pub subscription_cancelled_events: Vec<String>,
    /// Payment failed (billing becomes past due).
    pub payment_failed_events: Vec<String>,
    /// Cancellation attempts (cancel flow started but not finished).
    pub cancellation_attempt_events: Vec<String>,
    /// Onboarding completed.
    pub onboarding_events: Vec<String>,
    /// Events that are not activity (not counted in recency, engagement or labels).
    pub passive_events: Vec<String>,
    /// Property holding the amount, for store events.
    pub amount_property: String,
    /// Property holding the plan name, for store events.
    pub plan_property: String,
    /// User trait holding the plan, used when no event gave one. Traits are a current
    /// snapshot, not as of T: leave `None` (the default) for leak-free backtests.
    pub plan_trait: Option<String>,
    /// Plan vocabulary for the one-hot columns. Empty: every plan the table holds,
    /// sorted (the trained model stores the resolved list, so scoring matches).
    pub plans: Vec<String>,
}

fn strings<const N: usize>(a: [&str; N]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            purchase_events: strings(["purchase", "payment_completed"]),
            ticket_opened_events: strings(["ticket_opened"]),
            ticket_resolved_events: strings(["ticket_resolved"]),
            email_opened_events: strings(["email_opened"]),
            email_sent_events: strings(["email_sent"]),
            notification_clicked_events: strings(["notification_clicked"]),
            notification_sent_events: strings(["notification_sent"]),
            subscription_active_events: strings([
                "subscription_started",
                "subscription_renewed",
                "subscription_upgraded",
                "subscription_downgraded",
                "subscription_reactivated",
            ]),
            subscription_cancelled_events: strings([
                "subscription_cancelled",
                "subscription_canceled",
            ]),
            payment_failed_events: strings(["payment_failed"]),
            cancellation_attempt_events: strings(["cancellation_attempt"]),
            onboarding_events: strings(["onboarding_completed"]),
            passive_events: strings([
                "email_sent",
                "notification_sent",
                "payment_failed",
                "subscription_renewed",
            ]),
            amount_property: "amount".into(),
            plan_property: "plan".into(),
            plan_trait: None,
            plans: Vec::new(),
        }
    }
}

impl FeatureConfig {
    /// Set the purchase event names.
    pub fn purchase_events<I: IntoIterator<Item = S>, S: Into<String>>(mut self, n: I) -> Self {
        self.purchase_events = n.into_iter().map(Into::into).collect();
        self
    }

    /// Set the passive (non-activity) event names.
    pub fn passive_events<I: IntoIterator<Item = S>, S: Into<String>>(mut self, n: I) -> Self {
        self.passive_events = n.into_iter().map(Into::into).collect();
        self
    }

    /// Set the plan vocabulary.
    pub fn plans<I: IntoIterator<Item = S>, S: Into<String>>(mut self, n: I) -> Self {
        self.plans = n.into_iter().map(Into::into).collect();
        self
    }

    /// Read the plan from this user trait when no event gives one (see the field docs).
    pub fn plan_trait(mut self, key: impl Into<String>) -> Self {
        self.plan_trait = Some(key.into());
        self
    }
}
