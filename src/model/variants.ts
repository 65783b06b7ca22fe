import { resolveConfig, type SeaConfig } from "./config";
import { backboneDefinition } from "./backbones/registry";
import { SeaError } from "../util/errors";

/**
 * The separation variants: the ablations and baselines, each a named configuration of SEA's separation (not a
 * copy of the model), plugged over whichever backbone `backbone` names (docs/method.md §7, §13). `alpha` switches
 * the Solosim alignment on/off; `distance` picks the distance term; `partConstruction` split or subtraction.
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
    overrides: { partConstruction: "subtraction", distance: "none" },
  },
  plain: { description: "the backbone alone, no separation (the plug-in study's baseline; the same configuration as no-both)", overrides: { distance: "none", alpha: 0 } },
});

export const VARIANT_NAMES: readonly string[] = Object.keys(VARIANTS);

/** The paper's ablation table (sea, its ablations and the prior-work baselines): `sea ablate`'s default variants. */
export const ABLATION_VARIANT_NAMES: readonly string[] = VARIANT_NAMES.filter((v) => v !== "plain");

export function variantOverrides(name: string): Partial<SeaConfig> {
  const spec = VARIANTS[name];
  if (!spec) throw new SeaError(`unknown variant "${name}" (known: ${VARIANT_NAMES.join(", ")})`, { where: "--variant" });
  return spec.overrides;
}

/**
 * The resolved config of one run: the kit's defaults, then the backbone's defaults (src/model/backbones/), then
 * the separation variant's overrides, then `layers` (file, --set, flags; lowest first). The backbone is known
 * only once every layer is read, so the layers are resolved once to find it.
 */
export function resolveVariantConfig(variant: string, layers: readonly Partial<Record<string, unknown>>[]): SeaConfig {
  const backbone = backboneDefinition(resolveConfig(variantOverrides(variant), ...layers).backbone);
  return resolveConfig(backbone.defaults, variantOverrides(variant), ...layers);
}
