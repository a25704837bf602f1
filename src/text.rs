//! Text from a model on its way into generated code: identifiers, comments and string
//! literals that no model name can break out of.

/// A lowercase snake_case Rust identifier made from arbitrary text: ASCII letters and digits
/// kept, every other run of characters one underscore (model names never reach code as-is).
pub fn rust_ident(text: &str) -> String {
    let mut ident = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            ident.push(c.to_ascii_lowercase());
        } else if !ident.is_empty() && !ident.ends_with('_') {
            ident.push('_');
        }
    }
    while ident.ends_with('_') {
        ident.pop();
    }
    if ident.is_empty() || ident.starts_with(|c: char| c.is_ascii_digit()) {
        ident.insert(0, 'x');
    }
    ident
}

/// Text safe for a comment or doc line: printable ASCII as is, anything else (control and
/// text-direction characters included) as a `\u{..}` escape, so no name can end a comment,
/// break a line or reorder what a reviewer sees.
pub fn comment_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c.to_string()
            } else {
                c.escape_unicode().to_string()
            }
        })
        .collect()
}

/// Model text made safe inside a Rust `//` or `/* */` comment and inside a `"..."` string
/// literal, where it reads back as the original text: printable ASCII stays (but `\` and `"`
/// are escaped, and the `/` of `*/` or `/*` becomes `\u{2f}`), every other character is a
/// `\u{..}` escape. Nothing in it can end a comment or a literal, or start a line.
pub fn model_text(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let star_before = i > 0 && chars[i - 1] == '*';
        let star_after = chars.get(i + 1) == Some(&'*');
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '/' if star_before || star_after => out.push_str("\\u{2f}"),
            ' ' => out.push(' '),
            c if c.is_ascii_graphic() => out.push(c),
            c => out.push_str(&c.escape_unicode().to_string()),
        }
    }
    out
}
