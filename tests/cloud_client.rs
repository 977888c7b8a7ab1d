//! The client library against a real sandbox: every endpoint method, including those no
//! command uses yet (environments, job artifacts, rerun, retry preview).

mod support;

use datachonk::cloud::types::RunStatus;
use datachonk::cloud::{trigger_run, Client, ClientOptions, RunQuery, TriggerRequest};
use secrecy::SecretString;
use support::*;

fn client(sb: &datachonk::sandbox::RunningSandbox) -> Client {
    Client::new(
        &sb.base_url(),
        1,
        &SecretString::from(TOKEN.to_string()),
        "test",
        ClientOptions::default(),
    )
    .unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn finish(c: &Client, run_id: i64) -> datachonk::cloud::Run {
    for _ in 0..200 {
        let run = c.get_run(run_id, &["run_steps"]).await.unwrap();
        if run.run_status().is_terminal() {
            return run;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("run {run_id} did not finish");
}

#[test]
fn every_endpoint_method_works_against_the_sandbox() {
    let sb = sandbox(&[]);
    let c = client(&sb);
    rt().block_on(async {
        assert_eq!(
            c.get_account().await.unwrap().name.as_deref(),
            Some("Test Analytics")
        );
        assert_eq!(c.list_projects().await.unwrap().len(), 1);
        let envs = c.list_environments(Some(1)).await.unwrap();
        assert_eq!(envs[0].name.as_deref(), Some("Production"));
        assert_eq!(c.list_jobs(Some(1), Some(1)).await.unwrap().len(), 4);
        let job = c.get_job(2).await.unwrap();
        assert_eq!(
            job.execute_steps.as_deref(),
            Some(&["dbt build".to_string()][..])
        );

        // A failed run: artifacts, retry preview, retry, and rerun of the job.
        let request = TriggerRequest {
            cause: "client test".into(),
            git_sha: Some("abc123".into()),
            ..Default::default()
        };
        let t = trigger_run(&c, 2, &request).await.unwrap();
        assert!(!t.adopted);
        assert_eq!(t.posts, 1);
        let failed = finish(&c, t.run.id).await;
        assert_eq!(failed.run_status(), RunStatus::Error);
        let steps = failed.steps();
        assert!(steps.iter().any(|s| s.run_status() == RunStatus::Error));

        let paths = c.list_artifacts(failed.id, None).await.unwrap();
        assert!(paths.iter().any(|p| p == "run_results.json"), "{paths:?}");
        let manifest = c
            .get_artifact(failed.id, "manifest.json", None)
            .await
            .unwrap();
        let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
        assert!(manifest["nodes"]
            .as_object()
            .unwrap()
            .contains_key("model.analytics.stg_orders"));

        let preview = c.retry_preview(failed.id).await.unwrap();
        assert!(preview.failed_step.is_some());
        let retried = c.retry_run(failed.id).await.unwrap();
        assert_ne!(retried.id, failed.id);
        let rerun = finish(&c, retried.id).await;
        assert!(rerun.run_status().is_terminal());
        let again = c.rerun_job(2).await.unwrap();
        assert!(again.id > retried.id);

        // A successful run of job 1: the job's latest artifact comes from it.
        let ok = trigger_run(
            &c,
            1,
            &TriggerRequest {
                cause: "ok".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let ok = finish(&c, ok.run.id).await;
        assert_eq!(ok.run_status(), RunStatus::Success);
        let latest = c.get_job_artifact(1, "run_results.json").await.unwrap();
        assert!(
            serde_json::from_slice::<serde_json::Value>(&latest).unwrap()["results"].is_array()
        );

        // Listing: newest first, filtered by job and status.
        let runs = c
            .list_runs(&RunQuery {
                job_id: Some(2),
                status_in: vec![RunStatus::Error],
                limit: 50,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(runs
            .iter()
            .all(|r| r.job() == Some(2) && r.run_status() == RunStatus::Error));
        assert!(runs.windows(2).all(|w| w[0].id > w[1].id), "newest first");

        let cancelled = c.cancel_run(ok.id).await.unwrap();
        assert_eq!(
            cancelled.run_status(),
            RunStatus::Success,
            "cancelling a finished run leaves it"
        );
    });
    // Every request used Bearer auth and the trailing slash.
    for r in sb.requests() {
        assert_eq!(r.auth_scheme.as_deref(), Some("Bearer"), "{r:?}");
        assert!(
            r.path.ends_with('/') || r.path.contains("/artifacts/"),
            "{r:?}"
        );
    }
}

#[test]
fn debug_output_of_the_client_never_shows_the_token() {
    let sb = sandbox(&[]);
    let c = client(&sb);
    let shown = format!("{c:?}");
    assert!(!shown.contains(TOKEN), "{shown}");
}
