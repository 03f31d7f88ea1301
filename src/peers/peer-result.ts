// What a peer engine's run on the same checkpoint measured, as the bench's table shows it beside visdrop's.
export interface PeerResult {
  readonly engine: string;
  /** The peer's weight format, in its own names (q8_0, q4_0, f32). */
  readonly weights: string;
  /** The visdrop weight format it runs beside (q8_0 beside q8, q4_0 beside q4). */
  readonly visdropWeights: string;
  readonly threads: number;
  /** Writing the GGUF from the checkpoint (visdrop's writer), and the file's size. */
  readonly convertMs: number;
  readonly fileBytes: number;
  /** The peer's load of the file just written, and a second load. */
  readonly firstLoadMs: number;
  readonly cachedLoadMs: number;
  /** Medians over the runs. */
  readonly prefillMs: number;
  readonly decodeMsPerToken: number;
  readonly peakRssBytes: number;
  readonly promptTokens: number;
}
