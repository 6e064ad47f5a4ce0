"""The hardware model: the one contract between training and every hardware back end.

A hardware model is a directory::

    hwmodel.json        description (this module defines and validates every field)
    <layer>.weight.npy  integer weights, one file per layer (numpy .npy, loaded with
    <layer>.bias.npy    allow_pickle=False: loading never executes code from the model)

``hwmodel.json`` (format ``fsvae-fpga-hwmodel``, version 1)::

    format, version
    identity     sha256 (hex) of this description without its "identity" key, as canonical
                 JSON (json.dumps(sort_keys=True, separators=(",", ":"))); the description
                 holds every array's sha256, so this one value names the whole model, JSON
                 and arrays.  Golden vectors (vectors.json hwmodel_identity), the RTL and HLS
                 identity register (its first 4 bytes, little-endian: ``identity32``) and the
                 board driver all check it.  It is a checksum against accidents (an edited
                 value, a file from another export), not a signature: whoever edits the model
                 can recompute it, and then every consumer sees a different model.
    time_steps T, k, latent_dim C, image_shape [C_img, H, W]
    input        {"bits": 8, "frac_bits": 7}   image pixels as signed fixed point:
                 x_int = clamp(round_half_even(x * 2^7), -128, 127) for x in [-1, 1]
    sampler      the latent sampler specification (sampler.SPEC)
    layers       list, in data-flow order (encoder.0-3, encoder_fc, posterior.0-2,
                 prior.0-2, decoder_fc, decoder.0-3, output), each:
        name, group (encoder | posterior | prior | decoder | output)
        kind        linear | conv | convT
        in_shape, out_shape   per time step and image: [F] or [C, H, W]
        kernel_size, stride, padding, output_padding   (convolutions)
        input       "spikes" (0/1) or "image" (int8 pixels, input.frac_bits)
        weight      {"file", "shape", "dtype": "int8", "bits", "sha256"}; layout as torch:
                    linear (out, in), conv (out, in, K, K), convT (in, out, K, K)
        bias        {"file", "shape", "dtype": "int32", "bits", "sha256"}
        weight_frac_bits   weight scale 2^-weight_frac_bits
        membrane_frac_bits membrane unit s = 2^-membrane_frac_bits
                           (= weight_frac_bits + input frac bits)
        spiking     true for LIF layers, false for the membrane-output layer
        threshold   integer, spike when u > threshold   (LIF layers)
        leak_shift  2: u <- (u >> 2) * (1 - o) + I, arithmetic shift (floor)
        reset       "hard-zero"
        current_range  [min, max] of the input current I over all inputs (bound analysis)
        membrane_range [min, max] of u over T steps (bound analysis)
        current_bits, membrane_bits   signed widths that hold those ranges
        overflow    "impossible": the widths come from the bound analysis, so no
                    saturation is ever needed (hardware may assert on it)
    output       {"layer": "output", "decay_coefficients": [T ints], "decay_frac_bits": D,
                  "sum_range", "sum_bits",
                  "pixel_thresholds": [255 ints]}:
                 m = sum_t decay_coefficients[t] * I_t (integers), pixel = #{p : m >= t_p}
    latent       posterior input is [encoder_fc spikes (C), z_{t-1} (C)], prior input z_{t-1};
                 z_{-1} = 0; the latent bit of channel c is spike c*k + index of the last
                 posterior/prior layer's output (index from the sampler)

Semantics: enough to re-implement the golden model (golden.py) without reading its code.
All arithmetic is on integers; t = 0 .. T-1 is the time step, n the image.

* Synapse current, every layer and step: I = W x + b.  The bias is part of the current,
  in LIF layers and in the output layer's sum alike.  x is 0/1 spikes, or for encoder.0 the
  int8 image (the same at every step, so its current is the same at every step).
  - linear: I[o] = sum_i W[o, i] x[i] + b[o].
  - conv (stride s, padding p, zeros outside): I[o, y, x] = b[o] +
    sum_{c, ky, kx} W[o, c, ky, kx] in[c, y*s - p + ky, x*s - p + kx].
  - convT (stride s, padding p, output padding q; weight (in, out, K, K)): output size
    H_out = (H_in - 1) s - 2p + K + q.  Each input (c, y, x) adds W[c, o, ky, kx] * in[c, y, x]
    to output (o, y*s - p + ky, x*s - p + kx) when that lies inside [0, H_out) x [0, W_out);
    the rest is dropped; then b[o] is added once.  (The q extra rows/columns at the bottom
    and right receive only the taps that reach them.)
* LIF: u_0 = I_0 (membranes start at u = 0 with no spike, o = 0);
  u_t = (u_{t-1} >> 2) * (1 - o_{t-1}) + I_t with >> an arithmetic shift (floor);
  o_t = 1 if u_t > threshold else 0 (strictly greater).
* Flattening: a [C, H, W] layer feeding a linear layer is flattened in (C, H, W) order
  (index c*H*W + y*W + x), as torch does; decoder_fc's F = C0*H0*W0 outputs are reshaped
  back the same way to decoder.0's in_shape [C0, H0, W0] (output f = c*H0*W0 + y*W0 + x).
* Order within a step: the latent networks run step by step (posterior/prior at step t see
  z_{t-1}); decoder_fc at step t takes z_t of the same step t; the decoder and output layers
  are feed-forward in t, so they may run after all T latent steps.
* Output: m = sum_t decay_coefficients[t] * I_t over output's currents (bias included at
  every step), pixel = #{p in 1..255 : m >= pixel_thresholds[p-1]} (0..255), image in
  [C_img, H, W] order.
* Output, reordered (exact, and what the RTL computes): with S[c, y, x] = sum_t
  decay_coefficients[t] * s_t[c, y, x] of output's input spikes, m = W * S + b * sum_t
  decay_coefficients[t] (the output layer's convT applied once to S, its bias times the
  coefficient sum).  Integers make this equal to the sum above for every image.  Bounds:
  0 <= S <= sum(coef); a sum that starts from b * sum(coef) and adds tap terms W * S in any
  order stays in sum_range (each term lies between min(0, W) sum(coef) and max(0, W)
  sum(coef), so every partial sum lies between sum(coef) (b + sum of the negative
  weights) and sum(coef) (b + sum of the positive weights), inside +-peak * sum(coef)); a
  sum of tap terms without the bias lies in sum(coef) * [sum of the negative weights, sum of
  the positive weights] of one output, which can exceed sum_range by |b| sum(coef): add the
  bias first, or give such a sum one more bit.
* Tables and their rounding (written by export; consumers read the integers, never
  recompute them): decay_coefficients[t] = round_half_even(0.8^(T-1-t) * 2^D);
  pixel_thresholds[p-1] = ceil(artanh((p - 0.5)/127.5 - 1) / (s_out * 2^-D)), the smallest
  m whose pixel value (tanh(m s_out 2^-D) + 1) * 127.5 reaches p - 0.5: a value exactly on
  a half rounds up; threshold = floor(0.2 / s) (config quant.threshold "floor": u > threshold
  exactly when u s > 0.2), or round(0.2 / s) for models trained before that key ("round").
* Sampler image numbers: a run of n images numbers them 0..n-1 (sampler.py); `vectors`
  uses images 0..n-1 for generation and, as a separate run, 0..n-1 for reconstruction,
  both with the given seed.
* Test vectors and traces (contract/vectors.py has the full layout): raw little-endian
  arrays in C order; images (n, C, H, W); convolution traces channel-last (T, n, H, W, C),
  the order the hardware streams them; linear traces (T, n, F); "latent" holds z (T, n, C).

Size: about 100 lines of this module are its docstring, the written spec of the contract;
the validator checks every field the spec names.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np

FORMAT = "fsvae-fpga-hwmodel"
VERSION = 1
JSON_NAME = "hwmodel.json"
LAYER_ORDER_GROUPS = ("encoder", "posterior", "prior", "decoder", "output")
KINDS = ("linear", "conv", "convT")
LEAK_SHIFT = 2
FLOAT32_EXACT = 2 ** 24      # the torch model is exact while |integer values| < 2^24


class HwModelError(ValueError):
    pass


def signed_bits(lo: int, hi: int) -> int:
    """Smallest two's-complement width holding every integer in [lo, hi]."""
    bits = 1
    while not (-(1 << (bits - 1)) <= lo and hi <= (1 << (bits - 1)) - 1):
        bits += 1
    return bits


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# --- bound analysis --------------------------------------------------------------------
def current_range(kind: str, weight: np.ndarray, bias: np.ndarray, in_lo: int, in_hi: int) -> tuple[int, int]:
    """Worst-case [min, max] input current over every output neuron.

    Each input lies in [in_lo, in_hi]; the extreme current of an output neuron picks, for
    every weight reaching it, the input end that pushes the sum that way.  For convolutions
    all K x K taps are counted (exact for interior outputs, an upper bound at borders and
    for transposed convolutions, where fewer taps land on one output)."""
    w = weight.astype(np.int64)
    if kind == "convT":
        w = w.transpose(1, 0, 2, 3)                     # -> (out, in, K, K)
    w = w.reshape(w.shape[0], -1)
    hi = np.where(w > 0, w * in_hi, w * in_lo).sum(1) + bias
    lo = np.where(w > 0, w * in_lo, w * in_hi).sum(1) + bias
    return int(lo.min()), int(hi.max())


def membrane_range(cur_lo: int, cur_hi: int, threshold: int, steps: int) -> tuple[int, int]:
    """Worst-case [min, max] of u over ``steps`` steps of u <- (u >> 2)(1 - o) + I.

    A membrane carried to the next step has not spiked, so it is <= threshold; the most
    negative membrane keeps leaking towards -4/3 |I_min|."""
    hi_carry = min(threshold, 0) if cur_hi <= 0 else threshold
    u_hi = max(cur_hi, (hi_carry >> LEAK_SHIFT) + cur_hi)
    u_lo, lo = 0, 0
    for _ in range(steps):
        prev, u_lo = u_lo, (min(u_lo, 0) >> LEAK_SHIFT) + cur_lo
        lo = min(lo, u_lo)
        if u_lo == prev:          # a fixed point: later steps change nothing (and a huge T costs nothing)
            break
    return int(min(lo, cur_lo, 0)), int(max(u_hi, 0))


# --- writing -------------------------------------------------------------------------
def identity(desc: dict) -> str:
    """The model's identity: sha256 (hex) of the canonical JSON of ``desc`` without its own
    "identity" key.  Covers the arrays too, through their sha256 in the description."""
    body = {key: value for key, value in desc.items() if key != "identity"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def identity32(sha: str) -> int:
    """The identity register's value: the first 4 bytes of ``sha``, little-endian."""
    return int.from_bytes(bytes.fromhex(sha)[:4], "little")


def write(directory: str | Path, description: dict, arrays: dict[str, np.ndarray]) -> Path:
    """Write a hardware model into ``directory``, a new empty folder the caller made (export
    uses outputs.output_dir, which moves it into place), and validate it there.
    Fills in each array's sha256 and the identity in ``description``."""
    directory = Path(directory)
    for name, arr in arrays.items():
        np.save(directory / name, arr, allow_pickle=False)
    for layer in description["layers"]:
        for part in ("weight", "bias"):
            layer[part]["sha256"] = sha256(directory / layer[part]["file"])
    description["identity"] = identity(description)
    # identity right after format and version, where a reader looks for it
    head = {key: description[key] for key in ("format", "version", "identity")}
    (directory / JSON_NAME).write_text(json.dumps({**head, **description}, indent=1))
    load(directory)                                     # never hand on an invalid model
    return directory


# --- loading and validation -------------------------------------------------------------
class HwModel:
    """A validated hardware model: ``desc`` (the JSON) and the integer arrays per layer.
    ``identity``: the model's sha256 identity (hex); ``identity32``: the identity register's value."""

    def __init__(self, desc: dict, weights: dict[str, np.ndarray], biases: dict[str, np.ndarray], path: Path):
        self.desc, self.weights, self.biases, self.path = desc, weights, biases, path
        self.identity = desc["identity"]
        self.identity32 = identity32(self.identity)
        self.T, self.k, self.C = desc["time_steps"], desc["k"], desc["latent_dim"]
        self.image_shape = tuple(desc["image_shape"])
        self.layers = {layer["name"]: layer for layer in desc["layers"]}

    def layer(self, name: str) -> dict:
        return self.layers[name]

    def names(self, group: str) -> list[str]:
        return [layer["name"] for layer in self.desc["layers"] if layer["group"] == group]

    def mode_layers(self, mode: str) -> list[str]:
        """The layers one image passes through, in order: "generate" (prior, decoder_fc,
        decoder, output) or "reconstruct" (encoder, posterior, decoder_fc, decoder, output)."""
        head = {"generate": ("prior",), "reconstruct": ("encoder", "posterior")}[mode]
        return [n for g in head for n in self.names(g)] + self.names("decoder") + self.names("output")


def _fail(path, msg):
    raise HwModelError(f"hardware model {path}: {msg}")


def _require(cond, path, msg):
    if not cond:
        _fail(path, msg)


def _int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _same(a, b) -> bool:
    """Equal in value and in JSON type: 1, 1.0 and true are three different values here."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _int_list(v, length=None, minimum=None):
    return (isinstance(v, list) and (length is None or len(v) == length)
            and all(_int(x) and (minimum is None or x >= minimum) for x in v))


def _load_array(directory: Path, spec, where: str, dtype: str) -> np.ndarray:
    _require(isinstance(spec, dict), directory, f"{where}: must be an object with file, shape, dtype, bits, sha256")
    fname = spec.get("file")
    _require(isinstance(fname, str) and "/" not in fname and "\\" not in fname and fname.endswith(".npy"),
             directory, f"{where}: bad file name {fname!r}")
    _require(spec.get("dtype") == dtype, directory, f"{where}: dtype {spec.get('dtype')!r}, expected {dtype!r}")
    shape = spec.get("shape")
    _require(_int_list(shape, minimum=0), directory, f"{where}: shape must be a list of integers")
    bits = spec.get("bits")
    _require(_int(bits) and 2 <= bits <= np.dtype(dtype).itemsize * 8, directory, f"{where}: bits {bits!r} invalid")
    fpath = directory / fname
    _require(fpath.is_file(), directory, f"{where}: file {fname} is missing")
    _require(sha256(fpath) == spec.get("sha256"), directory,
             f"{where}: {fname} does not match its sha256 in {JSON_NAME} (modified or corrupt); re-export")
    try:
        arr = np.load(fpath, allow_pickle=False)
    except Exception as err:
        _fail(directory, f"{where}: {fname} is not a valid .npy file ({(str(err).splitlines() or [type(err).__name__])[0]})")
    _require(isinstance(arr, np.ndarray) and arr.dtype == np.dtype(dtype), directory,
             f"{where}: {fname} has dtype {getattr(arr, 'dtype', type(arr).__name__)}, expected {dtype}")
    _require(list(arr.shape) == shape, directory, f"{where}: {fname} has shape {list(arr.shape)}, expected {shape}")
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    _require(arr.size == 0 or (int(arr.min()) >= lo and int(arr.max()) <= hi), directory,
             f"{where}: values outside the signed {bits}-bit range [{lo}, {hi}]")
    return arr


def _expected_weight_shape(layer):
    kind, i, o = layer["kind"], layer["in_shape"], layer["out_shape"]
    if kind == "linear":
        return [o[0], i[0]]
    K = layer["kernel_size"]
    return [o[0], i[0], K, K] if kind == "conv" else [i[0], o[0], K, K]


def _expected_out_hw(layer):
    K, s, p = layer["kernel_size"], layer["stride"], layer["padding"]
    h = layer["in_shape"][1]
    if layer["kind"] == "conv":
        return (h + 2 * p - K) // s + 1
    return (h - 1) * s - 2 * p + K + layer["output_padding"]


def _check_identity(desc: dict, directory: Path) -> None:
    """The identity names the content: any edit to the JSON (or to an array's sha256) shows."""
    stored = desc.get("identity")
    _require(stored is not None, directory, "no identity (exported by an older version); re-export")
    _require(isinstance(stored, str) and len(stored) == 64 and all(c in "0123456789abcdef" for c in stored),
             directory, f"identity must be 64 lowercase hex digits, not {str(stored)[:20]!r}; re-export")
    actual = identity(desc)
    _require(stored == actual, directory,
             f"{JSON_NAME} was edited after export: its identity {stored[:12]} differs from the content's "
             f"{actual[:12]}; re-export with `fsvae-fpga export`")


def load(directory: str | Path) -> HwModel:
    """Load and validate a hardware model; any inconsistency raises HwModelError naming it."""
    directory = Path(directory)
    jpath = directory / JSON_NAME
    _require(jpath.is_file(), directory, f"{JSON_NAME} not found (export one with `fsvae-fpga export`)")
    try:
        desc = json.loads(jpath.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
        _fail(directory, f"{JSON_NAME} is not valid JSON ({type(err).__name__}: {str(err)[:200]})")
    _require(isinstance(desc, dict) and desc.get("format") == FORMAT, directory, f"not a {FORMAT} description")
    _require(_same(desc.get("version"), VERSION), directory,
             f"format version {desc.get('version')!r}; this code reads version {VERSION}")
    try:
        _check_identity(desc, directory)            # first: an edited file is named as such
        weights, biases = _validate(desc, directory)
        return HwModel(desc, weights, biases, directory)
    except HwModelError:
        raise
    except (TypeError, AttributeError, KeyError, IndexError, ValueError, ArithmeticError, RecursionError) as err:
        # a structure the explicit checks below did not foresee: still one line, never a traceback
        what = f"{type(err).__name__}: {err}".splitlines()[0][:200]
        _fail(directory, f"{JSON_NAME} is malformed ({what}); re-export")


def _validate(desc: dict, directory: Path) -> tuple[dict, dict]:
    """Every field of the description against the arrays and the bound analysis."""
    for key in ("time_steps", "k", "latent_dim"):
        _require(_int(desc.get(key)) and desc[key] > 0, directory, f"{key} must be a positive integer")
    T, k, C = desc["time_steps"], desc["k"], desc["latent_dim"]
    from fsvae_fpga.contract.sampler import MAX_CHANNELS, MAX_K, SPEC
    _require(k <= MAX_K, directory, f"k must be at most {MAX_K} (sampler index width)")
    _require(C <= MAX_CHANNELS, directory, f"latent_dim must be at most {MAX_CHANNELS} (sampler key)")
    img = desc.get("image_shape")
    _require(_int_list(img, 3, 1), directory, "image_shape must be [C, H, W]")
    inp = desc.get("input")
    _require(isinstance(inp, dict) and _same(inp.get("bits"), 8) and _int(inp.get("frac_bits")), directory,
             "input must be 8-bit fixed point ({\"bits\": 8, \"frac_bits\": F})")
    _require(_same(desc.get("sampler"), SPEC), directory,
             f"sampler spec differs from this code's ({SPEC['name']} v{SPEC['version']})")
    layers = desc.get("layers")
    _require(isinstance(layers, list) and layers, directory, "layers must be a non-empty list")
    weights, biases, seen = {}, {}, set()
    for i, layer in enumerate(layers):
        _require(isinstance(layer, dict), directory, f"layers[{i}] must be an object, not {type(layer).__name__}")
        name = layer.get("name")
        where = f"layer {name!r}"
        _require(isinstance(name, str) and name not in seen, directory, f"{where}: missing or duplicate name")
        seen.add(name)
        _require(layer.get("group") in LAYER_ORDER_GROUPS, directory, f"{where}: bad group {layer.get('group')!r}")
        _require(layer.get("kind") in KINDS, directory, f"{where}: kind must be one of {KINDS}")
        for key in ("in_shape", "out_shape"):
            shp = layer.get(key)
            _require(_int_list(shp, minimum=1) and len(shp) in (1, 3), directory, f"{where}: {key} must be [F] or [C, H, W]")
        if layer["kind"] == "linear":
            _require(len(layer["in_shape"]) == 1 and len(layer["out_shape"]) == 1, directory,
                     f"{where}: a linear layer has flat shapes")
        else:
            for key in ("kernel_size", "stride", "padding", "output_padding"):
                _require(_int(layer.get(key)) and layer[key] >= 0, directory, f"{where}: {key} must be an integer >= 0")
            _require(layer["kernel_size"] > 0 and layer["stride"] > 0, directory,
                     f"{where}: kernel_size and stride must be positive")
            _require(len(layer["in_shape"]) == 3 and len(layer["out_shape"]) == 3, directory,
                     f"{where}: a convolution has [C, H, W] shapes")
            _require(_expected_out_hw(layer) == layer["out_shape"][1], directory,
                     f"{where}: out_shape {layer['out_shape']} does not follow from in_shape, kernel, stride, padding")
        w = _load_array(directory, layer.get("weight"), f"{where} weight", "int8")
        b = _load_array(directory, layer.get("bias"), f"{where} bias", "int32")
        _require(list(w.shape) == _expected_weight_shape(layer), directory,
                 f"{where}: weight shape {list(w.shape)} does not match in/out shapes (expected {_expected_weight_shape(layer)})")
        _require(list(b.shape) == [layer["out_shape"][0]], directory, f"{where}: bias shape {list(b.shape)} wrong")
        _require(layer.get("input") in ("spikes", "image"), directory, f"{where}: input must be spikes or image")
        in_frac = inp["frac_bits"] if layer["input"] == "image" else 0
        _require(_int(layer.get("weight_frac_bits")), directory, f"{where}: weight_frac_bits must be an integer")
        _require(_same(layer.get("membrane_frac_bits"), layer["weight_frac_bits"] + in_frac), directory,
                 f"{where}: membrane_frac_bits must equal weight_frac_bits + input frac bits")
        in_lo, in_hi = (-(1 << 7), (1 << 7) - 1) if layer["input"] == "image" else (0, 1)
        lo, hi = current_range(layer["kind"], w, b.astype(np.int64), in_lo, in_hi)
        _require(_same(layer.get("current_range"), [lo, hi]), directory,
                 f"{where}: current_range {layer.get('current_range')} differs from the bound analysis [{lo}, {hi}]")
        _require(_same(layer.get("current_bits"), signed_bits(lo, hi)), directory, f"{where}: current_bits wrong")
        _require(isinstance(layer.get("spiking"), bool), directory, f"{where}: spiking must be true or false")
        if layer["spiking"]:
            _require(_int(layer.get("threshold")) and _same(layer.get("leak_shift"), LEAK_SHIFT)
                     and layer.get("reset") == "hard-zero", directory, f"{where}: LIF parameters invalid")
            mlo, mhi = membrane_range(lo, hi, layer["threshold"], T)
            _require(_same(layer.get("membrane_range"), [mlo, mhi]), directory, f"{where}: membrane_range wrong")
            _require(_same(layer.get("membrane_bits"), signed_bits(mlo, mhi)), directory, f"{where}: membrane_bits wrong")
            _require(max(-mlo, mhi) < FLOAT32_EXACT, directory, f"{where}: membrane exceeds 2^24 (float32 exactness)")
        _require(layer.get("overflow") == "impossible", directory, f"{where}: overflow policy must be 'impossible'")
        weights[name], biases[name] = w, b
    names = [layer["name"] for layer in layers]
    expected = _expected_names(desc)
    _require(names == expected, directory, f"layers must be, in order, {expected}; got {names}")
    _check_chain(desc, directory)
    out = desc.get("output")
    _require(isinstance(out, dict) and out.get("layer") == "output", directory,
             "output must be an object for layer \"output\"")
    coef, thr = out.get("decay_coefficients"), out.get("pixel_thresholds")
    _require(_int_list(coef, T, 0), directory, "output.decay_coefficients must be T non-negative integers")
    _require(_int(out.get("decay_frac_bits")) and out["decay_frac_bits"] >= 0, directory,
             "output.decay_frac_bits must be an integer >= 0")
    _require(_int_list(thr, 255) and all(a <= b for a, b in zip(thr, thr[1:])), directory,
             "output.pixel_thresholds must be 255 non-decreasing integers")
    olayer = desc["layers"][-1]
    peak = max(-olayer["current_range"][0], olayer["current_range"][1])
    srange = out.get("sum_range")
    _require(_same(srange, [-peak * sum(coef), peak * sum(coef)]) and _same(out.get("sum_bits"), signed_bits(*srange)),
             directory, "output.sum_range / sum_bits differ from the bound analysis")
    return weights, biases


def _expected_names(desc):
    n_enc = sum(1 for layer in desc["layers"] if layer.get("group") == "encoder") - 1
    n_dec = sum(1 for layer in desc["layers"] if layer.get("group") == "decoder") - 1
    return ([f"encoder.{i}" for i in range(n_enc)] + ["encoder_fc"]
            + [f"posterior.{i}" for i in range(3)] + [f"prior.{i}" for i in range(3)]
            + ["decoder_fc"] + [f"decoder.{i}" for i in range(n_dec)] + ["output"])


def _check_chain(desc, directory):
    """Shapes must connect: each layer consumes what the previous one produces."""
    L = {layer["name"]: layer for layer in desc["layers"]}
    C, k = desc["latent_dim"], desc["k"]
    img = desc["image_shape"]
    names = [layer["name"] for layer in desc["layers"]]

    def size(shape):
        return math.prod(shape)
    _require(L["encoder.0"]["in_shape"] == img and L["encoder.0"]["input"] == "image", directory,
             "encoder.0 must take the image")
    chain = [n for n in names if n.startswith("encoder")]
    for a, b in zip(chain, chain[1:]):
        _require(size(L[a]["out_shape"]) == size(L[b]["in_shape"]), directory, f"{a} -> {b}: shapes do not connect")
    _require(L["encoder_fc"]["out_shape"] == [C], directory, "encoder_fc must output latent_dim")
    _require(L["posterior.0"]["in_shape"] == [2 * C] and L["prior.0"]["in_shape"] == [C], directory,
             "posterior takes [x_t, z_{t-1}] (2C), prior takes z_{t-1} (C)")
    for net in ("posterior", "prior"):
        for i in range(2):
            _require(L[f"{net}.{i}"]["out_shape"] == L[f"{net}.{i + 1}"]["in_shape"], directory,
                     f"{net}.{i} -> {net}.{i + 1}: shapes do not connect")
        _require(L[f"{net}.2"]["out_shape"] == [C * k], directory, f"{net}.2 must output latent_dim * k")
    _require(L["decoder_fc"]["in_shape"] == [C], directory, "decoder_fc takes the latent")
    chain = ["decoder_fc"] + [n for n in names if n.startswith("decoder.")] + ["output"]
    for a, b in zip(chain, chain[1:]):
        _require(size(L[a]["out_shape"]) == size(L[b]["in_shape"]), directory, f"{a} -> {b}: shapes do not connect")
    _require(L["output"]["out_shape"] == img, directory, "output must produce the image shape")
    for n in names:
        _require(L[n]["input"] == ("image" if n == "encoder.0" else "spikes"), directory, f"{n}: wrong input kind")
        _require(L[n]["spiking"] == (n != "output"), directory, f"{n}: wrong spiking flag")
