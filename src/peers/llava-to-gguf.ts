// A llava-hf checkpoint's LLaMA decoder as a GGUF llama.cpp loads (architecture `llama`): the same
// weights visdrop runs, so a peer's timings and tokens are of the same model. What
// llama.cpp's convert_hf_to_gguf.py does for a LlamaForCausalLM, written here for the text model
// alone (the vision tower and projector stay out: llama.cpp would need a separate mmproj file):
//   - names: embed_tokens -> token_embd, layers.i.{self_attn.q/k/v/o_proj, mlp.gate/up/down_proj,
//     input_layernorm, post_attention_layernorm} -> blk.i.{attn_q/k/v/output, ffn_gate/up/down,
//     attn_norm, ffn_norm}, norm -> output_norm, lm_head -> output (absent when tied);
//   - q_proj and k_proj rows permuted from Hugging Face's rotate-half layout to the interleaved pairs
//     llama.cpp's rotary embedding takes: per head, row (j * hd/2 + i) moves to (2i + j);
//   - the vocabulary from tokenizer.json as a SentencePiece (`llama`) vocabulary, ids the model's own;
//     ids past the tokenizer's (llava-hf pads to 32064) become `[PAD<id>]`, as the converter does;
//   - Linear and embedding weights in the chosen type, norms in f32.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openCheckpoint } from '../checkpoint/index.js';
import { loadLlavaConfig, type TextArch } from '../config/llava.js';
import { CheckpointError } from '../errors.js';
import { llavaWeights } from '../models/llava/weight-names.js';
import type { WeightSource } from '../models/weights.js';
import { quantizeQ4_0, quantizeQ8_0 } from './ggml-quant.js';
import { writeGguf, type GgmlType, type GgufTensor, type GgufValue } from './gguf.js';

/** GGUF weight types a peer can be given; llama.cpp's names. */
export const GGUF_WEIGHTS = ['f32', 'q8_0', 'q4_0'] as const;
export type GgufWeights = (typeof GGUF_WEIGHTS)[number];

const GGML_TYPE_OF: Record<GgufWeights, GgmlType> = { f32: 'F32', q8_0: 'Q8_0', q4_0: 'Q4_0' };
/** llama_ftype: LLAMA_FTYPE_ALL_F32 = 0, MOSTLY_Q4_0 = 2, MOSTLY_Q8_0 = 7. */
const FILE_TYPE_OF: Record<GgufWeights, number> = { f32: 0, q8_0: 7, q4_0: 2 };

/** llama_token_type. */
const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, byte: 6 } as const;

export interface GgufVocabulary {
  readonly tokens: string[];
  readonly scores: Float32Array;
  readonly types: Int32Array;
  readonly unknownId: number | null;
}

/**
 * A SentencePiece-style vocabulary of `size` ids from a LLaMA tokenizer.json (BPE on SentencePiece
 * pieces: `▁` for spaces, `<0xNN>` byte fallbacks). tokenizer.json keeps no piece scores; BPE merges
 * rank pieces by id, so a piece's score is -id (ties never matter: llama.cpp tokenises nothing here,
 * the peer is fed ids).
 */
export function llamaVocabulary(tokenizerJsonPath: string, size: number): GgufVocabulary {
  const json = JSON.parse(readFileSync(tokenizerJsonPath, 'utf8')) as {
    model?: { type?: string; vocab?: Record<string, number> };
    added_tokens?: { id: number; content: string; special?: boolean }[];
  };
  const vocab = json.model?.vocab;
  if (json.model?.type !== 'BPE' || vocab === undefined || vocab['<0x0A>'] === undefined) {
    throw new CheckpointError({
      subject: `${tokenizerJsonPath}: model`,
      expected: 'a LLaMA (SentencePiece BPE) vocabulary with <0xNN> byte pieces',
      found: `${json.model?.type ?? 'no'} model${vocab === undefined ? ' without a vocab' : ' without byte pieces'}`,
    });
  }
  const tokens: (string | undefined)[] = new Array(size).fill(undefined);
  const types = new Int32Array(size).fill(TOKEN_TYPE.normal);
  const scores = new Float32Array(size);
  for (const [piece, id] of Object.entries(vocab)) {
    if (id >= size) continue;
    tokens[id] = piece;
    scores[id] = -id;
    if (/^<0x[0-9A-F]{2}>$/.test(piece)) types[id] = TOKEN_TYPE.byte;
  }
  for (const added of json.added_tokens ?? []) {
    if (added.id >= size) continue;
    tokens[added.id] = added.content;
    types[added.id] = added.content === '<unk>' ? TOKEN_TYPE.unknown : added.special ? TOKEN_TYPE.control : TOKEN_TYPE.userDefined;
    scores[added.id] = 0;
  }
  for (let id = 0; id < size; id++) {
    if (tokens[id] === undefined) {
      tokens[id] = `[PAD${id}]`;
      types[id] = TOKEN_TYPE.userDefined;
    }
  }
  const unknown = tokens.indexOf('<unk>');
  return { tokens: tokens as string[], scores, types, unknownId: unknown >= 0 ? unknown : null };
}

/** Rows of a q_proj/k_proj weight [heads * hd, in] from rotate-half order into interleaved pairs. */
export function permuteRotaryRows(weight: Float32Array, heads: number, headDim: number, inFeatures: number): Float32Array {
  const out = new Float32Array(weight.length);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < 2; j++) {
      for (let i = 0; i < half; i++) {
        const from = (h * headDim + j * half + i) * inFeatures;
        const to = (h * headDim + 2 * i + j) * inFeatures;
        out.set(weight.subarray(from, from + inFeatures), to);
      }
    }
  }
  return out;
}

function encode(type: GgmlType, values: Float32Array): Uint8Array {
  switch (type) {
    case 'F32':
      return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    case 'Q8_0':
      return quantizeQ8_0(values);
    case 'Q4_0':
      return quantizeQ4_0(values);
    case 'F16':
      throw new RangeError('F16 tensors are not written here');
  }
}

function metadata(t: TextArch, weights: GgufWeights, vocab: GgufVocabulary, name: string): Map<string, GgufValue> {
  const u32 = (value: number): GgufValue => ({ type: 'u32', value });
  const f32 = (value: number): GgufValue => ({ type: 'f32', value });
  const entries: [string, GgufValue][] = [
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['general.name', { type: 'string', value: name }],
    ['general.file_type', u32(FILE_TYPE_OF[weights])],
    ['llama.vocab_size', u32(t.vocabSize)],
    ['llama.context_length', u32(t.maxPositions)],
    ['llama.embedding_length', u32(t.hiddenSize)],
    ['llama.block_count', u32(t.numLayers)],
    ['llama.feed_forward_length', u32(t.intermediateSize)],
    ['llama.attention.head_count', u32(t.numHeads)],
    ['llama.attention.head_count_kv', u32(t.numKvHeads)],
    ['llama.attention.key_length', u32(t.headDim)],
    ['llama.attention.value_length', u32(t.headDim)],
    ['llama.rope.dimension_count', u32(t.headDim)],
    ['llama.rope.freq_base', f32(t.ropeTheta)],
    ['llama.attention.layer_norm_rms_epsilon', f32(t.rmsNormEps)],
    ['tokenizer.ggml.model', { type: 'string', value: 'llama' }],
    ['tokenizer.ggml.tokens', { type: 'array', of: 'string', value: vocab.tokens }],
    ['tokenizer.ggml.scores', { type: 'array', of: 'f32', value: vocab.scores }],
    ['tokenizer.ggml.token_type', { type: 'array', of: 'i32', value: vocab.types }],
    ['tokenizer.ggml.bos_token_id', u32(t.bosTokenId)],
    ['tokenizer.ggml.eos_token_id', u32(t.eosTokenIds[0] ?? 2)],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: true }],
    ['tokenizer.ggml.add_eos_token', { type: 'bool', value: false }],
  ];
  if (vocab.unknownId !== null) entries.push(['tokenizer.ggml.unknown_token_id', u32(vocab.unknownId)]);
  return new Map(entries);
}

/** The GGUF tensors of the decoder, each read from the checkpoint when the writer reaches it. */
function decoderTensors(t: TextArch, w: WeightSource, type: GgmlType): GgufTensor[] {
  const D = t.hiddenSize;
  const hd = t.headDim;
  const linear = (gguf: string, hf: string, out: number, inF: number, permuteHeads?: number): GgufTensor => ({
    name: gguf,
    dims: [inF, out],
    type,
    data: () => {
      const weight = w.float32(hf, [out, inF]);
      return encode(type, permuteHeads === undefined ? weight : permuteRotaryRows(weight, permuteHeads, hd, inF));
    },
  });
  const norm = (gguf: string, hf: string): GgufTensor => ({ name: gguf, dims: [D], type: 'F32', data: () => encode('F32', w.float32(hf, [D])) });
  const p = 'language_model.model';
  const tensors = [linear('token_embd.weight', `${p}.embed_tokens.weight`, t.vocabSize, D)];
  for (let i = 0; i < t.numLayers; i++) {
    const l = `${p}.layers.${i}`;
    tensors.push(
      norm(`blk.${i}.attn_norm.weight`, `${l}.input_layernorm.weight`),
      linear(`blk.${i}.attn_q.weight`, `${l}.self_attn.q_proj.weight`, t.numHeads * hd, D, t.numHeads),
      linear(`blk.${i}.attn_k.weight`, `${l}.self_attn.k_proj.weight`, t.numKvHeads * hd, D, t.numKvHeads),
      linear(`blk.${i}.attn_v.weight`, `${l}.self_attn.v_proj.weight`, t.numKvHeads * hd, D),
      linear(`blk.${i}.attn_output.weight`, `${l}.self_attn.o_proj.weight`, D, t.numHeads * hd),
      norm(`blk.${i}.ffn_norm.weight`, `${l}.post_attention_layernorm.weight`),
      linear(`blk.${i}.ffn_gate.weight`, `${l}.mlp.gate_proj.weight`, t.intermediateSize, D),
      linear(`blk.${i}.ffn_up.weight`, `${l}.mlp.up_proj.weight`, t.intermediateSize, D),
      linear(`blk.${i}.ffn_down.weight`, `${l}.mlp.down_proj.weight`, D, t.intermediateSize),
    );
  }
  tensors.push(norm('output_norm.weight', `${p}.norm.weight`));
  if (!t.tieWordEmbeddings) tensors.push(linear('output.weight', 'language_model.lm_head.weight', t.vocabSize, D));
  return tensors;
}

export interface GgufWriteResult {
  readonly path: string;
  readonly bytes: number;
  readonly ms: number;
}

/** Writes the decoder of the llava-hf checkpoint in `dir` to `path` as a GGUF of `weights`. */
export function writeDecoderGguf(dir: string, path: string, weights: GgufWeights): GgufWriteResult {
  const start = performance.now();
  const arch = loadLlavaConfig(dir);
  const t = arch.text;
  const vocab = llamaVocabulary(join(dir, 'tokenizer.json'), t.vocabSize);
  const checkpoint = openCheckpoint(dir);
  try {
    const source = llavaWeights(checkpoint);
    const bytes = writeGguf(path, metadata(t, weights, vocab, `visdrop decoder of ${dir}`), decoderTensors(t, source, GGML_TYPE_OF[weights]));
    return { path, bytes, ms: performance.now() - start };
  } finally {
    checkpoint.close();
  }
}
