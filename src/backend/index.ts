/** The kit's compute layer: backend selection, native BLAS kernels, differentiable sparse products. */
export { selectBackend, BACKEND_NAMES, type BackendInfo, type BackendName, type SelectBackendOptions } from "./select";
export { SparseMatrix, type SparseStrategy } from "./sparse";
export { loadNativeAddon, nativeAllowed, nativeLoadError, describeBlas, NATIVE_BUILD_HINT, type SeaNativeAddon } from "./addon";
export { enableNativeKernels, disableNativeKernels, nativeKernelsActive } from "./kernels";
export { registerCpuRepairKernels } from "./cpuKernels";
export { registerWasmFallbackKernels } from "./wasmKernels";
