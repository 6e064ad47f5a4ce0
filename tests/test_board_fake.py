"""The driver's logic on a pure-Python stand-in for the board (no simulator, milliseconds):
what the simulated PYNQ-Z2 design cannot show: a weight blob in several DMA transfers, power
rails and images/s per watt, refused starts; plus run splitting and DMA status decoding."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

from fsvae_fpga.codegen import boards
from fsvae_fpga.board import driver as D

SHAPE = (1, 8, 8)
IMG = int(np.prod(SHAPE))
WORDS = 1000
IDENTITY = 0x1234ABCD
REG = boards.register_offsets()
MODE_NAMES = {v: k for k, v in {r["name"]: r for r in boards.interface()["control"]["registers"]}["mode"]["values"].items()}
UNITS = ["prior_0", "decoder_fc", "latent_pick", "membrane_output"]


def fake_image(seed: int, index: int) -> np.ndarray:
    return ((np.arange(IMG) * 7 + seed * 31 + index * 13) % 256).astype(np.uint8)


class Clock:
    description = "fake board time"

    def __init__(self):
        self.t = 0.0

    def now(self):
        return self.t

    def pause(self, max_s):
        self.t += max_s


class Buffer(np.ndarray):
    def flush(self):
        pass

    def invalidate(self):
        pass

    def freebuffer(self):
        self.freed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.freebuffer()


class Board:
    """Registers with the interface.yaml semantics that the driver relies on; DMA transfers
    finish at once (or never, for a stalled channel)."""

    def __init__(self, has_loader=True, stall_s2mm=False, refuse_once=False):
        self.regs = {name: 0 for name in REG}
        self.regs["identity"] = IDENTITY
        self.weights_loaded = not has_loader
        self.done = False
        self.run = None
        self.words_in = 0
        self.sr = {"MM2S": 0, "S2MM": 0}
        self.length = {"MM2S": 0, "S2MM": 0}
        self.transfers = {"MM2S": [], "S2MM": []}
        self.stall_s2mm = stall_s2mm
        self.busy = 0
        self.pending = None
        self.refuse_once = refuse_once

    def status(self):
        r = self.run or {}
        return (int(self.weights_loaded) | int(r.get("error_mode", False)) << 1 | int(r.get("error_no_weights", False)) << 2
                | 1 << 8 | 1 << 10)

    # core
    def read(self, offset):
        name = {v: k for k, v in REG.items()}[offset]
        if name == "CTRL":
            idle = self.run is None or self.run["finished"]
            value = int(idle) << 2 | int(self.done) << 1 | (0 if idle else 1)
            self.done = False
            return value
        if name == "status":
            return self.status()
        if name == "progress":
            return self.run["sent"] if self.run else 0
        if name == "engines_busy":
            return self.busy
        return self.regs[name]

    def write(self, offset, value):
        name = {v: k for k, v in REG.items()}[offset]
        self.regs[name] = value
        if name == "CTRL" and value & 1:
            m = MODE_NAMES.get(self.regs["mode"])
            self.run = {"mode": m, "sent": 0, "n": self.regs["n_images"], "finished": False}
            if self.refuse_once:
                self.refuse_once = False
                self.run.update(error_mode=True, finished=True)
                self.done = True
            elif m == "generate" and not self.weights_loaded:
                self.run.update(error_no_weights=True, finished=True)
                self.done = True
            elif m not in ("generate", "load_weights"):
                self.run.update(error_mode=True, finished=True)
                self.done = True
            elif m == "generate":
                self.busy = 0b1001
                self.service()
            else:
                self.words_in = 0

    # DMA
    def channel(self, ch):
        board = self

        class Channel:
            def start(self):
                pass

            def transfer(self, buf, start=0, nbytes=0):
                if ch == "S2MM" and board.pending is not None:
                    raise RuntimeError("DMA channel not idle")
                nbytes = nbytes or buf.nbytes - start
                board.transfers[ch].append(nbytes)
                assert nbytes <= board.max_transfer_bytes
                board.sr[ch] = 0
                if ch == "S2MM":
                    board.pending = (buf, start, nbytes)       # filled once the core sends
                    board.service()
                    return
                board.words_in += nbytes // 4
                if board.words_in == WORDS:
                    board.weights_loaded = True
                    board.run["finished"], board.done = True, True
                board.length[ch] = nbytes
                board.sr[ch] = D.DMASR_IDLE | 1 << 12

        return Channel()

    def service(self):
        r = self.run
        if self.pending is None or self.stall_s2mm or not r or r["mode"] != "generate" or r["finished"]:
            return
        buf, start, nbytes = self.pending
        self.pending = None
        buf.view(np.uint8).reshape(-1)[start:start + nbytes] = fake_image(self.regs["seed"],
                                                                          self.regs["image_base"] + r["sent"])
        r["sent"] += 1
        if r["sent"] == r["n"]:
            r["finished"], self.done, self.busy = True, True, 0
        self.length["S2MM"] = nbytes
        self.sr["S2MM"] = D.DMASR_IDLE | 1 << 12


class Backend:
    min_timeout_s = 0.0
    reset_note = "fake reset"
    power_note = "power: not available on this board"

    def __init__(self, board, max_transfer_bytes=4096, rails=None):
        self.board = board
        board.max_transfer_bytes = max_transfer_bytes
        self.max_transfer_bytes = max_transfer_bytes
        self.core = board
        self.clock = Clock()
        self.sendchannel, self.recvchannel = board.channel("MM2S"), board.channel("S2MM")
        self.rails = rails or {}
        self.allocated = []

        class Dma:
            def read(_, offset):
                ch = "MM2S" if offset < 0x30 else "S2MM"
                return board.sr[ch] if offset % 0x30 == 4 else board.length[ch]

            def write(_, offset, value):
                if offset == D.MM2S_DMACR and value & D.DMACR_RESET:
                    board.pending = None

        self.dma_mmio = Dma()

    def allocate(self, shape, dtype):
        buf = np.zeros(shape, dtype).view(Buffer)
        self.allocated.append(buf)
        return buf

    def power_sensors(self):
        return self.rails

    def reprogram(self):
        self.board.__init__(has_loader=True)

    def describe(self):
        return "fake"

    def close(self):
        pass


@pytest.fixture
def overlay(tmp_path):
    manifest = {"board": "pynq-z2", "clock_mhz": 100, "image_shape": list(SHAPE), "identity": IDENTITY,
                "hwmodel_identity": "ab" * 32, "design_sha256": "cd" * 32, "modes": ["generate", "load_weights"], "status_units": UNITS,
                "weight_load": {"blob": "mem/weights.bin", "words": WORDS}, "cycles_per_image": 1000}
    (tmp_path / "fsvae.json").write_text(json.dumps(manifest))
    (tmp_path / "interface.json").write_text(json.dumps(boards.interface()))
    np.arange(WORDS, dtype="<u4").tofile(tmp_path / "weights.bin")
    return tmp_path


def test_weights_in_several_transfers_then_generate_in_split_runs(overlay):
    be = Backend(Board(), max_transfer_bytes=1024)
    drv = D.FsvaeDriver(be, overlay)
    with pytest.raises(D.FsvaeError, match="weights are not loaded"):
        drv.generate(1, 0)
    assert drv.load_weights() == {"words": WORDS, "transfers": 4}
    assert be.board.transfers["MM2S"] == [1024, 1024, 1024, 4000 - 3072]
    assert all(b.freed for b in be.allocated)
    got = drv.generate(40, 9, image_base=3)               # 1024-byte runs: 16 images each
    assert drv.images_per_run == 16 and drv.last_times.runs == 3
    want = np.stack([fake_image(9, 3 + i) for i in range(40)]).reshape(40, *SHAPE)
    assert np.array_equal(got, want)
    assert set(be.board.transfers["S2MM"]) == {IMG}       # one S2MM transfer per image (TLAST)


def test_power_rails_give_images_per_second_per_watt(overlay):
    class Sensor:
        value = 4.5
    board = Board(has_loader=False)
    drv = D.FsvaeDriver(Backend(board, rails={"12V": Sensor()}), overlay)
    rep = drv.throughput_test(8, min_seconds=0.0)
    assert rep["power_w"] == pytest.approx(4.5) and rep["images_per_s_per_w"] == pytest.approx(rep["images_per_s"] / 4.5)
    assert "images/s per watt" in str(rep)
    rep = D.FsvaeDriver(Backend(Board(has_loader=False)), overlay).throughput_test(2)
    assert rep["power_w"] is None and "power: not available on this board" in str(rep)


def test_timeout_names_the_channel_and_busy_units(overlay):
    be = Backend(Board(has_loader=False, stall_s2mm=True))
    drv = D.FsvaeDriver(be, overlay, timeout_s=1e-3)
    with pytest.raises(D.FsvaeTimeout) as err:
        drv.generate(2, 1)
    assert err.value.waiting_on == ["S2MM", "prior_0", "membrane_output"]
    assert "S2MM_DMASR=0x00000000 (running, not idle, no errors)" in str(err.value)


def test_identity_mismatch_names_both_values(overlay):
    board = Board()
    board.regs["identity"] = 0xDEADBEEF
    with pytest.raises(D.IdentityMismatch, match="0xdeadbeef.*0x1234abcd.*hardware model abababababab.*different builds"):
        D.FsvaeDriver(Backend(board), overlay)


def test_an_overlay_mixing_two_hardware_models_is_refused(overlay):
    """fsvae.json names the hardware model it was generated from: hwmodel/ (the golden model
    the notebook compares with) and selftest/ must be that model."""
    (overlay / "hwmodel").mkdir()
    (overlay / "hwmodel" / "hwmodel.json").write_text(json.dumps({"identity": "ef" * 32}))
    with pytest.raises(D.IdentityMismatch, match="hwmodel is hardware model efefefefefef, but fsvae.json was "
                                                 "generated from abababababab"):
        D.FsvaeDriver(Backend(Board()), overlay)
    (overlay / "hwmodel" / "hwmodel.json").write_text(json.dumps({"identity": "ab" * 32}))
    drv = D.FsvaeDriver(Backend(Board()), overlay)
    (overlay / "selftest").mkdir()
    (overlay / "selftest" / "vectors.json").write_text(json.dumps({"cases": [], "hwmodel_identity": "ef" * 32}))
    with pytest.raises(D.FsvaeError, match="golden vectors of hardware model efefefefefef"):
        drv.self_test()


def test_dmasr_decoding():
    assert D.decode_dmasr(0x00000001) == "halted, not idle, no errors"
    assert D.decode_dmasr(0x00001002) == "running, idle, no errors, IOC_Irq"
    assert D.decode_dmasr(0x00004051) == "halted, not idle, errors: DMAIntErr DMADecErr, Err_Irq"


def test_default_timeout_follows_the_manifest_estimate(overlay):
    drv = D.FsvaeDriver(Backend(Board()), overlay)
    assert drv.default_timeout_s(1) == pytest.approx(D.TIMEOUT_MARGIN * 1000 / 100e6)


def test_a_refused_start_leaves_the_dma_ready_for_the_next_run(overlay):
    be = Backend(Board(has_loader=False, refuse_once=True))
    drv = D.FsvaeDriver(be, overlay)
    with pytest.raises(D.FsvaeError, match="refused the start: error_mode"):
        drv.generate(1, 2)
    assert np.array_equal(drv.generate(1, 2)[0].reshape(-1), fake_image(2, 0))


# --- weight rows streamed from DDR (fsvae.json weight_stream) ------------------------------------
WB = REG["weights_base"]
DDR_BYTES = 3 * 4096 + 200


class StreamBoard(Board):
    """A board whose core reads weight rows from DDR: weights_base is a 64-bit pointer (low
    word at 0x70, high at 0x74); at each start it records the pointer and what DDR holds there
    (the buffer the driver allocated, looked up by physical address)."""

    def __init__(self, backend_buffers, **kw):
        super().__init__(has_loader=False, **kw)
        self.buffers = backend_buffers
        self.wb = [0, 0]
        self.seen = []

    def read(self, offset):
        if offset in (WB, WB + 4):
            return self.wb[offset == WB + 4]
        return super().read(offset)

    def write(self, offset, value):
        if offset in (WB, WB + 4):
            self.wb[offset == WB + 4] = value
            return
        if offset == REG["CTRL"] and value & 1:
            addr = self.wb[0] | self.wb[1] << 32
            held = next((bytes(b.view(np.uint8)) for b in self.buffers
                         if b.physical_address == addr and not getattr(b, "freed", False)), None)
            self.seen.append((addr, held))
        super().write(offset, value)


class StreamBackend(Backend):
    """Backend whose allocations have physical addresses (from ``base``, 4 KB apart unless
    ``misalign``) and remember whether they were flushed."""

    def __init__(self, base=0x3000_0000, misalign=0, **kw):
        super().__init__(StreamBoard([]), **kw)
        self.board.buffers = self.allocated
        self.next_addr, self.misalign = base, misalign

    def allocate(self, shape, dtype):
        buf = super().allocate(shape, dtype)
        buf.physical_address = self.next_addr + self.misalign
        buf.flushed = False
        self.next_addr += -(-buf.nbytes // 4096) * 4096 + 4096

        def flush(b=buf):
            b.flushed = True
        buf.flush = flush
        return buf


@pytest.fixture
def stream_overlay(overlay):
    manifest = json.loads((overlay / "fsvae.json").read_text())
    manifest.update(weight_load=None, weight_stream={
        "image": "mem/ddr_weights.bin", "bytes": DDR_BYTES, "align": 4096, "port": "m_axi_gmem", "data_bits": 64,
        "addr_bits": 32, "max_burst": 16, "base_register": "weights_base", "layers": [{"layer": "prior.2"}]})
    (overlay / "fsvae.json").write_text(json.dumps(manifest))
    image = np.random.default_rng(5).integers(0, 256, DDR_BYTES, dtype=np.uint8)
    image.tofile(overlay / "ddr_weights.bin")
    return overlay, image.tobytes()


def test_streamed_weights_are_copied_to_an_aligned_ddr_buffer_that_weights_base_points_at(stream_overlay):
    overlay, image = stream_overlay
    be = StreamBackend()
    drv = D.FsvaeDriver(be, overlay)
    ddr = drv.ddr_weights
    assert ddr is be.allocated[0] and ddr.dtype == np.uint8 and ddr.nbytes == DDR_BYTES
    assert ddr.physical_address % 4096 == 0 and ddr.flushed
    assert bytes(ddr) == image                                   # the image, byte for byte
    assert be.board.wb == [ddr.physical_address, 0]              # low word, high word
    got = drv.generate(3, 4)                                      # every run starts with the pointer set
    assert np.array_equal(got[1].reshape(-1), fake_image(4, 1))
    assert be.board.seen and all(s == (ddr.physical_address, image) for s in be.board.seen)
    assert "weights_base=0x30000000" in drv.describe_registers(drv.registers())
    be.board.wb = [0, 0]                                         # a reset clears the register ...
    be.reprogram = lambda: None
    drv.reset()
    assert be.board.wb == [ddr.physical_address, 0]              # ... the driver writes it again
    assert not getattr(ddr, "freed", False)                      # alive as long as the driver
    drv.close()
    assert ddr.freed and drv.ddr_weights is None


def test_a_pointer_above_4_gb_fills_both_words_of_weights_base(stream_overlay):
    overlay, _ = stream_overlay
    manifest = json.loads((overlay / "fsvae.json").read_text())
    manifest["weight_stream"]["addr_bits"] = 40
    (overlay / "fsvae.json").write_text(json.dumps(manifest))
    be = StreamBackend(base=0x8_0000_0000)
    drv = D.FsvaeDriver(be, overlay)
    assert be.board.wb == [0, 8] and drv.ddr_weights.physical_address == 0x8_0000_0000


def test_a_ddr_image_of_another_size_is_refused(stream_overlay):
    overlay, image = stream_overlay
    (overlay / "ddr_weights.bin").write_bytes(image + b"\0")
    be = StreamBackend()
    with pytest.raises(D.FsvaeError, match=rf"ddr_weights.bin: {DDR_BYTES + 1} bytes, but fsvae.json "
                                           rf"weight_stream.bytes says {DDR_BYTES}: .*different builds"):
        D.FsvaeDriver(be, overlay)
    assert be.allocated == []
    (overlay / "ddr_weights.bin").unlink()
    with pytest.raises(D.FsvaeError, match=r"ddr_weights.bin is missing: this design streams weight rows from DDR"):
        D.FsvaeDriver(StreamBackend(), overlay)


def test_an_unaligned_or_unreachable_ddr_buffer_is_refused(stream_overlay):
    overlay, _ = stream_overlay
    be = StreamBackend(misalign=0x40)
    with pytest.raises(D.FsvaeError, match=r"at 0x30000040, not 4096-byte aligned"):
        D.FsvaeDriver(be, overlay)
    assert len(be.allocated) == 1 and be.allocated[0].freed         # given back
    be = StreamBackend(base=0xFFFF_F000)                            # runs past the core's 32-bit addresses
    with pytest.raises(D.FsvaeError, match=r"beyond the core's 32-bit DDR addresses"):
        D.FsvaeDriver(be, overlay)
    assert be.allocated[0].freed


def test_a_design_without_streaming_allocates_no_ddr_buffer(overlay):
    be = StreamBackend()
    drv = D.FsvaeDriver(be, overlay)
    assert drv.weight_stream is None and drv.ddr_weights is None and be.allocated == []
    drv.generate(1, 2)
    assert [b.nbytes for b in be.allocated] == [drv.slot_bytes]       # only the run's output buffer
    assert be.board.wb == [0, 0] and "weights_base" not in drv.registers()
