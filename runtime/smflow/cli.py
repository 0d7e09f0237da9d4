"""The ``smflow`` command line.

    smflow local up [--host 127.0.0.1] [--port 9510] [--state-dir DIR]   start in the background
    smflow local down [--state-dir DIR]                                  stop it
    smflow local status [--state-dir DIR]                                is it running, and what it holds
    smflow local serve [--host H] [--port P] [--state-dir DIR]           run in the foreground (containers)

``up`` and ``serve`` also take ``--allow-host NAME[:PORT]`` (repeatable: Host names answered besides
loopback ones) and ``--check-signatures KEYS_FILE`` (refuse requests not signed with one of the key
pairs of an AWS shared-credentials file). Listening beyond loopback needs an explicit ``--host`` and
prints a warning that requests are not authenticated.

The state directory defaults to ``$SMFLOW_STATE_DIR`` or ``~/.smflow/state``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from types import ModuleType

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9510


def _local(module: str) -> ModuleType:
    """``smflow.local.<module>``, imported when a command needs it; without the local runtime's
    packages (``pip install smflow`` alone) the command exits with the install to run instead
    of a traceback."""
    import importlib

    try:
        return importlib.import_module(f"smflow.local.{module}")
    except ModuleNotFoundError as error:
        raise SystemExit(
            f"smflow local needs the local runtime's packages ({error.name} is not installed): "
            "pip install 'smflow[local]'"
        ) from None


def _add_common(parser: argparse.ArgumentParser, with_address: bool) -> None:
    parser.add_argument(
        "--state-dir", type=Path, default=None,
        help="where jobs, models, endpoints and S3 objects are kept (default: $SMFLOW_STATE_DIR or ~/.smflow/state)",
    )
    if with_address:
        parser.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default 9510)")
        parser.add_argument(
            "--allow-host", action="append", default=[], metavar="NAME[:PORT]",
            help="also answer requests whose Host is NAME (repeatable; '*' for any). By default only "
                 "loopback names (localhost, 127.0.0.1, [::1]) with the runtime's port are answered",
        )
        parser.add_argument(
            "--docker-frameworks", action="store_true",
            help="run AWS's own framework images in Docker (images you have pulled) instead of local "
                 "environments, for exact parity; same as SMFLOW_DOCKER_FRAMEWORKS=1",
        )
        parser.add_argument(
            "--check-signatures", metavar="KEYS_FILE", type=Path, default=None,
            help="refuse requests not signed (AWS SigV4) with a key pair of KEYS_FILE, a file in the AWS "
                 "shared-credentials format ([name] sections with aws_access_key_id and aws_secret_access_key)",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smflow", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    local = commands.add_parser("local", help="the local SageMaker-compatible runtime")
    actions = local.add_subparsers(dest="action", required=True)
    _add_common(actions.add_parser("up", help="start the runtime in the background"), True)
    _add_common(actions.add_parser("down", help="stop the background runtime"), False)
    _add_common(actions.add_parser("status", help="show whether the runtime is running"), False)
    _add_common(actions.add_parser("serve", help="run the runtime in the foreground"), True)
    return parser


def _state_dir(args) -> Path:
    return (args.state_dir or _local("launcher").default_state_dir()).resolve()


def _signature_keys(args) -> dict[str, str] | None:
    if args.check_signatures is None:
        return None
    try:
        return _local("services.access").read_keys(args.check_signatures)
    except (OSError, ValueError, KeyError) as error:
        raise SystemExit(f"smflow: --check-signatures {args.check_signatures}: {error}") from None


def local_up(args) -> int:
    launcher = _local("launcher")
    keys_file = None
    if args.check_signatures is not None:
        _signature_keys(args)  # a bad file is reported here, not in the background process's log
        keys_file = args.check_signatures.resolve()
    try:
        info, started = launcher.start_background(_state_dir(args), args.host, args.port,
                                                  allowed_hosts=args.allow_host, keys_file=keys_file,
                                                  docker_frameworks=args.docker_frameworks)
    except launcher.LauncherError as error:
        print(f"smflow: {error}", file=sys.stderr)
        return 1
    warning = _local("server").exposure_warning(args.host, keys_file is not None)
    if warning and started:
        print(warning, file=sys.stderr)
    print(info.url)
    verb = "started" if started else "already running"
    print(f"smflow local runtime {verb} (pid {info.pid}, state in {info.state_dir}); "
          f"point AWS clients at it with: export AWS_ENDPOINT_URL={info.url}", file=sys.stderr)
    return 0


def local_down(args) -> int:
    info = _local("launcher").stop(_state_dir(args))
    if info is None:
        print("smflow local runtime is not running", file=sys.stderr)
    else:
        print(f"stopped smflow local runtime (pid {info.pid}, {info.url})", file=sys.stderr)
    return 0


def local_status(args) -> int:
    state_dir = _state_dir(args)
    info = _local("launcher").read_info(state_dir)
    if info is None:
        print(f"not running (state in {state_dir})")
        return 3
    print(f"running at {info.url} (pid {info.pid}, state in {info.state_dir})")
    from smflow.client import SageMakerClient

    sagemaker = SageMakerClient(endpoint_url=info.url).sagemaker
    counts = {
        "training jobs": len(sagemaker.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]),
        "models": len(sagemaker.list_models(MaxResults=100)["Models"]),
        "endpoints": len(sagemaker.list_endpoints(MaxResults=100)["Endpoints"]),
        "transform jobs": len(sagemaker.list_transform_jobs(MaxResults=100)["TransformJobSummaries"]),
    }
    print(", ".join(f"{count} {kind}" for kind, count in counts.items()))
    return 0


def local_serve(args) -> int:
    import logging

    launcher, serve = _local("launcher"), _local("server").serve
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    state_dir = _state_dir(args)
    pid = os.getpid()
    if args.docker_frameworks:  # read by smflow.local.containers.docker
        os.environ["SMFLOW_DOCKER_FRAMEWORKS"] = "1"

    def on_ready(url: str) -> None:
        port = int(url.rsplit(":", 1)[1].rstrip("/"))
        launcher.write_info(state_dir, launcher.RuntimeInfo(pid, url, args.host, port, str(state_dir)))
        print(f"smflow local runtime listening on {url} (state in {state_dir})", flush=True)

    try:
        serve(host=args.host, port=args.port, state_dir=state_dir, on_ready=on_ready,
              allowed_hosts=args.allow_host, signature_keys=_signature_keys(args))
    finally:
        launcher.clear_info(state_dir, pid)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {"up": local_up, "down": local_down, "status": local_status, "serve": local_serve}
    return handlers[args.action](args)


if __name__ == "__main__":
    sys.exit(main())
