//! `inspect` output: an aligned text table for people, JSON for scripts.

use super::Inspection;
use std::fmt::Write;

impl Inspection {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Model: {} (scales: {})",
            cell(&self.model),
            self.scales
        );
        let _ = writeln!(out, "\nQuantized tensors:");
        let tensor_rows: Vec<Vec<String>> = self
            .tensors
            .tensors
            .iter()
            .map(|t| {
                vec![
                    t.tensor.clone(),
                    format!("{:?}", t.role).to_lowercase(),
                    t.shape.as_ref().map_or("?".into(), |s| format!("{s:?}")),
                    t.dtype.clone(),
                    list(&t.scales, |s| format!("{s:.6e}")),
                    list(&t.zero_points, i64::to_string),
                    list(&t.exponents, i32::to_string),
                    format!("{:.2}%", 100.0 * t.max_relative_error()),
                    t.saturated
                        .map_or("-".into(), |share| format!("{:.2}%", 100.0 * share)),
                    t.changes
                        .iter()
                        .map(|c| format!("{c:?}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                ]
            })
            .collect();
        out += &table(
            &[
                "tensor",
                "role",
                "shape",
                "dtype",
                "scale",
                "zero point",
                "exponent",
                "rel. error",
                "saturated",
                "change",
            ],
            &tensor_rows,
        );
        let _ = writeln!(out, "\nLayers:");
        let rows: Vec<Vec<String>> = self
            .layers
            .iter()
            .map(|l| {
                vec![
                    l.node.clone(),
                    if l.in_place {
                        format!("{} (in place)", l.ops)
                    } else {
                        l.ops.clone()
                    },
                    format!(
                        "{} -> {}",
                        list(&l.input_exponents, i32::to_string),
                        l.output_exponent
                    ),
                    if l.shifts.is_empty() {
                        "-".into()
                    } else {
                        list(&l.shifts, i32::to_string)
                    },
                    l.accumulator_bound.map_or("-".into(), |b| {
                        format!("{b}{}", if l.wide_accumulator { " (i64)" } else { "" })
                    }),
                    l.macs.to_string(),
                ]
            })
            .collect();
        out += &table(
            &["node", "ops", "exp in -> out", "shift", "acc bound", "MACs"],
            &rows,
        );
        let _ = writeln!(
            out,
            "\nArena: {} bytes (lower bound {} bytes)",
            self.arena_bytes, self.peak_live_bytes
        );
        let Some(e) = &self.effect else {
            let _ = writeln!(
                out,
                "\nEnd to end: not measured ({})",
                crate::error::terminal_safe(self.not_measured.as_deref().unwrap_or("no reference"))
            );
            return out;
        };
        let _ = writeln!(
            out,
            "\nEnd to end, original vs rewritten {} on {} ({} samples, output '{}'):",
            crate::error::terminal_safe(&e.model),
            crate::error::terminal_safe(&e.inputs),
            e.samples,
            cell(&e.output)
        );
        let _ = writeln!(
            out,
            "  SQNR: {}",
            match e.sqnr_db {
                None => "inf dB (identical outputs)".into(),
                Some(_) if e.nan_elements > 0 =>
                    format!("-inf dB (NaN in {} output elements)", e.nan_elements),
                Some(db) => format!("{db:.2} dB"),
            }
        );
        let _ = writeln!(
            out,
            "  argmax agreement: {}/{} ({:.2}%)",
            e.argmax_agreement,
            e.samples,
            e.agreement_percent()
        );
        out
    }
}

/// Values joined by commas; long per-channel lists are shortened to their first few.
fn list<T>(values: &[T], show: impl Fn(&T) -> String) -> String {
    const SHOWN: usize = 4;
    let mut text: Vec<String> = values.iter().take(SHOWN).map(show).collect();
    if values.len() > SHOWN {
        text.push(format!("... ({} values)", values.len()));
    }
    text.join(",")
}

/// The widest a cell gets; longer text (a hostile 70,000-character name) is cut, saying so.
const MAX_CELL: usize = 120;

/// A cell as printed: made terminal-safe, and cut at [`MAX_CELL`] characters.
fn cell(text: &str) -> String {
    let safe = crate::error::terminal_safe(text);
    let count = safe.chars().count();
    if count <= MAX_CELL {
        return safe;
    }
    let kept: String = safe.chars().take(MAX_CELL - 30).collect();
    format!("{kept}... ({count} characters)")
}

/// Left-aligned columns separated by two spaces, under a header and a rule.
pub(super) fn table(titles: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|c| cell(c)).collect())
        .collect();
    let mut widths: Vec<usize> = titles.iter().map(|t| t.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    // Padding by hand: format's width argument is limited to u16.
    let line = |cells: &mut dyn Iterator<Item = String>| {
        let padded: Vec<String> = cells
            .zip(&widths)
            .map(|(c, &w)| {
                let pad = w.saturating_sub(c.chars().count());
                c + &" ".repeat(pad)
            })
            .collect();
        format!("  {}\n", padded.join("  ").trim_end())
    };
    let mut out = line(&mut titles.iter().map(|t| t.to_string()));
    out += &line(&mut widths.iter().map(|&w| "-".repeat(w)));
    for row in rows {
        out += &line(&mut row.into_iter());
    }
    out
}
