// Placeholder: filled in by the data-layer work (issue 2). Signatures are fixed here so that other
// modules can be written against them.
export type NpyDtype = "float32" | "float64" | "int32" | "int64" | "uint8";
export type NpyData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;
export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  data: NpyData;
}
export declare function readNpy(file: string): NpyArray;
export declare function writeNpy(file: string, array: NpyArray, options?: { version?: 1 | 2 | 3 }): void;
