"""The command line driven with generated arguments and files (hypothesis).

For every generated command line: the exit status is 0 or 2 (never a traceback, never the
"internal error" status 1), an error is one `fsvae-fpga <command>: error: ...` line, nothing
outside --out changed, and no temporary file is left anywhere.  The commands run in-process
(main()) so that a minute covers a few hundred command lines; the subprocess tests in
test_cli_outputs.py / test_cli_errors.py cover the real entry point.
"""
import contextlib
import io
import os
import shutil
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT
from fsvae_fpga.cli import main
from fsvae_fpga.outputs import MARKER

SMALL = ROOT / "sw" / "fsvae_fpga" / "shipped" / "small" / "model.pt"
EXAMPLES = int(os.environ.get("FSVAE_FUZZ_EXAMPLES", "120"))


def _snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): (None if p.is_dir() else p.read_bytes()) for p in sorted(root.rglob("*"))}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """Inputs of every kind, good and bad, in one folder the commands run in."""
    root = tmp_path_factory.mktemp("fuzz")
    data = SMALL.read_bytes()
    inputs = root / "in"
    inputs.mkdir()
    shutil.copy(SMALL, inputs / "good.pt")
    (inputs / "empty.pt").write_bytes(b"")
    (inputs / "half.pt").write_bytes(data[: len(data) // 3])
    (inputs / "noise.pt").write_bytes(os.urandom(2048))
    (inputs / "text.pt").write_text("not a checkpoint")
    ckpt = torch.load(SMALL, weights_only=True)
    ckpt["config"]["network"]["k"] = 3
    torch.save(ckpt, inputs / "mismatch.pt")
    assert main(["export", "--ckpt", str(SMALL), "--out", str(inputs / "hw")]) == 0
    bad = inputs / "hw_bad"
    shutil.copytree(inputs / "hw", bad)
    (bad / "hwmodel.json").write_text((bad / "hwmodel.json").read_text().replace('"layers": [', '"layers": [3, '))
    (inputs / "hw_empty").mkdir()
    (inputs / "cfg.yaml").write_text((ROOT / "configs" / "small.yaml").read_text())
    (inputs / "cfg_bad.yaml").write_text("network: [1, 2\n")
    user = root / "user"
    user.mkdir()
    (user / "notes.txt").write_text("the user's own file")
    return root


def mostly(valid, invalid):
    """Three valid values for one invalid: most command lines get past argparse to the work."""
    return st.integers(0, 3).flatmap(lambda i: invalid if i == 0 else valid)


CKPTS = mostly(st.just("in/good.pt"), st.sampled_from(["in/empty.pt", "in/half.pt", "in/noise.pt", "in/text.pt",
                                                       "in/mismatch.pt", "in/missing.pt", "in", "in/hw"]))
HWMODELS = mostly(st.just("in/hw"), st.sampled_from(["in/hw_bad", "in/hw_empty", "in/missing", "in/good.pt"]))
SEEDS = mostly(st.one_of(st.integers(0, 2 ** 32 - 1).map(str), st.sampled_from(["0x10", "-0", " 7"])),
               st.one_of(st.integers(-2 ** 66, 2 ** 66).map(str), st.sampled_from(["4294967296", "1.5", ""]),
                         st.text(max_size=6)))
# valid counts stay small (a few images), invalid ones are anything
COUNTS = mostly(st.integers(1, 3).map(str),
                st.one_of(st.integers(-10 ** 6, 10 ** 6).map(str), st.sampled_from(["0", "65537", "501", "many", ""])))
NAMES = mostly(st.sampled_from(["s.png", "s.npy", "new/deep/s.png", "out", "new/out"]),
               st.sampled_from(["s.jpg", "s", "user", "user/notes.txt", "user/s.png", "in/good.pt", "in", "in/hw",
                                ".", "..", "/proc/x.png", "in/good.pt/x"]))


def _command(draw):
    cmd = draw(st.sampled_from(["sample", "reconstruct", "export", "vectors", "train", "evaluate", "stats",
                                "codegen", "featurenet"]))
    args = [cmd]

    def opt(flag, strategy, p_omit=0.15):
        if draw(st.integers(0, 99)) >= 100 * p_omit:
            args.extend([flag, draw(strategy)])
    if cmd in ("sample", "reconstruct", "evaluate", "export"):
        opt("--ckpt", CKPTS)
    if cmd in ("sample", "reconstruct", "vectors", "stats", "codegen"):
        opt("--n", COUNTS)
    if cmd not in ("export", "train"):
        opt("--seed", SEEDS)
    if cmd in ("sample", "reconstruct", "evaluate"):
        opt("--sampler", mostly(st.sampled_from(["hardware", "torch"]), st.just("lfsr")))
    if cmd in ("vectors", "stats", "codegen"):
        opt("--hwmodel", HWMODELS)
    if cmd == "codegen":
        args.insert(1, draw(mostly(st.sampled_from(["hls", "rtl"]), st.just("vhdl"))))
        opt("--board", mostly(st.sampled_from(["pynq-z2", "kv260"]), st.just("de10")))
    if cmd == "evaluate":          # at most a handful of images: the work stays short
        args += ["--samples", draw(mostly(st.just("2"), st.sampled_from(["0", "-3", "70000", "x"])))]
        args += ["--limit", draw(mostly(st.just("4"), st.sampled_from(["0", "-1", "y"])))]
    if cmd == "train":             # every train line is refused before an epoch starts
        choice = draw(st.sampled_from(["config", "resume"]))
        if choice == "config":
            args += ["--config", draw(st.sampled_from(["in/cfg.yaml", "in/cfg_bad.yaml", "in/missing.yaml"]))]
            args += ["--epochs", draw(st.sampled_from(["0", "-1", "x", "1e9"]))]
        else:     # the shipped checkpoint has done more epochs than these
            args += ["--resume", draw(CKPTS), "--epochs", draw(st.sampled_from(["1", "2", "0"]))]
        for _ in range(draw(st.integers(0, 2))):
            args += ["--set", draw(st.sampled_from(["train.lr=1e-3", "train.lr=nan", "network.k=0", "x=1", "=",
                                                    "train=3", "train.seed=-1", "network.latent_dim=9"]))]
    if cmd == "featurenet":        # refused before training: bad epochs or a bad path
        args += ["--epochs", draw(st.sampled_from(["0", "-2", "z"]))]
        opt("--out", NAMES)
    elif cmd not in ("evaluate", "stats"):
        opt("--out", NAMES, p_omit=0.05)
    return args


@st.composite
def command_lines(draw):
    return _command(draw)


def _out_of(args):
    if "--out" in args:
        return args[args.index("--out") + 1]
    return "runs/train" if args[0] == "train" else None


@settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=bool(os.environ.get("CI")),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(args=command_lines())
def test_generated_command_lines(sandbox, args):
    cwd = os.getcwd()
    before = _snapshot(sandbox)
    stderr = io.StringIO()
    os.chdir(sandbox)
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            try:
                status = main(args)
            except SystemExit as exit_:               # argparse
                status = exit_.code
    finally:
        os.chdir(cwd)
    err = stderr.getvalue()
    assert status in (0, 2), (args, status, err[-800:])
    assert "Traceback" not in err, (args, err)
    if status == 2:
        last = err.strip().splitlines()[-1]
        prog = "fsvae-fpga" + (f" {args[0]}" if args else "")
        assert last.startswith(prog) and ": error: " in last, (args, last)
    after = _snapshot(sandbox)
    out = _out_of(args)
    prefix = None if out is None else os.path.relpath(os.path.join(sandbox, out), sandbox)
    changed = {k for k in set(before) | set(after) if before.get(k, 0) != after.get(k, 0)}
    outside = {k for k in changed if prefix is None or prefix.startswith("..")
               or not (k == prefix or k.startswith(prefix.rstrip("/") + "/"))}
    # making the parent folders of a new --out is part of writing it
    outside -= {k for k in outside if after.get(k, 0) is None and prefix and prefix.startswith(k + "/")}
    assert not outside, (args, sorted(outside))
    assert not [k for k in after if ".tmp-" in k or ".old-" in k or "probe" in k], (args, sorted(after))
    if prefix in before and f"{prefix}/{MARKER}" not in before and (
            before[prefix] is not None or any(k.startswith(prefix + "/") for k in before)):
        # an existing file, or a folder with files that is not ours: left exactly as it was
        assert not {k for k in changed if k == prefix or k.startswith(prefix + "/")}, (args, "foreign --out changed")
    # put the sandbox back as it was, so that every example starts from the same files
    for k in sorted(set(after) - set(before), key=len, reverse=True):
        p = sandbox / k
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    for k, content in before.items():
        if content is not None and after.get(k) != content:
            (sandbox / k).write_bytes(content)
