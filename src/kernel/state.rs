//! State a layer keeps in `Model` between calls of `run`: a recurrent layer's hidden and cell
//! values, carried from one chunk of time steps to the next.

/// How a layer uses model state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateUse {
    /// The layer owns state `id`: `initial.len()` i32 values, set to `initial` by `Model::new`
    /// and `Model::reset_state`, which the layer reads and updates.
    Owns { id: usize, initial: Vec<i64> },
    /// The layer reads state `id` (`len` values) that an earlier layer owns.
    Reads { id: usize, len: usize },
}

impl StateUse {
    pub fn id(&self) -> usize {
        match self {
            StateUse::Owns { id, .. } | StateUse::Reads { id, .. } => *id,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            StateUse::Owns { initial, .. } => initial.len(),
            StateUse::Reads { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the layer writes the state (its owner does).
    pub fn writes(&self) -> bool {
        matches!(self, StateUse::Owns { .. })
    }
}
