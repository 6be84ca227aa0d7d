"""Composes devhost: settings, the indexed app, the invoker, the durable engine, the HTTP server."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from devhost.bindings import BindingInputs, check_durable_client_hubs
from devhost.durable.api import WEBHOOK_PATH, DurableHttpApi, client_binding_json
from devhost.durable.clock import Clock
from devhost.durable.engine import DurableEngine
from devhost.durable.hub_forwarding import TaskHubForwarding
from devhost.durable.replay_process import ReplayProcess
from devhost.durable.store import Store
from devhost.durable.task_hubs import TASK_HUBS_SETTING, TaskHubs, parse_task_hubs
from devhost.http_triggers import HttpTriggerHost
from devhost.indexing import IndexedFunction, load_and_index
from devhost.invoker import Invoker
from devhost.routing import ordinal_ignore_case
from devhost.servicebus import sdk_shim
from devhost.servicebus.metrics import DeadLetterWatch, interval_from
from devhost.settings import apply_local_settings, load_host_options, load_local_settings
from devhost.statelock import StateDirLock
from devhost.telemetry import install_span_file
from devhost.triggers.base import TriggerContext, TriggerSource
from devhost.triggers.registry import HANDLED_ELSEWHERE, source_classes

log = logging.getLogger("devhost.host")

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class HostConfig:
    app_dir: Path
    port: int = 7071
    host: str = "127.0.0.1"
    state_dir: Path | None = None
    virtual_time: bool = False
    start_azurite: bool = True
    fsync: bool = True
    shutdown_grace: float = 10.0
    replay_process: bool = True
    # False leaves APP_DIR/local.settings.json unread: the environment is the only settings
    # source (tests, which must not pick up a developer's own file).
    local_settings: bool = True

    @property
    def resolved_state_dir(self) -> Path:
        return (self.state_dir or self.app_dir / ".devhost").resolve()


class DevHost:
    """One running host for one app directory."""

    def __init__(self, config: HostConfig) -> None:
        self.config = config
        self.functions: list[IndexedFunction] = []
        self.base_url = f"http://localhost:{config.port}"
        self.system_key = "devhost-local-system-key"
        self._runner: web.AppRunner | None = None
        self._azurite: Any = None
        self.engine: DurableEngine | None = None
        self.store: Store | None = None
        self.invoker: Invoker | None = None
        self.stopped = asyncio.Event()
        self.sources: list[TriggerSource] = []
        self.ready = False  # /admin/host/status says Running only once start() has finished
        self._dead_letter_watch: DeadLetterWatch | None = None
        self._replay_process: ReplayProcess | None = None
        self._forwarding: TaskHubForwarding | None = None
        self._state_lock: StateDirLock | None = None

    async def start(self) -> None:
        # Orchestrator replays are CPU-bound and hold the GIL in a worker thread; with the
        # default 5 ms switch interval every HTTP request or commit arriving meanwhile waits
        # up to 5 ms per step. 1 ms keeps the host responsive (e.g. to raised events).
        sys.setswitchinterval(0.001)
        config = self.config
        app_dir = config.app_dir.resolve()
        values = load_local_settings(app_dir) if config.local_settings else {}
        skipped = apply_local_settings(values)
        if skipped:
            log.info("Settings already in the environment take precedence: %s", ", ".join(skipped))
        options = load_host_options(app_dir)
        hubs = TaskHubs(
            options.durable.hub_name, parse_task_hubs(os.environ.get(TASK_HUBS_SETTING))
        )
        if hubs.describe():
            log.info(
                "Task hubs served by other devhosts (%s): %s", TASK_HUBS_SETTING, hubs.describe()
            )
        state_dir = config.resolved_state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        self._state_lock = StateDirLock(state_dir)
        self._state_lock.acquire()
        if config.start_azurite:
            self._azurite = _maybe_start_azurite(state_dir)
        # Before the app is imported: its SDK sends to the emulator go to the stand-in.
        sdk_shim.install(app_dir)
        install_span_file(os.environ)
        self.functions = load_and_index(app_dir)
        check_durable_client_hubs(self.functions)
        for fn in self.functions:
            if fn.load_error:
                log.error("Function '%s' failed to load: %s", fn.name, fn.load_error)
        loop = asyncio.get_running_loop()
        threads = int(os.environ.get("PYTHON_THREADPOOL_THREAD_COUNT", "0") or 0) or None
        self.invoker = Invoker(loop, str(app_dir), max_threads=threads)
        self.store = Store(state_dir / "durable.sqlite3", fsync=config.fsync)
        clock = Clock(virtual=config.virtual_time)
        self.engine = DurableEngine(
            self.store, self.functions, self.invoker, options.durable, clock
        )
        if config.replay_process and any(
            fn.trigger_type == "orchestrationTrigger" for fn in self.functions
        ):
            level = logging.getLevelName(logging.getLogger().getEffectiveLevel())
            self._replay_process = ReplayProcess(app_dir, level)
            self._replay_process.start()
            self.engine.replay_process = self._replay_process
        durable_api = DurableHttpApi(
            self.engine, self.base_url, options.durable.hub_name, self.system_key
        )
        inputs = BindingInputs(
            lambda hub: client_binding_json(
                self.base_url, hub or options.durable.hub_name, self.system_key
            )
        )
        self.http = HttpTriggerHost(
            self.functions, self.invoker, options.route_prefix, inputs, app_dir
        )
        self._forwarding = TaskHubForwarding(hubs, WEBHOOK_PATH)
        app = web.Application(
            client_max_size=100 * 1024 * 1024, middlewares=[self._forwarding.middleware]
        )
        app.add_routes(durable_api.routes())
        app.add_routes(self._admin_routes())
        context = TriggerContext(
            invoker=self.invoker,
            inputs=inputs,
            state_dir=state_dir,
            clock=clock,
            base_url=self.base_url,
            app_dir=app_dir,
            host_options=options,
        )
        self.sources = self._create_sources(context)
        for source in self.sources:
            app.add_routes(source.routes())
        # [\s\S]: a route parameter may hold a decoded newline (%0A), as the host passes it on.
        app.router.add_route("*", r"/{tail:[\s\S]*}", self.http.handle)
        await self.engine.start()
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, config.host, config.port)
        await site.start()
        for source in self.sources:
            await source.start()
        self._watch_dead_letters(app_dir)
        self.ready = True
        # Everything loaded so far (the app, the SDKs, devhost) lives as long as the process:
        # keep it out of the cyclic GC's generations, so collections during replays (which
        # allocate an object per history event) do not walk it again and again.
        gc.freeze()
        self._print_functions()

    def _watch_dead_letters(self, app_dir: Path) -> None:
        """Log non-empty dead-letter queues now and then (in a thread: start-up never waits)."""
        try:
            interval = interval_from(os.environ)
        except ValueError as exc:
            log.error("Dead-letter queues will not be watched: %s", exc)
            return
        self._dead_letter_watch = DeadLetterWatch(app_dir, os.environ, interval)
        self._dead_letter_watch.start()

    def _create_sources(self, context: TriggerContext) -> list[TriggerSource]:
        by_type: dict[str, list[IndexedFunction]] = {}
        for fn in self.functions:
            if not fn.load_error:
                by_type.setdefault(fn.trigger_type, []).append(fn)
        sources = []
        for source_class in source_classes():
            functions = by_type.pop(source_class.trigger_type, [])
            if functions:
                sources.append(source_class(context, functions))
        for trigger_type, functions in by_type.items():
            if trigger_type not in HANDLED_ELSEWHERE:
                names = ", ".join(f.name for f in functions)
                log.warning(
                    "devhost does not run %s triggers yet: %s will not fire", trigger_type, names
                )
        return sources

    def _print_functions(self) -> None:
        lines = ["", "Functions:", ""]
        urls = {r.function.name: r for r in self.http.routes}
        described = {f.name: s.describe(f) for s in self.sources for f in s.functions}
        # Listed by name, as Core Tools prints them.
        for fn in sorted(self.functions, key=lambda f: ordinal_ignore_case(f.name)):
            route = urls.get(fn.name)
            if route is not None:
                url = self.http.url_for(route, self.base_url)
                lines.append(f"        {fn.name}: [{route.display_methods}] {url}")
            else:
                lines.append(f"        {fn.name}: {described.get(fn.name, fn.trigger_type)}")
        lines.append("")
        mode = "virtual" if self.config.virtual_time else "wall-clock"
        lines.append(f"devhost is listening on {self.base_url} ({mode} time)")
        print("\n".join(lines), flush=True)

    # -- admin endpoints: used by the test API; the real host has /admin/host/status too ------

    def _admin_routes(self) -> list[web.RouteDef]:
        return [
            web.get("/admin/host/status", self._status),
            web.get("/admin/functions", self._list_functions),
            web.post("/admin/devhost/idle", self._wait_idle),
            web.post("/admin/devhost/time", self._time),
            web.get("/admin/devhost/instances/{instance_id}/history", self._raw_history),
            web.get("/admin/devhost/stats", self._stats),
        ]

    async def _stats(self, request: web.Request) -> web.Response:
        """Counters of where the engine spent its time (used by bench/)."""
        assert self.engine is not None
        return web.json_response(dict(self.engine.stats))

    async def _raw_history(self, request: web.Request) -> web.Response:
        """The stored history exactly as episodes receive it (EventId, TaskScheduled, ...)."""
        assert self.engine is not None
        instance_id = request.match_info["instance_id"]
        if await self.engine.get_instance(instance_id) is None:
            return web.Response(status=404)
        return web.json_response(await self.engine.get_history(instance_id))

    async def _status(self, request: web.Request) -> web.Response:
        if not self.ready:
            return web.json_response({"state": "Initializing"}, status=503)
        return web.json_response({"state": "Running", "functions": len(self.functions)})

    async def _list_functions(self, request: web.Request) -> web.Response:
        return web.json_response(
            [
                {"name": f.name, "trigger": f.trigger_type, "durableName": f.durable_name}
                for f in self.functions
            ]
        )

    async def _wait_idle(self, request: web.Request) -> web.Response:
        assert self.engine is not None
        timeout = float(request.query.get("timeout", "60"))
        try:
            await asyncio.wait_for(self.engine.wait_idle(), timeout)
        except TimeoutError:
            return web.json_response({"idle": False}, status=408)
        return web.json_response({"idle": True, "now": self.engine.clock.now()})

    async def _time(self, request: web.Request) -> web.Response:
        """Virtual time control: {"autoAdvance": bool} and/or {"advanceSeconds": n}."""
        assert self.engine is not None
        clock = self.engine.clock
        if not clock.virtual:
            return web.json_response(
                {"error": "devhost was not started with --virtual-time"}, status=409
            )
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "body must be JSON"}, status=400)
        if "autoAdvance" in body:
            clock.auto_advance = bool(body["autoAdvance"])
        seconds = body.get("advanceSeconds")
        if seconds is not None:
            if not isinstance(seconds, (int, float)) or seconds < 0:
                return web.json_response({"error": "advanceSeconds must be >= 0"}, status=400)
            await self.engine.advance_time(float(seconds))
        return web.json_response({"now": clock.now(), "autoAdvance": clock.auto_advance})

    async def stop(self) -> None:
        if self._dead_letter_watch is not None:
            self._dead_letter_watch.stop()
            self._dead_letter_watch = None
        # Stop taking new work first, letting in-flight invocations finish within the grace.
        for source in self.sources:
            try:
                await source.stop(self.config.shutdown_grace)
            except Exception:
                log.exception("Stopping the %s source failed", source.trigger_type)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._forwarding is not None:
            await self._forwarding.close()
            self._forwarding = None
        if self.engine is not None:
            await self.engine.stop()
        if self._replay_process is not None:
            self._replay_process.stop()
            self._replay_process = None
        await _close_sdk_http_session()
        if self.invoker is not None:
            self.invoker.shutdown()
        if self.store is not None:
            self.store.close()
        if self._azurite is not None:
            self._azurite.stop()
            self._azurite = None
        if self._state_lock is not None:
            self._state_lock.release()
            self._state_lock = None
        self.stopped.set()


async def _close_sdk_http_session() -> None:
    """Close the aiohttp session the durable SDK caches for its client calls.

    The worker process simply exits; devhost closes it so that stopping logs no warning.
    """
    module = sys.modules.get("azure.durable_functions.models.utils.http_utils")
    session = getattr(module, "_client_session", None)
    if session is not None and not session.closed:
        await session.close()


def _maybe_start_azurite(state_dir: Path) -> Any:
    """Start Azurite when the app uses development storage and nothing listens yet."""
    from devhost import azurite

    storage = os.environ.get("AzureWebJobsStorage")
    if not storage or storage.strip().lower() != "usedevelopmentstorage=true":
        return None
    if azurite.port_is_listening("127.0.0.1", 10000):
        log.info("Development storage is already listening on 127.0.0.1:10000")
        return None
    process = azurite.Azurite(
        state_dir / "azurite",
        blob_port=10000,
        queue_port=10001,
        table_port=10002,
        project_root=PROJECT_ROOT,
        log_path=state_dir / "azurite.log",
    )
    process.start()
    log.info("Started Azurite for development storage (data in %s)", state_dir / "azurite")
    return process
