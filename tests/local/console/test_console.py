"""The local console over HTTP, against a runtime whose executors are the test doubles of
tests/local/conftest.py (jobs that run until the test ends them; a deployment answering at once):
what each page shows, the live log's JSON, Stop and Delete behind a confirmation POST, the
invocation counters, and bad input (a 404/405/400 page, never a traceback, nothing changed).
The same pages over a real Iris run, in Chromium, are in tests/browser."""

from __future__ import annotations

import json
import re
import time

import pytest
import requests

from ..conftest import ROLE, create_config, create_fake_model

pytestmark = pytest.mark.integration

TRAINING_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
HOSTILE = "<script>alert('x')</script>"


def get(runtime, path: str, **kwargs) -> requests.Response:
    return requests.get(runtime.url + path, allow_redirects=False, timeout=30, **kwargs)


def get_raw(runtime, path: str, params: dict | None = None) -> requests.Response:
    """GET with the path sent as written (requests would resolve ``..`` segments first)."""
    session = requests.Session()
    prepared = session.prepare_request(requests.Request("GET", runtime.url + "/", params=params))
    prepared.url = runtime.url + path + ("?" + prepared.url.split("?", 1)[1] if "?" in prepared.url else "")
    return session.send(prepared, allow_redirects=False, timeout=30)


def post(runtime, path: str, data=None, **kwargs) -> requests.Response:
    return requests.post(runtime.url + path, data=data or {}, allow_redirects=False, timeout=30, **kwargs)


def assert_page(answer: requests.Response, status: int) -> str:
    assert answer.status_code == status, answer.text[:2000]
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "Traceback" not in answer.text and "<!DOCTYPE html>" in answer.text
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    return answer.text


def token_of(page: str) -> str:
    match = re.search(r'name="token" value="([0-9a-f]{64})"', page)
    assert match, page
    return match.group(1)


def start_training_job(runtime, name: str) -> None:
    s3 = runtime.client("s3")
    s3.create_bucket(Bucket="console-data")
    s3.put_object(Bucket="console-data", Key="iris/train/iris.csv", Body=b"0,5.1,3.5,1.4,0.2\n1,7.0,3.2,4.7,1.4\n")
    runtime.client("sagemaker").create_training_job(
        TrainingJobName=name, RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": TRAINING_IMAGE, "TrainingInputMode": "File",
                                "MetricDefinitions": [{"Name": "accuracy", "Regex": "accuracy ([0-9.]+)"}]},
        HyperParameters={"max_leaf_nodes": "30", "note": HOSTILE},
        InputDataConfig=[{"ChannelName": "train", "ContentType": "text/csv", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "s3://console-data/iris/train"}}}],
        OutputDataConfig={"S3OutputPath": "s3://console-data/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )


def log_lines(runtime, group: str, stream: str, *messages: str) -> None:
    logs = runtime.client("logs")
    try:
        logs.create_log_group(logGroupName=group)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": now + i, "message": m} for i, m in enumerate(messages)])


def test_a_training_job_page_shows_status_hyperparameters_channels_metrics_and_log(fake_runtime):
    start_training_job(fake_runtime, "console-train")
    log_lines(fake_runtime, "/aws/sagemaker/TrainingJobs", "console-train/algo-1-1",
              "Invoking script train.py", f"row {HOSTILE}", "accuracy 0.50", "accuracy 0.75")

    page = assert_page(get(fake_runtime, "/console/training-jobs/console-train"), 200)
    assert 'data-status="InProgress"' in page and 'data-live="1"' in page
    assert "max_leaf_nodes" in page and "<td>30</td>" in page
    assert HOSTILE not in page and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page  # escaped, twice
    assert 'href="/console/s3/console-data?prefix=iris%2Ftrain%2F">s3://console-data/iris/train<' in page
    assert "Invoking script train.py" in page and "accuracy ([0-9.]+)" in page
    assert 'id="stop"' in page  # InProgress: can be stopped
    # the last value each metric definition finds in the log, as SageMaker reads metrics
    assert "<td>accuracy</td><td>0.75</td>" in page and "<td>the log</td>" in page

    fake_runtime.executors.runs["console-train"].finish(
        "Completed", SecondaryStatus="Completed", TrainingEndTime=time.time(),
        FinalMetricDataList=[{"MetricName": "accuracy", "Value": 0.97, "Timestamp": time.time()}],
        ModelArtifacts={"S3ModelArtifacts": "s3://console-data/output/console-train/output/model.tar.gz"})
    page = assert_page(get(fake_runtime, "/console/training-jobs/console-train"), 200)
    assert 'data-live="0"' in page and 'id="stop"' not in page
    assert "<td>accuracy</td><td>0.97</td>" in page and "<td>FinalMetricDataList</td>" in page
    assert "/console/s3/console-data/object?key=output%2Fconsole-train%2Foutput%2Fmodel.tar.gz" in page
    listing = assert_page(get(fake_runtime, "/console/training-jobs"), 200)
    assert 'href="/console/training-jobs/console-train"' in listing


def test_the_log_json_gives_the_events_after_its_cursor(fake_runtime):
    start_training_job(fake_runtime, "console-log")
    log_lines(fake_runtime, "/aws/sagemaker/TrainingJobs", "console-log/algo-1-1", "one", "two")
    first = get(fake_runtime, "/console/training-jobs/console-log/log.json").json()
    assert [e["message"] for e in first["events"]] == ["one", "two"] and first["status"] == "InProgress"
    cursor = json.dumps(first["cursor"])
    assert get(fake_runtime, "/console/training-jobs/console-log/log.json", params={"cursor": cursor}).json()["events"] == []
    log_lines(fake_runtime, "/aws/sagemaker/TrainingJobs", "console-log/algo-1-1", "three")
    log_lines(fake_runtime, "/aws/sagemaker/TrainingJobs", "console-log/algo-2-1", "other instance")
    after = get(fake_runtime, "/console/training-jobs/console-log/log.json", params={"cursor": cursor}).json()
    assert sorted(e["message"] for e in after["events"]) == ["other instance", "three"]
    assert not after["terminal"]
    for bad in ("not json", json.dumps(["a"]), json.dumps({"s": "drop table"})):
        answer = get(fake_runtime, "/console/training-jobs/console-log/log.json", params={"cursor": bad})
        assert_page(answer, 400)


def test_stop_asks_first_and_only_a_post_with_the_token_stops(fake_runtime):
    start_training_job(fake_runtime, "console-stop")
    sm = fake_runtime.client("sagemaker")

    def status():
        return sm.describe_training_job(TrainingJobName="console-stop")["TrainingJobStatus"]

    page = assert_page(get(fake_runtime, "/console/training-jobs/console-stop/confirm-stop"), 200)
    assert "Stop training job console-stop?" in page
    token = token_of(page)
    refused = assert_page(get(fake_runtime, "/console/training-jobs/console-stop/stop"), 405)
    assert "Nothing was changed" in refused
    assert_page(post(fake_runtime, "/console/training-jobs/console-stop/stop"), 403)  # no token
    assert_page(post(fake_runtime, "/console/training-jobs/console-stop/stop", {"token": "0" * 64}), 403)
    assert_page(post(fake_runtime, "/console/training-jobs/other-job/stop", {"token": token}), 404)
    # a page of another site cannot post it (the runtime's Origin check, then the console's)
    assert post(fake_runtime, "/console/training-jobs/console-stop/stop", {"token": token},
                headers={"Origin": "http://evil.example"}).status_code == 403
    assert post(fake_runtime, "/console/training-jobs/console-stop/stop", {"token": token},
                headers={"Sec-Fetch-Site": "same-site"}).status_code == 403
    assert status() == "InProgress" and not fake_runtime.executors.runs["console-stop"].stopped.is_set()

    done = post(fake_runtime, "/console/training-jobs/console-stop/stop", {"token": token},
                headers={"Origin": fake_runtime.url, "Sec-Fetch-Site": "same-origin"})
    assert done.status_code == 303 and done.headers["Location"] == "/console/training-jobs/console-stop"
    assert fake_runtime.executors.runs["console-stop"].stopped.wait(5)
    assert status() == "Stopped"
    # stopping again: nothing to do, said so
    assert "only a job in progress" in assert_page(
        get(fake_runtime, "/console/training-jobs/console-stop/confirm-stop"), 409)


def deploy(runtime, name: str, **environment: str) -> None:
    sm = runtime.client("sagemaker")
    create_fake_model(sm, f"{name}-model", **environment)
    create_config(sm, f"{name}-config", f"{name}-model")
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")
    sm.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200})


def test_an_endpoint_page_counts_invocations_and_shows_model_errors(fake_runtime):
    deploy(fake_runtime, "console-ep")
    runtime = fake_runtime.client("sagemaker-runtime")
    for _ in range(3):
        runtime.invoke_endpoint(EndpointName="console-ep", Body=b"1,2,3,4", ContentType="text/csv")
    with pytest.raises(runtime.exceptions.ModelError):
        runtime.invoke_endpoint(EndpointName="console-ep", Body=b"x", ContentType="application/x-unsupported")

    page = assert_page(get(fake_runtime, "/console/endpoints/console-ep"), 200)
    counters = page.split('id="invocations"')[1].split("</section>")[0]
    assert "<th>Invocations</th><td>4</td>" in counters and "<th>Model errors</th><td>1</td>" in counters
    assert re.search(r"<th>Mean latency</th><td>[0-9.]+ ms</td>", counters)
    errors = page.split('id="model-errors"')[1].split("</table>")[0]
    assert "<td>415</td>" in errors and "unsupported content type" in errors
    assert 'href="/console/models/console-ep-model"' in page and "AllTraffic" in page
    listing = assert_page(get(fake_runtime, "/console/endpoints"), 200)
    assert "<td>4</td><td>1</td>" in listing
    model = assert_page(get(fake_runtime, "/console/models/console-ep-model"), 200)
    assert 'href="/console/endpoints/console-ep"' in model  # the endpoints serving it


def test_delete_asks_first_and_deletes_the_endpoint(fake_runtime):
    deploy(fake_runtime, "console-del")
    sm = fake_runtime.client("sagemaker")
    page = assert_page(get(fake_runtime, "/console/endpoints/console-del/confirm-delete"), 200)
    token = token_of(page)
    assert_page(get(fake_runtime, "/console/endpoints/console-del/delete"), 405)
    assert_page(post(fake_runtime, "/console/endpoints/console-del/delete", {"token": token[::-1]}), 403)
    deploy(fake_runtime, "console-keep")  # a token is bound to its action and name
    assert_page(post(fake_runtime, "/console/endpoints/console-keep/delete", {"token": token}), 403)
    assert sm.describe_endpoint(EndpointName="console-del")["EndpointStatus"] == "InService"
    assert sm.describe_endpoint(EndpointName="console-keep")["EndpointStatus"] == "InService"

    done = post(fake_runtime, "/console/endpoints/console-del/delete", {"token": token})
    assert done.status_code == 303 and done.headers["Location"] == "/console/endpoints"
    sm.get_waiter("endpoint_deleted").wait(EndpointName="console-del", WaiterConfig={"Delay": 0.05, "MaxAttempts": 200})
    assert_page(get(fake_runtime, "/console/endpoints/console-del"), 404)


def test_s3_pages_list_preview_and_download(fake_runtime):
    s3 = fake_runtime.client("s3")
    s3.create_bucket(Bucket="console-s3")
    s3.put_object(Bucket="console-s3", Key="data/iris.csv", Body=b"5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n",
                  ContentType="text/csv")
    s3.put_object(Bucket="console-s3", Key="data/conf.json", Body=b'{"a": [1, 2], "html": "<b>x</b>"}')
    s3.put_object(Bucket="console-s3", Key="data/page.html", Body=HOSTILE.encode(), ContentType="text/html")
    s3.put_object(Bucket="console-s3", Key="model.tar.gz", Body=b"\x1f\x8b\x08\0binary")
    s3.put_object(Bucket="console-s3", Key="odd/ü name #1?.txt", Body=b"hello")

    assert 'href="/console/s3/console-s3"' in assert_page(get(fake_runtime, "/console/s3"), 200)
    root = assert_page(get(fake_runtime, "/console/s3/console-s3"), 200)
    assert 'href="/console/s3/console-s3?prefix=data%2F"' in root and "model.tar.gz" in root
    folder = assert_page(get(fake_runtime, "/console/s3/console-s3", params={"prefix": "data/"}), 200)
    assert "iris.csv" in folder and "conf.json" in folder

    csv_page = assert_page(get(fake_runtime, "/console/s3/console-s3/object", params={"key": "data/iris.csv"}), 200)
    assert "<td>6.7</td><td>3.0</td><td>5.2</td><td>2.3</td>" in csv_page
    json_page = assert_page(get(fake_runtime, "/console/s3/console-s3/object", params={"key": "data/conf.json"}), 200)
    assert '&#34;a&#34;: [\n    1,' in json_page and "&lt;b&gt;x&lt;/b&gt;" in json_page
    html_page = assert_page(get(fake_runtime, "/console/s3/console-s3/object", params={"key": "data/page.html"}), 200)
    assert HOSTILE not in html_page
    binary = assert_page(get(fake_runtime, "/console/s3/console-s3/object", params={"key": "model.tar.gz"}), 200)
    assert "No preview" in binary or "binary data" in binary
    odd = assert_page(get(fake_runtime, "/console/s3/console-s3/object", params={"key": "odd/ü name #1?.txt"}), 200)
    assert "hello" in odd

    download = get(fake_runtime, "/console/s3/console-s3/download", params={"key": "data/page.html"})
    assert download.status_code == 200 and download.content == HOSTILE.encode()
    assert download.headers["Content-Type"] == "application/octet-stream"  # never rendered as HTML
    assert download.headers["Content-Disposition"].startswith('attachment; filename="page.html"')
    assert download.headers["X-Content-Type-Options"] == "nosniff"


def test_transform_job_page_shows_progress_by_object(fake_runtime):
    sm, s3 = fake_runtime.client("sagemaker"), fake_runtime.client("s3")
    create_fake_model(sm, "console-tf-model")
    s3.create_bucket(Bucket="console-tf")
    for name in ("a.csv", "b.csv"):
        s3.put_object(Bucket="console-tf", Key=f"in/{name}", Body=b"1,2,3,4\n")
    sm.create_transform_job(
        TransformJobName="console-tf", ModelName="console-tf-model",
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://console-tf/in/"}},
                        "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": "s3://console-tf/out"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
    s3.put_object(Bucket="console-tf", Key="out/a.csv.out", Body=b"0\n")  # the first object is done
    page = assert_page(get(fake_runtime, "/console/transform-jobs/console-tf"), 200)
    assert 'data-done="1" data-total="2"' in page and 'data-refresh="3"' in page
    assert "Waiting or in progress" in page and 'href="/console/s3/console-tf/object?key=out%2Fa.csv.out"' in page
    s3.put_object(Bucket="console-tf", Key="out/b.csv.out", Body=b"0\n")
    fake_runtime.executors.runs["console-tf"].finish("Completed", TransformEndTime=time.time())
    page = assert_page(get(fake_runtime, "/console/transform-jobs/console-tf"), 200)
    assert 'data-done="2" data-total="2"' in page and "data-refresh" not in page


@pytest.mark.parametrize("path, params, status", [
    ("/console/training-jobs/no-such-job", None, 404),
    ("/console/training-jobs/bad_name!", None, 404),
    ("/console/transform-jobs/no-such-job/confirm-stop", None, 404),
    ("/console/models/no-such-model", None, 404),
    ("/console/endpoints/no-such-endpoint", None, 404),
    ("/console/endpoints/no-such-endpoint/confirm-delete", None, 404),
    ("/console/no-such-page", None, 404),
    ("/console/static/../app.py", None, 404),
    ("/console/static/app.py", None, 404),
    ("/console/static/%2e%2e%2fapp.py", None, 404),
    ("/console/s3/no-such-bucket", None, 404),
    ("/console/s3/..", None, 404),
    ("/console/s3/console-bad/object", {"key": "../../../../etc/passwd"}, 404),
    ("/console/s3/console-bad/object", {"key": "/etc/passwd"}, 404),
    ("/console/s3/console-bad/download", {"key": "a/../../x"}, 404),
    ("/console/s3/console-bad/object", {"key": "a\x00b"}, 400),
    ("/console/s3/console-bad/object", {"key": "x" * 1025}, 400),
    ("/console/s3/console-bad/object", {}, 400),
    ("/console/s3/console-bad/download", {"key": "line\nbreak"}, 400),
    ("/console/s3/console-bad", {"prefix": "\x07"}, 400),
])
def test_bad_input_gets_a_page_never_a_traceback(fake_runtime, path, params, status):
    s3 = fake_runtime.client("s3")
    s3.create_bucket(Bucket="console-bad")
    s3.put_object(Bucket="console-bad", Key="kept.txt", Body=b"kept")
    answer = get_raw(fake_runtime, path, params=params)
    assert_page(answer, status)
    assert s3.get_object(Bucket="console-bad", Key="kept.txt")["Body"].read() == b"kept"  # nothing changed


def test_the_console_leaves_the_aws_apis_alone(fake_runtime):
    s3 = fake_runtime.client("s3")
    s3.create_bucket(Bucket="console")  # a bucket named like the console: signed requests reach S3
    s3.put_object(Bucket="console", Key="training-jobs/x", Body=b"an object")
    assert s3.get_object(Bucket="console", Key="training-jobs/x")["Body"].read() == b"an object"
    assert "console" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    # a browser opening the runtime's URL lands on the console
    answer = get(fake_runtime, "/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert answer.status_code == 302 and answer.headers["Location"] == "/console/"
    assert get(fake_runtime, "/console").headers["Location"] == "/console/"
    overview = assert_page(get(fake_runtime, "/console/"), 200)
    assert 'href="/console/static/console.css"' in overview
    css = get(fake_runtime, "/console/static/console.css")
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    assert get(fake_runtime, "/console/static/console.js").headers["Content-Type"].startswith("text/javascript")
    # a page of another site is refused by the runtime's Host check
    assert get(fake_runtime, "/console/", headers={"Host": "evil.example"}).status_code == 403
