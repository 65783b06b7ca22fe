import type { SeaConfig } from "./config";
import { SeaError } from "../util/errors";

/**
 * The ablations and baselines, each a named configuration of the one SEA model (not a copy of it).
 * `alpha` switches the Solosim alignment on/off; `distance` picks the separation term.
 */
export interface VariantSpec {
  readonly description: string;
  readonly overrides: Partial<SeaConfig>;
}

export const VARIANTS: Readonly<Record<string, VariantSpec>> = Object.freeze({
  sea: { description: "full SEA: CLUB upper bound between generic and unique parts + Solosim alignment of generic parts", overrides: {} },
  "no-club": { description: "SEA without the MI upper bound (Solosim only)", overrides: { distance: "none" } },
  "no-solosim": { description: "SEA without alignment (CLUB only)", overrides: { alpha: 0 } },
  "no-both": { description: "neither alignment nor separation: the backbone alone", overrides: { distance: "none", alpha: 0 } },
  orthogonal: { description: "prior-work baseline: orthogonality penalty between generic and unique parts in place of CLUB", overrides: { distance: "orthogonal" } },
  "neg-l2": { description: "the paper's simpler alternative: negative L2 distance between generic and unique parts in place of CLUB", overrides: { distance: "negL2" } },
  subtraction: {
    description: "prior-work baseline (MGCN-style): shared part = attention-weighted sum of modality embeddings, specific part = embedding − shared",
    overrides: { separation: "subtraction", distance: "none" },
  },
});

export const VARIANT_NAMES: readonly string[] = Object.keys(VARIANTS);

export function variantOverrides(name: string): Partial<SeaConfig> {
  const spec = VARIANTS[name];
  if (!spec) throw new SeaError(`unknown variant "${name}" (known: ${VARIANT_NAMES.join(", ")})`, { where: "--variant" });
  return spec.overrides;
}
