"""The simulated PYNQ board: a cocotb test module that runs the generated accelerator top in
Verilator behind an AXI DMA model and serves it over a Unix socket, so that the board driver
(sw/fsvae_fpga/board/, through simulated.py) runs unchanged against the RTL from any Python
process, a notebook kernel included.  Started by launch.py (cocotb's Python runner).

Environment: FSVAE_BOARD_SOCKET (path to listen on), FSVAE_BOARD_CLOCK_MHZ (the board's
clock, manifest clock_mhz), FSVAE_BOARD_ONCE=1 (exit when the first client leaves),
FSVAE_BOARD_IDLE_S (exit after this long without a request; default 3600), FSVAE_BOARD_DDR
(JSON: the manifest's weight_stream port and memory_model, for designs that stream weights).

Protocol (framing in sw/fsvae_fpga/board/wire.py: length-prefixed JSON header + raw bytes).
Requests ("op" and fields) and what the reply adds to {"ok", "seq", "cycles"}:

    hello    {protocol}                       clock_mhz, period_ps, top, addr_bits, max_transfer_bytes, ddr
    read     {space: core|dma, offset}        value      (core: an AXI-Lite read on s_axi_control)
    write    {space, offset, value, [decode_error]}   payload: for dma MM2S_LENGTH, the bytes to send
    time     {}                               (cycles)
    advance  {cycles, [since]}                ran: run for cycles, or until an event numbered above
                                              since (at once if one already is)
    reset    {cycles}                         ap_rst_n low for cycles (>= 16) and a DMA reset
    fault    {name|null, params}              inject (stall_out_r {after_words}, drop_s2mm_start) or clear
    ddr_write {address}                       payload: bytes the simulated DDR holds from address on
                                              (the client's flush() of a buffer; only where ddr)
    ddr_free {address}                        forget the bytes written at address (buffer freed)
    signals  {}                               signals: ports and perf_* counters
    shutdown {}                               the server ends after the reply

Every reply carries the S2MM transfers finished since the previous reply, "s2mm":
[[address, nbytes], ...], their bytes in order as the payload.  "seq" counts events (a DMA
transfer ends, a DMA error, ap_idle rises); "cycles" is the simulated ap_clk count.

The AXI DMA model keeps PG021's direct-register-mode map (DMACR 0x00/0x30, DMASR 0x04/0x34,
SA 0x18/0x1C, DA 0x48/0x4C, LENGTH 0x28/0x58): RS starts a channel (Halted clears), a LENGTH
write starts a transfer (Idle clears), MM2S sends ceil(n/4) words with TLAST on the last, S2MM
takes TREADY high only while a transfer is armed and ends at TLAST (LENGTH then reads the bytes
received) or, when the buffer fills first, with DMAIntErr and a halt.  A source address
outside every buffer gives DMADecErr.  IOC_Irq/Err_Irq are set (write 1 to clear).

DDR (designs whose top has the AXI4 read master m_axi_gmem, manifest weight_stream): the
model sim/axi_read_memory.py (AxiReadMemory, with the manifest's latency and bandwidth) serves
the core's reads from the buffers the client flushed, at their physical addresses; a beat at
an address no flushed buffer covers comes back zero with SLVERR (the core flags its error).
hello's "ddr" tells the client to send its flushes.

Time: while a DMA transfer is in flight, or the core computes without waiting for the host,
the server advances the clock in chunks between requests; otherwise it blocks on the socket.

Size: the server is one file so that the simulated board's launcher can run it alone in its
own process next to the Verilator model; the protocol, the clocking and the DMA model are
sections of it.
"""
from __future__ import annotations

import json
import os
import select
import socket
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for _p in (ROOT / "sim", ROOT / "sw"):      # the simulator process does not run conftest.py
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import numpy as np  # noqa: E402

from fsvae_fpga.board import wire  # noqa: E402

CHUNK_CYCLES = 200                # autonomous advance between socket polls
IDLE_POLL_CYCLES = 100            # ap_idle sampled this often while advancing (done-time resolution)
AUTONOMOUS_WALL_S = 60.0          # stop advancing on our own after this long without a request
MAX_TRANSFER_BYTES = (1 << 26) - 1
DMAINTERR, DMASLVERR, DMADECERR = 1 << 4, 1 << 5, 1 << 6
IOC_IRQ, ERR_IRQ = 1 << 12, 1 << 14


if os.environ.get("COCOTB_TEST_MODULES") or os.environ.get("MODULE"):
    import cocotb
    from cocotb.clock import Clock
    from cocotb.simtime import get_sim_time
    from cocotb.triggers import Event, First, RisingEdge, Timer
    from lean_axil import LeanAxiLite

    class SparseDdr:
        """The simulated DDR as AxiReadMemory reads it (len() and byte slices from address 0):
        the buffers the client flushed, at their physical addresses; zeros elsewhere.  The
        uncovered ranges (``holes``) answer with SLVERR."""

        def __init__(self, addr_bits: int):
            self.size = 1 << addr_bits
            self.regions: dict[int, bytearray] = {}

        def __len__(self) -> int:
            return self.size

        def write(self, addr: int, data: bytes) -> None:
            if addr < 0 or addr + len(data) > self.size:
                raise ValueError(f"DDR write at 0x{addr:x} of {len(data)} bytes: outside the core's "
                                 f"{self.size.bit_length() - 1}-bit addresses")
            for base, buf in self.regions.items():
                if base <= addr and addr + len(data) <= base + len(buf):
                    buf[addr - base:addr - base + len(data)] = data
                    return
            self.regions = {b: r for b, r in self.regions.items()
                            if b + len(r) <= addr or addr + len(data) <= b}      # overwritten buffers go
            self.regions[addr] = bytearray(data)

        def free(self, addr: int) -> None:
            self.regions.pop(addr, None)

        def holes(self) -> list[tuple[int, int]]:
            out, at = [], 0
            for base in sorted(self.regions):
                if base > at:
                    out.append((at, base))
                at = max(at, base + len(self.regions[base]))
            if at < self.size:
                out.append((at, self.size))
            return out

        def __getitem__(self, s: slice) -> bytes:
            start, stop = s.start, s.stop
            out = bytearray(stop - start)
            for base, buf in self.regions.items():
                lo, hi = max(start, base), min(stop, base + len(buf))
                if lo < hi:
                    out[lo - start:hi - start] = buf[lo - base:hi - base]
            return bytes(out)

    class Channel:
        """One AXI DMA channel in direct register mode (register map in the module docstring)."""

        def __init__(self, board, name: str):
            self.board, self.name = board, name
            self.task = None
            self.clear()

        def clear(self):
            if self.task is not None and not self.task.done():
                self.task.cancel()
            self.task = None
            self.rs = False
            self.idle = False
            self.err = self.irq = 0
            self.cr_bits = 0
            self.addr = [0, 0]
            self.length = 0
            self.active = False

        def sr(self) -> int:
            return (0 if self.rs else 1) | (2 if self.idle else 0) | self.err | self.irq

        def read(self, reg: int) -> int:
            return {0x00: 0x00010002 | self.cr_bits | int(self.rs), 0x04: self.sr(), 0x18: self.addr[0],
                    0x1C: self.addr[1], 0x28: self.length}.get(reg, 0)

        def write(self, reg: int, value: int, payload: bytes, decode_error: bool) -> None:
            if reg == 0x00:
                if value & 0x4:                       # soft reset: both channels
                    self.board.dma_reset()
                    return
                self.cr_bits = value & 0xFFFF7FF0 & ~0x4
                if value & 1 and not self.rs and not self.err:
                    self.rs = True
                elif not value & 1 and self.rs:
                    self.rs = False                   # stop: abort what is in flight
                    self.abort()
            elif reg == 0x04:
                self.irq &= ~(value & (IOC_IRQ | ERR_IRQ | 1 << 13))
            elif reg in (0x18, 0x1C):
                self.addr[reg == 0x1C] = value
            elif reg == 0x28:
                if not self.rs or self.active or not value & 0x3FFFFFF:
                    return                            # halted: no effect (PG021); busy: ignored
                self.length = value & 0x3FFFFFF
                self.start(payload, decode_error)

        def abort(self):
            if self.task is not None and not self.task.done():
                self.task.cancel()
            self.task = None
            self.active = False
            self.board.idle_streams()

        def fail(self, bit: int):
            self.err |= bit
            self.irq |= ERR_IRQ
            self.rs = False                           # an error halts the channel
            self.active = False
            self.board.notify()

        def finish(self):
            self.active = False
            self.idle = True
            self.irq |= IOC_IRQ
            self.board.notify()

    class Mm2s(Channel):
        def start(self, payload: bytes, decode_error: bool):
            if decode_error or len(payload) != self.length:
                self.fail(DMADECERR)
                return
            self.idle, self.active = False, True
            self.task = cocotb.start_soon(self.send(payload))

        async def send(self, payload: bytes):
            dut, clk = self.board.dut, self.board.dut.ap_clk
            tail = len(payload) % 4
            words = np.frombuffer(payload + bytes(-len(payload) % 4), dtype="<u4")
            n = len(words)

            def drive(i):
                dut.in_r_TDATA.value = int(words[i])
                dut.in_r_TLAST.value = int(i == n - 1)
                if self.board.has_keep:
                    keep = (1 << tail) - 1 if (i == n - 1 and tail) else 0xF
                    dut.in_r_TKEEP.value = keep
                    dut.in_r_TSTRB.value = keep

            drive(0)
            dut.in_r_TVALID.value = 1
            i = 0
            while True:
                await RisingEdge(clk)
                if int(dut.in_r_TREADY.value):
                    i += 1
                    if i == n:
                        break
                    drive(i)
                else:
                    await RisingEdge(dut.in_r_TREADY)
            dut.in_r_TVALID.value = 0
            dut.in_r_TLAST.value = 0
            self.finish()

    class S2mm(Channel):
        # offsets relative to 0x30: DA 0x48/0x4C and LENGTH 0x58 land on MM2S's 0x18/0x1C/0x28
        def write(self, reg: int, value: int, payload: bytes, decode_error: bool) -> None:
            if reg == 0x28 and "drop_s2mm_start" in self.board.faults:
                return
            super().write(reg, value, payload, decode_error)

        def start(self, payload: bytes, decode_error: bool):
            self.idle, self.active = False, True
            self.dest = self.addr[0] | self.addr[1] << 32
            self.task = cocotb.start_soon(self.receive(self.length))

        async def receive(self, capacity: int):
            board = self.board
            dut, clk = board.dut, board.dut.ap_clk
            stall = board.faults.get("stall_out_r")
            stall_after = None if stall is None else int(stall.get("after_words", 0))
            words, last = [], 0
            if stall_after == 0:
                await Event().wait()                  # never ready: cancelled by a reset
            dut.out_r_TREADY.value = 1
            while True:
                await RisingEdge(clk)
                if int(dut.out_r_TVALID.value) and int(dut.ap_rst_n.value):
                    words.append(int(dut.out_r_TDATA.value))
                    last = int(dut.out_r_TLAST.value)
                    if last or 4 * len(words) >= capacity:
                        break
                    if stall_after is not None and len(words) >= stall_after:
                        dut.out_r_TREADY.value = 0
                        await Event().wait()
                elif not int(dut.out_r_TVALID.value):
                    await RisingEdge(dut.out_r_TVALID)
            dut.out_r_TREADY.value = 0
            data = np.asarray(words, dtype="<u4").tobytes()[:capacity]
            board.completions.append((self.dest, data))
            self.length = len(data)
            if last:
                self.finish()
            else:                                     # buffer full before TLAST
                self.fail(DMAINTERR)

    class Board:
        def __init__(self, dut, clock_mhz: float):
            self.dut = dut
            self.clock_mhz = clock_mhz
            self.period_ps = 2 * round(1e6 / clock_mhz / 2)
            Clock(dut.ap_clk, self.period_ps, unit="ps").start()
            self.axil = LeanAxiLite(dut)
            self.has_keep = hasattr(dut, "in_r_TKEEP")
            self.has_idle = hasattr(dut, "ap_idle")
            dut.in_r_TVALID.value = 0
            dut.in_r_TDATA.value = 0
            dut.in_r_TLAST.value = 0
            if self.has_keep:
                dut.in_r_TKEEP.value = 0xF
                dut.in_r_TSTRB.value = 0xF
            dut.out_r_TREADY.value = 0
            self.event = Event()
            self.seq = 0
            self.faults: dict[str, dict] = {}
            self.completions: list[tuple[int, bytes]] = []
            self.mm2s, self.s2mm = Mm2s(self, "MM2S"), S2mm(self, "S2MM")
            self.t0 = get_sim_time("ps")
            self.last_idle = 1
            self.ddr, self.ddr_memory = self.attach_ddr()

        def attach_ddr(self):
            """The DDR model behind m_axi_gmem, where the design has that port (weight_stream)."""
            spec = json.loads(os.environ.get("FSVAE_BOARD_DDR") or "null") or {}
            port = spec.get("port", "m_axi_gmem")
            if not hasattr(self.dut, f"{port}_ARADDR"):
                return None, None
            from axi_read_memory import AxiReadMemory
            model = spec.get("memory_model") or {}
            memory = SparseDdr(len(getattr(self.dut, f"{port}_ARADDR")))
            ddr = AxiReadMemory(self.dut, port, self.dut.ap_clk, self.dut.ap_rst_n,
                                latency=int(model.get("latency_cycles", 60)),
                                beats_per_cycle=float(model.get("beats_per_cycle", 0.75)),
                                reset_active_level=False)
            ddr.memory, ddr.base = memory, 0          # read by reference: the flushed buffers
            ddr.slverr = memory.holes()
            return ddr, memory

        def check_idle(self) -> None:
            """ap_idle rising is an event.  Polled (every IDLE_POLL_CYCLES while advancing):
            Verilator's value-change callbacks do not fire for this internal net."""
            if self.has_idle:
                idle = int(self.dut.ap_idle.value)
                if idle and not self.last_idle:
                    self.notify()
                self.last_idle = idle

        def notify(self):
            self.seq += 1
            self.event.set()

        def cycles(self) -> int:
            return int((get_sim_time("ps") - self.t0) // self.period_ps)

        def idle_streams(self):
            self.dut.in_r_TVALID.value = 0
            self.dut.in_r_TLAST.value = 0
            self.dut.out_r_TREADY.value = 0

        def dma_reset(self):
            self.mm2s.clear()
            self.s2mm.clear()
            self.idle_streams()

        async def reset(self, cycles: int):
            self.dma_reset()
            self.dut.ap_rst_n.value = 0
            for _ in range(max(16, cycles)):
                await RisingEdge(self.dut.ap_clk)
            self.dut.ap_rst_n.value = 1
            for _ in range(2):
                await RisingEdge(self.dut.ap_clk)
            self.completions.clear()
            self.notify()

        def autonomous(self) -> bool:
            """Advance without a request: a DMA transfer in flight, or the core computing
            (not just waiting for the host to arm a DMA transfer)."""
            if self.mm2s.active or self.s2mm.active:
                return True
            if not self.has_idle or int(self.dut.ap_idle.value):
                return False
            waits_for_host = int(self.dut.out_r_TVALID.value) or int(self.dut.in_r_TREADY.value)
            return not waits_for_host

        async def advance(self, cycles: int, since: int | None) -> int:
            start = self.cycles()
            self.check_idle()
            if since is not None and self.seq > since:
                return 0
            self.event.clear()
            end = start + max(1, cycles)
            while not self.event.is_set():
                left = end - self.cycles()
                if left <= 0:
                    break
                await First(Timer(min(left, IDLE_POLL_CYCLES) * self.period_ps, unit="ps"), self.event.wait())
                self.check_idle()
            return self.cycles() - start

        def signals(self) -> dict:
            out = {}
            for h in self.dut:
                name = h._name
                if name.startswith(("perf_", "s_axi", "in_r", "out_r", "ap_", "interrupt", "m_axi")):
                    try:
                        out[name] = int(h.value)
                    except (ValueError, TypeError):
                        out[name] = str(h.value)
            return out

        async def handle(self, req: dict, payload: bytes) -> tuple[dict, bool]:
            op = req.get("op")
            if op == "hello":
                return {"protocol": wire.PROTOCOL, "clock_mhz": self.clock_mhz, "period_ps": self.period_ps,
                        "top": self.dut._name, "addr_bits": self.axil.addr_bits,
                        "max_transfer_bytes": MAX_TRANSFER_BYTES, "ddr": self.ddr is not None}, False
            if op == "read":
                off = int(req["offset"])
                if req["space"] == "core":
                    return {"value": await self.axil.read_dword(off)}, False
                ch = self.mm2s if off < 0x30 else self.s2mm
                return {"value": ch.read(off if off < 0x30 else off - 0x30)}, False
            if op == "write":
                off, value = int(req["offset"]), int(req["value"])
                if req["space"] == "core":
                    await self.axil.write_dword(off, value)
                else:
                    ch = self.mm2s if off < 0x30 else self.s2mm
                    ch.write(off if off < 0x30 else off - 0x30, value, payload, bool(req.get("decode_error")))
                return {}, False
            if op == "time":
                return {}, False
            if op == "advance":
                since = req.get("since")
                return {"ran": await self.advance(int(req["cycles"]), None if since is None else int(since))}, False
            if op == "reset":
                await self.reset(int(req.get("cycles", 32)))
                return {}, False
            if op == "fault":
                if req.get("name"):
                    self.faults[req["name"]] = dict(req.get("params") or {})
                else:
                    self.faults.clear()
                return {"faults": sorted(self.faults)}, False
            if op in ("ddr_write", "ddr_free"):
                if self.ddr is None:
                    raise ValueError("this design has no DDR port (m_axi_gmem): nothing to write")
                addr = int(req["address"])
                if op == "ddr_write":
                    self.ddr_memory.write(addr, payload)
                else:
                    self.ddr_memory.free(addr)
                self.ddr.slverr = self.ddr_memory.holes()
                return {"ddr_bytes": sum(len(r) for r in self.ddr_memory.regions.values())}, False
            if op == "signals":
                return {"signals": self.signals()}, False
            if op == "shutdown":
                return {}, True
            raise ValueError(f"unknown op {op!r}")

        def reply(self, fields: dict, seq: int) -> tuple[dict, bytes]:
            """``seq``: the events counted before the request began, so that an event during
            the request (which the reply's values may predate) ends the next advance at once."""
            self.check_idle()
            done, self.completions = self.completions, []
            header = {"ok": True, "seq": seq, "cycles": self.cycles(), **fields,
                      "s2mm": [[addr, len(data)] for addr, data in done]}
            return header, b"".join(data for _, data in done)

    async def serve_client(board: Board, conn: socket.socket, idle_s: float, log) -> bool:
        """Serve one client; True: shut the server down."""
        last = time.monotonic()
        while True:
            if board.autonomous() and time.monotonic() - last < AUTONOMOUS_WALL_S:
                ready, _, _ = select.select([conn], [], [], 0)
                if not ready:
                    await Timer(CHUNK_CYCLES * board.period_ps, unit="ps")
                    board.check_idle()
                    continue
            else:
                ready, _, _ = select.select([conn], [], [], idle_s)   # the simulation waits here
                if not ready:
                    log.info("no request for %g s: shutting down", idle_s)
                    return True
            try:
                msg = wire.recv(conn)
            except (OSError, wire.WireError) as e:
                log.info("client lost: %s", e)
                return False
            if msg is None:
                return False
            last = time.monotonic()
            req, payload = msg
            stop = False
            board.check_idle()
            seq = board.seq
            try:
                fields, stop = await board.handle(req, payload)
                header, data = board.reply(fields, seq if req.get("op") != "advance" else board.seq)
            except Exception as e:             # report to the client, keep serving
                log.warning("request %s failed:\n%s", req.get("op"), traceback.format_exc())
                header, data = board.reply({}, seq)
                header.update(ok=False, error=f"{req.get('op')}: {type(e).__name__}: {e}")
            try:
                wire.send(conn, header, data)
            except OSError as e:
                log.info("client lost: %s", e)
                return False
            if stop:
                return True

    @cocotb.test()
    async def serve(dut):
        """Serve the board on FSVAE_BOARD_SOCKET until shut down."""
        path = os.environ["FSVAE_BOARD_SOCKET"]
        once = os.environ.get("FSVAE_BOARD_ONCE") == "1"
        idle_s = float(os.environ.get("FSVAE_BOARD_IDLE_S", "3600"))
        board = Board(dut, float(os.environ["FSVAE_BOARD_CLOCK_MHZ"]))
        await board.reset(32)
        if os.path.exists(path):
            os.unlink(path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(1)
        dut._log.info("simulated board listening on %s (%g MHz)", path, board.clock_mhz)
        try:
            while True:
                ready, _, _ = select.select([listener], [], [], idle_s)
                if not ready:
                    dut._log.info("no client for %g s: shutting down", idle_s)
                    break
                conn, _ = listener.accept()
                try:
                    stop = await serve_client(board, conn, idle_s, dut._log)
                finally:
                    conn.close()
                if stop or once:
                    break
                board.dma_reset()               # a new client finds the DMA as after power-up
                if board.ddr_memory is not None:
                    board.ddr_memory.regions.clear()    # and none of the last client's buffers in DDR
                    board.ddr.slverr = board.ddr_memory.holes()
        finally:
            listener.close()
            if os.path.exists(path):
                os.unlink(path)
