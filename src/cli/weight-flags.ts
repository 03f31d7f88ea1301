// --q4-block-size, shared by the commands that load a model with --weights: checked against the block
// sizes MatMulNBits takes, and refused beside any format but q4 rather than silently ignored.
import { Option } from 'commander';
import { OptionError } from '../errors.js';
import { DEFAULT_Q4_BLOCK_SIZE, Q4_BLOCK_SIZES, type WeightFormat, type WeightFormatOptions } from '../quant/format.js';

export interface WeightFlags {
  weights: WeightFormat;
  q4BlockSize?: number;
}

export function q4BlockSizeOption(): Option {
  return new Option(
    '--q4-block-size <n>',
    `with --weights q4: weights per scale along the input features, ${Q4_BLOCK_SIZES.join(', ')} (default ${DEFAULT_Q4_BLOCK_SIZE}; larger blocks run faster for a little more error, see bench --kernels)`,
  ).argParser((text: string) => {
    const size = Number(text);
    if (!(Q4_BLOCK_SIZES as readonly number[]).includes(size)) {
      throw new OptionError({ subject: '--q4-block-size', expected: `one of ${Q4_BLOCK_SIZES.join(', ')}`, found: JSON.stringify(text) });
    }
    return size;
  });
}

/** The load options for --weights and --q4-block-size. */
export function weightFormatOptions(flags: WeightFlags): WeightFormatOptions {
  if (flags.q4BlockSize !== undefined && flags.weights !== 'q4') {
    throw new OptionError({ subject: '--q4-block-size', expected: 'with --weights q4', found: `--weights ${flags.weights}` });
  }
  return { weights: flags.weights, ...(flags.q4BlockSize !== undefined ? { q4BlockSize: flags.q4BlockSize } : {}) };
}

/** The format as a run's answers file records it: `q4-b128` when q4 runs at a block size other than the default. */
export function weightsLabel(options: WeightFormatOptions): string {
  const format = options.weights ?? 'f32';
  return options.q4BlockSize !== undefined && options.q4BlockSize !== DEFAULT_Q4_BLOCK_SIZE ? `${format}-b${options.q4BlockSize}` : format;
}
