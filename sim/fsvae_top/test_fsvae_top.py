"""cocotb bench of the generated accelerator top (fsvae-fpga codegen rtl), against the golden model.

The bench only uses the port contract of hw/interface.yaml (s_axi_control registers through
cocotbext-axi's AxiLiteMaster, the out_r stream, ap_ctrl_hs with the interrupt), so it runs
unchanged on the RTL that Vitis HLS exports.  What only the generated RTL has is used when
present: the perf_* counters (report), queues_empty (nothing left in any FIFO) and the
+fsvae_trace plusarg (sim/fsvae_top/diagnose.py names the first differing layer and step).

Configuration comes from the environment (set by the pytest wrapper below or flows.simulate):
  FSVAE_HWMODEL  hardware model folder (the golden model's input)
  FSVAE_N, FSVAE_SEED, FSVAE_BASE   images, sampler seed, first image index
  FSVAE_RESULT   JSON file for the received images, counters and times
  FSVAE_LEAN_AXIL  1: a minimal AXI-Lite master instead of cocotbext-axi's (long runs)
  FSVAE_BACKPRESSURE  1: random backpressure on out_r (cocotbext-axi sink, slow); else a
                 fast sink that wakes Python only while out_r_TVALID is high

Size: the whole-accelerator bench (its fixtures, its fast sink and its several cases)
is one file because every case shares one Verilator build per process.
"""
from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for _p in (ROOT / "sim", ROOT / "sw"):   # the simulator process does not run conftest.py
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import numpy as np  # noqa: E402

WORDS_BYTES = 4


def expected_words(images: np.ndarray) -> np.ndarray:
    """uint8 images (n, C, H, W) -> the out_r words per image (n, words), C-H-W, pixel 0 in bits 7:0."""
    flat = np.ascontiguousarray(images.reshape(images.shape[0], -1))
    return flat.view("<u4").reshape(images.shape[0], -1)


def words_to_images(words: list[list[int]], shape) -> np.ndarray:
    arr = np.asarray(words, dtype="<u4")
    return arr.view(np.uint8).reshape(len(words), *shape)


def first_difference(got: np.ndarray, want: np.ndarray) -> str:
    bad = np.argwhere(got != want)
    i = tuple(int(v) for v in bad[0])
    return (f"{len(bad)} of {got.size} pixels differ; first at image {i[0]}, pixel (c, y, x) = {i[1:]}: "
            f"RTL {int(got[i])}, golden {int(want[i])}")


# --- cocotb side -------------------------------------------------------------------------------
if os.environ.get("COCOTB_TEST_MODULES") or os.environ.get("MODULE"):
    import cocotb
    from cocotb.clock import Clock
    from cocotb.triggers import ClockCycles, First, RisingEdge, Timer
    from cocotbext.axi import AxiLiteBus, AxiLiteMaster, AxiStreamBus, AxiStreamSink, AxiStreamSource
    from lean_axil import LeanAxiLite

    from fsvae_fpga.contract import golden, hwmodel
    from fsvae_fpga.codegen.boards import interface, mode_value, register_offsets

    REG = register_offsets()
    AP_START, AP_DONE, AP_IDLE = 1 << 0, 1 << 1, 1 << 2
    STATUS = next(r for r in interface()["control"]["registers"] if r["name"] == "status")["bits"]
    PERIOD_NS = 4
    DDR_BASE = 0x1000_0000          # the weight image's address in the simulated DDR (4 KB aligned)

    class FastSink:
        """out_r with TREADY held high; Python runs only while TVALID is high."""

        def __init__(self, dut, on_frame=None):
            self.dut, self.frames, self.current, self.on_frame = dut, [], [], on_frame
            dut.out_r_TREADY.value = 1
            self._task = cocotb.start_soon(self._run())

        async def _run(self):
            dut = self.dut
            while True:
                await RisingEdge(dut.ap_clk)
                if int(dut.out_r_TVALID.value) and int(dut.ap_rst_n.value):
                    self.current.append(int(dut.out_r_TDATA.value))
                    if int(dut.out_r_TLAST.value):
                        self.frames.append(self.current)
                        self.current = []
                        if self.on_frame:
                            self.on_frame()
                elif not int(dut.out_r_TVALID.value):
                    await RisingEdge(dut.out_r_TVALID)

        def clear(self):
            self.frames, self.current = [], []

        def empty(self):
            return not self.frames and not self.current

    class PausedSink:
        """cocotbext-axi sink with a random backpressure generator."""

        def __init__(self, dut, seed):
            self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "out_r"), dut.ap_clk, dut.ap_rst_n,
                                      reset_active_level=False)
            rng = random.Random(seed)
            self.sink.set_pause_generator(iter(lambda: rng.random() < 0.4, None))
            self.frames = []

        async def collect(self, n):
            while len(self.frames) < n:
                frame = await self.sink.recv()
                data = bytes(frame.tdata)
                self.frames.append([int.from_bytes(data[i:i + 4], "little") for i in range(0, len(data), 4)])

        def clear(self):
            self.sink.clear()
            self.frames = []

        def empty(self):
            return self.sink.empty()

    class TB:
        def __init__(self, dut):
            self.dut = dut
            self.env = os.environ
            self.hw = hwmodel.load(self.env["FSVAE_HWMODEL"])
            cocotb.start_soon(Clock(dut.ap_clk, PERIOD_NS, unit="ns").start())
            if self.env.get("FSVAE_LEAN_AXIL") == "1":
                self.axil = LeanAxiLite(dut)
            else:
                self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axi_control"), dut.ap_clk, dut.ap_rst_n,
                                          reset_active_level=False)
            dut.in_r_TVALID.value = 0
            dut.in_r_TDATA.value = 0
            dut.in_r_TLAST.value = 0
            for name in ("in_r_TKEEP", "in_r_TSTRB"):
                if hasattr(dut, name):
                    getattr(dut, name).value = 0xF
            self.generated = hasattr(dut, "perf_run_cycles")   # our RTL, not Vitis's
            self.progress = None
            self.ddr = self.attach_ddr()

        def attach_ddr(self):
            """The DDR memory model behind m_axi_gmem, holding mem/ddr_weights.bin at DDR_BASE,
            where the design streams weights (manifest weight_stream); its latency and
            bandwidth from the manifest, random AR and R stalls with FSVAE_DDR_STALLS=1."""
            m = self.manifest()
            ws = m.get("weight_stream") if m else None
            if not ws:
                return None
            from axi_read_memory import AxiReadMemory
            from common import random_pause
            stalls = self.env.get("FSVAE_DDR_STALLS") == "1"
            return AxiReadMemory(self.dut, ws["port"], self.dut.ap_clk, self.dut.ap_rst_n,
                                 memory=Path(ws["image"]).read_bytes(), base=DDR_BASE,
                                 latency=ws["memory_model"]["latency_cycles"],
                                 beats_per_cycle=ws["memory_model"]["beats_per_cycle"],
                                 arready_pause=random_pause(0.2, 11) if stalls else None,
                                 rvalid_pause=random_pause(0.2, 12) if stalls else None,
                                 reset_active_level=False)

        async def reset(self, cycles=8):
            self.dut.ap_rst_n.value = 0
            await ClockCycles(self.dut.ap_clk, cycles)
            self.dut.ap_rst_n.value = 1
            await ClockCycles(self.dut.ap_clk, 2)

        async def write(self, name, value):
            await self.axil.write_dword(REG[name], value & 0xFFFFFFFF)

        async def read(self, name):
            return await self.axil.read_dword(REG[name])

        async def read_addr(self, addr):
            return await self.axil.read_dword(addr)

        def counters(self):
            if not self.generated:
                return {}
            return {h._name: int(h.value) for h in self.dut if h._name.startswith("perf_")}

        async def start(self, n, seed, base, mode="generate"):
            if self.ddr is not None:                      # where the weight image lies
                await self.axil.write_dword(REG["weights_base"], DDR_BASE & 0xFFFFFFFF)
                await self.axil.write_dword(REG["weights_base"] + 4, DDR_BASE >> 32)
            await self.write("seed", seed)
            await self.write("n_images", n)
            await self.write("mode", mode_value(mode))
            await self.write("image_base", base)
            await self.write("GIE", 1)
            await self.write("IER", 1)                    # ap_done interrupt
            assert (await self.read("CTRL")) & AP_IDLE, "core not idle before ap_start"
            await self.write("CTRL", AP_START)

        async def wait_done(self, limit_cycles):
            timeout = Timer(limit_cycles * PERIOD_NS, unit="ns")
            if not int(self.dut.interrupt.value):
                got = await First(RisingEdge(self.dut.interrupt), timeout)
                assert got is not timeout, f"no ap_done interrupt within {limit_cycles} cycles"
            ctrl = await self.read("CTRL")              # clears ap_done
            assert ctrl & AP_DONE, f"interrupt without ap_done (CTRL = {ctrl:#x})"
            # hw/interface.yaml: ap_idle is already 1 in the read that first returns ap_done
            assert ctrl & AP_IDLE, f"ap_done without ap_idle in the same read (CTRL = {ctrl:#x})"
            await self.write("ISR", 1)                    # toggle the done status off

        def manifest(self):
            path = Path("manifest.json")                  # the simulator runs in the RTL folder
            return json.loads(path.read_text()) if path.is_file() else None

        def weight_blob(self):
            """manifest.json weight_load (run-time weight memories): the words to stream, or None."""
            if self.manifest() is None:
                return None
            load = self.manifest().get("weight_load")
            if not load:
                return None
            return np.frombuffer(Path(load["blob"]).read_bytes(), dtype="<u4")

        async def send_words(self, words):
            """in_r without Python per idle cycle: one word per cycle while TREADY is high."""
            # (make sim loads the paper model's 466,944 words this way: the loop is the load's time,
            # so the handles and the trigger are looked up once and TLAST is written only at the end)
            dut, n, i = self.dut, len(words), 0
            words = [int(w) for w in words]
            tdata, tready, tlast, edge = dut.in_r_TDATA, dut.in_r_TREADY, dut.in_r_TLAST, RisingEdge(dut.ap_clk)
            tdata.value = words[0]
            tlast.value = int(n == 1)
            dut.in_r_TVALID.value = 1
            while True:
                await edge
                if tready.value:
                    i += 1
                    if i == n:
                        break
                    tdata.value = words[i]
                    if i == n - 1:
                        tlast.value = 1
            dut.in_r_TVALID.value = 0
            tlast.value = 0

        async def load_weights(self, idle=False):
            """mode load_weights with the blob on in_r (random idle cycles when idle=True)."""
            words = self.weight_blob()
            if words is None:
                return 0
            await self.write("mode", mode_value("load_weights"))
            await self.write("GIE", 1)
            await self.write("IER", 1)
            await self.write("CTRL", AP_START)
            if idle:
                source = AxiStreamSource(AxiStreamBus.from_prefix(self.dut, "in_r"), self.dut.ap_clk,
                                         self.dut.ap_rst_n, reset_active_level=False)
                rng = random.Random(len(words))
                source.set_pause_generator(iter(lambda: rng.random() < 0.3, None))
                await source.send(words.tobytes())
            else:
                cocotb.start_soon(self.send_words(words))
            await self.wait_done(4 * len(words) + 10_000)
            return len(words)

        def golden(self, n, seed, base):
            return golden.generate(self.hw, n, seed, first_image=base)

        def check_idle(self):
            """Nothing left in any queue, every engine finished, no output pending."""
            dut = self.dut
            assert not int(dut.out_r_TVALID.value), "out_r still has a word after ap_done"
            if self.generated:
                assert int(dut.queues_empty.value), "a FIFO between the engines is not empty after ap_done"
                assert int(dut.all_finished.value), "an engine did not finish its T steps"

    def _limit(tb, n):
        """A generous cycle budget: 20x the dense operation count per image / lanes is never needed."""
        return 2_000_000 + n * 40 * int(sum(np.prod(layer["out_shape"]) for layer in tb.hw.desc["layers"])) * tb.hw.T

    async def status_bit(tb, name):
        return (await tb.read("status") >> STATUS[name]) & 1

    @cocotb.test()
    async def run_contract_registers(dut):
        """Before any weight load (this test runs first): the read-only registers, a refused mode,
        a generate refused before the weights are loaded, and a load split over two transfers
        (TLAST in the middle of the blob) counted by words."""
        tb = TB(dut)
        m = tb.manifest()
        if m is not None and "identity" not in m:
            m = None                                      # Vitis RTL (make sim RTL=vitis): no generator manifest
        sink = FastSink(dut)
        await tb.reset()
        if m is not None:
            assert await tb.read("identity") == m["identity"], "identity register != manifest.json identity"
            for name in ("identity", "status", "progress", "engines_busy"):
                assert await tb.read_addr(REG[name] + 4) == 1, f"{name} ap_vld"
            for mode in m["modes"]:
                assert await status_bit(tb, f"has_{mode}") == 1, mode
            assert await status_bit(tb, "has_reconstruct") == int("reconstruct" in m["modes"])
        assert await tb.read("engines_busy") == 0, "units busy after reset"
        blob = tb.weight_blob()
        assert await status_bit(tb, "weights_loaded") == int(blob is None)
        # a mode this design lacks (reconstruct here, and a value no design has): refused at once
        for mode in ([1] if m is not None and "reconstruct" not in m["modes"] else []) + [7]:
            await tb.write("seed", 3)
            await tb.write("n_images", 2)
            await tb.write("mode", mode)
            await tb.write("CTRL", AP_START)
            await ClockCycles(dut.ap_clk, 20)
            ctrl = await tb.read("CTRL")
            assert ctrl & AP_DONE and ctrl & AP_IDLE, f"mode {mode}: CTRL = {ctrl:#x}, want done and idle"
            assert await status_bit(tb, "error_mode") == 1, f"mode {mode} not flagged in status"
        assert sink.empty(), "a refused mode sent words on out_r"
        if blob is not None:
            # generate before the load: refused, flagged
            await tb.start(2, 3, 0)
            await tb.wait_done(1000)
            assert await status_bit(tb, "error_no_weights") == 1
            assert await status_bit(tb, "error_mode") == 0, "error bits must clear at the next start"
            assert sink.empty(), "generate without weights sent words"
            # the blob in two transfers, each with TLAST: the core must take the whole blob
            await tb.write("mode", mode_value("load_weights"))
            await tb.write("CTRL", AP_START)
            half = len(blob) // 2
            await tb.send_words(blob[:half])
            await ClockCycles(dut.ap_clk, 50)
            assert not (await tb.read("CTRL")) & AP_DONE, "load ended at the first TLAST"
            assert await tb.read("progress") == half, "progress does not count the words taken"
            assert await status_bit(tb, "weights_loaded") == 0
            await tb.send_words(blob[half:])
            await tb.wait_done(1000)
            assert await tb.read("progress") == len(blob)
            assert await status_bit(tb, "weights_loaded") == 1
        # now a generate runs and clears the error bits; progress counts images
        want = tb.golden(1, 3, 0)
        await tb.start(1, 3, 0)
        await tb.wait_done(_limit(tb, 1))
        assert await status_bit(tb, "error_no_weights") == 0 and await status_bit(tb, "error_mode") == 0
        assert await tb.read("progress") == 1
        await ClockCycles(dut.ap_clk, 4)
        got = words_to_images(sink.frames, want.shape[1:])
        assert np.array_equal(got, want), first_difference(got, want)

    @cocotb.test()
    async def run_images(dut):
        """FSVAE_N images back to back in one ap_start, every byte against the golden model."""
        tb = TB(dut)
        n, seed, base = int(tb.env["FSVAE_N"]), int(tb.env["FSVAE_SEED"]), int(tb.env["FSVAE_BASE"])
        backpressure = tb.env.get("FSVAE_BACKPRESSURE") == "1"
        want = tb.golden(n, seed, base)
        bar = None
        if tb.env.get("FSVAE_PROGRESS") == "1":
            from tqdm import tqdm
            bar = tqdm(total=n, desc="RTL images", unit="img", file=sys.stderr)
        sink = PausedSink(dut, seed) if backpressure else FastSink(dut, on_frame=bar.update if bar else None)
        await tb.reset()
        load_s = time.perf_counter()
        loaded = await tb.load_weights(idle=backpressure)
        load_s = time.perf_counter() - load_s
        before = tb.counters()
        wall = time.perf_counter()
        await tb.start(n, seed, base)
        if backpressure:
            collector = cocotb.start_soon(sink.collect(n))
        await tb.wait_done(_limit(tb, n))
        if backpressure:
            await First(collector, Timer(1000 * PERIOD_NS, unit="ns"))
        wall = time.perf_counter() - wall
        after = tb.counters()
        if bar:
            bar.close()
        await ClockCycles(dut.ap_clk, 4)
        tb.check_idle()
        assert len(sink.frames) == n, f"{len(sink.frames)} images on out_r, expected {n}"
        words = expected_words(want)
        for i, frame in enumerate(sink.frames):
            assert len(frame) == words.shape[1], f"image {i}: {len(frame)} words with TLAST, expected {words.shape[1]}"
        got = words_to_images(sink.frames, want.shape[1:])
        if tb.ddr is not None:
            tb.ddr.check()
        result = {"n": n, "seed": seed, "base": base, "wall_s": wall, "weight_words_loaded": loaded,
                  "load_s": load_s,
                  "ddr": None if tb.ddr is None else {"bursts": tb.ddr.bursts, "beats": tb.ddr.beats,
                                                      "bytes": tb.ddr.bytes},
                  "counters": {k: (after[k] - before.get(k, 0)) % (1 << 32) for k in after},
                  "equal": bool(np.array_equal(got, want))}
        if tb.env.get("FSVAE_RESULT"):
            Path(tb.env["FSVAE_RESULT"]).write_text(json.dumps(result))
            np.save(Path(tb.env["FSVAE_RESULT"]).with_suffix(".npy"), got)
        assert result["equal"], first_difference(got, want)

    @cocotb.test()
    async def run_reset_mid_image(dut):
        """ap_rst_n in the middle of an image, then a fresh run gives the golden images again."""
        tb = TB(dut)
        if tb.env.get("FSVAE_SKIP_RESET_TEST") == "1":
            return
        seed = int(tb.env["FSVAE_SEED"]) + 1
        sink = FastSink(dut)
        await tb.reset()
        await tb.load_weights()
        await tb.start(3, seed, 5)
        # stop once the first image has started coming out (decoder deep into its steps)
        await First(RisingEdge(dut.out_r_TVALID), Timer(_limit(tb, 1) * PERIOD_NS, unit="ns"))
        await ClockCycles(dut.ap_clk, 37)
        await tb.reset(cycles=5)                          # the weight memories keep their contents
        sink.clear()
        assert (await tb.read("CTRL")) & AP_IDLE
        want = tb.golden(2, seed, 7)
        await tb.start(2, seed, 7)
        await tb.wait_done(_limit(tb, 2))
        await ClockCycles(dut.ap_clk, 4)
        tb.check_idle()
        got = words_to_images(sink.frames, want.shape[1:])
        assert got.shape == want.shape, f"{len(sink.frames)} images after the reset, expected 2"
        assert np.array_equal(got, want), "after reset: " + first_difference(got, want)

    @cocotb.test()
    async def run_ddr_error(dut):
        """Designs that stream weights: a weight-row read answered with SLVERR sets
        status.error_ddr for that run; the next start clears it and gives the golden images."""
        tb = TB(dut)
        if tb.ddr is None:
            return
        sink = FastSink(dut)
        await tb.reset()
        await tb.load_weights()
        image = tb.ddr.memory
        tb.ddr.slverr = [(DDR_BASE, DDR_BASE + len(image))]
        await tb.start(1, 2, 0)
        await tb.wait_done(_limit(tb, 1))
        assert await status_bit(tb, "error_ddr") == 1, "an error response did not reach status.error_ddr"
        tb.ddr.slverr = []
        sink.clear()
        want = tb.golden(1, 2, 0)
        await tb.start(1, 2, 0)
        await tb.wait_done(_limit(tb, 1))
        assert await status_bit(tb, "error_ddr") == 0, "error_ddr not cleared by the next start"
        await ClockCycles(dut.ap_clk, 4)
        got = words_to_images(sink.frames, want.shape[1:])
        assert np.array_equal(got, want), first_difference(got, want)

    @cocotb.test()
    async def run_zero_images(dut):
        """n_images = 0: ap_done without any output word."""
        tb = TB(dut)
        sink = FastSink(dut)
        await tb.reset()
        await tb.start(0, 1, 0)
        await tb.wait_done(1000)
        await ClockCycles(dut.ap_clk, 8)
        assert sink.empty(), "words on out_r for n_images = 0"
        tb.check_idle()


# --- pytest side: the small configuration on two boards ----------------------------------------
import pytest  # noqa: E402
from fsvae_fpga.codegen.boards import board as board_description  # noqa: E402


# kv260: the small model's larger weight memories loaded at run time (load_weights on in_r), as
# the paper model's are; the design folder is the one tests/test_board_weights.py uses, built
# once for both (board_sim/launch.ensure_design).  pynq-z2: every weight from $readmemh, in a
# private folder (the mismatch test edits its memory files in place).
KV260_OVERRIDES = {"weight_memory": {"loadable_min_bits": 4096, "style": "ultra"}}
# pynq-z2-stream: prior.2 and decoder_fc read their weight rows from the simulated DDR
# kv260-pairs: lanes held at 8, so the balance plan gives the linear layers event pairs
# (fsvae_lif_linear PAIRS, as prior.2 has on the paper model), their weights loaded at run time
# through port A of the two-port memory whose ports B the pairs' second events read
PAIRS_OVERRIDES = {**KV260_OVERRIDES, "balance": {**board_description("kv260")["balance"], "max_lanes": 8}}
STREAM_OVERRIDES = {"weight_stream": {"layers": ["prior.2", "decoder_fc"]}}


@pytest.fixture(scope="module")
def small_rtl(request, small_hwmodel, tmp_path_factory):
    """(hwmodel dir, generated RTL dir, build dir) for the board in request.param, built once."""
    import rtl_sim
    from fsvae_fpga.contract import hwmodel
    from fsvae_fpga.codegen.rtl import write_rtl
    import runner
    hw = hwmodel.load(small_hwmodel)
    if request.param == "kv260":
        import launch
        work = ROOT / "build" / "board-sim" / "test-kv260-weights"
        out, build = work / "rtl", work / "sim_build"
        launch.ensure_design(hw, "kv260", out, build, overrides=KV260_OVERRIDES)
        manifest = rtl_sim.manifest(out)
    else:
        out, build = tmp_path_factory.mktemp(f"rtl-{request.param}"), runner.BUILD / f"fsvae_top_small_{request.param}"
        stream = request.param.endswith("-stream")
        overrides = STREAM_OVERRIDES if stream else PAIRS_OVERRIDES if request.param == "kv260-pairs" else None
        manifest = write_rtl(hw, request.param.removesuffix("-stream").removesuffix("-dense").removesuffix("-pairs"),
                             out, overrides=overrides)
        assert bool(manifest["weight_stream"]) == stream
    if request.param == "kv260-dense":  # KV260 as shipped: decoder.1-.3 on the dense engine, in column tiles
        dense = [e for e in manifest["engines"] if e["module"] == "fsvae_convt_dense"]
        assert [e["layer"] for e in dense] == ["decoder.1", "decoder.2", "decoder.3"]
        assert {e["tiles"] for e in dense} & {1} and max(e["tiles"] for e in dense) > 1   # whole rows and tiles
    assert bool(manifest["weight_load"]) == (request.param in ("kv260", "kv260-pairs"))
    if request.param == "kv260-pairs":
        pairs = [e["layer"] for e in manifest["engines"] if e.get("event_pairs")]
        assert pairs == ["prior.0", "prior.1", "prior.2", "decoder_fc"], pairs
    if request.param == "kv260":    # copies in pairs on one two-port memory (copies 2j and 2j + 1)
        pairs = [p["copies"] for p in manifest["weight_pairs"]]
        assert pairs and all(b == a[:-1] + str(int(a[-1]) + 1) and int(a[-1]) % 2 == 0 for a, b in pairs), pairs
    srcs = [out / s for s in manifest["sources"]]
    assert runner.lint(srcs, manifest["top"]) == ""
    assert runner.lint(srcs + ["+define+SYNTHESIS"], manifest["top"]) == ""
    if request.param != "kv260":
        rtl_sim.build(out, build_dir=build)
    return small_hwmodel, out, build


@pytest.mark.parametrize("small_rtl", ["pynq-z2", "kv260", "kv260-dense", "kv260-pairs"], indirect=True)
def test_fsvae_top_generates_golden_images(small_rtl):
    """Back to back images under random out_r backpressure (cocotbext-axi master and sink), a
    reset in the middle of an image, n_images = 0; every byte against golden.generate."""
    import rtl_sim
    hw_dir, rtl_dir, build_dir = small_rtl
    total, failed, xml = rtl_sim.simulate(rtl_dir, hw_dir, 3, 2 ** 32 - 3, 11, backpressure=True,
                                          build_dir=build_dir)
    assert total == 5 and failed == 0, f"{failed} of {total} top-level tests failed, see {xml}"


@pytest.mark.parametrize("small_rtl", ["pynq-z2"], indirect=True)
def test_fsvae_top_mismatch_is_caught_and_located(small_rtl, tmp_path, capfd):
    """A single changed weight in decoder.1's memory image: the bench fails, and the traced
    re-run names decoder.1 (the layer whose spikes first differ); with the weight restored the
    trace equals the golden model's in every layer.  Then a memory file removed:
    the simulation stops with an error naming it (not ROMs of zeros that a smoke test could
    pass with); memory files are found by absolute path from any working directory."""
    import diagnose
    import rtl_sim
    from fsvae_fpga.contract import golden, hwmodel
    hw_dir, rtl_dir, build_dir = small_rtl
    # the memory files are read when the simulation starts: change them in place for these
    # runs (the Verilator build is reused) and put them back afterwards
    weights, thresh = rtl_dir / "mem" / "decoder.1.weight.hex", rtl_dir / "mem" / "output.thresh.hex"
    original = weights.read_text()
    try:
        lines = original.split()
        lines[0] = format(int(lines[0], 16) ^ 0x7F, f"0{len(lines[0])}x")     # lane 0 of the first word
        weights.write_text("\n".join(lines) + "\n")
        total, failed, _ = rtl_sim.simulate(rtl_dir, hw_dir, 2, 5, 0, build_dir=build_dir, testcase="run_images",
                                            lean_axil=True, result=tmp_path / "r.json", plusargs=["+fsvae_trace"])
    finally:
        weights.write_text(original)
    assert failed == 1, "a changed weight went unnoticed"
    result = json.loads((tmp_path / "r.json").read_text())
    assert not result["equal"]
    hw = hwmodel.load(hw_dir)
    got, want = np.load(tmp_path / "r.npy"), golden.generate(hw, 2, 5)
    first_bad = int(np.flatnonzero((got != want).reshape(2, -1).any(axis=1))[0])
    message = diagnose.first_difference(hw, rtl_dir / "fsvae_trace.txt", 5, first_bad)
    assert "layer decoder.1 at time step" in message, message
    # the weights restored: every traced layer equals the golden model's, the last spiking
    # layer's spikes included (traced from its mask stream into the output stage)
    total, failed, _ = rtl_sim.simulate(rtl_dir, hw_dir, 1, 5, 0, build_dir=build_dir, testcase="run_images",
                                        lean_axil=True, result=tmp_path / "ok.json", plusargs=["+fsvae_trace"])
    assert failed == 0
    assert any(layer == hw.names("decoder")[-1] for _, layer, _ in diagnose.read_trace(rtl_dir / "fsvae_trace.txt"))
    message = diagnose.first_difference(hw, rtl_dir / "fsvae_trace.txt", 5, 0)
    assert "every traced spike train equals the golden model's" in message, message

    text = (rtl_dir / "rtl" / "fsvae_top.sv").read_text()
    assert f'"{(rtl_dir / "mem").resolve()}/decoder.1.weight.hex"' in text, "memory paths are not absolute"
    hidden = thresh.with_name("output.thresh.hex.hidden")
    thresh.rename(hidden)
    capfd.readouterr()
    try:
        total, failed, _ = rtl_sim.simulate(rtl_dir, hw_dir, 1, 5, 0, build_dir=build_dir, testcase="run_zero_images",
                                            lean_axil=True)
        assert failed == 1, "the simulation ran on with a missing memory file"
    except RuntimeError:
        pass                                # the simulator stopped before writing results
    finally:
        hidden.rename(thresh)
    out = capfd.readouterr()
    assert "cannot open memory file" in out.out + out.err and "output.thresh.hex" in out.out + out.err


@pytest.mark.parametrize("small_rtl", ["pynq-z2-stream"], indirect=True)
def test_fsvae_top_streams_weight_rows_from_ddr(small_rtl, tmp_path):
    """prior.2's and decoder_fc's weight rows read from the DDR memory model (60 cycles latency,
    0.75 beats a cycle, random AR and R stalls): every byte against golden.generate, and the
    rows read are exactly the rows of the layers' input events (the event-driven minimum)."""
    import rtl_sim
    from fsvae_fpga.toolchain.perf_report import ddr_traffic
    hw_dir, rtl_dir, build_dir = small_rtl
    n = 3
    total, failed, xml = rtl_sim.simulate(rtl_dir, hw_dir, n, 9, 4, build_dir=build_dir,
                                          testcase=["run_images", "run_ddr_error"],
                                          lean_axil=True, result=tmp_path / "r.json", ddr_stalls=True)
    assert total == 2 and failed == 0, f"the streaming design failed, see {xml}"
    result = json.loads((tmp_path / "r.json").read_text())
    manifest = rtl_sim.manifest(rtl_dir)
    c = result["counters"]
    ddr = ddr_traffic(manifest, result, c["perf_run_cycles"] / n)
    assert [x["layer"] for x in ddr["layers"]] == ["prior.2", "decoder_fc"]
    for x in ddr["layers"]:
        assert x["minimum_bytes_per_image"] > 0
        assert x["bytes_per_image"] == x["minimum_bytes_per_image"], x     # whole beats, nothing more
        assert x["stall_cycles_per_image"] > 0                             # the latency shows
    beats = sum(c[f"perf_{m['instance']}_ddr_beats"] for m in manifest["weight_stream"]["layers"])
    assert result["ddr"]["bytes"] == beats * manifest["weight_stream"]["data_bits"] // 8   # the model agrees


@pytest.mark.paper
def test_paper_model_on_pynq_z2_streams_every_linear_layer_bit_exact(paper_hwmodel, tmp_path):
    """The paper model with PYNQ-Z2's own settings (hw/boards.yaml: the balance plan, every
    linear layer's rows from DDR, fused membranes): one image under random AR and R stalls of
    the DDR model equals golden.generate byte for byte, and every streamed layer reads exactly
    the rows of its input events (about 75 s: a 30 s build and a 2.9 MB-per-image run)."""
    import rtl_sim
    import runner
    from fsvae_fpga.codegen.rtl import write_rtl
    from fsvae_fpga.contract import hwmodel
    from fsvae_fpga.toolchain.perf_report import ddr_traffic
    manifest = write_rtl(hwmodel.load(paper_hwmodel), "pynq-z2", tmp_path / "rtl")
    assert [x["layer"] for x in manifest["weight_stream"]["layers"]] == ["prior.0", "prior.1", "prior.2", "decoder_fc"]
    build = runner.BUILD / "fsvae_top_paper_pynq-z2"
    rtl_sim.build(tmp_path / "rtl", build_dir=build)
    total, failed, xml = rtl_sim.simulate(tmp_path / "rtl", paper_hwmodel, 1, 3, 0, build_dir=build,
                                          testcase="run_images", lean_axil=True, result=tmp_path / "r.json",
                                          ddr_stalls=True)
    assert total == 1 and failed == 0, f"the paper design on pynq-z2 failed, see {xml}"
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["equal"]
    ddr = ddr_traffic(manifest, result, result["counters"]["perf_run_cycles"])
    for x in ddr["layers"]:
        assert x["bytes_per_image"] == x["minimum_bytes_per_image"] > 0, x


def test_make_sim_rtl_vitis_without_exported_rtl_says_what_is_missing(tmp_path):
    import subprocess
    res = subprocess.run([sys.executable, "-m", "fsvae_fpga.cli", "sim", "--config", "configs/small.yaml",
                          "--rtl", "vitis", "--vitis-rtl", str(tmp_path / "none"), "--out", str(tmp_path / "out"),
                          "--n", "1"], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "no Vitis HLS RTL in" in res.stderr and "vitis_hls" in res.stderr and "2024.1" in res.stderr
