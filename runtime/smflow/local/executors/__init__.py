"""Executors: what does the work of a SageMaker job or endpoint locally, one module per kind
(:mod:`.training`, :mod:`.transform`, :mod:`.hosting`), on one run lifecycle (:mod:`.base`)."""
