import re

import pytest

from smflow import naming
from smflow.errors import ConfigurationError

VALID = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


def test_timestamped_name_matches_sdk_format():
    name = naming.timestamped_name("sagemaker-scikit-learn", now=1_700_000_000.123)
    assert name == "sagemaker-scikit-learn-2023-11-14-22-13-20-123"


def test_stable_name_is_deterministic_and_key_sensitive():
    a = naming.stable_name("train", "dag.task.run1")
    assert a == naming.stable_name("train", "dag.task.run1")
    assert a != naming.stable_name("train", "dag.task.run2")
    assert VALID.match(a)


@pytest.mark.parametrize("base", ["x" * 200, "my_dag.train task!", "--", "a" * 62 + "-"])
def test_names_are_always_valid_and_at_most_63_chars(base):
    for name in (naming.timestamped_name(base), naming.stable_name(base, "k"), naming.attempt_name(base * 2 or "x", 12)):
        assert len(name) <= 63
        assert VALID.match(name), name


def test_attempt_names():
    assert naming.attempt_name("job", 1) == "job"
    assert naming.attempt_name("job", 3) == "job-3"
    assert naming.attempt_name("j" * 63, 2) == "j" * 61 + "-2"


def test_validate_name_names_the_field():
    with pytest.raises(ConfigurationError, match="endpoint_name 'bad_name'"):
        naming.validate_name("bad_name", "endpoint_name")
    assert naming.validate_name("good-name-1") == "good-name-1"


def test_base_of_strips_a_timestamp_suffix():
    name = naming.timestamped_name("iris-model", now=1_700_000_000)
    assert naming.base_of(name) == "iris-model"
    assert naming.base_of("iris-model") == "iris-model"
    # a new name from an old one carries one timestamp, not two
    assert naming.timestamped_name(naming.base_of(name), now=1_800_000_000) == "iris-model-2027-01-15-08-00-00-000"
