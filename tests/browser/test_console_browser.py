"""The local console in headless Chromium, over real Iris runs (tests/browser/conftest.py): every
page renders a running and a finished job, the log of a running job grows on the page, the links
of an Airflow task and of a Prefect artifact open the right page, Stop and Delete ask first and
then work. Screenshots of each page go to ``$SMFLOW_SCREENSHOTS`` (see conftest)."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.integration

WAIT = 60  # seconds a page may take to show what is awaited (a backstop, not a speed check)


def open_page(browser, url: str):
    browser.get(url)
    return browser.find_element("tag name", "h1").text


def wait_for(condition, timeout: float = WAIT, what: str = "the page"):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except Exception:  # noqa: BLE001 - the page is reloading
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not show up within {timeout} s")
        time.sleep(0.2)


def heading(browser, text: str) -> str:
    """Wait for the page (after a click) whose h1 is ``text``."""
    return wait_for(lambda: browser.find_element("tag name", "h1").text == text and text, what=f"the page {text!r}")


def shoot(browser, screenshots, name: str) -> None:
    """A screenshot of the whole page (the window is made as tall as the document)."""
    height = browser.execute_script("return Math.min(document.documentElement.scrollHeight, 4000)")
    browser.set_window_size(1400, max(700, int(height) + 20))
    browser.save_screenshot(str(screenshots / f"{name}.png"))
    browser.set_window_size(1400, 1000)


def cells(browser, table_id: str) -> list[list[str]]:
    rows = browser.find_elements("css selector", f"#{table_id} tbody tr")
    return [[cell.text for cell in row.find_elements("tag name", "td")] for row in rows]


def status(browser) -> str:
    return browser.find_element("css selector", "table.fields .badge").text


def log_lines(browser) -> list[str]:
    return [line.text for line in browser.find_elements("css selector", "#log .line:not(.empty)")]


def test_the_overview_and_the_lists_show_running_and_finished_runs(browser, runtime, iris_runs, screenshots):
    assert open_page(browser, runtime.url + "/") == "Overview"  # the runtime's root opens the console
    text = browser.find_element("tag name", "main").text
    assert iris_runs["finished"] in text and iris_runs["running"] in text and iris_runs["endpoint"] in text
    shoot(browser, screenshots, "overview")
    assert open_page(browser, runtime.url + "/console/training-jobs") == "Training jobs"
    rows = {row[0]: row[1] for row in cells(browser, "items")}
    assert rows[iris_runs["finished"]] == "Completed" and rows[iris_runs["running"]] == "InProgress"
    shoot(browser, screenshots, "training-jobs")
    assert open_page(browser, runtime.url + "/console/transform-jobs") == "Transform jobs"
    rows = {row[0]: row[1] for row in cells(browser, "items")}
    assert rows[iris_runs["transform"]] == "Completed" and rows[iris_runs["running_transform"]] == "InProgress"
    shoot(browser, screenshots, "transform-jobs")


def test_a_running_training_job_page_follows_its_log(browser, runtime, iris_runs, screenshots):
    assert open_page(browser, f"{runtime.url}/console/training-jobs/{iris_runs['running']}") == iris_runs["running"]
    assert status(browser) == "InProgress"
    first = wait_for(lambda: [line for line in log_lines(browser) if "still training" in line],
                     what="the running job's first progress lines")
    url = browser.current_url
    # the page appends the new lines itself (console.js polls log.json): no reload
    marker = browser.execute_script("window.smflowMarker = 1; return window.smflowMarker")
    grown = wait_for(lambda: len([line for line in log_lines(browser) if "still training" in line]) >= len(first) + 4,
                     what="new log lines")
    assert grown and browser.current_url == url and browser.execute_script("return window.smflowMarker") == marker
    assert "Training" in [row[0] for row in cells(browser, "timeline")]
    shoot(browser, screenshots, "training-job-running")


def test_a_finished_training_job_page_shows_timeline_hyperparameters_channels_metrics_and_log(
        browser, runtime, iris_runs, screenshots):
    name = iris_runs["finished"]
    assert open_page(browser, f"{runtime.url}/console/training-jobs/{name}") == name
    assert status(browser) == "Completed"
    timeline = [row[0] for row in cells(browser, "timeline")]
    assert timeline[0] == "Starting" and timeline[-1] == "Completed" and "Training" in timeline
    assert ["max_leaf_nodes", "30"] in cells(browser, "hyperparameters")
    channels = cells(browser, "channels")
    assert channels[0][0] == "train" and channels[0][1] == iris_runs["train_uri"]
    metric = cells(browser, "metrics")[0]
    assert metric[0] == "accuracy" and 0.9 <= float(metric[1]) <= 1.0 and metric[3] in ("FinalMetricDataList", "the log")
    assert any(line.endswith(f"accuracy {float(metric[1]):.4f}") for line in log_lines(browser))
    assert not browser.find_elements("id", "stop")  # finished: nothing to stop
    shoot(browser, screenshots, "training-job-completed")
    # the channel's link opens its S3 listing, whose object opens as a table
    browser.find_element("link text", iris_runs["train_uri"]).click()
    heading(browser, iris_runs["train_uri"].rstrip("/") + "/")
    shoot(browser, screenshots, "s3-prefix")
    browser.find_element("link text", "iris.csv").click()
    heading(browser, "iris.csv")
    assert len(cells(browser, "preview")) == 150
    shoot(browser, screenshots, "s3-object")


def test_transform_job_pages_show_progress_by_object(browser, runtime, iris_runs, screenshots):
    running = iris_runs["running_transform"]
    assert open_page(browser, f"{runtime.url}/console/transform-jobs/{running}") == running
    progress = browser.find_element("id", "progress")
    assert int(progress.get_attribute("data-total")) == 40 and status(browser) in ("InProgress", "Completed")
    done_before = int(progress.get_attribute("data-done"))
    assert len(cells(browser, "objects")) == 40
    shoot(browser, screenshots, "transform-job-running")
    if done_before < 40:  # the page reloads itself while the job runs: more objects get done
        wait_for(lambda: int(browser.find_element("id", "progress").get_attribute("data-done")) > done_before,
                 timeout=120, what="transform progress")

    finished = iris_runs["transform"]
    assert open_page(browser, f"{runtime.url}/console/transform-jobs/{finished}") == finished
    assert status(browser) == "Completed"
    assert browser.find_element("id", "progress").text.startswith("1 of 1 objects transformed")
    row = cells(browser, "objects")[0]
    assert row[0].endswith("iris-features.csv") and row[2].endswith("iris-features.csv.out") and row[4] == "Transformed"
    shoot(browser, screenshots, "transform-job-completed")
    browser.find_element("link text", row[2]).click()
    heading(browser, "iris-features.csv.out")
    assert browser.find_element("id", "preview").text.splitlines()[:5] == ["0.0"] * 5  # setosa rows first


def test_model_and_endpoint_pages(browser, runtime, iris_runs, screenshots):
    assert open_page(browser, runtime.url + "/console/models") == "Models"
    shoot(browser, screenshots, "models")
    model = iris_runs["model"]
    assert open_page(browser, f"{runtime.url}/console/models/{model}") == model
    assert iris_runs["finished"] in browser.find_element("tag name", "main").text  # the job it came from
    shoot(browser, screenshots, "model")
    browser.find_element("link text", iris_runs["endpoint"]).click()
    heading(browser, iris_runs["endpoint"])
    assert status(browser) == "InService"
    counters = browser.find_element("id", "invocations").text
    assert "Invocations 3" in counters and "Model errors 0" in counters
    assert cells(browser, "variants")[0][0] == "AllTraffic" and cells(browser, "variants")[0][5] == "3"
    instances = cells(browser, "instances")
    assert len(instances) == 1 and instances[0][3] == "running" and instances[0][1].isdigit()
    shoot(browser, screenshots, "endpoint")
    assert open_page(browser, runtime.url + "/console/endpoints") == "Endpoints"
    shoot(browser, screenshots, "endpoints")
    assert open_page(browser, runtime.url + "/console/s3") == "S3 buckets"
    shoot(browser, screenshots, "s3-buckets")


def test_an_airflow_task_link_opens_the_job_page(browser, runtime, iris_runs, monkeypatch):
    pytest.importorskip("airflow")
    from airflow.sdk.execution_time import xcom
    from smflow_airflow import _common
    from smflow_airflow.links.sagemaker import (
        SageMakerEndpointLink,
        SageMakerTrainingJobLink,
    )

    stored: dict = {}

    class TaskInstance:  # what the operators use of Airflow's task instance to store a link
        def xcom_push(self, key, value):
            stored[key] = value

    monkeypatch.setattr(xcom.XCom, "get_value", classmethod(lambda cls, *, ti_key, key: stored.get(key)))
    client = iris_runs["client"]
    for link, name in ((SageMakerTrainingJobLink, iris_runs["finished"]), (SageMakerEndpointLink, iris_runs["endpoint"])):
        _common.persist_link({"ti": TaskInstance()}, link, client, name)  # as the operators do
        url = link().get_link(None, ti_key=None)  # as Airflow's task runner does once the task ends
        assert url.startswith(runtime.url + "/console/")
        assert open_page(browser, url) == name


def test_prefect_artifact_links_open_the_output_and_the_job_page(browser, runtime, iris_runs):
    pytest.importorskip("prefect")
    from smflow_prefect import training, transform

    client = iris_runs["client"]
    description = client.sagemaker.describe_transform_job(TransformJobName=iris_runs["transform"])
    artifact = transform._link(client, description)  # the link artifact a batch_transform task creates
    assert open_page(browser, artifact["link"]) == iris_runs["transform_output"].rstrip("/") + "/"
    assert "iris-features.csv.out" in browser.find_element("id", "items").text
    job_page = artifact["description"].split("(", 1)[1].rstrip(")")
    assert open_page(browser, job_page) == iris_runs["transform"]
    markdown_link = training._console_url(client, {"TrainingJobName": iris_runs["finished"]})
    assert open_page(browser, markdown_link) == iris_runs["finished"]


def test_unknown_pages_and_a_get_of_an_action_answer_a_page(browser, runtime, iris_runs, screenshots):
    assert open_page(browser, runtime.url + "/console/training-jobs/no-such-job") == "404 Not found"
    shoot(browser, screenshots, "not-found")
    assert open_page(browser, f"{runtime.url}/console/training-jobs/{iris_runs['running']}/stop") == \
        "405 Method not allowed"
    assert open_page(browser, f"{runtime.url}/console/s3/no-such-bucket/object?key=..%2F..%2Fetc%2Fpasswd") == \
        "404 Not found"
    described = iris_runs["client"].sagemaker.describe_training_job(TrainingJobName=iris_runs["running"])
    assert described["TrainingJobStatus"] == "InProgress"  # nothing changed


def test_stop_asks_first_then_stops_the_running_job(browser, runtime, iris_runs, screenshots):
    name = iris_runs["running"]
    open_page(browser, f"{runtime.url}/console/training-jobs/{name}")
    browser.find_element("id", "stop").click()
    heading(browser, f"Stop training job {name}?")
    shoot(browser, screenshots, "confirm-stop")
    browser.find_element("id", "cancel").click()  # asked first: cancelling changes nothing
    heading(browser, name)
    assert status(browser) == "InProgress"
    browser.find_element("id", "stop").click()
    heading(browser, f"Stop training job {name}?")
    browser.find_element("id", "confirm").click()
    heading(browser, name)
    wait_for(lambda: (browser.refresh() or status(browser)) == "Stopped", what="the Stopped status")
    assert iris_runs["client"].sagemaker.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "Stopped"


def test_delete_asks_first_then_deletes_the_endpoint(browser, runtime, iris_runs, screenshots):
    name = iris_runs["endpoint"]
    open_page(browser, f"{runtime.url}/console/endpoints/{name}")
    browser.find_element("id", "delete").click()
    heading(browser, f"Delete endpoint {name}?")
    shoot(browser, screenshots, "confirm-delete")
    browser.find_element("id", "confirm").click()
    heading(browser, "Endpoints")
    sagemaker = iris_runs["client"].sagemaker
    sagemaker.get_waiter("endpoint_deleted").wait(EndpointName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 150})
    assert open_page(browser, f"{runtime.url}/console/endpoints/{name}") == "404 Not found"
