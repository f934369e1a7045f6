"""The native (C++) servers under ``native/``: build them once, on first use, and say where they are.

How this works: the build is keyed by a hash of its sources (every file under
``native/`` but its ``*.md``, and ``seatlab/protocol/seat.proto``), so an edit rebuilds and an
unchanged tree never does. ``build()`` configures and builds with CMake into
``<cache>/<hash>/`` (``<cache>`` is ``$SEATLAB_NATIVE_CACHE``, else
``$XDG_CACHE_HOME/seatlab/native``, else ``~/.cache/seatlab/native``: outside the
source tree), under a file lock so concurrent runs build once, and writes a
``built`` marker last, so an interrupted build is redone. CMake's output goes to
``build.log`` beside it. Nothing is built at import: the runner asks for a binary
(``binary("event")``) only when a ``native:NAME`` command template is filled in
for a point (``seatlab.harness.templates``).

When the toolchain is missing, ``NativeBuildError`` says what is missing and
the one Debian line that installs it (``APT_LINE``).

``python -m seatlab.native [build | path NAME | check]`` does the same from a shell (CI builds
before the tests with it).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from seatlab.registry import NATIVE_SERVERS

SERVERS = NATIVE_SERVERS
"""The native servers, each a binary ``native_NAME`` and a backend ``native_NAME`` (``seatlab.registry``)."""

APT_LINE = "apt-get install -y libboost-dev libevent-dev libprotobuf-dev protobuf-compiler cmake g++"
"""The one Debian line that installs the native servers' toolchain (as root)."""

REPO = Path(__file__).resolve().parent.parent
SOURCE_DIR = REPO / "native"
PROTO = REPO / "seatlab" / "protocol" / "seat.proto"

_HEADERS = {
    "boost/asio.hpp": "libboost-dev",
    "event2/event.h": "libevent-dev",
    "google/protobuf/message.h": "libprotobuf-dev",
}
_PROGRAMS = {"cmake": "cmake", "protoc": "protobuf-compiler", "g++": "g++"}
_INCLUDE_DIRS = (Path("/usr/include"), Path("/usr/local/include"))


class NativeBuildError(RuntimeError):
    """The native servers cannot be built here; the message says why and how to fix it."""


def cache_root() -> Path:
    """Where builds go: ``$SEATLAB_NATIVE_CACHE``, else the user's cache dir (never the source tree)."""
    explicit = os.environ.get("SEATLAB_NATIVE_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "seatlab" / "native"


def _sources() -> list[Path]:
    if not (SOURCE_DIR / "CMakeLists.txt").is_file():
        raise NativeBuildError(f"no native sources at {SOURCE_DIR} (a seatlab checkout has them)")
    files = [  # documentation is not a source: editing native/README.md does not rebuild
        p
        for p in SOURCE_DIR.rglob("*")
        if p.is_file() and p.suffix != ".md" and "build" not in p.relative_to(SOURCE_DIR).parts
    ]
    return [*sorted(files), PROTO]


def source_hash() -> str:
    """16 hex digits of SHA-256 over the sources' paths and contents: the build's key."""
    digest = hashlib.sha256()
    for path in _sources():
        digest.update(str(path.relative_to(REPO)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def build_dir() -> Path:
    """The build directory of the current sources (it may not exist yet)."""
    return cache_root() / source_hash()


def missing_toolchain() -> list[str]:
    """What is missing to build, as 'program (package)' / 'header (package)'; empty: all there."""
    missing = [f"{prog} ({pkg})" for prog, pkg in _PROGRAMS.items() if shutil.which(prog) is None]
    for header, pkg in _HEADERS.items():
        if not any((d / header).is_file() for d in _INCLUDE_DIRS):
            missing.append(f"{header} ({pkg})")
    return missing


def is_built() -> bool:
    """Whether the current sources are built already (no build is started)."""
    try:
        return (build_dir() / "built").is_file()
    except NativeBuildError:
        return False


def check_toolchain() -> None:
    """Raise ``NativeBuildError`` naming what is missing (nothing is built)."""
    if is_built():
        return
    missing = missing_toolchain()
    if missing:
        raise NativeBuildError(
            "the native servers need a C++ toolchain that is not here; missing: "
            + ", ".join(missing)
            + f". On Debian/Ubuntu, as root: {APT_LINE}"
        )


def build(quiet: bool = False) -> Path:
    """Build the native servers if the current sources are not built yet; return the build dir."""
    target = build_dir()
    marker = target / "built"
    if marker.is_file():
        return target
    check_toolchain()
    target.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run building the same sources: wait for it
        if marker.is_file():
            return target
        if not quiet:
            print(f"seatlab: building the native servers (once) into {target}", file=sys.stderr, flush=True)
        log_path = target / "build.log"
        jobs = str(max(1, min(2, os.cpu_count() or 1)))
        steps = [
            ["cmake", "-S", str(SOURCE_DIR), "-B", str(target), "-DCMAKE_BUILD_TYPE=Release",
             f"-DSEAT_PROTO={PROTO}"],
            ["cmake", "--build", str(target), "-j", jobs],
        ]  # fmt: skip
        with open(log_path, "w") as log:
            for step in steps:
                log.write("$ " + " ".join(step) + "\n")
                log.flush()
                done = subprocess.run(step, stdout=log, stderr=subprocess.STDOUT, check=False)
                if done.returncode != 0:
                    tail = log_path.read_text(errors="replace").splitlines()[-15:]
                    raise NativeBuildError(
                        f"building the native servers failed ({' '.join(step[:2])} exited {done.returncode}); "
                        f"log: {log_path}\n" + "\n".join(tail)
                    )
        missing = [name for name in SERVERS if not (target / f"native_{name}").is_file()]
        if missing:
            raise NativeBuildError(f"the build in {target} made no native_{missing[0]}; log: {log_path}")
        marker.write_text(source_hash() + "\n")
    return target


def binary(name: str, quiet: bool = False) -> Path:
    """The path of ``native_NAME``, built first if need be; ``NativeBuildError`` when it cannot be."""
    if name not in SERVERS:
        raise NativeBuildError(f"no native server {name!r}; known: {', '.join(SERVERS)}")
    return build(quiet=quiet) / f"native_{name}"


def main(argv: list[str] | None = None) -> int:
    """``python -m seatlab.native [build | path NAME | check]``: exit 0, 1 (cannot build) or 2 (usage)."""
    args = sys.argv[1:] if argv is None else argv
    try:
        if args in ([], ["build"]):
            print(build())
        elif len(args) == 2 and args[0] == "path":
            print(binary(args[1]))
        elif args == ["check"]:
            check_toolchain()
            print("built" if is_built() else "toolchain present, not built yet")
        else:
            print("usage: python -m seatlab.native [build | path NAME | check]", file=sys.stderr)
            return 2
    except NativeBuildError as exc:
        print(f"seatlab.native: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
