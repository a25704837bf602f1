//! The statements of `run_layers`: one call per layer, with its buffers.

use super::arena::{arena_helper_names, arena_var};
use super::ports::PortItems;
use super::RenderedLayer;
use crate::error::{Error, Result};
use crate::ir::QGraph;
use crate::plan::{Plan, Storage};
use crate::quant::QType;
use crate::text::model_text;
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::quote;

/// The statement in `run_layers` that calls one layer with its buffers.
pub(super) fn layer_call(
    graph: &QGraph,
    plan: &Plan,
    step: usize,
    rendered: &RenderedLayer,
    inputs: &[PortItems],
    outputs: &[PortItems],
) -> Result<TokenStream> {
    let layer = &graph.layers[step];
    let function = Ident::new(&rendered.fn_name, Span::call_site());
    let out_len = graph.tensors[layer.output].len();
    let out_len_literal = Literal::usize_unsuffixed(out_len);
    // In place, the input and the output are one window of the arena.
    if let (true, Storage::Arena { offset, dtype }) =
        (plan.in_place[step], plan.storage[layer.output])
    {
        let (_, split) = arena_helper_names(dtype);
        let (arena, offset) = (arena_var(dtype), Literal::usize_unsuffixed(offset));
        return Ok(quote! {
            {
                let (_, data, _) = #split::<#offset, #out_len_literal>(#arena)?;
                #function(data);
            }
        });
    }
    // An input in the caller's buffers, or a window of an arena. `split` is the output's
    // arena when that one is split around the output (its other tensors are then read from
    // the parts below and above).
    let read = |tensor: usize, split: Option<(QType, usize)>| -> TokenStream {
        let len = graph.tensors[tensor].len();
        let len_literal = Literal::usize_unsuffixed(len);
        match plan.storage[tensor] {
            Storage::Input(n) => {
                let p = &inputs[n].param;
                quote!(#p)
            }
            Storage::Output(n) => {
                let p = &outputs[n].param;
                quote!(&*#p)
            }
            Storage::Arena { offset, dtype } => {
                let (window, _) = arena_helper_names(dtype);
                match split {
                    Some((split_type, out)) if split_type == dtype => {
                        if offset + len <= out {
                            let offset = Literal::usize_unsuffixed(offset);
                            quote!(#window::<#offset, #len_literal>(below)?)
                        } else {
                            let offset = Literal::usize_unsuffixed(offset - (out + out_len));
                            quote!(#window::<#offset, #len_literal>(above)?)
                        }
                    }
                    _ => {
                        let (arena, offset) = (arena_var(dtype), Literal::usize_unsuffixed(offset));
                        quote!(#window::<#offset, #len_literal>(&#arena[..])?)
                    }
                }
            }
        }
    };
    // A layer with model state gets its field of `Model` last.
    let state: Option<TokenStream> = layer.kernel.state().map(|state| {
        let field = super::state::field(state.id());
        if state.writes() {
            quote!(&mut self.#field)
        } else {
            quote!(&self.#field)
        }
    });
    let state = state.iter();
    let tokens = match plan.storage[layer.output] {
        Storage::Arena { offset: out, dtype } => {
            let args: Vec<TokenStream> = layer
                .inputs
                .iter()
                .map(|&t| read(t, Some((dtype, out))))
                .collect();
            let (mut uses_below, mut uses_above) = (false, false);
            for &t in &layer.inputs {
                if let Storage::Arena { offset, dtype: d } = plan.storage[t] {
                    uses_below |= d == dtype && offset < out;
                    uses_above |= d == dtype && offset > out;
                }
            }
            let (_, split) = arena_helper_names(dtype);
            let arena = arena_var(dtype);
            let out = Literal::usize_unsuffixed(out);
            let below = if uses_below { quote!(below) } else { quote!(_) };
            let above = if uses_above { quote!(above) } else { quote!(_) };
            quote! {
                {
                    let (#below, output, #above) = #split::<#out, #out_len_literal>(#arena)?;
                    #function(#(#args,)* output #(, #state)*);
                }
            }
        }
        Storage::Output(n) => {
            let p = &outputs[n].param;
            let args: Vec<TokenStream> = layer.inputs.iter().map(|&t| read(t, None)).collect();
            quote!(#function(#(#args,)* #p #(, #state)*);)
        }
        Storage::Input(_) => {
            return Err(Error::Internal(format!(
                "layer '{}' would write into a model input",
                layer.node.name
            )))
        }
    };
    Ok(tokens)
}

/// The statements of `run_layers_with`: `call` (from [`layer_call`]) between the probe's
/// `before` and `after`, which sees the layer's output through a read-only window.
pub(super) fn traced_layer_call(
    graph: &QGraph,
    plan: &Plan,
    step: usize,
    call: &TokenStream,
    outputs: &[PortItems],
) -> Result<TokenStream> {
    let layer = &graph.layers[step];
    let index = Literal::usize_unsuffixed(step);
    // The node's name as a string literal that reads back as the name (see `model_text`).
    let name: syn::LitStr = syn::parse_str(&format!("\"{}\"", model_text(&layer.node.name)))
        .map_err(|e| Error::Internal(format!("node name literal: {e}")))?;
    let tensor = &graph.tensors[layer.output];
    let variant = match tensor.dtype {
        QType::I8 => quote!(LayerOutput::I8),
        QType::I16 => quote!(LayerOutput::I16),
    };
    let view = match plan.storage[layer.output] {
        Storage::Arena { offset, dtype } => {
            let (window, _) = arena_helper_names(dtype);
            let arena = arena_var(dtype);
            let (offset, len) = (
                Literal::usize_unsuffixed(offset),
                Literal::usize_unsuffixed(tensor.len()),
            );
            quote!(#window::<#offset, #len>(&#arena[..])?)
        }
        Storage::Output(n) => {
            let p = &outputs[n].param;
            quote!(&*#p)
        }
        Storage::Input(_) => {
            return Err(Error::Internal(format!(
                "layer '{}' would write into a model input",
                layer.node.name
            )))
        }
    };
    Ok(quote! {
        probe.before(#index, #name);
        #call
        probe.after(#index, #name, #variant(#view));
    })
}
