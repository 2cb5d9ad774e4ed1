/** Entity types named as Presidio names them, plus SECRET for provider credentials. */
export type BuiltinEntityType =
  | 'EMAIL_ADDRESS'
  | 'PHONE_NUMBER'
  | 'CREDIT_CARD'
  | 'IBAN_CODE'
  | 'US_SSN'
  | 'IP_ADDRESS'
  | 'CRYPTO'
  | 'SECRET';

/** Built-in types, or a custom type added by configuration (`(string & {})` keeps editor hints). */
export type EntityType = BuiltinEntityType | (string & {});

export interface Finding {
  type: EntityType;
  /** UTF-16 code unit offset of the first character. */
  start: number;
  /** UTF-16 code unit offset one past the last character. */
  end: number;
  /** For SECRET: which credential (e.g. `aws_access_key_id`, `url_password`, `key_name`). */
  subtype?: string;
}

/**
 * A finding inside a JSON-like value. `path` names the string (object keys and array indices as
 * strings); offsets are into that string. A key-name rule on a non-string value covers
 * `JSON.stringify(value)` and sets `wholeValue`.
 */
export interface PathFinding extends Finding {
  path: string[];
  wholeValue?: boolean;
}

export type ChecksumName = 'luhn' | 'mod97' | 'iban' | 'verhoeff';

export interface CustomDetectorConfig {
  /** Type name reported in findings, e.g. `UK_NINO`. Upper case, digits and underscores. */
  type: string;
  /**
   * Regular expression source in the syntax JavaScript and RE2 share (no lookarounds or
   * back-references); it always runs in linear time (regex-safety.ts).
   */
  pattern: string;
  /** Extra flags among `i`, `m`, `s`, `u`. */
  flags?: string;
  /** Checksum the matched text (separators removed) must pass. */
  validate?: ChecksumName;
  /** Only run the pattern when one of these (case-insensitive) appears in the text. */
  keywords?: string[];
  /** SECRET subtype, when `type` is `SECRET`. */
  subtype?: string;
}

export interface KeyNameRuleConfig {
  /** Normalised key suffix (lower case, letters and digits only), e.g. `employeeid`. */
  suffix: string;
  type: string;
  subtype?: string;
}

export interface ClassifierOptions {
  /** Only these types are detected (default: all built-in and custom types). */
  types?: readonly string[];
  customDetectors?: readonly CustomDetectorConfig[];
  /** Extra key-name rules for structured data and JSON embedded in text. */
  keyNameRules?: readonly KeyNameRuleConfig[];
  /** Deepest nesting scanValue walks before it reports an error (default 64). */
  maxDepth?: number;
}

export interface Classifier {
  /** Findings sorted by start, never overlapping. */
  scanText(text: string): Finding[];
  /** Walks objects, arrays and strings; applies key-name rules. Throws TracefenceError when too deep. */
  scanValue(value: unknown, path?: string[]): PathFinding[];
  /** The key-name rule that applies to a property name, if any. */
  matchKeyName(key: string): { type: EntityType; subtype?: string } | undefined;
  readonly maxDepth: number;
}

export type MaskAction =
  | { op: 'redact' }
  | { op: 'partial'; keepLast: number }
  | { op: 'pseudonymize' }
  | { op: 'drop' };

export interface MaskingProfile {
  default: MaskAction;
  byType?: Partial<Record<string, MaskAction>>;
}

export interface Masker {
  maskText(text: string, findings: readonly Finding[]): string;
  /** Masks every string in the value and whole values under key-name rules; the input is not modified. */
  maskValue(value: unknown): { value: unknown; findings: PathFinding[] };
}
