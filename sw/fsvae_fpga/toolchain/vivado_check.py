"""Checking a Vivado build script without Vivado: ``check_project`` runs the script that
codegen/vivado.py wrote under ``tclsh``, with hw/vivado/stubs.tcl standing in for Vivado, and
checks the recorded block design (``check_record``) against the port contract
(hw/interface.yaml), the board (hw/boards.yaml) and the generated core's manifest, one
section at a time (the ``check_*`` methods of ``_Design``).
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
# that sets PL clock 0; "gmem": the high-performance slave that the weight stream (the core's
# m_axi_gmem, designs with manifest weight_stream) reaches DDR through, the CONFIG that enables
# it, its clock pin, its width and its DDR segment (<memory map>/<segment>).
PS = {
    "zynq7000": {"ip": "processing_system7", "master": "M_AXI_GP0", "hp": "S_AXI_HP0", "clk": "FCLK_CLK0",
                 "resetn": "FCLK_RESET0_N", "freq": "PCW_FPGA0_PERIPHERAL_FREQMHZ", "external": ["DDR", "FIXED_IO"],
                 "gmem": {"hp": "S_AXI_HP2", "enable": "PCW_USE_S_AXI_HP2", "aclk": "S_AXI_HP2_ACLK",
                          "width": "PCW_S_AXI_HP2_DATA_WIDTH", "ddr": "S_AXI_HP2/HP2_DDR_LOWOCM"}},
    "zynq_ultrascale_plus": {"ip": "zynq_ultra_ps_e", "master": "M_AXI_HPM0_FPD", "hp": "S_AXI_HP0_FPD",
                             "clk": "pl_clk0", "resetn": "pl_resetn0",
                             "freq": "PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ", "external": [],
                             "gmem": {"hp": "S_AXI_HP1_FPD", "enable": "PSU__USE__S_AXI_GP3",
                                      "aclk": "saxihp1_fpd_aclk", "width": "PSU__SAXIGP3__DATA_WIDTH",
                                      "ddr": "SAXIGP3/HP1_DDR_LOW"}},
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


class _Design:
    """A block design recorded by the stand-ins, with what the checks of ``check_record``
    share: the board, its PS, the cells, pins, nets and interface nets, and the problems and
    summary found so far.  Each ``check_*`` method is one section of the check."""

    def __init__(self, rec: dict, board: dict, core: str, manifest: dict | None,
                 out_dir: Path | None, hls_ip_dir: Path | None):
        self.rec, self.board, self.core = rec, board, core
        self.manifest, self.out_dir, self.hls_ip_dir = manifest, out_dir, hls_ip_dir
        self.iface = boards.interface()
        self.fam = PS[board["family"]]
        self.problems: list[str] = []
        self.summary: dict = {}
        self.cells, self.pins, self.intfs = rec.get("cells", {}), rec.get("pins", {}), rec.get("intf_pins", {})
        self.nets = [set(n) for n in rec.get("nets", [])]
        self.inets = [tuple(n) for n in rec.get("intf_nets", [])]
        self.on_net = {p: n for n in self.nets for p in n}
        self.peer = {a: b for a, b in self.inets} | {b: a for a, b in self.inets}
        self.core_cell, self.dma = f"/{CORE_CELL}", f"/{DMA_CELL}"
        self.ps = next((f"/{n}" for n, c in self.cells.items() if f":{self.fam['ip']}:" in c.get("vlnv", "")), None)
        self.bus = f"{self.core_cell}/s_axi_{self.iface['control']['bundle']}"
        self.regs_end = boards.register_map_bytes()

    def bad(self, problem: str) -> None:
        """Note one problem (a sentence)."""
        self.problems.append(problem)

    def check_exit(self) -> None:
        """The script ran to its end."""
        rec = self.rec
        if rec.get("exit_code") != 0:
            self.bad(f"the script stopped with status {rec.get('exit_code')}"
                     + (f": {rec['error']}" if rec.get("error") else ""))

    def check_project_and_messages(self) -> None:
        """The project is for the board's part, and a missing $readmemh file is an error."""
        rec, board = self.rec, self.board
        if rec.get("project", {}).get("part") != board["part"]:
            self.bad(f"project part {rec.get('project', {}).get('part')}, board {board['name']} is {board['part']}")
        severity = {m["id"].strip("[]"): m["new_severity"].upper() for m in rec.get("msg_config", [])}
        if severity.get("Synth 8-4445") != "ERROR":
            self.bad("Synth 8-4445 ($readmemh file not found) is not promoted to an error")

    def check_cells(self) -> None:
        """The PS, the core and the DMA cells are there, the core as the kind of core built."""
        cells = self.cells
        if self.ps is None:
            self.bad(f"no {self.fam['ip']} cell")
        if CORE_CELL not in cells:
            self.bad(f"no cell {CORE_CELL} (the driver looks the core up by that name)")
        if not cells.get(DMA_CELL, {}).get("vlnv", "").startswith("xilinx.com:ip:axi_dma:"):
            self.bad(f"no AXI DMA cell {DMA_CELL} (the driver looks the DMA up by that name)")
        if self.core == "rtl" and CORE_CELL in cells:
            self.check_rtl_core()
        if self.core == "hls" and CORE_CELL in cells:
            self.check_hls_core()

    def check_rtl_core(self) -> None:
        """The RTL core is a module reference of the wrapper, its sources in the project."""
        iface, files, out_dir = self.iface, self.rec.get("files", {}), self.out_dir
        c = self.cells[CORE_CELL]
        if c.get("kind") != "module" or c.get("reference") != iface["wrapper"]:
            self.bad(f"{CORE_CELL} is not a module reference of {iface['wrapper']}")
        if self.manifest is not None and out_dir is not None:
            for s in self.manifest["sources"]:
                f = str((Path(out_dir) / s).resolve())
                if s.endswith(".sv") and files.get(f) != "SystemVerilog":
                    self.bad(f"{s} is not in the project as SystemVerilog ({files.get(f, 'missing')})")
            w = str((Path(out_dir) / "rtl" / f"{iface['wrapper']}.v").resolve())
            if files.get(w) != "Verilog":
                self.bad(f"rtl/{iface['wrapper']}.v is not in the project as Verilog ({files.get(w, 'missing')})")

    def check_hls_core(self) -> None:
        """The HLS core is the IP Vitis HLS exports, from the IP repository given."""
        vlnv, want = self.cells[CORE_CELL].get("vlnv"), hls_vlnv(self.iface["top"])
        if vlnv != want:
            self.bad(f"{CORE_CELL} is {vlnv}, Vitis HLS exports {want}")
        if self.hls_ip_dir is not None and str(Path(self.hls_ip_dir).resolve()) not in self.rec.get("ip_repo_paths", []):
            self.bad(f"ip_repo_paths does not hold {self.hls_ip_dir}")

    def check_connected(self) -> None:
        """Every port of the core connected; every clock and reset input of every cell too;
        the PS's external ports made external."""
        core_cell, on_net = self.core_cell, self.on_net
        for p, i in {**self.pins, **self.intfs}.items():
            if p.startswith(core_cell + "/") and i["enabled"] and p not in on_net and p not in self.peer:
                self.bad(f"{p} is not connected")
        for p, i in self.pins.items():
            if (i["enabled"] and i["dir"] == "I" and i["type"] in ("clk", "rst") and p not in on_net
                    and p.rsplit("/", 1)[1] not in OPTIONAL_INPUTS and not p.startswith(core_cell + "/")):
                self.bad(f"{p} ({'clock' if i['type'] == 'clk' else 'reset'} input) is not connected")
        if self.ps:
            for e in self.fam["external"]:
                if f"{self.ps}/{e}" not in self.rec.get("external", []):
                    self.bad(f"{self.ps}/{e} is not made external")

    def check_interface_widths(self) -> None:
        """Streams and memory-mapped links have the same width on both sides."""
        for a, b in self.inets:
            ia, ib = self.intfs.get(a, {}), self.intfs.get(b, {})
            if ("axis" in ia.get("vlnv", "")
                    and ia["params"].get("TDATA_NUM_BYTES") != ib["params"].get("TDATA_NUM_BYTES")):
                self.bad(f"stream {a} ({ia['params'].get('TDATA_NUM_BYTES')} bytes) -> {b} "
                         f"({ib['params'].get('TDATA_NUM_BYTES')} bytes): widths differ")
            cross = [x for x in (a, b) if "smc" not in x]
            if ("aximm" in ia.get("vlnv", "") and len(cross) == 2
                    and ia["params"].get("DATA_WIDTH") != ib["params"].get("DATA_WIDTH")):
                self.bad(f"{a} and {b} differ in DATA_WIDTH")

    def check_streams(self) -> None:
        """The core's streams are as hw/interface.yaml says, with the DMA on their other ends."""
        for name, st in self.iface["streams"].items():
            p = f"{self.core_cell}/{name}"
            if p not in self.intfs:
                self.bad(f"{p} is not an interface of the core")
                continue
            i, nbytes = self.intfs[p], st["tdata_bits"] // 8
            if i["params"].get("TDATA_NUM_BYTES") != str(nbytes):
                self.bad(f"{p} has TDATA_NUM_BYTES {i['params'].get('TDATA_NUM_BYTES')}, hw/interface.yaml {nbytes}")
            said = 8 * int(i["params"].get("TDATA_NUM_BYTES", 0) or 0)
            if i["ports"] and i["ports"].get("TDATA") != said:
                self.bad(f"{p}: TDATA is {i['ports'].get('TDATA')} bits, TDATA_NUM_BYTES says {said}")
            want = f"{self.dma}/M_AXIS_MM2S" if st["direction"] == "in" else f"{self.dma}/S_AXIS_S2MM"
            if self.peer.get(p) not in (None, want):
                self.bad(f"{p} is connected to {self.peer[p]}, not {want}")

    def reach(self, src: str) -> set[str]:
        """The interface pins reachable from ``src`` over interface nets and through SmartConnects."""
        seen, todo = set(), [src]
        while todo:
            x = todo.pop()
            if x in seen:
                continue
            seen.add(x)
            if x in self.peer:
                todo.append(self.peer[x])
            cell = x.rsplit("/", 1)[0]
            if self.cells.get(cell.strip("/"), {}).get("vlnv", "").startswith("xilinx.com:ip:smartconnect:"):
                todo += [q for q in self.intfs if q.startswith(cell + "/M")]
        return seen

    def check_mm_paths(self) -> None:
        """Memory-mapped paths: PS master -> core registers and DMA registers; DMA -> PS HP port."""
        ps, fam, dma = self.ps, self.fam, self.dma
        if not ps:
            return
        from_ps = self.reach(f"{ps}/{fam['master']}")
        for target in (self.bus, f"{dma}/S_AXI_LITE"):
            if target not in from_ps:
                self.bad(f"{target} cannot be reached from {ps}/{fam['master']}")
        for master in ("M_AXI_MM2S", "M_AXI_S2MM"):
            if f"{ps}/{fam['hp']}" not in self.reach(f"{dma}/{master}"):
                self.bad(f"{dma}/{master} does not reach {ps}/{fam['hp']} (DDR)")

    def check_register_bus(self) -> None:
        """The address bits of the core's register bus cover the register map."""
        bus, regs_end = self.bus, self.regs_end
        self.summary["register_map_bytes"] = regs_end
        if bus in self.intfs:
            i = self.intfs[bus]
            aw = int(i["params"].get("ADDR_WIDTH", 0) or 0)
            if (1 << aw) < regs_end:
                self.bad(f"{bus}: ADDR_WIDTH {aw} reaches {1 << aw} bytes, the register map needs {regs_end:#x}")
            if i["ports"] and i["ports"].get("AWADDR") != aw:
                self.bad(f"{bus}: AWADDR is {i['ports'].get('AWADDR')} bits, ADDR_WIDTH says {aw}")

    def check_addresses(self) -> None:
        """The core's aperture covers the register map, aligned; the DMA and the rest have addresses."""
        bus, dma, regs_end = self.bus, self.dma, self.regs_end
        addresses = self.rec.get("addresses", [])
        assigned = [a for a in addresses if any(s.startswith(bus + "/") for s in a["segments"])]
        if not assigned or "range" not in assigned[0]:
            self.bad(f"{bus} has no address range of its own (assign_bd_address -range)")
        else:
            rng, off = _bytes(assigned[0]["range"]), int(assigned[0].get("offset", "0"), 0)
            self.summary["core_address"], self.summary["core_range"] = hex(off), rng
            if rng < max(4096, regs_end):
                self.bad(f"{bus}: range {rng} bytes, the register map needs {regs_end:#x} (and Vivado 4K at least)")
            if off % rng:
                self.bad(f"{bus}: offset {off:#x} is not aligned to its range {rng:#x}")
        if not any(any(s.startswith(f"{dma}/S_AXI_LITE/") for s in a["segments"]) for a in addresses):
            self.bad(f"{dma}/S_AXI_LITE has no address")
        if not any(a["auto"] for a in addresses):
            self.bad("no assign_bd_address for the rest (the DMA's view of DDR)")

    def check_pl_clock(self) -> None:
        """PL clock 0 runs at the board's frequency and clocks every clock input."""
        ps, fam, board = self.ps, self.fam, self.board
        if not ps:
            return
        mhz = self.cells[ps.strip("/")]["config"].get(fam["freq"])
        self.summary["pl_clock_mhz_requested"] = mhz
        if mhz is None or float(mhz) != float(board["clock_mhz"]):
            self.bad(f"PL clock 0 is set to {mhz} MHz ({fam['freq']}), "
                     f"board {board['name']} runs at {board['clock_mhz']} MHz")
        clk_pin = f"{ps}/{fam['clk']}"
        self.summary["pl_clock_hz"] = int(self.pins.get(clk_pin, {}).get("params", {}).get("FREQ_HZ", 0) or 0)
        clk_net = self.on_net.get(clk_pin, set())
        for p, i in self.pins.items():
            if i["type"] == "clk" and i["dir"] == "I" and i["enabled"] and p in self.on_net and p not in clk_net:
                self.bad(f"{p} is clocked by something other than {clk_pin}")

    def check_core_clock(self) -> None:
        """The RTL core's clock and interface attributes agree with the board and PL clock 0."""
        core_cell, core_clk = self.core_cell, f"{self.core_cell}/{self.iface['clock']}"
        if core_clk not in self.pins:
            return
        rtl, ps, clk = self.core == "rtl", self.ps, self.pins[core_clk]
        want_hz = int(round(float(self.board["clock_mhz"]) * 1e6))
        hdl = clk["hdl_params"]
        if rtl and hdl.get("FREQ_HZ") != str(want_hz):
            self.bad(f"{core_clk}: FREQ_HZ {hdl.get('FREQ_HZ')} in the wrapper, "
                     f"board {self.board['name']} runs at {want_hz} Hz")
        for p, i in self.intfs.items():
            if rtl and p.startswith(core_cell + "/") and i["hdl_params"].get("FREQ_HZ") not in (None, str(want_hz)):
                self.bad(f"{p}: FREQ_HZ {i['hdl_params'].get('FREQ_HZ')} in the wrapper, the clock says {want_hz}")
            if (rtl and ps and p.startswith(core_cell + "/")
                    and i["params"].get("FREQ_HZ") != clk["params"].get("FREQ_HZ")):
                self.bad(f"{p}: FREQ_HZ {i['params'].get('FREQ_HZ')} in the block design, its clock "
                         f"{clk['params'].get('FREQ_HZ')}")
        if rtl and ps and int(clk["params"].get("FREQ_HZ", 0)) != self.summary.get("pl_clock_hz"):
            self.bad(f"{core_clk}: FREQ_HZ {clk['params'].get('FREQ_HZ')} in the block design, "
                     f"PL clock 0 makes {self.summary.get('pl_clock_hz')}")
        busif = set(hdl.get("ASSOCIATED_BUSIF", "").split(":"))
        want_busif = {f"s_axi_{self.iface['control']['bundle']}", *self.iface["streams"]}
        if (self.manifest or {}).get("weight_stream"):
            want_busif.add(self.iface["memory_ports"]["gmem"]["prefix"])
        if rtl and busif != want_busif:
            self.bad(f"{core_clk}: ASSOCIATED_BUSIF {sorted(busif)}, the core's interfaces are {sorted(want_busif)}")
        if rtl and hdl.get("ASSOCIATED_RESET") != self.iface["reset"]["port"]:
            self.bad(f"{core_clk}: ASSOCIATED_RESET {hdl.get('ASSOCIATED_RESET')}, "
                     f"the reset is {self.iface['reset']['port']}")

    def check_reset(self) -> None:
        """One reset polarity: active low everywhere, from the reset block, which the PS releases."""
        pins, on_net = self.pins, self.on_net
        for n in self.nets:
            rst = [p for p in n if pins.get(p, {}).get("type") == "rst"]
            high = [p for p in rst if pins[p]["polarity"] in ("high", "unspecified")]
            if rst and high:
                self.bad(f"reset net {sorted(n)} has active-high or unspecified pins {high}: "
                         "one polarity (active low) everywhere")
        core_rst = f"{self.core_cell}/{self.iface['reset']['port']}"
        drivers = [p for p in on_net.get(core_rst, ()) if pins.get(p, {}).get("dir") == "O"]
        if drivers and not drivers[0].endswith(("/peripheral_aresetn", "/interconnect_aresetn")):
            self.bad(f"{core_rst} is driven by {drivers[0]}, not by a proc_sys_reset (which holds it for 16+ clocks)")
        if self.ps and f"{self.ps}/{self.fam['resetn']}" not in on_net.get("/rst_0/ext_reset_in", set()):
            self.bad(f"rst_0/ext_reset_in is not driven by {self.ps}/{self.fam['resetn']}")

    def check_dma(self) -> None:
        """The DMA: simple mode, its length register long enough for the largest transfer."""
        dcfg = self.cells.get(DMA_CELL, {}).get("config", {})
        if not dcfg:
            return
        if dcfg.get("c_include_sg") != "0":
            self.bad(f"{DMA_CELL}: scatter-gather is on (c_include_sg {dcfg.get('c_include_sg')}); "
                     "the driver uses simple mode")
        width = int(dcfg.get("c_sg_length_width", 0))
        need, what = largest_transfer(self.manifest, self.iface)
        self.summary.update(dma_length_bits=width, dma_max_transfer_bytes=(1 << width) - 1,
                            largest_transfer_bytes=need)
        if (1 << width) - 1 < need:
            self.bad(f"{DMA_CELL}: c_sg_length_width {width} moves at most {(1 << width) - 1} bytes per transfer, "
                     f"{what} is {need} bytes")

    def check_weight_stream(self) -> None:
        """Designs that stream weights (manifest weight_stream): the core's read master is as the
        manifest says, reaches DDR through the family's own HP port, which is enabled and clocked
        by PL clock 0, and the port's DDR segment is assigned into the master's address space."""
        ws = (self.manifest or {}).get("weight_stream")
        if not ws:
            return
        prefix = self.iface["memory_ports"]["gmem"]["prefix"]
        gmem, g, ps = f"{self.core_cell}/{prefix}", self.fam["gmem"], self.ps
        if self.core != "rtl":
            self.bad(f"the design streams weights (manifest weight_stream) but the {self.core} core has no {prefix}")
            return
        i = self.intfs.get(gmem)
        if i is None or "aximm" not in i.get("vlnv", "") or i.get("mode") != "master":
            self.bad(f"{gmem} is not an AXI master interface of the core (the wrapper's attributes)")
            return
        for key, want in (("DATA_WIDTH", ws["data_bits"]), ("ADDR_WIDTH", ws["addr_bits"])):
            if i["params"].get(key) != str(want):
                self.bad(f"{gmem}: {key} {i['params'].get(key)}, manifest weight_stream says {want}")
        if not ps:
            return
        cfg = self.cells[ps.strip("/")]["config"]
        hp = f"{ps}/{g['hp']}"
        self.summary.update(gmem_hp=hp, gmem_hp_bits=int(cfg.get(g["width"], 0) or 0))
        if str(cfg.get(g["enable"])) != "1":
            self.bad(f"{hp} (the weight stream's HP port) is not enabled ({g['enable']} = {cfg.get(g['enable'])})")
        elif hp not in self.reach(gmem):
            self.bad(f"{gmem} does not reach {hp} (DDR): {gmem} is connected to {self.peer.get(gmem, 'nothing')}")
        aclk = f"{ps}/{g['aclk']}"
        clk_net = self.on_net.get(f"{ps}/{self.fam['clk']}", set())
        if str(cfg.get(g["enable"])) == "1" and aclk not in clk_net:
            self.bad(f"{aclk} (the clock of {hp}) is not PL clock 0 ({ps}/{self.fam['clk']})")
        space = i.get("space") and f"{self.core_cell}/{i['space']}"
        ddr = f"{ps}/{g['ddr']}"
        spaces = [a for a in self.rec.get("addresses", []) if a.get("space") == space]
        if not any(ddr in a["segments"] for a in spaces):
            got = sorted({s for a in spaces for s in a["segments"]})
            self.bad(f"{gmem}: the DDR segment {ddr} is not assigned into its address space {space} "
                     f"(assign_bd_address -target_address_space{'; it holds ' + ', '.join(got) if got else ''})")
        else:
            a = next(a for a in spaces if ddr in a["segments"])
            self.summary.update(gmem_space=space, gmem_segment=ddr)
            if int(str(a.get("offset", "0")), 0) != 0:
                self.bad(f"{gmem}: {ddr} at offset {a['offset']} in {space}: DDR addresses must map 1:1 "
                         "(the driver writes physical addresses into weights_base)")

    def check_build_steps(self) -> None:
        """The build steps, in order, and their products."""
        recorded = self.rec.get("steps", [])
        steps = [s[0] for s in recorded]
        order = ["validate_bd_design", "make_wrapper", "launch_runs", "wait_on_run", "open_run",
                 "report_timing_summary", "report_utilization", "get_timing_paths"]
        at = [steps.index(s) if s in steps else -1 for s in order]
        for s, i in zip(order, at):
            if i < 0:
                self.bad(f"no {s} step")
        if all(i >= 0 for i in at) and at != sorted(at):
            self.bad(f"steps out of order: {[s for s in steps if s in order]}")
        for s in recorded:
            if s[0] == "make_wrapper" and "-top" not in s:
                self.bad("make_wrapper without -top")
            if s[0] == "launch_runs" and s[s.index("-to_step") + 1 if "-to_step" in s else 0] != "write_bitstream":
                self.bad("launch_runs does not run to write_bitstream")
            if s[0] in ("report_timing_summary", "report_utilization") and "-file" not in s:
                self.bad(f"{s[0]} writes no file")
        if not any(s[0] == "get_timing_paths" and "-setup" in s for s in recorded):
            self.bad("the worst setup slack (WNS) is never read")


def check_record(rec: dict, board: dict | str, core: str, manifest: dict | None = None,
                 out_dir: Path | None = None, hls_ip_dir: Path | None = None) -> tuple[list[str], dict]:
    """What the block design recorded by the stand-ins must satisfy; returns the problems (one
    sentence each, empty when all is well) and a summary of the facts checked.  Left to
    Vivado: IP parameter propagation, bus width and protocol conversion inside the
    SmartConnects, the DMA's DDR address segments (assigned by the catch-all assign_bd_address),
    the DDR size behind a segment, and everything after validation (synthesis, timing)."""
    d = _Design(rec, _board(board), core, manifest, out_dir, hls_ip_dir)
    d.check_exit()
    d.check_project_and_messages()
    d.check_cells()
    d.check_connected()
    d.check_interface_widths()
    d.check_streams()
    d.check_mm_paths()
    d.check_register_bus()
    d.check_addresses()
    d.check_pl_clock()
    d.check_core_clock()
    d.check_reset()
    d.check_dma()
    d.check_weight_stream()
    d.check_build_steps()
    return d.problems, d.summary


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
