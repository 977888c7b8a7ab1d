"""Drive the Dagster definitions in definitions.py against a dbt Cloud API; used by
tests/dagster_client.rs.

    python driver.py MODE[,MODE...] OUT.json

    specs        the asset specs loaded from the workspace (its manifest)
    materialize  materialize every asset; the materializations and failures Dagster recorded
    sensor       one evaluation of the dbt Cloud polling sensor; the asset events it reported

Writes one JSON object to OUT.json, one key per mode (Dagster's logging owns stdout/stderr).
"""

import json
import sys

import dagster as dg
from dagster_dbt import load_dbt_cloud_asset_specs

import definitions


def key(k):
    return "/".join(k.path)


def specs():
    loaded = load_dbt_cloud_asset_specs(workspace=definitions.workspace)
    return [
        {
            "key": key(s.key),
            "deps": sorted(key(d.asset_key) for d in s.deps),
            "unique_id": s.metadata.get("dagster_dbt/unique_id")
            or s.metadata.get("dagster-dbt/unique_id"),
            "kinds": sorted(s.kinds),
        }
        for s in loaded
    ]


def materialize():
    result = dg.materialize(
        [definitions.my_dbt_cloud_assets],
        resources={"dbt_cloud": definitions.workspace},
        raise_on_error=False,
    )
    materialized = {}
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        materialized[key(mat.asset_key)] = {
            k: (v.value if hasattr(v, "value") else str(v)) for k, v in mat.metadata.items()
        }
    failures = [
        str(e.event_specific_data.error.message)
        for e in result.all_events
        if e.event_type_value == "STEP_FAILURE"
    ]
    checks = [
        {
            "asset": key(e.event_specific_data.asset_key),
            "name": e.event_specific_data.check_name,
            "passed": e.event_specific_data.passed,
        }
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    failed_to_materialize = sorted(
        key(e.event_specific_data.asset_materialization_failure.asset_key)
        for e in result.all_events
        if e.event_type_value == "ASSET_FAILED_TO_MATERIALIZE"
    )
    return {
        "success": result.success,
        "materialized": materialized,
        "failed_to_materialize": failed_to_materialize,
        "step_failures": failures,
        "checks": checks,
    }


def sensor():
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance, definitions=definitions.defs
        )
        result = definitions.dbt_cloud_polling_sensor(context)
    events = [
        {
            "key": key(e.asset_key),
            "metadata": {
                k: (v.value if hasattr(v, "value") else str(v)) for k, v in e.metadata.items()
            },
        }
        for e in result.asset_events
    ]
    return {"asset_events": events, "cursor": context.cursor}


def main():
    modes, out_path = sys.argv[1], sys.argv[2]
    run = {"specs": specs, "materialize": materialize, "sensor": sensor}
    out = {mode: run[mode]() for mode in modes.split(",")}
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f, default=str)


if __name__ == "__main__":
    main()
