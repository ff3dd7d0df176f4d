"""Prepare, here, what the lent GPU machine lacks for ``benchmarks/gpu_check.py``: ``make gpu-prepare``.

The lent machine is bare (Python 3.12 with torch, numpy, pandas, seaborn, pytest ...; no papermill, ipykernel,
myst-nb or torchattacks; no Fashion-MNIST; nothing outside reachable). This script fills the ignored folder
``.gpu/`` (``.gitignore``), which the ``device`` call carries:

* ``.gpu/wheels/`` — cp312 manylinux wheels of what the check needs and the machine has not: papermill and
  ipykernel with their dependencies, and myst-nb, docutils and torchattacks without theirs (only
  ``myst_nb.glue``, which needs IPython, nbformat and docutils, and torchattacks' attacks run there); wheels of
  packages already on the machine (:data:`PREINSTALLED`) are dropped, so nothing shadows its torch or numpy;
* ``.gpu/data/FashionMNIST/raw/`` — the four gzipped IDX files from Debian's ``dataset-fashion-mnist``;
* ``.gpu/COMMIT`` — ``git describe --always --dirty`` of the tree that travels.

It prints the size of what the call sends (tracked and untracked-not-ignored files plus ``.gpu``; the limit is
64 MiB). Usage: ``python benchmarks/gpu_prepare.py [--skip-wheels]``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GPU_DIR = ROOT / ".gpu"
FMNIST_SYSTEM = Path("/usr/share/datasets/fashion-mnist")
FMNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                "t10k-labels-idx1-ubyte.gz")
LIMIT_MIB = 64
#: Versions as in requirements-lock.txt / requirements-autoattack.txt.
WITH_DEPENDENCIES = ("papermill==2.7.0", "ipykernel==7.4.0")
WITHOUT_DEPENDENCIES = ("myst-nb==1.4.0", "docutils==0.21.2", "torchattacks==3.5.1")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_26_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64", "manylinux_2_5_x86_64")
#: Packages of the lent machine's image ('cuda'), as the device tool's KINDS.md listed them on 2026-11-17.
PREINSTALLED = frozenset("""
absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build certifi
charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings cuda-core cuda-pathfinder
cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils execnet filelock flatbuffers flax fonttools
formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx huggingface-hub humanize hypothesis idna
imageio iniconfig interface-meta jax jax-cuda13-pjrt jax-cuda13-plugin jaxlib jaxtyping jinja2 joblib kiwisolver
lazy-loader lightning lightning-utilities linear-operator lineax llvmlite lxml markdown markdown-it-py markupsafe
matplotlib mdurl meson ml-dtypes mpi4py mpmath msgpack multidict multipledispatch mypy-extensions nanobind narwhals
networkx ninja numba numba-cuda numpy numpyro nvidia-cublas nvidia-cuda-cupti nvidia-cuda-nvrtc nvidia-cuda-runtime
nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile nvidia-curand nvidia-cusolver nvidia-cusparse nvidia-cusparselt-cu13
nvidia-ml-py nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13 nvidia-nvtx onnx onnx-ir onnxruntime onnxscript
opencv-python-headless optax opt-einsum opt-einsum-fx optimistix orbax-checkpoint packaging pandas pathspec patsy
peft pillow pip pluggy portalocker prometheus-client propcache protobuf psutil pyarrow pybind11 py-cpuinfo pygments
pyparsing pyproject-hooks pyre-extensions pytest pytest-benchmark pytest-cov pytest-mock pytest-timeout
pytest-xdist python-dateutil pytorch-lightning pyyaml regex requests rich sacrebleu safetensors scikit-build-core
scikit-image scikit-learn scipy seaborn sentencepiece sentence-transformers setuptools shellingham simplejson six
sortedcontainers statsmodels sympy tabulate tensorboard tensorboard-data-server tensorstore threadpoolctl tifffile
tiktoken timm tokenizers toolz torch torchaudio torchdiffeq torch-geometric torchmetrics torchvision tqdm
transformers treescope triton typer typing-extensions typing-inspect urllib3 uvloop wadler-lindig werkzeug wheel
wrapt xarray xxhash yarl zipp
""".split())


def distribution(wheel: str) -> str:
    """The normalised distribution name of a wheel file (``jupyter_client-8.10.0-py3-none-any.whl`` ->
    ``jupyter-client``)."""
    return re.sub(r"[-_.]+", "-", wheel.split("-")[0]).lower()


def kept(wheels: list[str]) -> list[str]:
    """The wheels the lent machine needs: not preinstalled there, no CUDA-12 runtime (the machine has CUDA 13)."""
    return sorted(w for w in wheels if distribution(w) not in PREINSTALLED
                  and not re.match(r"nvidia-.*-cu12$", distribution(w)))


def download(folder: Path, requirements: tuple[str, ...], *, deps: bool) -> None:
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--python-version", "3.12",
           "--implementation", "cp", *platforms, "--dest", str(folder), *([] if deps else ["--no-deps"]),
           *requirements]
    subprocess.run(cmd, check=True)


def prepare_wheels(target: Path) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="gpu-wheels-") as tmp:
        download(Path(tmp), WITH_DEPENDENCIES, deps=True)
        download(Path(tmp), WITHOUT_DEPENDENCIES, deps=False)
        names = kept([p.name for p in Path(tmp).glob("*.whl")])
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for name in names:
            shutil.copy2(Path(tmp) / name, target / name)
    return names


def prepare_data(target: Path) -> None:
    missing = [f for f in FMNIST_FILES if not (FMNIST_SYSTEM / f).is_file()]
    if missing:
        raise SystemExit(f"error: Fashion-MNIST not found in {FMNIST_SYSTEM} (missing {missing}); install Debian's "
                         "dataset-fashion-mnist (make data, as root)")
    target.mkdir(parents=True, exist_ok=True)
    for f in FMNIST_FILES:
        shutil.copy2(FMNIST_SYSTEM / f, target / f)


def travelling_bytes() -> int:
    """Bytes the device call sends: tracked and untracked-not-ignored files, plus ``.gpu``."""
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, check=True).stdout.split(b"\0")
    files = {ROOT / name.decode() for name in listed if name}
    files |= {p for p in GPU_DIR.rglob("*") if p.is_file()}
    return sum(p.stat().st_size for p in files if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-wheels", action="store_true", help="keep .gpu/wheels as it is")
    args = parser.parse_args(argv)
    if not args.skip_wheels:
        names = prepare_wheels(GPU_DIR / "wheels")
        print(f".gpu/wheels: {len(names)} wheels: {', '.join(distribution(n) for n in names)}")
    prepare_data(GPU_DIR / "data" / "FashionMNIST" / "raw")
    commit = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True,
                            text=True).stdout.strip()
    (GPU_DIR / "COMMIT").write_text(commit + "\n")
    size = travelling_bytes() / 2**20
    print(f".gpu ready for commit {commit}; the device call sends {size:.1f} MiB (limit {LIMIT_MIB} MiB)")
    if size > LIMIT_MIB:
        print(f"error: {size:.1f} MiB is over the device call's {LIMIT_MIB} MiB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
