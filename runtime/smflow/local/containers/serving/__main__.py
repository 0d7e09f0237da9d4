"""``python -m smflow.local.containers.serving [--fork-server] --framework NAME ...``: a model
server (:func:`.server.main`), or with ``--fork-server`` the fork server (:func:`.fork_server.run`)."""

import sys

from smflow.local.containers.serving import fork_server, server

if __name__ == "__main__":
    arguments = sys.argv[1:]
    if len(arguments) == 3 and arguments[0] == "--fork-server" and arguments[1] == "--framework":
        sys.exit(fork_server.run(arguments[2]))
    sys.exit(server.main())
