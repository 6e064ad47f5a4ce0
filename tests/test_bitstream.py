"""fsvae-fpga bitstream (bitstream.py) without Vivado.

The tool checks for the pinned Vivado (and Vitis HLS) before anything long and says in one
line what is missing; it refuses folders it did not make; and with a stand-in `vivado` on
the PATH (hw/vivado/stubs.tcl under tclsh) the whole flow runs to an overlay folder, or
stops with status 1 when timing is not met.
"""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fsvae_fpga.toolchain import bitstream
from fsvae_fpga.codegen import boards

ROOT = Path(__file__).resolve().parents[1]
RELEASE = boards.vivado_release()


def _fake_tool(bin_dir: Path, name: str, version_line: str, body: str = "exit 0") -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / name
    path.write_text(f'#!/bin/sh\nif [ "$1" = "-version" ]; then echo "{version_line}"; exit 0; fi\n{body}\n')
    path.chmod(0o755)


def test_without_vivado_exits_2_at_once_with_one_line(tmp_path):
    empty = tmp_path / "empty-path"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty), "PYTHONPATH": str(ROOT / "sw")}
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-m", "fsvae_fpga.toolchain.bitstream", "--board", "pynq-z2"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert time.monotonic() - t0 < 15
    assert res.returncode == 2
    assert res.stdout == ""
    assert res.stderr.splitlines() == [
        f"fsvae-fpga bitstream: error: Vivado {RELEASE} (vivado) is not on the PATH; "
        f"install Vivado {RELEASE} and source its settings64.sh"]
    assert not (tmp_path / "build").exists(), "nothing may be written before the tools are there"


def test_another_vivado_release_is_named(tmp_path, monkeypatch, capsys):
    _fake_tool(tmp_path / "bin", "vivado", "vivado v2023.2 (64-bit)")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.chdir(tmp_path)
    assert bitstream.main(["--board", "kv260"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert f"found Vivado v2023.2 ({tmp_path / 'bin' / 'vivado'}), this project needs {RELEASE}" in err[0]


def test_hls_core_needs_vitis_hls(tmp_path, monkeypatch, capsys):
    _fake_tool(tmp_path / "bin", "vivado", f"vivado v{RELEASE} (64-bit)")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.chdir(tmp_path)
    assert bitstream.main(["--board", "zcu104", "--core", "hls"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"fsvae-fpga bitstream: error: Vitis HLS {RELEASE} (vitis_hls) is not on the PATH; "
                   f"install Vitis HLS {RELEASE} and source its settings64.sh"]


@pytest.mark.parametrize("which", ["--out", "--work"])
def test_refuses_a_folder_it_did_not_make(tmp_path, monkeypatch, capsys, which):
    _fake_tool(tmp_path / "bin", "vivado", f"vivado v{RELEASE} (64-bit)")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    mine = tmp_path / "someone-elses"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me\n")
    other = "--work" if which == "--out" else "--out"
    assert bitstream.main(["--board", "pynq-z2", which, str(mine), other, str(tmp_path / "new")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and f"{which} {mine}" in err[0] and "choose a new folder" in err[0]
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


@pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh is not installed (apt install tcl)")
def test_whole_flow_with_a_stand_in_vivado(tmp_path, monkeypatch, capsys):
    """`vivado` here runs the build script under the stand-ins (hw/vivado/stubs.tcl), which
    write a placeholder bitstream and hardware handoff where Vivado 2024.1 would."""
    stubs = ROOT / "hw" / "vivado" / "stubs.tcl"
    _fake_tool(tmp_path / "bin", "vivado", f"vivado v{RELEASE} (64-bit)",
               'while [ $# -gt 0 ]; do case "$1" in -source) src="$2"; shift;; esac; shift; done\n'
               f'exec tclsh {stubs} "$src" stand_in_record.json')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.chdir(ROOT)                 # the configuration's shipped model is named relative to it
    out, work = tmp_path / "overlay", tmp_path / "work"
    args = ["--board", "pynq-z2", "--out", str(out), "--work", str(work), "--jobs", "2"]
    assert bitstream.main(args) == 0, capsys.readouterr().err
    assert (out / "fsvae.bit").read_text() == "stand-in bitstream\n"
    assert (out / "fsvae.hwh").is_file()
    assert {"timing_summary.rpt", "utilization.rpt", "results.json"} <= {p.name for p in (out / "reports").iterdir()}
    assert (out / bitstream.OVERLAY_MARKER).is_file()      # overlay.write_overlay_files ran
    assert (work / "rtl" / "rtl" / "fsvae_core.v").is_file()
    # the identity the bitstream reports is the overlay's hardware model's
    from fsvae_fpga.contract import hwmodel
    manifest, hw = json.loads((out / "fsvae.json").read_text()), hwmodel.load(out / "hwmodel")
    assert manifest["identity"] == hw.identity32 and manifest["hwmodel_identity"] == hw.identity
    log = capsys.readouterr().out
    mhz = boards.board("pynq-z2")["clock_mhz"]
    made_hz = round(1e9 / round(1e9 / (mhz * 1e6)))       # the Zynq-7000 IO PLL (1 GHz) / an integer
    assert f"build_bitstream.tcl checked: PL clock {made_hz} Hz" in log

    # again, with timing not met: status 1, the overlay's bitstream left as it was
    monkeypatch.setenv("FSVAE_STUB_WNS", "-0.4")
    assert bitstream.main(args) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and f"timing not met at {mhz} MHz (WNS -0.4 ns" in err[0]
    assert not (work / "rtl" / "vivado" / "fsvae.bit").exists()
