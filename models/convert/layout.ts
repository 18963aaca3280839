/**
 * Layout bookkeeping shared by the converters: TensorFlow models are NHWC, ONNX convolutions NCHW.
 * Values are held in whichever layout their producer left them, and transposed once, on demand,
 * into the layout their consumer needs; each transposed copy is remembered, so a value feeding
 * several consumers is transposed at most once.
 */
import type { GraphBuilder } from './onnx';

export const NHWC_TO_NCHW = [0, 3, 1, 2];
export const NCHW_TO_NHWC = [0, 2, 3, 1];

/** `nchw`: a 4-D NHWC tensor held transposed to NCHW; `plain`: as the source model holds it. */
export type Layout = 'nchw' | 'plain';

export interface LaidOut {
  name: string;
  layout: Layout;
  shape: number[];
}

export class Transposes<V extends LaidOut> {
  private readonly made = new Map<string, V>();

  constructor(
    private readonly g: GraphBuilder,
    private readonly fail: (value: string, message: string) => never,
  ) {}

  /** The value in NCHW (4-D only). */
  nchw(v: V): V {
    if (v.layout === 'nchw') return v;
    if (v.shape.length !== 4) this.fail(v.name, `expected a 4-D activation, got [${v.shape}]`);
    return this.convert(v, 'nchw', NHWC_TO_NCHW, `${v.name}_nchw`);
  }

  /** The value in the source model's own layout. */
  plain(v: V): V {
    if (v.layout === 'plain') return v;
    return this.convert(v, 'plain', NCHW_TO_NHWC, `${v.name}_nhwc`);
  }

  private convert(v: V, layout: Layout, perm: number[], hint: string): V {
    let t = this.made.get(v.name);
    if (!t) {
      t = { ...v, name: this.g.node('Transpose', [v.name], { perm: { ints: perm } }, hint), layout };
      this.made.set(v.name, t);
    }
    return t;
  }
}
