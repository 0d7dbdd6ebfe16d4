/**
 * A PNG decoder for the browser test's screenshots (8-bit RGB or RGBA, not interlaced: what Chromium writes) and
 * the measures that tell a drawn page from a blank one. node:zlib inflates the IDAT stream; the five scanline
 * filters are undone as the PNG specification defines them.
 */
import { inflateSync } from 'node:zlib';

export interface Image {
  width: number;
  height: number;
  /** 3 (RGB) or 4 (RGBA) bytes per pixel, rows top to bottom */
  channels: 3 | 4;
  pixels: Uint8Array;
}

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

/** The pixels of a PNG file; throws on anything but 8-bit RGB/RGBA without interlacing. */
export function decodePng(file: Uint8Array): Image {
  if (!SIGNATURE.every((b, i) => file[i] === b)) throw new Error('not a PNG file (bad signature)');
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  let width = 0;
  let height = 0;
  let channels: 3 | 4 = 4;
  const idat: Uint8Array[] = [];
  for (let at = 8; at < file.length; ) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...file.subarray(at + 4, at + 8));
    const data = file.subarray(at + 8, at + 8 + length);
    if (type === 'IHDR') {
      width = view.getUint32(at + 8);
      height = view.getUint32(at + 12);
      const [depth, colour, , , interlace] = data.subarray(8, 13);
      if (depth !== 8 || (colour !== 2 && colour !== 6) || interlace !== 0) throw new Error(`unsupported PNG: bit depth ${depth}, colour type ${colour}, interlace ${interlace}`);
      channels = colour === 6 ? 4 : 3;
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    at += 12 + length; // length, type, data, CRC
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  if (raw.length !== height * (stride + 1)) throw new Error(`PNG data is ${raw.length} bytes, expected ${height * (stride + 1)}`);
  const pixels = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const out = pixels.subarray(y * stride, (y + 1) * stride);
    const up = y > 0 ? pixels.subarray((y - 1) * stride, y * stride) : new Uint8Array(stride);
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? out[i - channels] : 0;
      const b = up[i];
      const c = i >= channels ? up[i - channels] : 0;
      let predictor = 0;
      if (filter === 1) predictor = a;
      else if (filter === 2) predictor = b;
      else if (filter === 3) predictor = (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
        predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else if (filter !== 0) throw new Error(`PNG row ${y}: unknown filter ${filter}`);
      out[i] = (line[i] + predictor) & 255;
    }
  }
  return { width, height, channels, pixels };
}

/** The RGB of pixel (x, y). */
export const pixel = (img: Image, x: number, y: number): [number, number, number] => {
  const i = (y * img.width + x) * img.channels;
  return [img.pixels[i], img.pixels[i + 1], img.pixels[i + 2]];
};

/** How much is drawn: distinct RGB colours, the standard deviation of luma, and the pixels within `near` of `colour`. */
export function imageStats(img: Image, colour?: [number, number, number], near = 40): { colours: number; lumaSd: number; matching: number } {
  const seen = new Set<number>();
  let sum = 0;
  let sumSq = 0;
  let matching = 0;
  const n = img.width * img.height;
  for (let p = 0; p < n; p++) {
    const i = p * img.channels;
    const [r, g, b] = [img.pixels[i], img.pixels[i + 1], img.pixels[i + 2]];
    seen.add((r << 16) | (g << 8) | b);
    const luma = 0.299 * r + 0.587 * g + 0.114 * b;
    sum += luma;
    sumSq += luma * luma;
    if (colour && Math.abs(r - colour[0]) + Math.abs(g - colour[1]) + Math.abs(b - colour[2]) <= near) matching++;
  }
  const mean = sum / n;
  return { colours: seen.size, lumaSd: Math.sqrt(Math.max(0, sumSq / n - mean * mean)), matching };
}
