//! `builder_setters!`: the builder setters of the engine's request structs and the model
//! configs, one line each instead of a five-line method per field.
//!
//! Each entry is a doc comment and `field: Type;` (sets the field), `field: into Type;`
//! (takes `impl Into<Type>`), `field: Some(Type);` or `field: Some(into Type);` (sets an
//! `Option` field), or `field: [into Type];` (collects any iterable of `Into<Type>`). The setter has the field's name and returns the request, so calls
//! chain: `ActiveUsersRequest::new().range(r).segment("paying")`.
//!
//! ```
//! use churn_core::engine::{ActiveUsersRequest, Period};
//! let r = ActiveUsersRequest::new().period(Period::Week).segment("paying");
//! assert_eq!(r.period, Period::Week);
//! assert!(r.segment.is_some());
//! ```

/// Expands to `impl $ty { pub fn field(mut self, field: T) -> Self { .. } .. }`; see the
/// module documentation for the entry forms.
macro_rules! builder_setters {
    ($ty:ty { $($body:tt)* }) => {
        impl $ty {
            builder_setters!(@each $($body)*);
        }
    };
    (@each) => {};
    (@each $(#[$m:meta])* $name:ident: [into $t:ty]; $($rest:tt)*) => {
        $(#[$m])*
        pub fn $name<I, S>(mut self, $name: I) -> Self
        where
            I: IntoIterator<Item = S>,
            S: Into<$t>,
        {
            self.$name = $name.into_iter().map(Into::into).collect();
            self
        }
        builder_setters!(@each $($rest)*);
    };
    (@each $(#[$m:meta])* $name:ident: Some(into $t:ty); $($rest:tt)*) => {
        $(#[$m])*
        pub fn $name(mut self, $name: impl Into<$t>) -> Self {
            self.$name = Some($name.into());
            self
        }
        builder_setters!(@each $($rest)*);
    };
    (@each $(#[$m:meta])* $name:ident: Some($t:ty); $($rest:tt)*) => {
        $(#[$m])*
        pub fn $name(mut self, $name: $t) -> Self {
            self.$name = Some($name);
            self
        }
        builder_setters!(@each $($rest)*);
    };
    (@each $(#[$m:meta])* $name:ident: into $t:ty; $($rest:tt)*) => {
        $(#[$m])*
        pub fn $name(mut self, $name: impl Into<$t>) -> Self {
            self.$name = $name.into();
            self
        }
        builder_setters!(@each $($rest)*);
    };
    (@each $(#[$m:meta])* $name:ident: $t:ty; $($rest:tt)*) => {
        $(#[$m])*
        pub fn $name(mut self, $name: $t) -> Self {
            self.$name = $name;
            self
        }
        builder_setters!(@each $($rest)*);
    };
}
