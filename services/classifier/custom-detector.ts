import { ibanValid, luhnValid, mod97Valid, verhoeffValid } from './checksums.js';
import { type Candidate, type Detector, PRIORITY, isWordChar } from './detectors/detector.js';
import type { ChecksumName, CustomDetectorConfig } from './types.js';

export const CHECKSUMS: Readonly<Record<ChecksumName, (compact: string) => boolean>> = {
  luhn: luhnValid,
  mod97: mod97Valid,
  iban: ibanValid,
  verhoeff: verhoeffValid,
};

/** A detector from configuration; the config has been validated by `validateClassifierOptions`. */
export function createCustomDetector(config: CustomDetectorConfig): Detector {
  const re = new RegExp(config.pattern, `g${config.flags ?? ''}`);
  const keywords = (config.keywords ?? []).map((k) => k.toLowerCase());
  const keywordRe = keywords.length > 0 ? new RegExp(keywords.map((k) => k.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|'), 'i') : undefined;
  const check = config.validate === undefined ? undefined : CHECKSUMS[config.validate];
  const priority = check !== undefined || config.type === 'SECRET' ? PRIORITY.validated : PRIORITY.structured;
  return {
    name: `custom:${config.type}`,
    types: [config.type],
    scan(text: string, out: Candidate[]): void {
      if (keywordRe !== undefined && !keywordRe.test(text)) return;
      re.lastIndex = 0;
      let m: RegExpExecArray | null;
      while ((m = re.exec(text)) !== null) {
        if (m[0].length === 0) {
          re.lastIndex++;
          continue;
        }
        const s = m.index;
        const e = s + m[0].length;
        // Whole tokens only: a match glued to letters or digits is part of something else.
        if (s > 0 && isWordChar(text.charCodeAt(s - 1)) && isWordChar(text.charCodeAt(s))) continue;
        if (e < text.length && isWordChar(text.charCodeAt(e)) && isWordChar(text.charCodeAt(e - 1))) continue;
        if (check !== undefined && !check(m[0].replace(/[\s\-.]/g, ''))) continue;
        out.push({
          type: config.type,
          ...(config.subtype === undefined ? {} : { subtype: config.subtype }),
          start: s,
          end: e,
          priority,
        });
      }
    },
  };
}
