import * as tf from "@tensorflow/tfjs";
import type { BprTriples } from "../data/bprSampling";
import { takeData } from "../util/takeData";
import type { TrainingParts } from "./trainingParts";

/**
 * One training step (docs/method.md §8): an Adam step of the model on its full loss, then the companion
 * network's inner loop (CLUB's q: `clubSteps` Adam steps) on the step's detached pairs.
 * Returns the loss parts, or null (parameters untouched) when the loss is NaN/Inf.
 */
export class TrainStep {
  private readonly vars: tf.Variable[];
  /** Seconds spent so far per phase: "gradient" (forward + backward), "update" (Adam), "club" (the companion's inner loop). */
  readonly phaseSeconds: Record<"gradient" | "update" | "club", number> = { gradient: 0, update: 0, club: 0 };

  constructor(private readonly parts: TrainingParts) {
    this.vars = parts.model.variables();
  }

  run(batch: BprTriples, permutations: readonly Int32Array[]): Record<string, number> | null {
    const { model, data, optimizer } = this.parts;
    let kept: Record<string, tf.Scalar> = {};
    let pairs: { generic: tf.Tensor2D; unique: tf.Tensor2D }[] = [];
    let clock = process.hrtime.bigint();
    const lap = (phase: keyof TrainStep["phaseSeconds"]): void => {
      const now = process.hrtime.bigint();
      this.phaseSeconds[phase] += Number(now - clock) / 1e9;
      clock = now;
    };
    const { value, grads } = tf.variableGrads(() => {
      const out = model.forward(data, { training: true });
      const parts = model.lossParts(out, batch, permutations);
      kept = Object.fromEntries(Object.entries(parts).map(([k, t]) => [k, tf.keep(t)]));
      // Kept for the companion network's own steps, which read them as plain values (detached).
      pairs = out.companionPairs.map((p) => ({ generic: tf.keep(p.generic), unique: tf.keep(p.unique) }));
      return parts.total!;
    }, this.vars);
    const values = Object.fromEntries(Object.entries(kept).map(([k, t]) => [k, t.dataSync()[0]!]));
    Object.values(kept).forEach((t) => t.dispose());
    value.dispose();
    const finite = Number.isFinite(values.total!);
    lap("gradient");
    if (finite) optimizer.apply(grads);
    Object.values(grads).forEach((g) => g.dispose());
    lap("update");
    const hostPairs = pairs.map((p) => ({ x: takeData(p.generic), y: takeData(p.unique) }));
    if (finite && model.companion) Object.assign(values, model.companion.fit(hostPairs));
    lap("club");
    return finite ? values : null;
  }
}
