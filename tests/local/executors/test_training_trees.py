"""A training job's processes as a whole: StopTrainingJob, MaxRuntimeInSeconds, the job's end and
a restarted runtime leave none running, including processes that called ``os.setsid()`` or
double-forked (tests/local/scripts/runaway); its temporary files stay in its folder and go with
it; a missing ``sagemaker_submit_directory`` fails with a FailureReason naming the URI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from smflow.local.executors.training import TrainingRun
from smflow.local.support.processes import TREE_ENV, new_tree_marker, start_time, terminate_group

from .test_training import (  # noqa: F401 - fixtures
    SCRIPTS,
    Recorder,
    assert_update_protocol,
    aws,
    bucket,
    describe_job,
    endpoint,
    job_name,
    process_is_running,
    run_job,
    runtime,
)

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc (Linux)")


def wait_for_file(path: Path, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.is_file() and path.read_text().endswith("\n"):
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"{path} did not appear within {timeout} s")


def runaways(model_dir: Path) -> list[int]:
    pids = [int(line) for line in wait_for_file(model_dir / "runaways").split()]
    assert len(pids) == 3
    return pids


def wait_gone(pids: list[int], timeout: float = 5.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(process_is_running(pid) for pid in pids):
        time.sleep(0.05)
    return [pid for pid in pids if process_is_running(pid)]


def test_stop_ends_processes_that_left_the_group_or_double_forked(aws, bucket, tmp_path):
    description = describe_job(aws, bucket, job_name("runaway-stop"), SCRIPTS / "runaway", "train.py")
    recorder = Recorder(description)
    run = TrainingRun(description, tmp_path / "job", aws, recorder, stop_grace_seconds=1.0)
    run.start()
    try:
        pids = runaways(tmp_path / "job" / "model")
        assert all(process_is_running(pid) for pid in pids)
        groups = {os.getpgid(pid) for pid in pids}
        assert recorder.description["_Process"]["ProcessGroupId"] not in groups  # they left the group
    finally:
        run.stop()
        run.join(30)
    assert recorder.status == "Stopped"
    assert wait_gone(pids) == []
    assert_update_protocol(recorder)


def test_max_runtime_ends_processes_that_left_the_group(aws, bucket, tmp_path):
    description = describe_job(aws, bucket, job_name("runaway-maxrt"), SCRIPTS / "runaway", "train.py",
                               max_runtime=8)
    job = run_job(description, tmp_path / "job", aws, timeout=60, stop_grace_seconds=1.0)
    assert job.description["SecondaryStatus"] == "MaxRuntimeExceeded"
    assert wait_gone(runaways(tmp_path / "job" / "model")) == []


def test_the_jobs_end_ends_processes_that_left_the_group(aws, bucket, tmp_path):
    description = describe_job(aws, bucket, job_name("runaway-end"), SCRIPTS / "runaway", "train.py",
                               hyperparameters={"finish": 1})
    job = run_job(description, tmp_path / "job", aws, timeout=60)
    assert job.status == "Completed", job.description.get("FailureReason")
    assert wait_gone(runaways(tmp_path / "job" / "model")) == []


def test_a_restarted_runtime_ends_processes_that_left_the_group(tmp_path):
    """What recovery does for a job whose runtime was killed: terminate_group on the recorded
    leader ends the processes carrying the leader's marker too."""
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    env = {**os.environ, "SM_MODEL_DIR": str(model_dir), TREE_ENV: new_tree_marker()}
    leader = subprocess.Popen([sys.executable, str(SCRIPTS / "runaway" / "train.py")], env=env,
                              stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        pids = runaways(model_dir)
        started = start_time(leader.pid)
        assert started is not None
        assert terminate_group(leader.pid, started, timeout=1.0)
        leader.wait(10)
        assert wait_gone(pids) == []
    finally:
        leader.kill()
        leader.wait()


def test_temporary_files_stay_in_the_job_folder_and_go_with_it(aws, bucket, tmp_path, monkeypatch):
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(system_tmp))  # what the runtime's own environment says
    description = describe_job(aws, bucket, job_name("tempfiles"), SCRIPTS / "tempfiles", "train.py")
    job = run_job(description, tmp_path / "job", aws, timeout=60)
    assert job.status == "Failed"
    assert "failing after writing temporary files" in job.description["FailureReason"]
    used = Path((tmp_path / "job" / "model" / "tempdir").read_text())
    assert (tmp_path / "job" / "tmp").resolve() in used.resolve().parents
    assert not used.exists() and not (tmp_path / "job" / "tmp").exists()
    assert list(system_tmp.iterdir()) == []  # neither the script nor the toolkit wrote there


def test_a_missing_sourcedir_fails_naming_its_uri(aws, bucket, tmp_path):
    description = describe_job(aws, bucket, job_name("nosource"), SCRIPTS / "failing", "train.py")
    missing = f"s3://{bucket}/nowhere/sourcedir.tar.gz"
    description["HyperParameters"]["sagemaker_submit_directory"] = json.dumps(missing)
    job = run_job(description, tmp_path / "job", aws, timeout=60)
    assert job.status == "Failed"
    reason = job.description["FailureReason"]
    assert reason.startswith("ClientError: ")
    assert f'"{missing}"' in reason and "sagemaker_submit_directory" in reason
    assert "Traceback" not in reason
