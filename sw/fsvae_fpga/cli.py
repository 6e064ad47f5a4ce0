"""The one command line: ``fsvae-fpga <command>``; ``fsvae-fpga <command> --help`` explains each."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "mnist.yaml"


class UsageError(Exception):
    pass


def _load(ckpt):
    from .checkpoint import load_model
    return load_model(ckpt)


def _check_out(path: str, suffixes: tuple[str, ...]) -> Path:
    out = Path(path)
    if out.suffix.lower() not in suffixes:
        raise UsageError(f"--out {path}: the file name must end in {' or '.join(suffixes)}")
    return out


def cmd_train(args):
    import torch
    from .config import load_config, with_overrides
    from .train import train
    if args.device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available here; use --device cpu")
    import yaml
    overrides = {}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--set {item}: expected KEY=VALUE, e.g. train.float_epochs=20")
        overrides[key] = yaml.safe_load(value)
    if args.resume and (args.model or "model" in overrides):
        raise UsageError("--model cannot change when resuming: the checkpoint holds that model's weights")
    cfg = None
    if not args.resume:
        cfg = load_config(args.config)
        if args.model:
            overrides["model"] = args.model
        try:
            cfg = with_overrides(cfg, **overrides)
        except KeyError as err:
            raise UsageError(f"--set: unknown key {err}") from None
        overrides = {}
    torch.manual_seed((cfg or {}).get("train", {}).get("seed", 0))
    last = train(cfg, args.out, epochs=args.epochs, resume=args.resume, device=args.device,
                 progress=not args.no_progress, overrides=overrides)
    print(json.dumps({"checkpoint": str(last)}))


def cmd_sample(args):
    from .images import save_grid
    from .inference import generate
    out = _check_out(args.out, (".png", ".npy"))
    if args.n < 1:
        raise UsageError("--n must be at least 1")
    model, _ = _load(args.ckpt)
    pixels = generate(model, args.n, args.seed, progress=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".png":
        save_grid(pixels, out)
    else:
        import numpy as np
        tmp = out.with_name(out.name + ".tmp")
        with open(tmp, "wb") as f:
            np.save(f, pixels.numpy().astype(np.uint8))
        tmp.replace(out)
    print(json.dumps({"images": args.n, "seed": args.seed, "out": str(out)}))


def cmd_reconstruct(args):
    from .data import load_images
    from .images import save_pairs, to_pixels
    from .inference import reconstruct
    out = _check_out(args.out, (".png",))
    model, ckpt = _load(args.ckpt)
    data = ckpt["config"]["data"]
    test = load_images(data["dataset"], "test", data["image_size"], data["root"], limit=args.n)
    save_pairs(to_pixels(test.images), reconstruct(model, test.images, args.seed), out)
    print(json.dumps({"images": test.images.shape[0], "out": str(out)}))


def cmd_evaluate(args):
    from .data import load_images
    from .inference import reconstruction_mse, sample_quality
    model, ckpt = _load(args.ckpt)
    data = ckpt["config"]["data"]
    test = load_images(data["dataset"], "test", data["image_size"], data["root"], limit=args.limit)
    result = {
        "checkpoint": str(args.ckpt or "shipped"),
        "model": ckpt["config"]["model"], "stage": ckpt["stage"], "epochs": ckpt["epoch"],
        "dataset": data["dataset"], "held_out_images": int(test.images.shape[0]),
        "reconstruction_mse": round(reconstruction_mse(model, test.images, seed=args.seed, progress=True), 5),
    }
    fd = sample_quality(model, test.images, args.samples, args.seed, data["dataset"], progress=True)
    result["frechet_distance"] = None if fd is None else round(fd, 4)
    result["frechet_note"] = (f"Frechet distance of {args.samples} samples to the held-out images in the "
                              "feature space of the project's shipped feature net; not the paper's "
                              "Inception FID" if fd is not None else
                              f"no shipped feature net for {data['dataset']}: run `fsvae-fpga featurenet`")
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:>22}: {v}")


def cmd_featurenet(args):
    from .config import load_config
    from .data import load_images
    from .featurenet import accuracy, save_feature_net, train_feature_net
    from .inference import featurenet_path
    cfg = load_config(args.config)
    data = cfg["data"]
    train_set = load_images(data["dataset"], "train", data["image_size"], data["root"])
    test_set = load_images(data["dataset"], "test", data["image_size"], data["root"])
    if train_set.labels is None:
        raise UsageError(f"{data['dataset']} has no labels: the feature net is a classifier")
    net = train_feature_net(train_set.images, train_set.labels, epochs=args.epochs, seed=args.seed)
    acc = accuracy(net, test_set.images, test_set.labels)
    out = Path(args.out) if args.out else featurenet_path(data["dataset"])
    save_feature_net(net, out, {"dataset": data["dataset"], "image_size": data["image_size"],
                                "epochs": args.epochs, "seed": args.seed, "held_out_accuracy": acc})
    print(json.dumps({"out": str(out), "held_out_accuracy": round(acc, 4)}))


def cmd_export(args):
    from .export import export
    model, ckpt = _load(args.ckpt)
    out = export(model, args.out)
    from .hwmodel import load
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


def _held_out_int8(hw, n, config=None):
    """n held-out images of the embedded dataset, in the hardware's int8 input format."""
    from .data import load_images
    from .golden import quantize_images
    c, size, _ = hw.image_shape
    dataset = "mnist-embedded" if c == 1 else None
    if dataset is None:
        raise UsageError("vectors/stats need held-out images; only 1-channel models use the embedded MNIST")
    images = load_images(dataset, "test", size, limit=n).images.numpy()
    return quantize_images(images, hw.desc["input"]["frac_bits"])


def cmd_vectors(args):
    from .hwmodel import load
    from .vectors import write_vectors
    hw = load(args.hwmodel)
    if args.n < 1:
        raise UsageError("--n must be at least 1")
    out = write_vectors(hw, _held_out_int8(hw, args.n), args.n, args.seed, args.out, traces=args.traces)
    print(json.dumps({"out": str(out), "n": args.n, "seed": args.seed, "traces": args.traces}))


def cmd_stats(args):
    from .hwmodel import load
    from .stats import format_table, layer_stats, totals
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
    from .boards import board as board_info
    from .codegen.estimate import EstimateError, estimate
    from .codegen.hls import CodegenError
    from .codegen.rtl import write_rtl
    from .export import export_shipped
    from .hwmodel import load
    config = args.config or board_info(args.board)["default_config"]
    try:
        hw_dir = export_shipped(config, Path(args.out) / f"hwmodel-{Path(config).stem}")
        rtl_dir = Path(args.out) / "rtl" / args.board
        write_rtl(load(hw_dir), args.board, rtl_dir)
        result = estimate(rtl_dir, args.board, Path(args.out) / "estimate" / args.board)
    except (KeyError, CodegenError, EstimateError) as err:
        raise UsageError(str(err.args[0] if isinstance(err, KeyError) else err)) from None
    if not result["fits"]:
        raise UsageError(f"the {config} design does not fit {args.board}: over on {', '.join(result['over'])}")


def cmd_codegen(args):
    from .codegen.csim import run_csim, static_check
    from .codegen.hls import HLS_DIR, CodegenError, write_project
    from .hwmodel import load
    hw = load(args.hwmodel)
    out = Path(args.out)
    if args.backend == "rtl":
        from .codegen.rtl import write_rtl
        try:
            manifest = write_rtl(hw, args.board, out)
        except CodegenError as err:
            raise UsageError(str(err)) from None
        for e in manifest["engines"]:
            print(f"  {e['instance']:<12}{e['module']:<28}lanes {e['lanes']:>3}  acc {e['acc_bits']} bits")
        print(json.dumps({"out": str(out), "board": manifest["board"], "top": manifest["top"],
                          "sources": len(manifest["sources"]), "modes": manifest["modes"]}))
        return
    vectors = args.vectors
    if vectors is None:   # golden test vectors for the generated testbench
        from .vectors import write_vectors
        vectors = write_vectors(hw, _held_out_int8(hw, args.n), args.n, args.seed, out / "vectors")
    try:
        info = write_project(hw, args.board, out, vectors_dir=vectors)
    except CodegenError as err:
        raise UsageError(str(err)) from None
    problems = static_check(sorted((out / "firmware").glob("*.cpp")) + sorted((HLS_DIR / "fsvae").glob("*.h")))
    if problems:
        raise UsageError("static checks failed:\n  " + "\n  ".join(problems))
    info["static_checks"] = "passed"
    from .boards import board as board_info
    from .codegen.latency import image_cycles
    from .stats import layer_stats
    latency = {}
    for mode in ("generate", "reconstruct") if info["reconstruction"] else ("generate",):
        rows = layer_stats(hw, mode, args.n, args.seed, _held_out_int8(hw, args.n))
        latency[mode] = image_cycles(hw, board_info(args.board), rows)
        print(f"== {mode}: cycles per image implied by the loop structure (II = 1), board {args.board}")
        for name, cycles in latency[mode]["per_layer"].items():
            print(f"  {name:<13}{cycles:>14,.0f}")
        print(f"  {'total':<13}{latency[mode]['total']:>14,.0f}  -> {latency[mode]['images_per_s']:,.0f} images/s")
    (out / "latency.json").write_text(json.dumps(latency, indent=1))
    info["cycles_per_image"] = {m: round(v["total"]) for m, v in latency.items()}
    if args.csim:
        ok, log = run_csim(out)
        print(log, end="")
        info["csim"] = "passed" if ok else "FAILED"
        if not ok:
            print(json.dumps(info))
            raise UsageError("C simulation differs from the golden model")
    print(json.dumps(info))


def _shipped_hwmodel():
    """Export the shipped model once into build/hwmodel and load it."""
    from .export import export
    from .hwmodel import load
    out = Path("build") / "hwmodel"
    model, _ = _load(None)
    export(model, out)
    return load(out)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="fsvae-fpga", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    ckpt_help = "checkpoint to use (default: the shipped MNIST model)"

    p = sub.add_parser("train", help="train an FSVAE (or the ANN VAE) from a YAML config")
    p.add_argument("--config", default=str(DEFAULT_CONFIG), help="YAML config (default: configs/mnist.yaml)")
    p.add_argument("--epochs", type=int, help="total epochs (overrides train.epochs)")
    p.add_argument("--resume", help="continue from this checkpoint (its config is used)")
    p.add_argument("--out", default="runs/train", help="output folder (checkpoints, log, PNGs)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--model", choices=["fsvae", "ann-vae"], help="override the config's model")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a config value, e.g. --set train.float_epochs=20 (repeatable; "
                        "also applies to the config inside a --resume checkpoint)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("sample", help="generate images from the prior")
    p.add_argument("--ckpt", help=ckpt_help)
    p.add_argument("--n", type=int, required=True, help="number of images")
    p.add_argument("--seed", type=int, default=0, help="random seed of the latent sampler")
    p.add_argument("--out", required=True, help=".png: an image grid; .npy: uint8 (N, C, H, W)")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("reconstruct", help="held-out images beside their reconstructions")
    p.add_argument("--ckpt", help=ckpt_help)
    p.add_argument("--n", type=int, default=32, help="number of held-out images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output .png")
    p.set_defaults(func=cmd_reconstruct)

    p = sub.add_parser("evaluate", help="held-out reconstruction MSE and a sample-quality score")
    p.add_argument("--ckpt", help=ckpt_help)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--samples", type=int, default=500, help="generated images for the Frechet distance")
    p.add_argument("--limit", type=int, help="use only the first N held-out images")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("featurenet", help="train the classifier whose features score sample quality")
    p.add_argument("--config", default=str(DEFAULT_CONFIG))
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="output file (default: the shipped feature net of the dataset)")
    p.set_defaults(func=cmd_featurenet)
    p = sub.add_parser("export", help="write the integer hardware model (weights + hwmodel.json)")
    p.add_argument("--ckpt", help=ckpt_help)
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("vectors", help="write golden test vectors for the HLS and RTL testbenches")
    p.add_argument("--hwmodel", required=True, help="hardware model directory (from export)")
    p.add_argument("--n", type=int, default=8, help="images per mode")
    p.add_argument("--seed", type=int, default=0, help="sampler seed (32-bit)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--traces", action="store_true", help="also write per-layer spike trains")
    p.set_defaults(func=cmd_vectors)

    p = sub.add_parser("stats", help="per-layer event statistics (the hardware's lower bound)")
    p.add_argument("--hwmodel", help="hardware model directory (default: export the shipped model)")
    p.add_argument("--n", type=int, default=16, help="images to average over")
    p.add_argument("--seed", type=int, default=0)
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
    p.add_argument("--n", type=int, default=4, help="images per mode in the generated test vectors")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--csim", action="store_true", help="also compile with g++ and run the C testbench")
    p.set_defaults(func=cmd_codegen)

    from . import bitstream
    p = sub.add_parser("bitstream", help="build the PYNQ overlay for a board with Vivado (fsvae.bit, fsvae.hwh, "
                                         "driver, notebook) -> build/overlay/<board>",
                       description=bitstream.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bitstream.add_arguments(p)
    p.set_defaults(func=bitstream.cli_command)
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from .checkpoint import CheckpointError
    from .config import ConfigError
    from .data import DatasetError
    from .boards import BoardError
    from .codegen.csim import CsimError
    from .hwmodel import HwModelError
    try:
        args.func(args)
    except (UsageError, ConfigError, CheckpointError, DatasetError, HwModelError, BoardError, CsimError) as err:
        print(f"fsvae-fpga {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
