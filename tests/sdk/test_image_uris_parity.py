"""``smflow.image_uris.retrieve`` against the SageMaker Python SDK v2's ``sagemaker.image_uris.retrieve``.

For every framework with a registry file: every image scope x version (and alias) x py version x
region x processor it lists, asked with an instance type of that processor and, where the SDK
allows it, with none; the SDK's choices when an argument is left out (scope, version, py_version);
and the SDK's errors. All SDK calls go in one subprocess.
"""

from __future__ import annotations

import pytest

from smflow import frameworks, image_uris

# An instance type per processor (SDK ``_processor``: g*/p* -> gpu, inf* -> inf, trn* -> trn).
INSTANCE_TYPES = {"cpu": "ml.m5.xlarge", "gpu": "ml.p3.2xlarge", "inf": "ml.inf1.xlarge", "trn": "ml.trn1.2xlarge"}
GRAVITON_INSTANCE = "ml.c7g.xlarge"

# The SDK loads botocore's endpoints.json on every call (~0.1 s); one resolver serves the batch.
SDK_RETRIEVE = """
import functools, json, sys
from sagemaker import image_uris, utils
utils._botocore_resolver = functools.lru_cache(maxsize=None)(utils._botocore_resolver)
answers = []
for arguments in json.load(sys.stdin):
    try:
        answers.append({"uri": image_uris.retrieve(**arguments)})
    except ValueError as error:
        answers.append({"error": str(error)})
print(json.dumps(answers))
"""


def _instance_type(processor: str, scope: str) -> str:
    if scope == image_uris.GRAVITON_SCOPE:
        return GRAVITON_INSTANCE
    return INSTANCE_TYPES.get(processor, f"ml.{processor}.xlarge")  # a processor named by its family (p3)


def registry_combinations(framework: str) -> list[dict]:
    """retrieve()'s arguments for every image the registry lists, plus the same without instance type
    when the version has one processor and without py_version when it has one."""
    config = image_uris.config_for_framework(framework)
    cases = []
    for scope in image_uris.image_scopes(config):
        scope_config = config if "scope" in config else config[scope]
        aliases = scope_config.get("version_aliases", {})
        for version, version_config in scope_config["versions"].items():
            py_keyed = "repository" not in version_config
            py_versions = list(version_config) if py_keyed else version_config.get("py_versions") or [None]
            for py_version in py_versions:
                image = version_config[py_version] if py_keyed else version_config
                registries = image.get("registries") or config["registries"]
                processors = scope_config.get("processors") or image.get("processors") or [None]
                requested = [version] + [alias for alias, target in aliases.items() if target == version]
                for region in registries:
                    for processor in processors:
                        for name in requested:
                            base = {"framework": framework, "region": region, "version": name, "image_scope": scope}
                            cases.append({**base, "py_version": py_version,
                                          "instance_type": _instance_type(processor or "cpu", scope)})
                            if len(processors) == 1:
                                cases.append({**base, "py_version": py_version if len(py_versions) > 1 else None})
    return cases


def defaults_and_errors(framework: str) -> list[dict]:
    """The SDK's choices for arguments left out, the arguments it refuses, and its special cases:
    the CUDA suffix of ``ml.p4d.*`` and ``smdistributed`` images, retired ``ml.p2.*``."""
    config = image_uris.config_for_framework(framework)
    scopes = image_uris.image_scopes(config)
    region = next(iter(config.get("registries") or {}), "us-east-1")
    cases = [{"framework": framework, "region": region, "instance_type": "ml.m5.xlarge"}]  # no version, no scope
    for scope in [*scopes, "eia"]:
        cases.append({"framework": framework, "region": region, "image_scope": scope, "instance_type": "ml.m5.xlarge"})
        for version in ("9.9", None):
            for arguments in ({"version": version}, {"version": version, "py_version": "py2"},
                              {"version": version, "region": "mars-1"},
                              {"version": version, "instance_type": "ml.g5.xlarge"},
                              {"version": version, "instance_type": "bogus"},
                              {"version": version, "instance_type": GRAVITON_INSTANCE},
                              {"version": version, "instance_type": "local_gpu"}):
                cases.append({"framework": framework, "region": region, "image_scope": scope, **arguments})
    chosen = frameworks.get(framework)
    for version in chosen.default_version, *_versions(config):
        py_version = chosen.default_py_version(version)  # the version's newest: GPU images below
        for arguments in ({"py_version": "py2"}, {"region": "mars-1"}, {"instance_type": "ml.g5.xlarge"},
                          {"image_scope": None}, {"image_scope": "inference", "instance_type": "ml.m5.large"},
                          {"image_scope": "training", "py_version": "py3", "instance_type": "ml.m5.large"},
                          {"image_scope": "training", "py_version": py_version, "instance_type": "ml.p4d.24xlarge"},
                          {"image_scope": "training", "py_version": py_version, "instance_type": "ml.p2.xlarge"},
                          {"image_scope": "training", "py_version": py_version, "instance_type": "ml.p3.16xlarge",
                           "distribution": {"smdistributed": {"dataparallel": {"enabled": True}}}}):
            cases.append({"framework": framework, "region": region, "version": version, **arguments})
    return cases


def _versions(config: dict) -> list[str]:
    parts = [config] if "scope" in config else [config[scope] for scope in image_uris.image_scopes(config)]
    return sorted({version for part in parts for version in part["versions"]})


def _smflow(arguments: dict) -> dict:
    try:
        return {"uri": image_uris.retrieve(**arguments)}
    except ValueError as error:
        return {"error": str(error)}


@pytest.fixture(scope="module")
def sdk_answers(sagemaker_sdk) -> dict[tuple[str, str], list[tuple[dict, dict]]]:
    """(framework, "registry" | "defaults") -> [(arguments, the SDK's answer)], from one subprocess."""
    groups = {(framework, kind): build(framework) for framework in frameworks.names()
              for kind, build in (("registry", registry_combinations), ("defaults", defaults_and_errors))}
    answers = iter(sagemaker_sdk.run(SDK_RETRIEVE, [case for cases in groups.values() for case in cases]))
    return {key: [(case, next(answers)) for case in cases] for key, cases in groups.items()}


@pytest.mark.parametrize("framework", frameworks.names())
def test_retrieve_gives_the_sdk_image_for_every_registry_entry(sagemaker_sdk, sdk_answers, framework):
    answers = sdk_answers[framework, "registry"]

    different = [(case, _smflow(case), sdk) for case, sdk in answers if _smflow(case) != sdk]
    assert not different, f"{len(different)} of {len(answers)} differ from SDK {sagemaker_sdk.version}: {different[:5]}"
    assert all("uri" in sdk for _, sdk in answers)


@pytest.mark.parametrize("framework", frameworks.names())
def test_retrieve_defaults_and_refusals_are_the_sdks(sagemaker_sdk, sdk_answers, framework):
    """The same image where the SDK gives one, an error where it refuses (the messages differ:
    smflow's name its own argument and the values allowed)."""
    answers = sdk_answers[framework, "defaults"]

    different = [(case, _smflow(case), sdk) for case, sdk in answers
                 if ("uri" in sdk and _smflow(case) != sdk) or ("error" in sdk and "error" not in _smflow(case))]
    assert not different, f"{len(different)} of {len(answers)} differ from SDK {sagemaker_sdk.version}: {different[:5]}"
    assert any("error" in sdk for _, sdk in answers) and any("uri" in sdk for _, sdk in answers)
