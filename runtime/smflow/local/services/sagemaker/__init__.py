"""The local SageMaker API: :mod:`.models` (one class per resource kind: its record, status
transitions and answers), :mod:`.backend` (the operations over them and the executors doing the
work), :mod:`.responses` (JSON 1.1 wire protocol) and :mod:`.exceptions` (errors with their wire
codes)."""
