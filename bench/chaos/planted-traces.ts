/**
 * Seeded generator of reasoning traces with planted personal data and secrets. Trace i is a
 * pure function of (seed, i): its record id, tenant, declared region, size, content and the
 * exact planted values, so a run can be reconciled and repeated. The filler text has no digits
 * and no sensitive shapes, so the expected outcome of each trace is known in advance.
 */
import { createHash } from 'node:crypto';
import { startTrace } from '../../services/agent-sdk/trace-builder.js';
import type { ReasoningTrace } from '../../services/shared/avro/index.js';
import { createRng, Gen as CorpusGen, luhnCheckDigit, mod97 } from '../corpus/trace-generator.js';
import { demoAgent, type Tenant } from './chaos-tokens.js';

export type PlannedOutcome =
  | { kind: 'routed'; region: 'eu' | 'us' }
  | { kind: 'held'; reason: string }
  | { kind: 'dead-lettered'; reason: string };

export type PlantedType = 'EMAIL_ADDRESS' | 'CREDIT_CARD' | 'IBAN_CODE' | 'SECRET';

export interface PlantedValue {
  type: PlantedType;
  /** As written into the trace. */
  text: string;
  /** Normalised form the leak scan compares (card/IBAN without separators, IBAN upper case). */
  normalized: string;
}

export interface PlannedTrace {
  index: number;
  /** Whose token the record is sent with. */
  tokenTenant: Tenant;
  trace: ReasoningTrace;
  planted: PlantedValue[];
  expect: PlannedOutcome;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const HEXCHARS = '0123456789abcdef';
const FIRST = ['jane', 'maria', 'wei', 'fatima', 'olga', 'juan', 'priya', 'tom', 'sven', 'noor', 'kofi', 'lena'];
const LAST = ['roe', 'garcia', 'chen', 'khan', 'ivanova', 'mueller', 'patel', 'dubois', 'nguyen', 'okafor', 'rossi', 'tanaka'];
const DOMAINS = ['example.com', 'mail.example.org', 'corp.example.net', 'example.co.uk', 'shop.example.de'];
const WORDS = (
  'the agent reviewed the request and decided to look up the order before answering because the customer ' +
  'asked about delivery options refunds and the status of a previous ticket so it planned several steps ' +
  'first gather context then call the tool then summarise the result politely while keeping the answer short ' +
  'and avoiding speculation about anything that the records do not show clearly enough to be sure'
).split(' ');

class Gen extends CorpusGen {
  words(chars: number): string {
    const out: string[] = [];
    let n = 0;
    while (n < chars) {
      const w = this.pick(WORDS);
      out.push(w);
      n += w.length + 1;
    }
    return out.join(' ');
  }
}

function plantValue(g: Gen, type: PlantedType): PlantedValue {
  switch (type) {
    case 'EMAIL_ADDRESS': {
      const text = `${g.pick(FIRST)}.${g.pick(LAST)}.${g.str(HEXCHARS, 8)}@${g.pick(DOMAINS)}`;
      return { type, text, normalized: text };
    }
    case 'CREDIT_CARD': {
      const body = `4${g.str('0123456789', 14)}`;
      const digits = body + luhnCheckDigit(body);
      const text = g.chance(0.5) ? digits : (digits.match(/.{4}/g) ?? []).join(g.pick([' ', '-']));
      return { type, text, normalized: digits };
    }
    case 'IBAN_CODE': {
      const bban = g.str('0123456789', 18);
      const compact = `DE${String(98 - mod97(`${bban}DE00`)).padStart(2, '0')}${bban}`;
      const text = g.chance(0.5) ? compact : (compact.match(/.{1,4}/g) ?? []).join(' ');
      return { type, text, normalized: compact };
    }
    case 'SECRET': {
      const text = g.chance(0.5) ? `ghp_${g.str(ALNUM, 36)}` : `AKIA${g.str(B32, 16)}`;
      return { type, text, normalized: text };
    }
  }
}

/** Deterministic UUID v4 text from the generator. */
function uuid(g: Gen): string {
  const h = g.str(HEXCHARS, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${'89ab'[g.int(0, 3)]}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export interface TracePlanOptions {
  seed: number;
  minBytes?: number;
  maxBytes?: number;
}

/** The plan: trace i for a seed. Sizes are log-uniform between minBytes and maxBytes of text. */
export function createTracePlan(options: TracePlanOptions): (index: number) => PlannedTrace {
  const minBytes = options.minBytes ?? 200;
  const maxBytes = options.maxBytes ?? 64 * 1024;
  const seedBase = createHash('sha256').update(String(options.seed)).digest().readUInt32LE(0);
  return (index) => {
    const g = new Gen(createRng((seedBase ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0));
    // Who sends it and what it declares decide the expected outcome (infra/policy.dev.yaml + apac).
    const r = g.rng();
    let tokenTenant: Tenant;
    let payloadTenant: string;
    let declare: string | undefined;
    let expect: PlannedOutcome;
    const withSecret = g.chance(0.3);
    if (r < 0.35) {
      tokenTenant = 'acme';
      payloadTenant = 'acme';
      expect = withSecret ? { kind: 'held', reason: 'FINDINGS_THRESHOLD' } : { kind: 'routed', region: 'eu' };
    } else if (r < 0.68) {
      tokenTenant = 'globex';
      payloadTenant = 'globex';
      const d = g.rng();
      if (d < 0.65) expect = { kind: 'routed', region: 'us' };
      else if (d < 0.95) {
        declare = 'eu';
        expect = { kind: 'routed', region: 'eu' };
      } else {
        declare = 'apac';
        expect = { kind: 'dead-lettered', reason: 'POLICY_REGION_REFUSED' };
      }
    } else if (r < 0.96) {
      tokenTenant = 'initech';
      payloadTenant = 'initech';
      const d = g.rng();
      if (d < 0.45) {
        declare = 'eu';
        expect = { kind: 'routed', region: 'eu' };
      } else if (d < 0.8) {
        declare = 'us';
        expect = { kind: 'routed', region: 'us' };
      } else expect = { kind: 'held', reason: 'REGION_UNRESOLVED' };
    } else {
      // Tenant spoofing: an acme token, a payload claiming globex.
      tokenTenant = 'acme';
      payloadTenant = 'globex';
      expect = { kind: 'dead-lettered', reason: 'IDENTITY_MISMATCH' };
    }

    const target = Math.round(Math.exp(Math.log(minBytes) + g.rng() * (Math.log(maxBytes) - Math.log(minBytes))));
    const planted: PlantedValue[] = [plantValue(g, 'EMAIL_ADDRESS')];
    if (target > 600) planted.push(plantValue(g, 'CREDIT_CARD'));
    if (target > 1500) planted.push(plantValue(g, 'IBAN_CODE'));
    if (withSecret) planted.push(plantValue(g, 'SECRET'));
    if (target > 8000) for (let k = g.int(1, 4); k > 0; k--) planted.push(plantValue(g, g.pick(['EMAIL_ADDRESS', 'CREDIT_CARD', 'IBAN_CODE'] as const)));
    // A secret must be exactly what decides an acme hold: only planted when withSecret.

    const agent = demoAgent(tokenTenant);
    const t = startTrace({ tenant: payloadTenant, agent: agent.agent, ...(declare === undefined ? {} : { dataSubjectRegion: declare }) });
    const llm = t.llmStep({ provider: 'anthropic', model: 'claude' });
    // Spread the planted values over free text, reasoning, tool arguments and results.
    const [first, ...rest] = planted;
    llm.input('user', `Please contact me at ${first?.text ?? ''} about my order.`);
    const reasoning: string[] = [];
    const args: Record<string, string> = {};
    const result: Record<string, string> = {};
    rest.forEach((p, k) => {
      const where = k % 3;
      if (where === 0) reasoning.push(`${g.words(40)} value ${p.text} noted.`);
      else if (where === 1) args[`field${k}`] = p.text;
      else result[`note${k}`] = `on file: ${p.text} (verified)`;
    });
    const fixed = 300 + planted.length * 60;
    const fill = Math.max(0, target - fixed);
    reasoning.push(g.words(Math.floor(fill / 2)));
    llm.output('assistant', [
      { type: 'reasoning', content: reasoning.join(' ') },
      { type: 'text', content: g.words(Math.floor(fill / 2)) },
    ]);
    llm.end();
    if (Object.keys(args).length > 0 || Object.keys(result).length > 0) {
      t.toolStep({ name: 'crm_lookup', callId: `call_${index}`, arguments: args, parent: llm }).result(result).end();
    }
    const built = t.end();
    const trace: ReasoningTrace = { ...built, recordId: uuid(g), traceId: g.str(HEXCHARS, 32) };
    return { index, tokenTenant, trace, planted, expect };
  };
}
