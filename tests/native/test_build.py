"""The build: four binaries from one CMake tree, no warnings, cached by the sources' hash, clear when it cannot."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from seatlab import native
from seatlab.harness import templates
from seatlab.harness.templates import TemplateError, check_template, command_argv
from seatlab.server.config import ServerConfig


def test_build_makes_every_server_and_is_cached(native_build: Path) -> None:
    for name in native.SERVERS:
        path = native.binary(name, quiet=True)
        assert path.is_file() and path.parent == native_build
    assert native_build.parent == native.cache_root()
    assert native_build.name == native.source_hash()
    assert (native_build / "built").read_text().strip() == native.source_hash()
    assert not (native.SOURCE_DIR / "CMakeCache.txt").exists()  # the source tree stays clean


def test_build_has_no_warnings(native_build: Path) -> None:
    """-Wall -Wextra over everything we wrote (the generated seat.pb.cc is compiled without them)."""
    log = (native_build / "build.log").read_text()
    assert "warning:" not in log, log


def test_source_hash_follows_the_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(native.SOURCE_DIR, copy / "native", ignore=shutil.ignore_patterns("build"))
    (copy / "seatlab" / "protocol").mkdir(parents=True)
    shutil.copy(native.PROTO, copy / "seatlab" / "protocol" / "seat.proto")
    monkeypatch.setattr(native, "REPO", copy)
    monkeypatch.setattr(native, "SOURCE_DIR", copy / "native")
    monkeypatch.setattr(native, "PROTO", copy / "seatlab" / "protocol" / "seat.proto")
    before = native.source_hash()
    (copy / "native" / "build").mkdir()  # a build dir inside the tree is not a source
    (copy / "native" / "build" / "junk.o").write_bytes(b"x")
    assert native.source_hash() == before
    (copy / "native" / "README.md").write_text("docs are not sources\n")
    assert native.source_hash() == before
    source = copy / "native" / "src" / "event.cpp"
    source.write_text(source.read_text() + "\n// changed\n")
    assert native.source_hash() != before


def test_missing_toolchain_names_it_and_the_apt_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no cmake, protoc or g++ on it
    monkeypatch.setenv("SEATLAB_NATIVE_CACHE", str(tmp_path / "cache"))  # nothing built there
    with pytest.raises(native.NativeBuildError) as info:
        native.build(quiet=True)
    assert "cmake (cmake)" in str(info.value) and native.APT_LINE in str(info.value)
    monkeypatch.setattr(templates, "_warned", set())
    check_template("native:event --port {port}")  # the config check warns, so Python backends still run
    err = capsys.readouterr().err
    assert "native:event:" in err and native.APT_LINE in err
    with pytest.raises(native.NativeBuildError, match="apt-get install -y libboost-dev"):
        command_argv("native:event --port {port}", ServerConfig(port=0))  # the point fails, saying why
    assert not (tmp_path / "cache").exists()  # nothing was started


def test_unknown_native_server_is_named() -> None:
    with pytest.raises(TemplateError, match="no native server 'fibers'"):
        check_template("native:fibers --port {port}")


def test_command_line_tool_prints_the_binary(native_build: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "seatlab.native", "path", "coro"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()) == native_build / "native_coro"
    bad = subprocess.run(
        [sys.executable, "-m", "seatlab.native", "path"], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2 and "usage" in bad.stderr
