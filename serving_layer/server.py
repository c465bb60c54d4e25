"""The API on uvicorn in a background thread, for the demo: started, waited for, stopped."""

from __future__ import annotations

import threading
import time

from serving_layer.exceptions import ApiNotStarted


class ApiServer:
    def __init__(self, app, host: str, port: int) -> None:
        import uvicorn

        self.url = f"http://{host}:{port}"
        self._server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, workers=1, log_level="warning",
                                                     access_log=False))
        self._thread = threading.Thread(target=self._server.run, name="viewcount-api", daemon=True)

    def start(self, timeout_s: float = 30.0) -> ApiServer:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ApiNotStarted(f"the API did not start on {self.url}")
            time.sleep(0.05)
        return self

    def wait(self) -> None:
        """Serve until interrupted."""
        while self._thread.is_alive():
            self._thread.join(0.5)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
