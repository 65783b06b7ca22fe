// Process settings for long numeric runs, shared by the `sea` command (bin/sea.js re-runs itself with them) and the
// Jupyter kernel (scripts/install-kernel.sh writes them into the tslab kernel spec). Neither can change inside a
// running process. Measured on a Baby-shaped training step (2 cores, alternating runs of `sea bench step`):
// * --single-threaded-gc: V8 otherwise marks and sweeps on helper threads, which compete with the BLAS and addon
//   threads that use both cores; 0.92–0.99 → 0.82–0.86 s per step.
// * glibc malloc serving arrays under 32 MiB from its heap (mmap_threshold) and keeping up to 256 MiB of freed heap
//   (trim_threshold) instead of a fresh mmap per array, whose every page faults on first touch; a further ~3%.
"use strict";

module.exports = {
  GC_FLAG: "--single-threaded-gc",
  MALLOC_TUNABLES: "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=268435456",
};
