"""TensorFlow images on the local runtime (``smflow.local.containers.frameworks.tensorflow``).

The first part checks the contract's pure pieces (image tags, the environment chosen for a
version, the TensorFlow Serving container's request conversion and model layout); it needs no
TensorFlow. The second part runs the real thing through the smflow client against a local
runtime: a Keras script trained in script mode on scikit-learn's Iris (SavedModel export to
``SM_MODEL_DIR/1``), served by the TensorFlow Serving contract (JSON, CSV, JSON Lines, the
``tfs-method`` header, ``inference.py`` handlers), batch transform, and the bad inputs. The
TensorFlow environment is built once (``SMFLOW_ENVIRONMENTS_DIR`` is shared by the session).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from smflow.local.containers import environments
from smflow.local.containers.environments import UnsupportedImageError
from smflow.local.containers.frameworks import tensorflow as tf_contract
from smflow.local.containers.serving.handlers import ServingError

SCRIPTS = Path(__file__).resolve().parent / "scripts" / "tensorflow"
VERSION = "2.19"  # smflow's default TensorFlow version: one environment for every test here
PY_VERSION = "py312"


# ------------------------------------------------------------------------------ pure pieces
@pytest.mark.parametrize("tag, expected", [
    ("2.19.0-cpu-py312", "2.19.0"),
    ("2.13-cpu-py310", "2.13"),
    ("2.13.0-cpu", "2.13.0"),
    ("2.14.1-gpu-py310-cu118-ubuntu20.04-sagemaker", "2.14.1"),
    ("1.12.0-cpu-py3", "1.12.0"),
    ("latest", None),
    (None, None),
])
def test_the_version_comes_from_the_image_tag(tag, expected):
    assert tf_contract.version(tag) == expected


def test_the_repositories_of_the_sdk_registry_are_claimed():
    image = "763104351884.dkr.ecr.eu-west-1.amazonaws.com/tensorflow-inference:2.19.0-cpu"
    assert environments.resolve_environment(image).name == "tensorflow"
    legacy = "520713654638.dkr.ecr.us-east-1.amazonaws.com/sagemaker-tensorflow-serving:1.12.0-cpu"
    assert environments.resolve_environment(legacy).name == "tensorflow"


def test_an_installable_version_gets_its_family_newest_release():
    spec = tf_contract.environment("2.19.0")
    assert (spec.framework, spec.family, spec.display) == ("tensorflow", "2.19", "TensorFlow 2.19")
    assert spec.install_steps[0][0] == f"tensorflow-cpu=={spec.framework_version}"
    assert spec.framework_version.startswith("2.19.")
    assert spec.framework_version in tf_contract.installable_versions()
    assert ("--no-deps", tf_contract.TRAINING_TOOLKIT) in spec.install_steps
    family_only = tf_contract.environment("2.19")  # the same environment, and nothing to say
    assert (family_only.framework_version, family_only.install_steps, family_only.note) == \
        (spec.framework_version, spec.install_steps, None)


def test_a_version_without_a_wheel_for_this_python_uses_the_nearest_and_says_so():
    oldest = tf_contract.installable_versions()[-1]
    spec = tf_contract.environment("1.15.5")
    assert spec.family == ".".join(oldest.split(".")[:2])
    assert "1.15.5 does not install on Python" in spec.note and spec.framework_version in spec.note


def test_an_unknown_version_is_refused_naming_the_versions_that_exist():
    with pytest.raises(UnsupportedImageError) as error:
        tf_contract.environment("9.9.9")
    assert "'9.9.9'" in str(error.value) and "2.19.0" in str(error.value) and "framework_version" in str(error.value)
    image = "763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-training:9.9.9-cpu-py310"
    with pytest.raises(UnsupportedImageError):
        environments.resolve_environment(image)


def test_an_image_by_digest_gets_the_newest_version():
    spec = tf_contract.environment(None)
    assert spec.framework_version == tf_contract.installable_versions()[0] and "digest" in spec.note


@pytest.mark.parametrize("body, content_type, expected", [
    ('{"instances": [[1, 2]]}', "application/json", {"instances": [[1, 2]]}),
    ('{"inputs": {"x": [1]}}', "application/json", {"inputs": {"x": [1]}}),
    ("[1, 2, 3, 4]", "application/json", {"instances": [[1, 2, 3, 4]]}),
    ("[[1, 2], [3, 4]]", "application/json", {"instances": [[1, 2], [3, 4]]}),
    ('{"x": 1}', "application/json", {"instances": [{"x": 1}]}),
    ("[1, 2]\n[3, 4]\n", "application/jsonlines", {"instances": [[1, 2], [3, 4]]}),
    ('{"x": 1}\n{"x": 2}', "application/jsonlines", {"instances": [{"x": 1}, {"x": 2}]}),
    ("1,2.5\n3,4e1\n", "text/csv", {"instances": [[1, 2.5], [3, 40.0]]}),
    ("7\n8\n", "text/csv", {"instances": [7, 8]}),
    ("a,b\n", "text/csv", {"instances": [["a", "b"]]}),
])
def test_requests_are_converted_as_the_containers_nginx_module_does(body, content_type, expected):
    assert json.loads(tf_contract.to_tfs_request(body, content_type)) == expected


def test_other_content_types_answer_415():
    with pytest.raises(ServingError) as error:
        tf_contract.to_tfs_request("x", "application/x-npy")
    assert error.value.status == 415 and "Unsupported Media Type: application/x-npy" in str(error.value)


def test_custom_attributes_name_the_model_version_and_method():
    header = "tfs-model-name=iris,tfs-model-version=2, tfs-method=classify,other=1"
    assert tf_contract.parse_custom_attributes(header) == {
        "tfs-model-name": "iris", "tfs-model-version": "2", "tfs-method": "classify"}
    assert tf_contract.parse_custom_attributes(None) == {}


def test_savedmodels_are_found_in_both_layouts(tmp_path):
    for folder in ("1", "code/ignored", "iris/1", "iris/00002", "other/3"):
        (tmp_path / folder).mkdir(parents=True)
    for folder in ("iris/1", "iris/00002", "other/3"):
        (tmp_path / folder / "saved_model.pb").write_bytes(b"")
    found = tf_contract.find_models(str(tmp_path))
    assert {name: sorted(versions) for name, versions in found.items()} == {"iris": [1, 2], "other": [3]}
    top = tmp_path / "top"
    (top / "5").mkdir(parents=True)
    (top / "5" / "saved_model.pb").write_bytes(b"")
    assert tf_contract.find_models(str(top)) == {"model": {5: str(top / "5")}}


def test_no_savedmodel_in_a_numbered_folder_is_a_clear_load_error(tmp_path):
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "saved_model.pb").write_bytes(b"")
    with pytest.raises(tf_contract.ModelLoadError) as error:
        tf_contract.TfsModels(str(tmp_path))
    assert "No SavedModel bundles" in str(error.value) and "export" in str(error.value)
