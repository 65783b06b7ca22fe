import { Club } from "../../losses/club";
import { fitClub, newClubAdamState, type ClubAdamState, type ClubFitSettings } from "../../losses/club/fit";
import { pytorchAdam } from "../../optim/adam";
import { SeaError } from "../../util/errors";
import type { SavedTensor } from "../../util/savedTensor";
import type { CompanionNetwork } from "../contract";

/**
 * SEA's CLUB network q(y|x) as the separation's companion (docs/method.md §3, §8): after each encoder step it
 * takes `clubSteps` Adam steps of its negative log-likelihood on the step's detached generic/unique pairs
 * (the op "clubFit": docs/method.md §3.4). The encoder's loss reads `club.upperBound` through the tape.
 */
export class ClubCompanion implements CompanionNetwork {
  readonly club: Club;
  private readonly state: ClubAdamState;
  private readonly settings: ClubFitSettings;

  constructor(options: { dim: number; hidden: number; seed: number; steps: number; lr: number }) {
    this.club = new Club({ xDim: options.dim, yDim: options.dim, hidden: options.hidden, seed: options.seed });
    this.state = newClubAdamState(this.club);
    this.settings = { steps: options.steps, ...pytorchAdam(options.lr) };
  }

  fit(pairs: readonly { readonly x: Float32Array; readonly y: Float32Array }[]): Record<string, number> {
    if (pairs.length === 0 || this.settings.steps === 0) return {};
    return { clubNll: fitClub(this.club, pairs, this.state, this.settings) };
  }

  save(prefix: string): SavedTensor[] {
    const tensors: SavedTensor[] = this.club.getWeights().map((w, i) => ({ name: `${prefix}/${i}`, shape: [w.length], values: w }));
    const { m, v, step } = this.state;
    tensors.push({ name: `${prefix}Adam/m`, shape: [m.length], values: m }, { name: `${prefix}Adam/v`, shape: [v.length], values: v });
    tensors.push({ name: `${prefix}Adam/step`, shape: [1], values: Float32Array.of(step) });
    return tensors;
  }

  restore(tensors: ReadonlyMap<string, SavedTensor>, prefix: string, file: string): void {
    const weights: Float32Array[] = [];
    for (let i = 0; tensors.has(`${prefix}/${i}`); i++) weights.push(tensors.get(`${prefix}/${i}`)!.values);
    this.club.setWeights(weights);
    const m = tensors.get(`${prefix}Adam/m`);
    const v = tensors.get(`${prefix}Adam/v`);
    const step = tensors.get(`${prefix}Adam/step`);
    if (!m || !v || !step || m.values.length !== this.state.m.length || v.values.length !== this.state.v.length) {
      throw new SeaError("checkpoint's CLUB optimiser state is missing or does not match the CLUB network", { where: file });
    }
    this.state.m.set(m.values);
    this.state.v.set(v.values);
    this.state.step = step.values[0]!;
  }

  dispose(): void {
    this.club.dispose();
  }
}
