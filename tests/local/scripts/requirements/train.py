"""Imports a package that only requirements.txt provides and records where it came from."""

import json
import os

import joblib
import tinypkg

if __name__ == "__main__":
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "tinypkg.json"), "w") as f:
        json.dump({"greeting": tinypkg.GREETING, "file": tinypkg.__file__, "joblib": joblib.__file__}, f)
    print(tinypkg.GREETING)
