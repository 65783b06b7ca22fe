/** A named, shaped float32 array, as a checkpoint stores it (model parameters, optimiser moments). */
export interface SavedTensor {
  readonly name: string;
  readonly shape: number[];
  readonly values: Float32Array;
}
