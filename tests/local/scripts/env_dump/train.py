"""Writes what the training contract gave it (arguments, SM_* variables, job variables) to
model_dir/received.json, and one file to the output data folder."""

import json
import os
import sys

if __name__ == "__main__":
    received = {
        "argv": sys.argv[1:],
        "cwd": os.getcwd(),
        "sm_env": {key: value for key, value in os.environ.items() if key.startswith("SM_")},
        "job_env": {
            key: os.environ.get(key)
            for key in (
                "TRAINING_JOB_NAME",
                "TRAINING_JOB_ARN",
                "SAGEMAKER_BASE_DIR",
                "AWS_ENDPOINT_URL",
                "MY_SETTING",
            )
        },
    }
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "received.json"), "w") as f:
        json.dump(received, f, indent=2)
    with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "notes.txt"), "w") as f:
        f.write("output data\n")
    print("env_dump done")
