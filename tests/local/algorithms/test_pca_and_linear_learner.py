"""PCA and LinearLearner (the ``pca`` and ``linear-learner`` images) on scikit-learn's digits."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from sklearn.decomposition import PCA

from smflow import recordio
from smflow.local.containers.algorithms import ndarray
from tests.local.algorithms.conftest import algorithm_image, csv_bytes

pytestmark = pytest.mark.integration


def test_pca_projects_digits_onto_the_principal_components(api, digits):
    features, _ = digits
    image = algorithm_image("pca")
    train = api.put("pca/train/digits.rec", recordio.write_records(features))
    job = api.train("pca", image, {"num_components": 5, "feature_dim": 64, "mini_batch_size": 200}, {"train": train})
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    params = ndarray.loads(api.model_files(job)["model_algo-1"])
    assert set(params) == {"mean", "v", "s"}
    assert params["v"].shape == (64, 5) and params["mean"].shape == (1, 64)
    reference = PCA(n_components=5).fit(features)
    np.testing.assert_allclose(params["s"], reference.singular_values_[::-1], rtol=1e-3)  # ascending, as AWS's

    endpoint = api.deploy(api.create_model(job, image))
    try:
        rows = features[:40]
        body, content_type = api.invoke(endpoint, csv_bytes(rows), "text/csv", "application/json")
        assert content_type == "application/json"
        projections = np.array([p["projection"] for p in json.loads(body)["projections"]])
        expected = reference.transform(rows)[:, ::-1]
        assert projections.shape == (40, 5)
        for column in range(5):  # a component's sign is a convention
            assert abs(np.corrcoef(projections[:, column], expected[:, column])[0, 1]) > 0.9999
        np.testing.assert_allclose(np.abs(projections), np.abs(expected), rtol=1e-3, atol=1e-3)
    finally:
        api.delete_endpoint(endpoint)


def test_linear_learner_binary_classifier_separates_two_digits(api, digits):
    features, labels = digits
    image = algorithm_image("linear-learner")
    mask = (labels == 3) | (labels == 8)
    x, y = features[mask], (labels[mask] == 8).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(x))
    train, validation, test = order[:200], order[200:280], order[280:]
    channels = {
        "train": api.put("ll/train/digits.rec", recordio.write_records(x[train], y[train])),
        "validation": api.put("ll/validation/digits.rec", recordio.write_records(x[validation], y[validation])),
    }
    job = api.train("linear-learner", image, {"predictor_type": "binary_classifier", "feature_dim": 64,
                                              "mini_batch_size": 50, "epochs": 10}, channels)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    with zipfile.ZipFile(io.BytesIO(api.model_files(job)["model_algo-1"])) as archive:
        params = ndarray.loads(archive.read("mx-mod-0000.params"))
        assert params["arg:fc0_weight"].shape == (1, 64)
        assert json.loads(archive.read("additional-params.json"))["predictor_type"] == "binary_classifier"

    endpoint = api.deploy(api.create_model(job, image))
    try:
        body, _ = api.invoke(endpoint, recordio.write_records(x[test]), "application/x-recordio-protobuf",
                             "application/json")
        predictions = json.loads(body)["predictions"]
        assert set(predictions[0]) == {"score", "predicted_label"}
        assert all(0.0 <= p["score"] <= 1.0 for p in predictions)
        accuracy = np.mean([p["predicted_label"] == label for p, label in zip(predictions, y[test])])
        assert accuracy > 0.9
    finally:
        api.delete_endpoint(endpoint)


def test_linear_learner_multiclass_needs_num_classes_and_answers_class_scores(api, digits):
    features, labels = digits
    image = algorithm_image("linear-learner")
    train = api.put("ll-multi/train/digits.csv", csv_bytes(np.column_stack([labels[:1400], features[:1400]])))
    failed = api.train("ll-multi", image, {"predictor_type": "multiclass_classifier"},
                       {"train": {"uri": train, "content_type": "text/csv"}})
    assert failed["TrainingJobStatus"] == "Failed"
    assert failed["FailureReason"].startswith("ClientError: No value(s) were specified for 'num_classes'")
    job = api.train("ll-multi", image, {"predictor_type": "multiclass_classifier", "num_classes": 10,
                                        "mini_batch_size": 100}, {"train": {"uri": train, "content_type": "text/csv"}})
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    endpoint = api.deploy(api.create_model(job, image))
    try:
        body, _ = api.invoke(endpoint, csv_bytes(features[1400:]), "text/csv", "application/jsonlines")
        answers = [json.loads(line) for line in body.decode().splitlines()]
        assert all(len(a["score"]) == 10 for a in answers)
        accuracy = np.mean([a["predicted_label"] == label for a, label in zip(answers, labels[1400:])])
        assert accuracy > 0.85
    finally:
        api.delete_endpoint(endpoint)
