//! The module skeleton: I/O constants, `Model` with its arena, `run`/`predict`, the weight
//! statics and the integer helpers. Built with quote; layer functions come from templates.

mod arena;
mod calls;
mod helpers;
mod ports;
mod self_test;
mod state;
mod statics;

pub use arena::check_link_section;
pub use self_test::self_test_statics;
pub use statics::{file_static_item, static_item};

use super::RenderedLayer;
use crate::error::{Error, Result};
use crate::ir::{Layer, Port, QGraph, QType};
use crate::plan::Plan;
use crate::quant::Rounding;
use crate::text::comment_safe;
use arena::{arena_section_items, ArenaItems};
use ports::{port_items, PortItems};
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote, ToTokens};

/// The module's items, layer functions included, before formatting.
pub fn assemble(
    graph: &QGraph,
    plan: &Plan,
    layers: &[RenderedLayer],
    arena_link_section: Option<&str>,
    self_test: bool,
) -> Result<syn::File> {
    let inputs: Vec<PortItems> = (0..graph.inputs.len())
        .map(|i| port_items("input", &graph.inputs, i))
        .collect();
    let outputs: Vec<PortItems> = (0..graph.outputs.len())
        .map(|i| port_items("output", &graph.outputs, i))
        .collect();

    let constants = ports::port_constants(graph, &inputs, &outputs);
    let arena_bytes = Literal::usize_unsuffixed(plan.arena_bytes);
    let arena_section = match arena_link_section {
        Some(section) if plan.arena_bytes > 0 => arena_section_items(section)?,
        _ => TokenStream::new(),
    };

    let port_type = |port: &Port| graph.tensors[port.tensor].dtype;
    let input_types: Vec<QType> = graph.inputs.iter().map(port_type).collect();
    let output_types: Vec<QType> = graph.outputs.iter().map(port_type).collect();
    let input_params: Vec<TokenStream> = inputs
        .iter()
        .zip(&input_types)
        .map(|(p, &dtype)| {
            let (param, len, ty) = (&p.param, &p.len, rust_type(dtype));
            quote!(#param: &[#ty; #len])
        })
        .collect();
    let output_params: Vec<TokenStream> = outputs
        .iter()
        .zip(&output_types)
        .map(|(p, &dtype)| {
            let (param, len, ty) = (&p.param, &p.len, rust_type(dtype));
            quote!(#param: &mut [#ty; #len])
        })
        .collect();
    let input_zeros: Vec<Literal> = input_types.iter().map(|&t| zero(t)).collect();
    let output_zeros: Vec<Literal> = output_types.iter().map(|&t| zero(t)).collect();
    let quantizers: Vec<Ident> = input_types
        .iter()
        .map(|t| format_ident!("quantize_{}", t.rust()))
        .collect();
    let run_doc = format!(
        " Runs the integer network: {} in, {} out, at the exponents above.",
        type_names(&input_types),
        type_names(&output_types)
    );
    let float_inputs: Vec<TokenStream> = inputs
        .iter()
        .map(|p| {
            let (param, len) = (&p.param, &p.len);
            quote!(#param: &[f32; #len])
        })
        .collect();
    let float_outputs: Vec<TokenStream> = outputs
        .iter()
        .map(|p| {
            let (param, len) = (&p.param, &p.len);
            quote!(#param: &mut [f32; #len])
        })
        .collect();
    let input_names: Vec<&Ident> = inputs.iter().map(|p| &p.param).collect();
    let output_names: Vec<&Ident> = outputs.iter().map(|p| &p.param).collect();
    let quantized_in: Vec<Ident> = inputs
        .iter()
        .map(|p| format_ident!("quantized_{}", p.param))
        .collect();
    let quantized_out: Vec<Ident> = outputs
        .iter()
        .map(|p| format_ident!("quantized_{}", p.param))
        .collect();
    let in_lens: Vec<&Ident> = inputs.iter().map(|p| &p.len).collect();
    let out_lens: Vec<&Ident> = outputs.iter().map(|p| &p.len).collect();
    let in_scales: Vec<&Ident> = inputs.iter().map(|p| &p.scale).collect();
    let out_scales: Vec<&Ident> = outputs.iter().map(|p| &p.scale).collect();

    let calls = layers
        .iter()
        .enumerate()
        .map(|(step, rendered)| calls::layer_call(graph, plan, step, rendered, &inputs, &outputs))
        .collect::<Result<Vec<_>>>()?;
    let traced = calls
        .iter()
        .enumerate()
        .map(|(step, call)| calls::traced_layer_call(graph, plan, step, call, &outputs))
        .collect::<Result<Vec<_>>>()?;
    let functions = layers.iter().map(|l| &l.function);
    let ArenaItems {
        binding: arena_binding,
        i16_binding: arena_i16_binding,
        i16_field: arena_i16_field,
        i16_init: arena_i16_init,
        i8_len: arena_i8_len,
        lens: arena_lens,
    } = ArenaItems::new(graph, plan);
    let mut callers: Vec<TokenStream> = layers
        .iter()
        .map(|l| l.function.to_token_stream())
        .collect();
    callers.extend(calls.iter().cloned());
    callers.extend(traced.iter().cloned());
    // predict quantizes the inputs.
    callers.extend(quantizers.iter().map(|q| quote!(#q(x, scale))));
    let runtime = helpers::runtime_items(graph.rounding, &callers)?;
    let state::StateItems {
        constants: state_constants,
        fields: state_fields,
        inits: state_inits,
        reset: reset_state,
    } = state::StateItems::new(graph);
    let half_up = graph.rounding == Rounding::HalfUp;

    let self_test_items = if self_test {
        self_test::items(&inputs, &outputs, !reset_state.is_empty())
    } else {
        TokenStream::new()
    };
    let predict_doc = format!(
        " Quantizes (`{}(x * 2^-e)`, saturated), runs, and dequantizes (`q * 2^e`).",
        if half_up {
            "round_half_up"
        } else {
            "round_half_even"
        }
    );

    let tokens = quote! {
        #constants

        /// Bytes of working memory inside [`Model`].
        pub const ARENA_BYTES: usize = #arena_bytes;

        #arena_lens

        #state_constants

        #arena_section

        /// Aligns weights and the arena to 16 bytes, as the ESP32-S3's vector loads need.
        #[repr(C, align(16))]
        struct Align16<T>(T);

        /// A layer's output, as [`Model::run_with`] shows it to a [`LayerProbe`]. A probe may
        /// ignore it, and a model has int16 layers or not: neither is worth a warning.
        #[allow(dead_code)]
        #[derive(Clone, Copy, Debug)]
        pub enum LayerOutput<'a> {
            I8(&'a [i8]),
            I16(&'a [i16]),
        }

        /// What [`Model::run_with`] calls around each layer, for profiling (time `before` to
        /// `after`) and tracing (read `output`). `index` counts the layers from 0 and `name`
        /// is the layer's ONNX node, as in the table at the top of this file. Both methods do
        /// nothing by default.
        pub trait LayerProbe {
            /// Layer `index` is about to run.
            fn before(&mut self, index: usize, name: &str) {
                let _ = (index, name);
            }

            /// Layer `index` has run and written `output`.
            fn after(&mut self, index: usize, name: &str, output: LayerOutput<'_>) {
                let _ = (index, name, output);
            }
        }

        /// The model with its working memory; it never allocates.
        pub struct Model {
            arena: Align16<[i8; #arena_i8_len]>,
            #arena_i16_field
            #state_fields
        }

        impl Default for Model {
            fn default() -> Self {
                Self::new()
            }
        }

        impl Model {
            /// A model ready to run; `const`, so it can live in a `static`.
            pub const fn new() -> Self {
                Model { arena: Align16([0; #arena_i8_len]), #arena_i16_init #state_inits }
            }

            #reset_state

            #[doc = #run_doc]
            pub fn run(&mut self, #(#input_params,)* #(#output_params,)*) {
                // Every window below was checked against ARENA_BYTES at codegen, so `None`
                // never happens: the Option only keeps panicking paths out of the code.
                let _ = self.run_layers(#(#input_names,)* #(#output_names,)*);
            }

            #[doc = #predict_doc]
            pub fn predict(&mut self, #(#float_inputs,)* #(#float_outputs,)*) {
                #(
                    let mut #quantized_in = [#input_zeros; #in_lens];
                    for (q, x) in #quantized_in.iter_mut().zip(#input_names.iter()) {
                        *q = #quantizers(*x, #in_scales);
                    }
                )*
                #( let mut #quantized_out = [#output_zeros; #out_lens]; )*
                self.run(#(&#quantized_in,)* #(&mut #quantized_out,)*);
                #(
                    for (y, q) in #output_names.iter_mut().zip(#quantized_out.iter()) {
                        *y = *q as f32 * #out_scales;
                    }
                )*
            }

            /// [`Model::run`], calling `probe` before and after each layer. `run` itself stays
            /// as it is: this is a separate function, compiled only when a program calls it.
            pub fn run_with(
                &mut self,
                probe: &mut impl LayerProbe,
                #(#input_params,)*
                #(#output_params,)*
            ) {
                let _ = self.run_layers_with(probe, #(#input_names,)* #(#output_names,)*);
            }

            fn run_layers(&mut self, #(#input_params,)* #(#output_params,)*) -> Option<()> {
                #arena_binding
                #arena_i16_binding
                #(#calls)*
                Some(())
            }

            fn run_layers_with(
                &mut self,
                probe: &mut impl LayerProbe,
                #(#input_params,)*
                #(#output_params,)*
            ) -> Option<()> {
                #arena_binding
                #arena_i16_binding
                #(#traced)*
                Some(())
            }
        }

        #self_test_items

        #(#runtime)*

        #(#functions)*
    };
    syn::parse2(tokens).map_err(|e| Error::InvalidRust {
        what: "the module skeleton".into(),
        message: e.to_string(),
        snippet: String::new(),
    })
}

/// Doc comment attributes of a layer function.
pub fn layer_doc(
    graph: &QGraph,
    layer: &Layer,
    index: usize,
    description: &str,
    in_place: bool,
) -> Vec<syn::Attribute> {
    let shape = |t: usize| {
        let tensor = &graph.tensors[t];
        format!("{:?} at 2^{}", tensor.shape, tensor.exponent)
    };
    let inputs: Vec<String> = layer.inputs.iter().map(|&t| shape(t)).collect();
    let mut lines = vec![
        format!(
            " Layer {index}: `{}` from node `{}`.",
            layer.ops,
            comment_safe(&layer.node.name)
        ),
        format!(" {} -> {}.", inputs.join(" and "), shape(layer.output)),
        format!(" {}.", comment_safe(description)),
    ];
    if in_place {
        lines.push(" In place: `data` holds the input on entry and the output on return.".into());
    }
    lines
        .iter()
        .map(|line| syn::parse_quote!(#[doc = #line]))
        .collect()
}

fn rust_type(dtype: QType) -> Ident {
    format_ident!("{}", dtype.rust())
}

/// `0i8` or `0i16`.
fn zero(dtype: QType) -> Literal {
    match dtype {
        QType::I8 => Literal::i8_suffixed(0),
        QType::I16 => Literal::i16_suffixed(0),
    }
}

/// `int8`, or `int8/int16` for ports of both types.
fn type_names(types: &[QType]) -> String {
    let mut names: Vec<&str> = types.iter().map(|t| t.name()).collect();
    names.sort();
    names.dedup();
    names.join("/")
}
