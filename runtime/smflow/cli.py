"""The ``smflow`` command line.

    smflow local up [--host 127.0.0.1] [--port 9510] [--state-dir DIR]   start in the background
    smflow local down [--state-dir DIR]                                  stop it
    smflow local status [--state-dir DIR]                                is it running, and what it holds
    smflow local serve [--host H] [--port P] [--state-dir DIR]           run in the foreground (containers)
    smflow local env list [--state-dir DIR]                              the framework environments built
    smflow local env build FRAMEWORK [VERSION] | --all                  build one now (CI, offline use)
    smflow local env remove [FRAMEWORK [VERSION]]                        delete them (all without FRAMEWORK)

``up`` and ``serve`` also take ``--allow-host NAME[:PORT]`` (repeatable: Host names answered besides
loopback ones) and ``--check-signatures KEYS_FILE`` (refuse requests not signed with one of the key
pairs of an AWS shared-credentials file). Listening beyond loopback needs an explicit ``--host`` and
prints a warning that requests are not authenticated.

The state directory defaults to ``$SMFLOW_STATE_DIR`` or ``~/.smflow/state``. Framework
environments (``smflow.local.containers.environments``) live in ``$SMFLOW_ENVIRONMENTS_DIR``, else
``<state dir>/environments``; FRAMEWORK is a framework's name (``smflow.frameworks``), VERSION the
framework version of its image tag (default: the framework's default version).
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
    env = actions.add_parser("env", help="the framework environments that run jobs and models")
    env_actions = env.add_subparsers(dest="env_action", required=True)
    listed = env_actions.add_parser("list", help="list the environments built")
    _add_common(listed, False)
    build = env_actions.add_parser("build", help="build a framework's environment now (pip's output is printed)")
    build.add_argument("framework", nargs="?", help="a framework name, e.g. one of smflow.frameworks")
    build.add_argument("version", nargs="?", help="the framework version of the image (default: its default)")
    build.add_argument("--all", action="store_true", help="build the default version of every framework")
    _add_common(build, False)
    remove = env_actions.add_parser("remove", help="delete environments (all of them without FRAMEWORK)")
    remove.add_argument("framework", nargs="?")
    remove.add_argument("version", nargs="?")
    _add_common(remove, False)
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
                                                  allowed_hosts=args.allow_host, keys_file=keys_file)
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


def _environments_dir(args) -> Path:
    return _local("containers.environments").environments_dir(args.state_dir)


def _spec(framework: str, version: str | None):
    """The framework's EnvironmentSpec (None: the runtime's own interpreter runs it); exits with
    the known names for an unknown framework, or with the reason for a version it cannot run
    (exit status 1)."""
    environments = _local("containers.environments")
    frameworks = _local("containers.frameworks")
    try:
        return environments.spec_for(framework, version)
    except KeyError:
        names = ", ".join(module.NAME for module in frameworks.all_frameworks())
        raise SystemExit(f"smflow: unknown framework {framework!r}: use one of {names}") from None
    except environments.UnsupportedImageError as error:
        raise SystemExit(f"smflow: {framework} {version}: {error}") from None


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.0f}"


def env_list(args) -> int:
    root = _environments_dir(args)
    found = _local("containers.environments").list_environments(root)
    if not found:
        print(f"no environments in {root}")
        return 0
    rows = [("FRAMEWORK", "FAMILY", "VERSION", "SIZE_MB", "STATE", "PATH")]
    rows += [(info.framework, info.family, info.framework_version, _megabytes(info.size_bytes), info.state,
              str(info.path)) for info in found]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)) + "  " + row[-1])
    return 0


def env_build(args) -> int:
    environments = _local("containers.environments")
    if args.all == bool(args.framework):
        raise SystemExit("smflow: local env build: give FRAMEWORK [VERSION], or --all")
    if args.all:
        names = [module.NAME for module in _local("containers.frameworks").all_frameworks()]
        specs = [(name, _spec(name, None)) for name in names]
    else:
        specs = [(args.framework, _spec(args.framework, args.version))]
    root = _environments_dir(args)
    for name, spec in specs:
        if spec is None:
            print(f"{name} runs in the runtime's own interpreter ({sys.executable}): nothing to build")
            continue
        if spec.note:
            print(spec.note)
        try:
            python = environments.ensure_environment(spec, lambda line: print(line, flush=True), root=root)
        except environments.EnvironmentBuildError as error:
            print(f"smflow: could not build the {spec.display} environment: {error}", file=sys.stderr)
            return 1
        print(f"{spec.display} environment ready: {python}")
    return 0


def env_remove(args) -> int:
    environments = _local("containers.environments")
    family = None
    if args.framework and args.version:
        spec = _spec(args.framework, args.version)
        if spec is None:
            print(f"{args.framework} runs in the runtime's own interpreter: no environment to remove")
            return 0
        family = spec.family
    root = _environments_dir(args)
    removed = environments.remove_environments(args.framework, family, root)
    if not removed:
        what = " ".join(filter(None, [args.framework, args.version])) or "any framework"
        print(f"nothing to remove: no environment of {what} in {root}")
    for info in removed:
        print(f"removed {info.framework} {info.family} ({info.framework_version}, {_megabytes(info.size_bytes)} MB): "
              f"{info.path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.action == "env":
        return {"list": env_list, "build": env_build, "remove": env_remove}[args.env_action](args)
    handlers = {"up": local_up, "down": local_down, "status": local_status, "serve": local_serve}
    return handlers[args.action](args)


if __name__ == "__main__":
    sys.exit(main())
