"""Tampering with a hardware model, JSON and arrays alike: every change is refused with a
one-line HwModelError, never a traceback; a deliberate edit (identity recomputed) makes
another model, which everything generated from the original refuses.

The identity is a checksum against accidents (a hand-edited value, an array from another
export), not a signature: whoever edits hwmodel.json can recompute it.  What it guarantees
is that such a model has a different identity, so golden vectors, RTL, HLS cores and
overlays of the original do not accept it.
"""
import copy as copylib
import json
import os
import random
import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fsvae_fpga.codegen import boards
from fsvae_fpga.contract import hwmodel
from fsvae_fpga.contract.export import export
from fsvae_fpga.contract.hwmodel import HwModelError, membrane_range, sha256, signed_bits

THRESHOLD_SAMPLE = 50            # of the 255 pixel thresholds, for the per-leaf walks


@pytest.fixture(scope="module")
def exported(trained_small_model, tmp_path_factory):
    return export(trained_small_model, tmp_path_factory.mktemp("hw") / "model")


@pytest.fixture(scope="module")
def original(exported):
    return hwmodel.load(exported)


@pytest.fixture
def work(exported, tmp_path):
    dst = tmp_path / "m"
    shutil.copytree(exported, dst)
    return dst


def read_desc(path):
    return json.loads((path / "hwmodel.json").read_text())


def write_desc(path, desc, reidentify=False):
    if reidentify and isinstance(desc, dict):
        desc["identity"] = hwmodel.identity(desc)
    (path / "hwmodel.json").write_text(json.dumps(desc))


def walk(node, path=()):
    """(path, value) for every node, the root and the leaves included."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, path + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, path + (i,))


def sampled(desc, want):
    """The paths of ``walk`` for which ``want(value)`` holds, with only a random sample of the
    pixel thresholds (all 255 add time, not coverage)."""
    paths = [p for p, v in walk(desc) if want(v)]
    thresholds = [p for p in paths if "pixel_thresholds" in p and p[-1] != "pixel_thresholds"]
    keep = set(random.Random(0).sample(thresholds, min(THRESHOLD_SAMPLE, len(thresholds))))
    return [p for p in paths if p not in thresholds or p in keep]


def get(desc, path):
    for key in path:
        desc = desc[key]
    return desc


def put(desc, path, value):
    if not path:
        return value
    get(desc, path[:-1])[path[-1]] = value
    return desc


def changed(value):
    """A different value of the same JSON type."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value + 0.5
    if isinstance(value, str):
        return value + "x" if value else "x"
    return 0 if value is None else value


def wrong_types(value):
    """The same content as other JSON types (list <-> dict <-> str <-> int <-> null)."""
    if isinstance(value, dict):
        return [list(value.values()), json.dumps(value), len(value), None]
    if isinstance(value, list):
        return [{str(i): v for i, v in enumerate(value)}, json.dumps(value), len(value), None]
    if isinstance(value, bool):
        return [int(value), str(value).lower(), [value], None]
    if isinstance(value, int):
        return [float(value), str(value), bool(value), [value], {"value": value}, None]
    if isinstance(value, str):
        return [len(value), [value], {"value": value}, None]
    return ["null", 0, [], {}]


def refused(path, what):
    """load(path) raises HwModelError (one line, naming the model folder); its message."""
    with pytest.raises(HwModelError) as err:
        hwmodel.load(path)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"hardware model {path}:"), (what, msg)
    return msg


def is_leaf(value):
    return not isinstance(value, (dict, list))


# --- (a) every value of hwmodel.json is covered by the identity ------------------------------
def test_every_edited_leaf_is_refused(work):
    base = read_desc(work)
    paths = sampled(base, is_leaf)
    assert len(paths) > 300                      # the whole description, not a few fields
    for path in paths:
        desc = copylib.deepcopy(base)
        write_desc(work, put(desc, path, changed(get(desc, path))))
        msg = refused(work, path)
        if path[0] not in ("format", "version", "identity"):
            assert "edited after export" in msg, (path, msg)


def test_removed_keys_and_list_elements_are_refused(work):
    base = read_desc(work)
    for path in sampled(base, lambda v: isinstance(v, (dict, list)) and v):
        desc = copylib.deepcopy(base)
        node = get(desc, path)
        if isinstance(node, dict):
            node.pop(next(iter(node)))
        else:
            node.pop()
        write_desc(work, desc)
        refused(work, path)


# --- (b) wrong types, identity recomputed: the structural checks answer ----------------------
@pytest.mark.parametrize("nodes", ["containers", "leaves"])
def test_wrong_types_are_refused_with_the_identity_recomputed(work, nodes):
    base = read_desc(work)
    want = (lambda v: not is_leaf(v)) if nodes == "containers" else is_leaf
    paths = [p for p in sampled(base, want) if p != ("identity",)]
    for i, path in enumerate(paths):
        values = wrong_types(get(base, path))
        if nodes == "leaves":                # one wrong type per leaf, taking turns: ~10 s, not 50
            values = [values[i % len(values)]]
        for value in values:
            desc = put(copylib.deepcopy(base), path, value)
            write_desc(work, desc, reidentify=True)
            msg = refused(work, (path, value))
            assert "edited after export" not in msg, (path, value, msg)


def test_malformed_structure_is_one_line_not_a_traceback(work):
    """Shapes that only the catch-all around the checks can name."""
    base = read_desc(work)
    for mutate in (lambda d: d["layers"][1].update(stride=0),
                   lambda d: d["layers"][1].update(kernel_size=0),
                   lambda d: d["layers"][0].update(weight={"file": "x.npy", "shape": "abc"}),
                   lambda d: d["layers"][0]["weight"].update(dtype=None),
                   lambda d: d.update(time_steps=10 ** 30),
                   lambda d: d.update(layers=[{}] * 3)):
        desc = copylib.deepcopy(base)
        mutate(desc)
        write_desc(work, desc, reidentify=True)
        refused(work, mutate)
    (work / "hwmodel.json").write_text("[" * 100_000 + "]" * 100_000)
    assert "not valid JSON" in refused(work, "deep nesting")


def test_an_unforeseen_structure_error_is_still_one_line(work, monkeypatch):
    def unforeseen(desc, directory):
        return desc["no such key"]
    monkeypatch.setattr(hwmodel, "_check_chain", unforeseen)
    assert "hwmodel.json is malformed (KeyError: 'no such key'); re-export" in refused(work, "catch-all")


# --- (c) every array ----------------------------------------------------------------------------
def _fix_sha(path, fname):
    desc = read_desc(path)
    for layer in desc["layers"]:
        for part in ("weight", "bias"):
            if layer[part]["file"] == fname:
                layer[part]["sha256"] = sha256(path / fname)
    write_desc(path, desc, reidentify=True)


def test_every_array_flipped_truncated_or_pickled_is_refused(work, exported):
    files = sorted(p.name for p in exported.glob("*.npy"))
    assert len(files) == 2 * len(read_desc(exported)["layers"])
    good_json = (exported / "hwmodel.json").read_text()
    for fname in files:
        f, data = work / fname, (exported / fname).read_bytes()
        tampered = {
            "flipped": data[:-1] + bytes([data[-1] ^ 0x01]),
            "truncated": data[: len(data) // 2],
            "pickled": None,
        }
        for how, content in tampered.items():
            if content is None:
                np.save(f, np.array([{"a": 1}], dtype=object), allow_pickle=True)
            else:
                f.write_bytes(content)
            assert f"{fname} does not match its sha256" in refused(work, (fname, how))
            if how != "flipped":                      # sha256 and identity fixed: still no array
                _fix_sha(work, fname)
                assert "not a valid .npy file" in refused(work, (fname, how, "sha fixed"))
                (work / "hwmodel.json").write_text(good_json)
            f.write_bytes(data)
    hwmodel.load(work)                                 # everything restored: valid again


# --- (d) a deliberate edit is another model -----------------------------------------------------
def _edit_threshold(desc, layer_index=1, delta=1):
    """Change one LIF threshold and recompute what follows from it: a consistent model."""
    layer = desc["layers"][layer_index]
    layer["threshold"] += delta
    mlo, mhi = membrane_range(*layer["current_range"], layer["threshold"], desc["time_steps"])
    layer.update(membrane_range=[mlo, mhi], membrane_bits=signed_bits(mlo, mhi))


def test_a_consistent_edit_loads_but_is_another_model(work, original):
    desc = read_desc(work)
    _edit_threshold(desc)
    write_desc(work, desc)
    assert "edited after export" in refused(work, "threshold")
    write_desc(work, desc, reidentify=True)
    edited = hwmodel.load(work)                        # a checksum, not a signature
    assert edited.layer("encoder.1")["threshold"] == original.layer("encoder.1")["threshold"] + 1
    assert edited.identity != original.identity and edited.identity32 != original.identity32
    # what was generated from the original refuses the edited model
    from fsvae_fpga.contract.vectors import check_model
    with pytest.raises(ValueError, match="test vectors were made from hardware model .*regenerate"):
        check_model({"hwmodel_identity": original.identity}, edited, "vectors")
    check_model({"hwmodel_identity": edited.identity}, edited, "vectors")


def test_an_overlay_refuses_rtl_of_another_model(work, original, tmp_path):
    from fsvae_fpga.codegen import rtl
    from fsvae_fpga.toolchain.overlay import OverlayError, write_overlay_files
    rtl_dir = tmp_path / "rtl"
    rtl.write_rtl(original, "pynq-z2", rtl_dir)
    desc = read_desc(work)
    _edit_threshold(desc)
    write_desc(work, desc, reidentify=True)
    with pytest.raises(OverlayError, match="generated from hardware model .* not .*regenerate the RTL"):
        write_overlay_files(tmp_path / "overlay", rtl_dir, work, "pynq-z2", 1)
    assert not (tmp_path / "overlay").exists()


# --- (e) any mutation: loads or HwModelError, nothing else -------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=10)


@settings(max_examples=100, deadline=None, database=None, derandomize=bool(os.environ.get("CI")),
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_mutations_load_or_raise_hwmodel_error(exported, work, data):
    desc = read_desc(exported)
    path = data.draw(st.sampled_from([p for p, _ in walk(desc)]), label="path")
    node = get(desc, path)
    op = data.draw(st.sampled_from(["replace", "delete", "insert"]), label="op")
    if op == "replace" or not path:
        desc = put(desc, path, data.draw(json_values, label="value"))
    elif op == "delete":
        parent = get(desc, path[:-1])
        del parent[path[-1]]
    elif isinstance(node, dict):
        node[data.draw(st.text(max_size=6), label="key")] = data.draw(json_values, label="value")
    elif isinstance(node, list):
        node.insert(data.draw(st.integers(0, len(node)), label="at"), data.draw(json_values, label="value"))
    else:
        desc = put(desc, path, data.draw(json_values, label="value"))
    write_desc(work, desc, reidentify=data.draw(st.booleans(), label="reidentify"))
    try:
        hw = hwmodel.load(work)
    except HwModelError as err:
        assert "\n" not in str(err)
    else:
        assert hw.identity == hwmodel.identity(hw.desc)


# --- the identity register is the model's identity ---------------------------------------------
def test_rtl_identity_register_is_the_hardware_model_identity(original, tmp_path):
    from fsvae_fpga.codegen import rtl
    m = rtl.write_rtl(original, "pynq-z2", tmp_path / "rtl")
    assert m["identity"] == original.identity32
    assert m["hwmodel_identity"] == original.identity
    assert m["design_sha256"] == rtl.design_sha256(original, boards.board("pynq-z2"))
    assert json.loads((tmp_path / "rtl" / "manifest.json").read_text())["identity"] == original.identity32
    top = (tmp_path / "rtl" / "rtl" / f"{m['top']}.sv").read_text()
    assert f"localparam logic [31:0] IDENTITY = 32'h{original.identity32:08x};" in top


def test_hls_identity_is_the_hardware_model_identity(original):
    from fsvae_fpga.codegen import hls
    params = hls.parameters_h(original, boards.board("pynq-z2"), False)
    assert f"#define FSVAE_IDENTITY 0x{original.identity32:08x}u" in params
