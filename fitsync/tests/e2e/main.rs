//! Black-box tests of the whole platform against real PostgreSQL, Kafka and OpenSearch
//! (started by `scripts/stack.sh`). Each test gets fresh databases, its own topic prefix
//! and index prefix, and an app on port 0.

mod harness;
mod matrix;
mod metrics;

mod abuse;
mod access;
mod adherence;
mod alert_jobs;
mod alerts;
mod api;
mod auth;
mod backfill;
mod body;
mod bookings;
mod business;
mod channels;
mod charts;
mod contract;
mod crash;
mod dashboards;
mod dead_letter;
mod delivery;
mod diets;
mod email;
mod export;
mod killed_channels;
mod missed;
mod outage;
mod pipeline;
mod pool;
mod programs;
mod properties;
mod relay;
mod reminders;
mod revocations;
mod runtime;
mod schedule;
mod session;
mod targets;
mod training;
mod workouts;
