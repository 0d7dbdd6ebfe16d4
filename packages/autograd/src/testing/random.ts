/** The seeded host generator of tangents, cotangents and test values: the tensor package's `mulberry32`. */
export { mulberry32 } from '@llm-modules/tensor';
