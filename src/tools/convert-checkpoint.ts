// Rewrites a llava-hf checkpoint's weights in another float dtype (F32, F16, BF16), beside copies of
// its config, tokenizer and processor files: how a trained checkpoint (F32, with optimizer state and
// logs around it) becomes the model that ships (F16, the model files alone). Tensors are converted
// one at a time; config.json's torch_dtype names the new dtype.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openCheckpoint, writeShardedSafetensors, type TensorToWrite } from '../checkpoint/index.js';
import type { WritableDtype } from '../checkpoint/dtype.js';
import { OptionError } from '../errors.js';

/** The files besides the weights that make a llava-hf checkpoint loadable; copied when present. */
const MODEL_FILES = [
  'generation_config.json',
  'preprocessor_config.json',
  'processor_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'chat_template.json',
  'chat_template.jinja',
] as const;

const TORCH_DTYPES: Record<WritableDtype, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

/** Same shard limit as save_pretrained's default. */
const MAX_SHARD_BYTES = 5e9;

export interface ConvertOptions {
  readonly modelDir: string;
  readonly outDir: string;
  readonly dtype: WritableDtype;
}

/** Writes the converted checkpoint; returns the bytes of weights written. */
export function convertCheckpoint(options: ConvertOptions): number {
  const { modelDir, outDir, dtype } = options;
  if (resolve(modelDir) === resolve(outDir)) {
    throw new OptionError({ subject: '--out', expected: 'a directory other than --model', found: JSON.stringify(outDir) });
  }
  const checkpoint = openCheckpoint(modelDir);
  try {
    const config = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    mkdirSync(outDir, { recursive: true });
    const text = config.text_config as Record<string, unknown> | undefined;
    const converted = { ...config, torch_dtype: TORCH_DTYPES[dtype], ...(text ? { text_config: { ...text, torch_dtype: TORCH_DTYPES[dtype] } } : {}) };
    writeFileSync(join(outDir, 'config.json'), `${JSON.stringify(converted, null, 2)}\n`);
    for (const file of MODEL_FILES) if (existsSync(join(modelDir, file))) copyFileSync(join(modelDir, file), join(outDir, file));
    let bytes = 0;
    const tensors: TensorToWrite[] = checkpoint.names().map((name) => {
      const { shape } = checkpoint.info(name);
      bytes += shape.reduce((a, b) => a * b, 1) * (dtype === 'F32' ? 4 : 2);
      return { name, dtype, shape, data: () => checkpoint.float32(name) };
    });
    writeShardedSafetensors(outDir, tensors, MAX_SHARD_BYTES, { format: 'pt' });
    return bytes;
  } finally {
    checkpoint.close();
  }
}
