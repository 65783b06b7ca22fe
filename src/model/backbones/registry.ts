import type { BackboneDefinition } from "./backbone";
import { SEA_BACKBONE } from "./sea";
import { LIGHTGCN } from "./lightgcn";
import { VBPR } from "./vbpr";
import { FREEDOM } from "./freedom";
import { SeaError } from "../../util/errors";

/**
 * The backbones by name (docs/method.md §13). A new backbone is one module exporting a BackboneDefinition and
 * one line here; the trainer, evaluation, checkpoints, analysis and figures need nothing else.
 */
const BACKBONES = new Map<string, BackboneDefinition>([SEA_BACKBONE, LIGHTGCN, VBPR, FREEDOM].map((def) => [def.name, def]));

export function backboneNames(): string[] {
  return [...BACKBONES.keys()];
}

export function backboneDefinitions(): BackboneDefinition[] {
  return [...BACKBONES.values()];
}

/** The definition registered as `name`; an unknown name is an error listing the known ones. */
export function backboneDefinition(name: string, where = "config.backbone"): BackboneDefinition {
  const def = BACKBONES.get(name);
  if (!def) throw new SeaError(`unknown backbone "${name}" (known: ${backboneNames().join(", ")})`, { where });
  return def;
}
