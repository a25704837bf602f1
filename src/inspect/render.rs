//! `inspect` output: an aligned text table for people, JSON for scripts.

use super::Inspection;
use std::fmt::Write;

impl Inspection {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Model: {}", self.model);
        let _ = writeln!(out, "\nLayers:");
        let rows: Vec<Vec<String>> = self
            .layers
            .iter()
            .map(|l| {
                vec![
                    l.node.clone(),
                    l.ops.clone(),
                    format!(
                        "{} -> {}",
                        l.input_exponents
                            .iter()
                            .map(i32::to_string)
                            .collect::<Vec<_>>()
                            .join(","),
                        l.output_exponent
                    ),
                    l.shift.map_or("-".into(), |s| s.to_string()),
                    l.macs.to_string(),
                ]
            })
            .collect();
        out += &table(&["node", "ops", "exp in -> out", "shift", "MACs"], &rows);
        let _ = writeln!(
            out,
            "\nArena: {} bytes (lower bound {} bytes)",
            self.arena_bytes, self.peak_live_bytes
        );
        let e = &self.effect;
        let _ = writeln!(
            out,
            "\nEnd to end, original vs rewritten model on {} ({} samples, output '{}'):",
            e.inputs, e.samples, e.output
        );
        let _ = writeln!(
            out,
            "  SQNR: {}",
            e.sqnr_db.map_or("inf dB (identical outputs)".into(), |db| {
                format!("{db:.2} dB")
            })
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

/// Left-aligned columns separated by two spaces, under a header and a rule.
pub(super) fn table(titles: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = titles.iter().map(|t| t.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = String>| {
        let padded: Vec<String> = cells
            .zip(&widths)
            .map(|(c, &w)| format!("{c:<w$}"))
            .collect();
        format!("  {}\n", padded.join("  ").trim_end())
    };
    let mut out = line(&mut titles.iter().map(|t| t.to_string()));
    out += &line(&mut widths.iter().map(|&w| "-".repeat(w)));
    for row in rows {
        out += &line(&mut row.iter().cloned());
    }
    out
}
