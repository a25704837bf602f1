"""Writes the malformed-model corpus under tests/corpus/: one small file per class of broken
input that onnx2esp must reject with a clear error (tests/corpus.rs checks each message).

Run from the repository root with the fixture virtualenv (examples/pytorch/requirements.txt):
    python tests/corpus/make_corpus.py
"""

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = Path(__file__).resolve().parent


def qdq_relu(input_dims, opset=13, extra_nodes=(), extra_inits=(), input_type=TensorProto.FLOAT):
    """x -> Q -> DQ -> Relu -> Q -> DQ -> y, the smallest valid quantized model."""
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"], name="quant_in"),
        helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"], name="dequant_in"),
        helper.make_node("Relu", ["xd"], ["r"], name="relu"),
        helper.make_node("QuantizeLinear", ["r", "s", "z"], ["rq"], name="quant_out"),
        helper.make_node("DequantizeLinear", ["rq", "s", "z"], ["y"], name="dequant_out"),
        *extra_nodes,
    ]
    inits = [
        numpy_helper.from_array(np.array(0.5, dtype=np.float32), "s"),
        numpy_helper.from_array(np.array(0, dtype=np.int8), "z"),
        *extra_inits,
    ]
    graph = helper.make_graph(
        nodes,
        "corpus",
        [helper.make_tensor_value_info("x", input_type, input_dims)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def write(name, model_or_bytes):
    data = model_or_bytes if isinstance(model_or_bytes, bytes) else model_or_bytes.SerializeToString()
    (OUT / f"{name}.onnx").write_bytes(data)


def main():
    valid = qdq_relu([1, 4])
    valid_bytes = valid.SerializeToString()

    write("empty", b"")
    write("truncated", valid_bytes[: len(valid_bytes) // 2])
    write("not_protobuf", b"\xff\xfe this is not a protobuf message \x00\x01")

    no_graph = onnx.ModelProto()
    no_graph.ir_version = 7
    no_graph.opset_import.add().version = 13
    write("missing_graph", no_graph)

    dangling = qdq_relu([1, 4])
    dangling.graph.node[2].input[0] = "nobody_makes_this"
    write("dangling_input", dangling)

    cycle = qdq_relu([1, 4])
    cycle.graph.node[2].input[0] = "rq"  # Relu reads the output of the Q after it
    write("cycle", cycle)

    duplicate = qdq_relu([1, 4])
    duplicate.graph.node[3].output[0] = "r"  # two nodes produce "r"
    write("duplicate_output", duplicate)

    write("dynamic_dims", qdq_relu(["batch", 4]))
    write("zero_dims", qdq_relu([1, 0]))
    write("unsupported_dtype", qdq_relu([1, 4], input_type=TensorProto.COMPLEX64))

    size = qdq_relu([1, 4])
    bad = helper.make_tensor("s", TensorProto.FLOAT, [2], [0.5])  # says 2 values, holds 1
    size.graph.initializer[0].CopyFrom(bad)
    write("initializer_size_mismatch", size)

    write("dims_overflow", qdq_relu([1 << 40, 1 << 40]))

    wrong_attr = qdq_relu([1, 1, 4, 4])
    pool = helper.make_node("MaxPool", ["xd"], ["r"], name="pool", kernel_shape="two")
    wrong_attr.graph.node[2].CopyFrom(pool)
    write("attribute_wrong_type", wrong_attr)

    axis = qdq_relu([1, 4])
    flatten = helper.make_node("Flatten", ["xd"], ["r"], name="flatten", axis=7)
    axis.graph.node[2].CopyFrom(flatten)
    write("axis_out_of_range", axis)

    unsupported = qdq_relu([1, 4])
    unsupported.graph.node[2].op_type = "Hardmax"
    unsupported.graph.node[2].name = "hardmax"
    write("unsupported_op", unsupported)

    write("unsupported_opset", qdq_relu([1, 4], opset=9))


if __name__ == "__main__":
    main()
