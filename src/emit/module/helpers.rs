//! The integer helpers a module carries (`templates/runtime.rs` and the arena windows): only
//! those its code calls, with the rounding mode they use.

use super::arena::arena_helpers;
use crate::error::{Error, Result};
use crate::quant::{QType, Rounding};
use proc_macro2::TokenStream;
use quote::ToTokens;

/// The helpers that `callers` use, directly or through each other, after the
/// `ROUND_HALF_UP` constant of `rounding`.
pub(super) fn runtime_items(rounding: Rounding, callers: &[TokenStream]) -> Result<Vec<syn::Item>> {
    let runtime: syn::File =
        syn::parse_str(crate::quant::runtime::SOURCE).map_err(|e| Error::InvalidRust {
            what: "templates/runtime.rs".into(),
            message: e.to_string(),
            snippet: String::new(),
        })?;
    let arena_helpers: syn::File = syn::parse2(
        [QType::I8, QType::I16]
            .into_iter()
            .map(arena_helpers)
            .collect::<TokenStream>(),
    )
    .map_err(|e| Error::InvalidRust {
        what: "arena helpers".into(),
        message: e.to_string(),
        snippet: String::new(),
    })?;
    let mut helpers = arena_helpers.items;
    helpers.extend(runtime.items);
    let mut runtime = used_helpers(helpers, callers);
    let half_up = rounding == Rounding::HalfUp;
    let mode_doc = format!(
        " How the helpers break ties: {}.",
        if half_up {
            "toward +infinity (`--rounding half-up`, ESP-DL's ESP32-S3 rounding)"
        } else {
            "to even (ONNX Runtime's rounding)"
        }
    );
    runtime.insert(
        0,
        syn::parse_quote! {
            #[doc = #mode_doc]
            const ROUND_HALF_UP: bool = #half_up;
        },
    );
    Ok(runtime)
}

/// The helpers that the generated code calls, directly or through another helper; the rest
/// are left out so that no module carries dead code.
fn used_helpers(helpers: Vec<syn::Item>, callers: &[TokenStream]) -> Vec<syn::Item> {
    let name = |item: &syn::Item| match item {
        syn::Item::Fn(f) => f.sig.ident.to_string(),
        _ => String::new(),
    };
    let mut text: String = callers.iter().map(|c| c.to_string()).collect();
    let mut used = vec![false; helpers.len()];
    // Helpers call each other, so repeat until nothing new is found.
    loop {
        let mut grew = false;
        for (i, item) in helpers.iter().enumerate() {
            let name = name(item);
            if !used[i] && calls(&text, &name) {
                used[i] = true;
                grew = true;
                text.push_str(&item.to_token_stream().to_string());
            }
        }
        if !grew {
            break;
        }
    }
    helpers
        .into_iter()
        .zip(used)
        .filter_map(|(item, used)| used.then_some(item))
        .collect()
}

/// Whether printed tokens call function `name`: token streams print a call as `name (` and a
/// generic call as `name ::`, and the name must not be the tail of a longer identifier
/// (`requantize_i8 (` does not call `quantize_i8`).
fn calls(text: &str, name: &str) -> bool {
    [format!("{name} ("), format!("{name} ::")]
        .iter()
        .any(|call| {
            text.match_indices(call.as_str()).any(|(at, _)| {
                !text[..at]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_')
            })
        })
}
