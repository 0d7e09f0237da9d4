"""An AWS that answers from memory, for capturing the requests a client sends: no network.

:func:`record_calls` registers botocore event hooks on a boto3 session: every API call's
parameters are recorded (``before-parameter-build``, i.e. what the caller passed, before
serialization) and answered (``before-call``, the hook botocore's own ``Stubber`` uses) with a
response shaped as the API reference's: S3 keeps the objects put, SageMaker's Describe* answer
from the Create* request of the same name (Completed / InService), STS and IAM name account
``123456789012``. Used on both sides of the request-parity suite: in the SageMaker Python SDK's
own interpreter (this module imports only botocore and the standard library) and in smflow's.
"""

from __future__ import annotations

import io
import tarfile
from datetime import datetime, timezone

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.response import StreamingBody

ACCOUNT = "123456789012"


def model_archive() -> bytes:
    """A model.tar.gz holding one file (what a training job would leave)."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:
        payload = b"weights"
        info = tarfile.TarInfo("model.bin")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    return data.getvalue()


class FakeAws:
    """The recorded calls (``calls``: ``[(service, operation, params)]``) and the state answering them."""

    def __init__(self, region: str):
        self.region = region
        self.calls: list[tuple[str, str, dict]] = []
        self.objects: dict[tuple[str, str], bytes] = {}
        self.created: dict[tuple[str, str], dict] = {}  # (kind, name) -> Create* params

    def attach(self, boto_session) -> None:
        events = boto_session.events
        events.register_first("before-parameter-build.*.*", self._record)
        events.register_first("before-call.*.*", self._answer)

    def _record(self, params, model, **_):
        self.calls.append((model.service_model.service_name, model.name, _plain(params)))

    def _answer(self, model, params, **_):
        service, operation = model.service_model.service_name, model.name
        api = self.calls[-1][2] if self.calls and self.calls[-1][1] == operation else {}
        return AWSResponse(None, 200, {}, None), self.respond(service, operation, api)

    def respond(self, service: str, operation: str, params: dict) -> dict:
        arn = f"arn:aws:{service}:{self.region}:{ACCOUNT}"
        if operation == "GetCallerIdentity":
            return {"Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/tester", "UserId": "tester"}
        if operation == "GetRole":
            name = params["RoleName"]
            return {"Role": {"RoleName": name, "Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}", "Path": "/",
                             "RoleId": "AROA", "CreateDate": datetime(2020, 1, 1, tzinfo=timezone.utc),
                             "AssumeRolePolicyDocument": "{}"}}
        if service == "s3":
            return self._s3(operation, params)
        if service == "sagemaker":
            return self._sagemaker(operation, params, arn)
        return {}

    def _s3(self, operation: str, params: dict) -> dict:
        key = (params.get("Bucket"), params.get("Key"))
        if operation == "PutObject":
            body = params.get("Body", b"")
            self.objects[key] = body.read() if hasattr(body, "read") else bytes(body or b"")
            return {"ETag": '"0"'}
        if operation in ("HeadObject", "GetObject"):
            data = self.objects.get(key, model_archive() if str(key[1]).endswith("model.tar.gz") else None)
            if data is None:
                raise ClientError({"Error": {"Code": "404", "Message": "Not Found"}}, operation)
            answer = {"ContentLength": len(data), "ETag": '"0"', "LastModified": datetime(2020, 1, 1, tzinfo=timezone.utc)}
            if operation == "GetObject":
                answer["Body"] = StreamingBody(io.BytesIO(data), len(data))
            return answer
        if operation == "ListObjectsV2":
            return {"Contents": [], "KeyCount": 0}
        if operation == "ListBuckets":
            return {"Buckets": [{"Name": f"sagemaker-{self.region}-{ACCOUNT}",
                                 "CreationDate": datetime(2020, 1, 1, tzinfo=timezone.utc)}]}
        if operation == "GetBucketLocation":
            return {"LocationConstraint": self.region}
        return {}

    def _sagemaker(self, operation: str, params: dict, arn: str) -> dict:
        kinds = {"TrainingJob": "TrainingJobName", "Model": "ModelName", "EndpointConfig": "EndpointConfigName",
                 "Endpoint": "EndpointName", "TransformJob": "TransformJobName"}
        for kind, field in kinds.items():
            if operation == f"Create{kind}":
                self.created[(kind, params[field])] = params
                return {f"{kind}Arn": f"{arn}:{kind.lower()}/{params[field]}"}
            if operation == f"Describe{kind}":
                found = self.created.get((kind, params[field]))
                if found is None:
                    raise ClientError({"Error": {"Code": "ValidationException",
                                                 "Message": f"Could not find {kind} {params[field]}."}}, operation)
                return self._description(kind, found, arn)
        return {}

    def _description(self, kind: str, request: dict, arn: str) -> dict:
        now = datetime(2020, 1, 1, tzinfo=timezone.utc)
        name = request.get(f"{kind}Name")
        answer = {**request, f"{kind}Arn": f"{arn}:{kind.lower()}/{name}", "CreationTime": now}
        if kind == "TrainingJob":
            output = request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
            answer.update(TrainingJobStatus="Completed", SecondaryStatus="Completed",
                          ModelArtifacts={"S3ModelArtifacts": f"{output}/{name}/output/model.tar.gz"},
                          TrainingStartTime=now, TrainingEndTime=now, LastModifiedTime=now)
        elif kind == "Endpoint":
            answer.update(EndpointStatus="InService", LastModifiedTime=now)
        elif kind == "TransformJob":
            answer.update(TransformJobStatus="Completed")
        answer.pop("Tags", None)
        return answer


def _plain(value):
    """Params as JSON-able data (file objects read as a marker)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if hasattr(value, "read"):
        return value  # an upload's body, read when answered
    return value
