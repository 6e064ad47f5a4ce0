"""The board driver: generate images on the FPGA through an AXI DMA, with timeouts that say
what stopped.  Imports only the standard library and numpy (pynq through the board back end).

One driver class, :class:`FsvaeDriver`, runs over a small back-end seam, so that the same
code drives the real board (pynq_backend.py: pynq.Overlay, its MMIO and AXI DMA) and the
simulated board (simulated.py: the generated RTL in Verilator behind a socket).  A back end
provides:

    core          s_axi_control of fsvae_0: read(offset) -> int, write(offset, value)
    dma_mmio      the AXI DMA's registers (PG021 offsets below): read, write
    sendchannel   MM2S, recvchannel S2MM: pynq-style simple-mode channels with
                  transfer(buffer, start=0, nbytes=0), start(), stop(), running, idle, error
    allocate(shape, dtype)  a DMA buffer: a numpy array with physical_address, flush(),
                  invalidate(), freebuffer() and a context manager that frees it
    clock         now() -> seconds of board time; pause(max_s) lets board time pass while
                  polling (a simulated board returns at the next event)
    max_transfer_bytes   the DMA length register's limit (2^26 - 1 with a 26-bit register)
    min_timeout_s        the shortest default timeout that makes sense on this back end
    power_sensors()      {rail name: object whose .value is watts}, empty when none
    reprogram()          bring the hardware back to power-up state (board: download the
                  bitstream again; simulation: ap_rst_n and a DMA reset); DMA channels started
    describe()    one line for messages;  reset_note, power_note: what reprogram() does and
                  why power is missing, in words;  clock.description: "100 MHz board clock"...
    close()

The overlay folder (written by fsvae_fpga.toolchain.overlay.write_overlay_files) holds what the driver
reads: fsvae.json (the RTL manifest), interface.json (the port contract), weights.bin,
ddr_weights.bin, hwmodel/ and selftest/.

Weights streamed from DDR (fsvae.json weight_stream not null: the core reads the weight rows of
some layers over its AXI4 master m_axi_gmem): the driver allocates one physically contiguous
buffer of weight_stream.bytes bytes (backend.allocate), refuses it unless its physical address
is weight_stream.align (4 KB) aligned and the image ends within the core's addr_bits, copies
ddr_weights.bin (the design's mem/ddr_weights.bin) into it, flushes the cache, and writes its
address into the 64-bit pointer register weights_base (low word, then high word) before every
run.  The buffer lives as long as the driver (close() frees it).

Stream contract (interface.json): out_r carries C*H*W/4 words per image with TLAST on each
image's last word.  The AXI DMA in direct register mode ends an S2MM transfer at TLAST
(S2MM_LENGTH then reads the bytes received), so the driver arms one S2MM transfer per image,
into consecutive 64-byte-aligned slots of one buffer per run, and checks the core's progress
register after each (an S2MM that still reads idle from the last transfer is not an image).  load_weights ignores TLAST, so the weight
blob goes in as many MM2S transfers as the length register needs.

Size: one module on purpose. It is the board-side driver a notebook imports, copied to the
board with the overlay (toolchain/overlay.py BOARD_MODULES) and read there by people who
have nothing else of the project; one file keeps its register, DMA and self-test logic
together and free of host-only imports.
"""
from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# AXI DMA register map (PG021, direct register mode)
MM2S_DMACR, MM2S_DMASR, MM2S_SA, MM2S_SA_MSB, MM2S_LENGTH = 0x00, 0x04, 0x18, 0x1C, 0x28
S2MM_DMACR, S2MM_DMASR, S2MM_DA, S2MM_DA_MSB, S2MM_LENGTH = 0x30, 0x34, 0x48, 0x4C, 0x58
DMACR_RESET = 1 << 2
DMASR_HALTED, DMASR_IDLE = 1 << 0, 1 << 1
DMASR_ERRORS = {4: "DMAIntErr", 5: "DMASlvErr", 6: "DMADecErr", 8: "SGIntErr", 9: "SGSlvErr", 10: "SGDecErr"}
DMASR_IRQS = {12: "IOC_Irq", 13: "Dly_Irq", 14: "Err_Irq"}
DMASR_ERROR_MASK = sum(1 << b for b in DMASR_ERRORS)
MAX_TRANSFER_BYTES = (1 << 26) - 1           # AXI DMA with a 26-bit buffer length register
SLOT_ALIGN = 64                              # bytes: any AXI DMA memory-map width up to 512 bits
POLL_S = 20e-6                               # longest pause between two polls (board time)
TIMEOUT_MARGIN = 20                          # x the expected cycles per image (manifest)
DENSE_BOUND_FACTOR = 40                      # cycles per output value per step: a loose upper bound

FILES = {"manifest": "fsvae.json", "interface": "interface.json", "weights": "weights.bin",
         "ddr_weights": "ddr_weights.bin",
         "hwmodel": "hwmodel", "selftest": "selftest", "bitstream": "fsvae.bit", "hwh": "fsvae.hwh",
         "marker": "fsvae-overlay.json"}


class FsvaeError(RuntimeError):
    """Something the driver refuses or the hardware reported."""


class FsvaeTimeout(FsvaeError):
    """A wait ran out.  ``registers`` holds the dump; ``waiting_on`` names what stopped."""

    def __init__(self, message: str, registers: dict, waiting_on: list[str]):
        super().__init__(message)
        self.registers, self.waiting_on = registers, waiting_on


class IdentityMismatch(FsvaeError):
    """The bitstream's identity register differs from the overlay folder's fsvae.json."""


class Unsupported(FsvaeError):
    """A mode this design was generated without."""


def decode_dmasr(value: int) -> str:
    """'running, not idle, no errors' and the like, for AXI DMA status registers."""
    words = ["halted" if value & DMASR_HALTED else "running", "idle" if value & DMASR_IDLE else "not idle"]
    errors = [name for bit, name in DMASR_ERRORS.items() if value >> bit & 1]
    words.append("errors: " + " ".join(errors) if errors else "no errors")
    irqs = [name for bit, name in DMASR_IRQS.items() if value >> bit & 1]
    if irqs:
        words.append(" ".join(irqs))
    return ", ".join(words)


def _bits_text(value: int, bits: dict[str, int]) -> str:
    names = [name for name, bit in sorted(bits.items(), key=lambda kv: kv[1]) if value >> bit & 1]
    return " ".join(names) if names else "-"


@dataclass
class RunTimes:
    """Where the time of generate() went, in board seconds (simulated time on a simulated board)."""
    images: int = 0
    runs: int = 0
    setup_s: float = 0.0        # arguments, buffer, first S2MM transfer: before ap_start
    rearm_s: float = 0.0        # arming the per-image S2MM transfers while the core runs
    run_s: float = 0.0          # ap_start .. ap_done (the core streaming images)
    copy_s: float = 0.0         # cache invalidate and copy out of the DMA buffer
    total_s: float = 0.0

    @property
    def compute_s(self) -> float:
        return max(0.0, self.run_s - self.rearm_s)


@dataclass
class SelfTestResult:
    passed: bool
    cases: list[dict] = field(default_factory=list)
    first_mismatch: dict | None = None

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        n = sum(c["n"] for c in self.cases)
        if self.passed:
            return f"self-test passed: {n} images from {len(self.cases)} seeds equal the golden vectors"
        m = self.first_mismatch
        return (f"self-test FAILED: seed {m['seed']} image {m['image']}: {m['pixels_differ']} pixels differ; "
                f"first at pixel (c, y, x) = {tuple(m['pixel'])}: got {m['got']}, expected {m['expected']}")


class ThroughputReport(dict):
    def __str__(self) -> str:
        lines = [f"{self['images']} images in {self['total_s'] * 1e3:.3f} ms ({self['clock']}): "
                 f"{self['images_per_s']:.1f} images/s",
                 f"  core streaming (ap_start..ap_done): {self['run_s'] * 1e3:.3f} ms = "
                 f"{self['accelerator_images_per_s']:.1f} images/s, of which compute {self['compute_s'] * 1e3:.3f} ms "
                 f"and S2MM re-arming {self['rearm_s'] * 1e3:.3f} ms",
                 f"  DMA setup before start: {self['setup_s'] * 1e3:.3f} ms; copy out: {self['copy_s'] * 1e3:.3f} ms",
                 f"  output bandwidth: {self['out_MB_per_s']:.2f} MB/s"]
        if self.get("power_w") is not None:
            lines.append(f"  power: {self['power_w']:.3f} W ({self['power_rails']}, {self['power_samples']} samples); "
                         f"{self['images_per_s_per_w']:.1f} images/s per watt")
        else:
            lines.append(f"  {self['power_note']}")
        return "\n".join(lines)


class FsvaeDriver:
    """Generate images on the accelerator.  Build it with :func:`open_overlay`.

    ``timeout_s``: every wait (one image, ap_done, one weight transfer) gives up after this
    many seconds of board time; None: derived from the manifest (``cycles_per_image`` x
    TIMEOUT_MARGIN, else a dense-operation bound), never below the back end's min_timeout_s.
    ``max_transfer_bytes``: the most bytes one DMA transfer (and one generate run's buffer)
    may hold; None: the back end's (the DMA length register's) limit.
    """

    def __init__(self, backend, overlay_dir: str | Path, *, timeout_s: float | None = None,
                 max_transfer_bytes: int | None = None, check_identity: bool = True):
        self.backend = backend
        self.dir = Path(overlay_dir)
        self.manifest = json.loads((self.dir / FILES["manifest"]).read_text())
        self.iface = json.loads((self.dir / FILES["interface"]).read_text())
        regs = {r["name"]: r for r in self.iface["control"]["registers"]}
        self.reg = {name: r["offset"] for name, r in regs.items()}
        self.ctrl_bits = regs["CTRL"]["bits"]
        self.status_bits = regs.get("status", {}).get("bits", {})
        self.mode_values = regs["mode"]["values"]
        self.image_shape = tuple(int(v) for v in self.manifest["image_shape"])
        self.image_bytes = int(np.prod(self.image_shape))
        if self.image_bytes % 4:
            raise FsvaeError(f"image of {self.image_bytes} bytes is not whole 32-bit words")
        self.clock_mhz = float(self.manifest["clock_mhz"])
        self.timeout_s = timeout_s
        self.poll_s = POLL_S
        limit = int(max_transfer_bytes or getattr(backend, "max_transfer_bytes", MAX_TRANSFER_BYTES))
        self.max_transfer_bytes = min(limit, int(getattr(backend, "max_transfer_bytes", limit)))
        if self.max_transfer_bytes < self.image_bytes:
            raise FsvaeError(f"max_transfer_bytes {self.max_transfer_bytes} is less than one image "
                             f"({self.image_bytes} bytes)")
        # each image in its own slot, aligned for a DMA without the realignment engine (DRE)
        self.slot_bytes = -(-self.image_bytes // SLOT_ALIGN) * SLOT_ALIGN
        self.images_per_run = max(1, self.max_transfer_bytes // self.slot_bytes)
        hwjson = self.dir / FILES["hwmodel"] / "hwmodel.json"
        self._hw_desc = json.loads(hwjson.read_text()) if hwjson.is_file() else None
        self.last_times = RunTimes()
        self.weight_stream = self.manifest.get("weight_stream") or None
        self.ddr_weights = None               # the DDR buffer of the streamed weight rows
        if self.weight_stream and "weights_base" not in self.reg:
            raise FsvaeError(f"{self.dir / FILES['manifest']} streams weights from DDR (weight_stream) but "
                             f"{FILES['interface']} has no weights_base register: rewrite the overlay folder")
        if check_identity:
            self.check_identity()
        if self.weight_stream:
            self.load_ddr_weights()

    # ------------------------------------------------------------------ registers
    def _read(self, name: str) -> int:
        return int(self.backend.core.read(self.reg[name]))

    def _write(self, name: str, value: int) -> None:
        self.backend.core.write(self.reg[name], int(value) & 0xFFFFFFFF)

    def _ctrl(self, bit: str) -> int:
        return 1 << self.ctrl_bits[bit]

    def status(self) -> dict:
        """The status register decoded (hw/interface.yaml bits)."""
        value = self._read("status")
        return {"value": value, **{name: bool(value >> bit & 1) for name, bit in self.status_bits.items()}}

    @property
    def modes(self) -> list[str]:
        return list(self.manifest.get("modes", ["generate"]))

    @property
    def units(self) -> list[str]:
        return list(self.manifest.get("status_units", []))

    def busy_units(self, engines_busy: int | None = None) -> list[str]:
        value = self._read("engines_busy") if engines_busy is None else engines_busy
        names = self.units
        return [names[i] if i < len(names) else f"unit {i}" for i in range(32) if value >> i & 1]

    def registers(self) -> dict:
        """Every register a diagnosis needs.  Reading CTRL clears a pending ap_done."""
        core = {name: self._read(name) for name in ("CTRL", "status", "progress", "engines_busy")
                if name in self.reg}
        if self.weight_stream:
            off = self.reg["weights_base"]
            core["weights_base"] = int(self.backend.core.read(off)) | int(self.backend.core.read(off + 4)) << 32
        dma = self.backend.dma_mmio
        core.update({"MM2S_DMASR": int(dma.read(MM2S_DMASR)), "S2MM_DMASR": int(dma.read(S2MM_DMASR)),
                     "MM2S_LENGTH": int(dma.read(MM2S_LENGTH)), "S2MM_LENGTH": int(dma.read(S2MM_LENGTH))})
        return core

    def describe_registers(self, regs: dict) -> str:
        parts = [f"CTRL=0x{regs['CTRL']:08x} ({_bits_text(regs['CTRL'], self.ctrl_bits)})"]
        if "status" in regs:
            parts.append(f"status=0x{regs['status']:08x} ({_bits_text(regs['status'], self.status_bits)})")
        if "progress" in regs:
            parts.append(f"progress={regs['progress']}")
        if "engines_busy" in regs:
            parts.append(f"engines_busy=0x{regs['engines_busy']:08x}")
        if "weights_base" in regs:
            parts.append(f"weights_base=0x{regs['weights_base']:x}")
        for ch in ("MM2S", "S2MM"):
            v = regs[f"{ch}_DMASR"]
            parts.append(f"{ch}_DMASR=0x{v:08x} ({decode_dmasr(v)})")
        parts.append(f"MM2S_LENGTH={regs['MM2S_LENGTH']} S2MM_LENGTH={regs['S2MM_LENGTH']}")
        return ", ".join(parts)

    # ------------------------------------------------------------------ identity
    def check_identity(self) -> int:
        """Refuse a bitstream whose identity register differs from fsvae.json's ``identity`` (the
        hardware model's identity, first 4 bytes), and an overlay whose hwmodel/ is another model."""
        want = self.manifest.get("identity")
        if want is None:
            raise IdentityMismatch(f"{self.dir / FILES['manifest']} has no 'identity' field: it was written by a "
                                   "generator without the identity register; regenerate the RTL and the overlay")
        model = self.manifest.get("hwmodel_identity")
        if self._hw_desc is not None and model is not None and self._hw_desc.get("identity") != model:
            raise IdentityMismatch(f"{self.dir / FILES['hwmodel']} is hardware model "
                                   f"{str(self._hw_desc.get('identity'))[:12]}, but {FILES['manifest']} was generated "
                                   f"from {str(model)[:12]}: copy the overlay folder of one build, or rebuild it")
        got = self._read("identity")
        if got == 0 and int(want) != 0:
            # an HLS core writes its output registers during a run (the RTL holds them from
            # reset): start an empty one (n_images = 0) and read again
            self._empty_run()
            got = self._read("identity")
        if got != int(want):
            raise IdentityMismatch(
                f"identity register reads 0x{got:08x}, but {self.dir / FILES['manifest']} says 0x{int(want):08x} "
                f"(hardware model {str(model or '?')[:12]}): the bitstream and the overlay files come from different "
                "builds (another or an edited hardware model). "
                "Use the overlay folder written together with this bitstream (fsvae.bit/.hwh, fsvae.json, weights.bin "
                "and hwmodel/ from one build), or rebuild both")
        return got

    def _empty_run(self) -> None:
        """ap_start with n_images = 0: nothing is sent; the core only updates its registers."""
        self._write("n_images", 0)
        self._write("mode", self.mode_values["generate"])
        self._write("CTRL", self._ctrl("ap_start"))
        clock = self.backend.clock
        deadline = clock.now() + max(self.backend.min_timeout_s, 1e-3)
        while not self._read("CTRL") & self._ctrl("ap_done"):
            if clock.now() >= deadline:
                raise self._timeout("an empty run (n_images = 0) to read the identity register",
                                    self.backend.min_timeout_s, None)
            clock.pause(self.poll_s)

    # ------------------------------------------------------------------ timeouts and waits
    def expected_cycles_per_image(self) -> tuple[float, str]:
        """(cycles, where the number comes from): the manifest's estimate, else a loose bound."""
        est = self.manifest.get("cycles_per_image")
        if est:
            return float(est) * TIMEOUT_MARGIN, f"{TIMEOUT_MARGIN} x manifest cycles_per_image"
        if self._hw_desc is not None:
            outputs = sum(math.prod(layer["out_shape"]) for layer in self._hw_desc["layers"])
            return float(DENSE_BOUND_FACTOR * outputs * self._hw_desc["time_steps"]), "dense-operation bound"
        return 1e7, "fixed bound (no hardware model in the overlay folder)"

    def default_timeout_s(self, images: int = 1) -> float:
        if self.timeout_s is not None:
            return float(self.timeout_s)
        cycles, _ = self.expected_cycles_per_image()
        return max(float(self.backend.min_timeout_s), images * cycles / (self.clock_mhz * 1e6))

    def _timeout(self, what: str, timeout_s: float, channel: str | None, note: str = "") -> FsvaeTimeout:
        regs = self.registers()
        waiting = [channel] if note and channel else []
        lines = [f"{what}: not finished within {timeout_s:g} s of board time."] + ([note] if note else [])
        for ch in ("MM2S", "S2MM"):
            sr = regs[f"{ch}_DMASR"]
            if (ch == channel and not sr & DMASR_IDLE) or sr & DMASR_ERROR_MASK:
                direction = "memory -> in_r" if ch == "MM2S" else "out_r -> memory"
                state = "not idle" if not sr & DMASR_IDLE else "in error"
                lines.append(f"DMA channel {ch} ({direction}) {state}: DMASR=0x{sr:08x} ({decode_dmasr(sr)}).")
                waiting.append(ch)
        if "engines_busy" in regs:
            units = self.busy_units(regs["engines_busy"])
            waiting += units
            lines.append(f"Core units still busy: {', '.join(units)}." if units else "No core unit is busy.")
        if "progress" in regs:
            lines.append(f"progress register: {regs['progress']}.")
        lines.append("Registers: " + self.describe_registers(regs) + ".")
        lines.append("Call reset() to recover (" + self.backend.reset_note + ").")
        return FsvaeTimeout(" ".join(lines), regs, waiting)

    def _check_dma_error(self, offset: int, ch: str, what: str) -> None:
        sr = int(self.backend.dma_mmio.read(offset))
        if sr & DMASR_ERROR_MASK:
            raise FsvaeError(f"{what}: DMA channel {ch} reports an error: DMASR=0x{sr:08x} ({decode_dmasr(sr)}). "
                             "Registers: " + self.describe_registers(self.registers()) + ". Call reset() to recover")

    def _wait_channel(self, ch: str, what: str, timeout_s: float, state: dict | None = None) -> None:
        """Wait until the channel's transfer is done; also watch CTRL for a refused start."""
        offset = MM2S_DMASR if ch == "MM2S" else S2MM_DMASR
        clock, dma = self.backend.clock, self.backend.dma_mmio
        deadline = clock.now() + timeout_s
        while True:
            sr = int(dma.read(offset))
            if sr & DMASR_ERROR_MASK:
                self._check_dma_error(offset, ch, what)
            if sr & DMASR_IDLE:
                return
            if state is not None and not state["done"]:
                if self._read("CTRL") & self._ctrl("ap_done"):
                    state["done"] = True           # the read cleared it: remember
                    self._check_run_status(what)
            now = clock.now()
            if now >= deadline:
                raise self._timeout(what, timeout_s, ch)
            clock.pause(min(deadline - now, self.poll_s))

    def _wait_progress(self, images: int, what: str, timeout_s: float) -> None:
        """The core's image count must have reached ``images``: an S2MM channel that reads idle
        from an earlier transfer (a start that never took) must not pass for a received image."""
        if "progress" not in self.reg:
            return
        clock = self.backend.clock
        deadline = clock.now() + timeout_s
        while (sent := self._read("progress")) < images:
            now = clock.now()
            if now >= deadline:
                raise self._timeout(what, timeout_s, "S2MM",
                                    f"DMA channel S2MM reads idle, but the core has sent only {sent} of {images} "
                                    "images: the S2MM transfer for this image never started.")
            clock.pause(min(deadline - now, self.poll_s))

    def _wait_done(self, what: str, timeout_s: float, state: dict) -> None:
        clock = self.backend.clock
        deadline = clock.now() + timeout_s
        while not state["done"]:
            if self._read("CTRL") & self._ctrl("ap_done"):
                state["done"] = True
                break
            now = clock.now()
            if now >= deadline:
                raise self._timeout(what + " (waiting for ap_done)", timeout_s, None)
            clock.pause(min(deadline - now, self.poll_s))
        self._check_run_status(what)

    def _check_run_status(self, what: str) -> None:
        if not self.status_bits:
            return
        st = self.status()
        if st.get("error_ddr"):
            raise FsvaeError(f"{what}: the core's weight-row reads from DDR came back with an error response "
                             f"(status.error_ddr), so the images are wrong; weights_base was 0x{self._weights_base():x}: "
                             "check that the DDR buffer is still allocated (load_ddr_weights())")
        errors = [name for name in ("error_mode", "error_no_weights") if st.get(name)]
        if errors:
            hint = {"error_mode": f"the design has modes {self.modes}",
                    "error_no_weights": "load the weights first (load_weights())"}
            self.reset_dma()                  # a transfer armed for the refused run must not linger
            raise FsvaeError(f"{what}: the core refused the start: " +
                             "; ".join(f"{e} ({hint[e]})" for e in errors))

    def reset_dma(self, timeout_s: float = 0.1) -> None:
        """AXI DMA soft reset (MM2S_DMACR bit 2 resets both channels, PG021), then both channels
        started again: drops a transfer armed for a run that will not come.  Only with the core idle."""
        dma, clock = self.backend.dma_mmio, self.backend.clock
        dma.write(MM2S_DMACR, DMACR_RESET)
        deadline = clock.now() + max(timeout_s, self.backend.min_timeout_s)
        while int(dma.read(MM2S_DMACR)) & DMACR_RESET:
            if clock.now() >= deadline:
                raise self._timeout("AXI DMA soft reset", timeout_s, None)
            clock.pause(self.poll_s)
        for ch in (self.backend.sendchannel, self.backend.recvchannel):
            ch.start()

    def _ensure_idle(self, what: str) -> None:
        ctrl = self._read("CTRL")             # also clears an ap_done left from an earlier run
        if not ctrl & self._ctrl("ap_idle"):
            regs = self.registers()
            units = self.busy_units(regs["engines_busy"]) if "engines_busy" in regs else []
            raise FsvaeError(f"{what}: the core is not idle (a previous run did not finish"
                             + (f"; busy: {', '.join(units)}" if units else "") + "). Registers: "
                             + self.describe_registers(regs) + ". Call reset() to recover")
        for ch, off in (("MM2S", MM2S_DMASR), ("S2MM", S2MM_DMASR)):
            self._check_dma_error(off, ch, what)

    # ------------------------------------------------------------------ generate
    def generate(self, n: int, seed: int, image_base: int = 0) -> np.ndarray:
        """n images from the prior, uint8 (n, C, H, W): golden.generate(hw, n, seed,
        first_image=image_base), bit for bit.  Runs of at most ``images_per_run`` images,
        each into its own DMA buffer; image_base advances so the runs equal one big run."""
        n, seed, image_base = self._check_args(n, seed, image_base)
        out = np.empty((n, *self.image_shape), dtype=np.uint8)
        times = RunTimes()
        clock = self.backend.clock
        t_all = clock.now()
        for start in range(0, n, self.images_per_run):
            k = min(self.images_per_run, n - start)
            t0 = clock.now()
            with self.backend.allocate((k * self.slot_bytes,), np.uint8) as buf:
                times.setup_s += clock.now() - t0
                self._run_generate(buf, k, seed, image_base + start, times)
                t0 = clock.now()
                buf.invalidate()
                out[start:start + k] = self._unslot(buf, k)
                times.copy_s += clock.now() - t0
            times.runs += 1
        times.images, times.total_s = n, clock.now() - t_all
        self.last_times = times
        return out

    def _unslot(self, buf, k: int) -> np.ndarray:
        return np.asarray(buf).reshape(k, self.slot_bytes)[:, :self.image_bytes].reshape(k, *self.image_shape)

    def _check_args(self, n, seed, image_base) -> tuple[int, int, int]:
        for name, v in (("n", n), ("seed", seed), ("image_base", image_base)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise ValueError(f"{name} must be an integer, got {v!r}")
        n, seed, image_base = int(n), int(seed), int(image_base)
        if not 0 <= seed < 1 << 32:
            raise ValueError(f"seed must be in [0, 2**32), got {seed}")
        max_images = 1 << 32
        if self._hw_desc is not None:
            max_images = int(self._hw_desc.get("sampler", {}).get("max_images", max_images))
        if n < 0 or image_base < 0 or image_base + n > max_images:
            raise ValueError(f"images image_base .. image_base + n - 1 must lie in [0, {max_images}) "
                             f"(the sampler's image index), got image_base={image_base}, n={n}")
        return n, seed, image_base

    def _run_generate(self, buf, n: int, seed: int, base: int, times: RunTimes) -> None:
        be, img, slot = self.backend, self.image_bytes, self.slot_bytes
        clock, recv = be.clock, be.recvchannel
        what = f"generate seed {seed} images {base}..{base + n - 1}"
        t0 = clock.now()
        self._ensure_idle(what)
        if self.status_bits and not self.status()["weights_loaded"]:
            raise FsvaeError(f"{what}: the weights are not loaded (status.weights_loaded = 0): call load_weights() "
                             "first (open_overlay does, unless load_weights=False)")
        self._write("seed", seed)
        self._write("n_images", n)
        self._write("image_base", base)
        self._write("mode", self.mode_values["generate"])
        self._write_weights_base()
        recv.transfer(buf, 0, img)            # armed before the start: the first word has a receiver
        t_start = clock.now()
        times.setup_s += t_start - t0
        self._write("CTRL", self._ctrl("ap_start"))
        state = {"done": False}
        timeout = self.default_timeout_s(1)
        for i in range(n):
            if i:
                t0 = clock.now()
                recv.transfer(buf, i * slot, img)
                times.rearm_s += clock.now() - t0
            self._wait_channel("S2MM", f"{what}: image {base + i} ({i + 1} of {n})", timeout, state)
            got = int(be.dma_mmio.read(S2MM_LENGTH))
            if got != img:
                raise FsvaeError(f"{what}: image {base + i}: the S2MM transfer ended after {got} bytes "
                                 f"(TLAST), expected {img}. Registers: " + self.describe_registers(self.registers()))
            self._wait_progress(i + 1, f"{what}: image {base + i} ({i + 1} of {n})", timeout)
        self._wait_done(what, timeout, state)
        times.run_s += clock.now() - t_start

    # ------------------------------------------------------------------ reconstruct
    def reconstruct(self, images: np.ndarray, seed: int = 0, image_base: int = 0) -> np.ndarray:
        """int8 images (n, C, H, W) in input fixed point (golden.quantize_images) ->
        reconstructions, uint8; only where the design has the reconstruct mode."""
        has = "reconstruct" in self.modes and (not self.status_bits or self.status().get("has_reconstruct"))
        if not has:
            raise Unsupported(f"this design has no reconstruct mode (manifest modes: {', '.join(self.modes)}; "
                              "status.has_reconstruct = 0): it was generated for generation only. "
                              "Use golden.reconstruct on the host, or generate a design with reconstruction")
        images = np.asarray(images)
        if images.dtype != np.int8 or images.shape[1:] != self.image_shape:
            raise ValueError(f"images must be int8 of shape (n, {', '.join(map(str, self.image_shape))}), "
                             f"got {images.dtype} {images.shape}")
        n, seed, image_base = self._check_args(images.shape[0], seed, image_base)
        be, img, slot = self.backend, self.image_bytes, self.slot_bytes
        out = np.empty((n, *self.image_shape), dtype=np.uint8)
        for start in range(0, n, self.images_per_run):
            k = min(self.images_per_run, n - start)
            what = f"reconstruct seed {seed} images {image_base + start}..{image_base + start + k - 1}"
            with be.allocate((k * slot,), np.uint8) as src, be.allocate((k * slot,), np.uint8) as dst:
                np.asarray(src).reshape(k, slot)[:, :img] = images[start:start + k].reshape(k, -1).view(np.uint8)
                src.flush()
                self._ensure_idle(what)
                self._write("seed", seed)
                self._write("n_images", k)
                self._write("image_base", image_base + start)
                self._write("mode", self.mode_values["reconstruct"])
                self._write_weights_base()
                be.recvchannel.transfer(dst, 0, img)
                self._write("CTRL", self._ctrl("ap_start"))
                state, timeout = {"done": False}, self.default_timeout_s(1)
                for i in range(k):
                    be.sendchannel.transfer(src, i * slot, img)     # TLAST at each image's end
                    if i:
                        be.recvchannel.transfer(dst, i * slot, img)
                    self._wait_channel("MM2S", f"{what}: image {i} in", timeout, state)
                    self._wait_channel("S2MM", f"{what}: image {i} out", timeout, state)
                self._wait_done(what, timeout, state)
                dst.invalidate()
                out[start:start + k] = self._unslot(dst, k)
        return out

    # ------------------------------------------------------------------ weights
    def load_weights(self) -> dict:
        """Send weights.bin (manifest weight_load.words words) in mode load_weights, in as
        many MM2S transfers as the length register needs; check status.weights_loaded."""
        load = self.manifest.get("weight_load")
        if not load:
            if self.status_bits and not self.status()["weights_loaded"]:
                raise FsvaeError("the design has no run-time weights but status.weights_loaded is 0")
            return {"words": 0, "transfers": 0}
        path = self.dir / FILES["weights"]
        blob = np.fromfile(path, dtype="<u4")
        if blob.size != int(load["words"]):
            raise FsvaeError(f"{path}: {blob.size} words, fsvae.json weight_load.words says {load['words']}")
        chunk = (self.max_transfer_bytes // 4) * 4
        what = f"load_weights ({blob.size} words)"
        be = self.backend
        transfers = 0
        with be.allocate((blob.size,), np.uint32) as buf:
            np.asarray(buf)[:] = blob
            buf.flush()
            self._ensure_idle(what)
            self._write("mode", self.mode_values["load_weights"])
            self._write("CTRL", self._ctrl("ap_start"))
            state = {"done": False}
            for start in range(0, blob.nbytes, chunk):
                nbytes = min(chunk, blob.nbytes - start)
                timeout = self.timeout_s or max(be.min_timeout_s, TIMEOUT_MARGIN * nbytes / 4 / (self.clock_mhz * 1e6))
                be.sendchannel.transfer(buf, start, nbytes)
                transfers += 1
                self._wait_channel("MM2S", f"{what}: bytes {start}..{start + nbytes - 1}", timeout, state)
            self._wait_done(what, self.default_timeout_s(1), state)
        if self.status_bits and not self.status()["weights_loaded"]:
            raise FsvaeError(f"{what}: all words sent and ap_done seen, but status.weights_loaded is 0. Registers: "
                             + self.describe_registers(self.registers()))
        return {"words": int(blob.size), "transfers": transfers}

    def load_ddr_weights(self) -> dict:
        """The weight rows the core streams from DDR (fsvae.json weight_stream): ddr_weights.bin
        into one physically contiguous buffer (allocated once, kept until close()), flushed to
        DDR, its address in weights_base.  Returns {"address", "bytes"}."""
        ws = self.weight_stream
        if not ws:
            return {"address": None, "bytes": 0}
        path, want = self.dir / FILES["ddr_weights"], int(ws["bytes"])
        if not path.is_file():
            raise FsvaeError(f"{path} is missing: this design streams weight rows from DDR (fsvae.json weight_stream); "
                             "use the overlay folder written together with the bitstream, or rewrite it")
        size = path.stat().st_size
        if size != want:
            raise FsvaeError(f"{path}: {size} bytes, but fsvae.json weight_stream.bytes says {want}: the DDR weight "
                             "image and the design come from different builds; rewrite the overlay folder")
        align, bits = int(ws.get("align", 4096)), int(ws.get("addr_bits", 32))
        buf = self.ddr_weights
        if buf is None or int(buf.nbytes) != size:
            self._free_ddr_weights()
            buf = self.backend.allocate((size,), np.uint8)
            try:
                addr = int(buf.physical_address)
                if addr % align:
                    raise FsvaeError(f"the DDR buffer for {FILES['ddr_weights']} is at 0x{addr:x}, not {align}-byte "
                                     "aligned as the core's weight stream needs (weight_stream.align): the allocator "
                                     "returned an unaligned buffer")
                if addr + size > 1 << bits:
                    raise FsvaeError(f"the DDR buffer for {FILES['ddr_weights']} spans 0x{addr:x}..0x{addr + size - 1:x}, "
                                     f"beyond the core's {bits}-bit DDR addresses (weight_stream.addr_bits): "
                                     "the allocator must place it lower (CMA in the low DDR)")
            except BaseException:
                buf.freebuffer()
                raise
            self.ddr_weights = buf
        np.asarray(buf)[:] = np.fromfile(path, dtype=np.uint8)
        buf.flush()                       # the core reads DDR, not the CPU's cache
        self._write_weights_base()
        return {"address": int(buf.physical_address), "bytes": size}

    def _write_weights_base(self) -> None:
        """weights_base = the DDR buffer's physical address (a 64-bit pointer register: low word,
        then high word, hw/interface.yaml)."""
        if self.ddr_weights is None:
            return
        addr, off = int(self.ddr_weights.physical_address), self.reg["weights_base"]
        self.backend.core.write(off, addr & 0xFFFFFFFF)
        self.backend.core.write(off + 4, addr >> 32 & 0xFFFFFFFF)

    def _weights_base(self) -> int:
        off = self.reg.get("weights_base")
        if off is None:
            return 0
        return int(self.backend.core.read(off)) | int(self.backend.core.read(off + 4)) << 32

    def _free_ddr_weights(self) -> None:
        buf, self.ddr_weights = self.ddr_weights, None
        if buf is not None:
            buf.freebuffer()

    # ------------------------------------------------------------------ recovery
    def reset(self) -> None:
        """Recover from a hung run: bring the hardware back to power-up state through the back
        end (on a board: download the bitstream again, which resets the core and the AXI DMA;
        in simulation: hold ap_rst_n low and reset the DMA model), restart the DMA channels,
        check the identity again and reload the weights where the design needs them."""
        self.backend.reprogram()
        self.check_identity()
        self._write_weights_base()            # the register is back at 0; the DDR buffer kept its contents
        if not self.status_bits or not self.status()["weights_loaded"]:
            self.load_weights()

    # ------------------------------------------------------------------ self-test
    def self_test(self) -> SelfTestResult:
        """Replay the golden vectors of the overlay folder (selftest/vectors.json)."""
        folder = self.dir / FILES["selftest"]
        spec = json.loads((folder / "vectors.json").read_text())
        model = self.manifest.get("hwmodel_identity")
        if spec.get("hwmodel_identity", model) != model:
            raise FsvaeError(f"{folder} holds golden vectors of hardware model {str(spec['hwmodel_identity'])[:12]}, "
                             f"but {FILES['manifest']} was generated from {str(model)[:12]}: rewrite the overlay folder")
        cases, first = [], None
        for case in spec["cases"]:
            want = np.load(folder / case["file"], allow_pickle=False)
            got = self.generate(int(case["n"]), int(case["seed"]), int(case["image_base"]))
            equal = bool(np.array_equal(got, want))
            cases.append({"seed": case["seed"], "image_base": case["image_base"], "n": case["n"], "equal": equal})
            if not equal and first is None:
                bad = np.argwhere(got != want)
                i = tuple(int(v) for v in bad[0])
                per_image = int((got[i[0]] != want[i[0]]).sum())
                first = {"seed": case["seed"], "image": case["image_base"] + i[0], "pixel": list(i[1:]),
                         "got": int(got[i]), "expected": int(want[i]), "pixels_differ": per_image}
        return SelfTestResult(first is None, cases, first)

    # ------------------------------------------------------------------ throughput and power
    def throughput_test(self, n: int | None = None, seed: int = 0, min_seconds: float | None = None) -> ThroughputReport:
        """Images/s with the time split into DMA setup, S2MM re-arming, core compute and copy
        out (board time: simulated time on a simulated board); power and images/s per watt
        where the back end exposes power rails.  Repeats the batch until ``min_seconds``
        (default 1 s where power is measured, else one batch)."""
        n = min(self.images_per_run, 256) if n is None else int(n)
        sensors = self.backend.power_sensors()
        if min_seconds is None:
            min_seconds = 1.0 if sensors else 0.0
        sampler = _PowerSampler(sensors) if sensors else None
        total, clock = RunTimes(), self.backend.clock
        if sampler:
            sampler.start()
        try:
            t0 = clock.now()
            while True:
                self.generate(n, seed, 0)
                t = self.last_times
                for f in ("images", "runs", "setup_s", "rearm_s", "run_s", "copy_s"):
                    setattr(total, f, getattr(total, f) + getattr(t, f))
                if clock.now() - t0 >= min_seconds:
                    break
            total.total_s = clock.now() - t0
        finally:
            power = sampler.stop() if sampler else None
        rep = ThroughputReport(
            images=total.images, runs=total.runs, total_s=total.total_s, setup_s=total.setup_s, rearm_s=total.rearm_s,
            run_s=total.run_s, compute_s=total.compute_s, copy_s=total.copy_s,
            images_per_s=total.images / total.total_s if total.total_s else float("inf"),
            accelerator_images_per_s=total.images / total.run_s if total.run_s else float("inf"),
            out_MB_per_s=total.images * self.image_bytes / total.total_s / 1e6 if total.total_s else float("inf"),
            clock_mhz=self.clock_mhz, clock=self.backend.clock.description,
            cycles_per_image=total.run_s * self.clock_mhz * 1e6 / total.images if total.images else None)
        if power and power["samples"]:
            rep.update(power_w=power["watts"], power_rails=power["rails"], power_samples=power["samples"],
                       images_per_s_per_w=rep["images_per_s"] / power["watts"] if power["watts"] else None)
        else:
            rep.update(power_w=None, power_note=self.backend.power_note)
        return rep

    # ------------------------------------------------------------------ housekeeping
    def close(self) -> None:
        try:
            self._free_ddr_weights()
        finally:
            self.backend.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        m = self.manifest
        return (f"FsvaeDriver(board {m.get('board')}, {self.clock_mhz:g} MHz, identity 0x{int(m.get('identity', 0)):08x}, "
                f"image {'x'.join(map(str, self.image_shape))}, modes {', '.join(self.modes)}, "
                f"{self.backend.describe()})")


class _PowerSampler:
    """Samples the power rails in a thread while the throughput test runs (pynq.DataRecorder
    needs pandas, which board images may lack)."""

    def __init__(self, sensors: dict, interval_s: float = 0.05):
        self.sensors, self.interval_s = sensors, interval_s
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.samples.append(sum(float(s.value) for s in self.sensors.values()))
            except Exception:               # a sensor read failing must not stop the run
                pass
            self._stop.wait(self.interval_s)

    def start(self):
        self._thread.start()

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        watts = float(np.mean(self.samples)) if self.samples else None
        return {"watts": watts, "samples": len(self.samples), "rails": "+".join(self.sensors)}


def open_overlay(overlay_dir: str | Path, simulated: bool = False, *, load_weights: bool = True,
                 backend_options: dict | None = None, **driver_options) -> FsvaeDriver:
    """Open the accelerator from an overlay folder.

    On a board (``simulated=False``): program ``<dir>/fsvae.bit`` (with ``fsvae.hwh``) through
    pynq.Overlay and drive cells ``fsvae_0`` and ``axi_dma_0``.  Simulated: start (or connect
    to) the simulated board for the folder's RTL.  Either way the identity register is checked
    against fsvae.json, and the weights are loaded where the design needs them.
    ``driver_options`` go to :class:`FsvaeDriver` (timeout_s, max_transfer_bytes)."""
    overlay_dir = Path(overlay_dir)
    if not (overlay_dir / FILES["manifest"]).is_file():
        raise FileNotFoundError(f"{overlay_dir / FILES['manifest']} not found: not an overlay folder "
                                "(fsvae_fpga.toolchain.overlay.write_overlay_files writes one)")
    if simulated:
        from .simulated import SimulatedBackend
        backend = SimulatedBackend(overlay_dir, **(backend_options or {}))
    else:
        from .pynq_backend import PynqBackend
        backend = PynqBackend(overlay_dir, **(backend_options or {}))
    try:
        drv = FsvaeDriver(backend, overlay_dir, **driver_options)
        if load_weights and (not drv.status_bits or not drv.status()["weights_loaded"]):
            drv.load_weights()
    except BaseException:
        backend.close()
        raise
    return drv
