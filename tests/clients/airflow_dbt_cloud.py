"""Drive Apache Airflow's dbt Cloud provider hook, unmodified, against a dbt Cloud API.

Used by tests/sandbox_airflow.rs against `datachonk sandbox --tls`. The connection comes from
AIRFLOW_CONN_DBT_CLOUD_DEFAULT (login = account id, password = token, host = tenant; the hook
always speaks https) and the CA from REQUESTS_CA_BUNDLE (the deferrable trigger's aiohttp
reads SSL_CERT_FILE), so no Airflow metadata DB is needed.

    python airflow_dbt_cloud.py JOB_OK JOB_ERROR JOB_LONG CAUSE OUT.json
    python airflow_dbt_cloud.py --paginate OUT.json
    python airflow_dbt_cloud.py --flaky JOB OUT.json

Writes one JSON object to OUT.json (Airflow's own logging owns stdout): what each hook call
returned. Any unexpected exception propagates (non-zero exit, traceback on stderr) so the
caller sees where the API diverged.
"""

import asyncio
import json
import sys
import time

from airflow.providers.dbt.cloud.hooks.dbt import (
    DbtCloudHook,
    DbtCloudJobRunException,
    DbtCloudJobRunStatus,
)
from airflow.providers.dbt.cloud.triggers.dbt import DbtCloudRunJobTrigger


def flatten(responses):
    """Paginated hook calls return one response per page."""
    return [item for r in responses for item in r.json()["data"]]


def trigger_events(run_id, hook_params=None):
    """The deferrable operator's path: the triggerer runs this trigger until its first event."""

    async def first():
        trigger = DbtCloudRunJobTrigger(
            conn_id="dbt_cloud_default",
            run_id=run_id,
            end_time=time.time() + 60,
            poll_interval=1,
            account_id=None,
            hook_params=hook_params,
        )
        async for event in trigger.run():
            return event.payload

    return asyncio.run(first())


def paginate(out_path):
    """List jobs and runs of an account with more than one page of each (100 a page)."""
    hook = DbtCloudHook()
    jobs = hook.list_jobs()
    runs = hook.list_job_runs(order_by="id")
    out = {
        "job_pages": len(jobs),
        "job_ids": [j["id"] for j in flatten(jobs)],
        "run_pages": len(runs),
        "run_ids": [r["id"] for r in flatten(runs)],
    }
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f)


def flaky(job, out_path):
    """Against injected 5xx on run reads: one sync status read, then the deferrable trigger,
    both with the hook's retries raised to 3 (the default is one attempt)."""
    retries = {"retry_limit": 3, "retry_delay": 0.1}
    hook = DbtCloudHook(**retries)
    run = hook.trigger_job_run(job, "flaky network").json()["data"]
    out = {"run_id": run["id"]}
    try:
        out["sync_status"] = hook.get_job_run_status(run["id"])
    except Exception as e:  # noqa: BLE001 - recorded for the caller to judge
        out["sync_status"] = str(e)
    out["event"] = trigger_events(run["id"], retries)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f)


def main():
    if sys.argv[1] == "--paginate":
        return paginate(sys.argv[2])
    if sys.argv[1] == "--flaky":
        return flaky(int(sys.argv[2]), sys.argv[3])
    job_ok, job_error, job_long = (int(a) for a in sys.argv[1:4])
    cause, out_path = sys.argv[4], sys.argv[5]
    steps = ["dbt seed", "dbt build --select stg_orders+"]
    hook = DbtCloudHook()
    out = {}

    # test_connection and list_accounts request the tenant's root URL (no /api/ path: the
    # hook passes no endpoint), so they report what that page answers, not the API.
    out["test_connection"] = list(hook.test_connection())
    try:
        out["accounts"] = hook.list_accounts().json()
    except Exception as e:  # noqa: BLE001 - recorded for the caller to judge
        out["accounts"] = {"error": str(e)}
    out["account"] = hook.get_account().json()["data"]
    out["projects"] = flatten(hook.list_projects())
    project = out["projects"][0]
    out["project"] = hook.get_project(project["id"]).json()["data"]
    out["environments"] = flatten(hook.list_environments(project["id"]))
    env = out["environments"][0]
    out["environment"] = hook.get_environment(project["id"], env["id"]).json()["data"]
    out["jobs"] = flatten(hook.list_jobs())
    out["jobs_in_project"] = flatten(hook.list_jobs(project_id=project["id"], order_by="-id"))
    out["job"] = hook.get_job(job_ok).json()["data"]
    out["job_by_name"] = hook.get_job_by_name(
        project_name=project["name"], environment_name=env["name"], job_name=out["job"]["name"]
    )

    # The operator's path: trigger, wait, then read the run and its artifacts.
    run = hook.trigger_job_run(job_ok, cause, steps_override=steps).json()["data"]
    out["triggered"] = run
    out["waited"] = hook.wait_for_job_run_status(run["id"], check_interval=1, timeout=60)
    out["status"] = hook.get_job_run_status(run["id"])
    out["trigger_event"] = trigger_events(run["id"])
    out["run"] = hook.get_job_run(
        run["id"], include_related=["trigger", "job", "run_steps"]
    ).json()["data"]
    out["artifacts"] = hook.list_job_run_artifacts(run["id"]).json()["data"]
    out["manifest"] = hook.get_job_run_artifact(run["id"], "manifest.json").json()
    out["run_results"] = hook.get_job_run_artifact(run["id"], "run_results.json").json()
    # Step 4 is the first dbt command (1-3: clone, profile, deps).
    out["run_results_step4"] = hook.get_job_run_artifact(run["id"], "run_results.json", step=4).json()
    out["runs_of_job"] = flatten(
        hook.list_job_runs(job_definition_id=job_ok, order_by="-id", include_related=["trigger"])
    )

    # A failing run: the hook raises and logs the failed steps.
    # schema_override and additional_run_config (merged into the body as they are).
    failing = hook.trigger_job_run(
        job_error,
        cause,
        schema_override="dbt_cloud_pr_2_7",
        additional_run_config={"threads_override": 2, "target_name_override": "ci"},
    ).json()["data"]
    try:
        hook.wait_for_job_run_status(failing["id"], check_interval=1, timeout=60)
        out["failing_raised"] = None
    except DbtCloudJobRunException as e:
        out["failing_raised"] = str(e)
    out["failing_event"] = trigger_events(failing["id"])
    out["failing_status"] = DbtCloudJobRunStatus(hook.get_job_run_status(failing["id"])).name
    out["failing_run"] = hook.get_job_run(failing["id"], include_related=["run_steps"]).json()["data"]

    # retry_from_failure: the latest run of the job errored, so the hook calls /rerun/.
    out["retried"] = hook.trigger_job_run(job_error, cause, retry_from_failure=True).json()["data"]

    # Cancel, as the operator's on_kill does, then wait for Cancelled.
    # A cause over dbt Cloud's 255 characters: the hook warns and cuts it to exactly 255.
    long_run = hook.trigger_job_run(job_long, (cause + " ") * 20).json()["data"]
    # The operator's reuse_existing_run: adopt the newest in-flight run of the job.
    out["in_flight"] = hook.get_job_runs(
        payload={
            "job_definition_id": job_long,
            "status__in": str(list(DbtCloudJobRunStatus.NON_TERMINAL_STATUSES.value)),
            "order_by": "-created_at",
        }
    ).json()["data"]
    hook.cancel_job_run(long_run["id"])
    out["cancel_waited"] = hook.wait_for_job_run_status(
        long_run["id"],
        expected_statuses=DbtCloudJobRunStatus.CANCELLED.value,
        check_interval=1,
        timeout=60,
    )
    out["cancelled_event"] = trigger_events(long_run["id"])
    out["cancelled_status"] = DbtCloudJobRunStatus(hook.get_job_run_status(long_run["id"])).name
    out["cancelled_id"] = long_run["id"]

    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
