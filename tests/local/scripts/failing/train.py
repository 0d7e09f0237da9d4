"""Fails the way a broken training script does: an exception after some output.

With ``--long-message 1`` the exception message is a few thousand characters long.
"""

import argparse


def load_data(path, long_message):
    detail = "x" * 3000 + " " if long_message else ""
    raise ValueError("{}No training data found under {}: check the 'train' channel".format(detail, path))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--long-message", type=int, default=0)
    args, _ = parser.parse_known_args()
    print("starting to train")
    load_data("/nonexistent/train", args.long_message)
