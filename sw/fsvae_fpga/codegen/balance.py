"""Per-layer lanes and engine copies from the model's measured events (hw/boards.yaml ``balance``).

The layers of the RTL design run concurrently, so the slowest one sets the pace.  A layer's
cycles per image follow from its traffic (the golden model's, ``stats.layer_stats`` on
``images`` generated images from ``seed``: event accumulates A and neuron updates U per
image) and its engines: a linear layer takes (A + U) / P (one event: COUT / P cycles; the
update: COUT / P a step); a transposed conv with R copies A / (P R) + U / P (the events are
dealt to the copies, but every copy reads all of its currents out each step); the output
stage's cycles follow from its source layer's lanes (``latency.output_sum_cycles``: fewer
channel groups a mask word with more lanes).

The prior's layers are one unit: the latent loop runs them one after another within a step
(z_t is the input of the prior's next step), so the unit's bound is the sum of theirs.

``plan_lanes`` deals a budget of lanes (``balance.lanes``: lanes x copies summed over the
layers' engines, a proxy for the datapath's LUTs) one doubling at a time to the unit whose
bound is the largest, and in it to the layer whose bound is the largest: its lanes double
while they still divide its output channels; when they cannot, or doubling them would not
pay or fit (below), a transposed conv on a board that allows it gets one more engine copy
instead.  A layer's
lanes stop growing at ``balance.max_lanes`` (the width of its weight memory: lanes x weight
bits), its copies at ``balance.max_copies``, and a layer stops growing when no step would
lower its cycles by ``balance.min_gain`` (10 %: a copy does not shorten the read-out of the
currents, so copies pay less and less) and stay within the lane budget and the memories
below; another layer of its unit may still grow.  Every layer starts at one lane.  The slowest layer's bound is then as low as this
budget and these power-of-two steps allow, and the other layers keep slack below it.  A
layer whose weights are UltraRAM (run-time loaded, weight_memory.style ultra) starts at the
lanes that fill most of its 72-bit word (8 lanes of 8 bits): with fewer, each UltraRAM holds
a narrower, deeper slice and the memory takes more of them for the same bits.  A step that
would take the UltraRAM weight memories past the board's UltraRAMs (each memory 72 bits x
4,096 a block: ``hls_memory.uram_blocks``; one memory per pair of copies, which read it
through its two ports, fsvae_weight_mem_pair) is not taken: that layer stops growing;
so is a step that would take the layers' state memories and block-RAM weight ROMs past the
board's block RAM (each engine copy of a transposed conv holds a current for every neuron of
its layer, BRAM18 counted by ``rtl_memory.layer_state_bram18``, and the layer's weight ROM,
one two-port ROM per pair of copies, unless the weights are UltraRAM or LUTs: ``weight_roms``,
``weight_rom_bram18``; against ``memory_budget``
of the board's block RAM, ``bram18_cap``; a board whose block RAM cannot hold them even at
the first lanes keeps those, and the back end's fit check says what is short).

With ``balance.event_pairs`` a linear layer whose lanes cannot double (``max_lanes``, or its
UltraRAM would not fit) may scatter its events two at a time instead (fsvae_lif_linear PAIRS
in the RTL, lif_linear_step_pairs in HLS: the two ports of its weight memory, so no memory
more): its accumulates take half the
cycles, its update the same; counted as twice its lanes in the lane budget.  This is what
lets prior.2, whose 64 lanes at 128 would need 5 UltraRAM more than the KV260 has, stop
setting the pace of the latent loop.

``resolve(hw, board)`` returns the board with ``layer_lanes`` and ``replicas`` filled in from
that plan (and ``balanced``: what was measured and chosen, for the manifest and the
reports); a board without ``balance`` is returned as it is.  ``describe`` resolves the board
it is given, and the writers pass the resolved board on, so every back end and the cycle
model see the same lanes.  A board that sets ``balance`` may not also set ``layer_lanes`` or
``replicas`` by hand.
"""
from __future__ import annotations

import math

from fsvae_fpga.contract.hwmodel import HwModel

DEFAULTS = {"images": 8, "seed": 0, "max_lanes": 128, "max_copies": 8, "copies": True, "min_gain": 0.1,
            "state_lutram_luts": 0, "dense": False, "dense_pes": 1024, "slack": False, "event_pairs": False}

_STATS: dict[tuple, list[dict]] = {}     # (model identity, images, seed) -> stats rows


def settings(board: dict) -> dict | None:
    b = board.get("balance")
    if not b:
        return None
    from fsvae_fpga.codegen.design import CodegenError
    s = {**DEFAULTS, **b}
    if not isinstance(s.get("lanes"), int) or s["lanes"] < 1:
        raise CodegenError(f"{board['name']}: balance.lanes must be a positive lane budget, got {b.get('lanes')!r}")
    if not isinstance(s["event_pairs"], bool):
        raise CodegenError(f"{board['name']}: balance.event_pairs must be true or false, got {b.get('event_pairs')!r}")
    for key in ("layer_lanes", "replicas", "lutram_copies", "dense_layers", "dense_tiles", "event_pairs"):
        if board.get(key):
            raise CodegenError(f"{board['name']}: balance chooses {key} from the measured events; remove {key} "
                               "from the board or remove balance")
    return s


def _measured(hw: HwModel, images: int, seed: int) -> tuple[dict[str, float], dict[str, float]]:
    """Per layer of the generation pass, per image: event accumulates, neuron updates."""
    from fsvae_fpga.contract import stats
    key = (hw.desc.get("identity") or id(hw), images, seed)
    if key not in _STATS:
        _STATS[key] = stats.layer_stats(hw, "generate", images, seed)
    rows = _STATS[key]
    return ({r["layer"]: float(r["event_accumulates"]) for r in rows},
            {r["layer"]: float(r["neuron_updates"]) for r in rows})


def _output_cycles(hw: HwModel, source_lanes: int) -> float:
    from fsvae_fpga.codegen.latency import output_sum_cycles
    layer = hw.layer("output")
    cin, ih, iw = layer["in_shape"]
    groups = cin // source_lanes
    pixels = int(math.prod(layer["out_shape"]))
    return output_sum_cycles(hw.T, ih * iw * groups, pixels, layer["kernel_size"], groups)


def _first_lanes(hw: HwModel, name: str, word_bits: int) -> int:
    """The most lanes, a power of two dividing the layer's output channels, whose weights fit in
    ``word_bits`` (at least 1)."""
    layer = hw.layer(name)
    p = 1
    while layer["out_shape"][0] % (2 * p) == 0 and 2 * p * layer["weight"]["bits"] <= word_bits:
        p *= 2
    return p


def dense_candidates(hw: HwModel, board: dict, ultra: set[str]) -> list[str]:
    """The transposed convs that may run on the dense engine (fsvae_convt_dense): fed by a
    transposed conv's LIF update (which can hand it spike masks; decoder_fc sends events),
    weights in a ROM (its weight word is a whole kernel row of every output channel: not a
    memory loaded at run time or streamed), one engine (no fused membranes)."""
    if board.get("weight_stream") or board.get("fused_membranes"):
        return []
    convs = hw.names("decoder")[1:]
    return [n for i, n in enumerate(convs) if i > 0 and n not in ultra]


def dense_lanes(hw: HwModel, name: str, max_lanes: int) -> int:
    """A dense layer's output lanes (current words of P channels to its LIF update): all its
    channels, up to max_lanes (a power of two dividing them)."""
    cout, p = hw.layer(name)["out_shape"][0], 1
    while cout % (2 * p) == 0 and 2 * p <= max_lanes:
        p *= 2
    return p


def dense_cycles(hw: HwModel, name: str, lanes: int, in_lanes: int, tiles: int = 1) -> int:
    """A dense layer's cycles per image (latency.dense_step_cycles, T steps)."""
    from fsvae_fpga.codegen.latency import dense_step_cycles
    layer = hw.layer(name)
    return hw.T * dense_step_cycles(tuple(layer["in_shape"]), layer["out_shape"][0], layer["kernel_size"],
                                    layer["stride"], layer["padding"], layer["output_padding"], lanes, in_lanes,
                                    tiles)


def dense_tile_choices(hw: HwModel, name: str) -> list[int]:
    """The column tiles a dense layer may have, most first: XT dividing OW into tiles of a
    multiple of S columns (fsvae_convt_dense), down to 1."""
    layer = hw.layer(name)
    ow, stride = layer["out_shape"][2], layer["stride"]
    return [t for t in range(ow, 0, -1) if ow % t == 0 and (t == 1 or (ow // t) % stride == 0)]


def dense_pes(hw: HwModel, name: str, tiles: int) -> int:
    """A dense layer's accumulators: OW/XT columns x COUT channels."""
    layer = hw.layer(name)
    return layer["out_shape"][2] // tiles * layer["out_shape"][0]


def dense_rom_bram18(hw: HwModel, name: str) -> int:
    """BRAM18 of a dense layer's weight ROM: CIN*K words of COUT*K weights (one port)."""
    from fsvae_fpga.codegen.hls_memory import bram18_blocks
    layer = hw.layer(name)
    cin, cout, k = layer["in_shape"][0], layer["out_shape"][0], layer["kernel_size"]
    return bram18_blocks(cin * k, cout * k * layer["weight"]["bits"], True)


def plan_lanes(hw: HwModel, board: dict, s: dict) -> dict:
    """{"layer_lanes", "replicas", "bounds", "work", "lanes_used"} for the generation layers."""
    acc, upd = _measured(hw, int(s["images"]), int(s["seed"]))
    names = [n for n in hw.mode_layers("generate") if n != "output"]
    source = hw.names("decoder")[-1]                  # the output stage reads its spike masks
    from fsvae_fpga.codegen.design import fused_membranes, loadable_layers
    from fsvae_fpga.codegen.hls_memory import uram_blocks
    from fsvae_fpga.codegen.rtl_memory import bram18_available, copy_lutram_luts, layer_state_bram18
    ultra = set(loadable_layers(hw, board)) if (board.get("weight_memory") or {}).get("style") == "ultra" else set()
    lanes = {n: _first_lanes(hw, n, 72 if n in ultra else 1) for n in names}
    copies = {n: 1 for n in names}
    # balance.event_pairs: a linear layer may scatter two events at once (fsvae_lif_linear
    # PAIRS: its weight memory's second port, no memory more) once its lanes cannot double;
    # modelled as two copies of its accumulate (not of its update); not on a board that streams
    # weight rows from DDR (which layers stream is chosen after this plan)
    pairs = {n: 1 for n in names}
    allow_pairs = bool(s["event_pairs"]) and not board.get("weight_stream")
    # balance.dense: the candidates whose dense cycles beat their event-driven bound at the
    # start; they do not grow (their speed is set by their shape) and use no lane budget
    dense: set[str] = set()
    tiles: dict[str, int] = {}                        # a dense layer's column tiles (XT)
    producer = dict(zip(names[1:], names[:-1]))
    lutram = {n: 0 for n in names}                    # copies whose currents are in LUTs
    lut_cap = int(s["state_lutram_luts"])
    allow_copies = bool(s["copies"]) and not board.get("fused_membranes")

    def bound(n: str) -> float:
        if n in dense:
            b = dense_cycles(hw, n, lanes[n], lanes[producer[n]], tiles[n])
            return max(b, _output_cycles(hw, lanes[n])) if n == source else b
        b = acc[n] / (lanes[n] * copies[n] * pairs[n]) + upd[n] / lanes[n]
        return max(b, _output_cycles(hw, lanes[n])) if n == source else b

    def steps(n: str) -> list[tuple[int, int, int, int]]:
        """The (lanes, copies, copies in LUTs, events a scatter) a layer may grow to, in order of
        preference: twice the lanes, then one more engine copy (a transposed conv, where the
        board allows copies), its currents in block RAM, or, with balance.state_lutram_luts, in
        LUTs; or events in pairs (a linear layer of at least two groups, with
        balance.event_pairs)."""
        out = []
        if hw.layer(n)["out_shape"][0] % (2 * lanes[n]) == 0 and 2 * lanes[n] <= int(s["max_lanes"]):
            out.append((2 * lanes[n], copies[n], lutram[n], pairs[n]))
        if allow_copies and hw.layer(n)["kind"] == "convT" and copies[n] < int(s["max_copies"]):
            out.append((lanes[n], copies[n] + 1, lutram[n], pairs[n]))
            if lut_cap:
                out.append((lanes[n], copies[n] + 1, lutram[n] + 1, pairs[n]))
        if allow_pairs and hw.layer(n)["kind"] == "linear" and pairs[n] == 1 and (n in ultra or n in roms) \
                and hw.layer(n)["out_shape"][0] // lanes[n] >= 2:      # a memory with a second port
            out.append((lanes[n], copies[n], lutram[n], 2))
        return out

    def lutram_luts() -> int:                         # the LUT-RAM currents of those copies
        return sum(lutram[n] * copy_lutram_luts(hw, n, lanes[n]) for n in names if lutram[n])

    units = [[n for n in names if n.startswith("prior.")]] + [[n] for n in names if not n.startswith("prior.")]
    units = [u for u in units if u]
    unit_bound = lambda u: sum(bound(n) for n in u)           # noqa: E731
    # a pair's second weight word costs P adders more, as a copy's lanes do
    used = lambda: sum(lanes[n] * copies[n] * pairs[n] for n in names if n not in dense)   # noqa: E731

    def urams() -> int:                               # pairs of copies share one (two ports)
        return sum(-(-copies[n] // 2) * uram_blocks(hw.weights[n].size // lanes[n],
                                                    lanes[n] * hw.layer(n)["weight"]["bits"]) for n in ultra)
    uram_cap = int(board["resources"].get("uram", 0))

    def brams() -> int:                               # the layers' state in block RAM (BRAM18)
        return sum(layer_state_bram18(hw, n, lanes[n], 0 if n in dense else copies[n],
                                      fused_membranes(board, hw.layer(n), copies[n]), lutram[n]) for n in names)
    roms = weight_roms(hw, board, names, ultra)

    def rom_brams() -> int:                           # their block-RAM weight ROMs, one per copy or pair
        return sum(dense_rom_bram18(hw, n) for n in dense) + sum(
            weight_rom_bram18(hw.weights[n].size // lanes[n], lanes[n] * hw.layer(n)["weight"]["bits"],
                              2 if pairs[n] > 1 else copies[n])     # pairs: a two-port ROM
            for n in roms if n not in dense)
    bram_cap = bram18_available(board)
    frozen: set[str] = set()
    pe_cap = int(s["dense_pes"])
    pes = lambda: sum(dense_pes(hw, n, tiles[n]) for n in dense)   # noqa: E731
    if s["dense"]:
        # a candidate starts at its fewest accumulators (the most tiles); it grows by halving
        # its tiles (twice the accumulators) within balance.dense_pes
        for n in dense_candidates(hw, board, ultra):
            event_bound = bound(n)
            was = lanes[n]
            lanes[n], tiles[n] = dense_lanes(hw, n, int(s["max_lanes"])), dense_tile_choices(hw, n)[0]
            dense.add(n)
            if bound(n) >= event_bound or pes() > pe_cap:  # the scatter is faster at the start, or no room
                dense.discard(n)
                lanes[n] = was
                del tiles[n]
    while True:
        unit = max(units, key=unit_bound)
        open_ = [n for n in unit if n not in frozen]
        if not open_ and s["slack"]:
            # balance.slack: the slowest unit cannot grow; the next slowest that can still
            # does, within the budgets (the layers run as a pipeline, and a layer whose bound is
            # close to the slowest one's waits on it and keeps it waiting: measured on KV260)
            growable = [u for u in units if any(n not in frozen for n in u)]
            if not growable:
                break
            unit = max(growable, key=unit_bound)
            open_ = [n for n in unit if n not in frozen]
        if not open_:
            break                                     # the slowest unit cannot grow any more
        layer = max(open_, key=bound)
        if layer in dense:                             # half the tiles, if that pays and fits
            before, was = tiles[layer], bound(layer)
            fewer = [t for t in dense_tile_choices(hw, layer) if t < before]
            if fewer:
                tiles[layer] = fewer[0]
                if bound(layer) <= (1 - float(s["min_gain"])) * was and pes() <= pe_cap \
                        and brams() + rom_brams() <= bram_cap:
                    continue
            tiles[layer] = before
            frozen.add(layer)
            continue
        before, was = (lanes[layer], copies[layer], lutram[layer], pairs[layer]), bound(layer)
        grown = False
        for lanes[layer], copies[layer], lutram[layer], pairs[layer] in steps(layer):
            if bound(layer) > (1 - float(s["min_gain"])) * was:   # too little gain
                continue
            if used() > int(s["lanes"]):               # over the lane budget
                continue
            if (ultra and urams() > uram_cap) or brams() + rom_brams() > bram_cap or lutram_luts() > lut_cap:
                continue                               # its weights, state or ROM would not fit
            grown = True
            break
        if not grown:                                  # no step pays and fits: undo, freeze it
            lanes[layer], copies[layer], lutram[layer], pairs[layer] = before   # (another layer of its unit may still grow)
            frozen.add(layer)
    return {"layer_lanes": dict(lanes), "replicas": {n: c for n, c in copies.items() if c > 1},
            "dense_layers": [n for n in names if n in dense], "dense_tiles": dict(tiles), "dense_pes": pes(),
            "event_pairs": [n for n in names if pairs[n] > 1],
            "lutram_copies": {n: c for n, c in lutram.items() if c}, "state_lutram_luts": lutram_luts(),
            "bounds": {n: round(bound(n)) for n in names},
            "unit_bounds": {"+".join(u): round(unit_bound(u)) for u in units},
            "accumulates": {n: round(acc[n]) for n in names}, "lanes_used": used(),
            "uram_weight_blocks": urams() if ultra else 0, "state_bram18": brams(),
            "weight_rom_bram18": rom_brams(), "bram18_cap": bram_cap}


def weight_rom_bram18(depth: int, width: int, copies: int) -> int:
    """BRAM18 blocks of a layer's block-RAM weight ROMs: one two-port ROM per pair of copies
    (fsvae_weight_mem_pair: two read ports, so the true-dual-port shapes, at most 18 bits a
    BRAM18 port), and a one-port ROM (simple dual port shapes) for an odd last copy."""
    from fsvae_fpga.codegen.hls_memory import bram18_blocks
    return (copies // 2) * bram18_blocks(depth, width, False) + (copies % 2) * bram18_blocks(depth, width, True)


def weight_roms(hw: HwModel, board: dict, names: list[str], ultra: set[str]) -> list[str]:
    """The layers whose RTL weight memory is a block-RAM ROM, one per engine copy: neither loaded
    at run time (UltraRAM) nor a LUT ROM (weight_memory.rtl_lut_rom_max_bits, else
    lut_rom_max_bits, as design._plans decides).  None on a board that streams weights from DDR:
    which layers stream is chosen after this plan (design.streamed_layers), and their weights
    need no on-chip memory."""
    if board.get("weight_stream"):
        return []
    from fsvae_fpga.codegen.design import rtl_lut_rom_max_bits
    lut_max = rtl_lut_rom_max_bits(board)
    return [n for n in names if n not in ultra and hw.weights[n].size * hw.layer(n)["weight"]["bits"] > lut_max]


def resolve(hw: HwModel, board: dict) -> dict:
    """The board with the balance plan's layer_lanes and replicas (unchanged without balance)."""
    if board.get("balanced") is not None:
        return board
    s = settings(board)
    if s is None:
        return board
    plan = plan_lanes(hw, board, s)
    resolved = {k: v for k, v in board.items() if k != "balance"}
    resolved.update(layer_lanes=plan["layer_lanes"], replicas=plan["replicas"], lutram_copies=plan["lutram_copies"],
                    dense_layers=plan["dense_layers"], dense_tiles=plan["dense_tiles"], event_pairs=plan["event_pairs"],
                    balanced={"settings": s, **plan})
    return resolved
