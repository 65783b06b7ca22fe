import { selectBackend } from "./src/backend/select";
import { estimateInfoNceMi } from "./src/analysis/mi";
import { Rng } from "./src/util/rng";
(async () => {
  await selectBackend({ quiet: true });
  const n = 7050, d = 32;
  const rng = new Rng(3);
  const x = new Float32Array(n * d).map(() => rng.normal());
  const y = new Float32Array(n * d).map((_, i) => 0.5 * x[i]! + rng.normal());
  estimateInfoNceMi(x, y, n, d, d, { seed: 1, steps: 300, resamples: 200 });
  for (let i = 0; i < 2; i++) { const t = process.hrtime.bigint();
  const r = estimateInfoNceMi(x, y, n, d, d, { seed: 1, steps: 300, resamples: 200 });
  console.log("second", Number(process.hrtime.bigint() - t) / 1e9, r.estimate); }
})();
