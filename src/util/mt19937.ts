// The Mersenne Twister (MT19937) as torch's CPU generator runs it: torch.manual_seed(s) seeds it
// with init_genrand(s), and torch.rand(...) in float32 turns each 32-bit draw x into
// (x & 0xFFFFFF) / 2^24. SparseVLM's clustering adds this noise to break density ties, so parity
// with its code for a given seed needs the same stream (sparsevlm.md, ambiguity 6).

const N = 624;
const M = 397;

export class Mt19937 {
  private readonly state = new Uint32Array(N);
  private index = N;

  constructor(seed: number) {
    this.state[0] = seed >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = this.state[i - 1]! ^ (this.state[i - 1]! >>> 30);
      // 1812433253 * prev + i, modulo 2^32, without losing bits to float rounding.
      this.state[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
  }

  /** The next 32-bit draw. */
  next32(): number {
    if (this.index >= N) this.twist();
    let y = this.state[this.index++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** torch.rand's float32 uniform in [0, 1). */
  nextFloat32(): number {
    return (this.next32() & 0xffffff) / 0x1000000;
  }

  private twist(): void {
    const s = this.state;
    for (let i = 0; i < N; i++) {
      const y = (s[i]! & 0x80000000) | (s[(i + 1) % N]! & 0x7fffffff);
      s[i] = s[(i + M) % N]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.index = 0;
  }
}
