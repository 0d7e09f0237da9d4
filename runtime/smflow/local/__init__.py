"""smflow's local SageMaker-compatible runtime.

One HTTP endpoint (127.0.0.1 by default) that answers the SageMaker, SageMaker Runtime, S3, STS
and CloudWatch Logs APIs, so unmodified AWS clients work with ``AWS_ENDPOINT_URL`` pointed at it.

- :mod:`.server` composes the WSGI apps and serves them; :mod:`.launcher` runs it in the
  background (``smflow local up/down/status``);
- :mod:`.services` holds the services it implements itself (SageMaker, SageMaker Runtime), each
  a state model apart from its wire protocol; S3, STS and CloudWatch Logs are moto's;
- :mod:`.state` keeps the state on disk and decides what a restart does to it;
- the executors (:mod:`.training`, :mod:`.transform`, :mod:`.hosting`) do the work.
"""
