"""Helpers of the local runtime's executors: CloudWatch Logs shipping (:mod:`.cloudwatch`), files
and archives (:mod:`.files`), processes (:mod:`.processes`), HTTP request heads (:mod:`.http11`)."""
