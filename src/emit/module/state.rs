//! The model state of recurrent layers: one `[i32; N]` field of `Model` per owning layer, its
//! initial values, `STATE_BYTES` and `Model::reset_state`. Models without state get none of it.

use crate::ir::QGraph;
use crate::kernel::StateUse;
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

/// The `Model` field of state `id`.
pub(super) fn field(id: usize) -> Ident {
    format_ident!("state_{id}")
}

/// The state items of the module.
pub(super) struct StateItems {
    /// `STATE_BYTES` and the initial values' constants.
    pub constants: TokenStream,
    /// The fields of `Model`.
    pub fields: TokenStream,
    /// Their initializers in `Model::new`.
    pub inits: TokenStream,
    /// `reset_state`, in `impl Model`.
    pub reset: TokenStream,
}

impl StateItems {
    pub(super) fn new(graph: &QGraph) -> StateItems {
        let owned: Vec<(usize, Vec<i64>, String)> = graph
            .layers
            .iter()
            .filter_map(|layer| match layer.kernel.state() {
                Some(StateUse::Owns { id, initial }) => {
                    Some((id, initial, layer.node.name.clone()))
                }
                _ => None,
            })
            .collect();
        if owned.is_empty() {
            return StateItems {
                constants: TokenStream::new(),
                fields: TokenStream::new(),
                inits: TokenStream::new(),
                reset: TokenStream::new(),
            };
        }
        let bytes = Literal::usize_unsuffixed(owned.iter().map(|(_, v, _)| v.len() * 4).sum());
        let mut constants = quote! {
            /// Bytes of recurrent state inside [`Model`], beside the arena: kept between calls
            /// of `run`, so that a sequence can be fed in chunks of time steps.
            pub const STATE_BYTES: usize = #bytes;
        };
        let (mut fields, mut inits, mut resets) =
            (TokenStream::new(), TokenStream::new(), TokenStream::new());
        for (id, initial, node) in &owned {
            let field = field(*id);
            let len = Literal::usize_unsuffixed(initial.len());
            let doc = format!(
                " The state of the recurrent layer `{}` (hidden, then cell values).",
                crate::text::comment_safe(node)
            );
            fields.extend(quote! {
                #[doc = #doc]
                #field: [i32; #len],
            });
            let value = if initial.iter().all(|&v| v == 0) {
                quote!([0; #len])
            } else {
                let name = format_ident!("STATE_{id}_INITIAL");
                let values = initial.iter().map(|&v| Literal::i32_unsuffixed(v as i32));
                constants.extend(quote! {
                    /// The initial state of the recurrent layer (the model's initial_h and initial_c).
                    const #name: [i32; #len] = [#(#values),*];
                });
                quote!(#name)
            };
            inits.extend(quote!(#field: #value,));
            resets.extend(quote!(self.#field = #value;));
        }
        let reset = quote! {
            /// Sets the recurrent state back to its initial value: call it between independent
            /// sequences. `run` consumes the time steps of its input and keeps the state for the
            /// next call, so a sequence fed in chunks gives exactly what it gives fed whole.
            pub fn reset_state(&mut self) {
                #resets
            }
        };
        StateItems {
            constants,
            fields,
            inits,
            reset,
        }
    }
}
