"""A training script that fails the way a bad data set does."""

raise ValueError("smflow test: the data has no label column")
