//! `Builder::arena_link_section`: the generated `in_arena_section!` macro puts the model's
//! static in the named section (the arena lives inside `Model`), and the model placed there
//! runs as usual. This test crate does not forbid unsafe code, as the firmware crate that
//! invokes the macro must not (`#[link_section]` counts as unsafe code).

mod common;

#[allow(dead_code)] // the test reads a few of the module's items
mod placed {
    include!(concat!(env!("OUT_DIR"), "/digits_esppq_arena_section.rs"));
}

placed::in_arena_section! {
    /// std's Mutex stands in for the firmware's critical-section Mutex: both are const.
    static MODEL: std::sync::Mutex<placed::Model> = std::sync::Mutex::new(placed::Model::new());
}

#[test]
fn the_model_static_in_the_arena_section_is_bit_exact() {
    assert_eq!(placed::ARENA_LINK_SECTION, ".ext_ram.bss");
    let recording = common::load("digits_esppq");
    let mut model = MODEL.lock().expect("the model's lock");
    let agreement = common::compare(
        &recording,
        placed::OUTPUT_EXPONENT,
        |x, y| {
            model.predict(
                x.try_into().expect("input length"),
                y.try_into().expect("output length"),
            )
        },
        placed::OUTPUT_LEN,
    );
    assert_eq!(
        agreement.exact_elements, agreement.elements,
        "{agreement:?}"
    );
}
