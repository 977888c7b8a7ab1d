"""Drive Prefect's dbt Cloud integration (prefect-dbt), unmodified, against a dbt Cloud API.

Used by tests/prefect_client.rs against `datachonk sandbox --tls`. Prefect 3 runs the flows in
its ephemeral mode (no server to start: PREFECT_HOME is a temp dir). prefect-dbt's client
always speaks `https://{domain}`, through httpx, which trusts the CA in SSL_CERT_FILE.

    python prefect_dbt_cloud.py flows DOMAIN ACCOUNT TOKEN JOB_OK JOB_ERROR JOB_CANCELLED OUT.json
    python prefect_dbt_cloud.py targeted-retries DOMAIN ACCOUNT TOKEN JOB_ERROR OUT.json

Writes one JSON object to OUT.json (Prefect's logging owns stdout/stderr): what each flow
returned, or the class and message of what it raised. The flows are written as prefect-dbt's
documentation shows them.
"""

import json
import sys

from prefect import flow
from prefect_dbt.cloud import DbtCloudCredentials, DbtCloudJob
from prefect_dbt.cloud.jobs import (
    run_dbt_cloud_job,
    trigger_dbt_cloud_job_run_and_wait_for_completion,
)
from prefect_dbt.cloud.runs import get_dbt_cloud_run_artifact


def outcome(call):
    """What a flow returned, or what it raised."""
    try:
        return {"returned": call()}
    except Exception as e:  # noqa: BLE001 - recorded for the caller to judge
        return {"raised": type(e).__name__, "message": str(e)}


def main():
    mode, domain, account, token = sys.argv[1:5]
    credentials = DbtCloudCredentials(api_key=token, account_id=int(account), domain=domain)

    @flow
    def run_dbt_cloud_job_flow(job_id: int, targeted_retries: int):
        dbt_cloud_job = DbtCloudJob(
            dbt_cloud_credentials=credentials, job_id=job_id, interval_seconds=1
        )
        return run_dbt_cloud_job(dbt_cloud_job=dbt_cloud_job, targeted_retries=targeted_retries)

    @flow
    def trigger_and_wait_flow(job_id: int):
        return trigger_dbt_cloud_job_run_and_wait_for_completion(
            dbt_cloud_credentials=credentials,
            job_id=job_id,
            poll_frequency_seconds=1,
            retry_filtered_models_attempts=0,
        )

    @flow
    def get_artifact_flow(run_id: int, path: str):
        return get_dbt_cloud_run_artifact(
            dbt_cloud_credentials=credentials, run_id=run_id, path=path
        )

    out = {}
    if mode == "flows":
        job_ok, job_error, job_cancelled = (int(a) for a in sys.argv[5:8])
        out_path = sys.argv[8]
        out["run_ok"] = outcome(lambda: run_dbt_cloud_job_flow(job_ok, 0))
        out["run_error"] = outcome(lambda: run_dbt_cloud_job_flow(job_error, 0))
        out["wait_ok"] = outcome(lambda: trigger_and_wait_flow(job_ok))
        out["wait_cancelled"] = outcome(lambda: trigger_and_wait_flow(job_cancelled))
        run_id = out["wait_ok"]["returned"]["id"]
        out["run_results"] = outcome(lambda: get_artifact_flow(run_id, "run_results.json"))
        out["manifest"] = outcome(lambda: get_artifact_flow(run_id, "manifest.json"))
    elif mode == "targeted-retries":
        job_error = int(sys.argv[5])
        out_path = sys.argv[6]
        # The documented default: targeted_retries=3.
        out["run_error"] = outcome(lambda: run_dbt_cloud_job_flow(job_error, 3))
    else:
        raise SystemExit(f"unknown mode {mode}")
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
