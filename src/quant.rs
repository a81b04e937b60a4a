//! The block-quantized weight layouts in memory (the file's forms, `crate::format`):
//! a matrix dense (F32/F16), Q8 or Q4 with one f16 scale per [`BLOCK`] weights of a
//! row, quantized from f32, read back by row, and as the GPU's `u32` words.

use half::f16;

/// Weights per quantization block (one scale per block).
pub const BLOCK: usize = 32;

/// How a matrix is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightFormat {
    F32,
    F16,
    Q8,
    Q4,
}

impl std::str::FromStr for WeightFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "f32" => Ok(Self::F32),
            "f16" => Ok(Self::F16),
            "q8" | "int8" => Ok(Self::Q8),
            "q4" | "int4" => Ok(Self::Q4),
            _ => Err(format!("unknown weight format `{s}` (expected f32, f16, q8 or q4)")),
        }
    }
}

/// Matrix payload in memory. Dense values are f32 whatever the file held.
#[derive(Clone, Debug, PartialEq)]
pub enum WeightData {
    /// (rows, cols) row-major; `f16` remembers the stored precision for saving.
    Dense { values: Vec<f32>, f16: bool },
    /// (rows, cols) codes and (rows, cols/32) scales.
    Q8 { codes: Vec<i8>, scales: Vec<f32> },
    /// (rows, cols/2) packed nibbles and (rows, cols/32) scales.
    Q4 { packed: Vec<u8>, scales: Vec<f32> },
}

/// A weight matrix: `rows` outputs by `cols` inputs.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub data: WeightData,
}

impl Matrix {
    /// Quantizes (or stores) row-major f32 weights in the given format.
    pub fn from_f32(values: &[f32], rows: usize, cols: usize, format: WeightFormat) -> Matrix {
        assert_eq!(values.len(), rows * cols, "matrix data does not match its shape");
        let data = match format {
            WeightFormat::F32 => WeightData::Dense { values: values.to_vec(), f16: false },
            WeightFormat::F16 => {
                WeightData::Dense { values: values.iter().map(|&v| f16::from_f32(v).to_f32()).collect(), f16: true }
            }
            WeightFormat::Q8 => {
                assert_eq!(cols % BLOCK, 0, "Q8 needs cols to be a multiple of {BLOCK}");
                let mut codes = Vec::with_capacity(values.len());
                let mut scales = Vec::with_capacity(values.len() / BLOCK);
                for block in values.chunks(BLOCK) {
                    let amax = block.iter().fold(0f32, |m, v| m.max(v.abs()));
                    // Round the scale through f16 first so quantization uses the stored scale.
                    let scale = f16::from_f32(amax / 127.0).to_f32();
                    let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
                    codes.extend(block.iter().map(|v| (v * inv).round().clamp(-127.0, 127.0) as i8));
                    scales.push(scale);
                }
                WeightData::Q8 { codes, scales }
            }
            WeightFormat::Q4 => {
                assert_eq!(cols % BLOCK, 0, "Q4 needs cols to be a multiple of {BLOCK}");
                let mut packed = Vec::with_capacity(values.len() / 2);
                let mut scales = Vec::with_capacity(values.len() / BLOCK);
                for block in values.chunks(BLOCK) {
                    // The value of largest magnitude maps to code −8, so the full −8..=7 range is used.
                    let extreme = block.iter().fold(0f32, |m, &v| if v.abs() > m.abs() { v } else { m });
                    let scale = f16::from_f32(extreme / -8.0).to_f32();
                    let inv = if scale != 0.0 { 1.0 / scale } else { 0.0 };
                    let code = |v: f32| ((v * inv).round().clamp(-8.0, 7.0) as i32 + 8) as u8;
                    packed.extend(block.chunks(2).map(|p| code(p[0]) | (code(p[1]) << 4)));
                    scales.push(scale);
                }
                WeightData::Q4 { packed, scales }
            }
        };
        Matrix { rows, cols, data }
    }

    /// The stored format.
    pub fn format(&self) -> WeightFormat {
        match &self.data {
            WeightData::Dense { f16: false, .. } => WeightFormat::F32,
            WeightData::Dense { f16: true, .. } => WeightFormat::F16,
            WeightData::Q8 { .. } => WeightFormat::Q8,
            WeightData::Q4 { .. } => WeightFormat::Q4,
        }
    }

    /// Writes row `r`, dequantized, into `out` (len `cols`).
    pub fn row_into(&self, r: usize, out: &mut [f32]) {
        let (c, nb) = (self.cols, self.cols / BLOCK);
        match &self.data {
            WeightData::Dense { values, .. } => out.copy_from_slice(&values[r * c..(r + 1) * c]),
            WeightData::Q8 { codes, scales } => {
                for (i, o) in out.iter_mut().enumerate() {
                    *o = scales[r * nb + i / BLOCK] * codes[r * c + i] as f32;
                }
            }
            WeightData::Q4 { packed, scales } => {
                for (i, o) in out.iter_mut().enumerate() {
                    let byte = packed[(r * c + i) / 2];
                    let nib = if i % 2 == 0 { byte & 15 } else { byte >> 4 };
                    *o = scales[r * nb + i / BLOCK] * (nib as f32 - 8.0);
                }
            }
        }
    }

    /// All weights as row-major f32 (what the CPU reference multiplies with).
    pub fn dequantize(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.rows * self.cols];
        for (r, row) in out.chunks_mut(self.cols).enumerate() {
            self.row_into(r, row);
        }
        out
    }

    /// The payload as little-endian u32 words, the way the shaders bind it:
    /// dense → f32 bits, Q8 → 4 codes a word, Q4 → 8 codes a word.
    pub fn gpu_words(&self) -> Vec<u32> {
        match &self.data {
            WeightData::Dense { values, .. } => bytemuck::cast_slice(values).to_vec(),
            WeightData::Q8 { codes, .. } => bytes_to_words(bytemuck::cast_slice(codes)),
            WeightData::Q4 { packed, .. } => bytes_to_words(packed),
        }
    }

    /// How many words `gpu_words` gives, without building them.
    pub fn gpu_word_count(&self) -> usize {
        match &self.data {
            WeightData::Dense { values, .. } => values.len(),
            WeightData::Q8 { codes, .. } => codes.len().div_ceil(4),
            WeightData::Q4 { packed, .. } => packed.len().div_ceil(4),
        }
    }

    /// Block scales (rows, cols/32), or an empty slice for dense matrices.
    pub fn scales(&self) -> &[f32] {
        match &self.data {
            WeightData::Dense { .. } => &[],
            WeightData::Q8 { scales, .. } | WeightData::Q4 { scales, .. } => scales,
        }
    }

    /// Bytes this matrix takes in the file.
    pub fn stored_bytes(&self) -> usize {
        match &self.data {
            WeightData::Dense { values, f16 } => values.len() * if *f16 { 2 } else { 4 },
            WeightData::Q8 { codes, scales } => codes.len() + scales.len() * 2,
            WeightData::Q4 { packed, scales } => packed.len() + scales.len() * 2,
        }
    }
}

fn bytes_to_words(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks(4)
        .map(|c| {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            u32::from_le_bytes(w)
        })
        .collect()
}
