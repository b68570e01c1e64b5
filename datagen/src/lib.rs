//! Seeded v1 data.
