"""A Python iii worker that serves one HTTP route, for the agentos end-to-end tests.

It connects to the engine at $III_URL (the iii SDK's own variable: the OpenTelemetry
exporter also reads it to reach <url>/otel), presenting the engine token in $III_TOKEN as
`Authorization: Bearer <token>` when one is set, registers the function `greet::hello` and
binds it to the HTTP trigger `POST /greet/:name`. It then stays connected until killed.

Run: III_URL=ws://127.0.0.1:49134 III_TOKEN=$(agentos token create greeter --namespaces greet) python http_worker.py
"""

import logging
import os
import sys
import threading
from typing import Any

from iii import InitOptions, register_worker

# SDK logs (including "Send:"/"Recv:" frame summaries at debug level) go to stderr,
# which the test captures to a file.
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
logging.getLogger("iii").setLevel(logging.DEBUG)

URL = os.environ["III_URL"]
TOKEN = os.environ.get("III_TOKEN")


async def hello(request: dict[str, Any]) -> dict[str, Any]:
    """Handler of POST /greet/:name: reads the iii HTTP request payload (spec §3.4)."""
    name = request["path_params"]["name"]
    return {
        "status_code": 201,
        "body": {
            "greeting": f"hello {name}",
            "query": request["query_params"],
            "body": request["body"],
            # Header names arrive lower-cased.
            "header": request["headers"].get("x-e2e"),
        },
    }


def main() -> None:
    # Blocks until the WebSocket is open; registrations made after that are sent at once
    # (and replayed by the SDK on every reconnect).
    headers = {"authorization": f"Bearer {TOKEN}"} if TOKEN else None
    iii = register_worker(URL, InitOptions(worker_name="e2e-python-http-worker", headers=headers))
    iii.register_function("greet::hello", hello, description="Greets the :name of the path")
    iii.register_trigger(
        {
            "type": "http",
            "function_id": "greet::hello",
            "config": {"api_path": "/greet/:name", "http_method": "POST"},
        }
    )
    print("worker registered", flush=True)
    # The SDK's event loop runs on its own thread; keep the process alive until killed.
    threading.Event().wait()


if __name__ == "__main__":
    main()
