"""What the tasks show in Prefect's UI: the content of their artifacts.

* :func:`training_job_markdown`: a markdown summary of a training job (status, secondary status
  transitions with durations, hyperparameters, model location; FailureReason when it failed),
  from a DescribeTrainingJob payload.
* :func:`predictions_table`: rows of inputs and predictions for a table artifact.
* :func:`s3_browser_link`: where to look at an S3 prefix: the S3 console on AWS, the local
  console's S3 page with a custom endpoint (the smflow local runtime).
* :func:`console_link`: the page of a training job, transform job, model or endpoint: the
  SageMaker console on AWS, the local console with a custom endpoint
  (``<endpoint_url>/console/training-jobs/<name>``, see ``smflow.local.console``).

The tasks create the artifacts with ``prefect.artifacts.create_*_artifact`` (``acreate_*`` in the
async twins). Artifact keys are the caller's (lowercase letters, digits and dashes); without a
key an artifact is still attached to its task run and flow run.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from smflow import consoles

MAX_TABLE_ROWS = 500  # rows shown in a predictions table artifact; the task returns all of them


def _cell(value: Any) -> str:
    text = value.isoformat(timespec="seconds") if isinstance(value, datetime) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _seconds(start: Any, end: Any) -> str:
    if isinstance(start, datetime) and isinstance(end, datetime):
        return f"{(end - start).total_seconds():.1f} s"
    return ""


def training_job_markdown(description: dict, console_url: str | None = None) -> str:
    """A markdown page about one training job (DescribeTrainingJob payload, SageMaker API
    reference). Times are ISO 8601, durations in seconds; ``console_url`` (see
    :func:`console_link`) is linked under the title."""
    from smflow.summaries import training_job_summary

    summary = training_job_summary(description)
    resources = description.get("ResourceConfig") or {}
    rows = [
        ("Status", f"{summary['TrainingJobStatus']} ({summary['SecondaryStatus']})"),
        ("Started", summary["TrainingStartTime"] or ""),
        ("Ended", summary["TrainingEndTime"] or ""),
        ("Training time", f"{summary['TrainingTimeInSeconds']} s" if summary["TrainingTimeInSeconds"] is not None else ""),
        ("Billable time", f"{summary['BillableTimeInSeconds']} s" if summary["BillableTimeInSeconds"] is not None else ""),
        ("Model artifacts", f"`{summary['ModelDataUrl']}`" if summary["ModelDataUrl"] else ""),
        ("Image", (description.get("AlgorithmSpecification") or {}).get("TrainingImage", "")),
        ("Instances", f"{resources.get('InstanceCount', '')} x {resources.get('InstanceType', '')}" if resources else ""),
        ("ARN", summary["TrainingJobArn"] or ""),
    ]
    lines = [f"# Training job `{summary['TrainingJobName']}`", ""]
    if console_url:
        lines += [f"[Open in the console]({console_url})", ""]
    if summary["FailureReason"]:
        lines += [f"**FailureReason:** {_cell(summary['FailureReason'])}", ""]
    lines += ["| | |", "|---|---|"]
    lines += [f"| {name} | {_cell(value)} |" for name, value in rows if value not in ("", None)]
    if summary["HyperParameters"]:
        lines += ["", "## Hyperparameters", "", "| name | value |", "|---|---|"]
        lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in sorted(summary["HyperParameters"].items())]
    transitions = description.get("SecondaryStatusTransitions") or []
    if transitions:
        lines += ["", "## Status transitions", "", "| status | started | duration | message |", "|---|---|---|---|"]
        for item in transitions:
            lines.append(
                f"| {_cell(item.get('Status', ''))} | {_cell(item.get('StartTime', ''))} | "
                f"{_seconds(item.get('StartTime'), item.get('EndTime'))} | {_cell(item.get('StatusMessage', ''))} |"
            )
    if summary["FinalMetrics"]:
        lines += ["", "## Final metrics", "", "| metric | value |", "|---|---|"]
        lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in sorted(summary["FinalMetrics"].items())]
    return "\n".join(lines) + "\n"


def predictions_table(
    data: Any, predictions: Any, feature_names: Sequence[str] | None = None, max_rows: int = MAX_TABLE_ROWS,
) -> list[dict[str, Any]]:
    """One dict per input row, at most ``max_rows``: its features (named ``feature_names``, or
    ``x0``, ``x1``, ...) and its ``prediction`` (a list when the model returns several values)."""
    import numpy as np

    rows = np.asarray(data)
    rows = rows.reshape(-1, 1) if rows.ndim <= 1 else rows.reshape(len(rows), -1)
    answers = np.asarray(predictions)
    width = rows.shape[1]
    names = list(feature_names) if feature_names and len(feature_names) == width else [f"x{i}" for i in range(width)]
    table = []
    for row, prediction in zip(rows[:max_rows].tolist(), answers[:max_rows].tolist()):
        entry = dict(zip(names, row))
        entry["prediction"] = prediction
        table.append(entry)
    return table


def s3_browser_link(s3_uri: str, *, endpoint_url: str | None, region: str) -> str:
    """A link to browse ``s3://bucket/prefix``: the S3 console on AWS; with a custom endpoint
    (the local runtime), the local console's listing of that prefix (:func:`smflow.consoles.s3_url`)."""
    return consoles.s3_url(s3_uri, region=region, endpoint_url=endpoint_url)


def console_link(kind: str, name: str, *, endpoint_url: str | None, region: str) -> str:
    """The console page of a resource (``kind``: training-job, transform-job, model or
    endpoint): the SageMaker console of ``region`` on AWS; with a custom endpoint (the local
    runtime), the local console's page (:func:`smflow.consoles.resource_url`). Raises ValueError
    for another kind."""
    return consoles.resource_url(kind, name, region=region, endpoint_url=endpoint_url)
