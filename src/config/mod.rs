//! `datachonk.yaml`: schema, loading, environment overlay, validation and precedence.
