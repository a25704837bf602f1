"""Power-of-two quantization observer for PyTorch QAT.

PyTorch quantization uses   real = (q - zero_point) * scale
ESP-DL uses                 real = q * 2**exponent

The two agree exactly when zero_point == 0 and scale == 2**exponent. This module
provides an observer that is symmetric (zero point 0, int8 range -128..127) and
snaps the scale it computes to the nearest power of two, so that a model trained
with it can be lowered to ESP-DL style integer arithmetic (shifts instead of
multiplications) without any requantization error.
"""

import math

import torch
from torch.ao.quantization import FakeQuantize, MovingAverageMinMaxObserver, QConfig

QUANT_MIN = -128
QUANT_MAX = 127


def pow2_exponent(scale):
    """The exponent of the power of two nearest a scale: round(log2(scale)), Python's round
    (half to even). A scale that is not a positive finite number (an observer that saw
    nothing) counts as 1."""
    s = float(scale)
    if not math.isfinite(s) or s <= 0.0:
        s = 1.0
    return int(round(math.log2(s)))


def pow2_scale(scale):
    """Every element of a scale tensor snapped to 2**pow2_exponent(element): the one rounding
    rule of the eager observer below and of the PT2E quantizer in pow2_pt2e.py."""
    snapped = [2.0 ** pow2_exponent(s) for s in scale.reshape(-1).tolist()]
    return torch.tensor(snapped, dtype=scale.dtype, device=scale.device).reshape(scale.shape)


class Pow2MovingAverageMinMaxObserver(MovingAverageMinMaxObserver):
    """Symmetric per-tensor int8 observer whose scale is a power of two.

    The min/max statistics are tracked like MovingAverageMinMaxObserver; only
    calculate_qparams() differs: the symmetric scale is replaced by
    2**round(log2(scale)) and the zero point is always 0.
    """

    def __init__(self, averaging_constant=0.01, **kwargs):
        kwargs["dtype"] = torch.qint8
        kwargs["qscheme"] = torch.per_tensor_symmetric
        kwargs["quant_min"] = QUANT_MIN
        kwargs["quant_max"] = QUANT_MAX
        kwargs.pop("reduce_range", None)
        super().__init__(averaging_constant=averaging_constant, reduce_range=False, **kwargs)

    @torch.jit.export
    def calculate_qparams(self):
        scale, zero_point = super().calculate_qparams()
        return pow2_scale(scale), torch.zeros_like(zero_point)


def pow2_fake_quant():
    """FakeQuantize factory (int8, symmetric, zero point 0, power-of-two scale)."""
    return FakeQuantize.with_args(
        observer=Pow2MovingAverageMinMaxObserver,
        quant_min=QUANT_MIN,
        quant_max=QUANT_MAX,
        dtype=torch.qint8,
        qscheme=torch.per_tensor_symmetric,
    )


def pow2_qconfig():
    """QConfig with power-of-two fake quantization for activations and (per-tensor) weights."""
    return QConfig(activation=pow2_fake_quant(), weight=pow2_fake_quant())
