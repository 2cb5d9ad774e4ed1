/**
 * The record processor as bench/policy-bench.ts builds it (dev policy, real codecs, classifier
 * and masker), but with a token verifier over a local key set so it runs without the stack.
 * Used by the in-process profile harness and the CPU micro-benchmarks.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { parseDocument } from 'yaml';
import { parsePolicy } from '../../services/policy/load-policy.js';
import { createTokenVerifier } from '../../services/policy/token-verifier.js';
import { createRecordProcessor, type IngestRecord, type RecordProcessor, type RecordProcessorDeps } from '../../services/policy-worker/record-processor.js';
import { createTenantScrubbers } from '../../services/policy-worker/tenant-scrubbers.js';
import { createCodec } from '../../services/shared/avro/index.js';
import { HEADERS } from '../../services/shared/record-headers.js';
import { makeBenchTrace } from './bench-traces.js';

const ISSUER = 'https://issuer.bench';
const AUDIENCE = 'urn:tracefence:broker';
const MAX_RECORD_BYTES = 1_000_000;

export interface ProcessorFixture {
  processor: RecordProcessor;
  deps: RecordProcessorDeps;
  /** Ingest records as kafkajs hands them over (Buffer headers and value). */
  records: IngestRecord[];
}

export async function createProcessorFixture(count: number): Promise<ProcessorFixture> {
  const repoRoot = join(import.meta.dirname, '..', '..');
  const doc = parseDocument(readFileSync(join(repoRoot, 'infra', 'policy.dev.yaml'), 'utf8'));
  const policy = parsePolicy(doc.toString(), 'bench policy');
  const pair = await generateKeyPair('RS256', { extractable: true });
  const jwks = createLocalJWKSet({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }] });
  const nowSec = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ sub: 'agent-acme-support', tenant: 'acme', agent: 'support-bot', groups: ['eu-only'] })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1', typ: 'at+jwt' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(nowSec - 60)
    .setExpirationTime(nowSec + 24 * 3600)
    .sign(pair.privateKey);
  const scrubbers = createTenantScrubbers(policy, randomBytes(32));
  const traceCodec = createCodec('reasoning-trace', { maxBytes: MAX_RECORD_BYTES });
  const deps: RecordProcessorDeps = {
    policy,
    verifier: createTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks, requiredTyp: 'at+jwt' }),
    traceCodec,
    heldCodec: createCodec('held-trace', { maxBytes: 4 * MAX_RECORD_BYTES }),
    deadLetterCodec: createCodec('dead-letter'),
    auditCodec: createCodec('audit-event'),
    scrubberFor: scrubbers.scrubberFor,
    maskingOpsFor: scrubbers.maskingOpsFor,
    topics: { held: 'bench.held', deadLetter: 'bench.deadletter', audit: 'bench.audit' },
    maxRecordBytes: MAX_RECORD_BYTES,
  };
  const records: IngestRecord[] = [];
  for (let i = 0; i < count; i++) {
    const { payload, fingerprint } = traceCodec.encode(makeBenchTrace(i, 'acme', 'support-bot'));
    records.push({
      topic: 'bench.ingest',
      partition: i % 3,
      offset: String(i),
      timestampMs: Date.now(),
      headers: { [HEADERS.schema]: Buffer.from(fingerprint), [HEADERS.accessToken]: Buffer.from(token) },
      value: payload,
    });
  }
  return { processor: createRecordProcessor(deps), deps, records };
}
