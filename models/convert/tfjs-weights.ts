/**
 * Decodes TensorFlow.js weight manifests (`*-weights_manifest.json`, or the `weightsManifest`
 * of a graph model's model.json) and their binary shards into typed arrays, giving the same
 * values as tfjs-core's `io.decodeWeights` so that a converted model can be held to tfjs's
 * output exactly.
 */

export type TfjsDtype = 'float32' | 'int32' | 'bool';

export interface TfjsQuantization {
  dtype: 'uint8' | 'uint16' | 'float16';
  scale?: number;
  min?: number;
}

export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: TfjsQuantization;
}

export interface TfjsWeightsGroup {
  paths: string[];
  weights: TfjsWeightSpec[];
}

export interface TfjsWeight {
  name: string;
  shape: number[];
  dtype: TfjsDtype;
  data: Float32Array | Int32Array | Uint8Array;
  /**
   * For a float32 weight stored uint8-quantised: the stored values as they are in the shard,
   * with `data[i] = Math.fround(q[i] * scale + min)` (the product and sum in double precision,
   * as tfjs computes them). Lets a converter keep the weight quantised in its output.
   */
  quantized?: { dtype: 'uint8'; q: Uint8Array; scale: number; min: number };
}

function fail(msg: string): never {
  throw new Error(`tfjs weights manifest: ${msg}`);
}

/** Parses and checks a weights manifest (the JSON array of groups). */
export function parseWeightsManifest(json: Buffer | string | unknown): TfjsWeightsGroup[] {
  const value: unknown = typeof json === 'string' || Buffer.isBuffer(json) ? JSON.parse(json.toString()) : json;
  if (!Array.isArray(value)) fail('expected an array of weight groups');
  return value.map((g: unknown, gi): TfjsWeightsGroup => {
    const group = g as Partial<TfjsWeightsGroup>;
    if (!Array.isArray(group.paths) || !group.paths.every((p) => typeof p === 'string')) fail(`group ${gi}: paths must be strings`);
    if (!Array.isArray(group.weights)) fail(`group ${gi}: no weights`);
    for (const w of group.weights) {
      if (typeof w.name !== 'string' || !Array.isArray(w.shape) || !w.shape.every((d) => Number.isInteger(d) && d >= 0) || typeof w.dtype !== 'string') {
        fail(`group ${gi}: malformed weight ${JSON.stringify(w)}`);
      }
    }
    return { paths: group.paths, weights: group.weights };
  });
}

// Half-precision to single: exact for every value, subnormals, infinities and NaN included.
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

function decodeOne(spec: TfjsWeightSpec, bytes: Uint8Array): TfjsWeight {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const q = spec.quantization;
  const { name, shape } = spec;
  if (q) {
    if (q.dtype === 'float16') {
      if (spec.dtype !== 'float32') fail(`${name}: float16 quantisation of ${spec.dtype}`);
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = halfToFloat(view.getUint16(2 * i, true));
      return { name, shape, dtype: 'float32', data };
    }
    if (q.dtype !== 'uint8' && q.dtype !== 'uint16') fail(`${name}: unknown quantisation ${String(q.dtype)}`);
    const { scale, min } = q;
    if (typeof scale !== 'number' || typeof min !== 'number') fail(`${name}: ${q.dtype} quantisation without scale and min`);
    const at = q.dtype === 'uint8' ? (i: number) => view.getUint8(i) : (i: number) => view.getUint16(2 * i, true);
    // tfjs computes q * scale + min in double precision and rounds once on storing to float32.
    if (spec.dtype === 'float32') {
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = at(i) * scale + min;
      if (q.dtype === 'uint8') return { name, shape, dtype: 'float32', data, quantized: { dtype: 'uint8', q: new Uint8Array(bytes.subarray(0, n)), scale, min } };
      return { name, shape, dtype: 'float32', data };
    }
    if (spec.dtype === 'int32') {
      const data = new Int32Array(n);
      for (let i = 0; i < n; i++) data[i] = Math.round(at(i) * scale + min);
      return { name, shape, dtype: 'int32', data };
    }
    fail(`${name}: quantised ${spec.dtype} is not supported`);
  }
  if (spec.dtype === 'float32') {
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = view.getFloat32(4 * i, true);
    return { name, shape, dtype: 'float32', data };
  }
  if (spec.dtype === 'int32') {
    const data = new Int32Array(n);
    for (let i = 0; i < n; i++) data[i] = view.getInt32(4 * i, true);
    return { name, shape, dtype: 'int32', data };
  }
  if (spec.dtype === 'bool') return { name, shape, dtype: 'bool', data: bytes.slice(0, n) };
  return fail(`${name}: dtype ${spec.dtype} is not supported`);
}

/**
 * Decodes every weight of every group. Each group's shards, concatenated in the order listed,
 * hold its weights back to back (tfjs's layout); `readShard` returns a shard's bytes by the path
 * the manifest gives. Unused trailing bytes or a short shard are errors.
 */
export function decodeWeights(groups: TfjsWeightsGroup[], readShard: (path: string) => Uint8Array): Map<string, TfjsWeight> {
  const out = new Map<string, TfjsWeight>();
  for (const group of groups) {
    const shards = group.paths.map(readShard);
    const buf = shards.length === 1 ? shards[0] : Buffer.concat(shards);
    let offset = 0;
    for (const spec of group.weights) {
      const per = BYTES[spec.quantization?.dtype ?? spec.dtype];
      if (!per) fail(`${spec.name}: dtype ${spec.dtype} is not supported`);
      const len = per * spec.shape.reduce((a, b) => a * b, 1);
      if (offset + len > buf.length) fail(`${spec.name}: needs bytes ${offset}..${offset + len}, shards hold ${buf.length}`);
      if (out.has(spec.name)) fail(`${spec.name}: listed twice`);
      out.set(spec.name, decodeOne(spec, buf.subarray(offset, offset + len)));
      offset += len;
    }
    if (offset !== buf.length) fail(`group [${group.paths.join(', ')}]: ${buf.length - offset} bytes left over`);
  }
  return out;
}
