//! Hooks named by mapping.yaml.

pub mod v1;
