"""The paper model on PYNQ-Z2 with weight rows streamed from DDR, simulated in Verilator.

    python benchmarks/paper_pynq_z2_stream.py [N]        (default 1 image; ~2.5 min an image)

`make sim BOARD=pynq-z2 CONFIG=configs/mnist.yaml` still refuses this design: it needs a few KiB
more on-chip memory than the 85 % budget of hw/boards.yaml allows (the README says where it
stands).  This script lifts the budget to 100 % (memory_budget: 1.0, a simulation-only
override; nothing here claims the design fits the xc7z020) to measure what the streaming
design does at paper size: bit-exactness against the golden model, cycles per image, DDR bytes
per image against the event-driven minimum, stalls.  Writes build/paper-z2/report.json.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT / "sim", ROOT / "sim" / "fsvae_top"):
    sys.path.insert(0, str(p))

import rtl_sim  # noqa: E402
from fsvae_fpga.codegen.rtl import write_rtl  # noqa: E402
from fsvae_fpga.contract import hwmodel, stats  # noqa: E402
from fsvae_fpga.contract.export import export  # noqa: E402
from fsvae_fpga.toolchain.perf_report import print_report, report  # noqa: E402
from fsvae_fpga.training.checkpoint import SHIPPED_MODEL, load_model  # noqa: E402


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    out = ROOT / "build" / "paper-z2"
    model, _ = load_model(SHIPPED_MODEL)
    hw = hwmodel.load(export(model, out / "hw"))
    m = write_rtl(hw, "pynq-z2", out / "rtl", overrides={"memory_budget": 1.0})
    print(f"on-chip bits {m['memory']['used_bits']:,} of {m['memory']['budget_bits']:,} (100 % of the BRAM); "
          f"streamed: {[x['layer'] for x in m['weight_stream']['layers']]}; DDR image {m['weight_stream']['bytes']:,} bytes")
    t = time.time()
    rtl_sim.build(out / "rtl", build_dir=out / "sim_build")
    build_s, t = time.time() - t, time.time()
    total, failed, xml = rtl_sim.simulate(out / "rtl", out / "hw", n, 0, 0, build_dir=out / "sim_build",
                                          testcase="run_images", lean_axil=True, result=out / "result.json")
    result = json.loads((out / "result.json").read_text())
    rep = report(m, result, stats.layer_stats(hw, "generate", n, 0), build_s, time.time() - t)
    print_report(rep)
    (out / "report.json").write_text(json.dumps(rep, indent=1) + "\n")
    print(f"bit-exact: {result['equal']} ({n} images)")
    return 0 if result["equal"] and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
