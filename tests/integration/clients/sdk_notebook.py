"""The calls of the SageMaker Python SDK v2's Scikit-Learn Iris notebook, with the SDK's defaults,
against the runtime at ``AWS_ENDPOINT_URL``; run by the SDK's own interpreter.

Input (JSON on stdin): ``{"bucket", "entry_point", "data_dir", "features", "role"}``; ``features``
is the list of the test rows. Prints one JSON line: each step's duration in seconds, the
predictions of both endpoints, the transform's output and the names it used.
"""

import json
import os
import sys
import time

import boto3
import sagemaker
from sagemaker.sklearn.estimator import SKLearn
from sagemaker.sklearn.model import SKLearnModel

args = json.loads(sys.stdin.read())
steps = {}
began = time.perf_counter()


def step(name, mark):
    steps[name] = round(time.perf_counter() - mark, 3)
    return time.perf_counter()


mark = time.perf_counter()
session = sagemaker.Session(boto3.session.Session(), default_bucket=args["bucket"])
train_input = session.upload_data(args["data_dir"], key_prefix="scikit-iris/data")
mark = step("upload_data", mark)

sklearn = SKLearn(entry_point=args["entry_point"], framework_version="1.2-1", instance_type="ml.c4.xlarge",
                  role=args["role"], sagemaker_session=session, hyperparameters={"max_leaf_nodes": 30})
sklearn.fit({"train": train_input})
job_name = sklearn.latest_training_job.name
mark = step("fit", mark)

attached = SKLearn.attach(job_name, sagemaker_session=session)
mark = step("attach", mark)

predictor = attached.deploy(initial_instance_count=1, instance_type="ml.m4.xlarge")
mark = step("deploy", mark)
predictions = predictor.predict(args["features"]).tolist()
mark = step("predict", mark)

model = SKLearnModel(model_data=attached.model_data, role=args["role"], entry_point=args["entry_point"],
                     framework_version="1.2-1", sagemaker_session=session)
second = model.deploy(initial_instance_count=1, instance_type="ml.m4.xlarge")
second_predictions = second.predict(args["features"]).tolist()
mark = step("deploy_model_data", mark)

predictor.delete_endpoint()
second.delete_endpoint()
mark = step("delete", mark)

batch_input = session.upload_data(os.path.join(args["data_dir"], "..", "batch"), key_prefix="scikit-iris/batch")
transformer = attached.transformer(instance_count=2, instance_type="ml.m4.xlarge")
transformer.transform(batch_input, content_type="text/csv")
transformer.wait()
output_prefix = transformer.output_path
s3 = boto3.client("s3")
bucket, _, prefix = output_prefix[len("s3://"):].partition("/")
outputs = {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read().decode()
           for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])}
mark = step("transform", mark)

print(json.dumps({"steps": steps, "seconds": round(time.perf_counter() - began, 3),
                  "predictions": predictions, "second_predictions": second_predictions,
                  "job_name": job_name, "endpoint_name": predictor.endpoint_name,
                  "transform_job_name": transformer.latest_transform_job.name,
                  "transform_outputs": outputs}))
