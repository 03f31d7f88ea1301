// Reverse-mode differentiation over the graph builder: addGradients appends a graph's backward to it.
export { addGradients, unbroadcast, type GradientRequest, type GradientRule, type GradientSeed, type RuleContext } from './differentiate.js';
export { DIFFERENTIABLE_OPS, GRADIENT_RULES } from './rules.js';
export { inferValues, type SymDim, type ValueInfo } from './shapes.js';
