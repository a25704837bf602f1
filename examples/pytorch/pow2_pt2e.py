"""Power-of-two quantization for PyTorch 2 export (PT2E) with torchao.

ESP-DL style integers are `real = q * 2**e` with zero point 0. This module gives torchao's
PT2E flow (`prepare_pt2e` / `prepare_qat_pt2e`, then `convert_pt2e`) exactly that:

- power-of-two observers: symmetric, zero point 0, every scale snapped to
  2**round(log2(scale)) by `pow2_observer.pow2_scale` (the eager observer's rule);
- `pow2_quantization_config(...)`: int8 (or int16) activations per tensor, int8 weights per
  output channel, float biases;
- `Pow2Quantizer`: annotates Conv, Linear, Add, ReLU, mean pooling, max pooling, flatten and
  reshape, and any custom ops you name, so that every tensor between them is quantized;
- `export_onnx(...)`: `torch.onnx.export(..., dynamo=True)` at opset 18 (21 for int16
  activations), batch 1, with a
  check that every QuantizeLinear/DequantizeLinear of the file has power-of-two scales and
  zero point 0.

Typical use (PTQ):

    exported = torch.export.export(float_model.eval(), (example,)).module()
    prepared = prepare_pt2e(exported, Pow2Quantizer())
    for x in calibration_batches: prepared(x)
    quantized = convert_pt2e(prepared)
    export_onnx(quantized, example[:1], "model.onnx")

For QAT use `Pow2Quantizer(is_qat=True)` with `prepare_qat_pt2e`, train, then
`torchao.quantization.pt2e.move_exported_model_to_eval` and `convert_pt2e`.
"""

import os
import sys
import warnings

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torchao.quantization.pt2e import observer as ao_observer
from torchao.quantization.pt2e.fake_quantize import FakeQuantize
from torchao.quantization.pt2e.quantizer import (
    QuantizationAnnotation,
    QuantizationSpec,
    Quantizer,
    SharedQuantizationSpec,
)
from torchao.quantization.pt2e.quantizer.utils import QuantizationConfig

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pow2_observer import pow2_scale  # noqa: E402

OPSET = 18

# (dtype, quant_min, quant_max) of the symmetric integer grids: int8 and int16.
INT8 = (torch.int8, -128, 127)
INT16 = (torch.int16, -32768, 32767)


class _Pow2Qparams:
    """Mixin for a torchao observer: its symmetric scale snapped to a power of two, per
    element (per channel for the per-channel observers), and zero point 0."""

    def calculate_qparams(self):
        scale, zero_point = super().calculate_qparams()
        return pow2_scale(scale), torch.zeros_like(zero_point)


class Pow2MinMaxObserver(_Pow2Qparams, ao_observer.MinMaxObserver):
    """Per-tensor min/max over everything seen (PTQ activations)."""


class Pow2MovingAverageMinMaxObserver(_Pow2Qparams, ao_observer.MovingAverageMinMaxObserver):
    """Per-tensor moving-average min/max (QAT activations)."""


class Pow2PerChannelMinMaxObserver(_Pow2Qparams, ao_observer.PerChannelMinMaxObserver):
    """Per-output-channel min/max (PTQ weights)."""


class Pow2MovingAveragePerChannelMinMaxObserver(
    _Pow2Qparams, ao_observer.MovingAveragePerChannelMinMaxObserver
):
    """Per-output-channel moving-average min/max (QAT weights)."""


def _spec(grid, observer, qscheme, is_qat, ch_axis=None):
    dtype, quant_min, quant_max = grid
    ctr = FakeQuantize.with_args(observer=observer) if is_qat else observer
    # The observer (or FakeQuantize) takes its grid from the spec at prepare time.
    return QuantizationSpec(
        dtype=dtype,
        quant_min=quant_min,
        quant_max=quant_max,
        qscheme=qscheme,
        ch_axis=ch_axis,
        observer_or_fake_quant_ctr=ctr,
    )


def pow2_quantization_config(is_qat=False, activation_bits=8):
    """Symmetric power-of-two QuantizationConfig: activations int8 (or int16 with
    `activation_bits=16`) per tensor, weights int8 per output channel (axis 0), biases left in
    float (ONNX Runtime adds them to the accumulated sum in f32)."""
    if activation_bits not in (8, 16):
        raise ValueError(f"activation_bits must be 8 or 16, not {activation_bits}")
    act_grid = INT8 if activation_bits == 8 else INT16
    act_observer = Pow2MovingAverageMinMaxObserver if is_qat else Pow2MinMaxObserver
    weight_observer = Pow2MovingAveragePerChannelMinMaxObserver if is_qat else Pow2PerChannelMinMaxObserver
    act = _spec(act_grid, act_observer, torch.per_tensor_symmetric, is_qat)
    weight = _spec(INT8, weight_observer, torch.per_channel_symmetric, is_qat, ch_axis=0)
    return QuantizationConfig(input_activation=act, output_activation=act, weight=weight, bias=None, is_qat=is_qat)


aten = torch.ops.aten
# Ops with weights: input 0 is the activation, input 1 the weight, input 2 the (float) bias.
_WEIGHTED = {aten.conv1d.default, aten.conv2d.default, aten.linear.default}
# Ops whose output gets its own exponent.
_REQUANTIZING = {aten.mean.dim, aten.adaptive_avg_pool2d.default, aten.relu.default}
# Ops that move values without changing them: the output shares the input's exponent.
_SHARING = {
    aten.max_pool2d.default,
    aten.flatten.using_ints,
    aten.view.default,
    aten.reshape.default,
}
_RELU = {aten.relu.default, aten.relu_.default}


def _is_tensor_node(arg):
    return isinstance(arg, torch.fx.Node) and isinstance(arg.meta.get("val"), torch.Tensor)


class Pow2Quantizer(Quantizer):
    """Annotates a `torch.export`ed model for power-of-two PT2E quantization.

    Conv/Linear/Add followed by their only user ReLU are quantized after the ReLU (one
    QuantizeLinear for the pair). `custom_ops` lists extra op overloads (e.g.
    `torch.ops.mylib.swish.default`) whose first input and output are quantized; their other
    inputs (parameters) stay float.
    """

    def __init__(self, is_qat=False, activation_bits=8, custom_ops=()):
        super().__init__()
        self.config = pow2_quantization_config(is_qat=is_qat, activation_bits=activation_bits)
        self.custom_ops = set(custom_ops)

    def annotate(self, model):
        act = self.config.input_activation
        for node in model.graph.nodes:
            if node.op != "call_function" or "quantization_annotation" in node.meta:
                continue
            target = node.target
            if target in _WEIGHTED:
                x, w = node.args[0], node.args[1]
                self._annotate(node, {x: act, w: self.config.weight}, self._fused_relu_output(node))
            elif target == aten.add.Tensor and all(_is_tensor_node(a) for a in node.args[:2]):
                inputs = {a: act for a in node.args[:2]}
                self._annotate(node, inputs, self._fused_relu_output(node))
            elif target in _REQUANTIZING or target in self.custom_ops:
                self._annotate(node, {node.args[0]: act}, act)
            elif target in _SHARING:
                x = node.args[0]
                self._annotate(node, {x: act}, SharedQuantizationSpec((x, node)))
        return model

    def _fused_relu_output(self, node):
        """The output spec of `node`: None when its only user is a ReLU, which then carries
        the activation spec (the pair is quantized once, after the ReLU)."""
        users = list(node.users)
        if len(users) == 1 and users[0].target in _RELU:
            self._annotate(users[0], {}, self.config.output_activation)
            return None
        return self.config.output_activation

    @staticmethod
    def _annotate(node, input_qspec_map, output_qspec):
        node.meta["quantization_annotation"] = QuantizationAnnotation(
            input_qspec_map=input_qspec_map, output_qspec=output_qspec, _annotated=True
        )

    def validate(self, model):
        pass


def export_onnx(model, example, path, custom_translation_table=None, functions=(), opset=OPSET):
    """Exports a converted PT2E model with `torch.onnx.export(..., dynamo=True)` at opset 18
    and batch 1, then checks its Q/DQ parameters (see check_pow2_qdq). Returns the path.
    int16 activations need `opset=21` (ONNX QuantizeLinear has int16 from opset 21).

    `custom_translation_table` maps custom ops to their ONNX translations; `functions` are
    onnx.FunctionProto definitions of custom-domain ops, added to the model so that ONNX
    Runtime can run it (the exporter's opset conversion inlines every model-local function,
    so a custom node has to be emitted as a plain op and its definition attached here)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with warnings.catch_warnings():
        # A converted PT2E graph keeps the training flag of its capture; its ops are already
        # in eval form (move_exported_model_to_eval), so the exporter's warning does not apply.
        warnings.filterwarnings("ignore", message="Exporting a model while it is in training mode")
        program = torch.onnx.export(
            model,
            (example,),
            dynamo=True,
            opset_version=opset,
            input_names=["input"],
            output_names=["logits"],
            custom_translation_table=custom_translation_table,
        )
    proto = program.model_proto
    proto.functions.extend(functions)
    onnx.checker.check_model(proto)
    onnx.save(proto, path)
    check_pow2_qdq(path)
    return path


def _constant_arrays(model):
    """Initializers and Constant-node values of a model's main graph, by name."""
    arrays = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    arrays[node.output[0]] = numpy_helper.to_array(attr.t)
    return arrays


def check_pow2_qdq(path):
    """Raises unless every QuantizeLinear/DequantizeLinear scale of the model is a power of two
    and every zero point 0: the model then lowers under `onnx2esp generate --scales exact`."""
    model = onnx.load(path)
    arrays = _constant_arrays(model)
    count = 0
    for node in model.graph.node:
        if node.op_type not in ("QuantizeLinear", "DequantizeLinear"):
            continue
        count += 1
        scale = arrays.get(node.input[1])
        if scale is None:
            raise ValueError(f"{node.name}: scale {node.input[1]} is not a constant")
        mantissa, _ = np.frexp(np.asarray(scale, dtype=np.float64))
        if not np.all(mantissa == 0.5):
            raise ValueError(f"{node.name}: scale {scale} is not a power of two")
        if len(node.input) > 2 and node.input[2]:
            zero_point = arrays.get(node.input[2])
            if zero_point is None or np.any(zero_point != 0):
                raise ValueError(f"{node.name}: zero point {node.input[2]} is not 0")
    if count == 0:
        raise ValueError(f"{path} has no QuantizeLinear/DequantizeLinear")
    print(f"{path}: {count} Q/DQ nodes, all power-of-two scales with zero point 0")
