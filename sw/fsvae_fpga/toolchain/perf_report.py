"""The measured performance report of a simulated run (``make sim``): per layer, cycles the
engines were busy, input events, the event-driven lower bound and lane utilisation, from the
design's performance counters and the golden model's event statistics."""
from __future__ import annotations


def lower_bounds(manifest: dict, rows: list[dict]) -> dict:
    """Per layer: (event accumulates + neuron updates) / lanes, in cycles per image; the lanes
    of all of a layer's engine copies count, twice for the accumulates of an engine that
    scatters events in pairs.  A unit whose work does not depend on the events
    (the output stage, which computes the output layer densely) states its cycles per image
    (manifest engines cycles_per_image), which are its bound."""
    lanes, acc_lanes, fixed = {}, {}, {}
    for e in manifest["engines"]:
        lanes[e["layer"]] = lanes.get(e["layer"], 0) + e["lanes"]
        # an engine that scatters two events at once (fsvae_lif_linear PAIRS) accumulates 2P a cycle
        acc_lanes[e["layer"]] = acc_lanes.get(e["layer"], 0) + e["lanes"] * (2 if e.get("event_pairs") else 1)
        if e.get("cycles_per_image"):
            fixed[e["layer"]] = e["cycles_per_image"]
    return {r["layer"]: {"lanes": lanes[r["layer"]], "event_accumulates": r["event_accumulates"],
                         "lower_bound": fixed.get(r["layer"], r["event_accumulates"] / acc_lanes[r["layer"]]
                                                  + r["neuron_updates"] / lanes[r["layer"]])}
            for r in rows}


def report(manifest: dict, result: dict, rows: list[dict], build_s: float, run_s: float) -> dict:
    n, c = result["n"], result["counters"]
    clock = manifest["clock_mhz"] * 1e6
    lb = lower_bounds(manifest, rows)
    layers = []
    for name, b in lb.items():
        insts = [e["instance"] for e in manifest["engines"] if e["layer"] == name]
        busy = sum(c[f"perf_{i}_busy"] for i in insts) / len(insts) / n
        events = sum(c[f"perf_{i}_events"] for i in insts) / n
        layers.append({"layer": name, "instances": len(insts), "lanes": b["lanes"],
                       "busy_cycles_per_image": busy, "input_events_per_image": events,
                       "event_accumulates_per_image": b["event_accumulates"],
                       "lower_bound_cycles": b["lower_bound"], "lane_utilisation": b["lower_bound"] / busy})
    cycles = c["perf_run_cycles"] / n
    ddr = ddr_traffic(manifest, result, cycles)
    loop = latent_loop_bound(layers)
    slowest = max((x["lower_bound_cycles"] for x in layers), default=0)
    bound = max(slowest, loop)
    total_acc = sum(x["event_accumulates_per_image"] for x in layers)
    total_lanes = sum(x["lanes"] for x in layers)
    return {
        "board": manifest["board"], "clock_mhz": manifest["clock_mhz"], "images": n, "seed": result["seed"],
        "bit_exact": result["equal"], "build_s": round(build_s, 1), "run_s": round(run_s, 1),
        # the simulator's speed over the images alone: run_s also holds the simulator's start,
        # the golden model and a run-time weight load (KV260: 467 k words, most of a short run)
        "sim_cycles_per_s": round(c["perf_run_cycles"] / max(result.get("wall_s") or run_s, 1e-9)),
        "images_s": round(result.get("wall_s") or run_s, 2),
        "weight_load_s": round(result.get("load_s") or 0.0, 1),
        "weight_words_loaded": result.get("weight_words_loaded") or 0,
        "definitions": {
            "busy_cycles_per_image": "cycles the layer's engine(s) spend inside a time step (start to done, "
                                     "including waits for input events and output backpressure), per image",
            "input_events_per_image": "spikes the layer's engines took in, per image",
            "lower_bound_cycles": "event accumulates / lanes + neuron updates / lanes (golden-model traffic); "
                                  "for the output stage (dense) its cycles per image without stalls",
            "lane_utilisation": "lower bound / busy cycles (per layer); total: the design's bound / measured "
                                "cycles per image, the design's bound being the slowest layer's (the layers "
                                "run concurrently) or the latent loop's, the sum of the prior layers' bounds "
                                "(z_t, the prior's output, is prior.0's input at step t+1: the prior's layers "
                                "run one after another within a step), whichever is larger",
            "all_lanes_utilisation": "all event accumulates / (all lanes x cycles per image)",
            "projected_images_per_s": "board clock / measured cycles per image (images overlap)",
        },
        "layers": layers,
        "ddr": ddr,
        "total": {
            "cycles_per_image": cycles,
            "projected_images_per_s": clock / cycles,
            # the layers run concurrently: the design's bound is its slowest layer's bound, or
            # the latent loop's (the prior's layers, one after another within a step)
            "lower_bound_cycles": bound,
            "latent_loop_bound_cycles": loop,
            "slowest_layer_bound_cycles": slowest,
            "lane_utilisation": bound / cycles,
            # every lane of every engine, over the whole image time
            "all_lanes_utilisation": total_acc / (total_lanes * cycles),
        },
    }


def latent_loop_bound(layers: list[dict]) -> float:
    """The latent loop's bound: the prior's layers' bounds summed (balance.py's prior unit)."""
    return sum(x["lower_bound_cycles"] for x in layers if x["layer"].startswith("prior."))


def ddr_traffic(manifest: dict, result: dict, cycles_per_image: float) -> dict | None:
    """Per streamed layer (manifest weight_stream): DDR bytes per image against the event-driven
    minimum (its input events x the row's bytes), and the cycles its engine waited for weights;
    in total the bytes per image and the bandwidth achieved over the run.  None without streaming."""
    ws = manifest.get("weight_stream")
    if not ws:
        return None
    n, c, beat = result["n"], result["counters"], ws["data_bits"] // 8
    layers, total = [], 0.0
    for m in ws["layers"]:
        inst = m["instance"]
        read = c[f"perf_{inst}_ddr_beats"] * beat / n
        minimum = c[f"perf_{inst}_events"] * m["row_bytes"] / n
        total += read
        layers.append({"layer": m["layer"], "bytes_per_image": read, "minimum_bytes_per_image": minimum,
                       "over_minimum": read / minimum - 1 if minimum else 0.0,
                       "stall_cycles_per_image": c[f"perf_{inst}_starve"] / n})
    seconds = cycles_per_image / (manifest["clock_mhz"] * 1e6)
    return {"layers": layers, "bytes_per_image": total,
            "achieved_mb_per_s": total / seconds / 1e6,
            "memory_model": ws["memory_model"], "data_bits": ws["data_bits"],
            "model_bytes": (result.get("ddr") or {}).get("bytes")}


def print_report(rep: dict) -> None:
    print(f"\n{'layer':<12}{'inst':>5}{'lanes':>6}{'cycles/img':>12}{'events/img':>12}{'bound':>10}{'util':>7}")
    for x in rep["layers"]:
        print(f"{x['layer']:<12}{x['instances']:>5}{x['lanes']:>6}{x['busy_cycles_per_image']:>12,.0f}"
              f"{x['input_events_per_image']:>12,.0f}{x['lower_bound_cycles']:>10,.0f}{x['lane_utilisation']:>7.0%}")
    if rep.get("ddr"):
        d = rep["ddr"]
        print(f"\n{'DDR layer':<12}{'bytes/img':>12}{'minimum':>12}{'over':>7}{'stalls/img':>12}")
        for x in d["layers"]:
            print(f"{x['layer']:<12}{x['bytes_per_image']:>12,.0f}{x['minimum_bytes_per_image']:>12,.0f}"
                  f"{x['over_minimum']:>7.1%}{x['stall_cycles_per_image']:>12,.0f}")
        print(f"DDR: {d['bytes_per_image']:,.0f} bytes per image, {d['achieved_mb_per_s']:,.0f} MB/s achieved "
              f"(model: {d['memory_model']['latency_cycles']} cycles latency, "
              f"{d['memory_model']['beats_per_cycle']} beats a cycle)")
    t = rep["total"]
    if t.get("latent_loop_bound_cycles"):
        print(f"{'latent loop (prior.*, one after another)':<47}{t['latent_loop_bound_cycles']:>10,.0f}")
    print(f"{'total':<23}{t['cycles_per_image']:>12,.0f}{'':>12}{t['lower_bound_cycles']:>10,.0f}"
          f"{t['lane_utilisation']:>7.0%}")
    print(f"projected {t['projected_images_per_s']:,.0f} images/s on {rep['board']} at {rep['clock_mhz']} MHz; "
          f"Verilator build {rep['build_s']} s, run {rep['run_s']} s")
    load = (f"weight load {rep['weight_load_s']} s ({rep['weight_words_loaded']:,} words on in_r), "
            if rep["weight_words_loaded"] else "")
    print(f"simulation: {load}{rep['images']} images {rep['images_s']} s ({rep['sim_cycles_per_s']:,} cycles/s)")
