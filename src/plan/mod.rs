//! The memory plan: where each tensor lives. Model inputs and outputs live in the caller's
//! slices; every other tensor gets an offset in one arena, reused once the tensor is dead
//! (greedy placement by live range, largest first, 16-byte aligned for the S3's vector loads).

use crate::ir::{QGraph, TensorId};

pub const ALIGN: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// The caller's input slice number `n`.
    Input(usize),
    /// The caller's output slice number `n`.
    Output(usize),
    /// `ARENA[offset..offset + len]`.
    Arena { offset: usize },
}

#[derive(Debug)]
pub struct Plan {
    /// Storage of every tensor (aliases share their root's storage).
    pub storage: Vec<Storage>,
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
        arena_tensors.sort_by_key(|&t| (std::cmp::Reverse(graph.tensors[t].len()), first[t], t));

        let mut placed: Vec<(TensorId, usize)> = Vec::new();
        let mut arena_bytes = 0;
        for &t in &arena_tensors {
            let len = graph.tensors[t].len();
            let mut busy: Vec<(usize, usize)> = placed
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
                offset = offset.max(end.next_multiple_of(ALIGN));
            }
            placed.push((t, offset));
            arena_bytes = arena_bytes.max((offset + len).next_multiple_of(ALIGN));
        }

        let mut storage = vec![Storage::Arena { offset: 0 }; count];
        for (t, s) in fixed.iter().enumerate() {
            if let Some(s) = s {
                storage[t] = *s;
            }
        }
        for &(t, offset) in &placed {
            storage[t] = Storage::Arena { offset };
        }
        for t in 0..count {
            storage[t] = storage[graph.storage_root(t)];
        }

        let peak_live_bytes = (0..graph.layers.len())
            .map(|step| {
                arena_tensors
                    .iter()
                    .filter(|&&t| first[t] <= step && step <= last[t])
                    .map(|&t| graph.tensors[t].len())
                    .sum::<usize>()
            })
            .max()
            .unwrap_or(0);
        Plan {
            storage,
            arena_bytes,
            peak_live_bytes,
        }
    }
}
