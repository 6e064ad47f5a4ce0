"""Checking a Vivado build script without Vivado: ``check_project`` runs the script that
codegen/vivado.py wrote under ``tclsh``, with hw/vivado/stubs.tcl standing in for Vivado, and
checks the recorded block design (``check_record``) against the port contract
(hw/interface.yaml), the board (hw/boards.yaml) and the generated core's manifest.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from fsvae_fpga.codegen import boards
from fsvae_fpga.codegen.vivado import CORE_CELL, DMA_CELL, STUBS, CodegenError, _board, contract_ports, hls_vlnv, wrapper_text


# --- checking the build script without Vivado ------------------------------------------------
# The PS ports each family's fragment uses (hw/vivado/ps_<family>.tcl.in) and the CONFIG
# that sets PL clock 0.
PS = {
    "zynq7000": {"ip": "processing_system7", "master": "M_AXI_GP0", "hp": "S_AXI_HP0", "clk": "FCLK_CLK0",
                 "resetn": "FCLK_RESET0_N", "freq": "PCW_FPGA0_PERIPHERAL_FREQMHZ", "external": ["DDR", "FIXED_IO"]},
    "zynq_ultrascale_plus": {"ip": "zynq_ultra_ps_e", "master": "M_AXI_HPM0_FPD", "hp": "S_AXI_HP0_FPD",
                             "clk": "pl_clk0", "resetn": "pl_resetn0",
                             "freq": "PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ", "external": []},
}
OPTIONAL_INPUTS = {"aux_reset_in", "mb_debug_sys_rst", "dcm_locked"}     # proc_sys_reset: tied off inside


def run_stubs(tcl: Path, record: Path, env: dict | None = None, timeout: float = 120) -> tuple[int, dict, str]:
    """Run a build script under tclsh with hw/vivado/stubs.tcl for Vivado; returns the exit
    status, the record and the output.  The stand-ins' settings (FSVAE_STUB_*) come from
    ``env`` only, never from this process's environment."""
    tclsh = shutil.which("tclsh")
    if tclsh is None:
        raise CodegenError("tclsh is not on the PATH (apt install tcl): it runs the Vivado script checks")
    res = subprocess.run([tclsh, str(STUBS), str(tcl), str(record)], capture_output=True, text=True,
                         env={**{k: v for k, v in os.environ.items() if not k.startswith("FSVAE_STUB_")},
                              **(env or {})}, timeout=timeout)
    rec = json.loads(record.read_text()) if record.is_file() else {}
    return res.returncode, rec, res.stdout + res.stderr


def _bytes(size: str | int) -> int:
    """An assign_bd_address range: 4K, 64K, 1M, 0x1000 or 4096."""
    s = str(size).strip().upper()
    for suffix, mult in (("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30)):
        if s.endswith(suffix):
            return int(s[:-1], 0) * mult
    return int(s, 0)


def contract_description(board: dict | str, iface: dict | None = None) -> str:
    """Verilog with interface attributes for the ports of hw/interface.yaml: what the stand-ins
    take the HLS IP's interfaces to be (Vitis HLS follows the same contract)."""
    iface = iface or boards.interface()
    return wrapper_text(contract_ports(iface), iface["top"], iface["top"], _board(board), iface)


def largest_transfer(manifest: dict | None, iface: dict | None = None) -> tuple[int, str]:
    """The longest single DMA transfer of the design: its weight blob (manifest weight_load),
    else one image.  The driver splits longer transfers into pieces the DMA can move."""
    iface = iface or boards.interface()
    wl = (manifest or {}).get("weight_load") or {}
    if wl.get("words"):
        return 4 * int(wl["words"]), "the weight blob"
    shape = (manifest or {}).get("image_shape")
    if shape:
        return int(math.prod(shape)) // iface["pixels_per_word"] * 4, "one image"
    return 1, "nothing"


def check_record(rec: dict, board: dict | str, core: str, manifest: dict | None = None,
                 out_dir: Path | None = None, hls_ip_dir: Path | None = None) -> tuple[list[str], dict]:
    """What the block design recorded by the stand-ins must satisfy; returns the problems (one
    sentence each, empty when all is well) and a summary of the facts checked.  Left to
    Vivado: IP parameter propagation, bus width conversion inside the SmartConnects, DDR
    address segments, and everything after validation (synthesis, timing)."""
    board, iface = _board(board), boards.interface()
    fam = PS[board["family"]]
    problems: list[str] = []
    bad = problems.append
    summary: dict = {}
    if rec.get("exit_code") != 0:
        bad(f"the script stopped with status {rec.get('exit_code')}" + (f": {rec['error']}" if rec.get("error") else ""))
    cells, pins, intfs = rec.get("cells", {}), rec.get("pins", {}), rec.get("intf_pins", {})
    nets, inets = [set(n) for n in rec.get("nets", [])], [tuple(n) for n in rec.get("intf_nets", [])]
    on_net = {p: n for n in nets for p in n}
    peer = {a: b for a, b in inets} | {b: a for a, b in inets}

    # project and messages
    if rec.get("project", {}).get("part") != board["part"]:
        bad(f"project part {rec.get('project', {}).get('part')}, board {board['name']} is {board['part']}")
    severity = {m["id"].strip("[]"): m["new_severity"].upper() for m in rec.get("msg_config", [])}
    if severity.get("Synth 8-4445") != "ERROR":
        bad("Synth 8-4445 ($readmemh file not found) is not promoted to an error")

    # cells
    core_cell, dma = f"/{CORE_CELL}", f"/{DMA_CELL}"
    ps = next((f"/{n}" for n, c in cells.items() if f":{fam['ip']}:" in c.get("vlnv", "")), None)
    if ps is None:
        bad(f"no {fam['ip']} cell")
    if CORE_CELL not in cells:
        bad(f"no cell {CORE_CELL} (the driver looks the core up by that name)")
    if not cells.get(DMA_CELL, {}).get("vlnv", "").startswith("xilinx.com:ip:axi_dma:"):
        bad(f"no AXI DMA cell {DMA_CELL} (the driver looks the DMA up by that name)")
    files = rec.get("files", {})
    if core == "rtl" and CORE_CELL in cells:
        c = cells[CORE_CELL]
        if c.get("kind") != "module" or c.get("reference") != iface["wrapper"]:
            bad(f"{CORE_CELL} is not a module reference of {iface['wrapper']}")
        if manifest is not None and out_dir is not None:
            for s in manifest["sources"]:
                f = str((Path(out_dir) / s).resolve())
                if s.endswith(".sv") and files.get(f) != "SystemVerilog":
                    bad(f"{s} is not in the project as SystemVerilog ({files.get(f, 'missing')})")
            w = str((Path(out_dir) / "rtl" / f"{iface['wrapper']}.v").resolve())
            if files.get(w) != "Verilog":
                bad(f"rtl/{iface['wrapper']}.v is not in the project as Verilog ({files.get(w, 'missing')})")
    if core == "hls" and CORE_CELL in cells:
        if cells[CORE_CELL].get("vlnv") != hls_vlnv(iface["top"]):
            bad(f"{CORE_CELL} is {cells[CORE_CELL].get('vlnv')}, Vitis HLS exports {hls_vlnv(iface['top'])}")
        if hls_ip_dir is not None and str(Path(hls_ip_dir).resolve()) not in rec.get("ip_repo_paths", []):
            bad(f"ip_repo_paths does not hold {hls_ip_dir}")

    # every port of the core connected; every clock and reset input of every cell too
    for p, i in {**pins, **intfs}.items():
        if p.startswith(core_cell + "/") and i["enabled"] and p not in on_net and p not in peer:
            bad(f"{p} is not connected")
    for p, i in pins.items():
        if (i["enabled"] and i["dir"] == "I" and i["type"] in ("clk", "rst") and p not in on_net
                and p.rsplit("/", 1)[1] not in OPTIONAL_INPUTS and not p.startswith(core_cell + "/")):
            bad(f"{p} ({'clock' if i['type'] == 'clk' else 'reset'} input) is not connected")
    if ps:
        for e in fam["external"]:
            if f"{ps}/{e}" not in rec.get("external", []):
                bad(f"{ps}/{e} is not made external")

    # streams: widths equal on both sides, and as hw/interface.yaml says; the DMA on the ends
    for a, b in inets:
        ia, ib = intfs.get(a, {}), intfs.get(b, {})
        if "axis" in ia.get("vlnv", "") and ia["params"].get("TDATA_NUM_BYTES") != ib["params"].get("TDATA_NUM_BYTES"):
            bad(f"stream {a} ({ia['params'].get('TDATA_NUM_BYTES')} bytes) -> {b} "
                f"({ib['params'].get('TDATA_NUM_BYTES')} bytes): widths differ")
        cross = [x for x in (a, b) if "smc" not in x]
        if "aximm" in ia.get("vlnv", "") and len(cross) == 2 and ia["params"].get("DATA_WIDTH") != ib["params"].get("DATA_WIDTH"):
            bad(f"{a} and {b} differ in DATA_WIDTH")
    for name, st in iface["streams"].items():
        p = f"{core_cell}/{name}"
        if p not in intfs:
            bad(f"{p} is not an interface of the core")
            continue
        i, nbytes = intfs[p], st["tdata_bits"] // 8
        if i["params"].get("TDATA_NUM_BYTES") != str(nbytes):
            bad(f"{p} has TDATA_NUM_BYTES {i['params'].get('TDATA_NUM_BYTES')}, hw/interface.yaml {nbytes}")
        said = 8 * int(i["params"].get("TDATA_NUM_BYTES", 0) or 0)
        if i["ports"] and i["ports"].get("TDATA") != said:
            bad(f"{p}: TDATA is {i['ports'].get('TDATA')} bits, TDATA_NUM_BYTES says {said}")
        want = f"{dma}/M_AXIS_MM2S" if st["direction"] == "in" else f"{dma}/S_AXIS_S2MM"
        if peer.get(p) not in (None, want):
            bad(f"{p} is connected to {peer[p]}, not {want}")

    # memory-mapped paths: PS master -> core registers and DMA registers; DMA -> PS HP port
    def reach(src: str) -> set[str]:
        seen, todo = set(), [src]
        while todo:
            x = todo.pop()
            if x in seen:
                continue
            seen.add(x)
            if x in peer:
                todo.append(peer[x])
            cell = x.rsplit("/", 1)[0]
            if cells.get(cell.strip("/"), {}).get("vlnv", "").startswith("xilinx.com:ip:smartconnect:"):
                todo += [q for q in intfs if q.startswith(cell + "/M")]
        return seen
    if ps:
        from_ps = reach(f"{ps}/{fam['master']}")
        for target in (f"{core_cell}/s_axi_{iface['control']['bundle']}", f"{dma}/S_AXI_LITE"):
            if target not in from_ps:
                bad(f"{target} cannot be reached from {ps}/{fam['master']}")
        for master in ("M_AXI_MM2S", "M_AXI_S2MM"):
            if f"{ps}/{fam['hp']}" not in reach(f"{dma}/{master}"):
                bad(f"{dma}/{master} does not reach {ps}/{fam['hp']} (DDR)")

    # registers: the address bits and the aperture cover the register map
    bus = f"{core_cell}/s_axi_{iface['control']['bundle']}"
    regs_end = boards.register_map_bytes()
    summary["register_map_bytes"] = regs_end
    if bus in intfs:
        aw = int(intfs[bus]["params"].get("ADDR_WIDTH", 0) or 0)
        if (1 << aw) < regs_end:
            bad(f"{bus}: ADDR_WIDTH {aw} reaches {1 << aw} bytes, the register map needs {regs_end:#x}")
        if intfs[bus]["ports"] and intfs[bus]["ports"].get("AWADDR") != aw:
            bad(f"{bus}: AWADDR is {intfs[bus]['ports'].get('AWADDR')} bits, ADDR_WIDTH says {aw}")
    assigned = [a for a in rec.get("addresses", []) if any(s.startswith(bus + "/") for s in a["segments"])]
    if not assigned or "range" not in assigned[0]:
        bad(f"{bus} has no address range of its own (assign_bd_address -range)")
    else:
        rng, off = _bytes(assigned[0]["range"]), int(assigned[0].get("offset", "0"), 0)
        summary["core_address"], summary["core_range"] = hex(off), rng
        if rng < max(4096, regs_end):
            bad(f"{bus}: range {rng} bytes, the register map needs {regs_end:#x} (and Vivado 4K at least)")
        if off % rng:
            bad(f"{bus}: offset {off:#x} is not aligned to its range {rng:#x}")
    if not any(any(s.startswith(f"{dma}/S_AXI_LITE/") for s in a["segments"]) for a in rec.get("addresses", [])):
        bad(f"{dma}/S_AXI_LITE has no address")
    if not any(a["auto"] for a in rec.get("addresses", [])):
        bad("no assign_bd_address for the rest (the DMA's view of DDR)")

    # one clock: PL clock 0 at the board's frequency, the core's attributes agreeing
    want_hz = int(round(float(board["clock_mhz"]) * 1e6))
    if ps:
        mhz = cells[ps.strip("/")]["config"].get(fam["freq"])
        summary["pl_clock_mhz_requested"] = mhz
        if mhz is None or float(mhz) != float(board["clock_mhz"]):
            bad(f"PL clock 0 is set to {mhz} MHz ({fam['freq']}), board {board['name']} runs at {board['clock_mhz']} MHz")
        clk_pin = f"{ps}/{fam['clk']}"
        ps_hz = int(pins.get(clk_pin, {}).get("params", {}).get("FREQ_HZ", 0) or 0)
        summary["pl_clock_hz"] = ps_hz
        clk_net = on_net.get(clk_pin, set())
        for p, i in pins.items():
            if i["type"] == "clk" and i["dir"] == "I" and i["enabled"] and p in on_net and p not in clk_net:
                bad(f"{p} is clocked by something other than {clk_pin}")
    core_clk = f"{core_cell}/{iface['clock']}"
    if core_clk in pins:
        hdl = pins[core_clk]["hdl_params"]
        if core == "rtl" and hdl.get("FREQ_HZ") != str(want_hz):
            bad(f"{core_clk}: FREQ_HZ {hdl.get('FREQ_HZ')} in the wrapper, board {board['name']} runs at {want_hz} Hz")
        for p, i in intfs.items():
            if core == "rtl" and p.startswith(core_cell + "/") and i["hdl_params"].get("FREQ_HZ") not in (None, str(want_hz)):
                bad(f"{p}: FREQ_HZ {i['hdl_params'].get('FREQ_HZ')} in the wrapper, the clock says {want_hz}")
            if (core == "rtl" and ps and p.startswith(core_cell + "/")
                    and i["params"].get("FREQ_HZ") != pins[core_clk]["params"].get("FREQ_HZ")):
                bad(f"{p}: FREQ_HZ {i['params'].get('FREQ_HZ')} in the block design, its clock "
                    f"{pins[core_clk]['params'].get('FREQ_HZ')}")
        if core == "rtl" and ps and int(pins[core_clk]["params"].get("FREQ_HZ", 0)) != summary.get("pl_clock_hz"):
            bad(f"{core_clk}: FREQ_HZ {pins[core_clk]['params'].get('FREQ_HZ')} in the block design, "
                f"PL clock 0 makes {summary.get('pl_clock_hz')}")
        busif = set(hdl.get("ASSOCIATED_BUSIF", "").split(":"))
        want_busif = {f"s_axi_{iface['control']['bundle']}", *iface["streams"]}
        if core == "rtl" and busif != want_busif:
            bad(f"{core_clk}: ASSOCIATED_BUSIF {sorted(busif)}, the core's interfaces are {sorted(want_busif)}")
        if core == "rtl" and hdl.get("ASSOCIATED_RESET") != iface["reset"]["port"]:
            bad(f"{core_clk}: ASSOCIATED_RESET {hdl.get('ASSOCIATED_RESET')}, the reset is {iface['reset']['port']}")

    # one reset polarity: active low everywhere, from the reset block, which the PS releases
    for n in nets:
        rst = [p for p in n if pins.get(p, {}).get("type") == "rst"]
        high = [p for p in rst if pins[p]["polarity"] in ("high", "unspecified")]
        if rst and high:
            bad(f"reset net {sorted(n)} has active-high or unspecified pins {high}: one polarity (active low) everywhere")
    core_rst = f"{core_cell}/{iface['reset']['port']}"
    drivers = [p for p in on_net.get(core_rst, ()) if pins.get(p, {}).get("dir") == "O"]
    if drivers and not drivers[0].endswith(("/peripheral_aresetn", "/interconnect_aresetn")):
        bad(f"{core_rst} is driven by {drivers[0]}, not by a proc_sys_reset (which holds it for 16+ clocks)")
    if ps and f"{ps}/{fam['resetn']}" not in on_net.get("/rst_0/ext_reset_in", set()):
        bad(f"rst_0/ext_reset_in is not driven by {ps}/{fam['resetn']}")

    # the DMA: simple mode, its length register long enough
    dcfg = cells.get(DMA_CELL, {}).get("config", {})
    if dcfg:
        if dcfg.get("c_include_sg") != "0":
            bad(f"{DMA_CELL}: scatter-gather is on (c_include_sg {dcfg.get('c_include_sg')}); the driver uses simple mode")
        width = int(dcfg.get("c_sg_length_width", 0))
        need, what = largest_transfer(manifest, iface)
        summary.update(dma_length_bits=width, dma_max_transfer_bytes=(1 << width) - 1, largest_transfer_bytes=need)
        if (1 << width) - 1 < need:
            bad(f"{DMA_CELL}: c_sg_length_width {width} moves at most {(1 << width) - 1} bytes per transfer, "
                f"{what} is {need} bytes")

    # the build steps, in order, and their products
    steps = [s[0] for s in rec.get("steps", [])]
    order = ["validate_bd_design", "make_wrapper", "launch_runs", "wait_on_run", "open_run",
             "report_timing_summary", "report_utilization", "get_timing_paths"]
    at = [steps.index(s) if s in steps else -1 for s in order]
    for s, i in zip(order, at):
        if i < 0:
            bad(f"no {s} step")
    if all(i >= 0 for i in at) and at != sorted(at):
        bad(f"steps out of order: {[s for s in steps if s in order]}")
    for s in rec.get("steps", []):
        if s[0] == "make_wrapper" and "-top" not in s:
            bad("make_wrapper without -top")
        if s[0] == "launch_runs" and s[s.index("-to_step") + 1 if "-to_step" in s else 0] != "write_bitstream":
            bad("launch_runs does not run to write_bitstream")
        if s[0] in ("report_timing_summary", "report_utilization") and "-file" not in s:
            bad(f"{s[0]} writes no file")
    if not any(s[0] == "get_timing_paths" and "-setup" in s for s in rec.get("steps", [])):
        bad("the worst setup slack (WNS) is never read")
    return problems, summary


def check_project(tcl: Path, board: dict | str, core: str, manifest: dict | None = None,
                  out_dir: Path | None = None, hls_ip_dir: Path | None = None,
                  env: dict | None = None, text: str | None = None) -> tuple[list[str], dict, dict]:
    """Run the build script ``tcl`` (or ``text`` in its place) under the stand-ins in a
    scratch folder (their fake bitstream must not land in the build) and check the record.
    Returns (problems, summary, record)."""
    tcl, board = Path(tcl), _board(board)
    with tempfile.TemporaryDirectory(prefix="fsvae-vivado-check-") as tmp:
        script = Path(tmp) / tcl.name
        script.write_text(text if text is not None else tcl.read_text())
        env = dict(env or {})
        if core == "hls" and "FSVAE_STUB_IP_PORTS" not in env:
            ports = Path(tmp) / "hls_ip_ports.v"
            ports.write_text(contract_description(board))
            env["FSVAE_STUB_IP_PORTS"] = str(ports)
        code, rec, log = run_stubs(script, Path(tmp) / "record.json", env)
        if not rec:
            return [f"the stand-ins wrote no record (status {code}): {log.strip()[-2000:]}"], {}, {}
        problems, summary = check_record(rec, board, core, manifest, out_dir, hls_ip_dir)
        if code == 0:
            for name in ("fsvae.bit", "fsvae.hwh", "timing_summary.rpt", "utilization.rpt"):
                if not (Path(tmp) / name).is_file():
                    problems.append(f"the script leaves no {name} next to itself")
        summary["log"] = log
    return problems, summary, rec
