/**
 * face-api's dlib ResNet face descriptor (its FaceRecognitionNet) as ONNX.
 *
 * face-api ships only weights; the network is its TypeScript code (src/faceRecognitionNet),
 * which this file restates op for op so that onnxruntime gives what tfjs gives:
 *   (x - meanRgb) / 255, conv 7x7/2 'valid' + scale + relu, max-pool 3/2 'valid',
 *   3 x residual(32), residualDown(64) + 3 x residual(64), residualDown(128) + 2 x residual(128),
 *   residualDown(256) + 2 x residual(256), residualDown(256), mean over H and W, matmul to 128.
 * Each conv adds its bias, then the "scale layer" (dlib's batch-norm, already folded by dlib into
 * a per-channel multiplier and offset): x * w + b. Kept as Conv, Mul, Add rather than folded into
 * the conv weights, so the graph does the same float operations as face-api; onnxruntime's own
 * optimiser fuses them at load time.
 * face-api stores 109 of the 117 weights uint8-quantised (value = q * scale + min per tensor);
 * they stay uint8 here, dequantised by the graph to exactly tfjs's float32 values (see `weight`),
 * which makes the file about a quarter of the float32 one (6.5 MB instead of 22.5 MB).
 */
import { DataType, GraphBuilder } from './onnx';
import { decodeWeights, parseWeightsManifest, type TfjsWeight } from './tfjs-weights';

const SIZE = 150;
// face-api's computeFaceDescriptor: normalize(x, meanRgb) then .div(255), RGB order.
const MEAN_RGB = [122.782, 117.001, 104.298];

/** The residual blocks in order: name, channels out, down-sampling. */
const BLOCKS: ReadonlyArray<readonly [string, number, boolean]> = [
  ['conv32_1', 32, false],
  ['conv32_2', 32, false],
  ['conv32_3', 32, false],
  ['conv64_down', 64, true],
  ['conv64_1', 64, false],
  ['conv64_2', 64, false],
  ['conv64_3', 64, false],
  ['conv128_down', 128, true],
  ['conv128_1', 128, false],
  ['conv128_2', 128, false],
  ['conv256_down', 256, true],
  ['conv256_1', 256, false],
  ['conv256_2', 256, false],
  ['conv256_down_out', 256, true],
];

interface Act {
  name: string;
  c: number;
  h: number;
  w: number;
}

class DlibBuilder {
  readonly g = new GraphBuilder('dlib-resnet');
  private readonly used = new Set<string>();

  constructor(private readonly weights: Map<string, TfjsWeight>) {}

  private take(name: string, shape: readonly number[]): TfjsWeight {
    const t = this.weights.get(name);
    if (!t) throw new Error(`dlib-resnet: weight ${name} missing`);
    if (t.dtype !== 'float32' || t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`dlib-resnet: weight ${name} is ${t.dtype} [${t.shape}], expected float32 [${shape}]`);
    }
    this.used.add(name);
    return t;
  }

  /**
   * The weight `name` (tfjs shape `shape`) as a float32 tensor of dims `dims`; `order[i]`, when
   * given, is the index in the tfjs weight of element i of the result (a transposition).
   * A weight face-api stores uint8-quantised stays uint8 in the ONNX file (a quarter of the
   * bytes) with its scale and min, and the graph dequantises it as tfjs does:
   * float32(double(q) * scale + min), in double precision with one rounding to float32, so the
   * values are bit for bit those of tfjs. These nodes depend on constants only: onnxruntime
   * folds them into float32 initializers when it loads the model.
   */
  weight(name: string, shape: readonly number[], hint: string, dims: readonly number[], order?: Int32Array): string {
    const t = this.take(name, shape);
    const pick = <T extends Float32Array | Uint8Array>(a: T): T => {
      if (!order) return a;
      const out = new (a.constructor as new (n: number) => T)(a.length);
      for (let i = 0; i < order.length; i++) out[i] = a[order[i]];
      return out;
    };
    if (!t.quantized) return this.g.constant(hint, pick(t.data as Float32Array), dims);
    const { q, scale, min } = t.quantized;
    const g = this.g;
    const stored = g.constant(`${hint}_u8`, pick(q), dims);
    const s = g.constant(`${hint}_scale`, new Float64Array([scale]), []);
    const m = g.constant(`${hint}_min`, new Float64Array([min]), []);
    let x = g.node('Cast', [stored], { to: { i: DataType.DOUBLE } }, `${hint}_f64`);
    x = g.node('Mul', [x, s], {}, `${hint}_mul`);
    x = g.node('Add', [x, m], {}, `${hint}_add`);
    return g.node('Cast', [x], { to: { i: DataType.FLOAT } }, hint);
  }

  checkAllUsed(): void {
    const extra = [...this.weights.keys()].filter((k) => !this.used.has(k));
    if (extra.length) throw new Error(`dlib-resnet: unexpected weights ${extra.join(', ')}`);
  }

  /**
   * face-api's convLayer: conv2d (TF 'same' or 'valid'), + bias, * scale weights + scale biases,
   * optional relu. TF filters are [kh, kw, in, out]; ONNX wants [out, in, kh, kw].
   */
  conv(x: Act, prefix: string, cout: number, k: number, stride: number, padding: 'same' | 'valid', relu: boolean): Act {
    // order[dst] = src: ONNX [co, ci, i, j] <- TF [i, j, ci, co]
    const order = new Int32Array(k * k * x.c * cout);
    for (let i = 0; i < k; i++)
      for (let j = 0; j < k; j++)
        for (let ci = 0; ci < x.c; ci++)
          for (let co = 0; co < cout; co++) order[((co * x.c + ci) * k + i) * k + j] = ((i * k + j) * x.c + ci) * cout + co;
    const W = this.weight(`${prefix}/conv/filters`, [k, k, x.c, cout], `${prefix}/W`, [cout, x.c, k, k], order);
    const B = this.weight(`${prefix}/conv/bias`, [cout], `${prefix}/B`, [cout]);
    const S = this.weight(`${prefix}/scale/weights`, [cout], `${prefix}/scale_w`, [cout, 1, 1]);
    const O = this.weight(`${prefix}/scale/biases`, [cout], `${prefix}/scale_b`, [cout, 1, 1]);
    // TF 'same' with stride 1 and an odd kernel pads (k - 1) / 2 on every side; this network
    // uses 'same' only that way, so explicit symmetric pads match it.
    if (padding === 'same' && stride !== 1) throw new Error('dlib-resnet: strided same padding is not used by this network');
    const p = padding === 'same' ? (k - 1) / 2 : 0;
    const h = Math.floor((x.h + 2 * p - k) / stride) + 1;
    const w = Math.floor((x.w + 2 * p - k) / stride) + 1;
    let y = this.g.node('Conv', [x.name, W, B], { kernel_shape: { ints: [k, k] }, strides: { ints: [stride, stride] }, pads: { ints: [p, p, p, p] } }, `${prefix}/conv`);
    y = this.g.node('Mul', [y, S], {}, `${prefix}/scale_mul`);
    y = this.g.node('Add', [y, O], {}, `${prefix}/scale_add`);
    if (relu) y = this.g.node('Relu', [y], {}, `${prefix}/relu`);
    return { name: y, c: cout, h, w };
  }

  residual(x: Act, prefix: string): Act {
    const a = this.conv(x, `${prefix}/conv1`, x.c, 3, 1, 'same', true);
    const b = this.conv(a, `${prefix}/conv2`, x.c, 3, 1, 'same', false);
    const sum = this.g.node('Add', [b.name, x.name], {}, `${prefix}/add`);
    return { ...b, name: this.g.node('Relu', [sum], {}, `${prefix}/relu`) };
  }

  /**
   * face-api's residualDown: the main path is conv 3x3/2 'valid' then conv 'same'; the shortcut
   * is avg-pool 2/2 'valid', with zero channels appended when the width doubles. When the two
   * paths disagree in size (odd inputs: 8 -> 3 vs 4, 4 -> 1 vs 2), face-api appends one zero row
   * and one zero column to the main path, at the bottom and right.
   */
  residualDown(x: Act, prefix: string, cout: number): Act {
    const a = this.conv(x, `${prefix}/conv1`, cout, 3, 2, 'valid', true);
    let b = this.conv(a, `${prefix}/conv2`, cout, 3, 1, 'same', false);
    let pooled: Act = {
      name: this.g.node('AveragePool', [x.name], { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] } }, `${prefix}/pool`),
      c: x.c,
      h: Math.floor((x.h - 2) / 2) + 1,
      w: Math.floor((x.w - 2) / 2) + 1,
    };
    if (pooled.h !== b.h || pooled.w !== b.w) {
      const pads = this.g.int64s(`${prefix}/pad_hw`, [0, 0, 0, 0, 0, 0, 1, 1]);
      b = { ...b, name: this.g.node('Pad', [b.name, pads], {}, `${prefix}/pad_hw`), h: b.h + 1, w: b.w + 1 };
    }
    if (pooled.c !== cout) {
      // face-api concatenates zeros of the pooled tensor's own shape, so the width exactly doubles.
      if (cout !== 2 * pooled.c) throw new Error(`dlib-resnet: ${prefix} widens ${pooled.c} -> ${cout}`);
      const pads = this.g.int64s(`${prefix}/pad_c`, [0, 0, 0, 0, 0, pooled.c, 0, 0]);
      pooled = { ...pooled, name: this.g.node('Pad', [pooled.name, pads], {}, `${prefix}/pad_c`), c: cout };
    }
    if (pooled.h !== b.h || pooled.w !== b.w) throw new Error(`dlib-resnet: ${prefix} shortcut ${pooled.h}x${pooled.w} vs ${b.h}x${b.w}`);
    const sum = this.g.node('Add', [pooled.name, b.name], {}, `${prefix}/add`);
    return { name: this.g.node('Relu', [sum], {}, `${prefix}/relu`), c: cout, h: b.h, w: b.w };
  }
}

/** Converts face-api's face_recognition_model weights (manifest JSON + .bin) to ONNX (opset 13). */
export function dlibResNetToOnnx(manifestJson: Buffer, weightsBin: Buffer): Uint8Array {
  const groups = parseWeightsManifest(manifestJson);
  const shardPaths = groups.flatMap((grp) => grp.paths);
  if (shardPaths.length !== 1) throw new Error(`dlib-resnet: expected one weights shard, manifest lists [${shardPaths.join(', ')}]`);
  const weights = decodeWeights(groups, () => weightsBin);
  const d = new DlibBuilder(weights);
  const g = d.g;

  const input = g.input('input', ['N', SIZE, SIZE, 3]);
  const mean = g.constant('mean_rgb', new Float32Array(MEAN_RGB), [3]);
  const d255 = g.constant('div255', new Float32Array([255]), []);
  let t = g.node('Sub', [input, mean], {}, 'sub_mean');
  t = g.node('Div', [t, d255], {}, 'div255');
  t = g.node('Transpose', [t], { perm: { ints: [0, 3, 1, 2] } }, 'to_nchw');

  let x: Act = { name: t, c: 3, h: SIZE, w: SIZE };
  x = d.conv(x, 'conv32_down', 32, 7, 2, 'valid', true);
  x = {
    ...x,
    name: g.node('MaxPool', [x.name], { kernel_shape: { ints: [3, 3] }, strides: { ints: [2, 2] } }, 'maxpool'),
    h: Math.floor((x.h - 3) / 2) + 1,
    w: Math.floor((x.w - 3) / 2) + 1,
  };
  for (const [name, c, down] of BLOCKS) x = down ? d.residualDown(x, name, c) : d.residual(x, name);

  const avg = g.node('ReduceMean', [x.name], { axes: { ints: [2, 3] }, keepdims: { i: 0 } }, 'global_avg');
  const fc = d.weight('fc', [x.c, 128], 'fc', [x.c, 128]);
  const out = g.node('MatMul', [avg, fc], {}, 'fc_matmul');
  d.checkAllUsed();
  g.alias(out, 'descriptor');
  g.output('descriptor', ['N', 128]);

  return g.toBytes({
    opset: 13,
    producer: 'glimpse models/convert/dlib-resnet.ts',
    doc: "dlib ResNet face descriptor from @vladmandic/face-api's face_recognition_model weights",
    metadata: {
      input: 'input: float32 [N, 150, 150, 3] RGB 0..255; (x - [122.782, 117.001, 104.298]) / 255 is done inside',
      output: 'descriptor: float32 [N, 128], not L2-normalised (as face-api returns it)',
    },
  });
}
