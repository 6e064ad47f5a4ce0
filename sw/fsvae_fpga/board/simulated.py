"""The simulated board behind the driver's back-end seam: a client of sim/board_sim/board_server.py,
which runs the generated RTL in Verilator (through cocotb) with an AXI DMA model and serves
register accesses, DMA transfers, reset and simulated time over a local socket.
Standard library and numpy only, so that any Python process (a notebook kernel too) can use it.

Start: ``SimulatedBackend(overlay_dir)`` reads ``fsvae-overlay.json`` (written by
fsvae_fpga.toolchain.overlay.write_overlay_files): the RTL folder, its Verilator build folder and the
server's launcher, starts the server as a subprocess in its own process group and connects
to its Unix socket.  ``SimulatedBackend(overlay_dir, address="/path/board.sock")`` (or the
environment variable FSVAE_BOARD_SOCKET) connects to a server started by hand instead
(``python sim/board_sim/launch.py --overlay DIR --socket PATH``).  close() (also at exit)
shuts down a server this object started and kills its process group if it does not exit.

Memory: ``allocate`` returns numpy arrays with a made-up physical address.  A write of the
MM2S length register sends the bytes at the programmed source address along; a finished S2MM
transfer comes back with the next reply and lands in the buffer at its destination address,
so the driver's register-level DMA programming is exercised as on the board.  Where the
design streams weights from DDR (the server's hello says "ddr"), flush() is the write-back
to DDR it is on the board: the buffer's bytes go to the server's DDR model at its address
(op ddr_write), which the simulated core's m_axi_gmem reads; freeing a flushed buffer drops it
there (ddr_free).

Time: ``clock.now()`` is simulated cycles / clock_mhz.  ``clock.pause(max_s)`` advances the
simulation until the next event (a DMA transfer ends, a DMA error, the core goes idle) or
max_s; the server also advances on its own while a DMA transfer is in flight or the core is
computing, but not while the core only waits for the host to arm an S2MM transfer (a host
that re-arms at once: simulated throughput is the hardware's).

Fault injection (tests): ``inject_fault("stall_out_r", after_words=0)`` keeps out_r's TREADY
low once that many words of the current S2MM transfer were taken (a stalled stream or a
DMA that stopped writing); ``inject_fault("drop_s2mm_start")`` ignores S2MM length writes
(a channel that is never started); ``clear_faults()``.

Size: the simulated board's back end is one module so that it can be copied to a host next
to driver.py without the rest of the package; about half of it is the fault injection the
driver's tests need.
"""
from __future__ import annotations

import atexit
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path

import numpy as np

from . import wire
from .driver import (FILES, MAX_TRANSFER_BYTES, MM2S_DMACR, MM2S_LENGTH, MM2S_SA, MM2S_SA_MSB, S2MM_DA,
                     S2MM_DA_MSB, S2MM_DMACR)

MAX_ADVANCE_CYCLES = 200_000      # one advance request: a few seconds of Verilator at most
BASE_ADDRESS = 0x1000_0000


class SimulatedBoardError(RuntimeError):
    """The simulated board failed, refused a request, or did not answer in time."""


# ----------------------------------------------------------------------------- memory
class SimBuffer(np.ndarray):
    """A DMA buffer of the simulated board: a numpy array with the pynq buffer API.  flush()
    writes the whole buffer back to the simulated DDR where the server has one."""

    def __array_finalize__(self, obj):
        base = getattr(obj, "_sim_base", None)
        self._sim_base = base
        if base is not None:
            offset = self.__array_interface__["data"][0] - base._sim_ptr
            self.physical_address = base._sim_addr + offset

    @property
    def cacheable(self) -> bool:
        return False

    def flush(self) -> None:
        """The simulated DMA reads the client's memory directly; the simulated core's DDR port
        reads the server's copy, written here (whole buffer)."""
        base = self._sim_base
        if base is not None and base._sim_memory is not None:
            base._sim_memory.flushed(base)

    def invalidate(self) -> None:
        pass

    sync_to_device, sync_from_device = flush, invalidate

    def freebuffer(self) -> None:
        base = self._sim_base
        if base is not None and base._sim_memory is not None:
            base._sim_memory.free(base._sim_addr)

    close = freebuffer

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.freebuffer()


class SimMemory:
    """Made-up physical addresses for SimBuffers, so that DMA address registers mean something."""

    def __init__(self):
        self._next = BASE_ADDRESS
        self._buffers: dict[int, tuple[weakref.ref, int]] = {}
        # the simulated board's DDR (designs that stream weights): write(address, bytes) and
        # free(address) of the server's copy; None: no DDR port on the board
        self.ddr_write = self.ddr_free = None
        self._in_ddr: set[int] = set()

    def allocate(self, shape, dtype="u4") -> SimBuffer:
        arr = np.zeros(shape, dtype=dtype)
        buf = arr.view(SimBuffer)
        buf._sim_base = buf
        buf._sim_ptr = buf.__array_interface__["data"][0]
        buf._sim_addr = buf.physical_address = self._next
        buf._sim_memory = self
        self._buffers[self._next] = (weakref.ref(buf), arr.nbytes)
        self._next += max(4096, -(-arr.nbytes // 4096) * 4096)
        return buf

    def free(self, addr: int) -> None:
        self._buffers.pop(addr, None)
        if addr in self._in_ddr:
            self._in_ddr.discard(addr)
            self.ddr_free(addr)

    def flushed(self, buf: "SimBuffer") -> None:
        if self.ddr_write is not None and buf._sim_addr in self._buffers:
            self.ddr_write(buf._sim_addr, np.ndarray.view(buf, np.ndarray).reshape(-1).view(np.uint8).tobytes())
            self._in_ddr.add(buf._sim_addr)

    def _find(self, addr: int, nbytes: int):
        for base, (ref, size) in self._buffers.items():
            if base <= addr and addr + nbytes <= base + size:
                buf = ref()
                if buf is not None:
                    return np.ndarray.view(buf, np.ndarray).reshape(-1).view(np.uint8), addr - base
        return None, 0

    def read(self, addr: int, nbytes: int) -> bytes | None:
        flat, off = self._find(addr, nbytes)
        return None if flat is None else flat[off:off + nbytes].tobytes()

    def write(self, addr: int, data: bytes) -> bool:
        flat, off = self._find(addr, len(data))
        if flat is None:
            return False
        flat[off:off + len(data)] = np.frombuffer(data, dtype=np.uint8)
        return True


# ----------------------------------------------------------------------------- connection
class _Connection:
    def __init__(self, sock: socket.socket, memory: SimMemory, timeout_s: float, where: str):
        self.sock, self.memory, self.where = sock, memory, where
        self.sock.settimeout(timeout_s)
        self.seq = 0
        self.lost_s2mm: list[tuple[int, int]] = []

    def call(self, op: str, payload: bytes = b"", **fields) -> dict:
        try:
            wire.send(self.sock, {"op": op, **fields}, payload)
            reply = wire.recv(self.sock)
        except socket.timeout as e:
            raise SimulatedBoardError(f"the simulated board did not answer {op!r} within "
                                      f"{self.sock.gettimeout():g} s of wall time ({self.where})") from e
        except (OSError, wire.WireError) as e:
            raise SimulatedBoardError(f"lost the simulated board during {op!r}: {e} ({self.where})") from e
        if reply is None:
            raise SimulatedBoardError(f"the simulated board closed the connection during {op!r} ({self.where})")
        header, data = reply
        if op in ("read", "hello", "reset"):
            # what the client has seen: the events before its latest observation (an advance
            # returns at once when one happened after that)
            self.seq = int(header.get("seq", self.seq))
        pos = 0
        for addr, nbytes in header.get("s2mm", []):
            if not self.memory.write(int(addr), data[pos:pos + nbytes]):
                self.lost_s2mm.append((int(addr), int(nbytes)))    # buffer freed meanwhile
            pos += nbytes
        if not header.get("ok"):
            raise SimulatedBoardError(f"simulated board: {header.get('error', 'request refused')}")
        return header


class _CoreMMIO:
    def __init__(self, conn: _Connection):
        self._conn = conn

    def read(self, offset: int = 0, length: int = 4) -> int:
        return int(self._conn.call("read", space="core", offset=int(offset))["value"])

    def write(self, offset: int, value: int) -> None:
        self._conn.call("write", space="core", offset=int(offset), value=int(value) & 0xFFFFFFFF)


class _DmaMMIO:
    """The AXI DMA's registers; a write of MM2S_LENGTH carries the source bytes."""

    def __init__(self, conn: _Connection, memory: SimMemory):
        self._conn, self._memory = conn, memory
        self._shadow = {MM2S_SA: 0, MM2S_SA_MSB: 0, S2MM_DA: 0, S2MM_DA_MSB: 0}

    def read(self, offset: int = 0, length: int = 4) -> int:
        return int(self._conn.call("read", space="dma", offset=int(offset))["value"])

    def write(self, offset: int, value: int) -> None:
        offset, value = int(offset), int(value) & 0xFFFFFFFF
        if offset in self._shadow:
            self._shadow[offset] = value
        payload, extra = b"", {}
        if offset == MM2S_LENGTH and value:
            addr = self._shadow[MM2S_SA] | self._shadow[MM2S_SA_MSB] << 32
            data = self._memory.read(addr, value)
            if data is None:
                extra["decode_error"] = True       # no buffer there: the DMA would get DECERR
            else:
                payload = data
        self._conn.call("write", payload, space="dma", offset=offset, value=value, **extra)


class SimDmaChannel:
    """One direct-register-mode channel over the simulated DMA's registers, with the API of
    pynq's simple DMA channel (transfer, wait, start, stop, running, idle, error)."""

    def __init__(self, mmio: _DmaMMIO, base: int, tx: bool, max_size: int, clock, start_timeout_s: float = 1e-3):
        self._mmio, self._base, self._tx, self._max_size = mmio, base, tx, max_size
        self._clock, self._start_timeout_s = clock, start_timeout_s
        self._first_transfer = True
        self._active = None
        self.transferred = 0
        self.start()

    def _sr(self) -> int:
        return self._mmio.read(self._base + 4)

    @property
    def running(self) -> bool:
        return not self._sr() & 0x1

    @property
    def idle(self) -> bool:
        return bool(self._sr() & 0x2)

    @property
    def error(self) -> bool:
        return bool(self._sr() & 0x70)

    def start(self) -> None:
        self._mmio.write(self._base, 0x1)
        deadline = self._clock.now() + self._start_timeout_s
        while not self.running:
            if self._clock.now() > deadline:
                raise SimulatedBoardError(f"DMA channel at 0x{self._base:02x} did not leave halt")
            self._clock.pause(self._start_timeout_s)
        self._first_transfer = True

    def stop(self) -> None:
        self._mmio.write(self._base, 0x0)

    def transfer(self, array, start: int = 0, nbytes: int = 0) -> None:
        if not self.running:
            raise RuntimeError("DMA channel not started")
        if not self._first_transfer and not self.idle:
            raise RuntimeError("DMA channel not idle")
        if nbytes == 0:
            nbytes = array.nbytes - start
        if nbytes > self._max_size:
            raise ValueError(f"Transfer size is {nbytes} bytes, which exceeds the maximum DMA buffer size "
                             f"{self._max_size}.")
        addr = array.physical_address + start
        if addr % 4:
            raise RuntimeError("DMA does not support unaligned transfers; starting address must be aligned to 4 bytes.")
        if self._tx:
            array.flush()
        self.transferred = 0
        self._mmio.write(self._base + 0x18, addr & 0xFFFFFFFF)
        self._mmio.write(self._base + 0x1C, addr >> 32)
        self._mmio.write(self._base + 0x28, nbytes)
        self._active = array
        self._first_transfer = False

    def wait(self, timeout_s: float = 1.0) -> None:
        deadline = self._clock.now() + timeout_s
        while not self.idle:
            if self.error:
                raise RuntimeError(f"DMA error: DMASR=0x{self._sr():08x}")
            if self._clock.now() > deadline:
                raise TimeoutError(f"DMA channel at 0x{self._base:02x} not idle after {timeout_s} s")
            self._clock.pause(deadline - self._clock.now())
        if not self._tx and self._active is not None:
            self._active.invalidate()
        self.transferred = self._mmio.read(self._base + 0x28)
        self._active = None


class SimClock:
    def __init__(self, conn: _Connection, clock_mhz: float):
        self._conn, self.clock_mhz = conn, clock_mhz
        self.description = f"simulated time at the {clock_mhz:g} MHz board clock"

    def cycles(self) -> int:
        return int(self._conn.call("time")["cycles"])

    def now(self) -> float:
        return self.cycles() / (self.clock_mhz * 1e6)

    def pause(self, max_s: float) -> None:
        cycles = min(MAX_ADVANCE_CYCLES, max(1, math.ceil(max_s * self.clock_mhz * 1e6)))
        self._conn.call("advance", cycles=cycles, since=self._conn.seq)


# ----------------------------------------------------------------------------- back end
_live: "weakref.WeakSet[SimulatedBackend]" = weakref.WeakSet()


@atexit.register
def _close_all():
    for backend in list(_live):
        backend.close()


class SimulatedBackend:
    """The simulated board (see the module docstring).

    ``address``: connect to a running server instead of starting one; ``rtl_dir``/``build_dir``
    override the overlay folder's record; ``start_timeout_s`` covers a Verilator build;
    ``reply_timeout_s`` bounds every request in wall time; a server started here exits after
    ``idle_s`` without a request, or when this client disconnects."""

    min_timeout_s = 0.0
    reset_note = "holds ap_rst_n low and resets the DMA model; the simulated weight memories keep their contents"
    power_note = "power: not available on a simulated board"

    def __init__(self, overlay_dir: str | Path | None = None, *, address: str | None = None,
                 rtl_dir: str | Path | None = None, build_dir: str | Path | None = None,
                 start_timeout_s: float = 900.0, reply_timeout_s: float = 300.0, idle_s: float = 1800.0,
                 keep_run_dir: bool = False):
        self.memory = SimMemory()
        self.proc: subprocess.Popen | None = None
        self.run_dir: Path | None = None
        self._keep = keep_run_dir
        self._closed = False
        sim = {}
        if overlay_dir is not None:
            marker = Path(overlay_dir) / FILES["marker"]
            if marker.is_file():
                sim = json.loads(marker.read_text()).get("simulation") or {}
        rtl_dir = Path(rtl_dir or sim.get("rtl_dir") or "")
        build_dir = build_dir or sim.get("build_dir")
        address = address or os.environ.get("FSVAE_BOARD_SOCKET")
        if address:
            sock = self._connect(address, time.monotonic() + 10, None)
            where = f"server at {address}"
        else:
            if not (rtl_dir / "manifest.json").is_file():
                raise SimulatedBoardError(f"no RTL folder for the simulated board ({rtl_dir or 'none recorded'}): "
                                          f"{Path(overlay_dir or '.') / FILES['marker']} records it (write_overlay_files), "
                                          "or pass rtl_dir=")
            sock, where = self._start(rtl_dir, build_dir, sim.get("launcher"), sim.get("python"), start_timeout_s,
                                      idle_s)
        self.conn = _Connection(sock, self.memory, reply_timeout_s, where)
        hello = self.conn.call("hello", protocol=wire.PROTOCOL)
        self.info = hello
        self.clock_mhz = float(hello["clock_mhz"])
        self.max_transfer_bytes = int(hello.get("max_transfer_bytes", MAX_TRANSFER_BYTES))
        self.clock = SimClock(self.conn, self.clock_mhz)
        self.core = _CoreMMIO(self.conn)
        self.dma_mmio = _DmaMMIO(self.conn, self.memory)
        if hello.get("ddr"):
            self.memory.ddr_write = lambda addr, data: self.conn.call("ddr_write", data, address=int(addr))
            self.memory.ddr_free = self._ddr_free
        self._channels()
        _live.add(self)

    def _ddr_free(self, addr: int) -> None:
        if not self._closed:
            try:
                self.conn.call("ddr_free", address=int(addr))
            except SimulatedBoardError:
                pass                                 # the board is gone: nothing to free

    # -- server process
    def _start(self, rtl_dir: Path, build_dir, launcher, python, start_timeout_s, idle_s):
        launcher = Path(launcher) if launcher else None
        if launcher is None or not launcher.is_file():
            raise SimulatedBoardError(f"the simulated board's launcher ({launcher}) is not there: the overlay folder "
                                      "was written on another machine, or the repository moved; rewrite it "
                                      "(write_overlay_files) or start the server by hand and pass address=")
        python = python if python and Path(python).is_file() else sys.executable
        self.run_dir = Path(tempfile.mkdtemp(prefix="fsvae-board-"))
        sock_path = self.run_dir / "board.sock"
        self.log_path = self.run_dir / "server.log"
        cmd = [python, str(launcher), "--rtl", str(rtl_dir), "--socket", str(sock_path), "--once",
               "--run-dir", str(self.run_dir), "--idle", str(idle_s)]
        if build_dir:
            cmd += ["--build", str(build_dir)]
        env = {k: v for k, v in os.environ.items()
               if k != "PYTEST_CURRENT_TEST" and not k.startswith("COCOTB_") and k != "FSVAE_BOARD_SOCKET"}
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=env, start_new_session=True)
        sock = self._connect(str(sock_path), time.monotonic() + start_timeout_s, self.proc)
        return sock, f"server pid {self.proc.pid}, log {self.log_path}"

    def _log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(Path(self.log_path).read_text(errors="replace").splitlines()[-n:])
        except (OSError, AttributeError):
            return "(no log)"

    def _connect(self, path: str, deadline: float, proc) -> socket.socket:
        while True:
            if proc is not None and proc.poll() is not None:
                raise SimulatedBoardError(f"the simulated board exited (code {proc.returncode}) before it "
                                          f"listened on {path}; its log:\n{self._log_tail()}")
            if os.path.exists(path):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.connect(path)
                    return sock
                except OSError:
                    sock.close()
            if time.monotonic() > deadline:
                if proc is not None:
                    self._kill()
                raise SimulatedBoardError(f"no simulated board listening on {path} in time"
                                          + (f"; its log:\n{self._log_tail()}" if proc is not None else ""))
            time.sleep(0.1)

    def _kill(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)       # the launcher and its simulator: our process group
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    # -- the seam
    def _channels(self) -> None:
        self.sendchannel = SimDmaChannel(self.dma_mmio, MM2S_DMACR, True, self.max_transfer_bytes, self.clock)
        self.recvchannel = SimDmaChannel(self.dma_mmio, S2MM_DMACR, False, self.max_transfer_bytes, self.clock)

    def allocate(self, shape, dtype="u4") -> SimBuffer:
        return self.memory.allocate(shape, dtype)

    def power_sensors(self) -> dict:
        return {}

    def reprogram(self, cycles: int = 32) -> None:
        self.conn.call("reset", cycles=int(cycles))
        self._channels()

    def inject_fault(self, name: str, **params) -> None:
        self.conn.call("fault", name=name, params=params)

    def clear_faults(self) -> None:
        self.conn.call("fault", name=None, params={})

    def signals(self) -> dict:
        """Debug: the top's ports and run counters, read through the simulator."""
        return self.conn.call("signals")["signals"]

    def describe(self) -> str:
        return (f"simulated board: {self.info.get('top')} in Verilator at {self.clock_mhz:g} MHz "
                f"({self.conn.where})")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        conn = getattr(self, "conn", None)
        if conn is not None:
            try:
                if self.proc is not None:
                    conn.sock.settimeout(10)
                    conn.call("shutdown")
            except SimulatedBoardError:
                pass
            conn.sock.close()
        if self.proc is not None:
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._kill()
        if self.run_dir is not None and not self._keep:
            shutil.rmtree(self.run_dir, ignore_errors=True)
        _live.discard(self)
