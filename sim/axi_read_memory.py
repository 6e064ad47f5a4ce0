"""A DDR memory behind an AXI4 read port (AR and R channels only), for the cocotb benches.

:class:`AxiReadMemory` serves a DUT's AXI4 read master from a memory image, with what the
benches need to judge a streamer and that cocotbext-axi's AxiRam lacks: a latency, a
bandwidth cap, a limit on accepted bursts, random stalls on AR and R, counters, and checks
of the protocol rules the model can see.

Timing, in cycles of the DUT's clock (the model samples and drives at its rising edges, as
cocotbext-axi's models do):

* ``latency``: an AR accepted at edge ``c`` has its first R beat accepted at edge
  ``c + latency`` at the earliest (rvalid is driven from edge ``c + latency - 1``).  Later
  beats follow one per cycle, and a burst may start the cycle after the previous one's last
  beat when its own latency has passed (the bursts are pipelined).
* ``beats_per_cycle``: a token bucket caps the R beats at that many per cycle on average;
  tokens accrue every cycle, a beat spends one, and no more than one token is kept over an
  idle cycle, so any window of T cycles holds at most ``beats_per_cycle * T + 1`` beats.
  Default 0.75.  The assumption behind it: a Zynq-7000 HP port (64-bit, AXI3) read through
  the PYNQ-Z2's DDR3 (16-bit DDR3-1066, i.e. about 1066 MT/s * 2 bytes = 2.1 GB/s raw,
  shared with the processors) at a 100 MHz fabric clock peaks at 8 bytes * 100 MHz =
  800 MB/s; the commonly measured sustained figure for one HP port reading long bursts is
  about 600 MB/s, i.e. 0.75 beats per cycle.  A board measurement would replace this
  number; it is an assumption, not a datasheet value.
* ``latency`` default 60: an HP read through the AFI FIFOs, the DDR controller and DDR3 at
  100 MHz is of the order of 0.5-0.7 us from AR to first data (an assumption as well).
* ``max_outstanding``: AR is not ready while that many accepted bursts are not yet fully
  served (the HP port's read acceptance; default 8).
* pause generators (``arready_pause``, ``rvalid_pause``: iterables of bools, True = stall
  this cycle, e.g. ``common.random_pause``): arready is low, or no new R beat is started,
  in a stalled cycle.  A beat already on the bus stays until it is accepted (AXI rule);
  ``rready`` low simply holds it.

Responses are in order (a single ID), OKAY, except beats whose address lies in one of the
``slverr`` ranges ([start, end) byte addresses), which come with SLVERR (for error tests).

Checks (each raises :class:`AxiProtocolError`, which fails the cocotb test, and is kept in
``errors``): arburst not INCR; arsize not log2 of the data bytes; arlen above 255; a burst
crossing a 4 KB boundary; a burst reaching outside the image; an address not aligned to
the data width (not a protocol violation, but this model serves aligned bursts only);
arvalid dropped, or araddr/arlen/arsize/arburst changed, while arvalid was high and not
accepted; X/Z on arvalid, rready, or on an AR field at a handshake.

Counters: ``bursts``, ``beats``, ``bytes`` served; ``ar_cycles``, ``first_cycles`` and
``last_cycles``: the cycle of each burst's AR handshake, first and last R beat; ``cycle`` (rising edges
since the model started); ``max_outstanding_seen``.  Other AR signals of the DUT (arid,
arcache, arprot, ...) are ignored.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cocotb
from cocotb.triggers import RisingEdge


class AxiProtocolError(AssertionError):
    """An AXI rule broken by the DUT, as the model sees it."""


@dataclass
class _Burst:
    addr: int
    beats: int
    ready_cycle: int          # the first cycle whose edge may accept its first beat
    served: int = 0


class AxiReadMemory:
    """See the module docstring.  ``memory``: bytes-like image whose byte 0 is at ``base``
    (kept by reference when it is a bytearray, so the bench may change it between runs)."""

    def __init__(self, dut, prefix: str, clock, reset=None, memory: bytes | bytearray = b"",
                 base: int = 0, latency: int = 60, beats_per_cycle: float = 0.75,
                 max_outstanding: int = 8, arready_pause=None, rvalid_pause=None,
                 slverr: list[tuple[int, int]] | None = None, reset_active_level: bool = True):
        assert latency >= 1, "latency counts cycles from AR to the first R beat: at least 1"
        assert 0 < beats_per_cycle <= 1, "beats_per_cycle: a fraction of the one beat a cycle"
        assert max_outstanding >= 1
        self.dut = dut
        self.clock = clock
        self.reset = reset
        self.reset_level = int(reset_active_level)
        self.memory = memory if isinstance(memory, bytearray) else bytearray(memory)
        self.base = base
        self.latency = latency
        self.beats_per_cycle = beats_per_cycle
        self.max_outstanding = max_outstanding
        self.arready_pause = iter(arready_pause) if arready_pause is not None else None
        self.rvalid_pause = iter(rvalid_pause) if rvalid_pause is not None else None
        self.slverr = list(slverr or [])

        def sig(name):            # lower-case names, or Vitis's upper-case ones (m_axi_gmem_ARADDR)
            return getattr(dut, f"{prefix}_{name}") if hasattr(dut, f"{prefix}_{name}") \
                else getattr(dut, f"{prefix}_{name.upper()}")
        def optional(name):       # arsize / arburst: a port without them has them constant (the top drives them)
            return sig(name) if hasattr(dut, f"{prefix}_{name}") or hasattr(dut, f"{prefix}_{name.upper()}") else None
        self.araddr, self.arlen, self.arsize, self.arburst = sig("araddr"), sig("arlen"), optional("arsize"), \
            optional("arburst")
        self.arvalid, self.arready = sig("arvalid"), sig("arready")
        self.rdata, self.rresp, self.rlast = sig("rdata"), sig("rresp"), sig("rlast")
        self.rvalid, self.rready = sig("rvalid"), sig("rready")
        self.data_bytes = len(self.rdata) // 8
        assert self.data_bytes * 8 == len(self.rdata) and self.data_bytes & (self.data_bytes - 1) == 0
        self.size = self.data_bytes.bit_length() - 1

        self.errors: list[str] = []
        self.bursts = self.beats = self.bytes = 0
        self.ar_cycles: list[int] = []
        self.first_cycles: list[int] = []
        self.last_cycles: list[int] = []
        self.max_outstanding_seen = 0
        self.cycle = 0
        self._clear_state()
        self.arready.value = 0
        self.rvalid.value = 0
        self.rlast.value = 0
        self.rresp.value = 0
        self.rdata.value = 0
        self._task = cocotb.start_soon(self._run())

    # ------------------------------------------------------------------ public
    def set_arready_pause_generator(self, generator=None):
        self.arready_pause = iter(generator) if generator is not None else None

    def set_rvalid_pause_generator(self, generator=None):
        self.rvalid_pause = iter(generator) if generator is not None else None

    def clear_counters(self):
        self.bursts = self.beats = self.bytes = 0
        self.ar_cycles, self.first_cycles, self.last_cycles = [], [], []
        self.max_outstanding_seen = 0

    @property
    def idle(self) -> bool:
        """No burst accepted and not yet fully served."""
        return not self._queue and not self._rvalid

    def check(self):
        """Raise if any protocol check failed (they also raise in the model's task)."""
        if self.errors:
            raise AxiProtocolError("; ".join(self.errors))

    # ------------------------------------------------------------------ internals
    def _clear_state(self):
        self._queue: deque[_Burst] = deque()      # accepted bursts, in order
        self._arready = False                     # what the model drives this cycle
        self._rvalid = False
        self._tokens = 1.0
        self._ar_pending = None                   # AR fields seen valid and not accepted

    def _fail(self, msg: str):
        msg = f"{self.dut._name} AXI read, cycle {self.cycle}: {msg}"
        self.errors.append(msg)
        raise AxiProtocolError(msg)

    def _int(self, signal, what: str) -> int:
        v = signal.value
        if not v.is_resolvable:
            self._fail(f"{what} is {v}")
        return int(v)

    def _in_reset(self) -> bool:
        if self.reset is None:
            return False
        v = self.reset.value
        return v.is_resolvable and int(v) == self.reset_level

    def _check_ar(self, addr: int, length: int, size: int, burst: int) -> int:
        beats = length + 1
        nbytes = beats * self.data_bytes
        if burst != 1:
            self._fail(f"arburst {burst}: only INCR (1) is served")
        if size != self.size:
            self._fail(f"arsize {size}: the data bus is {self.data_bytes} bytes (arsize {self.size})")
        if length > 255:
            self._fail(f"arlen {length} > 255")
        if addr % self.data_bytes:
            self._fail(f"araddr {addr:#x} not aligned to {self.data_bytes} bytes")
        if (addr & 0xFFF) + nbytes > 0x1000:
            self._fail(f"burst at {addr:#x} of {beats} beats crosses a 4 KB boundary")
        if addr < self.base or addr + nbytes > self.base + len(self.memory):
            self._fail(f"burst at {addr:#x} of {beats} beats outside the image "
                       f"[{self.base:#x}, {self.base + len(self.memory):#x})")
        return beats

    def _drive_beat(self, burst: _Burst):
        addr = burst.addr + burst.served * self.data_bytes
        off = addr - self.base
        self.rdata.value = int.from_bytes(self.memory[off:off + self.data_bytes], "little")
        self.rlast.value = int(burst.served == burst.beats - 1)
        self.rresp.value = 2 if any(a <= addr < b for a, b in self.slverr) else 0
        self.rvalid.value = 1
        self._rvalid = True

    async def _run(self):
        while True:
            await RisingEdge(self.clock)
            self.cycle += 1
            if self._in_reset():
                self._clear_state()
                self.arready.value = 0
                self.rvalid.value = 0
                continue

            # --- this edge's handshakes (the values sampled at the edge)
            arvalid = self._int(self.arvalid, "arvalid")
            if arvalid:
                fields = (self._int(self.araddr, "araddr"), self._int(self.arlen, "arlen"),
                          self.size if self.arsize is None else self._int(self.arsize, "arsize"),
                          1 if self.arburst is None else self._int(self.arburst, "arburst"))
                if self._ar_pending is not None and fields != self._ar_pending:
                    self._fail(f"AR changed while waiting for arready: {self._ar_pending} -> {fields} "
                               "(addr, len, size, burst)")
                if self._arready:
                    beats = self._check_ar(*fields)
                    self._queue.append(_Burst(fields[0], beats, self.cycle + self.latency))
                    self.bursts += 1
                    self.ar_cycles.append(self.cycle)
                    self.max_outstanding_seen = max(self.max_outstanding_seen, len(self._queue))
                    self._ar_pending = None
                else:
                    self._ar_pending = fields
            elif self._ar_pending is not None:
                self._fail(f"arvalid dropped before the AR {self._ar_pending} was accepted")

            if self._rvalid and self._int(self.rready, "rready"):
                burst = self._queue[0]
                if burst.served == 0:
                    self.first_cycles.append(self.cycle)
                burst.served += 1
                self.beats += 1
                self.bytes += self.data_bytes
                self._rvalid = False
                if burst.served == burst.beats:
                    self._queue.popleft()
                    self.last_cycles.append(self.cycle)

            # --- what to drive until the next edge
            self._tokens = min(self._tokens + self.beats_per_cycle, 1.0 + self.beats_per_cycle)
            if not self._rvalid:
                paused = next(self.rvalid_pause) if self.rvalid_pause is not None else False
                head = self._queue[0] if self._queue else None
                if head is not None and not paused and self._tokens >= 1.0 \
                        and self.cycle + 1 >= head.ready_cycle:
                    self._tokens -= 1.0
                    self._drive_beat(head)
                else:
                    self.rvalid.value = 0
            # an idle cycle keeps at most one token for the next
            self._tokens = min(self._tokens, 1.0)

            paused = next(self.arready_pause) if self.arready_pause is not None else False
            self._arready = len(self._queue) < self.max_outstanding and not paused
            self.arready.value = int(self._arready)
