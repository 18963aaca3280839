/**
 * Converts a TensorFlow.js graph model (a model.json with `modelTopology.node`, and its weight
 * shards) into ONNX, op for op, so that onnxruntime gives what tfjs gives.
 *
 * 4-D activations are held in NCHW from one Transpose after the input up to the outputs, which
 * are transposed back: the ONNX interface is the TF one (NHWC), while no transposes sit between
 * layers. The batch stays symbolic; every other dimension must be static, because TF's SAME
 * padding and the resize factors are computed here from the static sizes.
 *
 * Only the ops met so far are translated, each with the attributes it was checked with; any
 * other op or attribute value throws, rather than converting to something that might differ.
 * Shape arithmetic (Shape, StridedSlice, Pack feeding a Reshape) is evaluated at conversion time
 * with the batch kept as a symbol.
 */
import { NHWC_TO_NCHW, Transposes } from './layout';
import { GraphBuilder, type Dim } from './onnx';
import { decodeWeights, parseWeightsManifest, type TfjsWeight } from './tfjs-weights';

export interface TfjsGraphToOnnxOptions {
  /** ONNX graph name. */
  name: string;
  /** Graph outputs to convert, TF tensor name (`node` or `node:0`) -> ONNX output name, in output order. */
  outputs: Record<string, string>;
  /** ONNX name of the graph input (default `input`). */
  inputName?: string;
  doc?: string;
}

interface TfAttr {
  s?: string;
  i?: string | number;
  f?: number;
  b?: boolean;
  type?: string;
  list?: { s?: string[]; i?: (string | number)[]; f?: number[] };
  shape?: { dim?: { size: string | number }[]; unknownRank?: boolean };
}

interface TfNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, TfAttr>;
}

interface GraphModelJson {
  format?: string;
  modelTopology?: { node?: TfNode[]; library?: { function?: unknown[] } };
  weightsManifest?: unknown;
}

const OPSET = 13;
const NHWC_AXIS_IN_NCHW = [0, 2, 3, 1];
/** The symbolic batch: -1 in a TF shape (dimension 0 only), 'batch' in shape arithmetic. */
const BATCH = -1;

type Sym = number | 'batch';

/** An activation computed at run time; `shape` is TF's (NHWC for 4-D), BATCH in dimension 0. */
interface Act {
  kind: 'act';
  name: string;
  layout: 'nchw' | 'plain';
  shape: number[];
}

/** A float constant. */
interface FloatConst {
  kind: 'float';
  tfName: string;
  shape: number[];
  data: Float32Array;
}

/** An int32 tensor known at conversion time (constants and shape arithmetic), values flattened. */
interface Ints {
  kind: 'ints';
  shape: number[];
  values: Sym[];
}

type Value = Act | FloatConst | Ints;

function fail(node: TfNode | string, msg: string): never {
  throw new Error(`tfjs-graph: ${typeof node === 'string' ? node : `${node.op} ${node.name}`}: ${msg}`);
}

function product(a: readonly number[]): number {
  return a.reduce((x, y) => x * y, 1);
}

function decodeS(s: string): string {
  return Buffer.from(s, 'base64').toString('utf8');
}

/** Explicit [begin, end] padding of TF's SAME for a static size. */
function samePads(inSize: number, kernel: number, stride: number, dilation: number): [number, number] {
  const k = (kernel - 1) * dilation + 1;
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + k - inSize, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** Strips `:0` from a tensor reference; control inputs (`^x`) return undefined. */
function tensorRef(ref: string, node: TfNode | string): string | undefined {
  if (ref.startsWith('^')) return undefined;
  const m = /^(.*?)(?::(\d+))?$/.exec(ref);
  if (!m) fail(node, `bad input reference ${ref}`);
  if (m[2] !== undefined && m[2] !== '0') fail(node, `reads output ${m[2]} of ${m[1]}; only single-output ops are supported`);
  return m[1];
}

class Converter {
  private readonly g: GraphBuilder;
  private readonly nodes = new Map<string, TfNode>();
  private readonly values = new Map<string, Value>();
  private readonly consumers = new Map<string, number>();
  private readonly transposes: Transposes<Act>;
  private readonly constNames = new Map<string, string>();
  private readonly visiting = new Set<string>();
  private input?: string;

  constructor(
    json: GraphModelJson,
    private readonly weights: Map<string, TfjsWeight>,
    private readonly opts: TfjsGraphToOnnxOptions,
  ) {
    this.g = new GraphBuilder(opts.name);
    this.transposes = new Transposes<Act>(this.g, fail);
    const list = json.modelTopology?.node;
    if (json.format !== undefined && json.format !== 'graph-model') fail(opts.name, `format ${json.format}; only graph models are supported`);
    if (!Array.isArray(list)) fail(opts.name, 'no modelTopology.node list');
    if (json.modelTopology?.library?.function?.length) fail(opts.name, 'graph functions (control flow) are not supported');
    for (const n of list) {
      if (this.nodes.has(n.name)) fail(n, 'node listed twice');
      this.nodes.set(n.name, n);
    }
  }

  convert(): Uint8Array {
    const outs = Object.entries(this.opts.outputs).map(([ref, onnxName]) => [tensorRef(ref, this.opts.name) ?? fail(this.opts.name, `bad output ${ref}`), onnxName] as const);
    if (outs.length === 0) fail(this.opts.name, 'no outputs requested');
    this.countConsumers(outs.map(([n]) => n));
    const taken = new Set<string>();
    for (const [ref, onnxName] of outs) {
      if (taken.has(onnxName)) fail(this.opts.name, `two outputs named ${onnxName}`);
      taken.add(onnxName);
      const v = this.value(ref);
      if (v.kind !== 'act') fail(ref, 'output is a constant');
      const p = this.plain(v);
      this.g.alias(p.name, onnxName);
      this.g.output(onnxName, p.shape.map((d): Dim => (d === BATCH ? 'batch' : d)));
    }
    return this.g.toBytes({ opset: OPSET, producer: 'glimpse tfjs-graph', doc: this.opts.doc ?? `${this.opts.name}: converted from a TensorFlow.js graph model` });
  }

  /** Consumers of each node among the nodes the outputs need (outputs count as consumers), for fusing a Pad into its convolution. */
  private countConsumers(roots: string[]): void {
    const seen = new Set<string>();
    const stack = [...roots];
    for (const r of roots) this.consumers.set(r, (this.consumers.get(r) ?? 0) + 1);
    while (stack.length) {
      const name = stack.pop() as string;
      if (seen.has(name)) continue;
      seen.add(name);
      const node = this.nodes.get(name) ?? fail(name, 'no such node');
      for (const ref of node.input ?? []) {
        const src = tensorRef(ref, node);
        if (src === undefined) continue;
        this.consumers.set(src, (this.consumers.get(src) ?? 0) + 1);
        stack.push(src);
      }
    }
  }

  // ---- values -----------------------------------------------------------------------------

  private value(name: string): Value {
    const done = this.values.get(name);
    if (done) return done;
    if (this.visiting.has(name)) fail(name, 'cycle in the graph');
    this.visiting.add(name);
    const node = this.nodes.get(name) ?? fail(name, 'no such node');
    const v = this.op(node);
    this.visiting.delete(name);
    this.values.set(name, v);
    return v;
  }

  private inputs(node: TfNode): string[] {
    return (node.input ?? []).map((r) => tensorRef(r, node)).filter((r): r is string => r !== undefined);
  }

  private act(node: TfNode, ref: string): Act {
    const v = this.value(ref);
    if (v.kind !== 'act') fail(node, `input ${ref} must be computed at run time`);
    return v;
  }

  private floatConst(node: TfNode, ref: string): FloatConst {
    const v = this.value(ref);
    if (v.kind !== 'float') fail(node, `input ${ref} must be a float constant`);
    return v;
  }

  private ints(node: TfNode, ref: string): Ints {
    const v = this.value(ref);
    if (v.kind !== 'ints') fail(node, `input ${ref} must be an int32 value known at conversion time`);
    return v;
  }

  private staticInts(node: TfNode, ref: string): number[] {
    const v = this.ints(node, ref);
    return v.values.map((x) => (typeof x === 'number' ? x : fail(node, `${ref} depends on the batch size`)));
  }

  private nchw(v: Act): Act {
    return this.transposes.nchw(v);
  }

  private plain(v: Act): Act {
    return this.transposes.plain(v);
  }

  private constant(key: string, hint: string, data: Float32Array, dims: number[]): string {
    const hit = this.constNames.get(key);
    if (hit) return hit;
    const name = this.g.constant(hint, data, dims);
    this.constNames.set(key, name);
    return name;
  }

  // ---- attributes -------------------------------------------------------------------------

  private attr(node: TfNode, key: string): TfAttr | undefined {
    return node.attr?.[key];
  }

  private str(node: TfNode, key: string, dflt?: string): string {
    const a = this.attr(node, key);
    if (a?.s !== undefined) return decodeS(a.s);
    if (dflt !== undefined) return dflt;
    return fail(node, `attribute ${key} missing`);
  }

  private int(node: TfNode, key: string, dflt?: number): number {
    const a = this.attr(node, key);
    if (a?.i !== undefined) return Number(a.i);
    if (dflt !== undefined) return dflt;
    return fail(node, `attribute ${key} missing`);
  }

  private bool(node: TfNode, key: string, dflt: boolean): boolean {
    const a = this.attr(node, key);
    return a?.b ?? dflt;
  }

  private intList(node: TfNode, key: string, dflt?: number[]): number[] {
    const a = this.attr(node, key);
    if (a?.list) return (a.list.i ?? []).map(Number);
    if (dflt) return dflt;
    return fail(node, `attribute ${key} missing`);
  }

  private strList(node: TfNode, key: string): string[] {
    return (this.attr(node, key)?.list?.s ?? []).map(decodeS);
  }

  private requireNhwc(node: TfNode): void {
    const f = this.str(node, 'data_format', 'NHWC');
    if (f !== 'NHWC') fail(node, `data_format ${f}; only NHWC is supported`);
  }

  // ---- operators --------------------------------------------------------------------------

  private op(node: TfNode): Value {
    switch (node.op) {
      case 'Const':
        return this.constOp(node);
      case 'Placeholder':
        return this.placeholder(node);
      case 'Identity':
        return this.value(this.inputs(node)[0] ?? fail(node, 'no input'));
      case 'Conv2D':
      case '_FusedConv2D':
        return this.conv(node, false);
      case 'DepthwiseConv2dNative':
      case 'FusedDepthwiseConv2dNative':
        return this.conv(node, true);
      case 'Pad':
        return this.pad(node);
      case 'Add':
      case 'AddV2':
        return this.add(node);
      case 'Relu': {
        const x = this.act(node, this.inputs(node)[0]);
        return { ...x, name: this.g.node('Relu', [x.name], {}, node.name) };
      }
      case 'ResizeBilinear':
        return this.resizeBilinear(node);
      case 'DepthToSpace':
        return this.depthToSpace(node);
      case 'Shape':
        return this.shapeOp(node);
      case 'StridedSlice':
        return this.stridedSlice(node);
      case 'Pack':
        return this.pack(node);
      case 'Reshape':
        return this.reshape(node);
      case 'ConcatV2':
        return this.concat(node);
      default:
        return fail(node, 'op not supported');
    }
  }

  private constOp(node: TfNode): Value {
    const w = this.weights.get(node.name) ?? fail(node, 'value not in the weights manifest (inline constants are not supported)');
    if (w.dtype === 'float32') return { kind: 'float', tfName: node.name, shape: w.shape, data: w.data as Float32Array };
    if (w.dtype === 'int32') return { kind: 'ints', shape: w.shape, values: Array.from(w.data as Int32Array) };
    return fail(node, `constant of type ${w.dtype} not supported`);
  }

  private placeholder(node: TfNode): Act {
    if (this.input) fail(node, `second graph input (first: ${this.input}); only single-input models are supported`);
    const dtype = this.attr(node, 'dtype')?.type;
    if (dtype !== 'DT_FLOAT') fail(node, `input type ${dtype}; only float32 inputs are supported`);
    const dims = this.attr(node, 'shape')?.shape?.dim ?? fail(node, 'input shape unknown');
    const shape = dims.map((d) => Number(d.size));
    shape.forEach((d, i) => {
      if (d < 0 && i !== 0) fail(node, `input dimension ${i} is not fixed; only the batch may be symbolic`);
    });
    if (shape[0] < 0) shape[0] = BATCH;
    this.input = node.name;
    const name = this.g.input(this.opts.inputName ?? 'input', shape.map((d): Dim => (d === BATCH ? 'batch' : d)));
    return { kind: 'act', name, layout: 'plain', shape };
  }

  /** A Pad on its own (a Pad read only by a VALID convolution is folded into the convolution instead). */
  private pad(node: TfNode): Act {
    const [xRef, pRef] = this.inputs(node);
    const x = this.act(node, xRef);
    const p = this.staticInts(node, pRef);
    if (p.length !== 2 * x.shape.length) fail(node, `paddings [${p}] for rank ${x.shape.length}`);
    if (p.some((v) => v < 0)) fail(node, 'negative padding');
    if (p[0] !== 0 || p[1] !== 0) fail(node, 'padding the batch is not supported');
    const v = x.shape.length === 4 ? this.nchw(x) : x;
    const order = v.layout === 'nchw' ? NHWC_TO_NCHW : x.shape.map((_, i) => i);
    const begins = order.map((a) => p[2 * a]);
    const ends = order.map((a) => p[2 * a + 1]);
    const shape = x.shape.map((d, i) => (d === BATCH ? d : d + p[2 * i] + p[2 * i + 1]));
    const pads = this.g.int64s(`${node.name}/pads`, [...begins, ...ends]);
    return { kind: 'act', name: this.g.node('Pad', [v.name, pads], { mode: { s: 'constant' } }, node.name), layout: v.layout, shape };
  }

  /**
   * Conv2D / DepthwiseConv2dNative and tfjs's fused forms (`fused_ops`: BiasAdd, then optionally
   * Relu, Relu6, Prelu or LeakyRelu). TF filters are [kh, kw, in, out] (depthwise: [kh, kw, in,
   * multiplier], output channel = in * multiplier + m); ONNX wants [out, in / group, kh, kw].
   */
  private conv(node: TfNode, depthwise: boolean): Act {
    this.requireNhwc(node);
    const [padded, fRef, ...args] = this.inputs(node);
    const fusedOps = node.op.startsWith('Fused') || node.op.startsWith('_Fused') ? this.strList(node, 'fused_ops') : [];
    const numArgs = node.op.startsWith('Fused') || node.op.startsWith('_Fused') ? this.int(node, 'num_args', 0) : 0;
    if (args.length !== numArgs) fail(node, `${args.length} extra inputs, num_args ${numArgs}`);

    const strides = this.intList(node, 'strides');
    const dilations = this.intList(node, 'dilations', [1, 1, 1, 1]);
    if (strides.length !== 4 || strides[0] !== 1 || strides[3] !== 1) fail(node, `strides [${strides}]`);
    if (dilations.length !== 4 || dilations[0] !== 1 || dilations[3] !== 1) fail(node, `dilations [${dilations}]`);
    const padding = this.str(node, 'padding');

    // A zero Pad read only by this convolution becomes the convolution's own padding.
    let xRef = padded;
    let extra = [0, 0, 0, 0]; // top, bottom, left, right
    const padNode = this.nodes.get(padded);
    if (padNode?.op === 'Pad' && padding !== 'SAME' && this.consumers.get(padded) === 1) {
      const [inner, pRef] = this.inputs(padNode);
      const p = this.staticInts(padNode, pRef);
      if (p.length === 8 && p[0] === 0 && p[1] === 0 && p[6] === 0 && p[7] === 0 && p.every((v) => v >= 0)) {
        extra = [p[2], p[3], p[4], p[5]];
        xRef = inner;
      }
    }
    const x = this.nchw(this.act(node, xRef));
    const [n, h, w, cin] = x.shape;

    const f = this.floatConst(node, fRef);
    if (f.shape.length !== 4) fail(node, `filter of rank ${f.shape.length}`);
    const [kh, kw, fin, fout] = f.shape;
    if (fin !== cin) fail(node, `filter expects ${fin} input channels, input has ${cin}${depthwise ? '' : ' (grouped convolution is not supported)'}`);
    const cout = depthwise ? cin * fout : fout;
    const wt = new Float32Array(f.data.length);
    for (let i = 0; i < kh; i++)
      for (let j = 0; j < kw; j++)
        for (let ci = 0; ci < fin; ci++)
          for (let co = 0; co < fout; co++) {
            const src = ((i * kw + j) * fin + ci) * fout + co;
            const dst = depthwise ? ((ci * fout + co) * kh + i) * kw + j : ((co * fin + ci) * kh + i) * kw + j;
            wt[dst] = f.data[src];
          }
    const W = this.constant(`${f.tfName}/${depthwise ? 'dw' : 'conv'}`, `${f.tfName}_oihw`, wt, depthwise ? [cout, 1, kh, kw] : [cout, cin, kh, kw]);

    let pads: number[];
    if (padding === 'VALID') pads = [0, 0, 0, 0];
    else if (padding === 'SAME') {
      const [t, b] = samePads(h, kh, strides[1], dilations[1]);
      const [l, r] = samePads(w, kw, strides[2], dilations[2]);
      pads = [t, b, l, r];
    } else if (padding === 'EXPLICIT') {
      const e = this.intList(node, 'explicit_paddings');
      if (e.length !== 8 || e[0] || e[1] || e[6] || e[7]) fail(node, `explicit_paddings [${e}]`);
      pads = [e[2], e[3], e[4], e[5]];
    } else return fail(node, `padding ${padding}`);
    pads = pads.map((p, i) => p + extra[i]);
    const [t, b, l, r] = pads;
    const span = (k: number, d: number) => (k - 1) * d + 1;
    const oh = Math.floor((h + t + b - span(kh, dilations[1])) / strides[1]) + 1;
    const ow = Math.floor((w + l + r - span(kw, dilations[2])) / strides[2]) + 1;
    if (oh < 1 || ow < 1) fail(node, `output size ${oh}x${ow}`);

    const convInputs = [x.name, W];
    let rest = fusedOps;
    if (rest[0] === 'BiasAdd') {
      const bias = this.floatConst(node, args[0] ?? fail(node, 'BiasAdd without its argument'));
      if (bias.shape.length !== 1 || bias.shape[0] !== cout) fail(node, `bias [${bias.shape}] for ${cout} channels`);
      convInputs.push(this.constant(`${bias.tfName}/bias`, bias.tfName, bias.data, [cout]));
      rest = rest.slice(1);
    } else if (rest.length) fail(node, `fused_ops [${fusedOps}]: the first must be BiasAdd`);
    let y = this.g.node(
      'Conv',
      convInputs,
      {
        kernel_shape: { ints: [kh, kw] },
        strides: { ints: [strides[1], strides[2]] },
        dilations: { ints: [dilations[1], dilations[2]] },
        pads: { ints: [t, l, b, r] },
        group: { i: depthwise ? cin : 1 },
      },
      node.name,
    );
    if (rest.length > 1) fail(node, `fused_ops [${fusedOps}]`);
    switch (rest[0]) {
      case undefined:
        break;
      case 'Relu':
        y = this.g.node('Relu', [y], {}, `${node.name}/relu`);
        break;
      case 'Relu6':
        y = this.g.node('Clip', [y, this.constant('f32/0', 'zero', Float32Array.of(0), []), this.constant('f32/6', 'six', Float32Array.of(6), [])], {}, `${node.name}/relu6`);
        break;
      case 'Prelu': {
        if (args.length !== 2) fail(node, `${args.length} extra inputs for fused_ops [${fusedOps}]`);
        const a = this.floatConst(node, args[1]);
        if (product(a.shape) !== cout || a.shape[a.shape.length - 1] !== cout) fail(node, `Prelu alpha [${a.shape}] for ${cout} channels`);
        y = this.g.node('PRelu', [y, this.constant(`${a.tfName}/prelu`, a.tfName, a.data, [cout, 1, 1])], {}, `${node.name}/prelu`);
        break;
      }
      case 'LeakyRelu': {
        const alpha = this.attr(node, 'leakyrelu_alpha')?.f ?? fail(node, 'LeakyRelu without leakyrelu_alpha');
        y = this.g.node('LeakyRelu', [y], { alpha: { f: alpha } }, `${node.name}/leakyrelu`);
        break;
      }
      default:
        fail(node, `fused_ops [${fusedOps}]`);
    }
    if (rest[0] !== 'Prelu' && args.length > (fusedOps[0] === 'BiasAdd' ? 1 : 0)) fail(node, `${args.length} extra inputs for fused_ops [${fusedOps}]`);
    return { kind: 'act', name: y, layout: 'nchw', shape: [n, oh, ow, cout] };
  }

  private add(node: TfNode): Act {
    const [aRef, bRef] = this.inputs(node);
    let a = this.act(node, aRef);
    let b = this.act(node, bRef);
    // Broadcasting would need the layouts' axes lined up; the graphs met so far add equal shapes.
    if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) fail(node, `shapes [${a.shape}] and [${b.shape}] differ`);
    if (a.layout !== b.layout) {
      a = this.nchw(a);
      b = this.nchw(b);
    }
    return { ...a, name: this.g.node('Add', [a.name, b.name], {}, node.name) };
  }

  /**
   * TF's ResizeBilinear as ONNX Resize (linear). half_pixel_centers is ONNX's half_pixel,
   * align_corners its align_corners, neither its asymmetric. Both clamp source coordinates to
   * the edge pixels. The factor goes in as `scales`, which ONNX applies as out -> in / scale
   * where TF uses out -> in * (in / out): the two agree exactly only for power-of-two factors,
   * so others are refused.
   */
  private resizeBilinear(node: TfNode): Act {
    const [xRef, sRef] = this.inputs(node);
    const x = this.nchw(this.act(node, xRef));
    const size = this.staticInts(node, sRef);
    if (size.length !== 2) fail(node, `size [${size}]`);
    const [n, h, w, c] = x.shape;
    const [oh, ow] = size;
    const alignCorners = this.bool(node, 'align_corners', false);
    const halfPixel = this.bool(node, 'half_pixel_centers', false);
    if (alignCorners && halfPixel) fail(node, 'align_corners and half_pixel_centers together');
    const mode = alignCorners ? 'align_corners' : halfPixel ? 'half_pixel' : 'asymmetric';
    const sh = oh / h;
    const sw = ow / w;
    if (!alignCorners && (!Number.isInteger(Math.log2(sh)) || !Number.isInteger(Math.log2(sw)))) {
      fail(node, `resize ${h}x${w} -> ${oh}x${ow}: only power-of-two factors convert exactly`);
    }
    const scales = this.constant(`resize/${sh}/${sw}`, `${node.name}/scales`, Float32Array.of(1, 1, sh, sw), [4]);
    const y = this.g.node('Resize', [x.name, '', scales], { mode: { s: 'linear' }, coordinate_transformation_mode: { s: mode } }, node.name);
    return { kind: 'act', name: y, layout: 'nchw', shape: [n, oh, ow, c] };
  }

  /** TF's DepthToSpace (NHWC) takes channel (i * b + j) * C' + c to block offset (i, j): ONNX's DCR order. */
  private depthToSpace(node: TfNode): Act {
    this.requireNhwc(node);
    const x = this.nchw(this.act(node, this.inputs(node)[0]));
    const b = this.int(node, 'block_size');
    const [n, h, w, c] = x.shape;
    if (c % (b * b)) fail(node, `${c} channels for block size ${b}`);
    const y = this.g.node('DepthToSpace', [x.name], { blocksize: { i: b }, mode: { s: 'DCR' } }, node.name);
    return { kind: 'act', name: y, layout: 'nchw', shape: [n, h * b, w * b, c / (b * b)] };
  }

  private shapeOp(node: TfNode): Ints {
    const x = this.act(node, this.inputs(node)[0]);
    return { kind: 'ints', shape: [x.shape.length], values: x.shape.map((d): Sym => (d === BATCH ? 'batch' : d)) };
  }

  /** StridedSlice of a 1-D int vector (shape arithmetic), with begin/end/shrink masks. */
  private stridedSlice(node: TfNode): Ints {
    const [xRef, bRef, eRef, sRef] = this.inputs(node);
    const x = this.ints(node, xRef);
    if (x.shape.length !== 1) fail(node, 'only 1-D int vectors can be sliced');
    const [begin] = this.staticInts(node, bRef);
    const [end] = this.staticInts(node, eRef);
    const [stride] = this.staticInts(node, sRef);
    if (this.ints(node, bRef).values.length !== 1 || this.ints(node, eRef).values.length !== 1 || this.ints(node, sRef).values.length !== 1) fail(node, 'begin, end and strides must have one element');
    for (const m of ['ellipsis_mask', 'new_axis_mask']) if (this.int(node, m, 0)) fail(node, `${m} not supported`);
    const beginMask = this.int(node, 'begin_mask', 0) & 1;
    const endMask = this.int(node, 'end_mask', 0) & 1;
    const shrink = this.int(node, 'shrink_axis_mask', 0) & 1;
    const len = x.values.length;
    if (stride === 0) fail(node, 'stride 0');
    const norm = (i: number) => (i < 0 ? i + len : i);
    if (shrink) {
      const i = norm(begin);
      if (i < 0 || i >= len) fail(node, `index ${begin} out of range`);
      return { kind: 'ints', shape: [], values: [x.values[i]] };
    }
    const clamp = (i: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, i));
    const out: Sym[] = [];
    if (stride > 0) {
      const b = beginMask ? 0 : clamp(norm(begin), 0, len);
      const e = endMask ? len : clamp(norm(end), 0, len);
      for (let i = b; i < e; i += stride) out.push(x.values[i]);
    } else {
      const b = beginMask ? len - 1 : clamp(norm(begin), -1, len - 1);
      const e = endMask ? -1 : clamp(norm(end), -1, len - 1);
      for (let i = b; i > e; i += stride) out.push(x.values[i]);
    }
    return { kind: 'ints', shape: [out.length], values: out };
  }

  private pack(node: TfNode): Ints {
    if (this.int(node, 'axis', 0) !== 0) fail(node, 'only axis 0 is supported');
    const parts = this.inputs(node).map((r) => this.ints(node, r));
    if (parts.some((p) => p.shape.length !== 0)) fail(node, 'only scalars can be packed');
    return { kind: 'ints', shape: [parts.length], values: parts.map((p) => p.values[0]) };
  }

  /**
   * Reshape in TF's layout. The batch must stay the leading dimension on its own: given as the
   * batch symbol (from Shape), or as -1 when the other dimensions account for one item exactly.
   */
  private reshape(node: TfNode): Act {
    const [xRef, sRef] = this.inputs(node);
    const x = this.plain(this.act(node, xRef));
    const target = this.ints(node, sRef);
    if (target.shape.length !== 1) fail(node, 'shape must be a vector');
    const t = target.values;
    if (t.some((d, i) => d === 'batch' && i !== 0)) fail(node, 'the batch must stay the leading dimension');
    const hasBatch = x.shape[0] === BATCH;
    const perItem = product(hasBatch ? x.shape.slice(1) : x.shape);
    const rest = t.slice(1).map((d) => (typeof d === 'number' ? d : fail(node, 'batch symbol after dimension 0')));
    let outShape: number[];
    if (hasBatch) {
      const lead = t[0];
      if (lead !== 'batch' && lead !== -1) fail(node, `reshape to [${t}] would fix the batch size`);
      const unknown = rest.filter((d) => d === -1).length;
      if (lead === -1 && unknown) fail(node, `reshape to [${t}]: the batch and another dimension both unknown`);
      if (unknown > 1) fail(node, `reshape to [${t}]: two unknown dimensions`);
      const known = product(rest.filter((d) => d !== -1));
      if (unknown ? perItem % known !== 0 : known !== perItem) fail(node, `reshape of [${x.shape}] to [${t}] does not keep one item per batch entry`);
      outShape = [BATCH, ...rest.map((d) => (d === -1 ? perItem / known : d))];
    } else {
      if (t.some((d) => d === 'batch')) fail(node, 'batch symbol without a batch');
      const all = t as number[];
      const unknown = all.filter((d) => d === -1).length;
      if (unknown > 1) fail(node, `reshape to [${t}]: two unknown dimensions`);
      const known = product(all.filter((d) => d !== -1));
      outShape = all.map((d) => (d === -1 ? perItem / known : d));
      if (product(outShape) !== perItem) fail(node, `reshape of [${x.shape}] to [${t}]`);
    }
    // ONNX Reshape: 0 copies the input's dimension (the batch), so the target stays batch-agnostic.
    const onnxShape = outShape.map((d, i) => (i === 0 && d === BATCH ? 0 : d));
    const y = this.g.node('Reshape', [x.name, this.g.int64s(`${node.name}/shape`, onnxShape)], {}, node.name);
    return { kind: 'act', name: y, layout: 'plain', shape: outShape };
  }

  private concat(node: TfNode): Act {
    const refs = this.inputs(node);
    const n = this.int(node, 'N', refs.length - 1);
    if (refs.length !== n + 1) fail(node, `${refs.length - 1} inputs, N ${n}`);
    const axisV = this.staticInts(node, refs[n]);
    if (axisV.length !== 1) fail(node, 'axis must be a scalar');
    let parts = refs.slice(0, n).map((r) => this.act(node, r));
    const rank = parts[0].shape.length;
    const axis = axisV[0] < 0 ? axisV[0] + rank : axisV[0];
    if (axis < 0 || axis >= rank) fail(node, `axis ${axisV[0]} for rank ${rank}`);
    if (axis === 0) fail(node, 'concatenating along the batch is not supported');
    for (const p of parts) {
      if (p.shape.length !== rank || p.shape.some((d, i) => i !== axis && d !== parts[0].shape[i])) fail(node, `shapes [${p.shape}] and [${parts[0].shape}] do not concatenate on axis ${axis}`);
    }
    const allNchw = rank === 4 && parts.every((p) => p.layout === 'nchw');
    parts = parts.map((p) => (allNchw ? p : this.plain(p)));
    const onnxAxis = allNchw ? NHWC_AXIS_IN_NCHW[axis] : axis;
    const shape = parts[0].shape.map((d, i) => (i === axis ? parts.reduce((s, p) => s + p.shape[i], 0) : d));
    const y = this.g.node('Concat', parts.map((p) => p.name), { axis: { i: onnxAxis } }, node.name);
    return { kind: 'act', name: y, layout: allNchw ? 'nchw' : 'plain', shape };
  }
}

/**
 * Converts a TFJS graph model. `weights` is the single weight shard the manifest names, or a
 * function returning each shard by the path the manifest gives.
 */
export function tfjsGraphToOnnx(modelJson: Buffer | string, weights: Uint8Array | ((path: string) => Uint8Array), opts: TfjsGraphToOnnxOptions): Uint8Array {
  const json = JSON.parse(modelJson.toString()) as GraphModelJson;
  const groups = parseWeightsManifest(json.weightsManifest ?? fail(opts.name, 'no weightsManifest'));
  const paths = groups.flatMap((g) => g.paths);
  const read =
    typeof weights === 'function'
      ? weights
      : (p: string) => {
          if (paths.length !== 1) fail(opts.name, `the manifest names ${paths.length} shards; pass a function that reads each`);
          if (p !== paths[0]) fail(opts.name, `unexpected shard ${p}`);
          return weights;
        };
  return new Converter(json, decodeWeights(groups, read), opts).convert();
}
