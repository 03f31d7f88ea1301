// The decoder's key/value cache: one LayerKv per layer, each with its own length and its own
// position ids, because token reduction leaves layers holding different tokens. Keys are stored
// transposed ([Hk, Hd, capacity]) and values as [Hk, capacity, Hd], the layouts the attention graph
// multiplies with directly; slots past `length` are spare capacity, masked out by the runtime.

/**
 * Capacity grows in steps of this many slots, so appends copy the cache only rarely. Decode reads the
 * spare slots too (masked): at 616 tokens, steps of 256 read 768 slots a layer and steps of 64 read
 * 640 (8-layer 7B cut, q8: attention 11.7 -> 10.4 ms a token, measured), for one copy every 64 tokens.
 */
const CAPACITY_STEP = 64;
/**
 * Key rows shorter than this are copied element by element: a decode step appends one key per
 * (head, dim) row, and a subarray view per row (4096 of them a layer at 7B) cost 0.66 ms a layer,
 * 5.3 ms of a 104 ms 8-layer q8 step (measured); longer rows (a prefill's) go through set().
 */
const ROW_COPY_MIN = 16;

export class LayerKv {
  private keysT: Float32Array; // [Hk, Hd, capacity]
  private values: Float32Array; // [Hk, capacity, Hd]
  private positionIds: number[] = [];
  private capacitySlots = 0;

  constructor(
    readonly numKvHeads: number,
    readonly headDim: number,
  ) {
    this.keysT = new Float32Array(0);
    this.values = new Float32Array(0);
  }

  get length(): number {
    return this.positionIds.length;
  }

  get capacity(): number {
    return this.capacitySlots;
  }

  /** Position id of each cached token, in cache order. */
  get positions(): readonly number[] {
    return this.positionIds;
  }

  /** The whole key buffer [Hk, Hd, capacity] and value buffer [Hk, capacity, Hd], spare slots included. */
  buffers(): { keysT: Float32Array; values: Float32Array } {
    return { keysT: this.keysT, values: this.values };
  }

  /** Appends T tokens: keyT [Hk, Hd, T], value [Hk, T, Hd], with their position ids. */
  append(keyT: Float32Array, value: Float32Array, positions: readonly number[]): void {
    const T = positions.length;
    const { numKvHeads: Hk, headDim: Hd } = this;
    this.reserve(this.length + T);
    const C = this.capacitySlots;
    const start = this.length;
    for (let h = 0; h < Hk; h++) {
      for (let d = 0; d < Hd; d++) {
        const row = (h * Hd + d) * T;
        const to = (h * Hd + d) * C + start;
        if (T < ROW_COPY_MIN) {
          for (let j = 0; j < T; j++) this.keysT[to + j] = keyT[row + j]!;
        } else {
          this.keysT.set(keyT.subarray(row, row + T), to);
        }
      }
      this.values.set(value.subarray(h * T * Hd, (h + 1) * T * Hd), (h * C + start) * Hd);
    }
    for (const p of positions) this.positionIds.push(p);
  }

  /** Keeps only the cached tokens at `indices` (ascending, unique, in range), in that order. */
  keep(indices: readonly number[]): void {
    const { numKvHeads: Hk, headDim: Hd } = this;
    const C = this.capacitySlots;
    for (let h = 0; h < Hk; h++) {
      for (let d = 0; d < Hd; d++) {
        const row = (h * Hd + d) * C;
        indices.forEach((from, to) => {
          this.keysT[row + to] = this.keysT[row + from]!;
        });
      }
      indices.forEach((from, to) => {
        this.values.copyWithin((h * C + to) * Hd, (h * C + from) * Hd, (h * C + from + 1) * Hd);
      });
    }
    this.positionIds = indices.map((i) => this.positionIds[i]!);
  }

  private reserve(slots: number): void {
    if (slots <= this.capacitySlots) return;
    const { numKvHeads: Hk, headDim: Hd } = this;
    const oldC = this.capacitySlots;
    const newC = Math.ceil(slots / CAPACITY_STEP) * CAPACITY_STEP;
    const keysT = new Float32Array(Hk * Hd * newC);
    const values = new Float32Array(Hk * newC * Hd);
    const used = this.length;
    for (let row = 0; row < Hk * Hd; row++) keysT.set(this.keysT.subarray(row * oldC, row * oldC + used), row * newC);
    for (let h = 0; h < Hk; h++) values.set(this.values.subarray(h * oldC * Hd, (h * oldC + used) * Hd), h * newC * Hd);
    this.keysT = keysT;
    this.values = values;
    this.capacitySlots = newC;
  }
}

export class KvCache {
  readonly layers: readonly LayerKv[];

  constructor(numLayers: number, numKvHeads: number, headDim: number) {
    this.layers = Array.from({ length: numLayers }, () => new LayerKv(numKvHeads, headDim));
  }

  layer(index: number): LayerKv {
    const kv = this.layers[index];
    if (!kv) throw new RangeError(`KV cache has ${this.layers.length} layers; layer ${index} asked for`);
    return kv;
  }
}
