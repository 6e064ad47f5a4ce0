"""Vivado back end: the generated core in a Zynq block design, built to a PYNQ bitstream.

Three steps, each checkable without Vivado:

``write_wrapper``          rtl/fsvae_core.v: a plain Verilog-2001 wrapper of the SystemVerilog
                           top with the same ports.  A block-design module reference cannot
                           have a SystemVerilog top (UG994), and module references do not
                           propagate parameters (UG1387), so the wrapper's X_INTERFACE_INFO /
                           X_INTERFACE_PARAMETER attributes tell IP integrator what the ports
                           are: the AXI4-Lite slave, the two AXI4-Streams, the clock (with its
                           frequency on this board), the active-low reset and the interrupt.
``write_vivado_project``   vivado/build_bitstream.tcl from the templates in hw/vivado/ (one
                           fragment per PS family and per core kind): project, block design
                           (PS, AXI DMA, SmartConnects, reset, the core as ``fsvae_0``),
                           synthesis, implementation, bitstream, timing check, and the
                           fsvae.bit / fsvae.hwh pair that PYNQ loads.  A design that streams
                           weights from DDR (manifest weight_stream; RTL core only) also gets
                           hw/vivado/core_gmem.tcl.in: m_axi_gmem -> gmem_smc -> a second PS
                           high-performance port (the PS fragment's ps_gmem_*), that port's DDR
                           segment assigned into the core's address space.
``toolchain/vivado_check.py`` runs that script under ``tclsh`` with hw/vivado/stubs.tcl standing
                           in for Vivado, and checks the recorded block design against the
                           port contract (hw/interface.yaml) and the board (hw/boards.yaml).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from fsvae_fpga.codegen import boards
from fsvae_fpga.codegen.hls import CodegenError

ROOT = Path(__file__).resolve().parents[3]
VIVADO_DIR = ROOT / "hw" / "vivado"
STUBS = VIVADO_DIR / "stubs.tcl"
HLS_TCL_TEMPLATE = ROOT / "hls" / "templates" / "build_prj.tcl.in"

# Board files (Vivado board parts).  ZCU104's ship with Vivado; Kria's come from the board
# store; PYNQ-Z2's from TUL.  Without one the script falls back to the bare part.  A board
# may override this with a `board_part` key in hw/boards.yaml.
BOARD_PARTS = {
    "pynq-z2": "tul.com.tw:pynq-z2:part0:*",
    "kv260": "xilinx.com:kv260_som:part0:*",
    "zcu104": "xilinx.com:zcu104:part0:*",
}
FAMILIES = ("zynq7000", "zynq_ultrascale_plus")
CORE_CELL, DMA_CELL = "fsvae_0", "axi_dma_0"      # the driver finds them by these names
# AXI DMA length register (PG021: 8..26 bits): one transfer moves up to 2^26 - 1 bytes
# (64 MiB - 1); the driver splits anything longer.
DMA_LENGTH_BITS = 26
AXI_LITE = [("AWADDR", "in", "addr"), ("AWVALID", "in", 1), ("AWREADY", "out", 1),
            ("WDATA", "in", 32), ("WSTRB", "in", 4), ("WVALID", "in", 1), ("WREADY", "out", 1),
            ("BRESP", "out", 2), ("BVALID", "out", 1), ("BREADY", "in", 1),
            ("ARADDR", "in", "addr"), ("ARVALID", "in", 1), ("ARREADY", "out", 1),
            ("RDATA", "out", 32), ("RRESP", "out", 2), ("RVALID", "out", 1), ("RREADY", "in", 1)]
AXIS = ["TDATA", "TVALID", "TREADY", "TKEEP", "TSTRB", "TLAST"]
# the read-only AXI4 master of designs that stream weights (hw/interface.yaml memory_ports):
# (signal, direction, width: an int, or "addr" / "data" for the manifest's widths)
AXI_READ_MASTER = [("ARADDR", "out", "addr"), ("ARLEN", "out", 8), ("ARSIZE", "out", 3), ("ARBURST", "out", 2),
                   ("ARVALID", "out", 1), ("ARID", "out", 1), ("ARCACHE", "out", 4), ("ARPROT", "out", 3),
                   ("ARLOCK", "out", 1), ("ARQOS", "out", 4), ("RREADY", "out", 1), ("ARREADY", "in", 1),
                   ("RDATA", "in", "data"), ("RRESP", "in", 2), ("RLAST", "in", 1), ("RVALID", "in", 1),
                   ("RID", "in", 1)]


# --- the port contract -----------------------------------------------------------------------
@dataclass(frozen=True)
class Port:
    name: str
    direction: str      # "in" | "out"
    width: int


def memory_port_signals(iface: dict, weight_stream: dict | None) -> list[Port]:
    """The AXI4 read master's ports (only where the design streams weights: manifest weight_stream)."""
    if not weight_stream:
        return []
    prefix = iface["memory_ports"]["gmem"]["prefix"]
    widths = {"addr": weight_stream["addr_bits"], "data": weight_stream["data_bits"]}
    return [Port(f"{prefix}_{sig}", d, widths.get(w, w)) for sig, d, w in AXI_READ_MASTER]


def contract_ports(iface: dict | None = None, weight_stream: dict | None = None) -> list[Port]:
    """The accelerator's ports as hw/interface.yaml defines them (the HLS top's and the RTL top's);
    with ``weight_stream`` (manifest.json) also the AXI4 read master."""
    iface = iface or boards.interface()
    addr = int(iface["control"]["addr_bits"])
    bus = "s_axi_" + iface["control"]["bundle"]
    ports = [Port(iface["clock"], "in", 1), Port(iface["reset"]["port"], "in", 1)]
    ports += [Port(f"{bus}_{sig}", d, addr if w == "addr" else w) for sig, d, w in AXI_LITE]
    ports.append(Port(iface["interrupt"]["port"], "out", 1))
    for name, st in iface["streams"].items():
        bits, into = int(st["tdata_bits"]), st["direction"] == "in"
        fwd, back = ("in", "out") if into else ("out", "in")
        widths = {"TDATA": bits, "TKEEP": bits // 8, "TSTRB": bits // 8}
        ports += [Port(f"{name}_{sig}", back if sig == "TREADY" else fwd, widths.get(sig, 1)) for sig in AXIS]
    return ports + memory_port_signals(iface, weight_stream)


def parse_module_ports(text: str, module: str) -> list[Port]:
    """The ANSI port list of ``module`` in (System)Verilog source text, in declaration order."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"\(\*.*?\*\)", "", text, flags=re.S)
    m = re.search(rf"\bmodule\s+{re.escape(module)}\b\s*(#\s*\(.*?\)\s*)?\((.*?)\)\s*;", text, flags=re.S)
    if not m:
        raise CodegenError(f"module {module} not found")
    ports = []
    for decl in m.group(2).split(","):
        d = re.match(r"\s*(input|output)\s+(?:wire\s+)?(?:logic\s+)?(?:\[\s*(\d+)\s*:\s*(\d+)\s*\]\s*)?(\w+)\s*$",
                     decl)
        if not d:
            raise CodegenError(f"module {module}: cannot read the port declaration {decl.strip()!r}")
        width = int(d.group(2)) - int(d.group(3)) + 1 if d.group(2) else 1
        ports.append(Port(d.group(4), "in" if d.group(1) == "input" else "out", width))
    return ports


# --- the Verilog wrapper with interface attributes -------------------------------------------
def _board(board: dict | str) -> dict:
    return boards.board(board) if isinstance(board, str) else board


def interface_attributes(iface: dict, freq_hz: int, weight_stream: dict | None = None) -> dict[str, list[str]]:
    """Port name -> its X_INTERFACE_* attributes (UG994 "HDL Parameters for Interface
    Inference"; the parameters go on one port of each interface, the first)."""
    clk, rst, irq = iface["clock"], iface["reset"]["port"], iface["interrupt"]["port"]
    bus = "s_axi_" + iface["control"]["bundle"]
    gmem = iface["memory_ports"]["gmem"]["prefix"] if weight_stream else None
    streams = list(iface["streams"]) + ([gmem] if gmem else [])
    if iface["reset"]["polarity"] != "active_low":
        raise CodegenError("hw/interface.yaml: the block design expects an active-low reset")
    attrs = {
        clk: ['X_INTERFACE_INFO = "xilinx.com:signal:clock:1.0 {0} CLK"'.format(clk),
              f'X_INTERFACE_PARAMETER = "XIL_INTERFACENAME {clk}, ASSOCIATED_BUSIF {":".join([bus] + streams)}, '
              f'ASSOCIATED_RESET {rst}, FREQ_HZ {freq_hz}"'],
        rst: [f'X_INTERFACE_INFO = "xilinx.com:signal:reset:1.0 {rst} RST"',
              f'X_INTERFACE_PARAMETER = "XIL_INTERFACENAME {rst}, POLARITY ACTIVE_LOW"'],
        irq: [f'X_INTERFACE_INFO = "xilinx.com:signal:interrupt:1.0 {irq} INTERRUPT"',
              f'X_INTERFACE_PARAMETER = "XIL_INTERFACENAME {irq}, SENSITIVITY LEVEL_HIGH, PortWidth 1"'],
    }
    for i, (sig, _, _) in enumerate(AXI_LITE):
        attrs[f"{bus}_{sig}"] = [f'X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 {bus} {sig}"']
        if i == 0:
            attrs[f"{bus}_{sig}"] += [
                'X_INTERFACE_MODE = "slave"',
                f'X_INTERFACE_PARAMETER = "XIL_INTERFACENAME {bus}, PROTOCOL AXI4LITE, '
                f'ADDR_WIDTH {iface["control"]["addr_bits"]}, DATA_WIDTH 32, READ_WRITE_MODE READ_WRITE, '
                f'HAS_PROT 0, HAS_WSTRB 1, HAS_BRESP 1, HAS_RRESP 1, FREQ_HZ {freq_hz}"']
    for name, st in iface["streams"].items():
        for i, sig in enumerate(AXIS):
            attrs[f"{name}_{sig}"] = [f'X_INTERFACE_INFO = "xilinx.com:interface:axis:1.0 {name} {sig}"']
            if i == 0:
                attrs[f"{name}_{sig}"] += [
                    f'X_INTERFACE_MODE = "{"slave" if st["direction"] == "in" else "master"}"',
                    f'X_INTERFACE_PARAMETER = "XIL_INTERFACENAME {name}, TDATA_NUM_BYTES {st["tdata_bits"] // 8}, '
                    'TDEST_WIDTH 0, TID_WIDTH 0, TUSER_WIDTH 0, HAS_TREADY 1, HAS_TSTRB 1, HAS_TKEEP 1, '
                    f'HAS_TLAST 1, FREQ_HZ {freq_hz}"']
    for i, p in enumerate(memory_port_signals(iface, weight_stream)):
        sig = p.name[len(gmem) + 1:]
        attrs[p.name] = [f'X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 {gmem} {sig}"']
        if i == 0:
            attrs[p.name] += [
                'X_INTERFACE_MODE = "master"',
                f'X_INTERFACE_PARAMETER = "XIL_INTERFACENAME {gmem}, PROTOCOL AXI4, READ_WRITE_MODE READ_ONLY, '
                f'ADDR_WIDTH {weight_stream["addr_bits"]}, DATA_WIDTH {weight_stream["data_bits"]}, ID_WIDTH 1, '
                f'MAX_BURST_LENGTH {weight_stream["max_burst"]}, NUM_READ_OUTSTANDING 16, '
                f'NUM_WRITE_OUTSTANDING 0, FREQ_HZ {freq_hz}"']
    return attrs


def wrapper_text(ports: list[Port], top: str, wrapper: str, board: dict, iface: dict,
                 weight_stream: dict | None = None) -> str:
    freq_hz = int(round(float(board["clock_mhz"]) * 1e6))
    attrs = interface_attributes(iface, freq_hz, weight_stream)
    width = max(len(p.name) for p in ports)
    lines = [
        "// Generated by fsvae-fpga (codegen/vivado.py): do not edit.",
        f"// Plain Verilog-2001 wrapper of the SystemVerilog top {top}, with the same ports, for Vivado",
        "// IP integrator: a block-design module reference cannot have a SystemVerilog top (UG994),",
        "// and module references do not propagate parameters (UG1387), so the attributes below say",
        "// what each port is: AXI4-Lite slave, AXI4-Streams, clock (ASSOCIATED_BUSIF / _RESET and the",
        f"// frequency on {board['name']}: {board['clock_mhz']} MHz), active-low reset, level interrupt.",
        "",
        "`default_nettype none",
        "",
        f"module {wrapper} (",
    ]
    for i, p in enumerate(ports):
        rng = f"[{p.width - 1}:0]" if p.width > 1 else ""
        decl = f"    {'input ' if p.direction == 'in' else 'output'} wire {rng:<7} {p.name}"
        lines += [f"    (* {a} *)" for a in attrs.get(p.name, [])]
        reserved = p.name == iface["interrupt"]["port"]     # a reserved word to Verilator's C++
        if reserved:
            lines.append("    /* verilator lint_off SYMRSVDWORD */")
        lines.append(decl + ("," if i < len(ports) - 1 else ""))
        if reserved:
            lines.append("    /* verilator lint_on SYMRSVDWORD */")
    lines += [");", "", f"    {top} u_top ("]
    lines += [f"        .{p.name:<{width}} ({p.name})" + ("," if i < len(ports) - 1 else "")
              for i, p in enumerate(ports)]
    lines += ["    );", "", "endmodule", "",
              "`default_nettype wire   // leave the default as found: Vivado reads IP sources after this file", ""]
    return "\n".join(lines)


def write_wrapper(out_dir: Path, manifest: dict, board: dict | str) -> Path:
    """out_dir/rtl/<wrapper>.v for the generated top of ``manifest`` (codegen rtl) on ``board``.
    The SystemVerilog top must have exactly the ports of hw/interface.yaml."""
    out_dir, board, iface = Path(out_dir), _board(board), boards.interface()
    top, wrapper = manifest["top"], iface["wrapper"]
    top_src = next((s for s in manifest["sources"] if Path(s).stem == top), None)
    if top_src is None:
        raise CodegenError(f"manifest.json lists no source for the top {top}")
    ports = parse_module_ports((out_dir / top_src).read_text(), top)
    want = {p.name: p for p in contract_ports(iface, manifest.get("weight_stream"))}
    have = {p.name: p for p in ports}
    problems = [f"{n}: missing" for n in want if n not in have]
    problems += [f"{n}: not in hw/interface.yaml" for n in have if n not in want]
    problems += [f"{n}: {have[n].direction} [{have[n].width}] in {top_src}, {want[n].direction} [{want[n].width}] "
                 "in hw/interface.yaml" for n in want if n in have and have[n] != want[n]]
    if problems:
        raise CodegenError(f"{top_src} does not have the ports of hw/interface.yaml: " + "; ".join(problems))
    path = out_dir / "rtl" / f"{wrapper}.v"
    path.write_text(wrapper_text(ports, top, wrapper, board, iface, manifest.get("weight_stream")))
    return path


def readmem_problems(out_dir: Path, manifest: dict) -> list[str]:
    """Memory files named by the generated top ($readmemh via *_FILE parameters) that Vivado
    would not find from its run folders: relative paths, or files that do not exist."""
    out_dir = Path(out_dir)
    top_src = next(s for s in manifest["sources"] if Path(s).stem == manifest["top"])
    problems = []
    for param, name in sorted(set(re.findall(r'\.(\w+_FILE)\s*\(\s*"([^"]+)"\s*\)', (out_dir / top_src).read_text()))):
        if not Path(name).is_absolute():
            problems.append(f'{param}("{name}") is a relative path (synthesis runs in another folder)')
        elif not Path(name).is_file():
            problems.append(f'{param}("{name}") does not exist')
    return problems


# --- the build script ------------------------------------------------------------------------
def hls_vlnv(top: str | None = None) -> str:
    """The VLNV that Vitis HLS exports the core under (hls/templates/build_prj.tcl.in)."""
    top = top or boards.interface()["top"]
    line = next(ln for ln in HLS_TCL_TEMPLATE.read_text().splitlines() if ln.startswith("export_design"))
    opt = dict(re.findall(r"-(vendor|library|version)\s+(\S+)", line))
    return f"{opt.get('vendor', 'xilinx.com')}:{opt.get('library', 'hls')}:{top}:{opt.get('version', '1.0')}"


def _render(name: str, values: dict[str, str]) -> str:
    text = (VIVADO_DIR / name).read_text()
    for key, value in values.items():
        text = text.replace(f"@{key}@", str(value))
    left = sorted(set(re.findall(r"@[A-Z_]+@", text)))
    if left:
        raise CodegenError(f"hw/vivado/{name}: no value for {', '.join(left)}")
    return text


def _tcl_list(paths: list[str]) -> str:
    return "[list \\\n" + "".join(f"    {{{p}}} \\\n" for p in paths) + "]"


def write_vivado_project(out_dir: Path, manifest: dict, board: dict | str, core: str = "rtl",
                         hls_ip_dir: Path | None = None, jobs: int | None = None) -> Path:
    """out_dir/vivado/build_bitstream.tcl: the block design around the core and the whole
    bitstream build.  core="rtl": the generated RTL in out_dir (manifest sources + the
    wrapper from write_wrapper) as a module reference; core="hls": the IP that Vitis HLS
    exported into hls_ip_dir."""
    out_dir, board, iface = Path(out_dir).resolve(), _board(board), boards.interface()
    if board["family"] not in FAMILIES:
        raise CodegenError(f"board {board['name']}: no block design for family {board['family']} (have {FAMILIES})")
    streams = iface["streams"]
    into = next(n for n, s in streams.items() if s["direction"] == "in")
    outof = next(n for n, s in streams.items() if s["direction"] == "out")
    values = {
        "BOARD": board["name"], "PART": board["part"], "CLOCK_MHZ": board["clock_mhz"],
        "RELEASE": boards.vivado_release(), "CORE": core,
        "BOARD_PART": board.get("board_part", BOARD_PARTS.get(board["name"], "")),
        "JOBS": jobs or os.cpu_count() or 4, "CORE_CELL": CORE_CELL, "DMA_CELL": DMA_CELL,
        "CONTROL": "s_axi_" + iface["control"]["bundle"], "STREAM_IN": into, "STREAM_OUT": outof,
        "CLOCK": iface["clock"], "RESET": iface["reset"]["port"], "INTERRUPT": iface["interrupt"]["port"],
        "STREAM_IN_BITS": streams[into]["tdata_bits"], "STREAM_OUT_BITS": streams[outof]["tdata_bits"],
        "DMA_LENGTH_BITS": DMA_LENGTH_BITS, "CORE_RANGE": "4K",
        "LAST_REGISTER": f"{max(r['offset'] for r in iface['control']['registers']):#04x}",
    }
    ws = manifest.get("weight_stream")
    gmem = iface["memory_ports"]["gmem"]["prefix"]
    if ws and core != "rtl":
        raise CodegenError(f"the design streams weights from DDR (manifest weight_stream: {', '.join(l['layer'] for l in ws['layers'])}) "
                           f"but the {core} core has no {gmem} master: build the rtl core, or generate without "
                           "weight_stream (hw/boards.yaml)")
    values["CORE_INTFS"] = " ".join([values["CONTROL"], into, outof] + ([gmem] if ws else []))
    if core == "rtl":
        wrapper = out_dir / "rtl" / f"{iface['wrapper']}.v"
        if not wrapper.is_file():
            raise CodegenError(f"{wrapper} is missing: write_wrapper writes it (codegen rtl)")
        sv = [str(out_dir / s) for s in manifest["sources"] if s.endswith(".sv")]
        values.update(SV_SOURCES=_tcl_list(sv), WRAPPER_FILE=str(wrapper), WRAPPER_MODULE=iface["wrapper"],
                      CORE_DESC=f"generated RTL ({manifest['top']} in {iface['wrapper']}.v)")
    elif core == "hls":
        if hls_ip_dir is None:
            raise CodegenError("core hls needs the folder that Vitis HLS exported the IP to (hls_ip_dir)")
        values.update(HLS_IP_DIR=str(Path(hls_ip_dir).resolve()), HLS_VLNV=hls_vlnv(iface["top"]),
                      CORE_DESC=f"Vitis HLS IP {hls_vlnv(iface['top'])}")
    else:
        raise CodegenError(f"core must be rtl or hls, not {core!r}")
    values["PS_BLOCK"] = _render(f"ps_{board['family']}.tcl.in", values)
    values["CORE_SOURCES"] = _render(f"core_{core}_sources.tcl.in", values)
    values["CORE_CELL_BLOCK"] = _render(f"core_{core}_cell.tcl.in", values)
    if ws:
        values["GMEM_BLOCK"] = _render("core_gmem.tcl.in", {
            **values, "GMEM": gmem, "GMEM_BITS": ws["data_bits"], "GMEM_ADDR_BITS": ws["addr_bits"],
            "GMEM_BURST": ws["max_burst"]})
    else:
        values["GMEM_BLOCK"] = "# (no weight stream from DDR in this design: manifest weight_stream is null)\n"
    path = out_dir / "vivado" / "build_bitstream.tcl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_render("build_bitstream.tcl.in", values))
    return path
