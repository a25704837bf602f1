//! The kernel contract between lowering and code generation: what a layer's kernel is
//! ([`Kernel`]), what it hands to its template ([`KernelEmit`]: context variables and weight
//! statics), the fused clamp and requantization shifts it describes itself with, and which
//! template renders it ([`Renderer`]). Lowering produces kernels; the planner and the emitter
//! read them. Nothing here knows how a template is rendered.

mod clamp;
mod emit;
mod renderer;
mod requantize;
mod shifts;
mod state;

pub use crate::quant::accumulator::Accumulator;
pub use clamp::{Clamp, RealBounds};
pub use emit::{Elem, KernelEmit, StaticArray};
pub use renderer::{BuiltinTemplate, Renderer, UserTemplate, UserTemplates, APPLIES_CLAMP};
pub use shifts::Shifts;
pub use state::StateUse;

use crate::error::Result;

/// A layer's code generator: fills the context of its template.
pub trait Kernel: std::fmt::Debug {
    /// The template that renders this kernel: a built-in one, or for a custom layer the
    /// user's. A user template for the node's op overrides it ([`UserTemplates::renderer`]).
    fn renderer(&self) -> Renderer;
    /// Sets the template variables and registers weight statics.
    fn emit(&self, out: &mut KernelEmit) -> Result<()>;
    /// Multiply-accumulates per inference, for the header table.
    fn macs(&self) -> u64 {
        0
    }
    /// The requantization shift, for the header table (`None` when it differs per channel).
    fn shift(&self) -> Option<i32> {
        None
    }
    /// Whether the template handles int16 inputs and outputs (`out_ty`, `inputs[i].dtype`).
    fn supports_int16(&self) -> bool {
        false
    }
    /// Whether output element `i` is computed from element `i` of the layer's one tensor
    /// input alone (constants aside). Such a layer can overwrite its input when the input
    /// dies there: the memory plan then runs it in place, and its template gets `in_place`
    /// and one buffer, `data`, for both.
    fn pointwise(&self) -> bool {
        false
    }
    /// The requantization shift of each output channel, for layers with per-channel weights.
    fn channel_shifts(&self) -> Option<&Shifts> {
        None
    }
    /// The worst-case `|acc|` of an accumulating layer and whether it needs i64, proven at
    /// codegen from the real weights and bias and the input range.
    fn accumulator(&self) -> Option<Accumulator> {
        None
    }
    /// The model state the layer owns or reads (recurrent layers); its function then takes
    /// `state: &mut [i32; N]` (owner) or `state: &[i32; N]` (reader) after its output.
    fn state(&self) -> Option<StateUse> {
        None
    }
}
