"""The local runtime's durable state: SageMaker resources (:mod:`.store`), what becomes of them
after a restart (:mod:`.recovery`), and moto's S3 and CloudWatch Logs state
(:mod:`.moto_persistence`)."""
