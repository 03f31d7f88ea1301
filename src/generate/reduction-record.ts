// The reduction record of a generation: one entry per stage (a vision-side stage, then one per
// decoder boundary that returned a plan), each naming the image tokens in the ORIGINAL image-token
// order (the span the decoder would see without any reduction; LLaVA-NeXT under a vision-stage
// method: the crops' patches one crop after another, as those methods' code lays them out), the
// tokens the stage built with the originals merged into each, and the image span as the decoder
// sees it after the stage. Later checks and `show` read it; the names are a contract.
import type { ImagePlan } from '../runtime/image-tokens.js';
import { asTokenPlan } from '../runtime/image-tokens.js';
import { isCreated } from '../runtime/token-plan.js';
import type { VisionRecord } from './vision.js';

/** An image token as the decoder sees it: an original index, a built token's id, or "cls" for a class token. */
export type RecordToken = number | string;

export interface CreatedRecord {
  /** `s<stage>c<j>`: built by stage number <stage> (1-based place in `stages`), the j-th it built. */
  readonly id: string;
  /** Original indices merged into it (through earlier built tokens too), ascending. */
  readonly members: readonly number[];
}

export interface ReductionStage {
  /** Set on a stage inside or right after the vision tower. */
  readonly where?: 'vision';
  /** Decoder layers run before this stage (FastV's K, a PyramidDrop layer-list entry); decoder stages only. */
  readonly afterLayer?: number;
  /** Original image tokens still present as themselves after the stage, ascending. */
  readonly keptImageTokens: readonly number[];
  /** Tokens this stage built, in the order the decoder sees them. */
  readonly created: readonly CreatedRecord[];
  /** The image span as the decoder sees it after the stage. */
  readonly order: readonly RecordToken[];
  /** What the strategy found on the way, under its spec's names (DART's pivots, DivPrune's pick order; SparseVLM: rank, k, sparsified, candidates, clusters). */
  readonly detail?: Readonly<Record<string, unknown>>;
}

export interface ReductionRecord {
  readonly strategy: string;
  readonly options: Readonly<Record<string, unknown>>;
  readonly stages: readonly ReductionStage[];
  /** Image tokens entering each decoder layer. */
  readonly imageTokensPerLayer: readonly number[];
  /** MustDrop's vision-stage detail (merged windows, key set), when it ran. */
  readonly vision?: VisionRecord;
}

/** A stage entry from the span after it and the tokens the stage built. */
export function stageEntry(place: { where: 'vision' } | { afterLayer: number }, order: readonly RecordToken[], created: readonly CreatedRecord[]): ReductionStage {
  const keptImageTokens = order.filter((t): t is number => typeof t === 'number').sort((a, b) => a - b);
  return { ...place, keptImageTokens, created, order };
}

/**
 * Follows token identities through the decoder's stages: identities below the first span's length
 * are places in the span the decoder first saw (named by `firstSpan`), later ones tokens built
 * between layers.
 */
export class StageRecorder {
  readonly stages: ReductionStage[] = [];
  private readonly names = new Map<number, RecordToken>();
  private readonly members = new Map<string, readonly number[]>();
  private built = 0;

  /** `vision`: the vision-side stage, whose `order` names the first span; absent: the first span is the originals. */
  constructor(
    readonly firstSpanLength: number,
    vision: ReductionStage | null,
  ) {
    if (vision) {
      this.stages.push(vision);
      vision.order.forEach((token, i) => this.names.set(i, token));
      for (const c of vision.created) this.members.set(c.id, c.members);
    } else {
      for (let i = 0; i < firstSpanLength; i++) this.names.set(i, i);
    }
  }

  /** The identity the next built token gets. */
  get nextIdentity(): number {
    return this.firstSpanLength + this.built;
  }

  /** Records a decoder stage: `before` the identities the plan was made over, `after` the identities it left. */
  decoderStage(afterLayer: number, plan: ImagePlan, before: readonly number[], after: readonly number[]): void {
    const stage = this.stages.length + 1;
    const created: CreatedRecord[] = [];
    asTokenPlan(plan).tokens.forEach((token, i) => {
      if (!isCreated(token)) return;
      const id = `s${stage}c${created.length}`;
      const originals = token.members.flatMap((m) => this.originalsOf(this.names.get(before[m]!)!));
      const record = { id, members: [...new Set(originals)].sort((a, b) => a - b) };
      created.push(record);
      this.built++;
      this.members.set(id, record.members);
      this.names.set(after[i]!, id);
    });
    const entry = stageEntry({ afterLayer }, after.map((identity) => this.names.get(identity)!), created);
    this.stages.push(plan.detail ? { ...entry, detail: plan.detail } : entry);
  }

  private originalsOf(token: RecordToken): readonly number[] {
    if (typeof token === 'number') return [token];
    return this.members.get(token) ?? []; // "cls" stands for no original token
  }
}
