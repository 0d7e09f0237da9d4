"""smflow's local SageMaker-compatible runtime.

One HTTP endpoint (127.0.0.1 by default) that answers the SageMaker, SageMaker Runtime, S3, STS
and CloudWatch Logs APIs, so unmodified AWS clients work with ``AWS_ENDPOINT_URL`` pointed at it.
"""
