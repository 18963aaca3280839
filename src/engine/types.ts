/** Plain records the engine hands out; no classes, so they cross worker and webview boundaries as they are. */

/** [x, y] in pixels of the EXIF-rotated photo; pixel centres at integer coordinates. */
export type Point = [number, number];

/** [x, y, width, height] in pixels of the EXIF-rotated photo. */
export type BoxXYWH = [number, number, number, number];

/** Interleaved 8-bit RGB, row-major. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface DetectedFace {
  box: BoxXYWH;
  score: number;
  /** Left eye, right eye, nose, left mouth corner, right mouth corner (as seen in the image). */
  landmarks: Point[];
}

export interface Face extends DetectedFace {
  /** L2-normalised. */
  embedding: Float32Array;
}

export interface PhotoFaces {
  /** Size of the EXIF-rotated photo (the coordinate space of boxes and landmarks). */
  width: number;
  height: number;
  faces: Face[];
}

/** Milliseconds spent per stage, accumulated over many photos (for benchmarks and logs). */
export interface StageTimes {
  decode: number;
  detect: number;
  align: number;
  embed: number;
  write: number;
}

export function newStageTimes(): StageTimes {
  return { decode: 0, detect: 0, align: 0, embed: 0, write: 0 };
}
