"""A guide system's restart / stop / start command for faultlab's shop: asks its supervisor's API, as
`docker compose restart|stop|start inventory-svc-N` would for a system run by docker compose.

Usage: python shop_process.py restart|stop|start N  (FAULTLAB_SUPERVISOR_PORT and FAULTLAB_ADMIN_TOKEN in the
environment). Each leaves the replica as asked, as docker compose does: `restart` and `start` start it when it is not
running and do nothing when it is (the supervisor may have brought a crashed one back already: a 409 "already
running"), `stop` does nothing to a replica already stopped.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request


def call(action: str, replica: int) -> int:
    port = os.environ["FAULTLAB_SUPERVISOR_PORT"]
    verb = "start" if action == "restart" else action
    request = urllib.request.Request(f"http://127.0.0.1:{port}/processes/inventory-{replica}/{verb}", method="POST",
                                     headers={"Authorization": f"Bearer {os.environ['FAULTLAB_ADMIN_TOKEN']}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            print(json.loads(answer.read()).get("process", {}).get("name"), verb)
            return 0
    except urllib.error.HTTPError as exc:
        if exc.code == 409:  # already as asked
            print(f"inventory-{replica}: {verb}: already so")
            return 0
        print(f"{verb} inventory-{replica}: HTTP {exc.code} {exc.read()[:200]!r}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(call(sys.argv[1], int(sys.argv[2])))
