"""Helpers shared by the serving tests (model server, hosting, batch transform).

Loaded by path from the test modules (no package needed). Everything here is real: a
DecisionTree trained on Iris, tar.gz archives, a tiny wheel.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import tarfile
import zipfile
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def iris():
    """(features float64 (150, 4), labels int (150,))."""
    from sklearn.datasets import load_iris

    data = load_iris()
    return data.data, data.target


def train_iris_model(model_dir: Path):
    """Fit the blog's DecisionTree on Iris and save it as model_dir/model.joblib; returns it."""
    import joblib
    from sklearn.tree import DecisionTreeClassifier

    features, labels = iris()
    model = DecisionTreeClassifier(random_state=0).fit(features, labels)
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_dir / "model.joblib")
    return model


def copy_script(name: str, code_dir: Path) -> Path:
    code_dir.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(SCRIPTS / name, code_dir / name))


def make_tar_gz(source_dir: Path, archive: Path) -> Path:
    """Pack the contents of source_dir (SageMaker's model.tar.gz / sourcedir.tar.gz layout)."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(source_dir.rglob("*")):
            tar.add(path, arcname=path.relative_to(source_dir).as_posix(), recursive=False)
    return archive


def upload(s3, path: Path, bucket: str, key: str) -> str:
    s3.upload_file(str(path), bucket, key)
    return f"s3://{bucket}/{key}"


def model_description(name: str, model_data_url: str | None, environment: dict) -> dict:
    """A DescribeModel-shaped dict with one scikit-learn container."""
    container = {"Image": SKLEARN_IMAGE, "Environment": environment}
    if model_data_url:
        container["ModelDataUrl"] = model_data_url
    return {
        "ModelName": name,
        "ModelArn": f"arn:aws:sagemaker:us-east-1:123456789012:model/{name}",
        "PrimaryContainer": container,
        "ExecutionRoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
    }


def build_wheel(directory: Path, name: str = "tinydep", version: str = "1.0", value: int = 42) -> Path:
    """A minimal pure-Python wheel (no build step, no index needed) defining ``VALUE``."""
    directory.mkdir(parents=True, exist_ok=True)
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VALUE = {value}\n",
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: smflow-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record_lines = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record_lines.append(f"{path},sha256={digest},{len(text.encode())}")
    record_lines.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = "\n".join(record_lines) + "\n"
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel
