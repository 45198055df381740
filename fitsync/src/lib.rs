//! The `fitsync` binary's wiring: which components a target runs. No business logic.

pub mod app;
pub mod backfill;
pub mod cli;
pub mod seed;

pub use app::{start, RunningApp, Target, Targets};
