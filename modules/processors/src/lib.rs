//! Placeholder until the processors land.
