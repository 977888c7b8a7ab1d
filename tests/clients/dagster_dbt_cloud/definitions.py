"""A Dagster code location for a dbt Cloud workspace, as dagster-dbt's documentation shows it.

Used by tests/dagster_client.rs (through driver.py) against `datachonk sandbox`. Nothing here
knows it is a sandbox: the workspace comes from the environment, as a deployment would set it.

    DBT_CLOUD_ACCOUNT_ID, DBT_CLOUD_ACCESS_URL, DBT_CLOUD_TOKEN,
    DBT_CLOUD_PROJECT_ID, DBT_CLOUD_ENVIRONMENT_ID
    DBT_CLOUD_ADHOC_JOB_NAME (optional: the job Dagster runs dbt with; default, one it creates)
"""

import os

import dagster as dg
from dagster_dbt import (
    DbtCloudCredentials,
    DbtCloudWorkspace,
    build_dbt_cloud_polling_sensor,
    dbt_cloud_assets,
)

creds = DbtCloudCredentials(
    account_id=int(os.environ["DBT_CLOUD_ACCOUNT_ID"]),
    access_url=os.environ["DBT_CLOUD_ACCESS_URL"],
    token=os.environ["DBT_CLOUD_TOKEN"],
)

workspace = DbtCloudWorkspace(
    credentials=creds,
    project_id=int(os.environ["DBT_CLOUD_PROJECT_ID"]),
    environment_id=int(os.environ["DBT_CLOUD_ENVIRONMENT_ID"]),
    adhoc_job_name=os.environ.get("DBT_CLOUD_ADHOC_JOB_NAME") or None,
)


@dbt_cloud_assets(workspace=workspace)
def my_dbt_cloud_assets(context: dg.AssetExecutionContext, dbt_cloud: DbtCloudWorkspace):
    yield from dbt_cloud.cli(args=["build"], context=context).wait()


dbt_cloud_polling_sensor = build_dbt_cloud_polling_sensor(workspace=workspace)

defs = dg.Definitions(
    assets=[my_dbt_cloud_assets],
    sensors=[dbt_cloud_polling_sensor],
    resources={"dbt_cloud": workspace},
)
