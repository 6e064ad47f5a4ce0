"""sim/objcache.py: Verilator's runtime compiled once, everything else compiled as usual."""
from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import objcache  # noqa: E402


@pytest.fixture
def setup(tmp_path, monkeypatch):
    """A fake compiler that logs its calls and writes -o and its .d, a fake Verilator include
    folder, a build folder; the cache in tmp_path."""
    include = tmp_path / "site" / "verilator" / "include"
    include.mkdir(parents=True)
    (include / "verilated.cpp").write_text("int runtime;\n")
    (include / "verilated.h").write_text("// header\n")
    log = tmp_path / "calls.log"
    cc = tmp_path / "fakecc"
    cc.write_text(f"""#!{sys.executable}
import sys
args = sys.argv[1:]
open({str(log)!r}, "a").write(" ".join(args) + "\\n")
out = args[args.index("-o") + 1]
open(out, "w").write("object of " + args[-1] + " " + " ".join(a for a in args if a.startswith("-D")))
open(out[:-2] + ".d", "w").write(out + ": " + args[-1] + "\\n")
""")
    cc.chmod(cc.stat().st_mode | stat.S_IEXEC)
    build = tmp_path / "build"
    build.mkdir()
    monkeypatch.chdir(build)
    monkeypatch.setattr(objcache, "CACHE", tmp_path / "cache")
    return include, str(cc), log


def compile_cmd(cc, include, source, define="-DVM_TRACE=0"):
    return [cc, "-Os", "-I.", "-MMD", f"-I{include}", define, "-c", "-o", Path(source).stem + ".o", str(source)]


def test_a_runtime_object_is_compiled_once_then_copied(setup):
    include, cc, log = setup
    cmd = compile_cmd(cc, include, include / "verilated.cpp")
    assert objcache.main(cmd) == 0
    first = Path("verilated.o").read_text(), Path("verilated.d").read_text()
    Path("verilated.o").unlink()
    Path("verilated.d").unlink()
    assert objcache.main(cmd) == 0
    assert (Path("verilated.o").read_text(), Path("verilated.d").read_text()) == first
    assert len(log.read_text().splitlines()) == 1               # the second came from the cache


def test_other_flags_or_a_changed_runtime_compile_again(setup):
    include, cc, log = setup
    assert objcache.main(compile_cmd(cc, include, include / "verilated.cpp")) == 0
    assert objcache.main(compile_cmd(cc, include, include / "verilated.cpp", "-DVM_TRACE=1")) == 0
    assert "VM_TRACE=1" in Path("verilated.o").read_text()
    (include / "verilated.h").write_text("// another Verilator\n")
    assert objcache.main(compile_cmd(cc, include, include / "verilated.cpp")) == 0
    assert len(log.read_text().splitlines()) == 3


def test_the_model_and_cocotbs_main_are_never_cached_but_get_the_precompiled_headers(setup, tmp_path):
    include, cc, log = setup
    model = Path("Vtop__ALL.cpp")
    model.write_text("int model;\n")
    main = tmp_path / "cocotb" / "share" / "verilator.cpp"      # includes the model's Vtop.h
    main.parent.mkdir(parents=True)
    main.write_text("int main;\n")
    for source in (model, main, model, main):
        assert objcache.main(compile_cmd(cc, include, source)) == 0
    calls = log.read_text().splitlines()
    pch = [c for c in calls if "c++-header" in c]
    compiles = [c for c in calls if "c++-header" not in c]
    assert len(pch) == 1 and len(compiles) == 4                 # one header for the same flags
    header = pch[0].split()[-1]
    assert all(c.startswith(f"-include {Path(header).parent.parent}") and c.endswith(source.name)
               for c, source in zip(compiles, (model, main, model, main)))
    assert "-MP" in compiles[0].split() and "-MMD" not in pch[0].split() and "-c" not in pch[0].split()
    assert not list((tmp_path / "cache").glob("*/object.o"))     # no object is cached
    assert objcache.runtime_source([cc, "-E", str(include / "verilated.cpp")]) is None   # no object
    # other flags: another precompiled header
    assert objcache.main(compile_cmd(cc, include, model, "-DVM_TRACE=1")) == 0
    assert sum("c++-header" in c for c in log.read_text().splitlines()) == 2


def test_a_header_that_does_not_build_leaves_the_compile_as_it_was(setup, tmp_path):
    include, _, _ = setup
    log = tmp_path / "half.log"
    half = tmp_path / "halfcc"      # a compiler without precompiled headers
    half.write_text(f"""#!{sys.executable}
import sys
args = sys.argv[1:]
open({str(log)!r}, "a").write(" ".join(args) + "\\n")
sys.exit(1 if "c++-header" in args else 0)
""")
    half.chmod(half.stat().st_mode | stat.S_IEXEC)
    cmd = compile_cmd(str(half), include, "Vtop__ALL.cpp")
    assert objcache.main(cmd) == 0
    assert log.read_text().splitlines()[-1] == " ".join(cmd[1:])
    assert not [p for p in (tmp_path / "cache").iterdir()]       # nothing half-built left behind


def test_a_failed_compile_is_not_stored(setup, tmp_path):
    include, _, _ = setup
    bad = tmp_path / "badcc"
    bad.write_text(f"#!{sys.executable}\nimport sys\nsys.exit(3)\n")
    bad.chmod(bad.stat().st_mode | stat.S_IEXEC)
    assert objcache.main(compile_cmd(str(bad), include, include / "verilated.cpp")) == 3
    assert not (tmp_path / "cache").exists()
