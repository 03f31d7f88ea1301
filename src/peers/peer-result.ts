// What a peer engine's run on the same checkpoint measured, as the bench's table shows it beside visdrop's.
export interface PeerResult {
  readonly engine: string;
  /** The peer's weight format, in its own names (q8_0, q4_0, f32). */
  readonly weights: string;
  /** The visdrop weight format it runs beside (q8_0 beside q8, q4_0 beside q4). */
  readonly visdropWeights: string;
  readonly threads: number;
  /** Converting the checkpoint into the peer's own file first (llama.cpp: the GGUF), 0 when it reads the checkpoint. */
  readonly convertMs: number;
  /** Bytes of weights the peer loads. */
  readonly fileBytes: number;
  /** The peer's first load (after the conversion) and a second one. */
  readonly firstLoadMs: number;
  readonly cachedLoadMs: number;
  /** What its first and cached loads are, for the table's notes. */
  readonly loadNote: string;
  /** Medians over the runs. */
  readonly prefillMs: number;
  readonly decodeMsPerToken: number;
  readonly peakRssBytes: number;
  readonly promptTokens: number;
}
