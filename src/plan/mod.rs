//! The memory plan: where each tensor lives. Model inputs and outputs live in the caller's
//! slices; every other tensor gets an offset in the arena of its element type (int8, and
//! int16 when the model has int16 tensors), reused once the tensor is dead (greedy placement
//! by live range, largest first, 16-byte aligned for the S3's vector loads).

use crate::ir::{QGraph, QType, TensorId};

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
    /// Storage of every tensor (aliases share their root's storage).
    pub storage: Vec<Storage>,
    /// Elements of each arena, by type; a type without arena tensors is absent.
    pub arenas: Vec<(QType, usize)>,
    /// The bytes of all arenas together (`ARENA_BYTES`).
    pub arena_bytes: usize,
    /// At the worst step, the bytes of the arena tensors that must coexist: no plan can do
    /// better than this.
    pub peak_live_bytes: usize,
}

impl Plan {
    pub fn new(graph: &QGraph) -> Plan {
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
        let mut arena_tensors: Vec<TensorId> = (0..count)
            .filter(|&t| graph.tensors[t].alias_of.is_none() && fixed[t].is_none())
            .filter(|&t| first[t] != usize::MAX)
            .collect();
        // Largest first, then by birth, then by id: deterministic and tight.
        arena_tensors.sort_by_key(|&t| (std::cmp::Reverse(graph.tensors[t].bytes()), first[t], t));

        let mut placed: Vec<(TensorId, usize)> = Vec::new();
        let mut arenas = Vec::new();
        for dtype in [QType::I8, QType::I16] {
            let align = ALIGN / dtype.bytes();
            let mut arena_len = 0;
            let mut placed_here: Vec<(TensorId, usize)> = Vec::new();
            for &t in arena_tensors
                .iter()
                .filter(|&&t| graph.tensors[t].dtype == dtype)
            {
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
        for t in 0..count {
            storage[t] = storage[graph.storage_root(t)];
        }

        let peak_live_bytes = (0..graph.layers.len())
            .map(|step| {
                arena_tensors
                    .iter()
                    .filter(|&&t| first[t] <= step && step <= last[t])
                    .map(|&t| graph.tensors[t].bytes())
                    .sum::<usize>()
            })
            .max()
            .unwrap_or(0);
        Plan {
            storage,
            arenas,
            arena_bytes,
            peak_live_bytes,
        }
    }
}
