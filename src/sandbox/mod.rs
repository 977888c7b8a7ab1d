//! A local dbt Cloud v2-compatible server and its run executors.
