//! dbt Cloud API v2 client: types, HTTP policy (timeouts, retries, rate limits), run waiting.
