"""`AppKernelManager`: the Jupyter kernel manager the Checkpoint Lab app is served with.

Two rules Jupyter's own manager lacks: at most `max_kernels` kernels at once (each holds TensorFlow,
about 0.75 GB), a page beyond that gets a "server full" answer instead of a kernel; and the kernel
of an app page left open but unused for `page_idle_timeout` seconds is shut down (Jupyter culls only
kernels no page is connected to, unless `cull_connected` culls every kernel, a notebook's too).
Loaded by the server process, so it imports no TensorFlow. Configured in the repository's
`voila.json` (`voila notebooks/app.ipynb`), and in `jupyter_server_config.json` for the
`/voila/render` route, which `write_server_config` writes from the same file (Binder's postBuild).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from jupyter_core.utils import ensure_async
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado.web import HTTPError
from traitlets import Integer

__all__ = ["CLOSED_ENV", "IDLE_ENV", "AppKernelManager", "server_config", "write_server_config"]

# What the manager tells each kernel it starts, so the page can say when its folder goes.
CLOSED_ENV = "CKPTKIT_CLOSED_PAGE_SECONDS"
IDLE_ENV = "CKPTKIT_IDLE_PAGE_SECONDS"
# Voila passes the page's address to the kernel it starts for it: that marks an app page's kernel.
_PAGE_MARK = "VOILA_REQUEST_URL"
ROOT = Path(__file__).resolve().parents[2]


class AppKernelManager(AsyncMappingKernelManager):
    """Jupyter's kernel manager with a kernel limit, and idle app pages ended even while open."""

    max_kernels = Integer(
        0, config=True, help="Most kernels running at once; a page past it is answered 503. 0: no limit."
    )
    page_idle_timeout = Integer(
        0,
        config=True,
        help="Seconds without activity after which an app page's kernel ends even while its page is open "
        "(needs cull_idle_timeout > 0, which starts the culler). 0: never.",
    )

    def __init__(self, **kwargs: object) -> None:
        """Start with no kernel opening and no app page known."""
        super().__init__(**kwargs)
        self._opening = 0  # kernels being started: not yet listed, already counted
        self._pages: set[str] = set()

    async def start_kernel(
        self, *, kernel_id: str | None = None, path: str | None = None, **kwargs: object
    ) -> str:
        """Start a kernel, or answer 503 when `max_kernels` run; tell an app page's kernel its timeouts."""
        if kernel_id is not None and kernel_id in self:
            return await super().start_kernel(kernel_id=kernel_id, path=path, **kwargs)
        running = len(self.list_kernel_ids()) + self._opening
        if self.max_kernels and running >= self.max_kernels:
            self.log.warning("Server full: %d kernels running, the limit is %d", running, self.max_kernels)
            raise HTTPError(
                503,
                reason=f"Server full: this server runs at most {self.max_kernels} sessions at once, "
                "and all are taken. Try again in a few minutes",
            )
        env = dict(kwargs.get("env") or os.environ)
        page = _PAGE_MARK in env
        if page:
            env.update(self._timeouts())
            kwargs["env"] = env
        self._opening += 1
        try:
            started = await super().start_kernel(kernel_id=kernel_id, path=path, **kwargs)
        finally:
            self._opening -= 1
        if page:
            self._pages.add(started)
        return started

    def _timeouts(self) -> dict[str, str]:
        """Seconds until a page's kernel ends: at most this long after its page closed, this long unused."""
        if self.cull_idle_timeout <= 0:
            return {}
        found = {CLOSED_ENV: str(self.cull_idle_timeout + self.cull_interval)}
        if self.page_idle_timeout > 0:
            found[IDLE_ENV] = str(self.page_idle_timeout)
        return found

    async def cull_kernel_if_idle(self, kernel_id: str) -> None:
        """Jupyter's rule; also, an app page's kernel idle past `page_idle_timeout` ends, page open or not."""
        kernel = self._kernels.get(kernel_id)
        if kernel is not None and kernel_id in self._pages and self.page_idle_timeout > 0:
            now = datetime.now(UTC)  # last_activity is an aware UTC time
            idle = now - getattr(kernel, "last_activity", now)
            if idle > timedelta(seconds=self.page_idle_timeout) and kernel.execution_state != "busy":
                self.log.warning("Ending app page kernel %s: idle for %s", kernel_id, idle)
                await ensure_async(self.shutdown_kernel(kernel_id))
                return
        await super().cull_kernel_if_idle(kernel_id)

    async def shutdown_kernel(self, kernel_id: str, *args: object, **kwargs: object) -> None:
        """Shut the kernel down and forget it was a page's."""
        self._pages.discard(kernel_id)
        await super().shutdown_kernel(kernel_id, *args, **kwargs)


def server_config(voila_json: str | os.PathLike[str] = ROOT / "voila.json") -> dict:
    """The `jupyter_server_config.json` settings that put `voila.json`'s kernel rules on `/voila/render`.

    The Voila server extension reads only `VoilaConfiguration` from `voila.json`; its kernels are
    the Jupyter server's, so the kernel manager class and its settings go into the server's config.
    """
    voila = json.loads(Path(voila_json).read_text())
    found = {key: value for key, value in voila.items() if key != "VoilaConfiguration"}
    kernel_class = voila.get("VoilaConfiguration", {}).get("multi_kernel_manager_class")
    if kernel_class:
        found["ServerApp"] = {**found.get("ServerApp", {}), "kernel_manager_class": kernel_class}
    return found


def write_server_config(
    folder: str | os.PathLike[str], voila_json: str | os.PathLike[str] = ROOT / "voila.json"
) -> Path:
    """Merge `server_config()` into `folder/jupyter_server_config.json` (made if missing); return its path."""
    path = Path(folder) / "jupyter_server_config.json"
    merged = json.loads(path.read_text()) if path.is_file() else {}
    for section, values in server_config(voila_json).items():
        merged[section] = {**merged.get(section, {}), **values}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(merged, indent=2) + "\n")
    return path
