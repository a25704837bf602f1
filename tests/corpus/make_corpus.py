"""Writes the malformed-model corpus under tests/corpus/: one small file per class of broken
input that onnx2esp must reject with a clear error (tests/corpus.rs checks each message), and
the hostile models (`hostile_*`): tiny files that once made onnx2esp panic, wrap around in
shape arithmetic, or allocate gigabytes (tests/corpus.rs runs the CLI on each under a memory
limit).

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
    hostile()


def i64(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def f32(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.float32), name)


def q_chain(input_dims, body, extra_inits=(), opset=13, output="b"):
    """x -> Q -> DQ (xd) -> body... -> `output` -> Q -> DQ -> y: `body` reads xd and writes `output`."""
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"], name="quant_in"),
        helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"], name="dequant_in"),
        *body,
        helper.make_node("QuantizeLinear", [output, "s", "z"], ["yq"], name="quant_out"),
        helper.make_node("DequantizeLinear", ["yq", "s", "z"], ["y"], name="dequant_out"),
    ]
    inits = [f32("s", 0.5), numpy_helper.from_array(np.array(0, dtype=np.int8), "z"), *extra_inits]
    graph = helper.make_graph(
        nodes,
        "hostile",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, input_dims)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def conv_body(kernel, **attrs):
    """A QDQ Conv of xd with a 1-channel int8 weight of spatial size `kernel`."""
    weight = numpy_helper.from_array(np.ones([1, 1, *kernel], dtype=np.int8), "wq")
    body = [
        helper.make_node("DequantizeLinear", ["wq", "s", "z"], ["w"], name="dequant_w"),
        helper.make_node("Conv", ["xd", "w"], ["b"], name="conv", **attrs),
    ]
    return body, [weight]


I64_MAX = (1 << 63) - 1


def hostile():

    # Panics in the release build.
    empty_scale = q_chain(
        [1, 4],
        [
            helper.make_node("QuantizeLinear", ["wf", "empty", "z"], ["wq"], name="quant_weight"),
            helper.make_node("Relu", ["xd"], ["b"], name="relu"),
        ],
        [f32("wf", [1.0, 2.0]), f32("empty", np.zeros([0]))],
    )
    write("hostile_quantize_empty_scale", empty_scale)
    write(
        "hostile_split_wrapping_sum",
        q_chain(
            [1, 4],
            [helper.make_node("Split", ["xd", "sizes"], ["b", "b2", "b3"], name="split", axis=1)],
            # 2 * (2^63 - 1) + 6 = 2^64 + 4: the sum wraps to the axis size in 64 bits.
            [i64("sizes", [I64_MAX, I64_MAX, 6])],
        ),
    )
    for name, block in [("2_32", 1 << 32), ("i64_max", I64_MAX)]:
        write(
            f"hostile_depth_to_space_{name}",
            q_chain([1, 4, 2, 2], [helper.make_node("DepthToSpace", ["xd"], ["b"], name="d2s", blocksize=block)]),
        )

    # Tiny models whose tensors, tables or code would take gigabytes.
    for name, pad in [("100000", 100_000), ("2_62", 1 << 62), ("i64_max", I64_MAX)]:
        write(
            f"hostile_pad_{name}",
            q_chain(
                [1, 1, 4, 4],
                [helper.make_node("Pad", ["xd", "pads"], ["b"], name="pad")],
                [i64("pads", [0, 0, pad, pad, 0, 0, pad, pad])],
            ),
        )
    write(
        "hostile_resize_scale_1e6",
        q_chain(
            [1, 1, 4, 4],
            [helper.make_node("Resize", ["xd", "", "scales"], ["b"], name="resize")],
            [f32("scales", [1, 1, 1e6, 1e6])],
        ),
    )
    write(
        "hostile_resize_sizes_20000",
        q_chain(
            [1, 1, 4, 4],
            [helper.make_node("Resize", ["xd", "", "", "sizes"], ["b"], name="resize")],
            [i64("sizes", [1, 1, 20_000, 20_000])],
        ),
    )
    write(
        "hostile_maxpool_kernel_65536",
        q_chain(
            [1, 1, 4, 4],
            [helper.make_node("MaxPool", ["xd"], ["b"], name="pool", kernel_shape=[65536, 65536],
                              pads=[65535, 65535, 65535, 65535])],
        ),
    )
    write(
        "hostile_maxpool_pads_65536",
        q_chain(
            [1, 1, 4, 4],
            [helper.make_node("MaxPool", ["xd"], ["b"], name="pool", kernel_shape=[1, 1],
                              pads=[65536, 65536, 65536, 65536])],
        ),
    )
    body, inits = conv_body([1, 1], pads=[65536, 65536, 65536, 65536])
    write("hostile_conv_pads_65536", q_chain([1, 1, 4, 4], body, inits))
    body, inits = conv_body([3, 3])
    write("hostile_conv_1000x1000", q_chain([1, 1, 1000, 1000], body, inits))
    body, inits = conv_body([3, 3], pads=[1, 1, 1, 1])
    write("hostile_conv_wide_131072", q_chain([1, 1, 8, 131072], body, inits))
    write(
        "hostile_transpose_2_28",
        q_chain([1, 1 << 14, 1 << 14], [helper.make_node("Transpose", ["xd"], ["b"], name="transpose", perm=[0, 2, 1])]),
    )
    weight = numpy_helper.from_array(np.ones([1, 1, 2, 2], dtype=np.int8), "wq")
    write(
        "hostile_conv_transpose_stride_2_62",
        q_chain(
            [1, 1, 4, 4],
            [
                helper.make_node("DequantizeLinear", ["wq", "s", "z"], ["w"], name="dequant_w"),
                helper.make_node("ConvTranspose", ["xd", "w"], ["b"], name="deconv", strides=[1 << 62, 1 << 62]),
            ],
            [weight],
        ),
    )
    write(
        "hostile_rank_5000",
        q_chain([1] * 5000, [helper.make_node("Relu", ["xd"], ["b"], name="relu")]),
    )

    # Names that attack terminals and tables: escapes, bidi overrides, 70,000 characters.
    hostile_name = "\x1b[2J\x1b]0;pwned\x07\u202etxt.exe\u202c" + "n" * 70_000
    names = q_chain([1, 4], [helper.make_node("Hardmax", ["xd"], ["b"], name=hostile_name)])
    write("hostile_terminal_escapes", names)
    long_names = q_chain([1, 4], [helper.make_node("Relu", ["xd"], ["b" * 70_000], name="r" * 70_000)],
                         output="b" * 70_000)
    write("hostile_long_names", long_names)
    # The same escapes in a model that generates, so that `inspect` prints them in its tables.
    escapes = "\x1b[2J\x1b]0;pwned\x07\u202etxt.exe\u202c"
    in_tables = q_chain([1, 4], [helper.make_node("Relu", ["xd"], ["b" + escapes], name="relu" + escapes)],
                        output="b" + escapes)
    write("hostile_terminal_escapes_in_tables", in_tables)
    # And in a node that one of the lowering's own errors names.
    in_errors = q_chain([1, 4], [helper.make_node("Flatten", ["xd"], ["b"], name="flatten" + escapes, axis=7)])
    write("hostile_terminal_escapes_in_errors", in_errors)

    # Silently accepted once; each is refused now.
    duplicate = q_chain([1, 4], [helper.make_node("Relu", ["xd"], ["b"], name="relu")])
    duplicate.graph.initializer.append(f32("s", 0.25))
    write("hostile_duplicate_initializer", duplicate)
    trailing = q_chain([1, 4], [helper.make_node("Relu", ["xd"], ["b"], name="relu")])
    scale = trailing.graph.initializer[0]
    scale.raw_data = np.array(0.5, dtype=np.float32).tobytes() + b"\x00\x00"
    write("hostile_raw_data_trailing_bytes", trailing)
    body, inits = conv_body([1, 1])
    body[1].input.append("bias")
    nan_bias = q_chain([1, 1, 4, 4], body, inits + [f32("bias", [np.nan])])
    write("hostile_nan_bias", nan_bias)
    write(
        "hostile_nan_gather_index",
        q_chain(
            [1, 4],
            [helper.make_node("Gather", ["xd", "idx"], ["b"], name="gather", axis=1)],
            [f32("idx", [0, np.nan])],
        ),
    )
    write(
        "hostile_relu_five_inputs",
        q_chain([1, 4], [helper.make_node("Relu", ["xd", "xd", "xd", "xd", "xd"], ["b"], name="relu")]),
    )
    zp_len = q_chain([1, 4], [helper.make_node("Relu", ["xd"], ["b"], name="relu")])
    zp_len.graph.node[0].input[2] = "z2"
    zp_len.graph.initializer.append(numpy_helper.from_array(np.zeros([2], dtype=np.int8), "z2"))
    write("hostile_zero_point_length", zp_len)
    zp_type = q_chain([1, 4], [helper.make_node("Relu", ["xd"], ["b"], name="relu")])
    zp_type.graph.node[1].input[2] = "zu"
    zp_type.graph.initializer.append(numpy_helper.from_array(np.array(0, dtype=np.uint8), "zu"))
    write("hostile_zero_point_type", zp_type)
    empty_act_scale = q_chain([1, 4], [helper.make_node("Relu", ["xd"], ["b"], name="relu")])
    empty_act_scale.graph.node[3].input[1] = "empty"
    empty_act_scale.graph.initializer.append(f32("empty", np.zeros([0])))
    write("hostile_empty_activation_scale", empty_act_scale)


if __name__ == "__main__":
    main()
