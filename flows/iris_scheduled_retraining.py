"""``iris-scheduled-retraining``: retrain on the latest data on a schedule and promote the new
model to the live endpoint only if it is at least as good as the live one.

land the latest data -> retrain -> create the model -> score the new model and the live one (two
batch transforms of the held-out rows, run concurrently) -> if not worse: deploy the new model to
the live endpoint (UpdateEndpoint: the old model serves until the new one is InService, so there
is no downtime); the first run creates the endpoint. A markdown artifact records the decision.

Both models are scored by a batch transform of the blog's 29 held-out rows; the promotion rule
and the held-out rows are the shared ``smflow.examples.retraining`` logic (the Airflow DAG of the
same name uses it too).

As a script, the flow is served as a deployment on a cron schedule (``flow.serve``), on smflow's
local runtime (started if it is not running)::

    python flows/iris_scheduled_retraining.py                      # serve: Mondays 03:00
    python flows/iris_scheduled_retraining.py --cron "*/10 * * * *"
    python flows/iris_scheduled_retraining.py --once               # one run now, no serving

Serving needs a Prefect API that schedules runs: ``prefect server start`` (or Prefect Cloud) with
``PREFECT_API_URL`` set; ``--once`` works with Prefect's ephemeral API.
"""

# No `from __future__ import annotations` here: Prefect validates the parameters of a deployment
# run against the flow's annotations, which must then be real types, not strings.

import argparse
import os
import sys
import tempfile
from pathlib import Path


if __name__ == "__main__":  # an offline example run: no telemetry ("Failed to send telemetry" errors)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")

from prefect import flow, task
from prefect_aws import AwsCredentials

from smflow_prefect import batch_transform, create_model, deploy_model, retry_transient_only, train_model

DEFAULT_CRON = "0 3 * * 1"  # Mondays 03:00, as the DAG's @weekly
HOLDOUT_FILE = "holdout.csv"


@task
def land_latest_data(prefix: str, bucket: str | None, aws_credentials: AwsCredentials | None) -> dict:
    """Stand-in for the upstream system: this run's training data and the held-out rows, on S3."""
    from smflow.examples import iris, retraining
    from smflow_prefect.clients import sagemaker_client

    client = sagemaker_client(aws_credentials, default_bucket=bucket)
    with tempfile.TemporaryDirectory(prefix="smflow-iris-") as scratch:
        train = client.upload_data(iris.write_training_csv(Path(scratch) / "iris.csv").parent,
                                   key_prefix=f"{prefix}/data")
    holdout, labels = retraining.upload_holdout(client, key_prefix=f"{prefix}/holdout")
    print(f"Latest training data at {train}; held-out rows at {holdout}")
    return {"train": train, "holdout": holdout, "labels": labels}


@task
def find_live_model(endpoint_name: str, aws_credentials: AwsCredentials | None) -> str | None:
    """The model behind the live endpoint; None when there is no endpoint yet."""
    from smflow.examples import retraining
    from smflow_prefect.clients import sagemaker_client

    return retraining.live_model_name(sagemaker_client(aws_credentials), endpoint_name)


@task
def accuracy_of(job: dict, labels: list[float], aws_credentials: AwsCredentials | None) -> float:
    """Accuracy of a scoring job's output (one prediction per held-out row) against the labels."""
    from smflow.examples import iris
    from smflow_prefect.clients import sagemaker_client

    uri = f"{job['OutputPath'].rstrip('/')}/{HOLDOUT_FILE}.out"
    bucket, _, key = uri[len("s3://"):].partition("/")
    lines = sagemaker_client(aws_credentials).s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().split()
    if len(lines) != len(labels):
        raise ValueError(f"{uri} has {len(lines)} predictions for {len(labels)} held-out rows")
    return iris.accuracy([float(line) for line in lines], labels)


@task
def record_decision(scores: dict) -> None:
    from prefect.artifacts import create_markdown_artifact

    live = "none (first run)" if scores["live_accuracy"] is None else f"{scores['live_accuracy']:.3f}"
    create_markdown_artifact(
        key="iris-retraining-decision",
        description="New model vs live model on the held-out rows",
        markdown="\n".join([
            "# Iris retraining",
            "",
            "| model | name | accuracy |",
            "|---|---|---|",
            f"| new | `{scores['new_model']}` | {scores['new_accuracy']:.3f} |",
            f"| live | `{scores['live_model'] or '-'}` | {live} |",
            "",
            f"**{'Promoted' if scores['promote'] else 'Not promoted'}** to endpoint `{scores['endpoint_name']}`.",
        ]),
    )


def _run_prefix() -> str:
    from prefect.runtime import flow_run

    from smflow.naming import sanitize

    start = flow_run.get_scheduled_start_time()
    return f"prefect-iris-retraining/{start.strftime('%Y%m%dT%H%M%S')}-{sanitize(str(flow_run.get_id()))[:8]}"


@flow(name="iris-scheduled-retraining", log_prints=True)
def iris_scheduled_retraining(
    endpoint_name: str = "iris-live",
    aws_credentials: AwsCredentials | None = None,
    bucket: str | None = None,
    max_leaf_nodes: int = 30,
    role: str | None = None,
) -> dict:
    """Retrain the Iris model and update the live endpoint if the new model is not worse.

    Returns: ``{"endpoint_name", "new_model", "new_accuracy", "live_model", "live_accuracy",
        "promote"}`` (accuracies on the blog's 29 held-out rows; ``live_*`` None on the first run).
    """
    from smflow.examples import iris, retraining

    credentials = {"aws_credentials": aws_credentials}
    data = land_latest_data(_run_prefix(), bucket, aws_credentials)
    # Retried on transient errors only: a job that ended Failed (the script's error) is not
    # retried into a second paid job; a lost API call is, and the retry attaches to the job.
    job = train_model.with_options(retries=1, retry_condition_fn=retry_transient_only)(
        entry_point=str(iris.TRAINING_SCRIPT), hyperparameters={"max_leaf_nodes": max_leaf_nodes},
        inputs=data["train"], base_job_name="iris-retrain", role=role, default_bucket=bucket,
        artifact_key="iris-retraining-job", **credentials,
    )
    model = create_model(training_job_name=job["TrainingJobName"], role=role, default_bucket=bucket, **credentials)
    live_model = find_live_model(endpoint_name, aws_credentials)

    # Both models are scored the same way, at the same time (two batch transform jobs).
    score = batch_transform.with_options(retries=1, retry_condition_fn=retry_transient_only)
    scoring = {"data": data["holdout"], "content_type": "text/csv", "accept": "text/csv", "split_type": "Line"}
    new_job = score.submit(model_name=model["ModelName"], base_job_name="iris-score-new", **scoring, **credentials)
    live_job = None
    if live_model is not None:
        live_job = score.submit(model_name=live_model, base_job_name="iris-score-live", **scoring, **credentials)
    new_accuracy = accuracy_of(new_job, data["labels"], aws_credentials)
    live_accuracy = accuracy_of(live_job, data["labels"], aws_credentials) if live_job is not None else None
    promote = retraining.should_promote(new_accuracy, live_accuracy)
    print(f"New model {model['ModelName']}: accuracy {new_accuracy:.3f}; live model {live_model}: "
          f"{'none' if live_accuracy is None else f'{live_accuracy:.3f}'}; promote: {promote}")
    if promote:
        deploy_model(model["ModelName"], endpoint_name=endpoint_name, **credentials)
    scores = {"endpoint_name": endpoint_name, "new_model": model["ModelName"], "new_accuracy": new_accuracy,
              "live_model": live_model, "live_accuracy": live_accuracy, "promote": promote}
    record_decision(scores)
    return scores


def main(argv: list[str] | None = None) -> int:
    """Serve the flow on a cron schedule (or run it once) against the local runtime."""
    from smflow_prefect.local import local_runtime_credentials

    parser = argparse.ArgumentParser(description="Serve (or run once) the Iris retraining flow on the local runtime.")
    parser.add_argument("--cron", default=DEFAULT_CRON, help=f"schedule (default {DEFAULT_CRON!r})")
    parser.add_argument("--once", action="store_true", help="run the flow once now instead of serving it")
    parser.add_argument("--endpoint-name", default="iris-live")
    parser.add_argument("--endpoint-url", help="a runtime already running (default: start the local one)")
    parser.add_argument("--port", type=int, help="port of the local runtime to start (default 9510)")
    parser.add_argument("--state-dir", help="state directory of the local runtime (default ~/.smflow/state)")
    args = parser.parse_args(argv)

    from prefect.settings import PREFECT_API_URL

    if not args.once and not PREFECT_API_URL.value():
        print("Serving needs a Prefect API that schedules runs, and the ephemeral one does not: run "
              "`prefect server start` and `export PREFECT_API_URL=http://127.0.0.1:4200/api` (or use "
              "Prefect Cloud), or pass --once to run the flow once now.", file=sys.stderr)
        return 2
    credentials = local_runtime_credentials(args.endpoint_url, port=args.port, state_dir=args.state_dir)
    if args.once:
        state = iris_scheduled_retraining(endpoint_name=args.endpoint_name, aws_credentials=credentials,
                                          return_state=True)
        if not state.is_completed():
            print(f"iris-scheduled-retraining failed: {state.message}", file=sys.stderr)
            return 1
        print(state.result())
        return 0
    # The served runs execute in child processes: boto3's chain there finds the runtime here.
    os.environ.update({
        "AWS_ENDPOINT_URL": credentials.aws_client_parameters.endpoint_url,
        "AWS_ACCESS_KEY_ID": credentials.aws_access_key_id,
        "AWS_SECRET_ACCESS_KEY": credentials.aws_secret_access_key.get_secret_value(),
        "AWS_DEFAULT_REGION": credentials.region_name,
    })
    iris_scheduled_retraining.serve(
        name="iris-scheduled-retraining", cron=args.cron, parameters={"endpoint_name": args.endpoint_name},
        global_limit=1,  # two runs must not update the same endpoint at once
        tags=["smflow", "sagemaker", "iris"],
        description="Retrain the Iris model and update the live endpoint if it is not worse",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
