/**
 * A small ONNX graph builder and writer. Converters describe a network as a list of
 * nodes over named tensors; `toBytes` encodes the ModelProto through the ONNX schema
 * (onnx-proto). Output is deterministic for the same calls, so a model's sha256 can be
 * recorded in models/manifest.json and checked on every build.
 */
import { onnx } from 'onnx-proto';

export type Dim = number | string;
export type TensorData = Float32Array | Int32Array | BigInt64Array | Uint8Array | Float64Array;

export type Attr =
  | { i: number }
  | { f: number }
  | { s: string }
  | { ints: readonly number[] }
  | { floats: readonly number[] }
  | { t: { data: TensorData; dims: readonly number[] } };

/** ONNX element types (TensorProto.DataType), for Cast's `to` and the like. */
export const DataType = onnx.TensorProto.DataType;
const FLOAT = DataType.FLOAT;
const INT32 = DataType.INT32;
const INT64 = DataType.INT64;

/** The ONNX element type a typed array is stored as (a Uint8Array, Buffer included, is UINT8). */
function dataTypeOf(data: TensorData): onnx.TensorProto.DataType {
  if (data instanceof Float32Array) return FLOAT;
  if (data instanceof Int32Array) return INT32;
  if (data instanceof BigInt64Array) return INT64;
  if (data instanceof Uint8Array) return DataType.UINT8;
  return DataType.DOUBLE;
}

function tensorProto(name: string, data: TensorData, dims: readonly number[]): onnx.ITensorProto {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`tensor ${name}: ${data.length} values for dims [${dims}]`);
  const dataType = dataTypeOf(data);
  // rawData is little-endian bytes, which is what typed arrays hold on every platform Node supports.
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  return { name, dims: [...dims], dataType, rawData: raw };
}

function valueInfo(name: string, dims: readonly Dim[] | undefined, elemType: number = FLOAT): onnx.IValueInfoProto {
  const tensorType: onnx.TypeProto.ITensor = { elemType };
  if (dims) tensorType.shape = { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) };
  return { name, type: { tensorType } };
}

function attribute(name: string, a: Attr): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ('i' in a) return { name, type: T.INT, i: a.i };
  if ('f' in a) return { name, type: T.FLOAT, f: a.f };
  if ('s' in a) return { name, type: T.STRING, s: new TextEncoder().encode(a.s) };
  if ('ints' in a) return { name, type: T.INTS, ints: [...a.ints] };
  if ('floats' in a) return { name, type: T.FLOATS, floats: [...a.floats] };
  return { name, type: T.TENSOR, t: tensorProto(name, a.t.data, a.t.dims) };
}

export class GraphBuilder {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private readonly used = new Set<string>();
  private counter = 0;

  constructor(private readonly name: string) {}

  /** A fresh tensor name derived from `hint`. */
  fresh(hint: string): string {
    let n = hint.replace(/[^A-Za-z0-9_./:-]/g, '_') || 't';
    while (this.used.has(n)) n = `${hint}_${++this.counter}`;
    this.used.add(n);
    return n;
  }

  input(name: string, dims: readonly Dim[]): string {
    this.used.add(name);
    this.inputs.push(valueInfo(name, dims));
    return name;
  }

  output(name: string, dims?: readonly Dim[]): void {
    this.outputs.push(valueInfo(name, dims));
  }

  /** A constant tensor stored as an initializer; returns its name. */
  constant(hint: string, data: TensorData, dims: readonly number[]): string {
    const name = this.fresh(hint);
    this.initializers.push(tensorProto(name, data, dims));
    return name;
  }

  int64s(hint: string, values: readonly number[]): string {
    return this.constant(hint, BigInt64Array.from(values.map((v) => BigInt(v))), [values.length]);
  }

  /** Adds a node; returns the names of its outputs. */
  nodeN(op: string, inputs: readonly string[], nOutputs: number, attrs: Record<string, Attr> = {}, hint = op): string[] {
    const outs = Array.from({ length: nOutputs }, (_, k) => this.fresh(nOutputs === 1 ? hint : `${hint}_out${k}`));
    this.nodes.push({
      opType: op,
      name: this.fresh(`${hint}_node`),
      input: [...inputs],
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs;
  }

  node(op: string, inputs: readonly string[], attrs: Record<string, Attr> = {}, hint = op): string {
    return this.nodeN(op, inputs, 1, attrs, hint)[0];
  }

  /** Renames the tensor `from` to the graph-level name `to` with an Identity node. */
  alias(from: string, to: string): string {
    this.used.add(to);
    this.nodes.push({ opType: 'Identity', name: this.fresh(`${to}_node`), input: [from], output: [to] });
    return to;
  }

  toBytes(meta: { opset: number; producer: string; doc?: string; metadata?: Record<string, string> }): Uint8Array {
    const model: onnx.IModelProto = {
      irVersion: 8,
      producerName: meta.producer,
      producerVersion: '1',
      docString: meta.doc ?? '',
      opsetImport: [{ domain: '', version: meta.opset }],
      metadataProps: Object.entries(meta.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    };
    const err = onnx.ModelProto.verify(model);
    if (err) throw new Error(`invalid ONNX model ${this.name}: ${err}`);
    return onnx.ModelProto.encode(model).finish();
  }
}
