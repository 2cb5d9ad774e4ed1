import { ibanValid, luhnValid, mod97Valid, verhoeffValid } from './checksums.js';
import { type Candidate, type Detector, PRIORITY, isWordChar } from './detectors/detector.js';
import { compilePattern } from './regex-safety.js';
import type { ChecksumName, CustomDetectorConfig } from './types.js';

export const CHECKSUMS: Readonly<Record<ChecksumName, (compact: string) => boolean>> = {
  luhn: luhnValid,
  mod97: mod97Valid,
  iban: ibanValid,
  verhoeff: verhoeffValid,
};

/** A detector from configuration; the config has been validated by `validateClassifierOptions`. */
export function createCustomDetector(config: CustomDetectorConfig): Detector {
  const pattern = compilePattern(config.pattern, config.flags ?? '');
  const keywords = (config.keywords ?? []).map((k) => k.toLowerCase());
  const keywordRe = keywords.length > 0 ? new RegExp(keywords.map((k) => k.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|'), 'i') : undefined;
  const check = config.validate === undefined ? undefined : CHECKSUMS[config.validate];
  const priority = check !== undefined || config.type === 'SECRET' ? PRIORITY.validated : PRIORITY.structured;
  return {
    name: `custom:${config.type}`,
    types: [config.type],
    scan(text: string, out: Candidate[]): void {
      if (keywordRe !== undefined && !keywordRe.test(text)) return;
      pattern.forEachMatch(text, (s, e) => {
        // Whole tokens only: a match glued to letters or digits is part of something else.
        if (s > 0 && isWordChar(text.charCodeAt(s - 1)) && isWordChar(text.charCodeAt(s))) return;
        if (e < text.length && isWordChar(text.charCodeAt(e)) && isWordChar(text.charCodeAt(e - 1))) return;
        if (check !== undefined && !check(text.slice(s, e).replace(/[\s\-.]/g, ''))) return;
        out.push({
          type: config.type,
          ...(config.subtype === undefined ? {} : { subtype: config.subtype }),
          start: s,
          end: e,
          priority,
        });
      });
    },
  };
}
