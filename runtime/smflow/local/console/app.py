"""The console's WSGI app: routes, the data each page reads, and the two actions.

Pages (all ``GET``, under ``/console/``): the overview; training jobs (list, detail, and
``log.json``, the log events after a cursor, polled by ``console.js`` while the job runs);
transform jobs (progress by input object); models; endpoints (variants, live instances,
invocation counters of :mod:`.stats`, recent model errors, log); S3 (buckets, a prefix listing,
an object's preview and its download). Everything is read from the runtime's own state: the
SageMaker backend's operations (the same methods the API answers from), and S3 and CloudWatch
Logs through the runtime's own boto3 clients (:class:`smflow.local.support.aws.LocalAws`), so
the console sees what any client sees.

Actions: ``POST .../training-jobs/<name>/stop``, ``.../transform-jobs/<name>/stop`` and
``.../endpoints/<name>/delete``, reached from a confirmation page (``confirm-stop``,
``confirm-delete``) whose form carries a token (an HMAC of the action and the name with a
secret made when the runtime starts). A POST is done only with that token and, when the
browser sends them, an ``Origin`` equal to the page's own and a same-origin ``Sec-Fetch-Site``
(on top of the runtime's Host/Origin checks, :mod:`smflow.local.services.access`). A GET of an
action answers 405; unknown names 404; malformed input (an S3 key that is no key, a bad
cursor) 400: each a page, never a traceback, and nothing changes.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import hmac
import io
import json
import logging
import re
import secrets
from collections.abc import Callable, Iterator
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError
from markupsafe import Markup
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from smflow.local.console import markup as m
from smflow.local.console.markup import PREFIX, TERMINAL, url
from smflow.local.console.stats import InvocationStats
from smflow.local.services.sagemaker.exceptions import SageMakerError

if TYPE_CHECKING:
    from smflow.local.services.sagemaker.backend import SageMakerBackend

logger = logging.getLogger(__name__)

NAME = re.compile(r"^[A-Za-z0-9](-*[A-Za-z0-9]){0,62}$")  # SageMaker resource names
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-_]{1,254}$")
MAX_KEY_BYTES = 1024  # S3's key limit
TOKEN = re.compile(r"^[fb]/-?[0-9]{1,60}$")  # CloudWatch Logs get_log_events tokens (moto's form)
LIST_LIMIT = 500  # resources shown per list page
LOG_TAIL = 5000  # log events shown when a page opens (the newest); the page then follows new ones
LOG_BATCH = 10000  # events per get_log_events call (its maximum)
PREVIEW_BYTES = 64 * 1024  # bytes of an object shown in a preview
PREVIEW_ROWS = 200  # CSV rows shown in a preview
S3_PAGE = 1000  # keys listed per prefix page
TEXT_TYPES = ("text/", "application/json", "application/x-ndjson", "application/jsonlines", "application/csv",
              "application/x-python", "application/xml", "application/x-sh", "application/x-yaml")
TEXT_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".txt", ".out", ".log", ".py", ".md", ".yaml", ".yml",
                 ".xml", ".sh", ".cfg", ".ini", ".toml", ".libsvm")
STATIC = {"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8"}
LOG_GROUPS = {"training-jobs": "/aws/sagemaker/TrainingJobs", "transform-jobs": "/aws/sagemaker/TransformJobs"}
SECURITY_HEADERS = [
    # every asset is the runtime's own; no inline script or style; no framing (the confirmation
    # pages must not be clickjacked)
    ("Content-Security-Policy", ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                                 "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
]


class BadRequest(Exception):
    """Malformed input: a 400 page with this message."""


class Conflict(Exception):
    """An action that does not apply (the job is not running): a 409 page with this message."""


class Console:
    """WSGI app serving the console under ``/console/`` (mount it with :func:`is_console_path`).

    Args:
        backend: the runtime's SageMaker backend (its ``aws`` clients reach S3 and Logs).
        stats: the invocation counters recorded around ``backend.invoke_endpoint``.
        secret: the key of the action tokens (random by default: tokens die with the runtime).
    """

    def __init__(self, backend: SageMakerBackend, stats: InvocationStats | None = None, secret: bytes | None = None):
        self.backend = backend
        self.stats = stats or InvocationStats()
        self._secret = secret or secrets.token_bytes(32)
        rules = [
            Rule("/", endpoint="overview"),
            Rule("/static/<file>", endpoint="static"),
            Rule("/s3", endpoint="buckets"),
            Rule("/s3/<bucket>", endpoint="prefix"),
            Rule("/s3/<bucket>/object", endpoint="object"),
            Rule("/s3/<bucket>/download", endpoint="download"),
            Rule("/models", endpoint="models"),
            Rule("/models/<name>", endpoint="model"),
            Rule("/endpoints", endpoint="endpoints"),
            Rule("/endpoints/<name>", endpoint="endpoint"),
            Rule("/endpoints/<name>/log.json", endpoint="endpoint_log"),
            Rule("/endpoints/<name>/confirm-delete", endpoint="confirm_delete"),
            Rule("/endpoints/<name>/delete", endpoint="delete", methods=["POST"]),
        ]
        for kind in ("training-jobs", "transform-jobs"):
            rules += [
                Rule(f"/{kind}", endpoint="jobs", defaults={"kind": kind}),
                Rule(f"/{kind}/<name>", endpoint="job", defaults={"kind": kind}),
                Rule(f"/{kind}/<name>/log.json", endpoint="job_log", defaults={"kind": kind}),
                Rule(f"/{kind}/<name>/confirm-stop", endpoint="confirm_stop", defaults={"kind": kind}),
                Rule(f"/{kind}/<name>/stop", endpoint="stop", methods=["POST"], defaults={"kind": kind}),
            ]
        self.routes = Map(rules, strict_slashes=False, merge_slashes=False)

    # ------------------------------------------------------------------------------ WSGI --
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        response = self.respond(request)
        for name, value in SECURITY_HEADERS:
            response.headers.setdefault(name, value)
        return response(environ, start_response)

    def respond(self, request: Request) -> Response:
        path = request.path
        if path == PREFIX:
            return _redirect(url())
        adapter = self.routes.bind("console", path_info=path[len(PREFIX):] or "/", url_scheme="http")
        try:
            endpoint, values = adapter.match(method=request.method if request.method != "HEAD" else "GET")
            handler = getattr(self, "page_" + endpoint)
            return handler(request, **values)
        except MethodNotAllowed as error:
            allowed = ", ".join(sorted(error.valid_methods or ["POST"]))
            response = self._error(405, "Method not allowed",
                                   f"{request.method} is not how this is done: this action is a POST from its "
                                   "confirmation page. Nothing was changed.")
            response.headers["Allow"] = allowed
            return response
        except NotFound:
            return self._error(404, "Not found", f"There is no console page at {path}.")
        except _Missing as error:
            return self._error(404, "Not found", str(error))
        except BadRequest as error:
            return self._error(400, "Bad request", str(error))
        except Conflict as error:
            return self._error(409, "Nothing to do", str(error))
        except HTTPException as error:
            return self._error(error.code or 400, error.name, error.description or "")
        except Exception:  # a page, never a traceback
            logger.exception("console page %s failed", path[:300])
            return self._error(500, "Internal error", "The console could not render this page; the runtime's log "
                                                      "has the details. Nothing was changed.")

    def _error(self, status: int, title: str, message: str) -> Response:
        body = Markup('<p class="error">{}</p><p>{}</p>').format(message, m.link(url(), "Back to the overview"))
        return _html(m.page(f"{status} {title}", body), status)

    # ----------------------------------------------------------------------------- data --
    def _list(self, operation: str, key: str, **request: Any) -> list[dict]:
        items: list[dict] = []
        token = None
        while len(items) < LIST_LIMIT:
            answer = getattr(self.backend, operation)(MaxResults=100, SortBy="CreationTime",
                                                      SortOrder="Descending", NextToken=token, **request)
            items += answer[key]
            token = answer.get("NextToken")
            if not token:
                break
        return items[:LIST_LIMIT]

    def _describe(self, operation: str, **request: Any) -> dict:
        name = next(iter(request.values()))
        if not isinstance(name, str) or not NAME.match(name):
            raise _Missing(f"{name[:100]!r} is not a SageMaker resource name, so nothing has it.")
        try:
            return getattr(self.backend, operation)(**request)
        except SageMakerError as error:
            if error.code in ("ValidationException", "ResourceNotFound"):
                raise _Missing(error.message) from None
            raise

    def _s3(self):
        return self.backend.aws.client("s3")

    def _logs(self):
        return self.backend.aws.client("logs")

    def _streams(self, group: str, prefix: str) -> list[str]:
        names: list[tuple[int, str]] = []
        request: dict[str, Any] = {"logGroupName": group}
        if prefix:
            request["logStreamNamePrefix"] = prefix
        try:
            while True:
                answer = self._logs().describe_log_streams(**request)
                names += [(s.get("creationTime", 0), s["logStreamName"]) for s in answer.get("logStreams", [])]
                if not answer.get("nextToken"):
                    break
                request["nextToken"] = answer["nextToken"]
        except ClientError as error:
            if _code(error) == "ResourceNotFoundException":
                return []
            raise
        return [name for _, name in sorted(names)]

    def read_log(self, group: str, prefix: str, cursor: dict[str, str] | None) -> tuple[list[tuple[str, int, str]], dict[str, str]]:
        """Log events of the streams named ``<prefix>...`` in ``group``: with no cursor, the
        newest :data:`LOG_TAIL` of each stream; else those after the cursor (a stream's
        ``nextForwardToken``; streams it does not name are read from their start). Returns
        ``([(stream, timestamp ms, message)], next cursor)``."""
        logs = self._logs()
        events: list[tuple[str, int, str]] = []
        following = cursor is not None
        cursor = dict(cursor or {})
        for stream in self._streams(group, prefix):
            token = cursor.get(stream)
            request: dict[str, Any] = {"logGroupName": group, "logStreamName": stream}
            if not following:
                request.update(startFromHead=False, limit=LOG_TAIL)
            else:
                request.update(startFromHead=True, limit=LOG_BATCH)
                if token:
                    request["nextToken"] = token
            for _ in range(100):  # at most 100 batches per poll; the next poll goes on
                try:
                    answer = logs.get_log_events(**request)
                except ClientError as error:
                    if _code(error) in ("ResourceNotFoundException", "InvalidParameterException"):
                        break
                    raise
                events += [(stream, e.get("timestamp", 0), e.get("message", "")) for e in answer.get("events", [])]
                new_token = answer.get("nextForwardToken")
                if new_token:
                    cursor[stream] = new_token
                if not following or not answer.get("events") or new_token == request.get("nextToken"):
                    break
                request.update(nextToken=new_token, startFromHead=True, limit=LOG_BATCH)
        events.sort(key=lambda e: e[1])
        return events, cursor

    def _log_json(self, request: Request, group: str, prefix: str, status: str | None) -> Response:
        text = request.args.get("cursor", "")
        try:
            cursor = json.loads(text) if text else {}
        except ValueError:
            raise BadRequest("cursor is not JSON: pass back the cursor of the previous answer.") from None
        if not isinstance(cursor, dict) or len(cursor) > 1000 or not all(
                isinstance(k, str) and isinstance(v, str) and TOKEN.match(v) for k, v in cursor.items()):
            raise BadRequest("cursor must map log stream names to the nextForwardToken of the previous answer.")
        events, cursor = self.read_log(group, prefix, cursor)
        body = {"status": status, "terminal": status in TERMINAL or status is None,
                "events": [{"stream": s, "time": m.when(t / 1000), "message": msg} for s, t, msg in events],
                "cursor": cursor}
        return Response(json.dumps(body), mimetype="application/json")

    def _log_view(self, group: str, prefix: str, source: str, status: str | None,
                  read: tuple[list[tuple[str, int, str]], dict[str, str]] | None = None) -> Markup:
        events, cursor = read or self.read_log(group, prefix, None)
        lines = Markup("").join(Markup('<div class="line"><span class="ts">{}</span> {}</div>').format(
            m.when(t / 1000)[11:19], message) for _, t, message in events)
        live = status is not None and status not in TERMINAL
        note = f"Log group {group}, streams {prefix}*" + (" (following while it runs)" if live else "")
        return Markup(
            '<p class="note">{}</p><div id="log" class="log" data-src="{}" data-cursor="{}" data-status="{}" '
            'data-live="{}">{}</div>'
        ).format(note, source, json.dumps(cursor), status or "", "1" if live else "0",
                 lines or Markup('<div class="line empty">No log events yet.</div>'))

    # ---------------------------------------------------------------------- tokens --
    def token(self, action: str, name: str) -> str:
        return hmac.new(self._secret, f"{action}\0{name}".encode(), hashlib.sha256).hexdigest()

    def _check_post(self, request: Request, action: str, name: str) -> None:
        """Raise BadRequest (403 semantics: nothing done) unless the POST came from our form."""
        origin = request.headers.get("Origin")
        host = request.headers.get("Host", "")
        if origin is not None and origin != f"http://{host}":
            raise _Forbidden("The request's Origin is not this console's: nothing was changed.")
        if request.headers.get("Sec-Fetch-Site", "same-origin") != "same-origin":
            raise _Forbidden("The request did not come from this console's page: nothing was changed.")
        given = request.form.get("token", "")
        if not hmac.compare_digest(given.encode(), self.token(action, name).encode()):
            raise _Forbidden("The confirmation token is missing or stale (the runtime restarted?): open the "
                             "confirmation page again. Nothing was changed.")

    # ----------------------------------------------------------------------- pages --
    def page_static(self, request: Request, file: str) -> Response:
        if file not in STATIC:
            raise NotFound()
        data = resources.files("smflow.local.console").joinpath("static", file).read_bytes()
        response = Response(data, content_type=STATIC[file])
        response.headers["Cache-Control"] = "no-cache"
        return response

    def page_overview(self, request: Request) -> Response:
        parts = []
        for title, operation, key, kind, field in (
            ("Training jobs", "list_training_jobs", "TrainingJobSummaries", "training-jobs", "TrainingJob"),
            ("Transform jobs", "list_transform_jobs", "TransformJobSummaries", "transform-jobs", "TransformJob"),
            ("Endpoints", "list_endpoints", "Endpoints", "endpoints", "Endpoint"),
        ):
            items = self._list(operation, key)
            rows = [(m.link(url(kind, i[f"{field}Name"]), i[f"{field}Name"]), m.badge(i.get(f"{field}Status")),
                     m.when(i.get("CreationTime"))) for i in items[:8]]
            more = Markup('<p>{}</p>').format(m.link(url(kind), f"All {len(items)} {title.lower()}"))
            parts.append(m.section(title, m.table(("Name", "Status", "Created"), rows) + more))
        models = self._list("list_models", "Models")
        parts.append(m.section("Models", Markup("<p>{} models. {}</p>").format(
            len(models), m.link(url("models"), "All models"))))
        parts.append(m.section("S3", Markup("<p>{}</p>").format(m.link(url("s3"), "Buckets"))))
        body = Markup('<div class="grid">{}</div>').format(Markup("").join(parts))
        return _html(m.page("Overview", body))

    # -- jobs
    def page_jobs(self, request: Request, kind: str) -> Response:
        field = _field(kind)
        operation = "list_training_jobs" if kind == "training-jobs" else "list_transform_jobs"
        items = self._list(operation, f"{field}Summaries")
        end_field = "TrainingEndTime" if kind == "training-jobs" else "TransformEndTime"
        rows = [(m.link(url(kind, i[f"{field}Name"]), i[f"{field}Name"]), m.badge(i.get(f"{field}Status")),
                 i.get("SecondaryStatus", ""), m.when(i.get("CreationTime")), m.when(i.get(end_field)))
                for i in items]
        headers = ["Name", "Status", "Secondary status", "Created", "Ended"]
        if kind == "transform-jobs":
            rows = [row[:2] + row[3:] for row in rows]
            headers.remove("Secondary status")
        title = "Training jobs" if kind == "training-jobs" else "Transform jobs"
        return _html(m.page(title, m.table(headers, rows, empty=f"No {title.lower()} yet.", id_="items"),
                            active=kind, crumbs=[("Overview", url())]))

    def page_job(self, request: Request, kind: str, name: str) -> Response:
        if kind == "training-jobs":
            return self._training_job(name)
        return self._transform_job(name)

    def page_job_log(self, request: Request, kind: str, name: str) -> Response:
        field = _field(kind)
        operation = "describe_training_job" if kind == "training-jobs" else "describe_transform_job"
        job = self._describe(operation, **{f"{field}Name": name})
        return self._log_json(request, LOG_GROUPS[kind], f"{job[f'{field}Name']}/", job.get(f"{field}Status"))

    def _stop_button(self, kind: str, name: str, status: str | None) -> Markup:
        if status != "InProgress":
            return Markup("")
        return Markup('<p class="actions">{}</p>').format(
            m.link(url(kind, name, "confirm-stop"), "Stop...", class_="button danger", id_="stop"))

    def _training_job(self, name: str) -> Response:
        job = self._describe("describe_training_job", TrainingJobName=name)
        name = job["TrainingJobName"]
        status = job.get("TrainingJobStatus")
        spec = job.get("AlgorithmSpecification") or {}
        resources_ = job.get("ResourceConfig") or {}
        output = (job.get("OutputDataConfig") or {}).get("S3OutputPath")
        model_data = (job.get("ModelArtifacts") or {}).get("S3ModelArtifacts")
        summary = m.fields([
            ("Status", Markup("{} {}").format(m.badge(status), job.get("SecondaryStatus", ""))),
            ("Failure reason", job.get("FailureReason")),
            ("ARN", job.get("TrainingJobArn")),
            ("Created", m.when(job.get("CreationTime"))),
            ("Started", m.when(job.get("TrainingStartTime"))),
            ("Ended", m.when(job.get("TrainingEndTime"))),
            ("Training time", f"{job['TrainingTimeInSeconds']} s" if job.get("TrainingTimeInSeconds") is not None else ""),
            ("Image", spec.get("TrainingImage")),
            ("Input mode", spec.get("TrainingInputMode")),
            ("Instances", f"{resources_.get('InstanceCount', '')} x {resources_.get('InstanceType', '')}"
             if resources_ else ""),
            ("Role", job.get("RoleArn")),
            ("Output path", m.s3_link(output, prefix=True)),
            ("Model artifacts", m.s3_link(model_data)),
            ("Max runtime", f"{(job.get('StoppingCondition') or {}).get('MaxRuntimeInSeconds')} s"
             if (job.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds") else ""),
        ])
        transitions = [(m.badge(t.get("Status")), m.when(t.get("StartTime")), m.when(t.get("EndTime")),
                        m.duration(t.get("StartTime"), t.get("EndTime")), t.get("StatusMessage", ""))
                       for t in job.get("SecondaryStatusTransitions") or []]
        hyper = sorted((job.get("HyperParameters") or {}).items())
        channels = []
        for channel in job.get("InputDataConfig") or []:
            source = (channel.get("DataSource") or {}).get("S3DataSource") or {}
            channels.append((channel.get("ChannelName", ""), m.s3_link(source.get("S3Uri"), prefix=True),
                             source.get("S3DataType", ""), source.get("S3DataDistributionType", ""),
                             channel.get("ContentType", ""), channel.get("InputMode") or spec.get("TrainingInputMode", "")))
        log = self.read_log(LOG_GROUPS["training-jobs"], f"{name}/", None)
        metrics = [(i.get("MetricName", ""), i.get("Value", ""), m.when(i.get("Timestamp")), "FinalMetricDataList")
                   for i in job.get("FinalMetricDataList") or []]
        if not metrics:
            metrics = [(metric, value, m.when(at / 1000), "the log")
                       for metric, (value, at) in log_metrics(spec.get("MetricDefinitions") or [], log[0]).items()]
        definitions = [(d.get("Name", ""), Markup("<code>{}</code>").format(d.get("Regex", "")))
                       for d in spec.get("MetricDefinitions") or []]
        models = [m.link(url("models", i["ModelName"]), i["ModelName"]) for i in self._models_of(model_data)]
        body = Markup("").join([
            self._stop_button("training-jobs", name, status),
            summary,
            Markup("<p>Models from this job: {}</p>").format(Markup(", ").join(models)) if models else Markup(""),
            m.section("Secondary status", m.table(("Status", "Started", "Ended", "Duration", "Message"), transitions,
                                                  id_="timeline")),
            m.section("Hyperparameters", m.table(("Name", "Value"), hyper, empty="No hyperparameters.",
                                                 id_="hyperparameters")),
            m.section("Channels", m.table(("Channel", "S3 URI", "Data type", "Distribution", "Content type",
                                           "Input mode"), channels, empty="No input channels.", id_="channels")),
            m.section("Metrics", m.table(("Metric", "Value", "Time", "From"), metrics,
                                         empty="No metrics (none defined, or none matched yet).", id_="metrics")
                      + (m.table(("Metric definition", "Regex"), definitions) if definitions else Markup(""))),
            m.section("Log", self._log_view(LOG_GROUPS["training-jobs"], f"{name}/",
                                            url("training-jobs", name, "log.json"), status, log)),
        ])
        return _html(m.page(name, body, active="training-jobs",
                            crumbs=[("Overview", url()), ("Training jobs", url("training-jobs"))]))

    def _models_of(self, model_data: str | None) -> list[dict]:
        if not model_data:
            return []
        found = []
        for item in self._list("list_models", "Models")[:100]:
            try:
                model = self.backend.describe_model(ModelName=item["ModelName"])
            except SageMakerError:
                continue
            containers = [model.get("PrimaryContainer") or {}] + list(model.get("Containers") or [])
            if any(c.get("ModelDataUrl") == model_data for c in containers):
                found.append(model)
        return found

    def _transform_job(self, name: str) -> Response:
        job = self._describe("describe_transform_job", TransformJobName=name)
        name = job["TransformJobName"]
        status = job.get("TransformJobStatus")
        source = (((job.get("TransformInput") or {}).get("DataSource") or {}).get("S3DataSource") or {})
        transform_input = job.get("TransformInput") or {}
        output = job.get("TransformOutput") or {}
        resources_ = job.get("TransformResources") or {}
        summary = m.fields([
            ("Status", m.badge(status)),
            ("Failure reason", job.get("FailureReason")),
            ("ARN", job.get("TransformJobArn")),
            ("Model", m.link(url("models", job["ModelName"]), job["ModelName"]) if job.get("ModelName") else ""),
            ("Created", m.when(job.get("CreationTime"))),
            ("Started", m.when(job.get("TransformStartTime"))),
            ("Ended", m.when(job.get("TransformEndTime"))),
            ("Duration", m.duration(job.get("TransformStartTime"), job.get("TransformEndTime"))),
            ("Input", m.s3_link(source.get("S3Uri"), prefix=source.get("S3DataType") != "ManifestFile")),
            ("Content type / split", f"{transform_input.get('ContentType', '')} / {transform_input.get('SplitType', 'None')}"),
            ("Batch strategy", job.get("BatchStrategy")),
            ("Output path", m.s3_link(output.get("S3OutputPath"), prefix=True)),
            ("Accept / assemble with", f"{output.get('Accept', '')} / {output.get('AssembleWith', 'None')}"),
            ("Instances", f"{resources_.get('InstanceCount', '')} x {resources_.get('InstanceType', '')}"),
        ])
        rows, done, total, note = self._transform_progress(job)
        progress = Markup('<p class="progress" id="progress" data-done="{}" data-total="{}">{} of {} objects '
                          'transformed{}</p><progress max="{}" value="{}"></progress>').format(
            done, total, done, total, note, max(total, 1), done)
        body = Markup("").join([
            self._stop_button("transform-jobs", name, status),
            summary,
            m.section("Progress by object", progress + m.table(
                ("Input object", "Size", "Output object", "Output size", "State"), rows,
                empty="No input objects found.", id_="objects")),
            m.section("Log", self._log_view(LOG_GROUPS["transform-jobs"], f"{name}/",
                                            url("transform-jobs", name, "log.json"), status)),
        ])
        attributes = {"data-refresh": "3"} if status not in TERMINAL else None
        return _html(m.page(name, body, active="transform-jobs", body_attributes=attributes,
                            crumbs=[("Overview", url()), ("Transform jobs", url("transform-jobs"))]))

    def _transform_progress(self, job: dict) -> tuple[list[tuple], int, int, str]:
        """One row per input object: its output object (``<S3OutputPath>/<relative key>.out``)
        once uploaded. Read from S3, as the transform executor writes each output when its
        object is done."""
        source = (((job.get("TransformInput") or {}).get("DataSource") or {}).get("S3DataSource") or {})
        uri, output_path = source.get("S3Uri") or "", (job.get("TransformOutput") or {}).get("S3OutputPath") or ""
        if not uri.startswith("s3://") or not output_path.startswith("s3://"):
            return [], 0, 0, ""
        bucket, _, prefix = uri[5:].partition("/")
        out_bucket, _, out_prefix = output_path[5:].partition("/")
        out_prefix = out_prefix.rstrip("/") + "/" if out_prefix else ""
        try:
            if source.get("S3DataType") == "ManifestFile":
                return [], 0, 0, " (a manifest job: see the output path)"
            inputs = list(self._objects(bucket, prefix, limit=S3_PAGE))
            outputs = {o["Key"]: o for o in self._objects(out_bucket, out_prefix, limit=10 * S3_PAGE)}
        except ClientError as error:
            return [], 0, 0, f" (S3 answered {_code(error)})"
        from smflow.local.executors.transform import relative_name

        status = job.get("TransformJobStatus")
        rows, done = [], 0
        for item in inputs:
            if item["Key"].endswith("/"):
                continue
            out_key = out_prefix + relative_name(item["Key"], prefix) + ".out"
            produced = outputs.get(out_key)
            if produced is not None:
                done += 1
                state = "Transformed"
            else:
                state = {"InProgress": "Waiting or in progress", "Stopping": "Stopping"}.get(
                    status, "Not transformed")
            rows.append((m.link(url("s3", bucket, "object", key=item["Key"]), item["Key"]), m.size(item["Size"]),
                         m.link(url("s3", out_bucket, "object", key=out_key), out_key) if produced else out_key,
                         m.size(produced["Size"]) if produced else "", state))
        return rows, done, len(rows), ""

    def _objects(self, bucket: str, prefix: str, limit: int) -> Iterator[dict]:
        request = {"Bucket": bucket, "Prefix": prefix}
        seen = 0
        while seen < limit:
            answer = self._s3().list_objects_v2(**request)
            for item in answer.get("Contents", []):
                seen += 1
                yield item
            if not answer.get("IsTruncated"):
                return
            request["ContinuationToken"] = answer["NextContinuationToken"]

    def page_confirm_stop(self, request: Request, kind: str, name: str) -> Response:
        field = _field(kind)
        operation = "describe_training_job" if kind == "training-jobs" else "describe_transform_job"
        job = self._describe(operation, **{f"{field}Name": name})
        name, status = job[f"{field}Name"], job.get(f"{field}Status")
        what = "training job" if kind == "training-jobs" else "transform job"
        if status != "InProgress":
            raise Conflict(f"The {what} {name} is {status}: only a job in progress can be stopped. Nothing was changed.")
        consequence = ("Its process is stopped (SIGTERM, then SIGKILL); it ends Stopped, and the model artifacts "
                       "written so far are uploaded." if kind == "training-jobs" else
                       "Its model servers are stopped; it ends Stopped. Outputs already uploaded stay.")
        return self._confirm(f"Stop {what} {name}?", consequence, url(kind, name, "stop"),
                             self.token("stop", f"{kind}/{name}"), "Stop", url(kind, name),
                             [("Overview", url()), (m.NAV[0][0] if kind == "training-jobs" else m.NAV[1][0], url(kind)),
                              (name, url(kind, name))], kind)

    def page_stop(self, request: Request, kind: str, name: str) -> Response:
        field = _field(kind)
        job = self._describe("describe_training_job" if kind == "training-jobs" else "describe_transform_job",
                             **{f"{field}Name": name})
        name = job[f"{field}Name"]
        self._check_post(request, "stop", f"{kind}/{name}")
        if job.get(f"{field}Status") != "InProgress":
            raise Conflict(f"{name} is {job.get(f'{field}Status')}: only a job in progress can be stopped. "
                           "Nothing was changed.")
        if kind == "training-jobs":
            self.backend.stop_training_job(TrainingJobName=name)
        else:
            self.backend.stop_transform_job(TransformJobName=name)
        return _redirect(url(kind, name))

    def _confirm(self, question: str, consequence: str, action: str, token: str, verb: str, cancel: str,
                 crumbs: list[tuple[str, str]], active: str) -> Response:
        body = Markup(
            '<form method="post" action="{}" class="confirm"><p>{}</p><input type="hidden" name="token" value="{}">'
            '<button type="submit" class="button danger" id="confirm">{}</button> {}</form>'
        ).format(action, consequence, token, verb, m.link(cancel, "Cancel", class_="button", id_="cancel"))
        return _html(m.page(question, body, active=active, crumbs=crumbs))

    # -- models
    def page_models(self, request: Request) -> Response:
        items = self._list("list_models", "Models")
        rows = [(m.link(url("models", i["ModelName"]), i["ModelName"]), m.when(i.get("CreationTime"))) for i in items]
        return _html(m.page("Models", m.table(("Name", "Created"), rows, empty="No models yet.", id_="items"),
                            active="models", crumbs=[("Overview", url())]))

    def page_model(self, request: Request, name: str) -> Response:
        model = self._describe("describe_model", ModelName=name)
        name = model["ModelName"]
        containers = [model["PrimaryContainer"]] if model.get("PrimaryContainer") else list(model.get("Containers") or [])
        parts = [m.fields([("ARN", model.get("ModelArn")), ("Created", m.when(model.get("CreationTime"))),
                           ("Role", model.get("ExecutionRoleArn"))])]
        for index, container in enumerate(containers):
            environment = sorted((container.get("Environment") or {}).items())
            job = _job_of(container.get("ModelDataUrl"))
            trained = ""
            if job:
                try:
                    self.backend.describe_training_job(TrainingJobName=job)
                    trained = m.link(url("training-jobs", job), job)
                except SageMakerError:
                    trained = ""
            parts.append(m.section(f"Container {index + 1}" if len(containers) > 1 else "Container", m.fields([
                ("Image", container.get("Image")),
                ("Model data", m.s3_link(container.get("ModelDataUrl"))),
                ("Training job", trained),
                ("Mode", container.get("Mode")),
            ]) + m.table(("Environment variable", "Value"), environment, empty="No environment variables.")))
        endpoints = []
        for item in self._list("list_endpoints", "Endpoints"):
            try:
                described = self.backend.describe_endpoint(EndpointName=item["EndpointName"])
                record_variants = self.backend.store.get("Endpoint", item["EndpointName"]) or {}
            except SageMakerError:
                continue
            served = [v["Variant"].get("ModelName") for v in record_variants.get("_Variants") or []]
            if name in served:
                endpoints.append((m.link(url("endpoints", described["EndpointName"]), described["EndpointName"]),
                                  m.badge(described.get("EndpointStatus"))))
        parts.append(m.section("Endpoints serving it", m.table(("Endpoint", "Status"), endpoints,
                                                               empty="No endpoint serves this model.")))
        return _html(m.page(name, Markup("").join(parts), active="models",
                            crumbs=[("Overview", url()), ("Models", url("models"))]))

    # -- endpoints
    def page_endpoints(self, request: Request) -> Response:
        items = self._list("list_endpoints", "Endpoints")
        rows = []
        for item in items:
            stats = self.stats.snapshot(item["EndpointName"])
            rows.append((m.link(url("endpoints", item["EndpointName"]), item["EndpointName"]),
                         m.badge(item.get("EndpointStatus")), stats.invocations, stats.errors,
                         m.when(item.get("CreationTime"))))
        return _html(m.page("Endpoints", m.table(("Name", "Status", "Invocations", "Model errors", "Created"), rows,
                                                 empty="No endpoints yet.", id_="items"),
                            active="endpoints", crumbs=[("Overview", url())]))

    def page_endpoint(self, request: Request, name: str) -> Response:
        endpoint = self._describe("describe_endpoint", EndpointName=name)
        name, status = endpoint["EndpointName"], endpoint.get("EndpointStatus")
        record = self.backend.store.get("Endpoint", name) or {}
        summary = m.fields([
            ("Status", m.badge(status)),
            ("Failure reason", endpoint.get("FailureReason")),
            ("ARN", endpoint.get("EndpointArn")),
            ("Endpoint configuration", endpoint.get("EndpointConfigName")),
            ("Created", m.when(endpoint.get("CreationTime"))),
            ("Last modified", m.when(endpoint.get("LastModifiedTime"))),
            ("Invoke", Markup("<code>POST {}</code>").format(f"/endpoints/{name}/invocations")),
        ])
        stats = self.stats.snapshot(name)
        counts = {v.get("VariantName"): v for v in endpoint.get("ProductionVariants") or []}
        variants = []
        for item in record.get("_Variants") or []:
            variant = item.get("Variant") or {}
            variant_name = variant.get("VariantName", "")
            current = counts.get(variant_name, {})
            model_name = variant.get("ModelName", "")
            variants.append((variant_name, m.link(url("models", model_name), model_name) if model_name else "",
                             variant.get("InstanceType") or ("serverless" if "ServerlessConfig" in variant else ""),
                             current.get("CurrentInstanceCount", variant.get("InitialInstanceCount", "")),
                             current.get("CurrentWeight", variant.get("InitialVariantWeight", "")),
                             stats.variants.get(variant_name, 0)))
        instances = [(server_label, pid, port, "running" if alive else "exited")
                     for server_label, pid, port, alive in self._instances(name)]
        latency = [("Invocations", stats.invocations), ("Model errors", stats.errors),
                   ("Mean latency", _ms(stats.mean_ms)), ("p50 latency", _ms(stats.p50_ms)),
                   ("p99 latency", _ms(stats.p99_ms)), ("Max latency", _ms(stats.max_ms)),
                   ("Last invocation", m.when(stats.last_time))]
        errors = [(m.when(at), code if code is not None else "", message) for at, code, message in stats.recent_errors]
        delete = Markup("")
        if status != "Deleting":
            delete = Markup('<p class="actions">{}</p>').format(
                m.link(url("endpoints", name, "confirm-delete"), "Delete...", class_="button danger", id_="delete"))
        body = Markup("").join([
            delete, summary,
            m.section("Variants", m.table(("Variant", "Model", "Instance type", "Instances", "Weight", "Invocations"),
                                          variants, id_="variants")),
            m.section("Instances", m.table(("Instance", "Process", "Port", "State"), instances, id_="instances",
                                           empty="No model server is running for this endpoint.")),
            m.section("Invocations since the runtime started", Markup('<div id="invocations">{}</div>').format(
                m.fields([(k, v if v not in ("", None) else "-") for k, v in latency]))),
            m.section("Recent model errors", m.table(("Time", "Status", "Message"), errors, id_="model-errors",
                                                     empty="No model errors.")),
            m.section("Log", self._log_view(f"/aws/sagemaker/Endpoints/{name}", "", url("endpoints", name, "log.json"),
                                            status if status in ("Creating", "Updating", "InService", "SystemUpdating",
                                                                 "RollingBack", "Deleting") else None)),
        ])
        return _html(m.page(name, body, active="endpoints",
                            crumbs=[("Overview", url()), ("Endpoints", url("endpoints"))]))

    def _instances(self, name: str) -> list[tuple[str, int | None, int | None, bool]]:
        """The live model servers of an endpoint's active deployment (empty when none)."""
        states = getattr(self.backend, "_endpoints", {})  # the backend's live endpoints (hook: read-only)
        state = states.get(name.lower())
        live = getattr(state, "active", None) or getattr(state, "pending", None)
        deployment = getattr(live, "deployment", None)
        servers = getattr(deployment, "servers", None) or []
        result = []
        for server in servers:
            try:
                result.append((server.label, server.pid, server.port, server.is_alive()))
            except Exception:  # a server being replaced
                logger.debug("model server %r not readable", server, exc_info=True)
        return result

    def page_endpoint_log(self, request: Request, name: str) -> Response:
        endpoint = self._describe("describe_endpoint", EndpointName=name)
        status = endpoint.get("EndpointStatus")
        return self._log_json(request, f"/aws/sagemaker/Endpoints/{endpoint['EndpointName']}", "",
                              None if status in ("Failed", "OutOfService") else status)

    def page_confirm_delete(self, request: Request, name: str) -> Response:
        endpoint = self._describe("describe_endpoint", EndpointName=name)
        name = endpoint["EndpointName"]
        if endpoint.get("EndpointStatus") == "Deleting":
            raise Conflict(f"The endpoint {name} is being deleted already. Nothing was changed.")
        return self._confirm(
            f"Delete endpoint {name}?",
            "Its model servers stop and InvokeEndpoint answers ValidationError from then on. Its endpoint "
            "configuration and models stay (delete them with the API).",
            url("endpoints", name, "delete"), self.token("delete", f"endpoints/{name}"), "Delete",
            url("endpoints", name), [("Overview", url()), ("Endpoints", url("endpoints")), (name, url("endpoints", name))],
            "endpoints")

    def page_delete(self, request: Request, name: str) -> Response:
        endpoint = self._describe("describe_endpoint", EndpointName=name)
        name = endpoint["EndpointName"]
        self._check_post(request, "delete", f"endpoints/{name}")
        if endpoint.get("EndpointStatus") != "Deleting":
            self.backend.delete_endpoint(EndpointName=name)
            self.stats.forget(name)
        return _redirect(url("endpoints"))

    # -- S3
    def page_buckets(self, request: Request) -> Response:
        buckets = self._s3().list_buckets().get("Buckets", [])
        rows = [(m.link(url("s3", b["Name"]), b["Name"]), m.when(b.get("CreationDate"))) for b in buckets]
        return _html(m.page("S3 buckets", m.table(("Bucket", "Created"), rows, empty="No buckets yet.", id_="items"),
                            active="s3", crumbs=[("Overview", url())]))

    def _bucket(self, bucket: str) -> str:
        if not BUCKET.match(bucket) or ".." in bucket:
            raise _Missing(f"{bucket[:100]!r} is not a bucket name, so there is no such bucket.")
        return bucket

    def page_prefix(self, request: Request, bucket: str) -> Response:
        bucket = self._bucket(bucket)
        prefix = _key(request.args.get("prefix", ""), allow_empty=True)
        after = _key(request.args.get("after", ""), allow_empty=True)
        query: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "Delimiter": "/", "MaxKeys": S3_PAGE}
        if after:
            query["StartAfter"] = after
        try:
            answer = self._s3().list_objects_v2(**query)
        except ClientError as error:
            if _code(error) == "NoSuchBucket":
                raise _Missing(f"There is no bucket {bucket}.") from None
            raise
        rows = [(m.link(url("s3", bucket, prefix=p["Prefix"]), p["Prefix"][len(prefix):]), "folder", "", "", "")
                for p in answer.get("CommonPrefixes", [])]
        for item in answer.get("Contents", []):
            key = item["Key"]
            rows.append((m.link(url("s3", bucket, "object", key=key), key[len(prefix):] or key), "object",
                         m.size(item.get("Size")), m.when(item.get("LastModified")),
                         m.link(url("s3", bucket, "download", key=key), "Download")))
        more = Markup("")
        if answer.get("IsTruncated"):
            last = (answer.get("Contents") or [{}])[-1].get("Key") or (answer.get("CommonPrefixes") or [{}])[-1].get("Prefix")
            more = Markup("<p>{}</p>").format(m.link(url("s3", bucket, prefix=prefix or None, after=last), "Next page"))
        crumbs = [("Overview", url()), ("S3", url("s3")), (bucket, url("s3", bucket))]
        parts = prefix.split("/")[:-1]
        for index in range(len(parts) - 1):
            partial = "/".join(parts[: index + 1]) + "/"
            crumbs.append((parts[index] + "/", url("s3", bucket, prefix=partial)))
        title = f"s3://{bucket}/{prefix}"
        return _html(m.page(title, m.table(("Name", "Kind", "Size", "Last modified", ""), rows,
                                           empty="Nothing under this prefix.", id_="items") + more,
                            active="s3", crumbs=crumbs))

    def _head(self, bucket: str, key: str) -> dict:
        try:
            return self._s3().head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if _code(error) in ("404", "NoSuchKey", "NoSuchBucket", "NotFound"):
                raise _Missing(f"There is no object s3://{bucket}/{key}.") from None
            raise

    def page_object(self, request: Request, bucket: str) -> Response:
        bucket = self._bucket(bucket)
        key = _key(request.args.get("key", ""))
        head = self._head(bucket, key)
        content_type = head.get("ContentType") or ""
        info = m.fields([
            ("URI", f"s3://{bucket}/{key}"), ("Size", f"{m.size(head.get('ContentLength'))} ({head.get('ContentLength')} bytes)"),
            ("Content type", content_type), ("Last modified", m.when(head.get("LastModified"))),
            ("ETag", head.get("ETag")),
            ("Metadata", Markup("<br>").join(Markup("{}: {}").format(k, v) for k, v in (head.get("Metadata") or {}).items())),
            ("", m.link(url("s3", bucket, "download", key=key), "Download", class_="button", id_="download")),
        ])
        preview = self._preview(bucket, key, content_type, head.get("ContentLength") or 0)
        folder = key.rsplit("/", 1)[0] + "/" if "/" in key else None
        crumbs = [("Overview", url()), ("S3", url("s3")), (bucket, url("s3", bucket))]
        if folder:
            crumbs.append((folder, url("s3", bucket, prefix=folder)))
        return _html(m.page(key.rsplit("/", 1)[-1] or key, info + m.section("Preview", preview), active="s3",
                            crumbs=crumbs))

    def _preview(self, bucket: str, key: str, content_type: str, length: int) -> Markup:
        lowered = key.lower()
        textual = content_type.startswith(TEXT_TYPES) or lowered.endswith(TEXT_SUFFIXES)
        if not textual:
            return Markup('<p class="empty">No preview for {} objects: download it.</p>').format(
                content_type or "binary")
        if length == 0:
            return Markup('<p class="empty">The object is empty.</p>')
        answer = self._s3().get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{PREVIEW_BYTES - 1}")
        data = answer["Body"].read(PREVIEW_BYTES)
        if b"\0" in data[:8192]:
            return Markup('<p class="empty">This object holds binary data: download it.</p>')
        text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(data)
        cut = length > len(data)
        note = Markup('<p class="note">The first {} of {}.</p>').format(m.size(len(data)), m.size(length)) \
            if cut else Markup("")
        if lowered.endswith((".csv", ".tsv", ".out")) or "csv" in content_type:
            delimiter = "\t" if lowered.endswith(".tsv") else ","
            lines = text.splitlines()
            if cut and lines:
                lines = lines[:-1]  # the last line may be cut
            rows = list(csv.reader(io.StringIO("\n".join(lines[:PREVIEW_ROWS])), delimiter=delimiter))
            if rows and all(len(r) == len(rows[0]) for r in rows) and len(rows[0]) > 1:
                header = [f"{i}" for i in range(len(rows[0]))]
                shown = Markup('<p class="note">{} rows shown{}.</p>').format(
                    len(rows), "" if len(lines) <= PREVIEW_ROWS else f" of {len(lines)}+")
                return note + shown + m.table(header, rows, id_="preview")
        if (lowered.endswith(".json") or "json" in content_type) and not cut:
            try:
                text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
            except ValueError:
                pass
        return note + Markup('<pre id="preview">{}</pre>').format(text)

    def page_download(self, request: Request, bucket: str) -> Response:
        bucket = self._bucket(bucket)
        key = _key(request.args.get("key", ""))
        self._head(bucket, key)
        try:
            answer = self._s3().get_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if _code(error) in ("NoSuchKey", "NoSuchBucket"):
                raise _Missing(f"There is no object s3://{bucket}/{key}.") from None
            raise
        body = answer["Body"]
        filename = key.rsplit("/", 1)[-1] or "object"
        ascii_name = re.sub(r'[^A-Za-z0-9._-]', "_", filename)[:150] or "object"
        response = Response(_chunks(body), content_type="application/octet-stream", direct_passthrough=True)
        response.headers["Content-Disposition"] = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
        if answer.get("ContentLength") is not None:
            response.headers["Content-Length"] = str(answer["ContentLength"])
        return response


class _Missing(Exception):
    """A 404 page with this message."""


class _Forbidden(HTTPException):
    code = 403
    name = "Refused"


def _chunks(body: Any, size: int = 1024 * 1024) -> Iterator[bytes]:
    try:
        while True:
            chunk = body.read(size)
            if not chunk:
                return
            yield chunk
    except (BotoCoreError, OSError):
        logger.warning("an S3 download was cut short", exc_info=True)
    finally:
        body.close()


def _field(kind: str) -> str:
    return "TrainingJob" if kind == "training-jobs" else "TransformJob"


def _code(error: ClientError) -> str:
    return str((error.response.get("Error") or {}).get("Code", ""))


def _key(value: str, allow_empty: bool = False) -> str:
    """An S3 key (or prefix) from a query parameter. Raises BadRequest for what no S3 key can be:
    empty, over 1024 bytes in UTF-8, or holding control characters."""
    if not value and allow_empty:
        return ""
    if not value:
        raise BadRequest("Name the object with ?key=<key>.")
    if len(value.encode("utf-8", errors="surrogatepass")) > MAX_KEY_BYTES:
        raise BadRequest(f"An S3 key holds at most {MAX_KEY_BYTES} bytes.")
    if any(ord(c) < 32 or ord(c) == 127 or 0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise BadRequest("An S3 key cannot hold control characters.")
    return value


def log_metrics(definitions: list[dict], events: list[tuple[str, int, str]]) -> dict[str, tuple[float, int]]:
    """The last value of each metric definition's ``Regex`` (its first group) in the log events:
    ``{Name: (value, timestamp ms)}``. SageMaker reads a training job's metrics from its log in
    the same way (MetricDefinitions in the CreateTrainingJob API reference); the local runtime
    does not fill FinalMetricDataList, so the console shows what the log says."""
    found: dict[str, tuple[float, int]] = {}
    patterns = []
    for definition in definitions:
        try:
            patterns.append((definition.get("Name", ""), re.compile(definition.get("Regex", ""))))
        except re.error:
            continue
    for _, timestamp, message in events:
        for metric, pattern in patterns:
            for match in pattern.finditer(message):
                try:
                    found[metric] = (float(match.group(1) if pattern.groups else match.group(0)), timestamp)
                except (ValueError, IndexError):
                    continue
    return found


def _job_of(model_data: str | None) -> str | None:
    """The training job of ``s3://.../<job>/output/model.tar.gz`` (SageMaker's output layout)."""
    if not model_data or not model_data.endswith("/output/model.tar.gz"):
        return None
    job = model_data[: -len("/output/model.tar.gz")].rsplit("/", 1)[-1]
    return job if NAME.match(job) else None


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.1f} ms"


def _html(text: str, status: int = 200) -> Response:
    return Response(text, status=status, content_type="text/html; charset=utf-8")


def _redirect(location: str) -> Response:
    return Response("", status=303, headers={"Location": location})


def is_console_path(environ: dict[str, Any]) -> bool:
    """True for a request the console answers: a path ``/console`` or under ``/console/``, not
    signed for AWS (a bucket named ``console`` stays reachable with signed S3 requests and
    presigned URLs)."""
    path = environ.get("PATH_INFO", "")
    if path != PREFIX and not path.startswith(PREFIX + "/"):
        return False
    if environ.get("HTTP_AUTHORIZATION") or environ.get("HTTP_X_AMZ_TARGET"):
        return False
    return "X-Amz-Signature=" not in environ.get("QUERY_STRING", "")


def wants_console(environ: dict[str, Any]) -> bool:
    """A browser opening the runtime's root URL (unsigned ``GET /`` asking for HTML), which is
    sent to the console instead of S3's ListBuckets XML."""
    return (environ.get("PATH_INFO") == "/" and environ.get("REQUEST_METHOD") == "GET"
            and not environ.get("QUERY_STRING") and not environ.get("HTTP_AUTHORIZATION")
            and "text/html" in environ.get("HTTP_ACCEPT", ""))


def redirect_to_console(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("302 Found", [("Location", url()), ("Content-Length", "0")])
    return [b""]
