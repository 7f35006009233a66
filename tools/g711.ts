// G.711 μ-law (ITU-T G.711, the North American / Japanese companding law), the one audio format
// that travels through VCA end to end. Only tooling needs to look inside it: the realtime model
// emulator measures speech energy and synthesises a voice, and tests build caller audio.
// Segment/mantissa arithmetic as in the Recommendation's reference encoder (bias 0x84, clip 32635).

const BIAS = 0x84;
const CLIP = 32635;

/** One μ-law byte → a 16-bit linear sample (−32124 … 32124; 0xFF and 0x7F are silence). */
export function mulawToLinear(byte: number): number {
  const u = ~byte & 0xff;
  const exponent = (u >> 4) & 0x07;
  const magnitude = ((((u & 0x0f) << 3) + BIAS) << exponent) - BIAS;
  return u & 0x80 ? 0 - magnitude : magnitude; // 0 - 0 is +0: silence has one value
}

/** One 16-bit linear sample → its μ-law byte. */
export function linearToMulaw(sample: number): number {
  let value = Math.max(-32768, Math.min(32767, Math.round(sample)));
  const sign = value < 0 ? 0x80 : 0;
  if (sign) value = -value;
  value = Math.min(value, CLIP) + BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (value & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (value >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

const DECODED = Int16Array.from({ length: 256 }, (_, byte) => mulawToLinear(byte));

/** RMS level of a run of μ-law bytes in dBFS (−Infinity for digital silence). */
export function mulawLevelDbfs(audio: Uint8Array): number {
  if (audio.length === 0) return Number.NEGATIVE_INFINITY;
  let sum = 0;
  for (const byte of audio) {
    const sample = DECODED[byte] as number;
    sum += sample * sample;
  }
  return 20 * Math.log10(Math.sqrt(sum / audio.length) / 32768);
}

/** μ-law bytes for `ms` of a sine tone at `amplitude` (0–1 of full scale), 8 kHz. */
export function mulawTone(ms: number, frequencyHz = 440, amplitude = 0.3): Uint8Array {
  const samples = Math.round(ms * 8);
  const out = new Uint8Array(samples);
  for (let i = 0; i < samples; i++) out[i] = linearToMulaw(amplitude * 32767 * Math.sin((2 * Math.PI * frequencyHz * i) / 8000));
  return out;
}

/** μ-law bytes for `ms` of digital silence (0xFF). */
export function mulawSilence(ms: number): Uint8Array {
  return new Uint8Array(Math.round(ms * 8)).fill(0xff);
}
