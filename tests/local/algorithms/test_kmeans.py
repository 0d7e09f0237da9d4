"""KMeans (the ``kmeans`` image) on scikit-learn's digits, as the SDK README's KMeans example
(MNIST there): RecordIO-protobuf training data, a model AWS's way (``model_algo-1``), an endpoint
answering RecordIO-protobuf in and JSON / JSON Lines / CSV / RecordIO-protobuf out, and a batch
transform split by RecordIO record."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import pairwise_distances

from smflow import recordio
from smflow.local.containers.algorithms import ndarray
from tests.local.algorithms.conftest import algorithm_image, csv_bytes

pytestmark = pytest.mark.integration
IMAGE = algorithm_image("kmeans")


@pytest.fixture(scope="module")
def trained(api, digits):
    features, _ = digits
    train = api.put("kmeans/train/digits.rec", recordio.write_records(features))
    job = api.train("kmeans", IMAGE, {"k": 10, "feature_dim": 64, "init_method": "kmeans++"}, {"train": train})
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    return job


@pytest.fixture(scope="module")
def model(api, trained):
    return api.create_model(trained, IMAGE)


def _centroids(api, job) -> np.ndarray:
    files = api.model_files(job)
    assert set(files) == {"model_algo-1"}
    arrays = ndarray.loads(files["model_algo-1"])
    assert isinstance(arrays, list) and len(arrays) == 1  # mx.ndarray.load('model_algo-1')[0]
    return arrays[0]


def test_the_centroids_cluster_digits_as_well_as_scikit_learn(api, trained, digits):
    features, _ = digits
    centroids = _centroids(api, trained)
    assert centroids.shape == (10, 64) and centroids.dtype == np.float32
    ours = float((pairwise_distances(features, centroids, squared=True).min(1)).sum())
    reference = KMeans(n_clusters=10, n_init=10, random_state=0).fit(features)
    assert ours <= 1.1 * reference.inertia_
    # Lloyd's iterations from our centroids barely move them: they are (near) a k-means solution
    refined = KMeans(n_clusters=10, init=centroids, n_init=1).fit(features)
    assert (refined.predict(features) == pairwise_distances(features, centroids).argmin(1)).mean() >= 0.85


def test_the_endpoint_answers_recordio_in_with_every_accept_type(api, trained, model, digits):
    features, _ = digits
    centroids = _centroids(api, trained)
    rows = features[:50]
    expected = pairwise_distances(rows, centroids).argmin(1)
    distances = pairwise_distances(rows, centroids).min(1)
    endpoint = api.deploy(model)
    try:
        body = recordio.write_records(rows)
        answer, content_type = api.invoke(endpoint, body, "application/x-recordio-protobuf", "application/json")
        assert content_type == "application/json"
        predictions = json.loads(answer)["predictions"]
        assert [p["closest_cluster"] for p in predictions] == [float(c) for c in expected]
        np.testing.assert_allclose([p["distance_to_cluster"] for p in predictions], distances, rtol=1e-4)

        lines, content_type = api.invoke(endpoint, body, "application/x-recordio-protobuf", "application/jsonlines")
        assert content_type == "application/jsonlines"
        assert [json.loads(line) for line in lines.decode().splitlines()] == predictions

        table, _ = api.invoke(endpoint, csv_bytes(rows), "text/csv", "text/csv")
        parsed = np.loadtxt(table.decode().splitlines(), delimiter=",", ndmin=2)
        np.testing.assert_array_equal(parsed[:, 0], expected)

        records, content_type = api.invoke(endpoint, json.dumps({"instances": [{"features": r.tolist()} for r in rows]}),
                                           "application/json", "application/x-recordio-protobuf")
        assert content_type == "application/x-recordio-protobuf"
        decoded = recordio.records_to_dicts(recordio.read_records(records))
        assert [d["closest_cluster"] for d in decoded] == [float(c) for c in expected]
    finally:
        api.delete_endpoint(endpoint)


def test_batch_transform_splits_recordio_records(api, trained, model, digits):
    features, _ = digits
    centroids = _centroids(api, trained)
    rows = features[:300]
    source = api.put("kmeans/batch/digits.rec", recordio.write_records(rows))
    job = api.transform(model, source, "application/x-recordio-protobuf", "application/jsonlines", "RecordIO",
                        MaxPayloadInMB=1, BatchStrategy="MultiRecord")
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    answers = [json.loads(line) for line in api.output(job, "digits.rec.out").decode().splitlines() if line]
    assert [a["closest_cluster"] for a in answers] == [float(c) for c in pairwise_distances(rows, centroids).argmin(1)]


def test_pipe_mode_csv_without_labels_and_a_manifest_train_the_same_way(api, digits):
    features, _ = digits
    halves = [api.put(f"kmeans/csv/part-{n}.csv", csv_bytes(part)) for n, part in enumerate(np.array_split(features, 2))]
    manifest = api.put("kmeans/csv.manifest", json.dumps(
        [{"prefix": f"s3://algorithms/kmeans/csv/"}, "part-0.csv", "part-1.csv"]).encode())
    assert halves
    job = api.train("kmeans-pipe", IMAGE, {"k": 10, "feature_dim": 64, "epochs": 2},
                    {"train": {"uri": manifest, "data_type": "ManifestFile", "content_type": "text/csv;label_size=0"}},
                    input_mode="Pipe")
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    centroids = _centroids(api, job)
    inertia = float(pairwise_distances(features, centroids, squared=True).min(1).sum())
    assert inertia <= 1.1 * KMeans(n_clusters=10, n_init=10, random_state=0).fit(features).inertia_
