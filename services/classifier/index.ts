export { createClassifier } from './create-classifier.js';
export { createMasker, MAX_KEEP_LAST, type MaskerOptions } from './create-masker.js';
export { BUILTIN_PROFILES, isBuiltinProfileName, type BuiltinProfileName } from './masking-profiles.js';
export { BUILTIN_TYPES } from './classifier-options.js';
export type {
  BuiltinEntityType,
  ChecksumName,
  Classifier,
  ClassifierOptions,
  CustomDetectorConfig,
  EntityType,
  Finding,
  KeyNameRuleConfig,
  MaskAction,
  Masker,
  MaskingProfile,
  PathFinding,
} from './types.js';
