"""Run notebooks/generate.ipynb headless against the simulated board.

    python sim/board_sim/run_notebook.py --board pynq-z2 [--config CFG] [--work DIR] \\
        [--n 4] [--n-throughput 2] [--weight-stream prior.2,decoder_fc] --out build/board-sim/generate.ipynb

Steps (each skipped when its output is up to date, so a rerun costs only the simulation):
export the board's default model (hw/boards.yaml default_config, or --config) -> WORK/hwmodel;
codegen rtl -> WORK/rtl (regenerated when the design's sha256 changes); Verilator build ->
WORK/sim_build; the overlay folder without bitstream -> WORK/overlay; then the notebook in a
fresh kernel with FSVAE_SIMULATED=1 and FSVAE_OVERLAY_DIR=WORK/overlay, the image counts
injected after its "parameters" cell.  Writes the executed notebook (outputs included) to
--out and exits 1 when a cell fails (a self-test or golden-model mismatch included) or the
notebook shows fewer than two images.  --weight-stream LAYERS: those layers' weight rows are
streamed from DDR (hw/boards.yaml weight_stream.layers for this run; work folder
WORK-stream by default): the driver puts them in a DDR buffer, the simulated core reads them
through its m_axi_gmem from the DDR model.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for _p in (HERE, ROOT / "sim", ROOT / "sw"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import launch  # noqa: E402

KERNEL = "python3"


def _log(msg: str) -> None:
    print(f"run_notebook: {msg}", file=sys.stderr, flush=True)


def prepare(board: str, config: str | None = None, work: Path | None = None, n_selftest: int = 4,
            overrides: dict | None = None) -> dict:
    """hardware model, RTL, Verilator build and simulated overlay folder for ``board``
    (``overrides``: board keys replaced for this design, as write_rtl takes them)."""
    from fsvae_fpga.codegen import boards
    from fsvae_fpga.contract import hwmodel
    from fsvae_fpga.contract.export import export_shipped
    from fsvae_fpga.toolchain.overlay import write_overlay_files
    config = config or boards.board(board)["default_config"]
    work = Path(work or ROOT / "build" / "board-sim" / board).resolve()
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    hw_dir = Path(export_shipped(config, work / "hwmodel"))
    hw = hwmodel.load(hw_dir)
    rtl_dir, build_dir = work / "rtl", work / "sim_build"
    if launch.ensure_design(hw, board, rtl_dir, build_dir, overrides=overrides):
        _log(f"codegen rtl -> {rtl_dir}, verilated -> {build_dir}")
    overlay_dir = work / "overlay"
    write_overlay_files(overlay_dir, rtl_dir, hw_dir, board, n_selftest, sim_build_dir=build_dir,
                        board_overrides=overrides)
    _log(f"prepared {overlay_dir} ({config}, {time.perf_counter() - t0:.1f} s)")
    return {"work": work, "hwmodel": hw_dir, "rtl": rtl_dir, "build": build_dir, "overlay": overlay_dir,
            "config": config}


def execute(overlay_dir: Path, out: Path, params: dict, cell_timeout: int = 1800) -> int:
    """Execute the overlay folder's notebook against the simulated board; 0 when every cell
    ran and the notebook shows images."""
    try:
        import nbformat
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError
    except ImportError as e:
        _log(f"{e}: install nbclient, nbformat and ipykernel (requirements.txt)")
        return 2
    nb = nbformat.read(overlay_dir / "generate.ipynb", as_version=4)
    at = next((i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if params:
        if at is None:
            _log("the notebook has no cell tagged 'parameters'")
            return 2
        text = "# injected by sim/board_sim/run_notebook.py (simulation is slow: fewer images)\n"
        text += "\n".join(f"{k} = {v!r}" for k, v in params.items())
        nb.cells.insert(at + 1, nbformat.v4.new_code_cell(text, metadata={"tags": ["injected-parameters"]}))
    os.environ.update(FSVAE_SIMULATED="1", FSVAE_OVERLAY_DIR=str(overlay_dir))
    client = NotebookClient(nb, timeout=cell_timeout, kernel_name=KERNEL,
                            resources={"metadata": {"path": str(overlay_dir)}})
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    status = 0
    try:
        client.execute()
    except CellExecutionError as e:
        _log(f"a cell failed:\n{e}")
        status = 1
    finally:
        nbformat.write(nb, out)
    images = sum(1 for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                 if "image/png" in o.get("data", {}))
    _log(f"executed in {time.perf_counter() - t0:.1f} s: {images} images shown -> {out}")
    if status == 0 and images < 2:
        _log("the executed notebook shows fewer than 2 images")
        status = 1
    return status


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--board", default="pynq-z2", help="board in hw/boards.yaml (default pynq-z2)")
    ap.add_argument("--config", help="configuration whose shipped model to use (default: the board's default_config)")
    ap.add_argument("--work", type=Path, help="work folder (default build/board-sim/<board>)")
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "board-sim" / "generate.ipynb",
                    help="executed notebook (default build/board-sim/generate.ipynb)")
    ap.add_argument("--n", type=int, default=4, help="images in the generate cell (notebook N)")
    ap.add_argument("--n-throughput", type=int, default=2, help="images in the throughput test")
    ap.add_argument("--n-selftest", type=int, default=4, help="golden self-test vectors written to the overlay")
    ap.add_argument("--weight-stream", metavar="LAYERS",
                    help="comma-separated linear layers whose weight rows stream from DDR (e.g. prior.2,decoder_fc)")
    args = ap.parse_args(argv)
    overrides, work = None, args.work
    if args.weight_stream:
        overrides = {"weight_stream": {"layers": [s.strip() for s in args.weight_stream.split(",") if s.strip()]}}
        work = work or ROOT / "build" / "board-sim" / f"{args.board}-stream"
    paths = prepare(args.board, args.config, work, args.n_selftest, overrides)
    return execute(paths["overlay"], args.out.resolve(), {"N": args.n, "N_THROUGHPUT": args.n_throughput})


if __name__ == "__main__":
    sys.exit(main())
