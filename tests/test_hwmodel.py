"""The hardware-model loader rejects bad or tampered files with an error naming the problem."""
import json
import shutil

import numpy as np
import pytest

from fsvae_fpga.contract import hwmodel
from fsvae_fpga.contract.export import export
from fsvae_fpga.contract.hwmodel import HwModelError, current_range, membrane_range, sha256, signed_bits


@pytest.fixture(scope="module")
def exported(trained_small_model, tmp_path_factory):
    return export(trained_small_model, tmp_path_factory.mktemp("hw") / "model")


@pytest.fixture
def copy(exported, tmp_path):
    dst = tmp_path / "m"
    shutil.copytree(exported, dst)
    return dst


def edit_json(path, fn, reidentify=True):
    """Apply ``fn`` to hwmodel.json; ``reidentify``: recompute the identity too, as a deliberate
    editor would, so that the check behind the identity is the one that answers."""
    desc = json.loads((path / "hwmodel.json").read_text())
    fn(desc)
    if reidentify and isinstance(desc, dict):
        desc["identity"] = hwmodel.identity(desc)
    (path / "hwmodel.json").write_text(json.dumps(desc))


def test_valid_model_loads_with_documented_fields(exported):
    hw = hwmodel.load(exported)
    d = hw.desc
    assert d["format"] == "fsvae-fpga-hwmodel" and d["version"] == 1
    assert [l["name"] for l in d["layers"]][:2] == ["encoder.0", "encoder.1"]
    for layer in d["layers"]:
        w = hw.weights[layer["name"]]
        assert w.dtype == np.int8 and np.abs(w).max() <= 127
        assert layer["overflow"] == "impossible"
        assert layer["current_bits"] == signed_bits(*layer["current_range"])
    assert len(d["output"]["pixel_thresholds"]) == 255
    assert hw.identity == d["identity"] == hwmodel.identity(d) and len(hw.identity) == 64
    assert hw.identity32 == int.from_bytes(bytes.fromhex(hw.identity)[:4], "little")


def test_identity_is_of_the_content_not_the_formatting(copy, exported):
    desc = json.loads((copy / "hwmodel.json").read_text())
    (copy / "hwmodel.json").write_text(json.dumps(dict(reversed(desc.items())), indent=4))
    assert hwmodel.load(copy).identity == hwmodel.load(exported).identity


def test_an_edited_value_is_named_as_an_edit(copy):
    edit_json(copy, lambda d: d["layers"][1].update(threshold=d["layers"][1]["threshold"] + 1), reidentify=False)
    with pytest.raises(HwModelError, match=r"hwmodel.json was edited after export: its identity [0-9a-f]{12} "
                                           r"differs from the content's [0-9a-f]{12}; re-export"):
        hwmodel.load(copy)


@pytest.mark.parametrize("value, message", [
    (None, r"no identity \(exported by an older version\); re-export"),
    (12, "identity must be 64 lowercase hex digits"),
    ("AB" * 32, "identity must be 64 lowercase hex digits"),
])
def test_missing_or_malformed_identity(copy, value, message):
    edit_json(copy, lambda d: d.pop("identity") if value is None else d.update(identity=value), reidentify=False)
    with pytest.raises(HwModelError, match=message):
        hwmodel.load(copy)


def test_write_fills_the_given_folder(trained_small_model, tmp_path):
    from fsvae_fpga.contract.export import build
    desc, arrays = build(trained_small_model)
    hwmodel.write(tmp_path, desc, arrays)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*arrays, "hwmodel.json"])
    assert desc["identity"] == hwmodel.load(tmp_path).identity
    assert list(json.loads((tmp_path / "hwmodel.json").read_text()))[:3] == ["format", "version", "identity"]


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(version=2), "format version 2"),
    (lambda d: d.update(format="other"), "not a fsvae-fpga-hwmodel"),
    (lambda d: d.update(k=0), "k must be a positive integer"),
    (lambda d: d["layers"][1].update(out_shape=[8, 9, 9]), "out_shape .* does not follow"),
    (lambda d: d["layers"][1].update(threshold=-5, membrane_range=[0, 0]), "membrane_range wrong"),
    (lambda d: d["layers"][2].update(current_range=[0, 1]), "current_range .* differs from the bound analysis"),
    (lambda d: d["layers"][0]["weight"].update(file="../../etc/passwd.npy"), "bad file name"),
    (lambda d: d["layers"].pop(5), "layers must be, in order"),
    (lambda d: d["output"].update(pixel_thresholds=[0] * 254), "pixel_thresholds"),
    (lambda d: d["sampler"].update(shifts=[1, 2, 3]), "sampler spec differs"),
    (lambda d: d["layers"][3].update(membrane_frac_bits=99), "membrane_frac_bits must equal"),
])
def test_tampered_descriptions_are_named(copy, mutate, message):
    edit_json(copy, mutate)
    with pytest.raises(HwModelError, match=message):
        hwmodel.load(copy)


def test_modified_weights_fail_the_checksum(copy):
    f = copy / "decoder.1.weight.npy"
    w = np.load(f)
    w[0, 0, 0, 0] ^= 1
    np.save(f, w)
    with pytest.raises(HwModelError, match="decoder.1.weight.npy does not match its sha256"):
        hwmodel.load(copy)


def test_out_of_range_values_are_refused_even_with_a_fixed_checksum(copy):
    f = copy / "prior.1.bias.npy"
    b = np.load(f)
    b[0] = 2 ** 20                                  # beyond the declared 16-bit bias
    np.save(f, b)
    edit_json(copy, lambda d: [l["bias"].update(sha256=sha256(f)) for l in d["layers"] if l["name"] == "prior.1"])
    with pytest.raises(HwModelError, match="outside the signed 16-bit range"):
        hwmodel.load(copy)


def test_pickled_arrays_are_never_loaded(copy):
    f = copy / "encoder.0.bias.npy"
    np.save(f, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    edit_json(copy, lambda d: d["layers"][0]["bias"].update(sha256=sha256(f)))
    with pytest.raises(HwModelError, match="not a valid .npy"):
        hwmodel.load(copy)


def test_missing_files_and_bad_json(copy, tmp_path):
    (copy / "output.weight.npy").unlink()
    with pytest.raises(HwModelError, match="output.weight.npy is missing"):
        hwmodel.load(copy)
    (copy / "hwmodel.json").write_text("{not json")
    with pytest.raises(HwModelError, match="not valid JSON"):
        hwmodel.load(copy)
    with pytest.raises(HwModelError, match="hwmodel.json not found"):
        hwmodel.load(tmp_path / "nowhere")


def test_export_refuses_a_float_model(small_cfg, tmp_path):
    from fsvae_fpga.model.fsvae import FSVAE
    with pytest.raises(HwModelError, match="only a fixed-point FSVAE"):
        export(FSVAE(small_cfg), tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_bound_analysis_on_hand_values():
    w = np.array([[3, -2, 5]], dtype=np.int8)
    assert current_range("linear", w, np.array([1]), 0, 1) == (-1, 9)
    assert current_range("linear", w, np.array([0]), -128, 127) == (-(3 * 128 + 2 * 127 + 5 * 128), 3 * 127 + 2 * 128 + 5 * 127)
    # spike when u > 3: carried membranes are <= 3, so u <= (3 >> 2) + 9 = 9
    # and -1 per step gives -1, (-1 >> 2) - 1 = -2, (-2 >> 2) - 1 = -2: floor keeps it at -2
    assert membrane_range(-1, 9, 3, 8) == (-2, 9)
    # negative currents accumulate: -8, -10, -11, -11 ...
    assert membrane_range(-8, 0, 3, 4) == (-11, 0)
    assert signed_bits(-128, 127) == 8 and signed_bits(0, 128) == 9 and signed_bits(-1, 0) == 1
