//! The arenas inside `Model`: their fields and lengths, the windows the layers read and write
//! through, and the optional link section.

use super::rust_type;
use crate::error::{Error, Result};
use crate::ir::QGraph;
use crate::plan::{Plan, Storage};
use crate::quant::QType;
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

/// The arena items of `Model` and `run_layers`.
pub(super) struct ArenaItems {
    /// `let arena = ...` in `run_layers`.
    pub(super) binding: TokenStream,
    /// `let arena_i16 = ...`, when a layer uses the int16 arena.
    pub(super) i16_binding: Option<TokenStream>,
    /// The int16 arena's field and initialiser, when the model has int16 tensors.
    pub(super) i16_field: Option<TokenStream>,
    pub(super) i16_init: Option<TokenStream>,
    /// The length constant of the int8 arena.
    pub(super) i8_len: Ident,
    /// `ARENA_I8_LEN` and `ARENA_I16_LEN`, with an int16 arena.
    pub(super) lens: Option<TokenStream>,
}

impl ArenaItems {
    pub(super) fn new(graph: &QGraph, plan: &Plan) -> ArenaItems {
        // Models whose tensors all live in the caller's buffers never touch the arena.
        let uses_arena = |dtype: QType| {
            graph.layers.iter().any(|l| {
                l.inputs.iter().chain([&l.output]).any(
                    |&t| matches!(plan.storage[t], Storage::Arena { dtype: d, .. } if d == dtype),
                )
            })
        };
        let arena_binding = if uses_arena(QType::I8) {
            quote!(let arena = &mut self.arena.0;)
        } else {
            // Still borrowed, so that the (empty) field counts as used.
            quote!(let _empty_arena = &mut self.arena.0;)
        };
        // int16 tensors live in an arena of their own, present only when the model has some.
        let arena_i16_len = plan
            .arenas
            .iter()
            .find(|(t, _)| *t == QType::I16)
            .map(|&(_, len)| Literal::usize_unsuffixed(len));
        let arena_i16_field = arena_i16_len.as_ref().map(|_| {
            quote! {
                /// int16 tensors, in an arena of their own.
                arena_i16: Align16<[i16; ARENA_I16_LEN]>,
            }
        });
        let arena_i16_init = arena_i16_len
            .as_ref()
            .map(|_| quote!(arena_i16: Align16([0; ARENA_I16_LEN]),));
        // With an int16 arena, ARENA_BYTES counts both and the int8 one gets a length of its own.
        let (arena_i8_len, arena_lens) = match &arena_i16_len {
            None => (format_ident!("ARENA_BYTES"), None),
            Some(i16_len) => {
                let i8_len = Literal::usize_unsuffixed(
                    plan.arenas
                        .iter()
                        .find(|(t, _)| *t == QType::I8)
                        .map_or(0, |&(_, len)| len),
                );
                (
                    format_ident!("ARENA_I8_LEN"),
                    Some(quote! {
                        /// Elements of the int8 arena.
                        const ARENA_I8_LEN: usize = #i8_len;
                        /// Elements of the int16 arena.
                        const ARENA_I16_LEN: usize = #i16_len;
                    }),
                )
            }
        };
        let arena_i16_binding =
            uses_arena(QType::I16).then(|| quote!(let arena_i16 = &mut self.arena_i16.0;));
        ArenaItems {
            binding: arena_binding,
            i16_binding: arena_i16_binding,
            i16_field: arena_i16_field,
            i16_init: arena_i16_init,
            i8_len: arena_i8_len,
            lens: arena_lens,
        }
    }
}

/// Checks a link section name for the arena: it becomes a string literal in an attribute, so
/// it must be non-empty printable ASCII without quotes, backslashes or white space.
pub fn check_link_section(section: &str) -> Result<()> {
    let bad = section
        .chars()
        .find(|&c| !c.is_ascii_graphic() || c == '"' || c == '\\');
    if section.is_empty() || bad.is_some() {
        return Err(Error::LinkSection {
            section: section.escape_debug().to_string(),
            message: match bad {
                Some(c) => format!("{:?} is not allowed (printable ASCII only, no quotes, backslashes or white space)", c),
                None => "the name is empty".into(),
            },
        });
    }
    Ok(())
}

/// `ARENA_LINK_SECTION` and the `in_arena_section!` macro. The arena is a field of `Model`,
/// and a field cannot have its own section, so the firmware's `Model` static goes there whole.
/// The attribute cannot be on an item of this module: `#[link_section]` counts as unsafe code
/// and the module must compile under `#![forbid(unsafe_code)]`; the macro carries it to the
/// firmware's static instead, where the firmware's crate decides whether it allows it.
pub(super) fn arena_section_items(section: &str) -> Result<TokenStream> {
    check_link_section(section)?;
    let doc_const = format!(
        " The link section `{section}` the arena is meant for (`--arena-section`): put the \
         firmware's `Model` static there with [`in_arena_section!`]."
    );
    Ok(quote! {
        #[doc = #doc_const]
        pub const ARENA_LINK_SECTION: &str = #section;

        /// Declares a static in [`ARENA_LINK_SECTION`], e.g. the firmware's `Model`:
        /// `model::in_arena_section! { static MODEL: Mutex<RefCell<model::Model>> =
        /// Mutex::new(RefCell::new(model::Model::new())); }`. `Model::new()` is all zeros, so a
        /// zero-initialised (`.bss`-like) section suits it. Expands to `#[link_section]`,
        /// which a crate with `#![forbid(unsafe_code)]` rejects: invoke it from one that
        /// allows it.
        #[allow(unused_macros)]
        macro_rules! in_arena_section {
            ($(#[$meta:meta])* $vis:vis static $name:ident: $ty:ty = $init:expr;) => {
                $(#[$meta])*
                #[unsafe(link_section = #section)]
                $vis static $name: $ty = $init;
            };
        }
        #[allow(unused_imports)]
        pub(crate) use in_arena_section;
    })
}

/// The arena helpers for one element type: `window`/`split_arena` for int8 (their names
/// predate int16), `window_i16`/`split_arena_i16` for int16. Only the used ones are emitted.
pub(super) fn arena_helpers(dtype: QType) -> TokenStream {
    let (window, split) = arena_helper_names(dtype);
    let ty = rust_type(dtype);
    quote! {
        /// A read-only window of an arena.
        #[inline(always)]
        fn #window<const OFFSET: usize, const LEN: usize>(elements: &[#ty]) -> Option<&[#ty; LEN]> {
            elements.get(OFFSET..)?.first_chunk::<LEN>()
        }

        /// Splits an arena into the elements below a layer's output, the output, and the rest.
        #[inline(always)]
        fn #split<const OFFSET: usize, const LEN: usize>(
            elements: &mut [#ty],
        ) -> Option<(&[#ty], &mut [#ty; LEN], &[#ty])> {
            let (below, rest) = elements.split_at_mut_checked(OFFSET)?;
            let (output, above) = rest.split_first_chunk_mut::<LEN>()?;
            Some((below, output, above))
        }
    }
}

pub(super) fn arena_helper_names(dtype: QType) -> (Ident, Ident) {
    match dtype {
        QType::I8 => (format_ident!("window"), format_ident!("split_arena")),
        QType::I16 => (
            format_ident!("window_i16"),
            format_ident!("split_arena_i16"),
        ),
    }
}

/// The local variable holding an arena inside `run_layers`.
pub(super) fn arena_var(dtype: QType) -> Ident {
    match dtype {
        QType::I8 => format_ident!("arena"),
        QType::I16 => format_ident!("arena_i16"),
    }
}
