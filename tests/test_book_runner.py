"""The papermill runner on a throw-away book: parameters injected, metrics recorded, failures named."""

from __future__ import annotations

import json
import math
import os

import nbformat
import pytest

from rrlib.book import (
    ChapterFailed,
    chapter_line,
    chapters,
    glue_keys,
    publish,
    record_metrics,
    run_chapters,
    to_jsonable,
)

TOC = """format: jb-book
root: book/intro
chapters:
  - file: notebooks/01_ok
  - file: notebooks/02_broken
"""


def _notebook(path, body: str) -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('profile = "quick"\nseed = 0\ndevice = "auto"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), params, nbformat.v4.new_code_cell(body)]
    nbformat.write(nb, path)


@pytest.fixture()
def tiny_book(tmp_path):
    (tmp_path / "_toc.yml").write_text(TOC)
    (tmp_path / "notebooks").mkdir()
    _notebook(tmp_path / "notebooks" / "01_ok.ipynb",
              'import rrlib.book\nrrlib.book.record_metrics("01_ok", {"seed_seen": seed, "profile_seen": profile})')
    _notebook(tmp_path / "notebooks" / "02_broken.ipynb", "raise ValueError('deliberately broken')")
    return tmp_path


def test_chapters_follow_toc_order(tiny_book):
    assert chapters(tiny_book) == ["01_ok", "02_broken"]


def test_run_injects_parameters_and_records_metrics(tiny_book, capsys):
    runs = run_chapters("quick", only=["01_ok"], seed=7, root=tiny_book,
                        output_dir=tiny_book / "out", metrics_directory=tiny_book / "metrics")
    metrics = json.loads((tiny_book / "metrics" / "01_ok.json").read_text())
    assert metrics["seed_seen"] == 7 and metrics["profile_seen"] == "quick"
    assert metrics["_meta"]["wall_s"] == pytest.approx(runs[0].wall_s, abs=0.01)
    assert (tiny_book / "out" / "01_ok.ipynb").exists()
    printed = capsys.readouterr().out
    assert printed.splitlines() == [chapter_line("[1/1]", "01_ok", runs[0].wall_s)]  # one line per chapter


def test_failing_chapter_names_chapter_cell_and_error(tiny_book):
    with pytest.raises(ChapterFailed, match=r"'02_broken' failed in cell \d+.*ValueError: deliberately broken"):
        run_chapters("quick", only=["02_broken"], root=tiny_book,
                     output_dir=tiny_book / "out", metrics_directory=tiny_book / "metrics")


def test_unknown_chapter_and_profile_are_clear_errors(tiny_book):
    with pytest.raises(ValueError, match=r"unknown chapter\(s\) \['99_nope'\].*'01_ok', '02_broken'"):
        run_chapters("quick", only=["99_nope"], root=tiny_book)
    with pytest.raises(ValueError, match="unknown profile 'slow'"):
        run_chapters("slow", root=tiny_book)
    with pytest.raises(ValueError, match=r"does not run in profile 'medium'; valid choices: \['quick', 'full'\]"):
        run_chapters("medium", root=tiny_book)  # a profile of the tables only, whose results are committed


def test_record_metrics_validates(tmp_path, monkeypatch):
    monkeypatch.setenv("RRBOOK_METRICS_DIR", str(tmp_path))
    import numpy as np

    path = record_metrics("03_x", {"a": np.float64(1.5), "b": np.arange(3)})
    assert json.loads(path.read_text()) == {"a": 1.5, "b": [0, 1, 2]}
    with pytest.raises(ValueError, match="NN_name"):
        record_metrics("x", {"a": 1})
    with pytest.raises(ValueError, match="not finite"):
        to_jsonable({"a": math.nan})
    with pytest.raises(ValueError, match="reserved"):
        record_metrics("03_x", {"_meta": 1})


def test_publish_records_the_json_and_glues_every_key(tmp_path, monkeypatch):
    monkeypatch.setenv("RRBOOK_METRICS_DIR", str(tmp_path))
    import numpy as np

    glued: list[tuple[str, object, bool]] = []

    def glue(name, value, display=True):  # what myst_nb.glue receives, recorded instead of shown
        glued.append((name, value, display))

    result = publish("03_x", {"a": np.float64(1.5), "h": {"n": np.int64(3), "s": "text"}, "v": np.arange(2)},
                     glue=glue, steps=7)
    assert result is None  # nothing for the notebook cell to print
    recorded = json.loads((tmp_path / "03_x.json").read_text())
    assert recorded == {"a": 1.5, "h": {"n": 3, "s": "text"}, "v": [0, 1], "steps": 7}
    assert {name for name, _, _ in glued} == {"a", "h", "h.n", "h.s", "v", "steps"}
    assert all(display is False for _, _, display in glued)
    values = {name: value for name, value, _ in glued}
    assert values["a"] == 1.5 and type(values["a"]) is float and values["h.n"] == 3 and values["v"] == [0, 1]
    with pytest.raises(ValueError, match="repeat keys"):
        publish("03_x", {"a": 1.0}, glue=glue, a=2.0)


def test_glue_keys_flattens_nested_mappings_only():
    assert glue_keys({"x": [1, {"y": 2}], "m": {"k": {"z": 0.5}}}) == {
        "x": [1, {"y": 2}], "m": {"k": {"z": 0.5}}, "m.k": {"z": 0.5}, "m.k.z": 0.5}


def test_rrbook_threads_caps_the_chapter_kernels():
    from rrlib.book import kernel_thread_env

    assert kernel_thread_env({"RRBOOK_THREADS": "1"}) == {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    assert kernel_thread_env({}) == {}
    with pytest.raises(ValueError, match="RRBOOK_THREADS must be a positive integer, got '0'"):
        kernel_thread_env({"RRBOOK_THREADS": "0"})


def _meeting_notebook(path, name: str, other: str, folder) -> None:
    """A chapter that leaves a file and waits (up to 60 s) for ``other``'s: both finish only if they run at once."""
    _notebook(path, "import pathlib, time\n"
                    f"here = pathlib.Path({str(folder)!r})\n"
                    f"(here / {name!r}).touch()\n"
                    "deadline = time.time() + 60\n"
                    f"while not (here / {other!r}).exists() and time.time() < deadline:\n"
                    "    time.sleep(0.05)\n"
                    f"assert (here / {other!r}).exists(), 'the other chapter never started'\n"
                    "import os, rrlib.book\n"
                    f"rrlib.book.record_metrics({name!r}, {{'threads': os.environ.get('OMP_NUM_THREADS')}})")


def test_parallel_jobs_run_chapters_at_once_and_report_in_book_order(tmp_path, capsys):
    (tmp_path / "_toc.yml").write_text(TOC.replace("02_broken", "02_ok") + "  - file: notebooks/03_broken\n")
    (tmp_path / "notebooks").mkdir()
    meet = tmp_path / "meet"
    meet.mkdir()
    _meeting_notebook(tmp_path / "notebooks" / "01_ok.ipynb", "01_ok", "02_ok", meet)
    _meeting_notebook(tmp_path / "notebooks" / "02_ok.ipynb", "02_ok", "01_ok", meet)
    _notebook(tmp_path / "notebooks" / "03_broken.ipynb", "raise ValueError('deliberately broken')")
    # the report reads the others' metrics: it must start after both have finished
    toc = tmp_path / "_toc.yml"
    toc.write_text(toc.read_text() + "  - file: notebooks/10_reproduction_report\n")
    _notebook(tmp_path / "notebooks" / "10_reproduction_report.ipynb",
              f"import pathlib\nm = pathlib.Path({str(tmp_path / 'metrics')!r})\n"
              "assert (m / '01_ok.json').exists() and (m / '02_ok.json').exists(), 'report started too early'\n"
              "import rrlib.book\nrrlib.book.record_metrics('10_reproduction_report', {'ok': True})")
    runs = run_chapters("quick", only=["10_reproduction_report", "02_ok", "01_ok"], root=tmp_path, jobs=2,
                        output_dir=tmp_path / "out", metrics_directory=tmp_path / "metrics")
    assert [run.name for run in runs] == ["01_ok", "02_ok", "10_reproduction_report"]
    threads = {json.loads((tmp_path / "metrics" / f"{name}.json").read_text())["threads"]
               for name in ("01_ok", "02_ok")}
    expected = os.environ.get("RRBOOK_THREADS") or str(max(1, (os.cpu_count() or 1) // 2))
    assert threads == {expected}  # two kernels share the cores
    printed = capsys.readouterr().out.splitlines()
    assert sorted(printed) == sorted(chapter_line(f"[{k}/3]", run.name, run.wall_s)
                                     for k, run in enumerate(runs, start=1))  # one line per chapter, nothing else
    # a failure among parallel chapters is raised after the others finish, naming the chapter
    for name in ("01_ok", "02_ok"):
        (meet / name).unlink()
    with pytest.raises(ChapterFailed, match="'03_broken' failed"):
        run_chapters("quick", root=tmp_path, jobs=2, output_dir=tmp_path / "out",
                     metrics_directory=tmp_path / "metrics")
    with pytest.raises(ValueError, match="jobs must be a positive integer, got 0"):
        run_chapters("quick", root=tmp_path, jobs=0)


def test_longest_chapters_start_first(tmp_path):
    from rrlib.book import longest_first

    timings = tmp_path / "_timings.json"
    assert longest_first(["01_a", "06_vulnerability_robustness", "08_downstream"], timings) == [
        "06_vulnerability_robustness", "08_downstream", "01_a"]  # the built-in guess
    timings.write_text(json.dumps({"01_a": 500.0}))
    assert longest_first(["01_a", "06_vulnerability_robustness", "08_downstream"], timings)[0] == "01_a"
