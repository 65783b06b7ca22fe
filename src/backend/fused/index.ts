/**
 * The built-in fast kernels (docs/method.md, "Implementations: reference and fast"). Importing this module
 * registers each of them under its op's name (src/backend/implementation.ts); src/backend/select.ts imports it,
 * so every program that chooses a backend has them. A kernel only runs where its `applies()` holds and the
 * implementation is "fast"; otherwise the research module's readable composition runs.
 */
import "./graphEncoders";
import "./projectionHead";
import "./bprTables";
import "./diagonalCrossEntropy";
import "./solosim";
import "./clubBound";
import "./clubFit";
import "./adam";
import "./sparseMatMul";
