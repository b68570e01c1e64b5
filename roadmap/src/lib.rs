//! Hooks named by mapping.yaml.
