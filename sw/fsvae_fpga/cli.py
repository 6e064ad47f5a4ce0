"""The one command line: ``fsvae-fpga <command>``; ``fsvae-fpga <command> --help`` explains each.

Size: every command's argument parser and its thin handler are here, so that the whole
command line reads in one file; the work is in flows.py and the subpackages.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from fsvae_fpga import cli_args
from fsvae_fpga.outputs import OutputError, atomic_file, check_dir_target, check_file_target, mark_dir

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "mnist.yaml"


class UsageError(Exception):
    pass


def _load(ckpt):
    from fsvae_fpga.training.checkpoint import load_model
    return load_model(ckpt)


def _sampler(model, choice):
    """--sampler, checked against the model kind before any work."""
    from fsvae_fpga.evaluation.inference import default_sampler
    if choice == "hardware" and default_sampler(model) != "hardware":
        raise UsageError("--sampler hardware draws FSVAE latent indices; the ANN VAE's Gaussian latent "
                         "uses --sampler torch")
    return choice or default_sampler(model)


def _held_out(data: dict, n: int, what: str):
    """The first n held-out images of the checkpoint's dataset; fewer is an error, not a surprise."""
    from fsvae_fpga.data import load_images
    test = load_images(data["dataset"], "test", data["image_size"], data["root"])
    if n > test.images.shape[0]:
        raise UsageError(f"{what} {n}: {data['dataset']} has only {test.images.shape[0]} held-out images; "
                         f"ask for at most {test.images.shape[0]}")
    return test.images[:n]


def cmd_train(args):
    import torch
    from fsvae_fpga.config import load_config, with_overrides
    from fsvae_fpga.training.train import length_overrides, train
    if args.device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available here; use --device cpu")
    from fsvae_fpga.config import parse_value
    overrides = {}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {item}: expected KEY=VALUE, e.g. train.float_epochs=20")
        overrides[key.strip()] = parse_value(value.strip())
    if args.resume and (args.model or "model" in overrides):
        raise UsageError("--model cannot change when resuming: the checkpoint holds that model's weights")
    if args.resume and args.config:
        raise UsageError("--config cannot be used with --resume: the checkpoint holds its config; "
                         "change values with --set KEY=VALUE")
    cfg = None
    if not args.resume:
        cfg = load_config(args.config or DEFAULT_CONFIG)
        if args.model:
            overrides["model"] = args.model
        cfg = with_overrides(cfg, **{**length_overrides(cfg, args.epochs), **overrides})
        overrides = {}
    torch.manual_seed((cfg or {}).get("train", {}).get("seed", 0))
    last = train(cfg, args.out, epochs=args.epochs, resume=args.resume, device=args.device,
                 progress=not args.no_progress, overrides=overrides)
    print(json.dumps({"checkpoint": str(last)}))


def cmd_sample(args):
    out = check_file_target(args.out, (".png", ".npy"))
    from fsvae_fpga.evaluation.images import save_grid
    from fsvae_fpga.evaluation.inference import generate
    model, _ = _load(args.ckpt)
    sampler = _sampler(model, args.sampler)
    pixels = generate(model, args.n, args.seed, progress=True, sampler=sampler)
    if out.suffix.lower() == ".png":
        save_grid(pixels, out)
    else:
        import numpy as np
        with atomic_file(out) as tmp, open(tmp, "wb") as f:
            np.save(f, pixels.numpy().astype(np.uint8))
    print(json.dumps({"images": args.n, "seed": args.seed, "sampler": sampler, "out": str(out)}))


def cmd_reconstruct(args):
    out = check_file_target(args.out, (".png",))
    from fsvae_fpga.evaluation.images import save_pairs, to_pixels
    from fsvae_fpga.evaluation.inference import reconstruct
    model, ckpt = _load(args.ckpt)
    sampler = _sampler(model, args.sampler)
    images = _held_out(ckpt["config"]["data"], args.n, "--n")
    save_pairs(to_pixels(images), reconstruct(model, images, args.seed, sampler=sampler), out)
    print(json.dumps({"images": images.shape[0], "seed": args.seed, "sampler": sampler, "out": str(out)}))


def cmd_evaluate(args):
    from fsvae_fpga.data import load_images
    from fsvae_fpga.evaluation.inference import reconstruction_mse, sample_quality
    model, ckpt = _load(args.ckpt)
    sampler = _sampler(model, args.sampler)
    data = ckpt["config"]["data"]
    test = load_images(data["dataset"], "test", data["image_size"], data["root"], limit=args.limit)
    result = {
        "checkpoint": str(args.ckpt or "shipped"),
        "model": ckpt["config"]["model"], "stage": ckpt["stage"], "epochs": ckpt["epoch"],
        "dataset": data["dataset"], "held_out_images": int(test.images.shape[0]), "seed": args.seed,
        "sampler": sampler,
        "reconstruction_mse": round(reconstruction_mse(model, test.images, seed=args.seed, progress=True,
                                                       sampler=sampler), 5),
    }
    fd = sample_quality(model, test.images, args.samples, args.seed, data["dataset"], progress=True,
                        sampler=sampler)
    result["frechet_distance"] = None if fd["classic"] is None else round(fd["classic"], 4)
    result["frechet_distance_sharp"] = None if fd["sharp"] is None else round(fd["sharp"], 4)
    result["frechet_note"] = (f"Frechet distances of {args.samples} samples to the held-out images in the "
                              "feature spaces of the project's shipped feature nets (frechet_distance: the "
                              "classic classifier, kept for continuity; _sharp: the batch-norm classifier); "
                              "not the paper's Inception FID" if fd["classic"] is not None or fd["sharp"] is not None
                              else f"no shipped feature net for {data['dataset']}: make one with "
                              "`fsvae-fpga featurenet --out <path>` and ship it")
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:>22}: {v}")


def cmd_featurenet(args):
    from fsvae_fpga.config import load_config
    from fsvae_fpga.data import load_images
    from fsvae_fpga.evaluation.featurenet import accuracy, save_feature_net, train_feature_net
    from fsvae_fpga.evaluation.sharp_featurenet import train_sharp_feature_net
    out = check_file_target(args.out, (".pt",))
    cfg = load_config(args.config)
    data = cfg["data"]
    train_set = load_images(data["dataset"], "train", data["image_size"], data["root"])
    test_set = load_images(data["dataset"], "test", data["image_size"], data["root"])
    if train_set.labels is None:
        raise UsageError(f"{data['dataset']} has no labels: the feature net is a classifier")
    trainer = train_sharp_feature_net if args.arch == "sharp" else train_feature_net
    net = trainer(train_set.images, train_set.labels, epochs=args.epochs, seed=args.seed)
    acc = accuracy(net, test_set.images, test_set.labels)
    save_feature_net(net, out, {"dataset": data["dataset"], "image_size": data["image_size"], "arch": args.arch,
                                "epochs": args.epochs, "seed": args.seed, "held_out_accuracy": acc})
    print(json.dumps({"out": str(out), "held_out_accuracy": round(acc, 4)}))


def cmd_export(args):
    check_dir_target(args.out, "hwmodel")
    from fsvae_fpga.contract.export import export
    model, ckpt = _load(args.ckpt)
    out = export(model, args.out)
    from fsvae_fpga.contract.hwmodel import load
    hw = load(out)
    print(f"{'layer':<13}{'kind':<7}{'weight bits':>12}{'current':>22}{'bits':>6}{'membrane':>22}{'bits':>6}{'threshold':>10}")
    for layer in hw.desc["layers"]:
        mem = layer.get("membrane_range")
        print(f"{layer['name']:<13}{layer['kind']:<7}{layer['weight']['bits']:>12}{str(layer['current_range']):>22}"
              f"{layer['current_bits']:>6}{str(mem) if mem else '-':>22}{layer.get('membrane_bits', '-'):>6}"
              f"{layer.get('threshold', '-'):>10}")
    o = hw.desc["output"]
    print(f"output sum range {o['sum_range']} ({o['sum_bits']} bits); overflow impossible in every layer "
          "(widths from the bound analysis, no saturation)")
    print(json.dumps({"out": str(out), "layers": len(hw.desc["layers"]), "time_steps": hw.T, "k": hw.k,
                      "latent_dim": hw.C, "weight_bytes": int(sum(w.size for w in hw.weights.values()))}))


def _held_out_int8(hw, n, what="--n"):
    """n held-out images of the embedded dataset, in the hardware's int8 input format."""
    from fsvae_fpga.contract.golden import quantize_images
    c, size, _ = hw.image_shape
    if c != 1:
        raise UsageError("vectors/stats need held-out images; only 1-channel models use the embedded MNIST")
    images = _held_out({"dataset": "mnist-embedded", "image_size": size, "root": None}, n, what).numpy()
    return quantize_images(images, hw.desc["input"]["frac_bits"])


def cmd_vectors(args):
    from fsvae_fpga.contract.hwmodel import load
    from fsvae_fpga.contract.vectors import write_vectors
    check_dir_target(args.out, "vectors")
    hw = load(args.hwmodel)
    out = write_vectors(hw, _held_out_int8(hw, args.n), args.n, args.seed, args.out, traces=args.traces)
    print(json.dumps({"out": str(out), "n": args.n, "seed": args.seed, "traces": args.traces}))


def cmd_stats(args):
    from fsvae_fpga.contract.hwmodel import load
    from fsvae_fpga.contract.stats import format_table, layer_stats, totals
    hw = load(args.hwmodel) if args.hwmodel else _shipped_hwmodel()
    result = {}
    for mode in ("generate", "reconstruct"):
        rows = layer_stats(hw, mode, args.n, args.seed, _held_out_int8(hw, args.n))
        result[mode] = {"layers": rows, "total": totals(rows)}
        if not args.json:
            print(format_table(rows, f"== {mode} (per image, mean of {args.n} images)"))
            print()
    if args.json:
        print(json.dumps(result))


def cmd_estimate(args):
    """Shipped model for the board's configuration -> codegen rtl -> Yosys estimate."""
    from fsvae_fpga import flows
    flows.estimate(args.board, args.config, args.out)


def cmd_codegen(args):
    from fsvae_fpga import flows
    from fsvae_fpga.contract.hwmodel import load
    out = Path(args.out)
    check_dir_target(out, f"codegen-{args.backend}")
    hw = load(args.hwmodel)
    if args.backend == "rtl":
        manifest = flows.codegen_rtl(hw, args.board, out)
        mark_dir(out, "codegen-rtl")
        print(json.dumps({"out": str(out), "board": manifest["board"], "top": manifest["top"],
                          "sources": len(manifest["sources"]), "modes": manifest["modes"]}))
        return
    info = flows.codegen_hls(hw, args.board, out, _held_out_int8(hw, args.n), args.n, args.seed,
                             vectors=args.vectors, csim=args.csim)
    print(json.dumps(info))


def cmd_sim(args):
    """make sim: the shipped model's images in Verilator-simulated RTL, against the golden model."""
    from fsvae_fpga import flows
    if args.out:            # a folder of the user's: refused unless new, empty or an earlier sim's
        check_dir_target(args.out, "sim")
        Path(args.out).mkdir(parents=True, exist_ok=True)
        mark_dir(args.out, "sim")
    try:
        flows.simulate(args.config, args.board, args.n, args.seed, args.out or Path("build") / "sim",
                       waves=args.waves, rtl=args.rtl, vitis_rtl=args.vitis_rtl,
                       log=lambda *a, **k: print(*a, **k, flush=True))
    except flows.SimulationMismatch as err:   # a hardware bug, not a user mistake: exit 1
        print(f"fsvae-fpga sim: {_one_line(err)}", file=sys.stderr)
        raise SystemExit(1) from None


def _shipped_hwmodel():
    """The shipped model exported into a temporary folder (stats writes nothing of its own)."""
    import tempfile
    from fsvae_fpga.contract.export import export
    from fsvae_fpga.contract.hwmodel import load
    model, _ = _load(None)
    with tempfile.TemporaryDirectory(prefix="fsvae-hwmodel-") as tmp:
        return load(export(model, Path(tmp) / "hwmodel"))


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="fsvae-fpga", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    ckpt_help = "checkpoint to use (default: the shipped MNIST model)"

    p = sub.add_parser("train", help="train an FSVAE (or the ANN VAE) from a YAML config")
    p.add_argument("--config", help="YAML config (default: configs/mnist.yaml; not with --resume)")
    p.add_argument("--epochs", type=cli_args.epochs, help="total epochs (overrides train.epochs); with "
                   "--resume, more than the checkpoint has done")
    p.add_argument("--resume", help="continue from this checkpoint (its config is used)")
    p.add_argument("--out", default="runs/train", help="run folder (checkpoints, log, PNGs): new or empty, "
                   "or the folder of the --resume checkpoint")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--model", choices=["fsvae", "ann-vae"], help="override the config's model")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a config value, e.g. --set train.float_epochs=20 (repeatable; "
                        "also applies to the config inside a --resume checkpoint)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("sample", help="generate images from the prior")
    p.add_argument("--ckpt", help=ckpt_help)
    p.add_argument("--n", type=cli_args.images, required=True, help="number of images (1..65536)")
    p.add_argument("--seed", type=cli_args.seed, default=0, help="latent sampler seed, 0..2^32-1 (the same images as the golden model and the hardware)")
    p.add_argument("--out", required=True, help=".png: an image grid; .npy: uint8 (N, C, H, W)")
    p.add_argument("--sampler", choices=["hardware", "torch"],
                   help="latent indices from the hardware sampler (default for the FSVAE: the images the golden "
                        "model, RTL and board make for this seed) or torch's generator")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("reconstruct", help="held-out images beside their reconstructions")
    p.add_argument("--ckpt", help=ckpt_help)
    p.add_argument("--n", type=cli_args.images, default=32, help="number of held-out images")
    p.add_argument("--seed", type=cli_args.seed, default=0)
    p.add_argument("--out", required=True, help="output .png")
    p.add_argument("--sampler", choices=["hardware", "torch"],
                   help="latent indices from the hardware sampler (default for the FSVAE: the images the golden "
                        "model, RTL and board make for this seed) or torch's generator")
    p.set_defaults(func=cmd_reconstruct)

    p = sub.add_parser("evaluate", help="held-out reconstruction MSE and a sample-quality score")
    p.add_argument("--ckpt", help=ckpt_help)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--samples", type=cli_args.count(2, 65536, "--samples"), default=500, help="generated images for the Frechet distance")
    p.add_argument("--limit", type=cli_args.count(2, 10 ** 7, "--limit"), help="use only the first N held-out images")
    p.add_argument("--seed", type=cli_args.seed, default=0)
    p.add_argument("--sampler", choices=["hardware", "torch"],
                   help="latent indices from the hardware sampler (default for the FSVAE: the images the golden "
                        "model, RTL and board make for this seed) or torch's generator")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("featurenet", help="train the classifier whose features score sample quality")
    p.add_argument("--config", default=str(DEFAULT_CONFIG))
    p.add_argument("--arch", choices=("sharp", "classic"), default="sharp",
                   help="sharp: the batch-norm classifier (>= 98%% on MNIST); classic: the first feature net")
    p.add_argument("--epochs", type=cli_args.epochs, default=15)
    p.add_argument("--seed", type=cli_args.seed, default=0)
    p.add_argument("--out", required=True, help="output .pt file (to ship it: sw/fsvae_fpga/shipped/featurenet/"
                   "<dataset>-sharp.pt, or <dataset>.pt for classic)")
    p.set_defaults(func=cmd_featurenet)
    p = sub.add_parser("export", help="write the integer hardware model (weights + hwmodel.json)")
    p.add_argument("--ckpt", help=ckpt_help)
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("vectors", help="write golden test vectors for the HLS and RTL testbenches")
    p.add_argument("--hwmodel", required=True, help="hardware model directory (from export)")
    p.add_argument("--n", type=cli_args.images, default=8, help="images per mode")
    p.add_argument("--seed", type=cli_args.seed, default=0, help="sampler seed, 0..2^32-1")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--traces", action="store_true", help="also write per-layer spike trains")
    p.set_defaults(func=cmd_vectors)

    p = sub.add_parser("stats", help="per-layer event statistics (the hardware's lower bound)")
    p.add_argument("--hwmodel", help="hardware model directory (default: export the shipped model)")
    p.add_argument("--n", type=cli_args.images, default=16, help="images to average over")
    p.add_argument("--seed", type=cli_args.seed, default=0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)
    p = sub.add_parser("estimate", help="Yosys synth_xilinx resource estimate of the generated RTL for a board")
    p.add_argument("--board", default="kv260", help="board from hw/boards.yaml (default kv260)")
    p.add_argument("--config", default=None, help="configuration whose shipped model to use "
                                                  "(default: the board's default_config)")
    p.add_argument("--out", default="build", help="build folder (default build/)")
    p.set_defaults(func=cmd_estimate)
    p = sub.add_parser("codegen", help="generate the accelerator for a board (hls: Vitis HLS C++ project; "
                                       "rtl: SystemVerilog top, memory images, manifest)")
    p.add_argument("backend", choices=["hls", "rtl"])
    p.add_argument("--hwmodel", required=True, help="hardware model directory (from export)")
    p.add_argument("--board", default="kv260", help="board from hw/boards.yaml (default kv260)")
    p.add_argument("--out", required=True, help="output project directory")
    p.add_argument("--vectors", help="test vectors for the testbench (default: make n=--n of them)")
    p.add_argument("--n", type=cli_args.images, default=4, help="images per mode in the generated test vectors")
    p.add_argument("--seed", type=cli_args.seed, default=0)
    p.add_argument("--csim", action="store_true", help="also compile with g++ and run the C testbench")
    p.set_defaults(func=cmd_codegen)

    p = sub.add_parser("sim", help="images from the shipped model in Verilator-simulated RTL, bit-exact against "
                                   "the golden model, with a performance report (make sim)")
    p.add_argument("--config", help="configuration whose shipped model to use (default: the board's default_config; "
                                    "configs/mnist.yaml without --board)")
    p.add_argument("--board", help="board from hw/boards.yaml (default: kv260 for the paper config, pynq-z2 for small)")
    p.add_argument("--n", type=cli_args.images, default=16, help="images (default 16)")
    p.add_argument("--seed", type=cli_args.seed, default=0, help="sampler seed, 0..2^32-1")
    p.add_argument("--out", help="output folder (default build/sim): samples.png, report.json, the RTL and its build")
    p.add_argument("--waves", action="store_true", help="write an FST waveform (slow for full-size runs)")
    p.add_argument("--rtl", choices=["generated", "vitis"], default="generated",
                   help="the generated RTL, or Vitis HLS-exported RTL (--vitis-rtl DIR)")
    p.add_argument("--vitis-rtl", help="folder of Vitis-exported .v files "
                                       "(default build/hls/<board>/fsvae_prj/solution1/impl/verilog)")
    p.set_defaults(func=cmd_sim)

    from fsvae_fpga.toolchain import bitstream
    p = sub.add_parser("bitstream", help="build the PYNQ overlay for a board with Vivado (fsvae.bit, fsvae.hwh, "
                                         "driver, notebook) -> build/overlay/<board>",
                       description=bitstream.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bitstream.add_arguments(p)
    p.set_defaults(func=bitstream.cli_command)
    return ap


def _one_line(err) -> str:
    return "; ".join(line.strip() for line in str(err).splitlines() if line.strip()) or type(err).__name__


def _os_error(err: OSError) -> str:
    """A file-system failure (read-only, full disk, a folder where a file should be...) in one line."""
    what = err.strerror or str(err)
    name = f"{err.filename}: " if err.filename else ""
    hint = {28: "free some space", 30: "choose a writable location", 13: "choose a writable location",
            21: "give a file name, not a folder", 20: "a path component is a file, not a folder"}.get(err.errno,
                                                                                                 "check the path")
    return f"{name}{what}; {hint}"


# the exceptions that report a user mistake, by module: looked up only in modules already
# imported (an error cannot come from a module that never loaded), so that a bad argument
# does not first pay for importing torch
_USER_ERRORS = {"fsvae_fpga.training.checkpoint": "CheckpointError", "fsvae_fpga.config": "ConfigError",
                "fsvae_fpga.data": "DatasetError", "fsvae_fpga.codegen.boards": "BoardError",
                "fsvae_fpga.toolchain.csim": "CsimError", "fsvae_fpga.contract.hwmodel": "HwModelError",
                "fsvae_fpga.flows": "FlowError"}


def _user_errors() -> tuple:
    found = tuple(getattr(sys.modules[m], n) for m, n in _USER_ERRORS.items() if m in sys.modules)
    return (UsageError, OutputError, ValueError) + found


def report_outcome(prefix: str, run, tool: str = "fsvae-fpga",
                   interrupted: str = "outputs are complete or absent, never half-written") -> int:
    """Call ``run()`` and turn its outcome into an exit status with at most one line on stderr:
    its own return value when that is an int (otherwise 0), 2 for a user mistake, 130 on Ctrl-C, 1 for a bug in
    ``tool`` (FSVAE_FPGA_DEBUG=1 shows the traceback).  Shared with benchmarks/bench.py."""
    try:
        status = run()
        return status if isinstance(status, int) and not isinstance(status, bool) else 0
    except _user_errors() as err:
        print(f"{prefix}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"{prefix}: error: {_os_error(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\n{prefix}: interrupted; {interrupted}", file=sys.stderr)
        return 130
    except Exception as err:      # a bug, not a user mistake: say so in one line
        if os.environ.get("FSVAE_FPGA_DEBUG"):
            raise
        print(f"{prefix}: internal error: {type(err).__name__}: {_one_line(err)[:300]} (a bug in {tool}; "
              "rerun with FSVAE_FPGA_DEBUG=1 for the traceback and report it)", file=sys.stderr)
        return 1


def main(argv=None) -> int:
    """Run one command.  Exit 0 on success, 2 for any user mistake (one line on stderr, never a
    traceback), 130 on Ctrl-C (outputs are written whole or not at all), 1 for a bug in this
    tool (one line; FSVAE_FPGA_DEBUG=1 shows the traceback)."""
    args = build_parser().parse_args(argv)
    return report_outcome(f"fsvae-fpga {args.command}", lambda: args.func(args))

if __name__ == "__main__":
    sys.exit(main())
