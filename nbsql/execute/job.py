"""One notebook's run (:func:`execute`), in a job process of its own that the zygote forked and
moved into the sandbox: the request comes from the runner, the result goes back to it as JSON.

nbclient starts the kernel and executes the cells of the plan one by one, stopping at the first
failure; the kernel gets RLIMIT_AS, its outputs are bounded as they arrive, and they are compared
with the saved ones here, so that the runner's process only writes rows.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

from . import isolation

#: Characters of output kept per cell (as JSON text); the rest is counted in ``outputs_cut``.
CELL_OUTPUT_LIMIT = 1024 * 1024
#: Characters of output kept for a whole run.
RUN_OUTPUT_LIMIT = 16 * 1024 * 1024
#: Characters of an exception's message kept.
EXCEPTION_LIMIT = 2000


@dataclass(frozen=True)
class Request:
    notebook: str  # the copy's path
    plan: list[int]  # original positions of the cells to execute, in order
    kernel_name: str
    kernel_language: str | None
    cell_timeout: float | None
    timeout: float | None
    memory_limit: int | None
    folders: list[str]  # the copy's folder and the original's, masked in outputs before comparing
    parameters: dict[str, Any] | None = None


@dataclass
class CellResult:
    position: int
    step: int
    status: str
    seconds: float
    execution_count: int | None
    outputs: list[dict]
    outputs_cut: int
    comparison: str
    differences: list[str]


@dataclass
class Result:
    status: str
    isolated: bool
    language_version: str | None = None
    exception_name: str | None = None
    exception_value: str | None = None
    failing_cell: int | None = None
    cells: list[CellResult] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict) -> Result:
        cells = [CellResult(**cell) for cell in data.pop("cells")]
        return cls(**data, cells=cells)


def _client_class():
    from nbclient import NotebookClient

    class BoundedClient(NotebookClient):
        """nbclient's client, keeping at most :data:`CELL_OUTPUT_LIMIT` characters of each cell's
        outputs and :data:`RUN_OUTPUT_LIMIT` in all as they arrive: a cell printing gigabytes
        never holds them."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.kept: dict[int, int] = {}
            self.cut: dict[int, int] = {}
            self.total = 0

        def output(self, outs, msg, display_id, cell_index):
            content = msg.get("content", {})
            size = _size(content)
            room = min(CELL_OUTPUT_LIMIT - self.kept.get(cell_index, 0), RUN_OUTPUT_LIMIT - self.total)
            if size > room:
                if msg.get("msg_type") == "stream" and room > 0:
                    content["text"] = content.get("text", "")[:room]
                    self.cut[cell_index] = self.cut.get(cell_index, 0) + size - room
                    size = room
                else:
                    self.cut[cell_index] = self.cut.get(cell_index, 0) + size
                    return None
            self.kept[cell_index] = self.kept.get(cell_index, 0) + size
            self.total += size
            return super().output(outs, msg, display_id, cell_index)

    return BoundedClient


def _size(content: dict) -> int:
    if "text" in content:
        return len(content["text"])
    return sum(len(value) if isinstance(value, str) else len(json.dumps(value))
               for value in (content.get("data") or {}).values()) + 1


def _plan_with_injection(notebook: Any, plan: list[int]) -> list[tuple[int, int | None]]:
    """(index in the notebook that runs, original position or None for injected parameters) in
    the order to run; an injected cell runs right after the cell tagged parameters, else first."""
    origin = {cell.metadata.get("nbsql_position"): index for index, cell in enumerate(notebook.cells)
              if cell.metadata.get("nbsql_position") is not None}
    steps: list[tuple[int, int | None]] = [(origin[position], position) for position in plan if position in origin]
    for index, cell in enumerate(notebook.cells):
        if cell.metadata.get("nbsql_position") is None:
            before = notebook.cells[index - 1].metadata.get("nbsql_position") if index else None
            after = next((i for i, (_, position) in enumerate(steps) if position == before), None)
            steps.insert(0 if after is None else after + 1, (index, None))
    return steps


async def _run(request: Request, result: Result) -> None:
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    from .compare import compare
    from .kernel import Kernel, inject_parameters, read_notebook

    notebook = read_notebook(request.notebook, bool(request.parameters))
    saved = {}
    for position, cell in enumerate(notebook.cells):
        cell.metadata["nbsql_position"] = position
        saved[position] = [dict(output) for output in cell.get("outputs", [])]
    if request.parameters:
        notebook = inject_parameters(notebook, request.parameters,
                                     Kernel(request.kernel_name, request.kernel_language))
    steps = _plan_with_injection(notebook, request.plan)
    client = _client_class()(notebook, timeout=request.cell_timeout, kernel_name=request.kernel_name,
                             resources={"metadata": {"path": os.path.dirname(request.notebook)}},
                             startup_timeout=60, shutdown_kernel="immediate")
    current: list[int | None] = [None]

    async def cells() -> None:
        info = await client.async_wait_for_reply(await _maybe_await(client.kc.kernel_info()))
        if info is not None:
            result.language_version = info["content"].get("language_info", {}).get("version")
        for step, (index, position) in enumerate(steps, 1):
            current[0] = position
            cell = notebook.cells[index]
            started = time.perf_counter()
            status = "ok"
            try:
                await client.async_execute_cell(cell, index)
            except CellExecutionError as exc:
                status, result.exception_name, result.exception_value = "error", exc.ename, exc.evalue
            except CellTimeoutError as exc:
                status, result.exception_name, result.exception_value = "timeout", "TimeoutError", str(exc)
            except DeadKernelError as exc:
                status, result.exception_name, result.exception_value = "crashed", "DeadKernelError", str(exc)
            seconds = time.perf_counter() - started
            if position is not None:
                outputs = _joined_streams(cell.get("outputs", []))
                verdict = compare(saved[position], outputs, request.folders)
                result.cells.append(CellResult(position, step, status, round(seconds, 4),
                                               cell.get("execution_count"), _plain(outputs),
                                               client.cut.get(index, 0), verdict.verdict,
                                               list(verdict.differences)))
            if status != "ok":
                result.status, result.failing_cell = status, position
                return

    try:
        async with client.async_setup_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
            if request.memory_limit:
                for pid in isolation.child_processes(os.getpid()):
                    isolation.limit_memory(pid, request.memory_limit)
            try:
                await asyncio.wait_for(cells(), request.timeout)
            except asyncio.TimeoutError:
                result.status, result.failing_cell = "timeout", current[0]
                result.exception_name = "TimeoutError"
                result.exception_value = f"the notebook ran for more than {request.timeout:g} seconds"
    except Exception as exc:  # the kernel did not start, or died while starting
        if result.status == "ok":
            result.status, result.exception_name, result.exception_value = "crashed", type(exc).__name__, str(exc)
    if result.exception_value:
        result.exception_value = result.exception_value[:EXCEPTION_LIMIT]


def _joined_streams(outputs: list) -> list[dict]:
    """The outputs with consecutive texts of one stream joined, as a notebook saves them (not
    nbclient's coalesce_streams, whose regular expressions take quadratic time on a long line)."""
    joined: list[dict] = []
    for output in outputs:
        output = dict(output)
        previous = joined[-1] if joined else None
        if output.get("output_type") == "stream" and previous is not None and \
                previous.get("output_type") == "stream" and previous.get("name") == output.get("name"):
            previous["text"] += output.get("text", "")
        else:
            joined.append(output)
    return joined


async def _maybe_await(value: Any) -> Any:
    return await value if asyncio.iscoroutine(value) else value


def _plain(outputs: list[dict]) -> list[dict]:
    """Outputs as plain JSON values (nbformat nodes are dicts of dicts)."""
    return json.loads(json.dumps(outputs, default=str))


def execute(request: Request, isolated: bool) -> Result:
    """Run the notebook of ``request``, then kill every process the run started; ``isolated``:
    whether this process is in a network namespace of its own."""
    result = Result(status="ok", isolated=isolated)
    try:
        asyncio.run(_run(request, result))
    finally:
        if marker := os.environ.get(isolation.MARKER):
            isolation.kill_marked(marker)
    return result
