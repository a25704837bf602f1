//! ConvTranspose (1-D and 2-D, any groups): every output pixel gathers the input pixels whose
//! scattered taps land on it, `oy = iy * stride - pad + ky * dilation`, so the kernel needs no
//! scratch buffer. `acc = b + sum(x * w)` at `ex + ew`, requantized like Conv. A 1-D
//! ConvTranspose is the 2-D one with height 1.

use super::window::Tap;
use crate::error::{Error, Result};
use crate::ir::TensorId;
use crate::kernel::KernelEmit;
use crate::kernel::{BuiltinTemplate, Clamp, Kernel, Renderer, Shifts};
use crate::lower::bias::{bias_input, int8_values, Bias};
use crate::lower::Pending;
use crate::lower::{Lowering, Weights};
use crate::onnx::Node;
use crate::quant::accumulator::Accumulator;
use std::rc::Rc;

/// Spatial geometry, as `[height, width]` pairs (height 1 for 1-D).
#[derive(Debug, Clone)]
struct Geometry {
    input: [usize; 2],
    kernel: [usize; 2],
    strides: [usize; 2],
    dilations: [usize; 2],
    /// Padding removed at the start of each axis.
    pads_begin: [usize; 2],
    output: [usize; 2],
}

pub fn lower(lowering: &mut Lowering, node: &Node) -> Result<()> {
    let input = lowering.quant_input(node, 0)?;
    let weights = lowering.weights(node, 1)?;
    let bias = bias_input(lowering, node, 2)?;
    let shape = lowering.tensor(input).shape.clone();
    let (batch, in_channels, spatial, one_d) = match shape[..] {
        [n, c, h, w] => (n, c, [h, w], false),
        [n, c, l] => (n, c, [1, l], true),
        _ => {
            return Err(Error::node(
                node,
                format!("input shape {shape:?}: only 1-D (NCL) and 2-D (NCHW) are supported"),
            ))
        }
    };
    let (weight_channels, out_per_group, kernel) = match (one_d, &weights.dims[..]) {
        (false, &[c, m, kh, kw]) => (c, m, [kh, kw]),
        (true, &[c, m, k]) => (c, m, [1, k]),
        _ => {
            return Err(Error::node(
                node,
                format!(
                    "weight shape {:?} does not match input {shape:?}: expected [C, M/group, kH, kW] or [C, M/group, k]",
                    weights.dims
                ),
            ))
        }
    };
    let groups = usize::try_from(node.attr_int("group", 1)?)
        .ok()
        .filter(|&g| g >= 1 && in_channels % g == 0)
        .ok_or_else(|| Error::node(node, "group must divide the input channels"))?;
    if weight_channels != in_channels {
        return Err(Error::node(
            node,
            format!("weights have {weight_channels} input channels, the input {in_channels}"),
        ));
    }
    if node.attr_ints("output_shape")?.is_some()
        || !matches!(
            node.attr_string("auto_pad", "NOTSET")?.as_str(),
            "NOTSET" | "VALID"
        )
    {
        return Err(Error::node(
            node,
            "output_shape and SAME auto_pad are not supported; give explicit pads",
        ));
    }
    // 1-D attributes have one value per axis; 2-D ones two. Height defaults for 1-D.
    let pair = |name: &str, default: usize| -> Result<[usize; 2]> {
        match node.attr_ints(name)? {
            None => Ok([default; 2]),
            Some(v) if v.iter().all(|&x| x >= 0) => match (one_d, &v[..]) {
                (true, &[w]) => Ok([default, w as usize]),
                (false, &[h, w]) => Ok([h as usize, w as usize]),
                _ => Err(Error::node(
                    node,
                    format!("attribute '{name}' = {v:?} has the wrong length"),
                )),
            },
            Some(v) => Err(Error::node(
                node,
                format!("attribute '{name}' = {v:?} is negative"),
            )),
        }
    };
    let strides = pair("strides", 1)?;
    let dilations = pair("dilations", 1)?;
    let output_padding = pair("output_padding", 0)?;
    let (pads_begin, pads_end) = match node.attr_ints("pads")? {
        None => ([0; 2], [0; 2]),
        Some(p) if p.iter().all(|&x| x >= 0) => match (one_d, &p[..]) {
            (true, &[b, e]) => ([0, b as usize], [0, e as usize]),
            (false, &[t, l, b, r]) => ([t as usize, l as usize], [b as usize, r as usize]),
            _ => {
                return Err(Error::node(
                    node,
                    format!("pads {p:?} have the wrong length"),
                ))
            }
        },
        Some(p) => return Err(Error::node(node, format!("pads {p:?} are negative"))),
    };
    if strides.contains(&0) || dilations.contains(&0) {
        return Err(Error::node(node, "strides and dilations must be positive"));
    }
    let mut output = [0; 2];
    for axis in 0..2 {
        let full = strides[axis]
            .checked_mul(spatial[axis] - 1)
            .and_then(|s| s.checked_add(output_padding[axis]))
            .and_then(|s| s.checked_add((kernel[axis] - 1).checked_mul(dilations[axis])?))
            .and_then(|s| s.checked_add(1));
        let full = crate::lower::size::dim(node, "the output", full)?;
        let pads = pads_begin[axis].checked_add(pads_end[axis]);
        output[axis] = full
            .checked_sub(crate::lower::size::dim(node, "the pads", pads)?)
            .filter(|&o| o > 0)
            .ok_or_else(|| Error::node(node, "the pads remove the whole output"))?;
    }
    let geometry = Geometry {
        input: spatial,
        kernel,
        strides,
        dilations,
        pads_begin,
        output,
    };
    let out_channels = out_per_group * groups;
    let output_shape = if one_d {
        vec![batch, out_channels, output[1]]
    } else {
        vec![batch, out_channels, output[0], output[1]]
    };
    crate::lower::checked_len(lowering, node, &output_shape, 1)?;
    let pending = ConvTransposePending {
        node: node.clone(),
        input,
        weights,
        bias,
        groups,
        geometry,
        output_shape,
    };
    crate::lower::define_pending(lowering, node, Rc::new(pending))
}

#[derive(Debug)]
struct ConvTransposePending {
    node: Node,
    input: TensorId,
    weights: Rc<Weights>,
    bias: Option<Bias>,
    groups: usize,
    geometry: Geometry,
    output_shape: Vec<usize>,
}

impl Pending for ConvTransposePending {
    fn output_shape(&self) -> &[usize] {
        &self.output_shape
    }

    fn finish(
        &self,
        lowering: &mut Lowering,
        output_exponent: i32,
        clamp: Clamp,
    ) -> Result<(Box<dyn Kernel>, Vec<TensorId>)> {
        let node = &self.node;
        let x = lowering.tensor(self.input);
        let in_channels = x.shape[1];
        let out_channels = self.output_shape[1];
        let (in_per_group, out_per_group) = (in_channels / self.groups, out_channels / self.groups);
        let taps = self.geometry.kernel[0] * self.geometry.kernel[1];
        let onnx = int8_values(node, &self.weights)?;
        // ONNX stores [C][M/group][taps]; the kernel reads one contiguous block per output
        // channel: [M][C/group][taps].
        let mut weights = Vec::with_capacity(onnx.len());
        for oc in 0..out_channels {
            let group = oc / out_per_group;
            for icg in 0..in_per_group {
                let ic = group * in_per_group + icg;
                let start = (ic * out_per_group + oc % out_per_group) * taps;
                weights.extend_from_slice(&onnx[start..start + taps]);
            }
        }
        // Weight axis 1 holds the output channels of one group (ONNX and ONNX Runtime
        // quantize ConvTranspose per channel along it): output channel `oc` has exponent
        // `ew[oc % out_per_group]`.
        let (bias, accumulator, shifts) = lowering.requantization(
            node,
            self.input,
            &self.weights,
            (1, out_channels),
            &weights,
            self.bias.as_ref(),
            output_exponent,
            clamp,
        )?;
        let kernel = ConvTranspose2d {
            in_channels,
            out_channels,
            in_per_group,
            out_per_group,
            geometry: self.geometry.clone(),
            weights,
            bias,
            shifts,
            accumulator,
            clamp,
        };
        Ok((Box::new(kernel), vec![self.input]))
    }
}

#[derive(Debug)]
struct ConvTranspose2d {
    in_channels: usize,
    out_channels: usize,
    in_per_group: usize,
    out_per_group: usize,
    geometry: Geometry,
    /// `[out_channels][in_channels / groups * kH * kW]`
    weights: Vec<i8>,
    bias: Vec<i32>,
    shifts: Shifts,
    accumulator: Accumulator,
    clamp: Clamp,
}

impl Kernel for ConvTranspose2d {
    fn supports_int16(&self) -> bool {
        true
    }

    fn renderer(&self) -> Renderer {
        Renderer::Builtin(BuiltinTemplate::ConvTranspose)
    }

    fn emit(&self, out: &mut KernelEmit) -> Result<()> {
        let g = &self.geometry;
        let per_channel = self.weights.len() / self.out_channels;
        out.set("in_channels", self.in_channels);
        out.set("out_channels", self.out_channels);
        out.set("in_per_group", self.in_per_group);
        out.set("out_per_group", self.out_per_group);
        out.set("in_h", g.input[0]);
        out.set("in_w", g.input[1]);
        out.set("in_plane", g.input[0] * g.input[1]);
        out.set("out_w", g.output[1]);
        out.set("out_plane", g.output[0] * g.output[1]);
        out.set("stride_h", g.strides[0]);
        out.set("stride_w", g.strides[1]);
        out.set("pad_top", g.pads_begin[0]);
        out.set("pad_left", g.pads_begin[1]);
        out.set("kernel_size", g.kernel[0] * g.kernel[1]);
        out.set("taps", Tap::grid(g.kernel, g.dilations));
        self.accumulator.set(out, self.clamp, self.shifts.values());
        out.weights_and_bias(&self.weights, per_channel, &self.bias);
        self.shifts.set(out);
        out.describe(format!(
            "{}x{} kernel, stride {}x{}, dilation {}x{}, pads {:?}, {}",
            g.kernel[0],
            g.kernel[1],
            g.strides[0],
            g.strides[1],
            g.dilations[0],
            g.dilations[1],
            g.pads_begin,
            self.shifts.describe()
        ));
        Ok(())
    }

    fn macs(&self) -> u64 {
        let g = &self.geometry;
        (self.in_channels
            * self.out_per_group
            * g.input[0]
            * g.input[1]
            * g.kernel[0]
            * g.kernel[1]) as u64
    }

    fn shift(&self) -> Option<i32> {
        self.shifts.uniform()
    }

    fn channel_shifts(&self) -> Option<&Shifts> {
        self.shifts.per_channel()
    }

    fn accumulator(&self) -> Option<Accumulator> {
        Some(self.accumulator)
    }
}
