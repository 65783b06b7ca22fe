import * as tf from "@tensorflow/tfjs";
import { ParamStore, applyLinear, type Linear } from "./params";

/**
 * Which slice of the representation E a consumer reads: a first linear layer over the generic part, the
 * unique part or all of E ("full"), or E itself ("identity", no layer of its own: out = E's width).
 */
export type PartSource = "generic" | "unique" | "full" | "identity";

export interface ConsumerSpec {
  readonly name: string;
  readonly source: PartSource;
  readonly out: number;
}

/** A consumer's first linear layer, its weight cut at the generic/unique boundary (a "full" consumer has both blocks). */
interface ConsumerLayer {
  readonly spec: ConsumerSpec;
  /** Rows of the weight that read the generic part [h, out], or null. */
  readonly fromGeneric: tf.Variable | null;
  /** Rows that read the unique part [d − h, out], or null. */
  readonly fromUnique: tf.Variable | null;
  /** null for an identity consumer (E itself). */
  readonly b: tf.Variable | null;
}

/**
 * One modality's item representation E = X·W + b (d×w; SEA's square layer has w = d, docs/method.md §2), split
 * into generic = E[:, :h] and unique = E[:, h:], together with the first linear layer of every consumer of
 * those parts (the separation's and the backbone's, docs/method.md §13).
 *
 * W is stored as its two column blocks (W_g = W[:, :h], W_u = W[:, h:], with their biases) and a consumer
 * that reads all of E has its weight stored as the matching row blocks, so no step ever slices, pads or
 * concatenates a d×d matrix or its gradient. The values are those of one d×d layer (see ParamStore's block
 * constructors), so a checkpoint of the blocks is a checkpoint of the reference's layer.
 *
 * Reassociation: every consumer of E is linear, so consumer c's output Σ_p E_p·W_cp + b_c (p over the
 * parts it reads) equals X·K_c + β_c with K_c = Σ_p W_p·W_cp (d×out) and β_c = Σ_p b_p·W_cp + b_c.
 * That costs 2·d·out·(d + N) FLOPs per "full" consumer (less for a part) instead of the 2·N·d² of X·W —
 * about 7× fewer at Baby scale (N = 7,050, d = 4,096, Σout = 384) — with the same function and the same
 * gradients for every parameter. `reassociate: false` computes it naively (kept for the equality test
 * and the benchmark).
 */
export class ItemProjection {
  readonly generic: Linear;
  readonly unique: Linear;
  readonly genericWidth: number;
  private readonly layers: readonly ConsumerLayer[];

  constructor(
    store: ParamStore,
    readonly modality: string,
    readonly dim: number,
    readonly width: number,
    genericFraction: number,
    specs: readonly ConsumerSpec[],
    layerName = "square",
  ) {
    const h = Math.max(1, Math.min(width - 1, Math.round(width * genericFraction)));
    this.genericWidth = h;
    [this.generic, this.unique] = store.linearColumnBlocks(`${modality}.${layerName}`, dim, [h, width - h], ["generic", "unique"]) as [Linear, Linear];
    this.layers = specs.map((spec) => {
      const name = `${modality}.${spec.name}`;
      if (spec.source === "identity") {
        if (spec.out !== width) throw new Error(`ItemProjection ${modality}: identity consumer ${spec.name} must have out = ${width}`);
        return { spec, fromGeneric: null, fromUnique: null, b: null };
      }
      if (spec.source === "full") {
        const { w, b } = store.linearRowBlocks(name, [h, width - h], spec.out, ["generic", "unique"]);
        return { spec, fromGeneric: w[0]!, fromUnique: w[1]!, b };
      }
      const layer = store.linear(name, this.sourceWidth(spec.source), spec.out);
      return { spec, fromGeneric: spec.source === "generic" ? layer.w : null, fromUnique: spec.source === "unique" ? layer.w : null, b: layer.b };
    });
  }

  /**
   * The first linear layer of a consumer that reads one part only (generic or unique), as [in, out] weight and
   * bias; null when no such consumer exists. The MI analysis applies the distance term's maps to exported parts.
   */
  singlePartConsumer(name: string): Linear | null {
    const layer = this.layers.find((l) => l.spec.name === name && l.spec.source !== "full");
    if (!layer || !layer.b) return null;
    return { w: (layer.fromGeneric ?? layer.fromUnique)!, b: layer.b };
  }

  sourceWidth(source: PartSource): number {
    return source === "generic" ? this.genericWidth : source === "unique" ? this.width - this.genericWidth : this.width;
  }

  /**
   * Outputs of every consumer's first linear layer, by consumer name: [N, out]. `reassociate` reassociates where
   * it saves work (reassociationSaves): always for SEA's square layer, never for a narrow representation.
   */
  forward(x: tf.Tensor2D, reassociate: boolean): Map<string, tf.Tensor2D> {
    return reassociate && this.reassociationSaves(x.shape[0]) ? this.forwardReassociated(x) : this.forwardNaive(x);
  }

  /**
   * Whether to reassociate for n rows: unless the naive product is less than half the multiply-adds. Naive: X·W
   * (n·d·w) then each consumer on its part (n·in·out). Reassociated: each part's K_p = W_p·[consumers' blocks]
   * (d·w_p·Σout_p) then X against all kernels (n·d·Σout, an identity consumer counting w). SEA's square layer
   * (w = d = 4,096, Σout = 384) saves ~7×; a 64-wide representation with SEA's consumers (VBPR, FREEDOM: Σout = 192)
   * would cost ~3× the naive product, so it is computed naively. Where the two cost about the same (a tie when E is
   * read as it is; SEA's square layer on a 64-d modality) the reassociated form is kept: one product of X, and the
   * form every earlier result was computed with. Both give the same function (to float32 rounding).
   */
  /** The consumers' outputs in the given form, whatever it costs (the forms' equality test). */
  forwardAs(x: tf.Tensor2D, form: "naive" | "reassociated"): Map<string, tf.Tensor2D> {
    return form === "naive" ? this.forwardNaive(x) : this.forwardReassociated(x);
  }

  reassociationSaves(n: number): boolean {
    const d = this.dim;
    let naive = n * d * this.width;
    let reassociated = 0;
    let totalOut = 0;
    for (const layer of this.layers) {
      totalOut += layer.spec.out;
      if (!layer.b) continue; // identity: no layer of its own
      const inWidth = this.sourceWidth(layer.spec.source);
      naive += n * inWidth * layer.spec.out;
      reassociated += d * inWidth * layer.spec.out;
    }
    reassociated += n * d * totalOut;
    return reassociated < 2 * naive;
  }

  /** generic and unique parts of E = X·W + b, [N, h] and [N, d − h] (the naive product). */
  parts(x: tf.Tensor2D): { generic: tf.Tensor2D; unique: tf.Tensor2D } {
    return tf.tidy(() => ({ generic: applyLinear(x, this.generic), unique: applyLinear(x, this.unique) }));
  }

  private forwardNaive(x: tf.Tensor2D): Map<string, tf.Tensor2D> {
    const { generic, unique } = this.parts(x);
    const out = new Map<string, tf.Tensor2D>();
    for (const layer of this.layers) {
      if (!layer.b) {
        out.set(layer.spec.name, tf.concat([generic, unique], 1) as tf.Tensor2D);
        continue;
      }
      const terms: tf.Tensor2D[] = [];
      if (layer.fromGeneric) terms.push(tf.matMul(generic, layer.fromGeneric as tf.Tensor2D));
      if (layer.fromUnique) terms.push(tf.matMul(unique, layer.fromUnique as tf.Tensor2D));
      out.set(layer.spec.name, tf.add(terms.length === 1 ? terms[0]! : tf.add(terms[0]!, terms[1]!), layer.b) as tf.Tensor2D);
    }
    return out;
  }

  /**
   * X·K_c + β_c for every consumer (see the class comment), grouped so that each large product happens once:
   * per part p, K_p = W_p·[W_cp for the consumers reading p] (one d×Σout_p product, so W_p's gradient is one
   * product too, not one d×h matrix per consumer summed); the consumers' K_c are cut from the K_p, placed
   * side by side, and X meets them in a single N×d×Σout product whose columns are then split per consumer.
   * X is a constant, so no gradient flows into it.
   */
  private forwardReassociated(x: tf.Tensor2D): Map<string, tf.Tensor2D> {
    const perPart = ([[this.generic, "fromGeneric"], [this.unique, "fromUnique"]] as const).map(([part, key]) => {
      const readers = this.layers.filter((l) => l[key] !== null);
      if (readers.length === 0) return new Map<string, { kernel: tf.Tensor2D; bias: tf.Tensor2D }>();
      const blocks = tf.concat(readers.map((l) => l[key] as tf.Tensor2D), 1); // [h_p, Σout_p]
      const widths = readers.map((l) => l.spec.out);
      const kernels = splitColumns(tf.matMul(part.w as tf.Tensor2D, blocks), widths); // [d, out] each
      const biases = splitColumns(tf.matMul(tf.reshape(part.b, [1, -1]) as tf.Tensor2D, blocks), widths); // [1, out] each
      return new Map(readers.map((l, i) => [l.spec.name, { kernel: kernels[i]!, bias: biases[i]! }]));
    });
    const kernels: tf.Tensor2D[] = [];
    const biases: tf.Tensor[] = [];
    for (const layer of this.layers) {
      if (!layer.b) {
        // E itself: X·[W_g W_u] + [b_g b_u], in the same single product as the consumers.
        kernels.push(tf.concat([this.generic.w, this.unique.w], 1) as tf.Tensor2D);
        biases.push(tf.reshape(tf.concat([this.generic.b, this.unique.b], 0), [1, -1])); // [1, w], as the consumers' biases
        continue;
      }
      const terms = perPart.map((m) => m.get(layer.spec.name)).filter((t) => t !== undefined);
      kernels.push(terms.length === 1 ? terms[0]!.kernel : (tf.add(terms[0]!.kernel, terms[1]!.kernel) as tf.Tensor2D));
      biases.push(tf.add(terms.length === 1 ? terms[0]!.bias : tf.add(terms[0]!.bias, terms[1]!.bias), layer.b));
    }
    const all = tf.add(tf.matMul(x, tf.concat(kernels, 1) as tf.Tensor2D), tf.concat(biases, 1)); // [N, Σout]
    const outputs = splitColumns(all as tf.Tensor2D, this.layers.map((l) => l.spec.out));
    return new Map(this.layers.map((l, i) => [l.spec.name, outputs[i]!]));
  }
}

/** Column blocks of x with the given widths. One block is x itself: tfjs's SplitV gradient fails for a single output. */
function splitColumns(x: tf.Tensor2D, widths: readonly number[]): tf.Tensor2D[] {
  return widths.length === 1 ? [x] : (tf.split(x, [...widths], 1) as tf.Tensor2D[]);
}
