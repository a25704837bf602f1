//! The memory plan: where each tensor lives. Model inputs and outputs live in the caller's
//! slices; every other tensor gets an offset in the arena of its element type (int8, and
//! int16 when the model has int16 tensors), reused once the tensor is dead (greedy placement
//! by live range, largest first, 16-byte aligned for the S3's vector loads).
//!
//! Two kinds of tensors share bytes without a copy:
//! - views (Reshape, Flatten, Squeeze, a DequantizeLinear at another scale) alias their
//!   source ([`QGraph::storage_root`]);
//! - the output of a pointwise layer ([`crate::kernel::Kernel::pointwise`]: Relu/Clip,
//!   requantization, table activations, arithmetic with a constant) takes its input's bytes
//!   when the input dies at that layer, which then runs in place. The two form one buffer
//!   whose live range spans both, so the peak-live bound counts them once.

use crate::ir::{Layer, QGraph, QType, TensorId};

pub const ALIGN: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// The caller's input slice number `n`.
    Input(usize),
    /// The caller's output slice number `n`.
    Output(usize),
    /// `arena[offset..offset + len]` in the arena of `dtype`, counted in its elements.
    Arena { offset: usize, dtype: QType },
}

#[derive(Debug)]
pub struct Plan {
    /// Storage of every tensor (aliases share their root's storage, in-place outputs their
    /// input's).
    pub storage: Vec<Storage>,
    /// For each layer, in execution order: whether it overwrites its input in place.
    pub in_place: Vec<bool>,
    /// Elements of each arena, by type; a type without arena tensors is absent.
    pub arenas: Vec<(QType, usize)>,
    /// The bytes of all arenas together (`ARENA_BYTES`).
    pub arena_bytes: usize,
    /// At the worst step, the bytes of the arena buffers that must coexist, each in its
    /// 16-byte aligned slot (per arena type, summed over the types): no placement can do
    /// better than this.
    pub peak_live_bytes: usize,
}

impl Plan {
    /// The generator's plan: pointwise layers run in place wherever that is safe, unless a
    /// user template renders them (only the built-in templates handle `in_place`).
    pub fn new(graph: &QGraph) -> Plan {
        Plan::with_in_place(graph, |layer| {
            layer.kernel.pointwise() && layer.renderer.is_builtin()
        })
    }

    /// A plan in which the layers `may_overwrite` accepts run in place where that is safe:
    /// the layer has one tensor input, of the output's type and length, which is neither a
    /// model input nor output and which no later layer reads (through any view).
    pub fn with_in_place(graph: &QGraph, may_overwrite: impl Fn(&Layer) -> bool) -> Plan {
        let count = graph.tensors.len();
        let mut fixed: Vec<Option<Storage>> = vec![None; count];
        for (n, port) in graph.inputs.iter().enumerate() {
            fixed[graph.storage_root(port.tensor)] = Some(Storage::Input(n));
        }
        for (n, port) in graph.outputs.iter().enumerate() {
            fixed[graph.storage_root(port.tensor)] = Some(Storage::Output(n));
        }

        // Live range of each root tensor in layer steps: from its producer to its last reader.
        let mut first = vec![usize::MAX; count];
        let mut last = vec![0; count];
        for (step, layer) in graph.layers.iter().enumerate() {
            let root = graph.storage_root(layer.output);
            first[root] = first[root].min(step);
            last[root] = last[root].max(step);
            for &input in &layer.inputs {
                let root = graph.storage_root(input);
                last[root] = last[root].max(step);
            }
        }

        // The buffer each root tensor lives in: its own, or (in place) its input's buffer.
        // Layers run in order, so an input's buffer is settled before its reader's output.
        let mut buffer: Vec<TensorId> = (0..count).collect();
        let mut in_place = vec![false; graph.layers.len()];
        for (step, layer) in graph.layers.iter().enumerate() {
            let [input] = layer.inputs[..] else {
                continue;
            };
            let (source, target) = (graph.storage_root(input), graph.storage_root(layer.output));
            let (x, y) = (&graph.tensors[source], &graph.tensors[target]);
            let safe = fixed[source].is_none()
                && fixed[target].is_none()
                && first[source] < step
                && last[source] == step
                && x.dtype == y.dtype
                && x.len() == y.len()
                && graph.tensors[input].len() == y.len();
            if safe && may_overwrite(layer) {
                buffer[target] = buffer[source];
                in_place[step] = true;
            }
        }
        // A buffer lives from its first tensor's birth to its last tensor's last reader.
        for t in 0..count {
            let b = buffer[t];
            if b != t && first[t] != usize::MAX {
                first[b] = first[b].min(first[t]);
                last[b] = last[b].max(last[t]);
            }
        }

        let mut buffers: Vec<TensorId> = (0..count)
            .filter(|&t| graph.tensors[t].alias_of.is_none() && buffer[t] == t)
            .filter(|&t| fixed[t].is_none() && first[t] != usize::MAX)
            .collect();
        // Largest first, then by birth, then by id: deterministic and tight.
        buffers.sort_by_key(|&t| (std::cmp::Reverse(graph.tensors[t].bytes()), first[t], t));

        let mut placed: Vec<(TensorId, usize)> = Vec::new();
        let mut arenas = Vec::new();
        for dtype in [QType::I8, QType::I16] {
            let align = ALIGN / dtype.bytes();
            let mut arena_len = 0;
            let mut placed_here: Vec<(TensorId, usize)> = Vec::new();
            for &t in buffers.iter().filter(|&&t| graph.tensors[t].dtype == dtype) {
                let len = graph.tensors[t].len();
                let mut busy: Vec<(usize, usize)> = placed_here
                    .iter()
                    .filter(|&&(other, _)| first[other] <= last[t] && first[t] <= last[other])
                    .map(|&(other, offset)| (offset, offset + graph.tensors[other].len()))
                    .collect();
                busy.sort();
                let mut offset = 0;
                for (start, end) in busy {
                    if offset + len <= start {
                        break;
                    }
                    offset = offset.max(end.next_multiple_of(align));
                }
                placed_here.push((t, offset));
                arena_len = arena_len.max((offset + len).next_multiple_of(align));
            }
            if arena_len > 0 {
                arenas.push((dtype, arena_len));
            }
            placed.extend(placed_here);
        }
        let arena_bytes = arenas.iter().map(|(t, len)| len * t.bytes()).sum();

        let mut storage = vec![
            Storage::Arena {
                offset: 0,
                dtype: QType::I8
            };
            count
        ];
        for (t, s) in fixed.iter().enumerate() {
            if let Some(s) = s {
                storage[t] = *s;
            }
        }
        for &(t, offset) in &placed {
            storage[t] = Storage::Arena {
                offset,
                dtype: graph.tensors[t].dtype,
            };
        }
        // Views and in-place outputs take the storage of the buffer they live in.
        for t in 0..count {
            storage[t] = storage[buffer[graph.storage_root(t)]];
        }

        // In an arena of one type, buffers that coexist start at distinct multiples of
        // ALIGN bytes, so each takes at least its bytes rounded up to ALIGN; the arenas of
        // the two types add up.
        let peak_live_bytes = [QType::I8, QType::I16]
            .into_iter()
            .map(|dtype| {
                (0..graph.layers.len())
                    .map(|step| {
                        buffers
                            .iter()
                            .filter(|&&t| graph.tensors[t].dtype == dtype)
                            .filter(|&&t| first[t] <= step && step <= last[t])
                            .map(|&t| graph.tensors[t].bytes().next_multiple_of(ALIGN))
                            .sum::<usize>()
                    })
                    .max()
                    .unwrap_or(0)
            })
            .sum();
        Plan {
            storage,
            in_place,
            arenas,
            arena_bytes,
            peak_live_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Port, QTensor};
    use crate::kernel::{BuiltinTemplate, Kernel, KernelEmit, Renderer};

    /// A kernel that only says whether it is pointwise: the planner asks nothing else.
    #[derive(Debug)]
    struct Stub(bool);

    impl Kernel for Stub {
        fn renderer(&self) -> Renderer {
            Renderer::Builtin(BuiltinTemplate::Requantize)
        }
        fn emit(&self, _: &mut KernelEmit) -> crate::error::Result<()> {
            Ok(())
        }
        fn pointwise(&self) -> bool {
            self.0
        }
    }

    const POINTWISE: bool = true;
    const OTHER: bool = false;

    /// A graph built tensor by tensor: `tensor` adds one, `layer` a layer, and the first
    /// and last tensor are the model's input and output.
    struct Net(QGraph);

    impl Net {
        fn new() -> Net {
            Net(QGraph {
                tensors: Vec::new(),
                layers: Vec::new(),
                inputs: Vec::new(),
                outputs: Vec::new(),
                rounding: crate::quant::Rounding::HalfEven,
            })
        }

        fn tensor(&mut self, len: usize, dtype: QType, alias_of: Option<TensorId>) -> TensorId {
            let id = self.0.tensors.len();
            self.0.tensors.push(QTensor {
                name: format!("t{id}"),
                shape: vec![len],
                exponent: -4,
                dtype,
                alias_of,
            });
            id
        }

        fn layer(&mut self, inputs: &[TensorId], output: TensorId, pointwise: bool) {
            let name = format!("layer{}", self.0.layers.len());
            self.0.layers.push(crate::ir::Layer {
                node: crate::onnx::Node {
                    name: name.clone(),
                    op_type: "Stub".into(),
                    domain: String::new(),
                    inputs: Vec::new(),
                    outputs: vec![name],
                    attributes: Default::default(),
                },
                ops: "Stub".into(),
                inputs: inputs.to_vec(),
                output,
                kernel: Box::new(Stub(pointwise)),
                renderer: Renderer::Builtin(BuiltinTemplate::Requantize),
            });
        }

        fn plan(mut self, input: TensorId, output: TensorId) -> (Plan, Plan) {
            self.0.inputs.push(Port {
                name: "x".into(),
                tensor: input,
            });
            self.0.outputs.push(Port {
                name: "y".into(),
                tensor: output,
            });
            let in_place = Plan::with_in_place(&self.0, |layer| layer.kernel.pointwise());
            let copying = Plan::with_in_place(&self.0, |_| false);
            (in_place, copying)
        }
    }

    /// x -> A -> t1 -> pointwise -> t2 -> B -> y, every tensor `len` int8 elements.
    fn chain(len: usize) -> (Net, [TensorId; 4]) {
        let mut net = Net::new();
        let x = net.tensor(len, QType::I8, None);
        let t1 = net.tensor(len, QType::I8, None);
        let t2 = net.tensor(len, QType::I8, None);
        let y = net.tensor(len, QType::I8, None);
        net.layer(&[x], t1, OTHER);
        net.layer(&[t1], t2, POINTWISE);
        net.layer(&[t2], y, OTHER);
        (net, [x, t1, t2, y])
    }

    #[test]
    fn a_pointwise_layer_overwrites_its_dying_input() {
        let (net, [x, t1, t2, y]) = chain(64);
        let (plan, copying) = net.plan(x, y);
        assert_eq!(plan.in_place, [false, true, false]);
        assert_eq!(plan.storage[t2], plan.storage[t1]);
        // One buffer instead of two, and the bound counts it once.
        assert_eq!((plan.arena_bytes, plan.peak_live_bytes), (64, 64));
        assert_eq!((copying.arena_bytes, copying.peak_live_bytes), (128, 128));
        assert_ne!(copying.storage[t2], copying.storage[t1]);
    }

    #[test]
    fn in_place_layers_chain_into_one_buffer() {
        let mut net = Net::new();
        let x = net.tensor(32, QType::I8, None);
        let t: Vec<TensorId> = (0..4).map(|_| net.tensor(32, QType::I8, None)).collect();
        let y = net.tensor(32, QType::I8, None);
        net.layer(&[x], t[0], OTHER);
        for pair in t.windows(2) {
            net.layer(&[pair[0]], pair[1], POINTWISE);
        }
        net.layer(&[t[3]], y, OTHER);
        let (plan, copying) = net.plan(x, y);
        assert_eq!(plan.in_place, [false, true, true, true, false]);
        assert!(t.iter().all(|&id| plan.storage[id] == plan.storage[t[0]]));
        assert_eq!((plan.arena_bytes, plan.peak_live_bytes), (32, 32));
        assert_eq!(copying.arena_bytes, 64);
    }

    #[test]
    fn an_input_read_later_is_not_overwritten() {
        // t1 feeds the pointwise layer and, after it, an Add with t2.
        let mut net = Net::new();
        let x = net.tensor(16, QType::I8, None);
        let t1 = net.tensor(16, QType::I8, None);
        let t2 = net.tensor(16, QType::I8, None);
        let y = net.tensor(16, QType::I8, None);
        net.layer(&[x], t1, OTHER);
        net.layer(&[t1], t2, POINTWISE);
        net.layer(&[t1, t2], y, OTHER);
        let (plan, _) = net.plan(x, y);
        assert_eq!(plan.in_place, [false, false, false]);
        assert_ne!(plan.storage[t2], plan.storage[t1]);
    }

    #[test]
    fn an_input_read_later_through_a_view_is_not_overwritten() {
        let mut net = Net::new();
        let x = net.tensor(16, QType::I8, None);
        let t1 = net.tensor(16, QType::I8, None);
        let view = net.tensor(16, QType::I8, Some(t1));
        let t2 = net.tensor(16, QType::I8, None);
        let y = net.tensor(16, QType::I8, None);
        net.layer(&[x], t1, OTHER);
        net.layer(&[t1], t2, POINTWISE);
        net.layer(&[view, t2], y, OTHER);
        let (plan, _) = net.plan(x, y);
        assert!(!plan.in_place[1]);
        assert_ne!(plan.storage[t2], plan.storage[t1]);
    }

    #[test]
    fn a_view_that_dies_there_is_overwritten_in_place() {
        // t1 is only read through its view: the view's reader may write over t1's bytes.
        let mut net = Net::new();
        let x = net.tensor(16, QType::I8, None);
        let t1 = net.tensor(16, QType::I8, None);
        let view = net.tensor(16, QType::I8, Some(t1));
        let t2 = net.tensor(16, QType::I8, None);
        let y = net.tensor(16, QType::I8, None);
        net.layer(&[x], t1, OTHER);
        net.layer(&[view], t2, POINTWISE);
        net.layer(&[t2], y, OTHER);
        let (plan, _) = net.plan(x, y);
        assert!(plan.in_place[1]);
        assert_eq!(plan.storage[t2], plan.storage[t1]);
    }

    #[test]
    fn model_inputs_and_outputs_are_never_overwritten() {
        // x -> pointwise -> t1 -> pointwise -> y: the first reads the caller's input, the
        // second writes the caller's output; neither runs in place.
        let mut net = Net::new();
        let x = net.tensor(16, QType::I8, None);
        let t1 = net.tensor(16, QType::I8, None);
        let y = net.tensor(16, QType::I8, None);
        net.layer(&[x], t1, POINTWISE);
        net.layer(&[t1], y, POINTWISE);
        let (plan, _) = net.plan(x, y);
        assert_eq!(plan.in_place, [false, false]);
        assert_eq!(plan.storage[x], Storage::Input(0));
        assert_eq!(plan.storage[y], Storage::Output(0));
    }

    #[test]
    fn a_change_of_type_or_length_is_not_in_place() {
        let mut net = Net::new();
        let x = net.tensor(16, QType::I8, None);
        let t1 = net.tensor(16, QType::I8, None);
        let wide = net.tensor(16, QType::I16, None);
        let t3 = net.tensor(8, QType::I16, None);
        let y = net.tensor(8, QType::I8, None);
        net.layer(&[x], t1, OTHER);
        net.layer(&[t1], wide, POINTWISE);
        net.layer(&[wide], t3, POINTWISE);
        net.layer(&[t3], y, OTHER);
        let (plan, _) = net.plan(x, y);
        assert_eq!(plan.in_place, [false, false, false, false]);
    }

    #[test]
    fn a_layer_that_is_not_pointwise_keeps_its_own_output() {
        let (net, [x, t1, t2, y]) = chain(16);
        let mut graph = net.0;
        graph.layers[1].kernel = Box::new(Stub(OTHER));
        let (plan, _) = Net(graph).plan(x, y);
        assert!(!plan.in_place[1]);
        assert_ne!(plan.storage[t2], plan.storage[t1]);
    }

    #[test]
    fn the_bound_counts_aligned_slots() {
        // Two 20-byte tensors live together take two 16-byte aligned slots: 32 + 32.
        let (net, [x, _, _, y]) = chain(20);
        let (_, copying) = net.plan(x, y);
        assert_eq!((copying.arena_bytes, copying.peak_live_bytes), (64, 64));
    }
}
