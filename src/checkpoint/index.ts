// Public API of the checkpoint layer: lazy safetensors reading, Hugging Face checkpoint
// directories (single file or sharded), and an atomic, streaming safetensors writer.
export { Checkpoint, INDEX_FILE, SINGLE_FILE, openCheckpoint, type TensorLocation } from './checkpoint.js';
export {
  DTYPE_BYTES,
  decodeFloat32,
  encodeFloat32,
  f16BitsToFloat32,
  float32ToBf16Bits,
  float32ToF16Bits,
  isDtype,
  isFloatDtype,
  type Dtype,
  type FloatDtype,
  type WritableDtype,
} from './dtype.js';
export { SafetensorsFile, type TensorInfo } from './safetensors.js';
export { writeSafetensors, writeShardedSafetensors, type TensorToWrite } from './write.js';
