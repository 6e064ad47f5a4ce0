"""RTL writer: the SystemVerilog accelerator for one hardware model and one board.

``fsvae-fpga codegen rtl --hwmodel DIR --board B --out DIR`` fills hw/templates/fsvae_top.sv.in
with the engine instances of the model (hw/rtl/, one module per file) and writes::

    rtl/*.sv          the engine library (copied) and the generated top fsvae_top.sv
    rtl/fsvae_core.v  plain-Verilog wrapper of the top with Vivado interface attributes
                      (codegen/vivado.py), for a block-design module reference
    mem/*.hex         $readmemh images: weights and biases in the engines' layouts, the
                      output stage's weights, decay coefficients and pixel thresholds
    manifest.json     top name, source list in compile order, board, lanes and widths per
                      layer (read by the testbench, make sim and make estimate)

The design shares its microarchitecture with the HLS back end (codegen/hls.py): the same
engines, weight layouts (``design.engine_weight``), widths (``design.layer_widths``) and lanes
(``design.lanes`` from hw/boards.yaml); the register map and stream formats come from
hw/interface.yaml.  Memory files are named by absolute path (the output folder, resolved
at generation time), so simulators and Vivado find them from any working directory; a
missing file stops the simulation (fsvae_file_check) and, through the generated Tcl, the
synthesis.  Move the folder and you must regenerate it.

The read-only ``identity`` register (manifest ``identity``) is the hardware model's identity
(manifest ``hwmodel_identity``, hwmodel.py), its first 4 bytes little-endian: the one value the
golden vectors, the HLS core and the driver check too, so that a driver refuses a bitstream
built from another (or an edited) model.  The design's hash (manifest ``design_sha256``:
the model, the board settings and the generator's texts) tells build caches and the overlay
writer whether a folder was generated from exactly the current sources.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

from fsvae_fpga.codegen import balance, boards
from fsvae_fpga.contract.hwmodel import HwModel
from fsvae_fpga.codegen.dataflow import FIFO_DEPTH, latent_word_bits, lower
from fsvae_fpga.codegen.design import (CodegenError, Design, check_fits, clipped_pixel_thresholds, ddr_weight_image,
                                       dense_weight, describe, engine_bias, engine_weight, lanes, output_sum_weight, pack_lanes,
                                       stream_settings, weight_load_memories)
from fsvae_fpga.codegen import rtl_sources
from fsvae_fpga.codegen.rtl_top import HELPERS, MODULES, TopBody, loader

ROOT = Path(__file__).resolve().parents[3]
RTL_LIB = ROOT / "hw" / "rtl"
TEMPLATE = ROOT / "hw" / "templates" / "fsvae_top.sv.in"

# the modules the template instantiates itself (the body's: rtl_top.MODULES and HELPERS)
TEMPLATE_MODULES = ["fsvae_axil_ctrl", "fsvae_sampler", "fsvae_weight_loader", "fsvae_run_counters"]


def library_files() -> list[str]:
    """The hw/rtl files of the generated design in compile order (hw/rtl/sources.yaml)."""
    tops = TEMPLATE_MODULES + list(MODULES.values()) + HELPERS
    return [f"{m}.sv" for m in rtl_sources.modules(tops)]


def pack_words(values: np.ndarray, lanes_per_word: int, bits: int) -> list[str]:
    """Rows of ``lanes_per_word`` signed values -> $readmemh hex words, lane 0 in the low bits."""
    digits = (lanes_per_word * bits + 3) // 4
    return [f"{pack_lanes(row, bits):0{digits}x}"
            for row in np.asarray(values, dtype=np.int64).reshape(-1, lanes_per_word)]


def _write_hex(path: Path, words: list[str]) -> None:
    path.write_text("\n".join(words) + "\n")


def write_weight_blob(hw: HwModel, board: dict, mems: list[dict], path: Path) -> None:
    """mem/weights.bin: what load_weights expects on in_r (hw/interface.yaml)."""
    parts = []
    for m in mems:
        layer = hw.layer(m["layer"])
        p, bits = lanes(board, m["layer"], layer["out_shape"][0]), layer["weight"]["bits"]
        for row in engine_weight(hw, m["layer"]).reshape(-1, p):
            parts.append(pack_lanes(row, bits).to_bytes(4 * m["words_per_entry"], "little"))
    path.write_bytes(b"".join(parts))


def _output_tables(design: Design, mem_dir: Path) -> None:
    """The output stage's memory images (fsvae_output_sum): weights in its layout, decay
    coefficients, and the pixel thresholds clipped to the sum's range (exact at its width)."""
    hw, o = design.hw, design.output_sum
    _write_hex(mem_dir / "output.weight.hex",
               pack_words(output_sum_weight(hw.weights["output"], o.lanes), o.lanes, o.w_bits))
    _write_hex(mem_dir / "output.coef.hex", [f"{int(c):x}" for c in hw.desc["output"]["decay_coefficients"]])
    _write_hex(mem_dir / "output.thresh.hex", pack_words(clipped_pixel_thresholds(hw), 1, o.sum_bits))


MARKER = "manifest.json"      # an output folder holding one with format fsvae-rtl is ours


def _prepare_out_dir(out_dir: Path) -> tuple[Path, Path]:
    """rtl/ and mem/ under out_dir, emptied only when the folder is this generator's own
    output (its manifest.json says so); anything else already there is refused."""
    rtl_dir, mem_dir = out_dir / "rtl", out_dir / "mem"
    ours = False
    if (out_dir / MARKER).is_file():
        try:
            ours = json.loads((out_dir / MARKER).read_text()).get("format") == "fsvae-rtl"
        except (ValueError, AttributeError):
            ours = False
    for d in (rtl_dir, mem_dir):
        if (d.exists() or d.is_symlink()) and not ours:
            raise CodegenError(f"{d} exists and {out_dir} is not a folder written by codegen rtl "
                               f"(no fsvae-rtl {MARKER}); choose another --out or remove it yourself")
    # the marker first: a generation that stops half way leaves a folder that is still known
    # to be ours (and incomplete: no sources), so the next run may replace it
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MARKER).write_text(json.dumps({"format": "fsvae-rtl", "complete": False}) + "\n")
    for d in (rtl_dir, mem_dir):
        if d.exists() or d.is_symlink():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    return rtl_dir, mem_dir


def design_sha256(hw: HwModel, board: dict) -> str:
    """sha256 (hex) of the hardware model's description (which holds every array's sha256),
    the board settings (with the balance plan resolved, as write_rtl uses them) and the
    generator's texts: whether generated files are current."""
    board = balance.resolve(hw, board)
    h = hashlib.sha256()
    h.update(json.dumps({"hwmodel": hw.desc, "board": board, "fifo_depth": FIFO_DEPTH,
                         "interface": boards.interface()}, sort_keys=True, default=str).encode())
    for f in library_files() + ["sources.yaml"]:
        h.update((RTL_LIB / f).read_bytes())
    h.update(TEMPLATE.read_bytes())
    for writer in ("rtl.py", "rtl_top.py", "dataflow.py", "design.py", "rtl_sources.py", "latency.py", "balance.py"):
        h.update((Path(__file__).parent / writer).read_bytes())
    return h.hexdigest()


def _memory_images(design: Design, mem_dir: Path) -> None:
    """$readmemh images of every layer's weights and biases in its engines' layout, and the
    zero biases of engine copies 1.. (copy 0 adds the bias); the output stage's tables."""
    hw = design.hw
    _output_tables(design, mem_dir)
    for name, lp in design.layers.items():
        if name == "output":
            continue
        if not lp.streamed:                   # streamed weights: mem/ddr_weights.bin only
            _write_hex(mem_dir / f"{name}.weight.hex", pack_words(engine_weight(hw, name), lp.lanes, lp.widths["w"]))
        _write_hex(mem_dir / f"{name}.bias.hex", pack_words(engine_bias(hw, name), lp.lanes, lp.widths["b"]))
        if lp.dense:                          # fsvae_convt_dense: line ci*K + kh, field c*K + kw
            _write_hex(mem_dir / f"{name}.dense_weight.hex", pack_words(dense_weight(hw, name), lp.cout *
                                                                        hw.layer(name)["kernel_size"], lp.widths["w"]))
        if lp.kind == "convT":
            _write_hex(mem_dir / f"{name}.bias_zero.hex",
                       pack_words(np.zeros_like(engine_bias(hw, name)), lp.lanes, lp.widths["b"]))


def _engines_busy(engines: list[dict]) -> tuple[list[str], str, str]:
    """(status_units, the engines_busy expression, the all-finished expression): one bit per
    sequenced engine, then the latent pick and the output stage; past 31 units the rest share
    bit 31."""
    seqs = [e["instance"] for e in engines if e["sequenced"]]
    units = seqs + ["latent_pick", "output_sum"]
    flags = [f"!{s}_finished" for s in seqs] + ["pick_busy", "out_busy"]
    if len(flags) > 32:
        flags = flags[:31] + [f"({' || '.join(flags[31:])})"]
        units = units[:31] + ["+".join(units[31:])]
    busy = "{" + ", ".join([f"{32 - len(flags)}'d0"] * (len(flags) < 32) + flags[::-1]) + "}"
    return units, busy, " && ".join(f"{s}_finished" for s in seqs)


def _register_params(iface: dict) -> tuple[str, int]:
    """fsvae_axil_ctrl's register offsets (hw/interface.yaml) and the address width."""
    offsets = boards.register_offsets()
    axil = {"OFF_CTRL": "CTRL", "OFF_GIE": "GIE", "OFF_IER": "IER", "OFF_ISR": "ISR", "OFF_SEED": "seed",
            "OFF_N_IMAGES": "n_images", "OFF_MODE": "mode", "OFF_IMAGE_BASE": "image_base",
            "OFF_IDENTITY": "identity", "OFF_STATUS": "status", "OFF_PROGRESS": "progress",
            "OFF_ENGINES_BUSY": "engines_busy", "OFF_WEIGHTS_BASE": "weights_base"}
    addr_bits = int(iface["control"]["addr_bits"])
    if boards.register_map_bytes() > 1 << addr_bits:
        raise CodegenError(f"hw/interface.yaml: registers up to {max(offsets.values()):#x} need more than "
                           f"control.addr_bits = {addr_bits}")
    return ",\n".join(f"        .{p}(32'h{offsets[r]:02x})" for p, r in axil.items()), addr_bits


def _check_supported(hw: HwModel, iface: dict) -> None:
    if hw.image_shape[0] != 1:
        raise CodegenError(f"codegen rtl: images with {hw.image_shape[0]} channels are not supported yet "
                           "(the output stage emits channel-last pixels; out_r wants C-H-W)")
    if iface["pixels_per_word"] != 4 or any(st["tdata_bits"] != 32 for st in iface["streams"].values()):
        raise CodegenError("hw/interface.yaml: this generator implements 32-bit words of 4 pixels")


def _write_ddr_image(design: Design, streamers: list[dict], mem_dir: Path) -> dict | None:
    """mem/ddr_weights.bin and the manifest's weight_stream (None where no layer streams):
    the layers' rows and their layout, the port, and the memory model the simulation uses."""
    if not streamers:
        return None
    image = ddr_weight_image(design)
    (mem_dir / "ddr_weights.bin").write_bytes(image)
    ws = stream_settings(design.board)
    return {"image": "mem/ddr_weights.bin", "bytes": len(image), "align": 4096, "port": "m_axi_gmem",
            "data_bits": ws["port_bits"], "addr_bits": ws["addr_bits"], "max_burst": ws["max_burst"],
            "base_register": "weights_base",
            "memory_model": {"latency_cycles": ws["latency_cycles"], "beats_per_cycle": ws["beats_per_cycle"]},
            "layers": streamers}


def memory_ports(iface: dict, weight_stream: dict | None) -> str:
    """The top's AXI4 read master (hw/interface.yaml memory_ports), Vitis m_axi names."""
    if not weight_stream:
        return ""
    port = iface["memory_ports"]["gmem"]
    a, d, gm = weight_stream["addr_bits"], weight_stream["data_bits"], port["prefix"]
    outs = [(f"[{a - 1}:0]", "ARADDR"), ("[7:0]", "ARLEN"), ("[2:0]", "ARSIZE"), ("[1:0]", "ARBURST"),
            ("", "ARVALID"), ("[0:0]", "ARID"), ("[3:0]", "ARCACHE"), ("[2:0]", "ARPROT"), ("", "ARLOCK"),
            ("[3:0]", "ARQOS"), ("", "RREADY")]
    ins = [("", "ARREADY"), (f"[{d - 1}:0]", "RDATA"), ("[1:0]", "RRESP"), ("", "RLAST"), ("", "RVALID"),
           ("[0:0]", "RID")]
    lines = [f"    output logic {w:<8} {gm}_{n}" for w, n in outs] + \
            [f"    input  wire logic {w:<8} {gm}_{n}" for w, n in ins]
    return ",\n\n    // weight rows from DDR (read-only AXI4 master)\n" + ",\n".join(lines)


def write_rtl(hw: HwModel, board_name: str, out_dir: str | Path, overrides: dict | None = None) -> dict:
    """Write the RTL accelerator for ``hw`` on ``board_name`` into ``out_dir``; returns the manifest.
    ``overrides`` replaces board keys (tests: e.g. weight_memory, replicas)."""
    board = balance.resolve(hw, {**boards.board(board_name), **(overrides or {})})
    iface = boards.interface()
    _check_supported(hw, iface)
    design = describe(hw, board)
    if design.plan("output").loaded:
        raise CodegenError("weight_memory.loadable_min_bits: the output layer's weights are a ROM of the output "
                           "stage; set it above their size")
    graph = lower(design)
    fit = check_fits(design, {"event_fifos": sum(n.attrs["depth"] * (graph.streams[n.inputs[0]].width + 2)
                                                  for n in graph.nodes if n.op == "event_fifo")})
    out_dir = Path(out_dir).resolve()
    rtl_dir, mem_dir = _prepare_out_dir(out_dir)
    mem = str(mem_dir)
    if '"' in mem or "\\" in mem:
        raise CodegenError(f"{mem}: a path with quotes or backslashes cannot be a Verilog string; choose another --out")

    _memory_images(design, mem_dir)
    writer = TopBody(graph, mem)
    body = writer.render()
    load_mems = weight_load_memories(hw, board, design.loadable) if design.loadable else []
    if load_mems:
        write_weight_blob(hw, board, load_mems, mem_dir / "weights.bin")
    weight_stream = _write_ddr_image(design, writer.streamers, mem_dir)
    units, busy_text, all_finished = _engines_busy(writer.engines)
    axil_text, addr_bits = _register_params(iface)
    identity = hw.identity32            # the register names the hardware model (hwmodel.py)
    top = iface["top"]
    text = TEMPLATE.read_text()
    for key, value in {"@TOP@": top, "@MODEL@": f"T={hw.T} C={hw.C} k={hw.k} image {list(hw.image_shape)}",
                       "@BOARD@": board["name"], "@PART@": board["part"], "@CLOCK_MHZ@": str(board["clock_mhz"]),
                       "@MODES@": "Reconstruction is not in this design (status.has_reconstruct = 0)",
                       "@T@": str(hw.T), "@C@": str(hw.C),
                       "@K@": str(hw.k), "@ZW@": str(latent_word_bits(hw.C)), "@AXIL_PARAMS@": axil_text,
                       "@ADDR_BITS@": str(addr_bits), "@ADDR_MSB@": str(addr_bits - 1),
                       "@IDENTITY_HEX@": f"{identity:08x}", "@HAS_RECONSTRUCT@": "1'b0",
                       "@ENGINES_BUSY@": busy_text, "@BODY@": body,
                       "@ALL_FINISHED@": all_finished, "@LOADER@": loader(design.loadable, load_mems),
                       "@MODE_LOAD@": str(boards.mode_value("load_weights")),
                       "@MODE_GENERATE@": str(boards.mode_value("generate")),
                       "@HAS_LOADER@": "1'b1" if load_mems else "1'b0",
                       "@MEMORY_PORTS@": memory_ports(iface, weight_stream)}.items():
        text = text.replace(key, value)
    library = library_files()
    for f in library:
        shutil.copy2(RTL_LIB / f, rtl_dir / f)
    (rtl_dir / f"{top}.sv").write_text(text)
    manifest = {
        "format": "fsvae-rtl", "version": 2, "complete": True, "top": top, "board": board["name"], "part": board["part"],
        "clock_mhz": board["clock_mhz"], "yosys_family": board["yosys_family"],
        "sources": [f"rtl/{f}" for f in library] + [f"rtl/{top}.sv"],
        "mem_dir": mem,
        "identity": identity, "hwmodel_identity": hw.identity, "design_sha256": design_sha256(hw, board),
        "modes": ["generate", "load_weights"],
        "weights_at_power_up": not load_mems,
        "weight_load": {"blob": "mem/weights.bin", "memories": load_mems,
                        "words": sum(m["words"] for m in load_mems)} if load_mems else None,
        "weight_stream": weight_stream,
        "status_units": units,
        "T": hw.T, "C": hw.C, "k": hw.k, "image_shape": list(hw.image_shape),
        "words_per_image": int(np.prod(hw.image_shape)) // iface["pixels_per_word"],
        "engines": writer.engines, "lif_updates": writer.updates, "weight_pairs": writer.weight_pairs,
        "lanes": {name: lp.lanes for name, lp in design.layers.items()},
        "replicas": {name: design.plan(name).copies for name in hw.names("decoder")[1:]},
        "balance": board.get("balanced"),
        "spike_streams": {name: design.plan(name).spike_streams for name in hw.names("decoder")[1:-1]},
        "output_sum": dataclasses.asdict(design.output_sum), "fifo_depth": FIFO_DEPTH,
        "memory": fit,
        "interface": iface,          # the port contract this design was generated with
    }
    # the plain-Verilog wrapper with Vivado interface attributes (block designs cannot take a
    # SystemVerilog top); not in `sources`, which the simulators and Yosys build from fsvae_top
    from fsvae_fpga.codegen.vivado import write_wrapper
    manifest["wrapper"] = str(write_wrapper(out_dir, manifest, board).relative_to(out_dir))
    (out_dir / MARKER).write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest
