/**
 * A reader for TFLite flatbuffers (schema.fbs of tensorflow/lite/schema), enough to convert
 * float models: tensors with their constant data, operators with the builtin options that
 * converters need, and the graph inputs and outputs. Only the flatbuffers runtime is used;
 * field ids below are the schema's (vtable slot = 4 + 2 * id).
 */
import { ByteBuffer } from 'flatbuffers';

export const TENSOR_TYPES = ['FLOAT32', 'FLOAT16', 'INT32', 'UINT8', 'INT64', 'STRING', 'BOOL', 'INT16', 'COMPLEX64', 'INT8', 'FLOAT64'] as const;
export type TensorTypeName = (typeof TENSOR_TYPES)[number] | `TYPE_${number}`;

/** BuiltinOperator codes of the ops this reader names; other codes read as `BUILTIN_<n>`. */
const BUILTIN_NAMES: Record<number, string> = {
  0: 'ADD', 1: 'AVERAGE_POOL_2D', 2: 'CONCATENATION', 3: 'CONV_2D', 4: 'DEPTHWISE_CONV_2D', 6: 'DEQUANTIZE',
  9: 'FULLY_CONNECTED', 11: 'L2_NORMALIZATION', 14: 'LOGISTIC', 17: 'MAX_POOL_2D', 18: 'MUL', 19: 'RELU',
  20: 'RELU_N1_TO_1', 21: 'RELU6', 22: 'RESHAPE', 25: 'SOFTMAX', 28: 'TANH', 32: 'CUSTOM', 34: 'PAD', 39: 'TRANSPOSE',
  40: 'MEAN', 41: 'SUB', 42: 'DIV', 43: 'SQUEEZE', 47: 'EXP', 54: 'PRELU', 55: 'MAXIMUM', 57: 'MINIMUM', 59: 'NEG',
  74: 'SUM', 75: 'SQRT', 76: 'RSQRT', 82: 'REDUCE_MAX', 89: 'REDUCE_MIN', 98: 'LEAKY_RELU', 101: 'ABS',
};

export type Activation = 'NONE' | 'RELU' | 'RELU_N1_TO_1' | 'RELU6' | 'TANH' | 'SIGN_BIT';
const ACTIVATIONS: readonly Activation[] = ['NONE', 'RELU', 'RELU_N1_TO_1', 'RELU6', 'TANH', 'SIGN_BIT'];
export type Padding = 'SAME' | 'VALID';

export type BuiltinOptions =
  | { kind: 'conv'; padding: Padding; strideW: number; strideH: number; dilationW: number; dilationH: number; activation: Activation }
  | { kind: 'depthwise'; padding: Padding; strideW: number; strideH: number; depthMultiplier: number; dilationW: number; dilationH: number; activation: Activation }
  | { kind: 'pool'; padding: Padding; strideW: number; strideH: number; filterW: number; filterH: number; activation: Activation }
  | { kind: 'fullyConnected'; activation: Activation; weightsFormat: number; keepNumDims: boolean }
  | { kind: 'softmax'; beta: number }
  | { kind: 'concatenation'; axis: number; activation: Activation }
  | { kind: 'activation'; activation: Activation }
  | { kind: 'reshape'; newShape: number[] | undefined }
  | { kind: 'reducer'; keepDims: boolean }
  | { kind: 'leakyRelu'; alpha: number }
  | { kind: 'none' };

export interface Quantization {
  scale: number[];
  zeroPoint: bigint[];
  quantizedDimension: number;
}

export interface TfliteTensor {
  index: number;
  name: string;
  shape: number[];
  /** Shape with -1 for dimensions the converter left dynamic, when the file records it. */
  shapeSignature: number[] | undefined;
  type: TensorTypeName;
  /** Constant contents (little-endian bytes), or undefined for activations. */
  data: Uint8Array | undefined;
  quantization: Quantization | undefined;
  isVariable: boolean;
}

export interface TfliteOperator {
  index: number;
  /** The builtin's name (e.g. `CONV_2D`), `BUILTIN_<n>` for codes this reader does not name, or `CUSTOM`. */
  op: string;
  builtinCode: number;
  customCode: string | undefined;
  version: number;
  /** Tensor indices; -1 marks an omitted optional input. */
  inputs: number[];
  outputs: number[];
  options: BuiltinOptions;
}

export interface TfliteModel {
  schemaVersion: number;
  description: string;
  subgraphCount: number;
  /** The main subgraph (index 0). */
  tensors: TfliteTensor[];
  operators: TfliteOperator[];
  inputs: number[];
  outputs: number[];
}

/** Table access over one flatbuffer table position. */
class Table {
  constructor(readonly bb: ByteBuffer, readonly pos: number) {}

  private slot(id: number): number {
    return this.bb.__offset(this.pos, 4 + 2 * id);
  }

  has(id: number): boolean {
    return this.slot(id) !== 0;
  }

  int8(id: number, dflt = 0): number {
    const o = this.slot(id);
    return o ? this.bb.readInt8(this.pos + o) : dflt;
  }

  uint8(id: number, dflt = 0): number {
    const o = this.slot(id);
    return o ? this.bb.readUint8(this.pos + o) : dflt;
  }

  bool(id: number, dflt = false): boolean {
    const o = this.slot(id);
    return o ? this.bb.readInt8(this.pos + o) !== 0 : dflt;
  }

  int32(id: number, dflt = 0): number {
    const o = this.slot(id);
    return o ? this.bb.readInt32(this.pos + o) : dflt;
  }

  uint32(id: number, dflt = 0): number {
    const o = this.slot(id);
    return o ? this.bb.readUint32(this.pos + o) : dflt;
  }

  float32(id: number, dflt = 0): number {
    const o = this.slot(id);
    return o ? this.bb.readFloat32(this.pos + o) : dflt;
  }

  string(id: number): string | undefined {
    const o = this.slot(id);
    return o ? (this.bb.__string(this.pos + o) as string) : undefined;
  }

  table(id: number): Table | undefined {
    const o = this.slot(id);
    return o ? new Table(this.bb, this.bb.__indirect(this.pos + o)) : undefined;
  }

  /** Start and length of a vector field, or undefined when absent. */
  private vector(id: number): { start: number; length: number } | undefined {
    const o = this.slot(id);
    if (!o) return undefined;
    return { start: this.bb.__vector(this.pos + o), length: this.bb.__vector_len(this.pos + o) };
  }

  tables(id: number): Table[] {
    const v = this.vector(id);
    if (!v) return [];
    return Array.from({ length: v.length }, (_, k) => new Table(this.bb, this.bb.__indirect(v.start + 4 * k)));
  }

  int32s(id: number): number[] | undefined {
    const v = this.vector(id);
    return v && Array.from({ length: v.length }, (_, k) => this.bb.readInt32(v.start + 4 * k));
  }

  float32s(id: number): number[] | undefined {
    const v = this.vector(id);
    return v && Array.from({ length: v.length }, (_, k) => this.bb.readFloat32(v.start + 4 * k));
  }

  int64s(id: number): bigint[] | undefined {
    const v = this.vector(id);
    return v && Array.from({ length: v.length }, (_, k) => this.bb.readInt64(v.start + 8 * k));
  }

  bytes(id: number): Uint8Array | undefined {
    const v = this.vector(id);
    return v && this.bb.bytes().subarray(v.start, v.start + v.length);
  }
}

function activation(code: number): Activation {
  const a = ACTIVATIONS[code];
  if (!a) throw new Error(`tflite: unknown fused activation ${code}`);
  return a;
}

function padding(code: number): Padding {
  if (code === 0) return 'SAME';
  if (code === 1) return 'VALID';
  throw new Error(`tflite: unknown padding ${code}`);
}

/** BuiltinOptions union member (1-based position in the schema's union) expected for each op. */
const OPTIONS_TYPE: Record<string, number> = {
  CONV_2D: 1, DEPTHWISE_CONV_2D: 2, AVERAGE_POOL_2D: 5, MAX_POOL_2D: 5, FULLY_CONNECTED: 8, SOFTMAX: 9,
  CONCATENATION: 10, ADD: 11, MUL: 21, RESHAPE: 17, MEAN: 27, SUM: 27, REDUCE_MAX: 27, REDUCE_MIN: 27,
  SUB: 28, DIV: 29, LEAKY_RELU: 75,
};

function readOptions(op: string, type: number, t: Table | undefined): BuiltinOptions {
  const expected = OPTIONS_TYPE[op];
  if (t && expected !== undefined && type !== expected) {
    throw new Error(`tflite: ${op} carries builtin options of union type ${type}, expected ${expected}`);
  }
  // An absent options table means every field takes its schema default.
  const i32 = (id: number, d = 0) => (t ? t.int32(id, d) : d);
  const i8 = (id: number, d = 0) => (t ? t.int8(id, d) : d);
  const f32 = (id: number) => (t ? t.float32(id) : 0);
  const bool = (id: number) => (t ? t.bool(id) : false);
  switch (op) {
    case 'CONV_2D':
      return { kind: 'conv', padding: padding(i8(0)), strideW: i32(1), strideH: i32(2), activation: activation(i8(3)), dilationW: i32(4, 1), dilationH: i32(5, 1) };
    case 'DEPTHWISE_CONV_2D':
      return {
        kind: 'depthwise', padding: padding(i8(0)), strideW: i32(1), strideH: i32(2), depthMultiplier: i32(3),
        activation: activation(i8(4)), dilationW: i32(5, 1), dilationH: i32(6, 1),
      };
    case 'AVERAGE_POOL_2D':
    case 'MAX_POOL_2D':
      return { kind: 'pool', padding: padding(i8(0)), strideW: i32(1), strideH: i32(2), filterW: i32(3), filterH: i32(4), activation: activation(i8(5)) };
    case 'FULLY_CONNECTED':
      return { kind: 'fullyConnected', activation: activation(i8(0)), weightsFormat: i8(1), keepNumDims: bool(2) };
    case 'SOFTMAX':
      return { kind: 'softmax', beta: f32(0) };
    case 'CONCATENATION':
      return { kind: 'concatenation', axis: i32(0), activation: activation(i8(1)) };
    case 'ADD':
    case 'SUB':
    case 'MUL':
    case 'DIV':
      return { kind: 'activation', activation: activation(i8(0)) };
    case 'RESHAPE':
      return { kind: 'reshape', newShape: t?.int32s(0) };
    case 'MEAN':
    case 'SUM':
    case 'REDUCE_MAX':
    case 'REDUCE_MIN':
      return { kind: 'reducer', keepDims: bool(0) };
    case 'LEAKY_RELU':
      return { kind: 'leakyRelu', alpha: f32(0) };
    default:
      return { kind: 'none' };
  }
}

function readQuantization(t: Table | undefined): Quantization | undefined {
  if (!t) return undefined;
  const scale = t.float32s(2) ?? [];
  const zeroPoint = t.int64s(3) ?? [];
  if (scale.length === 0 && zeroPoint.length === 0) return undefined;
  return { scale, zeroPoint, quantizedDimension: t.int32(6) };
}

export function readTflite(bytes: Uint8Array): TfliteModel {
  const bb = new ByteBuffer(bytes);
  if (bytes.length < 8 || !bb.__has_identifier('TFL3')) throw new Error('tflite: not a TFLite flatbuffer (identifier TFL3 missing)');
  const model = new Table(bb, bb.readInt32(bb.position()) + bb.position());

  const opcodes = model.tables(1).map((c) => {
    // Files written before the 32-bit builtin_code field hold the code in the byte field only;
    // newer files write both, and codes past 127 live in the 32-bit one: the larger is right.
    const code = Math.max(c.int8(0), c.int32(3));
    return { code, customCode: c.string(1), version: c.int32(2, 1) };
  });

  const buffers = model.tables(4).map((b) => {
    if (b.has(1) || b.has(2)) throw new Error('tflite: buffers stored outside the flatbuffer (offset/size) are not supported');
    return b.bytes(0);
  });

  const subgraphs = model.tables(2);
  if (subgraphs.length === 0) throw new Error('tflite: model has no subgraph');
  const g = subgraphs[0];

  const tensors: TfliteTensor[] = g.tables(0).map((t, index) => {
    const typeCode = t.int8(1);
    const buffer = t.uint32(2);
    const data = buffers[buffer];
    if (t.has(6)) throw new Error(`tflite: tensor ${index} is sparse; not supported`);
    return {
      index,
      name: t.string(3) ?? `tensor_${index}`,
      shape: t.int32s(0) ?? [],
      shapeSignature: t.int32s(7),
      type: TENSOR_TYPES[typeCode] ?? `TYPE_${typeCode}`,
      data: data && data.length > 0 ? data : undefined,
      quantization: readQuantization(t.table(4)),
      isVariable: t.bool(5),
    };
  });

  const operators: TfliteOperator[] = g.tables(3).map((o, index) => {
    const opc = opcodes[o.uint32(0)];
    if (!opc) throw new Error(`tflite: operator ${index} refers to a missing operator code`);
    const op = BUILTIN_NAMES[opc.code] ?? `BUILTIN_${opc.code}`;
    return {
      index,
      op,
      builtinCode: opc.code,
      customCode: opc.customCode,
      version: opc.version,
      inputs: o.int32s(1) ?? [],
      outputs: o.int32s(2) ?? [],
      // A union takes two slots: its type byte (id 3) and the table (id 4).
      options: readOptions(op, o.uint8(3), o.table(4)),
    };
  });

  return {
    schemaVersion: model.uint32(0),
    description: model.string(3) ?? '',
    subgraphCount: subgraphs.length,
    tensors,
    operators,
    inputs: g.int32s(1) ?? [],
    outputs: g.int32s(2) ?? [],
  };
}

/** A constant FLOAT32 tensor's values (copied, so alignment of the flatbuffer does not matter). */
export function floatData(t: TfliteTensor): Float32Array {
  if (t.type !== 'FLOAT32' || !t.data) throw new Error(`tflite: tensor ${t.name} is not a float32 constant`);
  const count = t.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== count * 4) throw new Error(`tflite: tensor ${t.name} holds ${t.data.length} bytes for shape [${t.shape}]`);
  const dv = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return Float32Array.from({ length: count }, (_, k) => dv.getFloat32(4 * k, true));
}

/** A constant INT32 tensor's values. */
export function int32Data(t: TfliteTensor): number[] {
  if (t.type !== 'INT32' || !t.data) throw new Error(`tflite: tensor ${t.name} is not an int32 constant`);
  const dv = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return Array.from({ length: t.data.length / 4 }, (_, k) => dv.getInt32(4 * k, true));
}

/**
 * A copy of the model whose graph input `k` has another shape of the same rank. TFLite
 * interpreters recompute every activation's shape from the inputs when they allocate, so the
 * original runtime can then run the same weights and operators at another size (used to
 * produce reference outputs at sizes and batches the file does not fix).
 */
export function withInputShape(bytes: Uint8Array, shape: readonly number[], k = 0): Uint8Array {
  const out = Uint8Array.from(bytes);
  const bb = new ByteBuffer(out);
  const model = new Table(bb, bb.readInt32(0));
  const g = model.tables(2)[0];
  const index = g?.int32s(1)?.[k];
  if (!g || index === undefined) throw new Error(`tflite: no graph input ${k}`);
  const t = g.tables(0)[index];
  for (const id of [0, 7]) {
    const o = bb.__offset(t.pos, 4 + 2 * id);
    if (!o) continue;
    const start = bb.__vector(t.pos + o);
    const len = bb.__vector_len(t.pos + o);
    if (len !== shape.length) throw new Error(`tflite: input ${k} has rank ${len}, not ${shape.length}`);
    shape.forEach((d, i) => bb.writeInt32(start + 4 * i, d));
  }
  return out;
}
