"""The chapter runner: papermill executes every chapter headless, then Jupyter Book 1.x renders them.

Usage (from the repository root)::

    python -m rrlib.book list
    python -m rrlib.book run   --profile quick [--only 02_theorem_3_2 ...] [--seed 0] [--device auto]
    python -m rrlib.book build --profile quick [--skip-run]

``run`` executes the notebooks listed in ``_toc.yml`` (in that order) with papermill, injecting
``{profile, seed, device}`` into each notebook's ``parameters`` cell, and writes

* ``_build/executed/<chapter>.ipynb`` – the executed copy that the book renders,
* ``_build/metrics/<chapter>.json`` – the chapter's key numbers (recorded by the notebook itself through
  :func:`publish` of :mod:`rrlib.chapter_metrics`, which also glues every number for the prose) plus ``_meta``
  (profile, seed, device, wall time, versions),
* ``_build/metrics/_timings.json`` – wall time per chapter.

A failing chapter stops the run with the chapter's name, the failing cell and the error.
``build`` stages ``book/``, ``_config.yml``, ``_toc.yml`` and the executed notebooks into ``_build/book_src`` (so
Sphinx never scans the virtual environment or build outputs; ``_config.yml`` through
:func:`rrlib.colab.stage_config`, which turns the Colab buttons on when ``repository.url`` is set), copies
MathJax from the ``jupyter-server-mathjax`` package so that math renders offline, and runs
``jupyter-book build -W -n --keep-going`` (warnings are errors) into ``_build/html``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rrlib.chapter_metrics import (  # re-exported: chapters and tests call book.publish / book.load_metrics
    CHAPTER_NAME,
    METRICS_ENV,
    REPO_ROOT,
    glue_keys,
    load_metrics,
    metrics_dir,
    publish,
    record_metrics,
    write_json_atomic,
)
from rrlib.colab import stage_config
from rrlib.console import quiet_broken_pipe
from rrlib.jsonable import to_jsonable
from rrlib.profiles import get_profile

__all__ = ["BOOK_PROFILES", "CHAPTER_NAME", "METRICS_ENV", "QUICK_SECONDS_GUESS", "READS_OTHER_CHAPTERS", "REPO_ROOT",
           "ChapterFailed", "ChapterRun", "add_arguments", "build_book", "chapter_line", "chapters", "default_jobs",
           "format_timings", "glue_keys", "kernel_thread_env", "load_metrics", "longest_first", "main", "metrics_dir",
           "publish", "record_metrics", "run_chapters", "run_command", "stage_book", "to_jsonable"]

#: The profiles a whole book runs in (:mod:`rrlib.profiles`; ``medium`` results are committed, not re-run here).
BOOK_PROFILES = ("quick", "full")


class ChapterFailed(RuntimeError):
    """A chapter raised while being executed."""


@dataclass(frozen=True)
class ChapterRun:
    """Outcome of executing one chapter."""

    name: str
    executed_path: Path
    metrics_path: Path
    wall_s: float


# ----------------------------------------------------------------------------------------------- table of contents
def chapters(root: Path = REPO_ROOT) -> list[str]:
    """Names of the executable chapters (``notebooks/NN_name`` entries of ``_toc.yml``), in book order."""
    import yaml

    toc_path = Path(root) / "_toc.yml"
    if not toc_path.exists():
        raise FileNotFoundError(f"no _toc.yml in {root}")
    toc = yaml.safe_load(toc_path.read_text())

    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            file = node.get("file") or node.get("root")
            if isinstance(file, str) and file.startswith("notebooks/"):
                found.append(Path(file).stem)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return found


def _select(names: Sequence[str], only: Sequence[str] | None) -> list[str]:
    if not only:
        return list(names)
    unknown = [name for name in only if name not in names]
    if unknown:
        raise ValueError(f"unknown chapter(s) {unknown}; valid choices: {list(names)}")
    return [name for name in names if name in set(only)]


# --------------------------------------------------------------------------------------------------------- runner
def kernel_thread_env(environ: Mapping[str, str] | None = None, *, jobs: int = 1,
                      cpus: int | None = None) -> dict[str, str]:
    """``RRBOOK_THREADS=n`` set for the runner caps each chapter kernel's threads at ``n`` (OpenMP, MKL and
    torch's intra-op pool read ``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` at start-up). Unset, a kernel that runs
    alone uses its defaults, and ``jobs`` kernels running at once share the cores (``cpus // jobs`` threads each,
    at least one): two-thread kernels sharing two busy cores run small-tensor loops many times slower.

    >>> kernel_thread_env({"RRBOOK_THREADS": "1"})
    {'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1'}
    >>> kernel_thread_env({}), kernel_thread_env({}, jobs=2, cpus=2), kernel_thread_env({}, jobs=2, cpus=16)
    ({}, {'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1'}, {'OMP_NUM_THREADS': '8', 'MKL_NUM_THREADS': '8'})
    """
    environ = os.environ if environ is None else environ
    value = environ.get("RRBOOK_THREADS")
    if value is None:
        if jobs <= 1:
            return {}
        value = str(max(1, (cpus if cpus is not None else (os.cpu_count() or 1)) // jobs))
    elif not value.isdigit() or int(value) < 1:
        raise ValueError(f"RRBOOK_THREADS must be a positive integer, got {value!r}")
    return {"OMP_NUM_THREADS": value, "MKL_NUM_THREADS": value}


@contextlib.contextmanager
def _environment(**updates: str) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in updates}
    os.environ.update(updates)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_chapters(
    profile: str = "quick",
    *,
    only: Sequence[str] | None = None,
    seed: int = 0,
    device: str = "auto",
    force: bool = False,
    root: Path = REPO_ROOT,
    output_dir: Path | None = None,
    metrics_directory: Path | None = None,
    jobs: int | None = None,
    log=print,
) -> list[ChapterRun]:
    """Execute chapters with papermill and return one :class:`ChapterRun` per chapter, in book order.

    ``jobs`` chapters run at once (default :func:`default_jobs`), the longest first (:func:`longest_first`), each
    kernel with :func:`kernel_thread_env`'s threads; the chapters compute the same whatever the order, except
    :data:`READS_OTHER_CHAPTERS`, which run after all the others. Raises
    :class:`ChapterFailed` naming the chapter, the failing cell and the error when a chapter raises, or when it
    finishes without recording its metrics (the chapters already running finish first; the waiting ones never start).
    """
    get_profile(profile, force=force)
    if profile not in BOOK_PROFILES:
        raise ValueError(f"the book does not run in profile {profile!r}; valid choices: {list(BOOK_PROFILES)} (the "
                         "medium profile's runs are committed under results/, and the chapters read them)")
    root = Path(root).resolve()
    selected = _select(chapters(root), only)
    output_dir = Path(output_dir or root / "_build" / "executed").resolve()
    metrics_directory = Path(metrics_directory or root / "_build" / "metrics").resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    metrics_directory.mkdir(parents=True, exist_ok=True)

    for name in selected:
        if not (root / "notebooks" / f"{name}.ipynb").exists():
            raise FileNotFoundError(f"chapter {name!r} is listed in _toc.yml but "
                                    f"{root / 'notebooks' / f'{name}.ipynb'} does not exist")
    jobs = default_jobs(len(selected)) if jobs is None else jobs
    if jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    env = {
        METRICS_ENV: str(metrics_directory),
        # the chapter's own root and the rrlib that runs this code (they differ only for throw-away test books)
        "PYTHONPATH": os.pathsep.join(dict.fromkeys([str(root), str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
        .rstrip(os.pathsep),
        # the inline backend makes figures notebook outputs (a headless Agg backend would render them as text)
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "RRBOOK_NO_PROGRESS": "1",
    }
    if force:
        env["RRBOOK_FORCE_FULL"] = "1"
    env.update(kernel_thread_env(jobs=jobs))
    position = {name: index for index, name in enumerate(selected, start=1)}

    def execute(name: str) -> ChapterRun:
        return _execute_chapter(name, root, output_dir, metrics_directory, profile=profile, seed=seed, device=device,
                                label=f"[{position[name]}/{len(selected)}]", log=log)

    order = longest_first([name for name in selected if name not in READS_OTHER_CHAPTERS],
                          metrics_directory / "_timings.json")
    with _environment(**env):
        if jobs == 1 or len(order) <= 1:
            finished = [execute(name) for name in order]
        else:
            finished = _execute_in_parallel(execute, order, jobs)
        # the report reads the others' metrics: it starts once they have all finished
        finished += [execute(name) for name in selected if name in READS_OTHER_CHAPTERS]
    runs = sorted(finished, key=lambda run: position[run.name])

    timings_path = metrics_directory / "_timings.json"
    timings = json.loads(timings_path.read_text()) if timings_path.exists() else {}
    timings.update({run.name: round(run.wall_s, 2) for run in runs})
    write_json_atomic(timings_path, timings)
    return runs


def default_jobs(chapter_count: int, cpus: int | None = None) -> int:
    """How many chapters :func:`run_chapters` runs at once: ``$RRBOOK_JOBS`` when set, else one per CPU core (a
    chapter's kernel is one process whose small convolutions gain little from a second thread, so two one-thread
    kernels on two cores finish sooner than one two-thread kernel after another), at most ``chapter_count``.

    >>> default_jobs(10, cpus=2), default_jobs(1, cpus=16), default_jobs(10, cpus=1)
    (2, 1, 1)
    """
    value = os.environ.get("RRBOOK_JOBS")
    if value is not None:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"RRBOOK_JOBS must be a positive integer, got {value!r}")
        return int(value)
    return max(1, min(chapter_count, cpus if cpus is not None else (os.cpu_count() or 1)))


def longest_first(names: Sequence[str], timings: Path) -> list[str]:
    """``names`` ordered for a parallel run, the longest chapter first (the last run's wall times in ``timings``,
    ``_timings.json``; else :data:`QUICK_SECONDS_GUESS`; unknown chapters last, in book order), so that no long
    chapter starts last while the other cores sit idle. The order changes when chapters start, never what they
    compute."""
    try:
        seconds = {**QUICK_SECONDS_GUESS, **json.loads(Path(timings).read_text())}
    except (OSError, ValueError):
        seconds = dict(QUICK_SECONDS_GUESS)
    return sorted(names, key=lambda name: -float(seconds.get(name, 0.0)))


#: Chapters that read the other chapters' metrics (the reproduction report): :func:`run_chapters` starts them only
#: after every other selected chapter has finished.
READS_OTHER_CHAPTERS = ("10_reproduction_report",)
#: Quick-profile wall seconds per chapter (2-core machine, 2026-12-06), used only by :func:`longest_first` to start
#: the long chapters first when no ``_timings.json`` of an earlier run exists.
QUICK_SECONDS_GUESS = {
    "06_vulnerability_robustness": 187.0, "08_downstream": 112.0, "11_beyond_contrastive": 90.0,
    "12_outside_ground_truth": 150.0, "00_your_own_model": 80.0,
    "05_worst_case_mi": 67.0, "04_mine": 62.0, "13_updates_and_corrections": 13.0,
}


def _kernel_manager(kernel_log: Path) -> dict[str, Any]:
    """``{"kernel_manager_class": ...}``: a kernel manager whose kernel writes its own stderr (ipykernel's log, for
    instance the "KeyboardInterrupt caught in kernel" that jupyter_client's interrupt-before-shutdown provokes when
    it lands inside a message handler) to ``kernel_log`` instead of the build's terminal; a cell's output still
    reaches the executed notebook. On POSIX the manager also talks to the kernel over local (IPC) sockets in
    Jupyter's runtime folder instead of TCP, so that no kernel warns "running over TCP without encryption" (a local
    socket is not reachable from the network either); elsewhere it keeps papermill's TCP."""
    import uuid

    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.paths import jupyter_runtime_dir

    class QuietKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            if os.name == "posix":
                runtime = Path(jupyter_runtime_dir())
                runtime.mkdir(parents=True, exist_ok=True)
                self.transport = "ipc"
                self.ip = str(runtime / f"rrbook-kernel-{uuid.uuid4().hex[:12]}")

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            kernel_log.parent.mkdir(parents=True, exist_ok=True)
            with kernel_log.open("ab") as err:  # the child keeps its own copy of the descriptor
                kw["stderr"] = err
                await super()._async_launch_kernel(kernel_cmd, **kw)

    return {"kernel_manager_class": QuietKernelManager}


def _execute_chapter(name: str, root: Path, output_dir: Path, metrics_directory: Path, *, profile: str, seed: int,
                     device: str, label: str, log) -> ChapterRun:
    """Execute one chapter with papermill (the environment is already set); :class:`ChapterFailed` when it fails."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    source = root / "notebooks" / f"{name}.ipynb"
    executed = output_dir / f"{name}.ipynb"
    metrics_path = metrics_directory / f"{name}.json"
    metrics_path.unlink(missing_ok=True)
    kernel_log = output_dir / f"{name}.kernel.log"
    kernel_log.unlink(missing_ok=True)
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(source),
            str(executed),
            parameters={"profile": profile, "seed": seed, "device": device},
            cwd=str(root),
            kernel_name="python3",
            language="python",
            progress_bar=False,
            request_save_on_cell_execute=False,
            **_kernel_manager(kernel_log),
        )
    except PapermillExecutionError as error:
        raise ChapterFailed(
            f"chapter {name!r} failed in cell {error.cell_index} (execution count {error.exec_count}): "
            f"{error.ename}: {error.evalue}\n  executed copy with the traceback: {executed}"
            f"\n  the kernel's own log: {kernel_log}"
        ) from None
    wall = time.perf_counter() - start
    _hide_default_parameters(executed)
    if not metrics_path.exists():
        raise ChapterFailed(f"chapter {name!r} finished without calling rrlib.book.publish({name!r}, ...)")
    recorded = json.loads(metrics_path.read_text())
    recorded["_meta"] = {
        "chapter": name,
        "profile": profile,
        "seed": seed,
        "device": device,
        "wall_s": round(wall, 2),
        "finished_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu",
    }
    write_json_atomic(metrics_path, recorded)
    log(chapter_line(label, name, wall), flush=True)
    return ChapterRun(name, executed, metrics_path, wall)


def _execute_in_parallel(execute, order: Sequence[str], jobs: int) -> list[ChapterRun]:
    """``execute(name)`` for every name, ``jobs`` at a time in threads (each chapter is its own kernel process);
    on the first failure the waiting chapters are cancelled, the running ones finish, and the failure is raised."""
    from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="chapter") as pool:
        futures = [pool.submit(execute, name) for name in order]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for future in pending:
            future.cancel()
        wait(futures)
    for future in futures:
        if not future.cancelled() and future.exception() is not None:
            raise future.exception()
    return [future.result() for future in futures]


def _hide_default_parameters(executed: Path) -> None:
    """In the executed copy, hide the parameter cells — the notebook's defaults and papermill's injected values —
    from the rendered page: they are bookkeeping. The values used (profile, seed, device) stay in the executed
    notebook and in the chapter's metrics (``_meta``), and each chapter states its scale in prose."""
    import nbformat

    notebook = nbformat.read(executed, as_version=4)
    for cell in notebook.cells:
        tags = cell.metadata.setdefault("tags", [])
        if ("parameters" in tags or "injected-parameters" in tags) and "remove-cell" not in tags:
            tags.append("remove-cell")
    nbformat.write(notebook, executed)


def chapter_line(label: str, name: str, wall_s: float) -> str:
    """The one line a finished chapter prints: ``[k/n] name  seconds``.

    >>> chapter_line("[4/12]", "04_mine", 84.61)
    '[4/12]  04_mine                             84.6 s'
    """
    return f"{label:<7} {name:<32} {wall_s:7.1f} s"


def format_timings(runs: Sequence[ChapterRun], wall_s: float | None = None) -> str:
    """A small text table of wall time per chapter, their sum and, when given, the run's own wall time (less than
    the sum when chapters ran side by side).

    >>> print(format_timings([ChapterRun("01_a", Path("a"), Path("a"), 2.0), ChapterRun("02_b", Path("b"),
    ...                                   Path("b"), 3.0)], wall_s=3.5))
    chapter                              wall time
    ----------------------------------------------
    01_a                                      2.0 s
    02_b                                      3.0 s
    sum of the chapters                       5.0 s
    total wall time                           3.5 s
    """
    lines = ["chapter                              wall time", "-" * 46]
    lines += [f"{run.name:<36} {run.wall_s:8.1f} s" for run in runs]
    lines.append(f"{'sum of the chapters':<36} {sum(run.wall_s for run in runs):8.1f} s")
    if wall_s is not None:
        lines.append(f"{'total wall time':<36} {wall_s:8.1f} s")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------- build
def _mathjax_static() -> Path:
    try:
        import jupyter_server_mathjax
    except ImportError as error:  # pragma: no cover - part of the book environment
        raise RuntimeError("the book build needs the 'jupyter-server-mathjax' package for offline math") from error
    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    if not (static / "MathJax.js").exists():
        raise RuntimeError(f"MathJax.js not found under {static}")
    return static


def stage_book(root: Path = REPO_ROOT, executed_dir: Path | None = None, staging: Path | None = None) -> Path:
    """Assemble the book's source tree (prose, configuration, executed chapters, MathJax) and return it."""
    root = Path(root).resolve()
    executed_dir = Path(executed_dir or root / "_build" / "executed")
    staging = Path(staging or root / "_build" / "book_src")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    # the repository named in _config.yml switches the Colab buttons on or off (rrlib.colab.stage_config)
    stage_config(root / "_config.yml", staging / "_config.yml")
    shutil.copy2(root / "_toc.yml", staging / "_toc.yml")
    shutil.copytree(root / "book", staging / "book")
    (staging / "notebooks").mkdir()
    for name in chapters(root):
        executed = executed_dir / f"{name}.ipynb"
        if not executed.exists():
            raise FileNotFoundError(f"chapter {name!r} has not been executed ({executed} missing); run it first")
        shutil.copy2(executed, staging / "notebooks" / executed.name)
    # Outside _static on purpose: Jupyter Book adds a <script> tag for every .js file found in _static.
    shutil.copytree(_mathjax_static(), staging / "_offline" / "mathjax")
    return staging


def build_book(root: Path = REPO_ROOT, *, staging: Path | None = None) -> Path:
    """Render the staged book with Jupyter Book 1.x (warnings are errors) and return ``_build/html``."""
    root = Path(root).resolve()
    staging = stage_book(root, staging=staging)
    executable = Path(sys.executable).parent / "jupyter-book"
    command = [str(executable), "build", str(staging), "--path-output", str(root), "-W", "-n", "--keep-going"]
    # the API reference (book/api/) imports this clone's rrlib, and _config.yml loads rrlib.api_reference and
    # rrlib.made_by from it
    pythonpath = os.pathsep.join(dict.fromkeys(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])))
    # quiet on success (no banner, no configuration dump); everything it said, on failure
    completed = subprocess.run(command, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONPATH": pythonpath})
    if completed.returncode != 0:
        print("$", " ".join(command), flush=True)
        print(completed.stdout, flush=True)
        raise SystemExit(f"jupyter-book build failed (exit {completed.returncode}); see the warnings above")
    html = root / "_build" / "html"
    print(f"book: {html / 'index.html'}", flush=True)
    return html


# ------------------------------------------------------------------------------------------------------------ CLI
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rrlib.book list|run|build``; a closed standard output (``list | head -1``) ends it quietly."""
    with quiet_broken_pipe():
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rrlib.book", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run_command(parser.parse_args(argv))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The sub-commands ``list``, ``run`` and ``build`` of ``python -m rrlib.book`` and of ``rrbook book``."""
    commands = parser.add_subparsers(dest="book_command", required=True)
    commands.add_parser("list", help="list the chapters in book order")
    for command in ("run", "build"):
        sub = commands.add_parser(command, help=f"{command} the chapters")
        sub.add_argument("--profile", default="quick", choices=BOOK_PROFILES)
        sub.add_argument("--only", nargs="+", metavar="CHAPTER", help="chapter names (see `list`)")
        sub.add_argument("--seed", type=int, default=0)
        sub.add_argument("--device", default="auto")
        sub.add_argument("--force", action="store_true", help="allow the full profile without CUDA")
        if command == "build":
            sub.add_argument("--skip-run", action="store_true", help="render the already-executed chapters")


def run_command(args: argparse.Namespace) -> int:
    """Run the parsed ``list``/``run``/``build`` (:func:`add_arguments`); returns the exit code."""
    if args.book_command == "list":
        print("\n".join(chapters()))
        return 0
    try:
        if not (args.book_command == "build" and args.skip_run):
            start = time.perf_counter()
            runs = run_chapters(args.profile, only=args.only, seed=args.seed, device=args.device, force=args.force)
            if args.book_command == "run":  # `build` prints only the chapters' lines and the site's path
                print(f"{len(runs)} chapters: {sum(r.wall_s for r in runs):.1f} s of chapter time in "
                      f"{time.perf_counter() - start:.1f} s", flush=True)
        if args.book_command == "build":
            build_book()
    except (ChapterFailed, ValueError, RuntimeError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
